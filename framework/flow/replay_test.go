package flow_test

import (
	"testing"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/meshflow/meshflow/domains"
	"github.com/meshflow/meshflow/framework/flow"
)

// TestReplayRecordedRun replays a real RunProduct history recorded on the dev server
// (see dev/stack's recordHistory): a change that makes the workflow non-deterministic
// for runs already in flight fails here.
func TestReplayRecordedRun(t *testing.T) {
	r := worker.NewWorkflowReplayer()
	wf := &flow.Workflows{Mesh: domains.Mesh()}
	r.RegisterWorkflowWithOptions(wf.RunProduct, workflow.RegisterOptions{Name: flow.RunProductWorkflow})
	if err := r.ReplayWorkflowHistoryFromJSONFile(nil, "../../testdata/histories/run_product.json"); err != nil {
		t.Fatal(err)
	}
}
