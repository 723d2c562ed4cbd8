package lineage_test

import (
	"bytes"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The OpenLineage spec's JSON schemas (spec/OpenLineage.json and some of its facets)
// are shared test data beside the repository: read in place.
const specDir = "../../../shared/data/openlineage"

// spec validates events against the OpenLineage schemas: the event against
// OpenLineage.json, and each facet against its own schema when the shared data has it.
type spec struct {
	c   *jsonschema.Compiler
	ids map[string]bool // the $id of every schema loaded
	run *jsonschema.Schema
}

func loadSpec(t *testing.T) *spec {
	t.Helper()
	dir, err := filepath.Abs(specDir)
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("the OpenLineage schemas are read from %s (shared test data, not copied into the repository): %v", dir, err)
	}
	s := &spec{c: jsonschema.NewCompiler(), ids: map[string]bool{}}
	s.c.AssertFormat()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		id, _ := doc.(map[string]any)["$id"].(string)
		if id == "" {
			t.Fatalf("%s has no $id", f)
		}
		if err := s.c.AddResource(id, doc); err != nil {
			t.Fatal(err)
		}
		s.ids[id] = true
	}
	if s.run, err = s.c.Compile("https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"); err != nil {
		t.Fatal(err)
	}
	return s
}

// validate checks one posted event, and returns the schema URLs of the facets the
// shared data has no schema for (their base facet fields are still checked, as
// OpenLineage.json checks every facet).
func (s *spec) validate(t *testing.T, body []byte) (unchecked []string) {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("event %s: %v", body, err)
	}
	if err := s.run.Validate(doc); err != nil {
		t.Errorf("event is not an OpenLineage RunEvent: %v\n%s", err, body)
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if u, ok := v["_schemaURL"].(string); ok {
				doc, _, _ := strings.Cut(u, "#")
				if !s.ids[doc] {
					if !slices.Contains(unchecked, u) {
						unchecked = append(unchecked, u)
					}
					checkByHand(t, u, v)
				} else if sch, err := s.c.Compile(u); err != nil {
					t.Errorf("facet schema %s: %v", u, err)
				} else if err := sch.Validate(v); err != nil {
					t.Errorf("facet is not a valid %s: %v", u, err)
				}
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	slices.Sort(unchecked)
	return unchecked
}

// checkByHand checks the facets whose schemas the shared data lacks against the
// spec's definitions: DatasourceDatasetFacet's name (a string) and uri (a URI), and
// InputStatisticsInputDatasetFacet's rowCount, size and fileCount (integers).
func checkByHand(t *testing.T, schemaURL string, f map[string]any) {
	t.Helper()
	switch {
	case strings.Contains(schemaURL, "/DatasourceDatasetFacet.json"):
		if n, ok := f["name"]; ok {
			if _, ok := n.(string); !ok {
				t.Errorf("dataSource name %v is not a string", n)
			}
		}
		if u, ok := f["uri"]; ok {
			s, _ := u.(string)
			if parsed, err := url.Parse(s); err != nil || parsed.Scheme == "" {
				t.Errorf("dataSource uri %v is not a URI", u)
			}
		}
	case strings.Contains(schemaURL, "/InputStatisticsInputDatasetFacet.json"):
		for _, k := range []string{"rowCount", "size", "fileCount"} {
			if n, ok := f[k]; ok {
				if _, ok := n.(json.Number); !ok {
					t.Errorf("inputStatistics %s %v is not an integer", k, n)
				}
			}
		}
	default:
		t.Errorf("facet %s: no schema and no check", schemaURL)
	}
}

// mustJSON is v as JSON.
func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
