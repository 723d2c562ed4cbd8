package flow

import (
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"go.temporal.io/sdk/testsuite"

	"github.com/meshflow/meshflow/framework/mesh"
)

// A worker started with Declared (mesh dev in a checkout) starts each run from the
// model as saved, and records that model with the run: an edit shows at the next run
// without a rebuild, and never inside a run already started.
func TestRunsStartFromTheSavedModel(t *testing.T) {
	built := testMesh()
	built.Domains[0].Files = fstest.MapFS{"models/crm_contacts.sql": {Data: []byte("SELECT 1")}}
	root := t.TempDir()
	file := filepath.Join(root, "domains", "marketing", "models", "crm_contacts.sql")
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	save := func(sql string) {
		if err := os.WriteFile(file, []byte(sql), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a := &Activities{Mesh: built, Lake: memLake(t), Declared: func() mesh.Mesh { m, _ := built.FromDisk(root); return m }}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	model := func() string {
		t.Helper()
		v, err := env.ExecuteLocalActivity(a.ResolvePlan, RunInput{Domain: "marketing", Product: "crm_contacts"})
		if err != nil {
			t.Fatal(err)
		}
		var plan Plan
		if err := v.Get(&plan); err != nil {
			t.Fatal(err)
		}
		_, p, _, err := a.declaration(t.Context(), plan.Majors[0].Decl, "marketing", "crm_contacts", 0)
		if err != nil {
			t.Fatal(err)
		}
		return p.Model
	}
	save("SELECT 2 AS id")
	if got := model(); got != "SELECT 2 AS id" {
		t.Fatalf("the run recorded the model %q, want the saved one", got)
	}
	save("SELECT 3 AS id")
	if got := model(); got != "SELECT 3 AS id" {
		t.Fatalf("after another save the run recorded %q", got)
	}
	a.Declared = nil
	if got := model(); got != "SELECT 1" {
		t.Fatalf("without Declared the run recorded %q, want the built model", got)
	}
}
