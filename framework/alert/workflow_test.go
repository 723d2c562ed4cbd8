package alert

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/mocks"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/meshflow/meshflow/framework/mesh"
)

// TestWorkflowRetriesADownReceiverAndContinuesAsNewWithItsOutbox: a channel whose
// receiver is down is retried until it answers while the others go on; each
// notification is delivered once per channel; when the history is long the workflow
// waits for the delivery in flight, applies every event signalled so far and
// continues as new with the open alerts and what is left to send.
func TestWorkflowRetriesADownReceiverAndContinuesAsNewWithItsOutbox(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := s.NewTestWorkflowEnvironment()
	n := New(nil, mesh.Mesh{}, nil, Config{RetryInterval: time.Second, RetryMaxInterval: 4 * time.Second}, nil)
	n.eventsPerRun = 2
	Register(env, n)

	var mu sync.Mutex
	attempts := map[string]int{}
	delivered := map[string]int{}
	saved := 0
	env.OnActivity(deliverActivity, mock.Anything, mock.Anything).Return(func(_ context.Context, d Delivery) error {
		mu.Lock()
		defer mu.Unlock()
		key := string(d.Channel) + " " + d.Message.ID
		attempts[key]++
		if d.Channel == Slack && attempts[key] <= 3 {
			return errors.New("the receiver answered 503 Service Unavailable")
		}
		delivered[key]++
		return nil
	})
	env.OnActivity(saveActivity, mock.Anything, mock.Anything).Return(func(_ context.Context, f File) error {
		mu.Lock()
		defer mu.Unlock()
		saved++
		return nil
	})
	policy := mesh.Product{}.AlertPolicy(mesh.Domain{})
	ev := func(id string, at time.Duration, r Run) Event {
		return Event{ID: id, At: time.Unix(0, 0).Add(at), Domain: "shop", Product: "orders", Owner: "shop-team", Policy: policy,
			Channels: []Channel{Slack, Email}, Run: &r}
	}
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(SignalName, ev("r1", 0, Run{Status: StatusFailed, Error: "boom"}))
	}, time.Second)
	env.RegisterDelayedCallback(func() {
		// Two at once: the second is still unread when the first is the run's last.
		env.SignalWorkflow(SignalName, ev("r2", time.Minute, Run{Status: StatusBlocked, Error: "quality gate"}))
		env.SignalWorkflow(SignalName, ev("r3", 2*time.Minute, Run{Status: StatusFailed, Error: "boom again"}))
	}, time.Minute)
	env.ExecuteWorkflow(WorkflowName, Input{State: State{Domain: "shop", Product: "orders"}})

	var can *workflow.ContinueAsNewError
	if err := env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("workflow ended with %v, want it to continue as new", err)
	}
	var next Input
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	var open []mesh.AlertRule
	for _, a := range next.State.Open {
		open = append(open, a.Rule)
	}
	if len(open) != 2 || open[0] != mesh.AlertRunFailed || open[1] != mesh.AlertCheckBlocked {
		t.Errorf("carried open alerts %v, want run_failed (r3) and check_blocked (r2): every signalled event applied", open)
	}
	carried := map[string]int{}
	for _, d := range next.State.Outbox {
		carried[string(d.Channel)+" "+d.Message.ID]++
	}
	// Each notification is delivered once or carried over to be sent by the next run,
	// never both; r3's, applied after the run's last event, is carried.
	for _, id := range []string{"run_failed/1#1", "check_blocked/2#1", "run_failed/1#resolved", "run_failed/3#1"} {
		for _, ch := range []string{"slack", "email"} {
			key := ch + " shop.orders/" + id
			if delivered[key]+carried[key] != 1 {
				t.Errorf("%s: delivered %d times, carried over %d times", key, delivered[key], carried[key])
			}
		}
	}
	if carried["slack shop.orders/run_failed/3#1"] != 1 || carried["email shop.orders/run_failed/3#1"] != 1 {
		t.Errorf("carried %v, want r3's alert to both channels", carried)
	}
	if delivered["slack shop.orders/run_failed/1#1"] != 1 || attempts["slack shop.orders/run_failed/1#1"] != 4 || delivered["email shop.orders/run_failed/1#1"] != 1 {
		t.Errorf("attempts %v, delivered %v: want slack retried until it answered, e-mail sent at once", attempts, delivered)
	}
	if saved == 0 {
		t.Error("the open alerts were never written to the lake")
	}
}

// TestNotifierSignalsTheProductsWorkflowOnItsDomainQueue: a run's end is signalled to
// alerts/<domain>.<product> on meshflow.<domain>, started if need be, with the
// product's rules, owner and channels; a run reported twice carries the same event
// id (the workflow counts it once), another run another.
func TestNotifierSignalsTheProductsWorkflowOnItsDomainQueue(t *testing.T) {
	c := &mocks.Client{}
	var sent []Event
	c.On("SignalWithStartWorkflow", mock.Anything, "alerts/shop.orders", SignalName, mock.Anything, mock.Anything, WorkflowName, mock.Anything).
		Run(func(args mock.Arguments) {
			sent = append(sent, args.Get(3).(Event))
			if o := args.Get(4).(client.StartWorkflowOptions); o.TaskQueue != "meshflow.shop" || o.ID != "alerts/shop.orders" {
				t.Errorf("started with %+v", o)
			}
		}).Return(nil, nil)
	shop := mesh.Domain{Name: "shop", Owner: "shop-team", Alerts: mesh.Alerts{WarnStreak: 2}, Products: []mesh.Product{{Name: "orders", Classification: mesh.Restricted}}}
	n := New(c, mesh.Mesh{Domains: []mesh.Domain{shop}}, nil, Config{SlackURL: "https://hooks.example.com/x"}, nil)
	ctx := context.Background()
	run := Run{Domain: "shop", Product: "orders", WorkflowID: "shop.orders/current", RunID: "r1", Status: StatusFailed}
	for _, r := range []Run{run, run, {Domain: "shop", Product: "orders", WorkflowID: "shop.orders/current", RunID: "r2", Status: StatusFailed}} {
		if err := n.RunEnded(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if len(sent) != 3 || sent[0].ID == "" || sent[0].ID != sent[1].ID || sent[2].ID == sent[0].ID {
		t.Fatalf("event ids %q, want a retried report to repeat its id and another run to have its own", []string{sent[0].ID, sent[1].ID, sent[2].ID})
	}
	ev := sent[0]
	if ev.Owner != "shop-team" || !ev.Restricted || ev.Policy.WarnStreak != 2 || len(ev.Channels) != 1 || ev.Channels[0] != Slack ||
		ev.RunURL != DefaultTemporalUI+"/namespaces/default/workflows/shop.orders%2Fcurrent/r1/history" || ev.CatalogURL != DefaultCatalogURL+"/products/shop.orders" {
		t.Errorf("event = %+v", ev)
	}
	if err := n.RunEnded(ctx, Run{Domain: "shop", Product: "nope"}); err == nil || !strings.Contains(err.Error(), "shop.nope") {
		t.Errorf("an undeclared product: %v", err)
	}
	var none *Notifier
	if err := none.RunEnded(ctx, run); err != nil {
		t.Errorf("a nil Notifier: %v", err)
	}
}
