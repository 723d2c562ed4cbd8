package bi

import (
	"testing"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// ExportLookML replays the history recorded on the dev server
// (testdata/histories/bi_export_lookml.json, dev/stack's TestRecordDomainHistories):
// a change to the workflow that would make a running export take other steps —
// without workflow.GetVersion — fails here. It reads no declarations (the plan and
// the contracts come from its activities), so a deploy of the mesh cannot change it.
func TestReplayExportLookML(t *testing.T) {
	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflowWithOptions(ExportLookML, workflow.RegisterOptions{Name: ExportLookMLWorkflow})
	if err := r.ReplayWorkflowHistoryFromJSONFile(nil, "../../testdata/histories/bi_export_lookml.json"); err != nil {
		t.Fatal(err)
	}
}
