package contract_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/meshflow/meshflow/domains"
	"github.com/meshflow/meshflow/framework/contract"
)

// The ODCS JSON schema is shared test data beside the repository: read in place.
const schemaPath = "../../../shared/data/odcs/odcs-json-schema-v3.1.0.json"

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	abs, err := filepath.Abs(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(abs); err != nil {
		t.Fatalf("the ODCS schema is read from ../shared (shared test data, not copied into the repository): %v", err)
	}
	c := jsonschema.NewCompiler()
	s, err := c.Compile(abs)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Every product's exported contract is valid ODCS v3.1.0.
func TestEveryContractValidatesAgainstODCS(t *testing.T) {
	schema := compileSchema(t)
	for _, e := range domains.Mesh().Products() {
		t.Run(e.Ref().String(), func(t *testing.T) {
			out, err := contract.Export(e.Domain, e.Product).YAML()
			if err != nil {
				t.Fatal(err)
			}
			var doc any
			if err := yaml.Unmarshal(out, &doc); err != nil {
				t.Fatal(err)
			}
			// Through JSON, so the validator sees JSON types (yaml gives int, not float64).
			b, err := json.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			inst, err := jsonschema.UnmarshalJSON(strings.NewReader(string(b)))
			if err != nil {
				t.Fatal(err)
			}
			if err := schema.Validate(inst); err != nil {
				t.Fatalf("%s is not valid ODCS: %v\n%s", e.Ref(), err, out)
			}
		})
	}
}

func TestContractCarriesTheDeclaration(t *testing.T) {
	d, p, err := domains.Mesh().Find("marketing.crm_contacts")
	if err != nil {
		t.Fatal(err)
	}
	c := contract.Export(d, p)
	if c.ID != "marketing_crm_contacts_v1" || c.Version != p.Version || c.Team.Name != "marketing-analytics" {
		t.Fatalf("fundamentals = %+v", c)
	}
	props := c.Schema[0].Properties
	if props[0].Name != "contact_id" || !props[0].PrimaryKey || !props[0].Required || props[0].Description == "" {
		t.Fatalf("first property = %+v", props[0])
	}
	var rules []string
	for _, prop := range props {
		for _, r := range prop.Quality {
			rules = append(rules, prop.Name+":"+r.Metric)
		}
	}
	joined := strings.Join(rules, " ")
	for _, want := range []string{"contact_id:duplicateValues", "contact_id:nullValues", "lifecycle_stage:invalidValues"} {
		if !strings.Contains(joined, want) {
			t.Errorf("rules %v lack %s", rules, want)
		}
	}
	if c.SLAProperties[1].Property != "freshness" || c.SLAProperties[1].Value != int64(50) {
		t.Errorf("SLA = %+v", c.SLAProperties)
	}
}

// The validator must reject a contract that breaks the schema, or the test above proves nothing.
func TestSchemaRejectsABrokenContract(t *testing.T) {
	schema := compileSchema(t)
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(`{"apiVersion":"v3.1.0","kind":"DataContract","id":"x","version":"1.0.0","status":"active","schema":[{"name":"t","properties":[{"name":"c","logicalType":"text"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := schema.Validate(inst); err == nil {
		t.Fatal("a contract with logicalType text validated")
	}
}
