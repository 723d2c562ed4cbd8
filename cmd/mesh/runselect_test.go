package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/meshflow/meshflow/domains"
	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/mesh"
)

// fakeRuns stands in for Temporal: it records what started, with what input, and
// which of each product's awaited inputs had finished by then; a product in fail
// fails with that error.
type fakeRuns struct {
	mu       sync.Mutex
	finished []string
	started  []string
	inputs   map[string]flow.RunInput
	early    []string // "x started before its input y finished"
	fail     map[string]error
	during   map[string]func() // run while the product's run goes on
}

func (f *fakeRuns) run(_ context.Context, s mesh.Selected, in flow.RunInput, w io.Writer) error {
	ref := s.Ref().String()
	f.mu.Lock()
	for _, up := range s.After {
		if !slices.Contains(f.finished, up.String()) {
			f.early = append(f.early, ref+" started before its input "+up.String()+" finished")
		}
	}
	f.started = append(f.started, ref)
	if f.inputs == nil {
		f.inputs = map[string]flow.RunInput{}
	}
	f.inputs[ref] = in
	during := f.during[ref]
	err := f.fail[ref]
	f.mu.Unlock()
	fmt.Fprintf(w, "started %s\n  landing", flow.WorkflowID(s.Domain.Name, s.Product.Name, in.Partition))
	fmt.Fprintf(w, "\n  done\n")
	if during != nil {
		during()
	}
	f.mu.Lock()
	f.finished = append(f.finished, ref)
	f.mu.Unlock()
	return err
}

func selectReal(t *testing.T, selectors ...string) mesh.Selection {
	t.Helper()
	sel, err := domains.Mesh().Select(selectors...)
	if err != nil {
		t.Fatal(err)
	}
	return sel
}

// lineOf is the index of the first line of out containing every one of parts, -1 if none.
func lineOf(out string, parts ...string) int {
	for i, l := range strings.Split(out, "\n") {
		if !slices.ContainsFunc(parts, func(p string) bool { return !strings.Contains(l, p) }) {
			return i
		}
	}
	return -1
}

func TestSelectionRunsInDependencyOrderAndSkipsWhatAFailureFeeds(t *testing.T) {
	sel := selectReal(t, "crm_companies+")
	fake := &fakeRuns{fail: map[string]error{
		// As runProduct returns them: a failed run, and one a failing check blocked.
		"identity.company_ids": errs.E(errs.Internal, "run identity.company_ids", runFailed{temporal.NewNonRetryableApplicationError(
			"input market_intelligence.organizations has never published: run it first", "", nil)}),
		"marketing.crm_deals": errs.E(errs.Internal, "run marketing.crm_deals", runFailed{temporal.NewNonRetryableApplicationError(
			"quality gate: 1 error check(s) failed: amount_not_null", flow.ErrTypeQualityGate, nil)}),
	}}
	var out bytes.Buffer
	outcomes := runInOrder(context.Background(), sel, flow.RunInput{FullRefresh: true}, &out, fake.run)
	err := finish(context.Background(), &out, sel, flow.RunInput{FullRefresh: true}, outcomes)
	t.Logf("output:\n%s", out.String())

	if len(fake.early) > 0 {
		t.Errorf("started too early: %v", fake.early)
	}
	slices.Sort(fake.started)
	if want := []string{"marketing.crm_companies", "marketing.crm_contacts", "marketing.crm_deals", "identity.company_ids"}; !sameSet(fake.started, want) {
		t.Errorf("started %v, want only %v (the rest read a failed or blocked product)", fake.started, want)
	}
	got := out.String()
	for _, want := range [][]string{
		// Each event of a run on its own line, after the product.
		{"marketing.crm_contacts                 | started marketing.crm_contacts/current"},
		{"marketing.crm_contacts                 |   landing"},
		{"identity.company_ids                   | failed: input market_intelligence.organizations has never published: run it first"},
		{"marketing.crm_deals                    | blocked: quality gate: 1 error check(s) failed: amount_not_null"},
		{"identity.person_ids                    | skipped: its input identity.company_ids failed"},
		{"market_intelligence.company_enrichment | skipped: its input identity.company_ids failed"},
		{"metrics.revenue_engagement_weekly      | skipped: its input marketing.crm_deals was blocked by a failing check"},
		{"identity.identity_match_report         | skipped: its input identity.company_ids failed"},
		{"6 of 8 products did not succeed (1 failed, 1 blocked, 4 skipped):"},
		{"identity.company_ids", "failed", "has never published"},
		{"rerun only those with: mesh run identity.company_ids marketing.crm_deals identity.person_ids market_intelligence.company_enrichment metrics.revenue_engagement_weekly identity.identity_match_report --full-refresh"},
	} {
		if lineOf(got, want...) < 0 {
			t.Errorf("the output has no line with %q", want)
		}
	}
	if lineOf(got, "marketing.crm_contacts", "started") < lineOf(got, "marketing.crm_companies", "done") {
		t.Errorf("crm_contacts started before crm_companies was done")
	}
	if code := report(context.Background(), err, io.Discard); code != exitFailure ||
		!strings.Contains(err.Error(), "failed identity.company_ids; blocked marketing.crm_deals; skipped identity.person_ids, market_intelligence.company_enrichment, metrics.revenue_engagement_weekly, identity.identity_match_report") {
		t.Errorf("exit %d: %v", code, err)
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func TestSelectionSkipsDownAChain(t *testing.T) {
	sel := selectReal(t, "+identity_match_report")
	fake := &fakeRuns{fail: map[string]error{"marketing.crm_companies": errs.Errorf(errs.Internal, "run marketing.crm_companies", "hubspot: 401")}}
	var out bytes.Buffer
	outcomes := runInOrder(context.Background(), sel, flow.RunInput{}, &out, fake.run)
	if err := finish(context.Background(), &out, sel, flow.RunInput{}, outcomes); err == nil {
		t.Fatal("a failed selection is no error")
	}
	// identity_match_report waits for company_ids, which was skipped for crm_companies.
	if lineOf(out.String(), "identity.identity_match_report", "| skipped: its input identity.company_ids was skipped: marketing.crm_companies failed") < 0 &&
		lineOf(out.String(), "identity.identity_match_report", "| skipped: its input identity.person_ids was skipped: marketing.crm_companies failed") < 0 {
		t.Errorf("a product two steps below a failure does not name it:\n%s", out.String())
	}
	if !slices.Contains(fake.started, "market_intelligence.organizations") || !slices.Contains(fake.started, "platform.user_ids") {
		t.Errorf("products beside the failure did not run: %v", fake.started)
	}
}

func TestSelectionRunsALevelAtOnce(t *testing.T) {
	sel := selectReal(t, "crm_companies+")
	level2 := []string{"identity.company_ids", "marketing.crm_contacts", "marketing.crm_deals"}
	var mu sync.Mutex
	running := 0
	all := make(chan struct{})
	barrier := func() {
		mu.Lock()
		running++
		if running == len(level2) {
			close(all)
		}
		mu.Unlock()
		// A deadlock guard, not a timing: one at a time, the others would never start.
		select {
		case <-all:
		case <-time.After(time.Minute):
			t.Errorf("level 2's products did not run at once")
		}
	}
	fake := &fakeRuns{during: map[string]func(){}}
	for _, ref := range level2 {
		fake.during[ref] = barrier
	}
	var out bytes.Buffer
	outcomes := runInOrder(context.Background(), sel, flow.RunInput{}, &out, fake.run)
	if err := finish(context.Background(), &out, sel, flow.RunInput{}, outcomes); err != nil || !strings.Contains(out.String(), "all 8 products succeeded") {
		t.Errorf("%v\n%s", err, out.String())
	}
	if len(fake.early) > 0 {
		t.Errorf("started too early: %v", fake.early)
	}
}

func TestSelectionPartitionAppliesToPartitionedProducts(t *testing.T) {
	sel := selectReal(t, "web_traffic+")
	fake := &fakeRuns{}
	var out bytes.Buffer
	in := flow.RunInput{Partition: "2026-01-02"}
	outcomes := runInOrder(context.Background(), sel, in, &out, fake.run)
	if err := finish(context.Background(), &out, sel, in, outcomes); err != nil {
		t.Fatal(err)
	}
	if fake.inputs["marketing.web_traffic"].Partition != "2026-01-02" || fake.inputs["metrics.revenue_engagement_weekly"].Partition != "" {
		t.Errorf("inputs: %+v", fake.inputs)
	}
	if lineOf(out.String(), "metrics.revenue_engagement_weekly | not partitioned: runs whole (--partition 2026-01-02 applies to partitioned products)") < 0 {
		t.Errorf("the unpartitioned product does not say its partition was skipped:\n%s", out.String())
	}
	if err := checkPartition(selectReal(t, "+crm_contacts"), "2026-01-02"); !isUsage(err) || !strings.Contains(err.Error(), "none of the selected products is partitioned") {
		t.Errorf("--partition with no partitioned product: %v", err)
	}
	if err := checkPartition(sel, "2026-13-02"); err == nil || !strings.Contains(err.Error(), "YYYY-MM-DD") {
		t.Errorf("--partition that is not a day: %v", err)
	}
}

// Ctrl-C while a run goes on: what never started is named with the command that
// starts it, and mesh exits 130.
func TestSelectionInterrupted(t *testing.T) {
	sel := selectReal(t, "+crm_contacts")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fake := &fakeRuns{
		during: map[string]func(){"marketing.crm_companies": cancel},
		fail:   map[string]error{"marketing.crm_companies": errs.Errorf(errs.Canceled, "run marketing.crm_companies", "interrupted")},
	}
	var out bytes.Buffer
	outcomes := runInOrder(ctx, sel, flow.RunInput{}, &out, fake.run)
	err := finish(ctx, &out, sel, flow.RunInput{}, outcomes)
	if code := report(ctx, err, io.Discard); code != exitInterrupted {
		t.Errorf("exit %d, want %d", code, exitInterrupted)
	}
	if want := "interrupted: 1 run(s) go on in Temporal (how to follow each is above); not started: marketing.crm_contacts — start them with: mesh run marketing.crm_contacts"; !strings.Contains(out.String(), want) {
		t.Errorf("output does not say %q:\n%s", want, out.String())
	}
	if slices.Contains(fake.started, "marketing.crm_contacts") {
		t.Errorf("crm_contacts started after Ctrl-C")
	}
}

func TestRunDryRunPrintsThePlanWithoutTemporal(t *testing.T) {
	// No Temporal listens here: a dry run must not need one.
	t.Setenv("MESHFLOW_TEMPORAL_ADDRESS", "127.0.0.1:1")
	out, code := meshCmd(context.Background(), "run", "+crm_contacts", "tag:finance", "--dry-run", "--lake", t.TempDir())
	want := `mesh run +crm_contacts tag:finance would run 4 products in 2 levels (--dry-run: nothing started)
level 1 (reads no selected product):
  finance.bookings_monthly  queue meshflow.finance    tagged finance (tag:finance)
  finance.invoices          queue meshflow.finance    tagged finance (tag:finance)
  marketing.crm_companies   queue meshflow.marketing  upstream of marketing.crm_contacts (+crm_contacts)
level 2 (after level 1):
  marketing.crm_contacts    queue meshflow.marketing  named (+crm_contacts)
                            waits for marketing.crm_companies
`
	if code != exitOK || out != want {
		t.Errorf("exit %d, output:\n%s\nwant:\n%s", code, out, want)
	}

	out, code = meshCmd(context.Background(), "run", "marketing.web_traffic+", "--partition", "2026-01-02", "--dry-run", "--lake", t.TempDir())
	for _, want := range []string{
		"  marketing.web_traffic              queue meshflow.marketing, partition 2026-01-02   named (marketing.web_traffic+)",
		"  metrics.revenue_engagement_weekly  queue meshflow.metrics, whole (not partitioned)  downstream of marketing.web_traffic (marketing.web_traffic+)",
		"waits for marketing.web_traffic; reads marketing.crm_deals, product.account_usage_daily, market_intelligence.organizations, platform.signups_daily, platform.engagement_daily as published (not selected)",
	} {
		if code != exitOK || !strings.Contains(out, want) {
			t.Errorf("exit %d, dry run with --partition does not say %q:\n%s", code, want, out)
		}
	}
	// A single product's plan is a dry run too.
	if out, code := meshCmd(context.Background(), "run", "marketing.crm_contacts", "--dry-run", "--lake", t.TempDir()); code != exitOK || !strings.Contains(out, "would run 1 product in 1 level") {
		t.Errorf("dry run of one product: exit %d\n%s", code, out)
	}
}

func TestRunSelectorsThatMatchNothingAreUsageErrors(t *testing.T) {
	for _, tc := range []struct{ args []string }{
		{[]string{"crm_contact"}},
		{[]string{"crm_companies+", "tag:crn"}},
		{[]string{"domain:marketng", "--dry-run"}},
		{[]string{"web_traffic", "marketing+"}},
	} {
		out, code := meshCmd(context.Background(), append(append([]string{"run"}, tc.args...), "--lake", t.TempDir())...)
		want := map[string]string{
			"crm_contact":     `did you mean marketing.crm_contacts?`,
			"crm_companies+":  `did you mean tag:crm?`,
			"domain:marketng": `did you mean domain:marketing?`,
			"web_traffic":     `marketing is a domain: select it with domain:marketing`,
		}[tc.args[0]]
		if code != exitUsage || !strings.Contains(out, want) || !strings.Contains(out, "usage: mesh run <product|selector>...") {
			t.Errorf("mesh run %v: exit %d, want %d saying %q:\n%s", tc.args, code, exitUsage, want, out)
		}
	}
}

// On the dev server, a selection runs its products in order on their domains' queues;
// one whose input never published fails, the products downstream of it are skipped,
// and mesh exits 1 with the command that reruns only those.
func TestRunSelectionOnTheDevServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	st := devStack(t, ctx)
	devWorker(t, ctx, st)

	out, code := meshCmd(ctx, "run", "+crm_contacts", "marketing.crm_deals")
	t.Logf("mesh run +crm_contacts marketing.crm_deals:\n%s", out)
	if code != exitOK || !strings.Contains(out, "all 3 products succeeded") {
		t.Fatalf("exit %d", code)
	}
	published := lineOf(out, "marketing.crm_companies | published marketing.crm_companies_v1 snapshot")
	for _, later := range []string{"marketing.crm_contacts ", "marketing.crm_deals "} {
		started := lineOf(out, later, "| started marketing.", "on task queue meshflow.marketing")
		if started < 0 || lineOf(out, later, "| published marketing.") < 0 || started < published {
			t.Errorf("%s: started on line %d, crm_companies published on line %d", later, started, published)
		}
	}

	// crm_deals' publish ran metrics.revenue_engagement_weekly through its trigger (it
	// is not selected): let that run end before the next selection runs it too.
	if err := st.Client.GetWorkflow(ctx, flow.TriggerWorkflowID("metrics", "revenue_engagement_weekly"), "").Get(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "downstream, run by their inputs' publishes (or waiting, named, while one failed): metrics.revenue_engagement_weekly") {
		t.Errorf("mesh run does not name the products its publishes run:\n%s", out)
	}

	// identity.company_ids reads market_intelligence.organizations, which never ran.
	out, code = meshCmd(ctx, "run", "marketing.crm_companies+")
	t.Logf("mesh run marketing.crm_companies+:\n%s", out)
	for _, want := range [][]string{
		{"identity.company_ids", "| failed: ", "market_intelligence.organizations"},
		{"identity.person_ids", "| skipped: its input identity.company_ids failed"},
		{"identity.identity_match_report", "| skipped: its input identity.company_ids failed"},
		{"market_intelligence.company_enrichment | skipped: its input identity.company_ids failed"},
		{"metrics.revenue_engagement_weekly", "| failed: "},
		{"marketing.crm_contacts ", "| unchanged marketing.crm_contacts_v1"}, // nothing changed in the sandbox
		{"5 of 8 products did not succeed (2 failed, 3 skipped):"},
		{"rerun only those with: mesh run identity.company_ids identity.person_ids market_intelligence.company_enrichment metrics.revenue_engagement_weekly identity.identity_match_report"},
	} {
		if lineOf(out, want...) < 0 {
			t.Errorf("mesh run marketing.crm_companies+ has no line with %q", want)
		}
	}
	if code != exitFailure {
		t.Errorf("exit %d, want %d", code, exitFailure)
	}
}
