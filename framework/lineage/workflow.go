package lineage

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// Names of the lineage workflow, its signal and its activity.
const (
	WorkflowName    = "OpenLineage"
	SignalName      = "openlineage-event"
	deliverActivity = "lineage.Deliver"
)

// WorkflowID is the id of the lineage workflow of the run whose OpenLineage run id is
// runID (RunID).
func WorkflowID(runID string) string { return "openlineage/" + runID }

// Register puts the lineage workflow and its activity on a domain's worker; every
// domain worker registers them (a run's events go to its domain's task queue), also
// when s sends nothing, so a worker configured otherwise never strands them. A
// registry of workflows alone (a replayer) gets the workflow.
func Register(w worker.WorkflowRegistry, s *Sender) {
	if s == nil {
		s = New(nil, Config{}, nil)
	}
	w.RegisterWorkflowWithOptions(s.runEvents, workflow.RegisterOptions{Name: WorkflowName})
	if acts, ok := w.(worker.ActivityRegistry); ok {
		acts.RegisterActivityWithOptions(&Activities{s: s}, activity.RegisterOptions{Name: "lineage."})
	}
}

// runEvents sends one run's events in the order they were signalled, each event type
// once, each through an activity retried until the receiver answers (no attempt limit:
// a receiver down for hours still gets them). It ends once the run's last event is
// sent. A run that sends no end within Config.EndWithin of its start (it was
// terminated) gets an ABORT from here.
func (s *Sender) runEvents(ctx workflow.Context) error {
	logger := workflow.GetLogger(ctx)
	signals := workflow.GetSignalChannel(ctx, SignalName)
	deliverCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: s.cfg.RetryInterval, BackoffCoefficient: 2, MaximumInterval: s.cfg.RetryMaxInterval,
			NonRetryableErrorTypes: []string{errRejected}},
	})
	var outbox []RunEvent
	var first *RunEvent
	seen := map[EventType]bool{}
	take := func(ev RunEvent) {
		if seen[ev.EventType] {
			return // a retried hand-over
		}
		seen[ev.EventType] = true
		if first == nil {
			first = &ev
		}
		outbox = append(outbox, ev)
	}
	ended, waited := false, false
	giveUp := workflow.NewTimer(ctx, s.cfg.EndWithin)
	for {
		for {
			var ev RunEvent
			if !signals.ReceiveAsync(&ev) {
				break
			}
			take(ev)
		}
		if len(outbox) == 0 {
			if ended {
				return nil
			}
			sel := workflow.NewSelector(ctx)
			sel.AddReceive(signals, func(c workflow.ReceiveChannel, _ bool) {
				var ev RunEvent
				c.Receive(ctx, &ev)
				take(ev)
			})
			if waited {
				sel.Select(ctx) // the next signal: the run's end came after all
				continue
			}
			sel.AddFuture(giveUp, func(f workflow.Future) {
				waited = true
				if f.Get(ctx, nil) != nil || first == nil || seen[Complete] || seen[Fail] || seen[Abort] {
					return
				}
				abort := *first
				abort.EventType, abort.EventTime = Abort, workflow.Now(ctx).UTC()
				logger.Warn("the run sent no end: sending ABORT", "job", abort.Job.Name, "run", abort.Run.RunID)
				take(abort)
			})
			sel.Select(ctx)
			continue
		}
		ev := outbox[0]
		outbox = outbox[1:]
		if err := workflow.ExecuteActivity(deliverCtx, deliverActivity, ev).Get(ctx, nil); err != nil {
			// Refused by the receiver: sending it again cannot help, and the run's other
			// events still go.
			logger.Error("OpenLineage event not sent", "job", ev.Job.Name, "event", ev.EventType, "error", err)
		}
		if ev.EventType.Ends() {
			ended = true
		}
	}
}

// Activities are the lineage workflow's activities.
type Activities struct{ s *Sender }

// Deliver posts one event to the receiver.
func (a *Activities) Deliver(ctx context.Context, ev RunEvent) error {
	if !a.s.cfg.Enabled() {
		return temporal.NewNonRetryableApplicationError("no OpenLineage receiver is configured on this worker: set MESHFLOW_OPENLINEAGE_URL on every worker", errRejected, nil)
	}
	err := a.s.post(ctx, ev)
	if err != nil {
		var app *temporal.ApplicationError
		if !errors.As(err, &app) || !app.NonRetryable() {
			a.s.log.Warn().Str("job", ev.Job.Name).Str("event", string(ev.EventType)).Err(err).
				Int32("attempt", activity.GetInfo(ctx).Attempt).Msg("OpenLineage event not sent yet; retrying")
		}
	}
	return err
}
