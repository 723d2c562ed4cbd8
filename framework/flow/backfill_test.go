package flow

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

// fakeRuns stands in for RunProduct under its name: each run takes an hour of
// (skipped) time and fails for the chosen partitions, and it records what ran.
type fakeRuns struct {
	fail map[string]bool

	mu      sync.Mutex
	live    int
	maxLive int
	ran     []string
	ids     []string
	plans   []string // the table and declaration each day ran with
}

func (f *fakeRuns) run(ctx workflow.Context, in RunInput) (RunResult, error) {
	f.mu.Lock()
	f.live++
	f.maxLive = max(f.maxLive, f.live)
	f.ran = append(f.ran, in.Partition)
	f.ids = append(f.ids, workflow.GetInfo(ctx).WorkflowExecution.ID)
	if in.Plan != nil {
		f.plans = append(f.plans, in.Plan.Majors[0].Table+" "+in.Plan.Majors[0].Decl)
	}
	f.mu.Unlock()
	defer func() { f.mu.Lock(); f.live--; f.mu.Unlock() }()
	if err := workflow.Sleep(ctx, time.Hour); err != nil {
		return RunResult{}, err
	}
	if f.fail[in.Partition] {
		return RunResult{}, temporal.NewNonRetryableApplicationError("land googleanalytics.daily_report: sandbox fault for "+in.Partition, "internal", nil)
	}
	return RunResult{Rows: 10}, nil
}

// backfillEnv is a test environment with the Backfill workflow, f standing in for
// RunProduct, and the activities Backfill resolves its product with.
func backfillEnv(t *testing.T, f *fakeRuns) *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := s.NewTestWorkflowEnvironment()
	wf := &Workflows{Mesh: testMesh()}
	env.RegisterWorkflowWithOptions(wf.Backfill, workflow.RegisterOptions{Name: BackfillWorkflow})
	env.RegisterWorkflowWithOptions(f.run, workflow.RegisterOptions{Name: RunProductWorkflow})
	env.RegisterActivity(&Activities{Mesh: testMesh(), Lake: memLake(t)})
	return env
}

// runBackfill executes a backfill to completion, following its continue-as-new
// chain the way the server would (the test environment stops at each one).
func runBackfill(t *testing.T, f *fakeRuns, in BackfillInput) (BackfillStatus, int) {
	t.Helper()
	for runs := 1; ; runs++ {
		env := backfillEnv(t, f)
		env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: "backfill/marketing.web_traffic/" + in.From + ".." + in.To})
		env.ExecuteWorkflow(BackfillWorkflow, in)
		err := env.GetWorkflowError()
		var can *workflow.ContinueAsNewError
		if errors.As(err, &can) {
			if can.WorkflowType.Name != BackfillWorkflow {
				t.Fatalf("continued as %s", can.WorkflowType.Name)
			}
			in = BackfillInput{}
			if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &in); err != nil {
				t.Fatal(err)
			}
			continue
		}
		var st BackfillStatus
		if err == nil {
			err = env.GetWorkflowResult(&st)
		}
		st, err = BackfillOutcome(err, st)
		if err != nil {
			t.Fatal(err)
		}
		return st, runs
	}
}

func TestBackfillRunsEveryPartitionOnceWithinConcurrency(t *testing.T) {
	f := &fakeRuns{fail: map[string]bool{"2026-01-03": true, "2026-01-07": true}}
	st, runs := runBackfill(t, f, BackfillInput{Domain: "marketing", Product: "web_traffic", From: "2026-01-01", To: "2026-01-10", Concurrency: 3})
	if runs != 1 {
		t.Fatalf("%d workflow runs for 10 partitions, want 1", runs)
	}
	if f.maxLive != 3 {
		t.Fatalf("at most %d partitions ran at once, want exactly the concurrency 3", f.maxLive)
	}
	days, _ := Days("2026-01-01", "2026-01-10")
	ran := slices.Sorted(slices.Values(f.ran))
	if !slices.Equal(ran, days) {
		t.Fatalf("ran %v, want each of %v once", ran, days)
	}
	for _, id := range f.ids {
		if want := "marketing.web_traffic/"; len(id) != len(want)+10 || id[:len(want)] != want {
			t.Errorf("child workflow id %q, want %s<day>", id, want)
		}
	}
	if !st.Done || st.Totals[StateSucceeded] != 8 || st.Totals[StateFailed] != 2 || len(st.Totals) != 2 {
		t.Fatalf("status done=%v totals=%v", st.Done, st.Totals)
	}
	if got := FailedPartitions(st); !slices.Equal(got, []string{"2026-01-03", "2026-01-07"}) {
		t.Fatalf("failed partitions = %v", got)
	}
	for _, ps := range st.Partitions {
		switch {
		case ps.State == StateFailed && ps.Error != "land googleanalytics.daily_report: sandbox fault for "+ps.Partition:
			t.Errorf("%s failed with %q, want the child's own error", ps.Partition, ps.Error)
		case ps.State == StateSucceeded && (ps.Rows != 10 || ps.Error != ""):
			t.Errorf("succeeded partition %+v", ps)
		case ps.WorkflowID != WorkflowID("marketing", "web_traffic", ps.Partition):
			t.Errorf("partition %s has workflow id %q", ps.Partition, ps.WorkflowID)
		}
	}
	if st.ID != "backfill/marketing.web_traffic/2026-01-01..2026-01-10" || st.From != "2026-01-01" || st.To != "2026-01-10" {
		t.Fatalf("status header = %+v", st)
	}
}

func TestBackfillContinuesAsNewCarryingState(t *testing.T) {
	f := &fakeRuns{fail: map[string]bool{"2026-02-02": true, "2026-02-11": true}}
	st, runs := runBackfill(t, f, BackfillInput{Domain: "marketing", Product: "web_traffic", From: "2026-02-01", To: "2026-02-12", Concurrency: 2, ContinueAfter: 5})
	if runs != 3 {
		t.Fatalf("%d workflow runs for 12 partitions continuing after 5, want 3", runs)
	}
	if len(f.ran) != 12 || len(slices.Compact(slices.Sorted(slices.Values(f.ran)))) != 12 {
		t.Fatalf("ran %v, want 12 distinct partitions once each", f.ran)
	}
	if f.maxLive > 2 {
		t.Fatalf("%d at once, want at most 2", f.maxLive)
	}
	if len(st.Partitions) != 12 || st.Totals[StateSucceeded] != 10 || st.Totals[StateFailed] != 2 || !st.Done {
		t.Fatalf("final status totals=%v partitions=%d", st.Totals, len(st.Partitions))
	}
	if got := FailedPartitions(st); !slices.Equal(got, []string{"2026-02-02", "2026-02-11"}) {
		t.Fatalf("failed partitions across runs = %v", got)
	}
	if st.From != "2026-02-01" || st.To != "2026-02-12" {
		t.Fatalf("range after continue-as-new = %s..%s", st.From, st.To)
	}
}

func TestRerunFailedRunsExactlyTheFailedPartitions(t *testing.T) {
	f := &fakeRuns{fail: map[string]bool{"2026-03-02": true, "2026-03-04": true}}
	first, _ := runBackfill(t, f, BackfillInput{Domain: "marketing", Product: "web_traffic", From: "2026-03-01", To: "2026-03-05", Concurrency: 2})
	// A canceled and a timed-out partition are rerun too.
	first.Partitions[0].State, first.Partitions[4].State = StateCanceled, StateTimedOut
	in, ok := RerunInput(first, 2)
	if !ok {
		t.Fatal("nothing to rerun")
	}
	want := []string{"2026-03-01", "2026-03-02", "2026-03-04", "2026-03-05"}
	if !slices.Equal(in.Partitions, want) || in.RerunOf != first.ID {
		t.Fatalf("rerun input = %+v", in)
	}

	again := &fakeRuns{}
	st, _ := runBackfill(t, again, in)
	if got := slices.Sorted(slices.Values(again.ran)); !slices.Equal(got, want) {
		t.Fatalf("rerun ran %v, want exactly %v", got, want)
	}
	if st.RerunOf != first.ID || st.Totals[StateSucceeded] != 4 || len(st.Partitions) != 4 || len(FailedPartitions(st)) != 0 {
		t.Fatalf("rerun status = %+v", st)
	}
	if _, ok := RerunInput(st, 2); ok {
		t.Fatal("a clean backfill has something to rerun")
	}
}

func TestBackfillStatusQueryWhileRunning(t *testing.T) {
	f := &fakeRuns{fail: map[string]bool{"2026-04-01": true}}
	env := backfillEnv(t, f)
	var during BackfillStatus
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(BackfillStatusQuery)
		if err == nil {
			_ = v.Get(&during)
		}
	}, 90*time.Minute) // after the first two partitions, while the next two run
	env.ExecuteWorkflow(BackfillWorkflow, BackfillInput{Domain: "marketing", Product: "web_traffic", From: "2026-04-01", To: "2026-04-05", Concurrency: 2})
	if _, err := BackfillOutcome(env.GetWorkflowError(), BackfillStatus{}); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{StateFailed: 1, StateSucceeded: 1, StateRunning: 2, StatePending: 1}
	if fmt.Sprint(during.Totals) != fmt.Sprint(want) || during.Done {
		t.Fatalf("status during the backfill = %v (done %v), want %v", during.Totals, during.Done, want)
	}
}

func TestBackfillRefusesAnUnpartitionedProductAndBadDays(t *testing.T) {
	for _, in := range []BackfillInput{
		{Domain: "marketing", Product: "crm_contacts", From: "2026-01-01", To: "2026-01-02"},
		{Domain: "marketing", Product: "web_traffic", From: "2026-01-02", To: "2026-01-01"},
		{Domain: "marketing", Product: "web_traffic", Partitions: []string{"2026-01-01", "soon"}},
	} {
		env := backfillEnv(t, &fakeRuns{})
		env.ExecuteWorkflow(BackfillWorkflow, in)
		var app *temporal.ApplicationError
		if err := env.GetWorkflowError(); !errors.As(err, &app) || app.Type() != "invalid" {
			t.Errorf("%+v: err = %v, want invalid", in, err)
		}
	}
}

func TestRerunIDs(t *testing.T) {
	id := BackfillID("marketing", "web_traffic", "2026-01-01", "2026-01-31")
	if id != "backfill/marketing.web_traffic/2026-01-01..2026-01-31" {
		t.Fatal(id)
	}
	r1 := RerunID(id, rerunNumber(id)+1)
	if r1 != id+"/rerun-1" {
		t.Fatal(r1)
	}
	if r2 := RerunID(r1, rerunNumber(r1)+1); r2 != id+"/rerun-2" {
		t.Fatal(r2)
	}
}

// TestBackfillWithFailedDaysEndsFailed: a backfill whose days did not all succeed ends
// as a failed workflow (what the Temporal UI shows) naming the days and the rerun
// command, and its details still carry every day's state for status and rerun-failed.
func TestBackfillWithFailedDaysEndsFailed(t *testing.T) {
	f := &fakeRuns{fail: map[string]bool{"2026-04-02": true, "2026-04-04": true}}
	env := backfillEnv(t, f)
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: "backfill/marketing.web_traffic/2026-04-01..2026-04-05"})
	env.ExecuteWorkflow(BackfillWorkflow, BackfillInput{Domain: "marketing", Product: "web_traffic", From: "2026-04-01", To: "2026-04-05", Concurrency: 2})
	err := env.GetWorkflowError()
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != ErrTypeBackfillPartlyFailed || !app.NonRetryable() {
		t.Fatalf("err = %v, want a non-retryable %q", err, ErrTypeBackfillPartlyFailed)
	}
	for _, want := range []string{"2 of 5 day(s)", "2026-04-02 (failed)", "2026-04-04 (failed)", "mesh backfill rerun-failed backfill/marketing.web_traffic/2026-04-01..2026-04-05"} {
		if !strings.Contains(app.Message(), want) {
			t.Errorf("message %q does not say %q", app.Message(), want)
		}
	}
	st, err := BackfillOutcome(err, BackfillStatus{})
	if err != nil || !st.Done || !slices.Equal(FailedPartitions(st), []string{"2026-04-02", "2026-04-04"}) || st.Totals[StateSucceeded] != 3 {
		t.Fatalf("status from the failure = %+v, %v", st, err)
	}
}

// TestBackfillRefusesDaysAfterToday: days whose data cannot exist yet are refused before
// any day runs, with the reason.
func TestBackfillRefusesDaysAfterToday(t *testing.T) {
	f := &fakeRuns{}
	env := backfillEnv(t, f)
	env.SetStartTime(time.Date(2026, 4, 3, 12, 0, 0, 0, time.UTC))
	env.ExecuteWorkflow(BackfillWorkflow, BackfillInput{Domain: "marketing", Product: "web_traffic", From: "2026-04-01", To: "2026-04-05"})
	err := env.GetWorkflowError()
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != "invalid" || !strings.Contains(err.Error(), "2 day(s) are after today (2026-04-03 UTC), from 2026-04-04") {
		t.Fatalf("err = %v, want the future days refused", err)
	}
	if len(f.ran) != 0 {
		t.Fatalf("ran %v before refusing", f.ran)
	}
}

// TestBackfillDaysRunThePlanItStartedWith: every day of a backfill runs the plan the
// backfill resolved when it started, across continue-as-new and a deploy that bumped
// the product's major in between, so its days never split between two tables.
func TestBackfillDaysRunThePlanItStartedWith(t *testing.T) {
	f := &fakeRuns{}
	in := BackfillInput{Domain: "marketing", Product: "web_traffic", From: "2026-06-01", To: "2026-06-04", Concurrency: 1, ContinueAfter: 2}
	lk := memLake(t)
	for runs, m := 0, testMesh(); ; runs++ {
		var s testsuite.WorkflowTestSuite
		s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
		env := s.NewTestWorkflowEnvironment()
		env.RegisterWorkflowWithOptions((&Workflows{Mesh: m}).Backfill, workflow.RegisterOptions{Name: BackfillWorkflow})
		env.RegisterWorkflowWithOptions(f.run, workflow.RegisterOptions{Name: RunProductWorkflow})
		env.RegisterActivity(&Activities{Mesh: m, Lake: lk})
		env.ExecuteWorkflow(BackfillWorkflow, in)
		var can *workflow.ContinueAsNewError
		if err := env.GetWorkflowError(); !errors.As(err, &can) {
			if err != nil {
				t.Fatal(err)
			}
			break
		}
		in = BackfillInput{}
		if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &in); err != nil {
			t.Fatal(err)
		}
		// A deploy between the two runs of the chain: web_traffic's next major.
		m = testMesh()
		m.Domains[0].Products[1].Version = "2.0.0"
	}
	if len(f.plans) != 4 || len(slices.Compact(slices.Clone(f.plans))) != 1 || !strings.HasPrefix(f.plans[0], "web_traffic_v1 plans/") {
		t.Fatalf("the days ran with %v, want one plan (web_traffic_v1) for all four", f.plans)
	}
}
