package flow

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"

	"github.com/meshflow/meshflow/framework/lineage"
)

// lineageRun runs crm_contacts with the given Transform result and records the
// OpenLineage events the run hands on (EmitLineage), whose own error is emitErr.
func lineageRun(t *testing.T, in RunInput, transform error, emitErr error, cancelAfter time.Duration) ([]LineageInput, error) {
	t.Helper()
	env, a := newEnv(t)
	land := env.OnActivity(a.Land, mock.Anything, mock.Anything).Return(LandOutput{Rows: 10}, nil)
	if cancelAfter > 0 {
		land.After(time.Hour)
		env.RegisterDelayedCallback(env.CancelWorkflow, cancelAfter)
	}
	env.OnActivity(a.Transform, mock.Anything, mock.Anything).Return(TransformOutput{StagingKey: "staging/x", Rows: 7}, transform)
	env.OnActivity(a.Check, mock.Anything, mock.Anything).Return(CheckOutput{Results: passing, Status: "pass"}, nil)
	env.OnActivity(a.Publish, mock.Anything, mock.Anything).Return(PublishOutput{Table: "marketing.crm_contacts_v1", SnapshotID: 42, Rows: 7}, nil)
	env.OnActivity(a.RecordRun, mock.Anything, mock.Anything).Return(nil)
	var got []LineageInput
	env.OnActivity(a.EmitLineage, mock.Anything, mock.Anything).Return(func(_ context.Context, in LineageInput) error {
		got = append(got, in)
		return emitErr
	}).Maybe()
	env.ExecuteWorkflow(RunProductWorkflow, in)
	return got, env.GetWorkflowError()
}

func events(got []LineageInput) []lineage.EventType {
	var out []lineage.EventType
	for _, g := range got {
		out = append(out, g.Event)
	}
	return out
}

// TestRunLineageEvents: a run hands on START when it begins and COMPLETE, FAIL or
// ABORT (canceled) when it ends, with what the run did; a preview on a branch none;
// an event that cannot be handed on fails nothing.
func TestRunLineageEvents(t *testing.T) {
	run := RunInput{Domain: "marketing", Product: "crm_contacts"}
	t.Run("published", func(t *testing.T) {
		got, err := lineageRun(t, run, nil, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		if want := []lineage.EventType{lineage.Start, lineage.Complete}; !slices.Equal(events(got), want) {
			t.Fatalf("events %v, want %v", events(got), want)
		}
		start, end := got[0], got[1]
		if start.Decl == "" || start.Run.StartedAt.IsZero() || start.Run.Status != "" {
			t.Errorf("START %+v", start)
		}
		if end.Run.Status != StatusPublished || end.Run.SnapshotID != 42 || end.Run.Rows != 7 || end.Run.Landed["hubspot.contacts"] != 10 || end.Run.FinishedAt.IsZero() {
			t.Errorf("COMPLETE %+v", end.Run)
		}
		if end.Run.Checks != nil {
			t.Errorf("the event carries the checks: %+v", end.Run.Checks)
		}
	})
	t.Run("failed", func(t *testing.T) {
		got, err := lineageRun(t, run, errors.New("model broke"), nil, 0)
		if err == nil {
			t.Fatal("the run did not fail")
		}
		if want := []lineage.EventType{lineage.Start, lineage.Fail}; !slices.Equal(events(got), want) {
			t.Fatalf("events %v, want %v", events(got), want)
		}
		if got[1].Run.Status != StatusFailed || got[1].Run.Error == "" {
			t.Errorf("FAIL %+v", got[1].Run)
		}
	})
	t.Run("canceled", func(t *testing.T) {
		got, err := lineageRun(t, run, nil, nil, time.Minute)
		if err == nil {
			t.Fatal("the run was not canceled")
		}
		if want := []lineage.EventType{lineage.Start, lineage.Abort}; !slices.Equal(events(got), want) {
			t.Fatalf("events %v, want %v", events(got), want)
		}
	})
	t.Run("branch", func(t *testing.T) {
		branch := run
		branch.Branch = "preview"
		env, a := newEnv(t)
		env.OnActivity(a.Land, mock.Anything, mock.Anything).Return(LandOutput{Rows: 10}, nil)
		env.OnActivity(a.Transform, mock.Anything, mock.Anything).Return(TransformOutput{}, errors.New("stop here"))
		env.OnActivity(a.RecordRun, mock.Anything, mock.Anything).Return(nil)
		env.ExecuteWorkflow(RunProductWorkflow, branch)
		env.AssertNotCalled(t, "EmitLineage", mock.Anything, mock.Anything)
	})
	t.Run("receiver unreachable", func(t *testing.T) {
		got, err := lineageRun(t, run, nil, errors.New("temporal unavailable"), 0)
		if err != nil {
			t.Fatalf("a run whose events could not be handed on failed: %v", err)
		}
		if len(got) < 2 {
			t.Fatalf("events %v", events(got))
		}
	})
}

// TestEmitLineageWithoutReceiver: without a configured receiver the activity does
// nothing and fails nothing.
func TestEmitLineageWithoutReceiver(t *testing.T) {
	for _, s := range []*lineage.Sender{nil, lineage.New(nil, lineage.Config{}, nil)} {
		a := &Activities{Lineage: s}
		if err := a.EmitLineage(context.Background(), LineageInput{Event: lineage.Start, Run: RunRecord{Domain: "marketing", Product: "nope"}}); err != nil {
			t.Errorf("EmitLineage with %+v: %v", s, err)
		}
	}
}
