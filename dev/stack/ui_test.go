package stack_test

import (
	"context"
	neturl "net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/meshflow/meshflow/dev/browser"
	"github.com/meshflow/meshflow/dev/stack"
	"github.com/meshflow/meshflow/domains"
	"github.com/meshflow/meshflow/framework/flow"
)

// TestTemporalUIListsABackfillsRuns opens the real Temporal UI in headless Chromium
// filtered by MeshBackfill and checks the page lists exactly that backfill's partition
// runs. The screenshot is kept in testdata/artifacts for a person to look at.
func TestTemporalUIListsABackfillsRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("needs bin/temporal and chromium")
	}
	chromium := browser.Find(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	uiPort := strconv.Itoa(stack.FreePort())
	st := startStack(t, ctx, stack.Options{UIPort: uiPort, Log: testLog(t, zerolog.WarnLevel)})
	cfg, stores := openLake(t, ctx, st, t.TempDir())
	m := domains.Mesh()
	startWorker(t, st, cfg, m, stores)

	d, p, err := m.Find("marketing.web_traffic")
	if err != nil {
		t.Fatal(err)
	}
	// A run outside the backfill, which the filtered page must not list.
	if _, err := flow.StartRun(ctx, st.Client, d, p, flow.RunInput{}); err != nil {
		t.Fatal(err)
	}
	day := func(back int) string { return time.Now().UTC().AddDate(0, 0, -back).Format(time.DateOnly) }
	run, err := flow.StartBackfill(ctx, st.Client, d, p, flow.BackfillInput{From: day(3), To: day(2), Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := flow.WaitBackfill(ctx, run); err != nil {
		t.Fatal(err)
	}
	// The backfill workflow carries the attribute too; its partition runs are the RunProducts.
	query := `MeshBackfill="` + run.GetID() + `" AND WorkflowType="RunProduct"`
	waitVisible(t, ctx, st.Client, query, 2)

	url := st.UIURL + "/namespaces/default/workflows?query=" + neturl.QueryEscape(query)
	dom := browser.DOM(t, chromium, url)
	for _, back := range []int{3, 2} {
		if id := flow.WorkflowID(d.Name, p.Name, day(back)); !strings.Contains(dom, id) {
			t.Fatalf("the UI filtered by %s does not list %s; page:\n%.2000s", query, id, dom)
		}
	}
	if strings.Contains(dom, flow.WorkflowID(d.Name, p.Name, "")) {
		t.Fatalf("the UI filtered by %s lists the run outside the backfill", query)
	}
	browser.Screenshot(t, chromium, url, "temporal-ui-backfill.png", 1400, 900)
}

// waitVisible waits until the visibility store (eventually consistent) lists n runs.
func waitVisible(t *testing.T, ctx context.Context, c client.Client, query string, n int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: query})
		if err == nil && res.GetCount() == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d runs visible, want %d (%v)", query, res.GetCount(), n, err)
		}
		time.Sleep(200 * time.Millisecond) // polling an eventually consistent index, with a deadline
	}
}
