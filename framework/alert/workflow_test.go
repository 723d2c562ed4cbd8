package alert

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
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
