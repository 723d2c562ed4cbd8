package flow_test

import (
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/meshflow/meshflow/domains"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/mesh"
)

// histories are real histories recorded on the dev server (dev/stack's
// TestRecordHistories), one per workflow shape. A change to the workflows that would
// break runs in flight — a command added, removed or reordered outside
// workflow.GetVersion — fails here.
// partition_run and backfill_day ran a day's steps as activities; their _local
// twins ran them as local activities (the local-day change). maintain_table and
// maintain_stream are recorded by TestRecordMaintenanceHistories.
var histories = []string{"run", "partition_run", "partition_run_local_day", "backfill_continued_as_new", "backfill_after_continue", "backfill_day",
	"backfill_day_local", "quota_wait", "blocked_check", "legacy_major", "maintain_table", "maintain_stream"}

// TestReplayEveryWorkflowShape replays each recorded history twice: against the
// declarations it ran with, and after a deploy that changed every product (an added raw
// input, an added check, a new major). A run decides from the plan in its history, so
// neither replay may diverge.
func TestReplayEveryWorkflowShape(t *testing.T) {
	for _, decls := range []struct {
		name string
		mesh mesh.Mesh
	}{{"as recorded", domains.Mesh()}, {"after a deploy", redeclared(domains.Mesh())}} {
		for _, h := range histories {
			t.Run(decls.name+"/"+h, func(t *testing.T) {
				r := worker.NewWorkflowReplayer()
				wf := &flow.Workflows{Mesh: decls.mesh}
				r.RegisterWorkflowWithOptions(wf.RunProduct, workflow.RegisterOptions{Name: flow.RunProductWorkflow})
				r.RegisterWorkflowWithOptions(wf.Backfill, workflow.RegisterOptions{Name: flow.BackfillWorkflow})
				r.RegisterWorkflowWithOptions(wf.MaintainTable, workflow.RegisterOptions{Name: flow.MaintainWorkflow})
				r.RegisterWorkflowWithOptions(wf.MaintainStream, workflow.RegisterOptions{Name: flow.MaintainStreamWorkflow})
				if err := r.ReplayWorkflowHistoryFromJSONFile(nil, filepath.Join("../../testdata/histories", h+".json")); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// TestReplayRecordedRun replays a RunProduct history recorded before runs had plans
// (run_product.json): such runs still replay, through the declarations of the worker
// replaying them, as they always did.
func TestReplayRecordedRun(t *testing.T) {
	r := worker.NewWorkflowReplayer()
	wf := &flow.Workflows{Mesh: domains.Mesh()}
	r.RegisterWorkflowWithOptions(wf.RunProduct, workflow.RegisterOptions{Name: flow.RunProductWorkflow})
	if err := r.ReplayWorkflowHistoryFromJSONFile(nil, "../../testdata/histories/run_product.json"); err != nil {
		t.Fatal(err)
	}
}

// redeclared changes every product the way a deploy might: one more raw input, one
// more check, and the next major with the current one kept as legacy.
func redeclared(m mesh.Mesh) mesh.Mesh {
	out := mesh.Mesh{}
	for _, d := range m.Domains {
		d.Products = slices.Clone(d.Products)
		for i := range d.Products {
			p := &d.Products[i]
			old := *p
			p.Inputs = append(slices.Clone(p.Inputs), mesh.Raw("hubspot", "deals"))
			p.Checks = append(slices.Clone(p.Checks), mesh.RowCount(0, 1).AsWarn())
			major := old.Major() + 1
			p.Version = strconv.Itoa(major) + ".0.0"
			p.Legacy = append(slices.Clone(p.Legacy), mesh.Legacy{Version: old.Version, Sunset: "2099-12-31", Model: old.Model, Schema: old.Schema, Migration: "moved"})
		}
		out.Domains = append(out.Domains, d)
	}
	return out
}
