package scaffold

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/meshflow/meshflow/domains"
	"github.com/meshflow/meshflow/framework/source"
)

// copyRepo copies the files scaffolding reads and edits into a temporary tree.
func copyRepo(t *testing.T, root string) Repo {
	t.Helper()
	tmp := t.TempDir()
	files := []string{"go.mod", "docker-compose.yml", "domains/registry.go"}
	marketing, _ := filepath.Glob(filepath.Join(root, "domains/marketing/*.go"))
	for _, f := range marketing {
		rel, _ := filepath.Rel(root, f)
		files = append(files, rel)
	}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(tmp, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tmp, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return Repo{Root: tmp}
}

// TestScaffoldedDomainAndProductsPassTheDeclarationTests scaffolds a domain with a
// product reading another domain's port, a product reading a raw stream in an existing
// domain, and a source of that domain with a product reading it, then runs the
// repository's declaration tests and the new source's conformance test over the result
// (the real module, with the scaffolded files laid over it by `go test -overlay`): what
// `mesh new` writes is valid the moment it exists.
func TestScaffoldedDomainAndProductsPassTheDeclarationTests(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go test on the scaffolded tree")
	}
	real, err := FindRepo(".")
	if err != nil {
		t.Fatal(err)
	}
	r := copyRepo(t, real.Root)
	var changed []string
	add := func(files []string, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		changed = append(changed, files...)
	}
	add(r.NewDomain(DomainOptions{Name: "customer_success"}))
	in, err := ProductInput(domains.Mesh(), "marketing.crm_deals") // restricted: the new product must be too
	if err != nil {
		t.Fatal(err)
	}
	add(r.NewProduct("customer_success", "account_health", in))
	add(r.NewProduct("customer_success", "renewals", in))
	stream := source.StreamSpec{Name: "contacts", PrimaryKey: []string{"id"}, CursorField: "updated_at", Fields: []source.Field{
		{Name: "id", Type: source.String, Doc: "HubSpot contact id."}, {Name: "email", Type: source.String},
		{Name: "score", Type: source.Float64}, {Name: "updated_at", Type: source.Timestamp, Doc: "Last change."}}}
	add(r.NewProduct("marketing", "contact_scores", StreamInput("hubspot", stream)))
	add(r.NewSource("marketing", "acme_crm"))

	overlay := map[string]string{}
	for _, f := range changed {
		overlay[filepath.Join(real.Root, f)] = filepath.Join(r.Root, f)
	}
	b, _ := json.Marshal(map[string]any{"Replace": overlay})
	ov := filepath.Join(t.TempDir(), "overlay.json")
	if err := os.WriteFile(ov, b, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "test", "-count=1", "-vet=off", "-overlay", ov, "-run", "TestDeclarationsAreValid|TestAcmeCrmSourceConformance", "./domains", "./domains/marketing")
	cmd.Dir = real.Root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go test ./domains over the scaffolded files: %v\n%s", err, out)
	}

	// The domain has a worker in docker-compose.yml, a copy of the others.
	var compose struct {
		Services map[string]struct {
			Command     []string          `yaml:"command"`
			Environment map[string]string `yaml:"environment"`
		} `yaml:"services"`
	}
	cb, _ := os.ReadFile(filepath.Join(r.Root, "docker-compose.yml"))
	if err := yaml.Unmarshal(cb, &compose); err != nil {
		t.Fatalf("docker-compose.yml no longer parses: %v", err)
	}
	w, ok := compose.Services["worker-customer-success"]
	if !ok || w.Environment["MESHFLOW_DOMAINS"] != "customer_success" || len(w.Command) == 0 {
		t.Fatalf("worker-customer-success = %+v (present %v), want a worker hosting customer_success", w, ok)
	}
	sql, _ := os.ReadFile(filepath.Join(r.Root, "domains/customersuccess/models/account_health.sql"))
	if !strings.Contains(string(sql), "FROM marketing.crm_deals") {
		t.Fatalf("the model reads %q, want marketing.crm_deals", sql)
	}
}

// TestScaffoldRefusesWhatExists: scaffolding never overwrites a file or a name.
func TestScaffoldRefusesWhatExists(t *testing.T) {
	real, err := FindRepo(".")
	if err != nil {
		t.Fatal(err)
	}
	r := copyRepo(t, real.Root)
	if _, err := r.NewDomain(DomainOptions{Name: "marketing"}); err == nil || !strings.Contains(err.Error(), "exists already") {
		t.Errorf("a second marketing domain: %v", err)
	}
	in, _ := ProductInput(domains.Mesh(), "marketing.crm_companies")
	if _, err := r.NewProduct("marketing", "crm_contacts", in); err == nil || !strings.Contains(err.Error(), "exists already") {
		t.Errorf("a second crm_contacts: %v", err)
	}
	if _, err := r.NewProduct("nowhere", "x", in); err == nil || !strings.Contains(err.Error(), "mesh new domain nowhere") {
		t.Errorf("a product of an unknown domain: %v", err)
	}
	if _, err := r.NewDomain(DomainOptions{Name: "Bad-Name"}); err == nil || !strings.Contains(err.Error(), "lower_snake_case") {
		t.Errorf("a bad name: %v", err)
	}
}
