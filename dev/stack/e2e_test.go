package stack_test

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/rs/zerolog"
	"go.temporal.io/api/workflowservice/v1"
	"gocloud.dev/blob"
	_ "gocloud.dev/blob/fileblob"

	"github.com/meshflow/meshflow/connectors/googleanalytics"
	"github.com/meshflow/meshflow/connectors/hubspot"
	"github.com/meshflow/meshflow/dev/browser"
	"github.com/meshflow/meshflow/dev/sandbox"
	sbgithub "github.com/meshflow/meshflow/dev/sandbox/github"
	sbga "github.com/meshflow/meshflow/dev/sandbox/googleanalytics"
	sbhubspot "github.com/meshflow/meshflow/dev/sandbox/hubspot"
	sbjira "github.com/meshflow/meshflow/dev/sandbox/jira"
	"github.com/meshflow/meshflow/dev/stack"
	"github.com/meshflow/meshflow/domains"
	"github.com/meshflow/meshflow/framework/catalog"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
	"github.com/meshflow/meshflow/workers/host"
)

// TestEndToEnd runs the marketing domain on the real Temporal dev server against the
// sandbox's real HTTP API, into a temporary lake, and reads the Iceberg ports back.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: needs bin/temporal")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	log := testLog(t, zerolog.WarnLevel)
	st := startStack(t, ctx, stack.Options{Log: log})

	cfg, stores := openLake(t, ctx, st, t.TempDir())
	m := domains.Mesh()
	stopWorker := startWorker(t, st, cfg, m, stores)

	// First run: every product publishes.
	failed, err := stack.RunAll(ctx, st.Client, m, nil)
	if err != nil || len(failed) > 0 {
		t.Fatalf("first run: %v %v", err, failed)
	}
	hs := sandbox.Get[*sbhubspot.API](st.Sandbox)
	contacts := port.TableID{Domain: "marketing", Name: "crm_contacts_v1"}
	for _, tc := range []struct {
		table  string
		object string
	}{{"crm_contacts_v1", "contacts"}, {"crm_companies_v1", "companies"}, {"crm_deals_v1", "deals"}} {
		rows := readColumn(t, stores, port.TableID{Domain: "marketing", Name: tc.table}, 0)
		if len(rows) != hs.Count(tc.object) {
			t.Fatalf("%s holds %d rows, the sandbox has %d live %s", tc.table, len(rows), hs.Count(tc.object), tc.object)
		}
	}
	first, _, _ := stores.Ports.Current(ctx, contacts)
	checkCatalog(t, ctx, m, stores)
	checkCatalogPageInBrowser(t, m, stores)
	if path := os.Getenv("MESHFLOW_RECORD_HISTORY"); path != "" {
		saveHistory(t, ctx, st, flow.WorkflowID("marketing", "crm_contacts", ""), first.Properties[flow.PropRunID], path)
	}

	// The sandbox changes 10 contacts; the next run lands only those, and the port
	// keeps one row per contact with the newest values.
	touchedAt := time.Now().UTC().Truncate(time.Millisecond)
	touched := hs.Touch("contacts", 10)
	res := runProduct(t, ctx, st, m, "marketing.crm_contacts")
	if got := res.Landed["hubspot.contacts"]; got != 10 {
		t.Fatalf("second run landed %d contacts, want the 10 changed ones", got)
	}
	ids := readColumn(t, stores, contacts, 0)
	if len(ids) != hs.Count("contacts") || len(ids) != len(uniq(ids)) {
		t.Fatalf("port has %d rows (%d distinct), want one per contact (%d)", len(ids), len(uniq(ids)), hs.Count("contacts"))
	}
	updated := readColumn(t, stores, contacts, 8) // updated_at
	var fresh []string
	for i, u := range updated {
		ts, err := time.Parse("2006-01-02T15:04:05.999999", u)
		if err != nil {
			t.Fatalf("updated_at %q: %v", u, err)
		}
		if !ts.Before(touchedAt) {
			fresh = append(fresh, ids[i])
		}
	}
	slices.Sort(fresh)
	slices.Sort(touched)
	if !slices.Equal(fresh, touched) {
		t.Fatalf("contacts updated since the change: %v, want exactly the touched %v", fresh, touched)
	}
	second, _, _ := stores.Ports.Current(ctx, contacts)
	if second.ID == first.ID {
		t.Fatal("the second run did not publish a new snapshot")
	}

	checkEngineeringIncremental(t, ctx, st, m, stores)
	checkWebTrafficRepull(t, ctx, st, m, stores)
	checkWebTrafficBackfill(t, ctx, st, m, stores)

	// A run whose ERROR check fails publishes nothing and says why.
	stopWorker()
	tooFew := mesh.RowCount(1, 100)
	tooFew.Name = "row_count_at_most_100"
	strict := withCheck(m, "crm_contacts", tooFew)
	stopWorker = startWorker(t, st, cfg, strict, stores)
	hs.Touch("contacts", 3)
	_, err = startAndWait(ctx, st, strict, "marketing.crm_contacts")
	if err == nil {
		t.Fatal("a run with a failing error check succeeded")
	}
	msg := flow.Explain(err)
	for _, want := range []string{"quality gate", "row_count_at_most_100", "previous snapshot"} {
		if !strings.Contains(msg, want) {
			t.Errorf("blocked run error %q does not say %q", msg, want)
		}
	}
	after, _, _ := stores.Ports.Current(ctx, contacts)
	if after.ID != second.ID {
		t.Fatalf("current snapshot moved from %d to %d after a blocked run", second.ID, after.ID)
	}
	// The catalog says so, and that the snapshot before it is still served.
	blocked, err := (&catalog.Catalog{Mesh: strict, Ports: stores.Ports, Lake: stores.Lake}).Show(ctx, "marketing.crm_contacts", 0)
	if err != nil {
		t.Fatal(err)
	}
	if blocked.LastRun == nil || blocked.LastRun.Status != flow.StatusBlocked || blocked.Snapshot != second.ID ||
		!strings.Contains(blocked.Problem, "row_count_at_most_100") || !strings.Contains(blocked.Problem, strconv.FormatInt(second.ID, 10)) {
		t.Errorf("catalog after the blocked run: last run %+v, snapshot %d, problem %q; want blocked, naming the check and the snapshot %d still served",
			blocked.LastRun, blocked.Snapshot, blocked.Problem, second.ID)
	}
	stopWorker()

	// A breaking change to the contract without a major version bump is refused.
	stopWorker = startWorker(t, st, cfg, withoutCountry(m), stores)
	_, err = startAndWait(ctx, st, withoutCountry(m), "marketing.crm_contacts")
	msg = flow.Explain(err)
	if err == nil || !strings.Contains(msg, "field country was removed") || !strings.Contains(msg, "2.0.0") {
		t.Fatalf("breaking change: err = %q, want it refused naming the field and the major bump", msg)
	}
	if now, _, _ := stores.Ports.Current(ctx, contacts); now.ID != second.ID {
		t.Fatal("a breaking change replaced the current snapshot")
	}
	stopWorker()
	// Nothing a run staged outlives it: a publish deletes its file, and the blocked and
	// the refused run above discarded theirs.
	if left := listKeys(t, ctx, stores.Lake.Bucket, "staging/marketing/crm_contacts_v1/"); len(left) > 0 {
		t.Errorf("staged files left behind: %v", left)
	}

	// The same change with a major bump publishes a new table, and the old major keeps
	// publishing beside it until its sunset day.
	bumped := withMajorBump(m, "2099-12-31")
	stopWorker = startWorker(t, st, cfg, bumped, stores)
	bumpRes, err := startAndWait(ctx, st, bumped, "marketing.crm_contacts")
	if err != nil {
		t.Fatalf("major bump: %s", flow.Explain(err))
	}
	v2, ok, _ := stores.Ports.Current(ctx, port.TableID{Domain: "marketing", Name: "crm_contacts_v2"})
	v1, _, _ := stores.Ports.Current(ctx, contacts)
	if !ok || v2.Rows != second.Rows || v1.ID == second.ID || v1.Rows != second.Rows || len(bumpRes.Legacy) != 1 || bumpRes.Legacy[0].Status != "published" {
		t.Fatalf("major bump: v2 %+v (published %v), v1 %d→%d, legacy %+v", v2, ok, second.ID, v1.ID, bumpRes.Legacy)
	}
	if props, _ := stores.Ports.TableProperties(ctx, contacts); props[flow.PropSunset] != "2099-12-31" || props[flow.PropSuccessor] != "crm_contacts_v2" {
		t.Fatalf("legacy table properties = %v", props)
	}
	stopWorker()

	// A worker with bad credentials fails clearly and publishes nothing.
	badCfg, badStores := openLake(t, ctx, st, t.TempDir())
	const wrongToken = "pat-na1-00000000-wrong"
	badCfg = badCfg.WithValue("hubspot", hubspot.TokenEnv, wrongToken)
	stopWorker = startWorker(t, st, badCfg, m, badStores)
	defer stopWorker()
	_, err = startAndWait(ctx, st, m, "marketing.crm_companies")
	if err == nil {
		t.Fatal("a run with a bad token succeeded")
	}
	msg = flow.Explain(err)
	if !strings.Contains(msg, "HUBSPOT_TOKEN") || strings.Contains(msg, wrongToken) {
		t.Fatalf("bad-credential error %q should name HUBSPOT_TOKEN and never print the token", msg)
	}
	if _, ok, _ := badStores.Ports.Current(ctx, port.TableID{Domain: "marketing", Name: "crm_companies_v1"}); ok {
		t.Fatal("a run with bad credentials published a snapshot")
	}
	if ms, _ := badStores.Lake.Manifests(ctx, lake.StreamRef{Domain: "marketing", Source: "hubspot", Stream: "companies"}); len(ms) != 0 {
		t.Fatal("a run with bad credentials committed a landing")
	}
}

// checkEngineeringIncremental changes Jira issues and merges pull requests in the
// sandbox, reruns the engineering products, and checks that only the changes landed and
// that the delivery metrics, computed from the other ports, moved by exactly as much.
func checkEngineeringIncremental(t *testing.T, ctx context.Context, st *stack.Stack, m mesh.Mesh, stores *host.Stores) {
	t.Helper()
	metrics := port.TableID{Domain: "engineering", Name: "delivery_metrics_v1"}
	before := completedByKind(t, stores, metrics)

	changes := sandbox.Get[*sbjira.API](st.Sandbox).Transitions(20)
	done := 0
	for _, c := range changes {
		if c.To == "Done" {
			done++
		}
	}
	merged := sandbox.Get[*sbgithub.API](st.Sandbox).MergePRs(3)
	if len(changes) != 20 || len(merged) != 3 {
		t.Fatalf("sandbox changed %d issues and merged %d PRs, want 20 and 3", len(changes), len(merged))
	}

	issues := runProduct(t, ctx, st, m, "engineering.jira_issues")
	if got := issues.Landed["jira.issues"]; got != 20 {
		t.Errorf("jira_issues landed %d issues, want the 20 changed", got)
	}
	history := runProduct(t, ctx, st, m, "engineering.jira_status_changes")
	if got := history.Landed["jira.issue_changelog"]; got != 20 {
		t.Errorf("jira_status_changes landed %d changelog entries, want the 20 new ones", got)
	}
	prs := runProduct(t, ctx, st, m, "engineering.github_pull_requests")
	if got := prs.Landed["github.pull_requests"]; got != 3 {
		t.Errorf("github_pull_requests landed %d pull requests, want the 3 merged", got)
	}
	runProduct(t, ctx, st, m, "engineering.delivery_metrics")
	after := completedByKind(t, stores, metrics)
	if after["repository"]-before["repository"] != 3 {
		t.Errorf("merged PRs in delivery_metrics went from %d to %d, want +3", before["repository"], after["repository"])
	}
	if after["jira_project"]-before["jira_project"] != int64(done) {
		t.Errorf("completed issues in delivery_metrics went from %d to %d, want +%d", before["jira_project"], after["jira_project"], done)
	}
	d, err := (&catalog.Catalog{Mesh: m, Ports: stores.Ports, Lake: stores.Lake}).Show(ctx, "engineering.delivery_metrics", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.InputsRead) != 3 {
		t.Errorf("delivery_metrics lineage = %v, want the snapshots of its 3 input ports", d.InputsRead)
	}
}

// checkWebTrafficRepull makes GA4 numbers of yesterday change late, reruns web_traffic,
// and checks the re-pulled rows replaced theirs: same row count, no duplicate key, and
// the sessions total grew.
func checkWebTrafficRepull(t *testing.T, ctx context.Context, st *stack.Stack, m mesh.Mesh, stores *host.Stores) {
	t.Helper()
	traffic := port.TableID{Domain: "marketing", Name: "web_traffic_v1"}
	keys := func() []string {
		p, d, c, l := readColumn(t, stores, traffic, 0), readColumn(t, stores, traffic, 1), readColumn(t, stores, traffic, 2), readColumn(t, stores, traffic, 3)
		out := make([]string, len(p))
		for i := range p {
			out[i] = p[i] + "|" + d[i] + "|" + c[i] + "|" + l[i]
		}
		return out
	}
	sessions := func() (n int64) {
		for _, v := range readColumn(t, stores, traffic, 4) {
			x, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			n += x
		}
		return n
	}
	before, sessionsBefore := keys(), sessions()
	late, err := googleanalytics.LateHits(sandbox.Get[*sbga.API](st.Sandbox), 4)
	if err != nil || len(late) != 4 {
		t.Fatalf("late hits: %v %v", late, err)
	}
	res := runProduct(t, ctx, st, m, "marketing.web_traffic")
	if got := res.Landed["googleanalytics.daily_report"]; got < 4 {
		t.Errorf("web_traffic landed %d rows, want at least the 4 that changed", got)
	}
	after := keys()
	if len(after) != len(before) || len(uniq(after)) != len(after) {
		t.Fatalf("web_traffic has %d rows (%d distinct keys), had %d: a re-pulled day must replace its rows", len(after), len(uniq(after)), len(before))
	}
	if got := sessions(); got <= sessionsBefore {
		t.Errorf("sessions total %d after late hits, was %d: the newest pull must win", got, sessionsBefore)
	}
}

// checkWebTrafficBackfill backfills the last 5 days of web_traffic, one child run per
// day, then reruns one of them: the port keeps the same rows with no duplicate key,
// and the children carry the search attributes the UI filters by.
func checkWebTrafficBackfill(t *testing.T, ctx context.Context, st *stack.Stack, m mesh.Mesh, stores *host.Stores) {
	t.Helper()
	traffic := port.TableID{Domain: "marketing", Name: "web_traffic_v1"}
	keys := func() []string {
		p, d, c, l := readColumn(t, stores, traffic, 0), readColumn(t, stores, traffic, 1), readColumn(t, stores, traffic, 2), readColumn(t, stores, traffic, 3)
		out := make([]string, len(p))
		for i := range p {
			out[i] = p[i] + "|" + d[i] + "|" + c[i] + "|" + l[i]
		}
		slices.Sort(out)
		return out
	}
	days := uniq(readColumn(t, stores, traffic, 1))
	if len(days) < 8 {
		t.Fatalf("web_traffic covers %d days, want at least 8 to backfill 5 settled ones", len(days))
	}
	// Settled days only: GA4 (and the sandbox) keep changing the last two days, and
	// "today" in a property's time zone grows as the clock moves, so re-pulling them
	// legitimately changes their rows.
	days = days[len(days)-8 : len(days)-3]
	want, err := flow.Days(days[0], days[4])
	if err != nil || !slices.Equal(want, days) {
		t.Fatalf("the last 5 days %v are not consecutive (%v)", days, err)
	}
	before := keys()
	d, p, _ := m.Find("marketing.web_traffic")
	wait := func(in flow.BackfillInput) flow.BackfillStatus {
		t.Helper()
		run, err := flow.StartBackfill(ctx, st.Client, d, p, in)
		if err != nil {
			t.Fatal(err)
		}
		res, err := flow.WaitBackfill(ctx, run)
		if err != nil {
			t.Fatalf("backfill %s: %s", run.GetID(), flow.Explain(err))
		}
		got, err := flow.GetBackfillStatus(ctx, st.Client, run.GetID())
		if err != nil || got.ID != res.ID || !got.Done {
			t.Fatalf("status of the finished backfill = %+v, %v", got, err)
		}
		return res
	}
	bf := wait(flow.BackfillInput{From: days[0], To: days[4], Concurrency: 2})
	if bf.ID != flow.BackfillID("marketing", "web_traffic", days[0], days[4]) || bf.Totals[flow.StateSucceeded] != 5 {
		t.Fatalf("backfill %s: %+v", bf.ID, bf.Partitions)
	}
	if after := keys(); !slices.Equal(after, before) {
		t.Fatalf("after the backfill web_traffic has %d rows (%d distinct keys), had %d: a backfilled day must replace its rows", len(after), len(uniq(after)), len(before))
	}

	// Rerun one day as rerun-failed would, had it failed.
	bf.Partitions[2].State = flow.StateFailed
	in, ok := flow.RerunInput(bf, 1)
	if !ok || !slices.Equal(in.Partitions, []string{days[2]}) {
		t.Fatalf("rerun input = %+v", in)
	}
	rerun := wait(in)
	if rerun.ID != bf.ID+"/rerun-1" || rerun.RerunOf != bf.ID || len(rerun.Partitions) != 1 || rerun.Totals[flow.StateSucceeded] != 1 {
		t.Fatalf("rerun = %+v", rerun)
	}
	if after := keys(); !slices.Equal(after, before) {
		t.Fatalf("after rerunning %s web_traffic has %d rows, had %d: a rerun must not duplicate", days[2], len(after), len(before))
	}

	// Visibility is eventually consistent: give it a few seconds.
	q := fmt.Sprintf("WorkflowType = '%s' AND %s = '%s' AND %s = 'web_traffic'", flow.RunProductWorkflow, flow.AttrBackfill, bf.ID, flow.AttrProduct)
	var n int
	for range 50 {
		resp, err := st.Client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: q})
		if err != nil {
			t.Fatal(err)
		}
		if n = len(resp.Executions); n >= 5 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if n != 5 {
		t.Fatalf("visibility lists %d runs with %s, want the 5 children", n, q)
	}
}

// completedByKind sums delivery_metrics.items_completed per scope_kind.
func completedByKind(t *testing.T, stores *host.Stores, id port.TableID) map[string]int64 {
	t.Helper()
	kinds, counts := readColumn(t, stores, id, 1), readColumn(t, stores, id, 4)
	out := map[string]int64{}
	for i, k := range kinds {
		n, err := strconv.ParseInt(counts[i], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		out[k] += n
	}
	return out
}

// checkCatalogPageInBrowser serves the web catalog over the published lake and reads
// it in headless Chromium, as a visitor without a token would: the home page's health
// overview, the mesh graph and a product page (schema docs, snapshot, history charts,
// e-mail addresses masked), each kept as a screenshot in testdata/artifacts.
func checkCatalogPageInBrowser(t *testing.T, m mesh.Mesh, stores *host.Stores) {
	t.Helper()
	chromium := browser.Find(t)
	srv := httptest.NewServer((&catalog.Catalog{Mesh: m, Ports: stores.Ports, Lake: stores.Lake}).Handler())
	defer srv.Close()
	snap, _, _ := stores.Ports.Current(context.Background(), port.TableID{Domain: "marketing", Name: "crm_contacts_v1"})
	url := srv.URL + "/products/marketing.crm_contacts"
	dom := browser.DOM(t, chromium, url)
	for _, want := range []string{"E-mail address, trimmed and lower-cased", strconv.FormatInt(snap.ID, 10), "accepted_values_lifecycle_stage", "hubspot.contacts", "Recent runs", "marketing.crm_contacts/current",
		`aria-label="rows per snapshot"`, `aria-label="duration per run"`, "Personal data masked (email, first_name, last_name)", "<td>•••</td>"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the catalog's product page lacks %q", want)
		}
	}
	if addr := regexp.MustCompile(`<td>[^<@ ]+@[^<@ ]+\.[a-z]+</td>`).FindString(dom); addr != "" {
		t.Errorf("the catalog's product page shows an e-mail address to a visitor without a token: %s", addr)
	}
	browser.Screenshot(t, chromium, url, "catalog-product.png", 1400, 2200)

	home := browser.DOM(t, chromium, srv.URL+"/")
	n := len(m.Products())
	for _, want := range []string{`aria-label="health overview"`, fmt.Sprintf("%d product(s)", n), " fresh</a>", " product(s) with open alerts</a>"} {
		if !strings.Contains(home, want) {
			t.Errorf("the catalog's home page lacks %q", want)
		}
	}
	browser.Screenshot(t, chromium, srv.URL+"/", "catalog-home.png", 1400, 1600)

	graph := browser.DOM(t, chromium, srv.URL+"/graph")
	for _, want := range []string{"<svg", `href="/products/engineering.delivery_metrics"`, `href="/products/marketing.crm_contacts"`, "hubspot.contacts"} {
		if !strings.Contains(graph, want) {
			t.Errorf("the catalog's mesh graph lacks %q", want)
		}
	}
	browser.Screenshot(t, chromium, srv.URL+"/graph", "catalog-graph.png", 1600, 1400)
	if found := browser.DOM(t, chromium, srv.URL+"/?q=delivery"); !strings.Contains(found, "delivery_metrics") || strings.Contains(found, "crm_contacts") {
		t.Errorf("catalog search for delivery shows the wrong products")
	}
}

// checkCatalog reads what `mesh products` and `mesh show` print from the published lake.
func checkCatalog(t *testing.T, ctx context.Context, m mesh.Mesh, stores *host.Stores) {
	t.Helper()
	cat := &catalog.Catalog{Mesh: m, Ports: stores.Ports, Lake: stores.Lake}
	list, err := cat.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != len(m.Products()) {
		t.Fatalf("catalog lists %d products, the mesh declares %d", len(list), len(m.Products()))
	}
	for _, s := range list {
		// Warn checks may fire on sandbox data (organizations without a website); an
		// error check would have blocked the publish.
		ok := s.Quality.Status == mesh.StatusPass || s.Quality.Status == mesh.StatusWarn
		if s.Snapshot == 0 || s.Rows == 0 || s.PublishedAt == nil || !ok || s.Freshness.Status != mesh.StatusPass || s.Owner == "" {
			t.Errorf("%s.%s status = %+v", s.Domain, s.Name, s)
		}
	}
	d, err := cat.Show(ctx, "marketing.crm_contacts", 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Sample.Rows) != 3 || d.Sample.Columns[0] != "contact_id" || d.Sample.Rows[0][0] == "" {
		t.Errorf("sample = %+v", d.Sample)
	}
	if len(d.Snapshots) != 1 || d.Snapshots[0].Properties[flow.PropRunID] == "" || d.Freshness.DataTime == nil {
		t.Errorf("snapshots = %+v, data time %v", d.Snapshots, d.Freshness.DataTime)
	}
	for _, c := range d.Checks {
		if c.Last == nil || c.Last.Status != mesh.StatusPass {
			t.Errorf("check %s last result = %+v", c.Name, c.Last)
		}
	}
	if len(d.Schema) == 0 || d.Schema[0].Doc == "" || len(d.UseCases) == 0 || d.Inputs[0] != "hubspot.contacts" {
		t.Errorf("detail = %+v", d)
	}
}

// startStack starts the dev server and the sandbox for an end-to-end test and stops
// them when the test ends.
func startStack(t *testing.T, ctx context.Context, opts stack.Options) *stack.Stack {
	t.Helper()
	st, err := stack.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Stop() })
	return st
}

// testLog logs at level and above into the test's output.
func testLog(t *testing.T, level zerolog.Level) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).Level(level)
}

func openLake(t *testing.T, ctx context.Context, st *stack.Stack, dir string) (host.Config, *host.Stores) {
	t.Helper()
	cfg, err := host.ConfigFromEnv(func(k string) string {
		if k == "MESHFLOW_LAKE" {
			return dir
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg.WorkDir = t.TempDir()
	cfg, _ = st.SandboxConfig(cfg)
	stores, err := host.OpenStores(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stores.Close() })
	return cfg, stores
}

func startWorker(t *testing.T, st *stack.Stack, cfg host.Config, m mesh.Mesh, stores *host.Stores) func() {
	t.Helper()
	stop, err := st.StartWorker(cfg, m, stores)
	if err != nil {
		t.Fatal(err)
	}
	return stop
}

func runProduct(t *testing.T, ctx context.Context, st *stack.Stack, m mesh.Mesh, name string) flow.RunResult {
	t.Helper()
	res, err := startAndWait(ctx, st, m, name)
	if err != nil {
		t.Fatalf("run %s: %s", name, flow.Explain(err))
	}
	return res
}

func startAndWait(ctx context.Context, st *stack.Stack, m mesh.Mesh, name string) (flow.RunResult, error) {
	d, p, err := m.Find(name)
	if err != nil {
		return flow.RunResult{}, err
	}
	run, err := flow.StartRun(ctx, st.Client, d, p, flow.RunInput{})
	if err != nil {
		return flow.RunResult{}, err
	}
	var res flow.RunResult
	err = run.Get(ctx, &res)
	return res, err
}

// readColumn reads column col of the table's current snapshot as text.
func readColumn(t *testing.T, stores *host.Stores, id port.TableID, col int) []string {
	t.Helper()
	tbl, err := stores.Ports.ReadAll(context.Background(), id, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	var out []string
	tr := array.NewTableReader(tbl, 0)
	defer tr.Release()
	for tr.Next() {
		c := tr.RecordBatch().Column(col)
		for i := 0; i < c.Len(); i++ {
			out = append(out, strings.Trim(c.ValueStr(i), `"`))
		}
	}
	return out
}

func uniq(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return slices.Compact(c)
}

// withoutCountry drops crm_contacts' country column from its schema and model: a
// breaking change for its consumers.
func withoutCountry(m mesh.Mesh) mesh.Mesh {
	out := mesh.Mesh{}
	for _, d := range m.Domains {
		d.Products = slices.Clone(d.Products)
		for i := range d.Products {
			if d.Products[i].Name == "crm_contacts" {
				p := &d.Products[i]
				p.Schema = slices.DeleteFunc(slices.Clone(p.Schema), func(c mesh.Column) bool { return c.Name == "country" })
				p.Model = strings.Replace(p.Model, "    country,\n", "", 1)
			}
		}
		out.Domains = append(out.Domains, d)
	}
	return out
}

// withMajorBump makes the country removal a new major of crm_contacts, keeping 1.x
// (the declaration as it was) publishing until sunset.
func withMajorBump(m mesh.Mesh, sunset string) mesh.Mesh {
	orig, _ := m.Domain("marketing")
	out := withoutCountry(m)
	for i, d := range out.Domains {
		for j, p := range d.Products {
			if d.Name != "marketing" || p.Name != "crm_contacts" {
				continue
			}
			_, old, _ := mesh.Mesh{Domains: []mesh.Domain{orig}}.Find("crm_contacts")
			p.Version = "2.0.0"
			p.Legacy = []mesh.Legacy{{Version: old.Version, Sunset: sunset, Model: old.Model, Schema: old.Schema, Checks: old.Checks,
				Migration: "country moved to crm_companies"}}
			out.Domains[i].Products[j] = p
		}
	}
	return out
}

func withCheck(m mesh.Mesh, product string, c mesh.Check) mesh.Mesh {
	out := mesh.Mesh{}
	for _, d := range m.Domains {
		d.Products = slices.Clone(d.Products)
		for i := range d.Products {
			if d.Products[i].Name == product {
				d.Products[i].Checks = append(slices.Clone(d.Products[i].Checks), c)
			}
		}
		out.Domains = append(out.Domains, d)
	}
	return out
}

func TestMain(m *testing.M) {
	if os.Getenv("MESHFLOW_TEMPORAL_BIN") == "" {
		if p, err := stack.FindTemporal(); err == nil {
			os.Setenv("MESHFLOW_TEMPORAL_BIN", p)
		}
	}
	os.Exit(m.Run())
}

// listKeys lists the bucket's keys under prefix.
func listKeys(t *testing.T, ctx context.Context, b *blob.Bucket, prefix string) []string {
	t.Helper()
	var keys []string
	it := b.List(&blob.ListOptions{Prefix: prefix})
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			return keys
		}
		if err != nil {
			t.Fatalf("list %s: %v", prefix, err)
		}
		keys = append(keys, obj.Key)
	}
}
