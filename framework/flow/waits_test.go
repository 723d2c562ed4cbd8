package flow_test

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/meshflow/meshflow/dev/stack"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/source"
)

func TestLandingWaitText(t *testing.T) {
	now := time.Date(2026, 11, 23, 13, 58, 0, 0, time.UTC)
	w := flow.LandingWait{Wait: source.Wait{Reason: "the GitHub secondary rate limit", Until: time.Date(2026, 11, 23, 14, 3, 10, 0, time.UTC), Waits: 12}}
	if got, want := w.Text(now), "waiting for the GitHub secondary rate limit until 14:03:10 (12 waits so far)"; got != want {
		t.Errorf("Text = %q, want %q", got, want)
	}
	// In the reader's zone, with the date when it is another day there.
	auckland, err := time.LoadLocation("Pacific/Auckland")
	if err != nil {
		t.Fatal(err)
	}
	w = flow.LandingWait{Wait: source.Wait{Reason: "GA4's daily quota", Until: time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC), Waits: 1}}
	if got, want := w.Text(now.In(auckland)), "waiting for GA4's daily quota until Nov 25 21:00:00 (1 wait so far)"; got != want {
		t.Errorf("Text = %q, want %q", got, want)
	}
}

// TestLandingWaitsOnTheDevServer reads the waits from a real DescribeWorkflowExecution:
// a workflow holds three activities whose heartbeats carry a checkpoint — a Land
// waiting until later, a Land whose wait has ended, another activity type — and only
// the first is a landing wait.
func TestLandingWaitsOnTheDevServer(t *testing.T) {
	if testing.Short() {
		t.Skip("needs bin/temporal")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := stack.Start(ctx, stack.Options{NoSandbox: true, Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Stop()

	heartbeating := make(chan struct{}, 3)
	release := make(chan struct{})
	hold := func(ctx context.Context, cp lake.Checkpoint) error {
		// The first heartbeat of an attempt reaches the server before RecordHeartbeat returns.
		activity.RecordHeartbeat(ctx, cp)
		heartbeating <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	}
	waiting := lake.Checkpoint{Pages: 40, Wait: &source.Wait{Reason: "the GitHub secondary rate limit", Until: time.Now().Add(time.Hour).UTC().Truncate(time.Second), Waits: 12}}
	ended := lake.Checkpoint{Pages: 7, Wait: &source.Wait{Reason: "HubSpot's rate limit", Until: time.Now().Add(-time.Minute), Waits: 3}}
	probe := func(ctx workflow.Context) error {
		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
		futures := []workflow.Future{
			workflow.ExecuteActivity(ctx, "Land", waiting),
			workflow.ExecuteActivity(ctx, "Land", ended),
			workflow.ExecuteActivity(ctx, "Transform", waiting),
		}
		for _, f := range futures {
			if err := f.Get(ctx, nil); err != nil {
				return err
			}
		}
		return nil
	}
	const queue = "waits-test"
	w := worker.New(st.Client, queue, worker.Options{})
	w.RegisterWorkflowWithOptions(probe, workflow.RegisterOptions{Name: "Probe"})
	w.RegisterActivityWithOptions(hold, activity.RegisterOptions{Name: "Land"})
	w.RegisterActivityWithOptions(hold, activity.RegisterOptions{Name: "Transform"})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	run, err := st.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "waits-probe", TaskQueue: queue}, "Probe")
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		select {
		case <-heartbeating:
		case <-ctx.Done():
			t.Fatal("the activities never heartbeat")
		}
	}
	waits, err := flow.LandingWaits(ctx, st.Client, run.GetID(), run.GetRunID())
	if err != nil {
		t.Fatal(err)
	}
	if len(waits) != 1 || waits[0].Wait != *waiting.Wait || waits[0].ActivityID == "" {
		t.Fatalf("LandingWaits = %+v, want the one Land waiting on %+v", waits, *waiting.Wait)
	}
	close(release)
	if err := run.Get(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if waits, err := flow.LandingWaits(ctx, st.Client, run.GetID(), ""); err != nil || len(waits) != 0 {
		t.Fatalf("after the run: %+v, %v", waits, err)
	}
}
