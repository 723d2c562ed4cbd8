package stack_test

import (
	"context"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

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
	browser := findChromium(t)
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
	dom := headless(t, browser, "--dump-dom", url)
	for _, back := range []int{3, 2} {
		if id := flow.WorkflowID(d.Name, p.Name, day(back)); !strings.Contains(dom, id) {
			t.Fatalf("the UI filtered by %s does not list %s; page:\n%.2000s", query, id, dom)
		}
	}
	if strings.Contains(dom, flow.WorkflowID(d.Name, p.Name, "")) {
		t.Fatalf("the UI filtered by %s lists the run outside the backfill", query)
	}
	shot := filepath.Join(artifacts(t), "temporal-ui-backfill.png")
	headless(t, browser, "--screenshot="+shot, "--window-size=1400,900", url)
	if fi, err := os.Stat(shot); err != nil || fi.Size() == 0 {
		t.Fatalf("no screenshot at %s: %v", shot, err)
	}
}

// headless runs Chromium the way this machine allows (no sandbox as root, no
// background networking) and returns its standard output. The virtual time budget
// lets the UI's JavaScript fetch and render the list before the DOM is dumped.
func headless(t *testing.T, browser string, args ...string) string {
	t.Helper()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--virtual-time-budget=15000"}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, browser, append(base, args...)...).Output()
	if err != nil {
		t.Fatalf("chromium %v: %v", args, err)
	}
	return string(out)
}

func findChromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed: `make test` installs Debian's chromium package")
	}
	t.Skip("chromium is not installed (make test installs it)")
	return ""
}

// artifacts is where tests keep files for people: testdata/artifacts at the repository root.
func artifacts(t *testing.T) string {
	dir, err := filepath.Abs(filepath.Join("..", "..", "testdata", "artifacts"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
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
