package catalog

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/port"
)

// The product page shows each port table's files, size and snapshots, and its last
// maintenance: when, what it did, and its workflow in the Temporal UI when the
// catalog knows the UI (a table never maintained says how it will be).
func TestProductPageShowsStorageAndLastMaintenance(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l, ports := testStoresIn(t, dir)
	now := time.Now().UTC()
	v2 := port.PortTable("sales", "down", 2)
	for i := range 3 {
		publishAt(t, ports, v2, "2.0.0", now.Add(time.Duration(i-3)*time.Hour))
	}
	publishAt(t, ports, port.PortTable("sales", "down", 1), "1.2.0", now.Add(-time.Hour))
	m := chainMesh()
	before, err := ports.Stats(ctx, v2)
	if err != nil {
		t.Fatal(err)
	}

	// The nightly schedule's maintenance of down_v2, by the real workflow and activities.
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(now)
	env.SetWorkerOptions(worker.Options{DeadlockDetectionTimeout: time.Minute})
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: flow.MaintainID("sales", "down_v2")})
	acts := &flow.Activities{Mesh: m, Lake: l, Ports: ports, WorkDir: t.TempDir()}
	flow.Register(env, &flow.Workflows{Mesh: m}, acts, m.Domains[0])
	env.ExecuteWorkflow(flow.MaintainWorkflow, flow.MaintainInput{Domain: "sales", Product: "down", Trigger: flow.TriggerSchedule})
	var res flow.MaintainResult
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	after, err := ports.Stats(ctx, v2)
	if err != nil {
		t.Fatal(err)
	}
	if res.Manifests.After >= res.Manifests.Before || after.Manifests >= before.Manifests {
		t.Fatalf("the maintenance merged no manifests (%+v → %+v): the page would have little to show", before, after)
	}

	c := &Catalog{Mesh: m, Ports: ports, Lake: l, TemporalUI: "http://temporal.example:8233/", Namespace: "mesh"}
	det, err := c.Show(ctx, "sales.down", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(det.Storage) != 2 || det.Storage[0].Table != "sales.down_v2" || det.Storage[1].Table != "sales.down_v1" {
		t.Fatalf("storage = %+v, want down_v2 then down_v1", det.Storage)
	}
	got := det.Storage[0]
	if !got.Published || got.Stats != after || got.Size != BytesText(after.DataBytes) {
		t.Errorf("down_v2's storage = %+v, want %+v", got, after)
	}
	lm := got.LastMaintenance
	if lm == nil || lm.Status != flow.StatusMaintained || lm.Trigger != flow.TriggerSchedule || lm.WorkflowID != "maintain/sales.down_v2" || lm.RunID == "" {
		t.Fatalf("down_v2's last maintenance = %+v", lm)
	}
	wantDid := "merged " + strconv.Itoa(res.Manifests.Before) + " manifests into " + strconv.Itoa(res.Manifests.After)
	if !strings.Contains(lm.Did, wantDid) {
		t.Errorf("what the maintenance did = %q, want it to say %q", lm.Did, wantDid)
	}
	wantURL := "http://temporal.example:8233/namespaces/mesh/workflows/maintain%2Fsales.down_v2/" + lm.RunID + "/history"
	if lm.URL != wantURL {
		t.Errorf("maintenance link = %q, want %q", lm.URL, wantURL)
	}
	if v1 := det.Storage[1]; !v1.Published || v1.Snapshots != 1 || v1.DataFiles != 1 || v1.LastMaintenance != nil {
		t.Errorf("down_v1's storage = %+v", v1)
	}

	srv := httptest.NewServer(c.Handler())
	defer srv.Close()
	code, page := get(t, srv.URL+"/products/sales.down")
	for _, want := range []string{
		"<h2>Storage and maintenance</h2>",
		"<code>sales.down_v2</code></td><td>" + strconv.Itoa(after.DataFiles) + "</td><td>" + got.Size + "</td><td>" + strconv.Itoa(after.Manifests) + "</td><td>" + strconv.Itoa(after.Snapshots) + "</td>",
		`<span class="pass">maintained</span> ` + lm.FinishedAt.UTC().Format("2006-01-02 15:04") + " UTC (schedule): " + wantDid,
		`<a href="` + wantURL + `">maintain/sales.down_v2</a> in the Temporal UI`,
		"<code>sales.down_v1</code></td><td>1</td>",
		"none yet (nightly by <code>mesh schedules apply</code>, or <code>mesh maintain sales.down</code>)",
	} {
		if code != 200 || !strings.Contains(page, want) {
			t.Errorf("product page (%d) lacks %q", code, want)
		}
	}

	// Without a Temporal UI configured, the workflow is named, not linked.
	c.TemporalUI = ""
	det, err = c.Show(ctx, "sales.down", 0)
	if err != nil {
		t.Fatal(err)
	}
	if det.Storage[0].LastMaintenance.URL != "" {
		t.Errorf("a link without a Temporal UI: %q", det.Storage[0].LastMaintenance.URL)
	}
	_, page = get(t, srv.URL+"/products/sales.down")
	if !strings.Contains(page, "workflow <code>maintain/sales.down_v2</code>") || strings.Contains(page, "temporal.example") {
		t.Errorf("without a Temporal UI the page should name the workflow without a link")
	}
}
