package lineage_test

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/meshflow/meshflow/framework/lineage"
)

// runWorkflow runs one run's lineage workflow, signalled the given events at the
// given delays, and returns the events it delivered in order. reject, when set, is
// the event type the receiver refuses.
func runWorkflow(t *testing.T, signals map[time.Duration][]lineage.EventType, reject lineage.EventType) []lineage.EventType {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := s.NewTestWorkflowEnvironment()
	lineage.Register(env, lineage.New(nil, lineage.Config{URL: "http://receiver.test", EndWithin: 24 * time.Hour}, nil))
	var delivered []lineage.EventType
	env.OnActivity("lineage.Deliver", mock.Anything, mock.Anything).Return(func(_ context.Context, ev lineage.RunEvent) error {
		if ev.EventType == reject {
			return temporal.NewNonRetryableApplicationError("400 Bad Request", "rejected", nil)
		}
		delivered = append(delivered, ev.EventType)
		return nil
	})
	r := contactsRun()
	for at, types := range signals {
		env.RegisterDelayedCallback(func() {
			for _, typ := range types {
				env.SignalWorkflow(lineage.SignalName, r.Event(typ, time.Now()))
			}
		}, at)
	}
	env.ExecuteWorkflow(lineage.WorkflowName)
	if !env.IsWorkflowCompleted() {
		t.Fatal("the lineage workflow did not end")
	}
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	return delivered
}

// TestLineageWorkflowSendsEachEventOnceInOrder: a START handed on twice (a retried
// local activity) is sent once, before the end; the workflow ends with the run's end.
func TestLineageWorkflowSendsEachEventOnceInOrder(t *testing.T) {
	got := runWorkflow(t, map[time.Duration][]lineage.EventType{
		0:         {lineage.Start, lineage.Start},
		time.Hour: {lineage.Complete, lineage.Start},
	}, "")
	if want := []lineage.EventType{lineage.Start, lineage.Complete}; !slices.Equal(got, want) {
		t.Fatalf("delivered %v, want %v", got, want)
	}
}

// TestLineageWorkflowAbortsARunThatNeverEnds: a run that says nothing after its START
// (terminated) gets an ABORT once Config.EndWithin has passed.
func TestLineageWorkflowAbortsARunThatNeverEnds(t *testing.T) {
	got := runWorkflow(t, map[time.Duration][]lineage.EventType{0: {lineage.Start}}, "")
	if want := []lineage.EventType{lineage.Start, lineage.Abort}; !slices.Equal(got, want) {
		t.Fatalf("delivered %v, want %v", got, want)
	}
}

// TestLineageWorkflowGoesOnAfterARefusal: an event the receiver refuses (a 4xx) is
// not sent again, and the run's next event still goes.
func TestLineageWorkflowGoesOnAfterARefusal(t *testing.T) {
	got := runWorkflow(t, map[time.Duration][]lineage.EventType{0: {lineage.Start}, time.Minute: {lineage.Fail}}, lineage.Start)
	if want := []lineage.EventType{lineage.Fail}; !slices.Equal(got, want) {
		t.Fatalf("delivered %v, want %v", got, want)
	}
}
