package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/meshflow/meshflow/dev/sandbox"
	"github.com/meshflow/meshflow/dev/sandbox/jira"
	"github.com/meshflow/meshflow/framework/flow"
)

// Products that read only other products run when those publish, through their
// trigger workflows on the dev server, with no schedule: a failed input holds its
// consumer back (waiting, named, with the command that lets it flow on); its next
// publish lets it run; a publish of jira_issues runs delivery_metrics and then the
// metrics domain's delivery_quarterly, exactly once each.
func TestPublishesRunTheirDownstream(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	st := devStack(t, ctx)
	// The owner's webhook: a run's failure and its recovery reach it from the real runs.
	alerts := make(chan alertMessage, 16)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m alertMessage
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			t.Errorf("alert webhook: %v", err)
		}
		alerts <- m
	}))
	defer hook.Close()
	t.Setenv("MESHFLOW_ALERTS_WEBHOOK_URL", hook.URL)
	t.Setenv("MESHFLOW_ALERTS_WEBHOOK_SECRET", "trigger-test-secret")
	devWorker(t, ctx, st)
	c := st.Client
	const (
		deliveryTrigger  = "trigger/engineering.delivery_metrics"
		quarterlyTrigger = "trigger/metrics.delivery_quarterly"
	)
	nextAlert := func(want string) {
		t.Helper()
		select {
		case m := <-alerts:
			if got := m.State + " " + m.Domain + "." + m.Product + " " + string(m.Rule); got != want {
				t.Errorf("alert %q, want %q (%s)", got, want, m.Reason)
			}
		case <-ctx.Done():
			t.Fatalf("no alert %q", want)
		}
	}

	// 1. jira_status_changes publishes alone: delivery_metrics runs and fails (its
	// other inputs never published), so delivery_quarterly waits, saying why.
	mustRun(t, ctx, "run", "engineering.jira_status_changes")
	first := waitTrigger(t, ctx, c, deliveryTrigger, 1)
	waitTrigger(t, ctx, c, quarterlyTrigger, 0)
	if res := lastRunOf(t, ctx, c, "engineering.delivery_metrics/current"); res != enumspb.WORKFLOW_EXECUTION_STATUS_FAILED {
		t.Fatalf("delivery_metrics without its other inputs: %v, want failed", res)
	}
	if _, err := c.DescribeWorkflow(ctx, "metrics.delivery_quarterly/current", ""); err == nil {
		t.Error("delivery_quarterly ran though its input failed")
	} else if _, nf := err.(*serviceerror.NotFound); !nf {
		t.Fatal(err)
	}
	nextAlert("firing engineering.delivery_metrics run_failed")
	out, _ := meshCmd(ctx, "alerts")
	if lineOf(out, "engineering.delivery_metrics", "run_failed") < 0 {
		t.Errorf("mesh alerts does not list delivery_metrics' failed run:\n%s", out)
	}
	out, _ = meshCmd(ctx, "show", "metrics.delivery_quarterly", "--sample", "0")
	for _, want := range []string{"waiting since", "metrics.delivery_quarterly did not run: input engineering.delivery_metrics did not publish (its run engineering.delivery_metrics/current failed:",
		"it runs when engineering.delivery_metrics publishes again: `mesh run engineering.delivery_metrics`"} {
		if !strings.Contains(out, want) {
			t.Errorf("mesh show metrics.delivery_quarterly lacks %q:\n%s", want, out)
		}
	}

	// 2. The rest of its inputs and delivery_metrics itself in one selection: the
	// selection runs delivery_metrics (its inputs' publishes start nothing), and its
	// publish runs delivery_quarterly once.
	mustRun(t, ctx, "run", "engineering.jira_issues", "engineering.github_pull_requests", "engineering.delivery_metrics")
	waitTrigger(t, ctx, c, quarterlyTrigger, 1)
	if again, _ := c.DescribeWorkflow(ctx, deliveryTrigger, ""); again.WorkflowExecution.RunID != first {
		t.Errorf("the selection's publishes started %s again (run %s)", deliveryTrigger, again.WorkflowExecution.RunID)
	}
	checkTriggered(t, ctx, c, "metrics.delivery_quarterly/current", "inputs: engineering.delivery_metrics snapshot ")
	nextAlert("resolved engineering.delivery_metrics run_failed")

	// 3. Work moves to Done in Jira; jira_issues publishes alone.
	api := sandbox.Get[*jira.API](st.Sandbox)
	for done := false; !done; {
		for _, ch := range api.Transitions(10) {
			done = done || ch.To == "Done"
		}
	}
	mustRun(t, ctx, "run", "engineering.jira_issues")
	waitTrigger(t, ctx, c, deliveryTrigger, 1)
	checkTriggered(t, ctx, c, "engineering.delivery_metrics/current", "inputs: engineering.jira_issues snapshot ")
	waitTrigger(t, ctx, c, quarterlyTrigger, 1)
	checkTriggered(t, ctx, c, "metrics.delivery_quarterly/current", "inputs: engineering.delivery_metrics snapshot ")
	out, _ = meshCmd(ctx, "show", "metrics.delivery_quarterly", "--sample", "0")
	if lineOf(out, "started by inputs: engineering.delivery_metrics snapshot ") < 0 {
		t.Errorf("mesh show does not say what started the last run:\n%s", out)
	}

	out, _ = meshCmd(ctx, "schedules", "list")
	if lineOf(out, "(none: metrics.delivery_quarterly)", "when an input publishes") < 0 {
		t.Errorf("mesh schedules list does not say delivery_quarterly runs when an input publishes:\n%s", out)
	}
}

// alertMessage is what the signed JSON webhook receives (alert.Message's fields).
type alertMessage struct {
	State, Domain, Product, Rule, Reason string
}

func mustRun(t *testing.T, ctx context.Context, args ...string) {
	t.Helper()
	out, code := meshCmd(ctx, args...)
	t.Logf("mesh %s:\n%s", strings.Join(args, " "), out)
	if code != exitOK {
		t.Fatalf("mesh %s: exit %d", strings.Join(args, " "), code)
	}
}

// waitTrigger waits for the latest run of a trigger workflow to end, checks it
// started runs child runs, and returns its run id.
func waitTrigger(t *testing.T, ctx context.Context, c client.Client, id string, runs int) string {
	t.Helper()
	wf := c.GetWorkflow(ctx, id, "")
	if err := wf.Get(ctx, nil); err != nil {
		t.Fatalf("%s: %v", id, err)
	}
	started := 0
	it := c.GetWorkflowHistory(ctx, id, wf.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if ev.GetEventType() == enumspb.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED {
			started++
		}
	}
	if started != runs {
		t.Errorf("%s (run %s) started %d runs, want %d", id, wf.GetRunID(), started, runs)
	}
	return wf.GetRunID()
}

// lastRunOf waits for a workflow's latest run to end and returns its status.
func lastRunOf(t *testing.T, ctx context.Context, c client.Client, id string) enumspb.WorkflowExecutionStatus {
	t.Helper()
	_ = c.GetWorkflow(ctx, id, "").Get(ctx, nil)
	d, err := c.DescribeWorkflow(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	return d.Status
}

// checkTriggered checks a run ended published, was started by its inputs (the
// MeshTrigger search attribute) and says which snapshot in its input.
func checkTriggered(t *testing.T, ctx context.Context, c client.Client, id, why string) {
	t.Helper()
	if s := lastRunOf(t, ctx, c, id); s != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		t.Errorf("%s: %v", id, s)
	}
	d, err := c.DescribeWorkflow(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	if kind, _ := d.TypedSearchAttributes.GetKeyword(flow.KeyTrigger); kind != flow.TriggerInputs {
		t.Errorf("%s: MeshTrigger %q, want %q", id, kind, flow.TriggerInputs)
	}
	it := c.GetWorkflowHistory(ctx, id, d.WorkflowExecution.RunID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	ev, err := it.Next()
	if err != nil {
		t.Fatal(err)
	}
	var in flow.RunInput
	if err := converter.GetDefaultDataConverter().FromPayloads(ev.GetWorkflowExecutionStartedEventAttributes().GetInput(), &in); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(in.Trigger, why) {
		t.Errorf("%s started with trigger %q, want %q…", id, in.Trigger, why)
	}
}

// A backfill of marketing.web_traffic flows down without a second command: each day it
// publishes re-runs the same day of the partitioned marketing.channel_daily, exactly
// those days; the unpartitioned metrics.revenue_engagement_weekly runs once, after the
// backfill ended (it fails here, truthfully: its other inputs never published).
func TestBackfillFlowsDownstream(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	st := devStack(t, ctx)
	devWorker(t, ctx, st)
	c := st.Client
	now := time.Now().UTC()
	from, to := now.AddDate(0, 0, -5).Format(time.DateOnly), now.AddDate(0, 0, -3).Format(time.DateOnly)
	mustRun(t, ctx, "backfill", "start", "marketing.web_traffic", "--from", from, "--to", to, "--wait")

	id := "trigger/marketing.channel_daily"
	wf := c.GetWorkflow(ctx, id, "")
	if err := wf.Get(ctx, nil); err != nil {
		t.Fatal(err)
	}
	var days []string
	it := c.GetWorkflowHistory(ctx, id, wf.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if a := ev.GetStartChildWorkflowExecutionInitiatedEventAttributes(); a != nil {
			days = append(days, strings.TrimPrefix(a.GetWorkflowId(), "marketing.channel_daily/"))
		}
	}
	slices.Sort(days)
	want := []string{from, now.AddDate(0, 0, -4).Format(time.DateOnly), to}
	if !slices.Equal(days, want) {
		t.Errorf("channel_daily ran days %v, want exactly the backfilled %v", days, want)
	}
	for _, d := range want {
		checkTriggered(t, ctx, c, "marketing.channel_daily/"+d, "inputs: marketing.web_traffic snapshot ")
	}
	// One run of the whole product, after the backfill: not one per day.
	waitTrigger(t, ctx, c, "trigger/metrics.revenue_engagement_weekly", 1)
}
