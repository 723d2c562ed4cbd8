package flow

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

// triggerEnv runs TriggerProduct with the product's runs replaced by one that records
// what it was asked (its id and input); busy answers InputsBusy call by call.
func triggerEnv(t *testing.T, busy ...InputsState) (*testsuite.TestWorkflowEnvironment, *[]triggeredRun, *[]RunRecord) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := s.NewTestWorkflowEnvironment()
	wf := &Workflows{}
	env.RegisterWorkflowWithOptions(wf.TriggerProduct, workflow.RegisterOptions{Name: TriggerWorkflow})
	runs := &[]triggeredRun{}
	env.RegisterWorkflowWithOptions(func(ctx workflow.Context, in RunInput) (RunResult, error) {
		*runs = append(*runs, triggeredRun{ID: workflow.GetInfo(ctx).WorkflowExecution.ID, In: in, At: workflow.Now(ctx)})
		return RunResult{}, nil
	}, workflow.RegisterOptions{Name: RunProductWorkflow})
	a := &Activities{}
	env.RegisterActivity(a)
	calls := 0
	env.OnActivity(a.InputsBusy, mock.Anything, mock.Anything).Return(func(_ context.Context, _ BusyInput) (InputsState, error) {
		calls++
		if calls <= len(busy) {
			return busy[calls-1], nil
		}
		return InputsState{}, nil
	})
	records := &[]RunRecord{}
	env.OnActivity(a.RecordRun, mock.Anything, mock.Anything).Return(func(_ context.Context, r RunRecord) error {
		*records = append(*records, r)
		return nil
	})
	env.OnActivity(a.Announce, mock.Anything, mock.Anything).Return(nil)
	return env, runs, records
}

type triggeredRun struct {
	ID string
	In RunInput
	At time.Time
}

func published(input, partition string, snap int64, runID string) InputEnded {
	return InputEnded{Input: input, Partition: partition, Status: StatusPublished, SnapshotID: snap, WorkflowID: WorkflowID(strings.Split(input, ".")[0], strings.Split(input, ".")[1], partition), RunID: runID}
}

var deliveryTrigger = TriggerInput{Domain: "engineering", Product: "delivery_metrics", Inputs: []string{"engineering.jira_issues", "engineering.github_pull_requests"}}

// Two inputs publishing close together make one run: the first waits while the other
// still runs, and the other's announcement (sent twice, as a retried activity would)
// starts the one run, which names both snapshots.
func TestTriggerGathersPublishesIntoOneRun(t *testing.T) {
	env, runs, _ := triggerEnv(t, InputsState{Running: []string{"engineering.github_pull_requests/current"}})
	in := deliveryTrigger
	in.State = &TriggerState{Pending: map[string][]InputEnded{"": {published("engineering.jira_issues", "", 11, "r1")}}}
	second := published("engineering.github_pull_requests", "", 22, "r2")
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(InputEndedSignal, second)
		env.SignalWorkflow(InputEndedSignal, second)
	}, time.Minute)
	env.ExecuteWorkflow(TriggerWorkflow, in)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if len(*runs) != 1 {
		t.Fatalf("want one run, got %+v", *runs)
	}
	r := (*runs)[0]
	if r.ID != "engineering.delivery_metrics/current" || r.In.TriggerKind != TriggerInputs ||
		r.In.Trigger != "inputs: engineering.jira_issues snapshot 11, engineering.github_pull_requests snapshot 22 published" {
		t.Errorf("run %s with %+v", r.ID, r.In)
	}
}

// A failed input holds back the product: a waiting record names the input and the
// command that lets it flow on; the input's next publish runs it.
func TestTriggerFailedInputWaits(t *testing.T) {
	env, runs, records := triggerEnv(t)
	in := deliveryTrigger
	failed := InputEnded{Input: "engineering.github_pull_requests", Status: StatusFailed, WorkflowID: "engineering.github_pull_requests/current", RunID: "r0", Error: "land github.pull_requests: 401"}
	in.State = &TriggerState{Pending: map[string][]InputEnded{"": {published("engineering.jira_issues", "", 11, "r1")}},
		Failed: map[string]map[string]InputEnded{"": {failed.Input: failed}}}
	env.RegisterDelayedCallback(func() {
		if len(*runs) != 0 || len(*records) != 1 {
			t.Errorf("while the input is failed: runs %+v, records %+v", *runs, *records)
		}
		env.SignalWorkflow(InputEndedSignal, published("engineering.github_pull_requests", "", 23, "r3"))
	}, time.Hour)
	env.ExecuteWorkflow(TriggerWorkflow, in)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	rec := (*records)[0]
	want := "engineering.delivery_metrics did not run: input engineering.github_pull_requests did not publish (its run engineering.github_pull_requests/current failed: land github.pull_requests: 401); it runs when engineering.github_pull_requests publishes again: `mesh run engineering.github_pull_requests`"
	if rec.Status != StatusWaiting || rec.Error != want {
		t.Errorf("waiting record %+v\nwant error %s", rec, want)
	}
	if len(*runs) != 1 || !strings.Contains((*runs)[0].In.Trigger, "engineering.github_pull_requests snapshot 23") {
		t.Errorf("after the input published again: %+v", *runs)
	}
}

// A partitioned product re-runs exactly the days its input published, each its own
// run with its day's id.
func TestTriggerRunsThePublishedDays(t *testing.T) {
	env, runs, _ := triggerEnv(t)
	in := TriggerInput{Domain: "marketing", Product: "channel_daily", PartitionBy: "date", Inputs: []string{"marketing.web_traffic"}}
	days := []string{"2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05", "2026-11-07"}
	pending := map[string][]InputEnded{}
	for i, d := range days {
		pending[d] = []InputEnded{published("marketing.web_traffic", d, int64(i+1), "r"+d)}
	}
	in.State = &TriggerState{Pending: pending}
	env.ExecuteWorkflow(TriggerWorkflow, in)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range *runs {
		if r.ID != WorkflowID("marketing", "channel_daily", r.In.Partition) || r.In.TriggerKind != TriggerInputs {
			t.Errorf("run %s: %+v", r.ID, r.In)
		}
		got = append(got, r.In.Partition)
	}
	slices.Sort(got)
	if !slices.Equal(got, days) {
		t.Errorf("ran days %v, want %v", got, days)
	}
}

// An AfterAll product waits for every named input, and at its deadline runs with what
// published, saying what it ran without; MinInterval spaces its runs.
func TestTriggerDeadlineAndMinInterval(t *testing.T) {
	env, runs, _ := triggerEnv(t)
	start := time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC)
	env.SetStartTime(start)
	in := deliveryTrigger
	in.AllOf = in.Inputs
	in.Deadline = "0 9 * * *"
	in.MinInterval = 3 * time.Hour
	first := published("engineering.jira_issues", "", 11, "r1")
	first.At = start
	in.State = &TriggerState{Pending: map[string][]InputEnded{"": {first}}}
	env.RegisterDelayedCallback(func() {
		second := published("engineering.jira_issues", "", 12, "r2")
		second.At = start.Add(90 * time.Minute)
		env.SignalWorkflow(InputEndedSignal, second)
		third := published("engineering.github_pull_requests", "", 30, "r3")
		third.At = second.At
		env.SignalWorkflow(InputEndedSignal, third)
	}, 90*time.Minute)
	env.ExecuteWorkflow(TriggerWorkflow, in)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if len(*runs) != 2 {
		t.Fatalf("want the deadline's run and one after the interval, got %+v", *runs)
	}
	d, all := (*runs)[0], (*runs)[1]
	if !d.At.Equal(start.Add(time.Hour)) || d.In.TriggerKind != TriggerDeadline ||
		!strings.HasSuffix(d.In.Trigger, "ran at its deadline 0 9 * * * (UTC) without a new snapshot of engineering.github_pull_requests") {
		t.Errorf("deadline run at %s: %+v", d.At, d.In)
	}
	if !all.At.Equal(start.Add(4*time.Hour)) || all.In.TriggerKind != TriggerInputs {
		t.Errorf("second run at %s (want 12:00, three hours after the first): %+v", all.At, all.In)
	}
}

// An input whose latest run failed before the trigger started (its announcement went
// to an earlier trigger) holds the product back too, found in its run records.
func TestTriggerInputFailedBeforeWaits(t *testing.T) {
	failed := InputEnded{Input: "engineering.github_pull_requests", Status: StatusBlocked, WorkflowID: "engineering.github_pull_requests/current", RunID: "r0", Error: "quality gate: …"}
	env, runs, records := triggerEnv(t, InputsState{Failed: []InputEnded{failed}})
	in := deliveryTrigger
	in.State = &TriggerState{Pending: map[string][]InputEnded{"": {published("engineering.jira_issues", "", 11, "r1")}}}
	env.RegisterDelayedCallback(func() {
		if len(*runs) != 0 || len(*records) != 1 || (*records)[0].Status != StatusWaiting ||
			!strings.Contains((*records)[0].Error, "its run engineering.github_pull_requests/current blocked: quality gate") {
			t.Errorf("while the input's last run is blocked: runs %+v, records %+v", *runs, *records)
		}
		env.SignalWorkflow(InputEndedSignal, published("engineering.github_pull_requests", "", 24, "r4"))
	}, time.Hour)
	env.ExecuteWorkflow(TriggerWorkflow, in)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if len(*runs) != 1 {
		t.Errorf("after the input published: %+v", *runs)
	}
}
