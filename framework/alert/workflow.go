package alert

import (
	"context"
	"errors"
	"slices"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/mesh"
)

// Names of the alert workflows, their signal and their activities (registered with
// the prefix "alert.").
const (
	WorkflowName          = "Alerts"
	FreshnessWorkflowName = "AlertsFreshness"
	SignalName            = "alert-event"

	deliverActivity   = "alert.Deliver"
	saveActivity      = "alert.Save"
	freshnessActivity = "alert.EvaluateFreshness"
)

// WorkflowID is the id of a product's alert workflow.
func WorkflowID(domain, product string) string { return "alerts/" + domain + "." + product }

// FreshnessWorkflowID is the id of the workflow evaluating a domain's freshness.
func FreshnessWorkflowID(domain string) string { return "alerts/freshness/" + domain }

// Input starts a product's alert workflow: its state, empty at first, carried over
// when it continues as new.
type Input struct {
	State State
}

// historyLimit is how long a product's alert history grows before it continues as
// new (Temporal warns at 10k events); eventsPerRun bounds it too: an event costs a
// dozen history events or so (its signal, the lake write, a delivery per channel).
const (
	historyLimit = 2000
	eventsPerRun = 150
)

// Register puts the alert workflows and their activities on a domain's worker; every
// domain worker registers them, as each product's alerts run on its domain's task
// queue. A registry of workflows alone (a replayer) gets the workflows.
func Register(w worker.WorkflowRegistry, n *Notifier) {
	w.RegisterWorkflowWithOptions(n.productAlerts, workflow.RegisterOptions{Name: WorkflowName})
	w.RegisterWorkflowWithOptions(n.watchFreshness, workflow.RegisterOptions{Name: FreshnessWorkflowName})
	if acts, ok := w.(worker.ActivityRegistry); ok {
		acts.RegisterActivityWithOptions(&Activities{n: n}, activity.RegisterOptions{Name: "alert."})
	}
}

// productAlerts keeps one product's alerts: it applies each event signalled to it,
// writes the open alerts to the lake when they change, and sends each notification
// to each channel through an activity retried until the receiver answers. Each
// channel sends on its own, in order, so a receiver that is down holds back only its
// own notifications. A notification leaves the outbox only once its activity
// succeeded, so it is never sent twice by the workflow (a receiver dedupes the rare
// retry whose answer was lost by its id).
func (n *Notifier) productAlerts(ctx workflow.Context, in Input) error {
	s := &in.State
	signals := workflow.GetSignalChannel(ctx, SignalName)
	deliverCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		// No MaximumAttempts and no ScheduleToCloseTimeout: a receiver down for hours
		// still gets the alert when it is back.
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: n.cfg.RetryInterval, BackoffCoefficient: 2, MaximumInterval: n.cfg.RetryMaxInterval},
	})
	saveCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{MaximumInterval: time.Minute},
	})
	var senders []Channel
	// saving holds new deliveries back until the lake has the alerts they are about:
	// whoever gets one and runs `mesh alerts` sees it.
	inFlight, stopping, saving := 0, false, false
	send := func(ch Channel) {
		if slices.Contains(senders, ch) {
			return
		}
		senders = append(senders, ch)
		workflow.Go(ctx, func(ctx workflow.Context) {
			for {
				err := workflow.Await(ctx, func() bool { return stopping || !saving && s.next(ch) != nil })
				if err != nil || stopping {
					return
				}
				d := *s.next(ch)
				inFlight++
				err = workflow.ExecuteActivity(deliverCtx, deliverActivity, d).Get(ctx, nil)
				inFlight--
				if err != nil {
					return // canceled: the outbox keeps it
				}
				s.delivered(d)
			}
		})
	}
	apply := func(ev Event) error {
		saving = true
		if s.Apply(ev) {
			f := File{Domain: s.Domain, Product: s.Product, Open: s.Open, Updated: ev.At}
			if err := workflow.ExecuteActivity(saveCtx, saveActivity, f).Get(ctx, nil); err != nil {
				return err
			}
		}
		saving = false
		for _, d := range s.Outbox {
			send(d.Channel)
		}
		return nil
	}
	for _, d := range s.Outbox {
		send(d.Channel)
	}
	for handled := 1; ; handled++ {
		var ev Event
		signals.Receive(ctx, &ev)
		if err := apply(ev); err != nil {
			return err
		}
		info := workflow.GetInfo(ctx)
		if info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength() > historyLimit || handled >= n.eventsPerRun {
			break
		}
	}
	// Continue as new with the outbox, once no delivery is in flight (one that
	// succeeded after would be sent again), and every event signalled so far applied.
	stopping = true
	if err := workflow.Await(ctx, func() bool { return inFlight == 0 }); err != nil {
		return err
	}
	for {
		var ev Event
		if !signals.ReceiveAsync(&ev) {
			break
		}
		if err := apply(ev); err != nil {
			return err
		}
	}
	return workflow.NewContinueAsNewError(ctx, WorkflowName, Input{State: *s})
}

// next is ch's oldest undelivered notification.
func (s *State) next(ch Channel) *Delivery {
	for i := range s.Outbox {
		if s.Outbox[i].Channel == ch {
			d := s.Outbox[i]
			return &d
		}
	}
	return nil
}

// delivered takes d out of the outbox.
func (s *State) delivered(d Delivery) {
	s.Outbox = slices.DeleteFunc(s.Outbox, func(o Delivery) bool {
		return o.Channel == d.Channel && o.Message.ID == d.Message.ID
	})
}

// watchFreshness evaluates a domain's products' freshness, then waits the interval
// the evaluation says (Config.FreshnessEvery), for ever, continuing as new now and
// then.
func (n *Notifier) watchFreshness(ctx workflow.Context, domain string) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{MaximumInterval: time.Minute},
	})
	for range 200 {
		var every time.Duration
		if err := workflow.ExecuteActivity(ctx, freshnessActivity, domain).Get(ctx, &every); err != nil {
			return err
		}
		if err := workflow.Sleep(ctx, every); err != nil {
			return err
		}
	}
	return workflow.NewContinueAsNewError(ctx, FreshnessWorkflowName, domain)
}

// WatchFreshness makes sure domain d's freshness is evaluated: it starts d's
// freshness workflow unless it is running. Workers call it for each domain they
// host; without Options.Freshness it does nothing.
func (n *Notifier) WatchFreshness(ctx context.Context, d mesh.Domain) error {
	if n == nil || n.fresh == nil {
		return nil
	}
	_, err := n.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: FreshnessWorkflowID(d.Name), TaskQueue: d.TaskQueue(),
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
	}, FreshnessWorkflowName, d.Name)
	if err != nil {
		return errs.E(errs.Transient, "watch the freshness of "+d.Name, err)
	}
	return nil
}

// Activities are the alert workflows' activities.
type Activities struct{ n *Notifier }

// Deliver sends one notification to one channel.
func (a *Activities) Deliver(ctx context.Context, d Delivery) error {
	err := a.n.deliver(ctx, d)
	if err != nil {
		a.n.log.Warn().Str("alert", d.Message.ID).Str("channel", string(d.Channel)).Err(err).
			Int32("attempt", activity.GetInfo(ctx).Attempt).Msg("alert not delivered yet; retrying")
	}
	return err
}

// Save writes a product's open alerts to the lake.
func (a *Activities) Save(ctx context.Context, f File) error { return a.n.save(ctx, f) }

// EvaluateFreshness judges the freshness of each product of a domain, and tells the
// product's alert workflow when it is late or stale, or was and may have recovered.
// It returns how long to wait before the next evaluation.
func (a *Activities) EvaluateFreshness(ctx context.Context, domain string) (time.Duration, error) {
	n := a.n
	d, ok := n.mesh.Domain(domain)
	if !ok {
		return n.cfg.FreshnessEvery, nil // no longer declared here: nothing to watch
	}
	var failed []error
	for _, p := range d.Products {
		if !p.AlertPolicy(d).Has(mesh.AlertFreshness) {
			continue
		}
		f, err := n.fresh(ctx, d.Name, p.Name)
		if err != nil {
			failed = append(failed, err)
			continue
		}
		if f.Status == mesh.StatusPass || f.Status == mesh.StatusUnknown {
			// Fresh: only a product whose freshness alert is open needs to hear it.
			open, err := Open(ctx, n.lake, d.Name, p.Name)
			if err != nil {
				failed = append(failed, err)
				continue
			}
			if !slices.ContainsFunc(open, func(al Alert) bool { return al.Rule == mesh.AlertFreshness }) {
				continue
			}
		}
		if err := n.FreshnessSeen(ctx, d.Name, p.Name, f, time.Now()); err != nil {
			failed = append(failed, err)
		}
	}
	if len(failed) > 0 {
		return 0, errs.E(errs.Transient, "evaluate the freshness of "+domain, errors.Join(failed...))
	}
	return n.cfg.FreshnessEvery, nil
}
