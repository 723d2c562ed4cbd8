package alert_test

import (
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/worker"

	"github.com/meshflow/meshflow/framework/alert"
	"github.com/meshflow/meshflow/framework/mesh"
)

// TestReplayAlertWorkflows replays the alert workflows' histories recorded on the dev
// server by TestAlertsReachTheOwnerOnTheDevServer:
//
//	MESHFLOW_RECORD_HISTORIES=$PWD/testdata/histories go test ./framework/alert -run TestAlertsReachTheOwnerOnTheDevServer
//
// A change to the workflows that would break one in flight — a command added, removed
// or reordered outside workflow.GetVersion — fails here. Keep the old files when
// recording again: alert workflows run for ever.
func TestReplayAlertWorkflows(t *testing.T) {
	for _, h := range []string{"alerts_product", "alerts_freshness"} {
		t.Run(h, func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			alert.Register(r, alert.New(nil, mesh.Mesh{}, nil, alert.Config{}, nil))
			if err := r.ReplayWorkflowHistoryFromJSONFile(nil, filepath.Join("../../testdata/histories", h+".json")); err != nil {
				t.Fatal(err)
			}
		})
	}
}
