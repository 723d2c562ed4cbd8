package stack_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/meshflow/meshflow/dev/sandbox"
	sbhubspot "github.com/meshflow/meshflow/dev/sandbox/hubspot"
	"github.com/meshflow/meshflow/dev/stack"
	"github.com/meshflow/meshflow/domains"
	"github.com/meshflow/meshflow/domains/bi"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/mesh"
)

// TestRecordHistories records one real history of each workflow shape on the dev
// server — a run, a partition run, a backfill that continues as new (both of its
// runs) and one of its days, a quota wait, a run blocked by a check, a run publishing a legacy major — for
// framework/flow's replay tests, which replay them against changed declarations:
//
//	MESHFLOW_RECORD_HISTORIES=$PWD/testdata/histories go test ./dev/stack -run TestRecordHistories
//
// Record again after a change to the workflows that is not behind workflow.GetVersion
// (and keep the old files: runs recorded by earlier code must still replay).
func TestRecordHistories(t *testing.T) {
	dir := os.Getenv("MESHFLOW_RECORD_HISTORIES")
	if dir == "" {
		t.Skip("set MESHFLOW_RECORD_HISTORIES=<dir> to record the workflow histories of framework/flow's replay tests")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	st := startStack(t, ctx, stack.Options{Log: testLog(t, zerolog.WarnLevel)})
	cfg, stores := openLake(t, ctx, st, t.TempDir())
	m := domains.Mesh()
	save := func(name, id, runID string) {
		t.Helper()
		saveHistory(t, ctx, st, id, runID, filepath.Join(dir, name+".json"))
	}
	start := func(m mesh.Mesh, name string, in flow.RunInput) (string, string, error) {
		t.Helper()
		d, p, err := m.Find(name)
		if err != nil {
			t.Fatal(err)
		}
		run, err := flow.StartRun(ctx, st.Client, d, p, in)
		if err != nil {
			t.Fatal(err)
		}
		return run.GetID(), run.GetRunID(), run.Get(ctx, nil)
	}

	stop := startWorker(t, st, cfg, m, stores)
	runProduct(t, ctx, st, m, "marketing.crm_companies")
	id, runID, err := start(m, "marketing.crm_contacts", flow.RunInput{})
	if err != nil {
		t.Fatal(flow.Explain(err))
	}
	save("run", id, runID)

	day := time.Now().UTC().AddDate(0, 0, -5)
	id, runID, err = start(m, "marketing.web_traffic", flow.RunInput{Partition: day.Format(mesh.PartitionLayout)})
	if err != nil {
		t.Fatal(flow.Explain(err))
	}
	save("partition_run", id, runID)

	d, p, _ := m.Find("marketing.web_traffic")
	bf, err := flow.StartBackfill(ctx, st.Client, d, p, flow.BackfillInput{
		From: day.AddDate(0, 0, -2).Format(mesh.PartitionLayout), To: day.Format(mesh.PartitionLayout), Concurrency: 1, ContinueAfter: 2})
	if err != nil {
		t.Fatal(err)
	}
	firstRun := bf.GetRunID() // waiting follows the chain to its last run
	if st, err := flow.WaitBackfill(ctx, bf); err != nil || len(flow.FailedPartitions(st)) > 0 {
		t.Fatalf("backfill: %+v %v", st, err)
	}
	save("backfill_continued_as_new", bf.GetID(), firstRun)
	save("backfill_after_continue", bf.GetID(), "")
	save("backfill_day", flow.WorkflowID("marketing", "web_traffic", day.Format(mesh.PartitionLayout)), "") // runs the backfill's plan
	stop()

	tooFew := mesh.RowCount(1, 100)
	tooFew.Name = "row_count_at_most_100"
	stop = startWorker(t, st, cfg, withCheck(m, "crm_contacts", tooFew), stores)
	id, runID, err = start(m, "marketing.crm_contacts", flow.RunInput{})
	if err == nil {
		t.Fatal("the run with a failing check published")
	}
	save("blocked_check", id, runID)
	stop()

	bumped := withMajorBump(m, "2099-12-31")
	stop = startWorker(t, st, cfg, bumped, stores)
	id, runID, err = start(bumped, "marketing.crm_contacts", flow.RunInput{})
	if err != nil {
		t.Fatal(flow.Explain(err))
	}
	save("legacy_major", id, runID)
	stop()

	startWorkerIn(t, st, cfg, m, stores, midnightIn(30*time.Second))
	sandbox.Get[*sbhubspot.API](st.Sandbox).ExhaustDaily()
	d, p, _ = m.Find("marketing.crm_companies")
	run, err := flow.StartRun(ctx, st.Client, d, p, flow.RunInput{})
	if err != nil {
		t.Fatal(err)
	}
	waitForStage(t, ctx, st, run.GetID(), "waiting for quota")
	sandbox.Get[*sbhubspot.API](st.Sandbox).RestoreDaily()
	if err := run.Get(ctx, nil); err != nil {
		t.Fatal(flow.Explain(err))
	}
	save("quota_wait", run.GetID(), run.GetRunID())
}

// TestRecordDomainHistories records the domains' own workflows (bi's ExportLookML)
// for their replay tests, apart from TestRecordHistories so recording one does not
// replace the framework's histories recorded by earlier code:
//
//	MESHFLOW_RECORD_HISTORIES=$PWD/testdata/histories go test ./dev/stack -run TestRecordDomainHistories
func TestRecordDomainHistories(t *testing.T) {
	dir, ctx, st, m := recordingWorker(t, "the domains' workflow histories for their replay tests")
	runProduct(t, ctx, st, m, "marketing.crm_companies")
	run, err := bi.StartExport(ctx, st.Client, "marketing.crm_companies")
	if err != nil {
		t.Fatal(err)
	}
	var res bi.ExportResult
	if err := run.Get(ctx, &res); err != nil || len(res.Views) != 1 {
		t.Fatalf("export: %+v %v", res, err)
	}
	saveHistory(t, ctx, st, run.GetID(), run.GetRunID(), filepath.Join(dir, "bi_export_lookml.json"))
}

// TestRecordMaintenanceHistories records a table's and a raw stream's maintenance
// (MaintainTable, MaintainStream) for framework/flow's replay tests, apart from
// TestRecordHistories so recording them does not replace the run histories recorded
// by earlier code:
//
//	MESHFLOW_RECORD_HISTORIES=$PWD/testdata/histories go test ./dev/stack -run TestRecordMaintenanceHistories
func TestRecordMaintenanceHistories(t *testing.T) {
	dir, ctx, st, m := recordingWorker(t, "the maintenance workflows' histories for framework/flow's replay tests")
	for range 2 { // two snapshots and two landings: something to compact
		runProduct(t, ctx, st, m, "marketing.crm_companies")
	}
	d, p, _ := m.Find("marketing.crm_companies")
	run, err := flow.StartMaintain(ctx, st.Client, d, p, flow.MaintainInput{})
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Get(ctx, nil); err != nil {
		t.Fatal(flow.Explain(err))
	}
	saveHistory(t, ctx, st, run.GetID(), run.GetRunID(), filepath.Join(dir, "maintain_table.json"))
	run, err = flow.StartMaintainStream(ctx, st.Client, d, lake.StreamRef{Domain: d.Name, Source: "hubspot", Stream: "companies"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Get(ctx, nil); err != nil {
		t.Fatal(flow.Explain(err))
	}
	saveHistory(t, ctx, st, run.GetID(), run.GetRunID(), filepath.Join(dir, "maintain_stream.json"))
}

// recordingWorker starts, for a test that records histories into the directory
// MESHFLOW_RECORD_HISTORIES names (skipped without it), the dev server and a worker
// of the whole mesh on a lake of its own, stopped when the test ends.
func recordingWorker(t *testing.T, what string) (string, context.Context, *stack.Stack, mesh.Mesh) {
	t.Helper()
	dir := os.Getenv("MESHFLOW_RECORD_HISTORIES")
	if dir == "" {
		t.Skip("set MESHFLOW_RECORD_HISTORIES=<dir> to record " + what)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	t.Cleanup(cancel)
	st := startStack(t, ctx, stack.Options{Log: testLog(t, zerolog.WarnLevel)})
	cfg, stores := openLake(t, ctx, st, t.TempDir())
	m := domains.Mesh()
	t.Cleanup(startWorker(t, st, cfg, m, stores))
	return dir, ctx, st, m
}

// saveHistory writes a workflow run's history as JSON, the form the SDK's replayer
// reads ("" = the latest run of id).
func saveHistory(t *testing.T, ctx context.Context, st *stack.Stack, id, runID, path string) {
	t.Helper()
	it := st.Client.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	hist := &historypb.History{}
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		hist.Events = append(hist.Events, ev)
	}
	b, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(hist)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
