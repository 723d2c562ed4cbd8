package flow

import (
	"context"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/meshflow/meshflow/framework/mesh"
)

// schemaExport is a domain's own activity: it writes into the lake the framework's
// activities use.
type schemaExport struct{ acts *Activities }

func (e *schemaExport) WriteView(ctx context.Context, name string) (string, error) {
	key := "exports/" + name + ".view.lkml"
	return key, e.acts.Lake.Bucket.WriteAll(ctx, key, []byte("view: "+name+" {}"), nil)
}

func exportWorkflow(ctx workflow.Context, name string) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
	var key string
	var e *schemaExport
	err := workflow.ExecuteActivity(ctx, e.WriteView, name).Get(ctx, &key)
	return key, err
}

// TestDomainRegistersItsOwnWorkflows: a domain's Register puts its workflows and
// activities on its worker beside the framework's, and its activities reach the
// framework's stores through Framework.
func TestDomainRegistersItsOwnWorkflows(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	acts := &Activities{Mesh: testMesh(), Lake: memLake(t)}
	d := testMesh().Domains[0]
	var gotFramework bool
	d.Register = func(r mesh.Registry) {
		fw, ok := Framework(r)
		gotFramework = ok && fw == acts
		r.RegisterWorkflow(exportWorkflow)
		r.RegisterActivity(&schemaExport{acts: fw})
	}
	Register(env, &Workflows{Mesh: testMesh()}, acts, d)
	if !gotFramework {
		t.Fatal("the domain's Register did not get the framework's activities")
	}
	env.ExecuteWorkflow(exportWorkflow, "crm_contacts")
	var key string
	if err := env.GetWorkflowResult(&key); err != nil {
		t.Fatal(err)
	}
	if ok, _ := acts.Lake.Bucket.Exists(context.Background(), key); !ok {
		t.Fatalf("the domain's activity wrote nothing at %s", key)
	}
}
