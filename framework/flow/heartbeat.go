package flow

import (
	"context"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
)

// heartbeatTimeout is how long the server waits for a heartbeat before it gives an
// activity attempt up and schedules the next one. A worker that dies mid-activity (kill
// -9, OOM, a lost node) says nothing: without heartbeats its attempt would hold the
// run until the activity's StartToCloseTimeout, an hour for a transform.
const heartbeatTimeout = 20 * time.Second

// heartbeatEvery is how often a running activity heartbeats: well within the timeout
// (the SDK sends at most one heartbeat per 80% of it), whether or not it is making
// progress — a slow page or a long DuckDB query is alive, not lost.
const heartbeatEvery = heartbeatTimeout / 4

// heartbeat keeps an activity attempt alive while its worker is.
type heartbeat struct {
	record  func(details ...any) // activity.RecordHeartbeat of the activity's context
	mu      sync.Mutex
	details []any // sent with every heartbeat: the next attempt resumes from them
	stopped chan struct{}
	done    chan struct{}
}

// keepAlive heartbeats every interval until stop is called, each time with the
// latest details (see update); details are the ones to start with, e.g. a checkpoint
// this attempt resumed from, which a heartbeat without them would erase.
func keepAlive(ctx context.Context, interval time.Duration, details ...any) *heartbeat {
	return startHeartbeat(ctx, func(d ...any) { activity.RecordHeartbeat(ctx, d...) }, interval, details...)
}

func startHeartbeat(ctx context.Context, record func(...any), interval time.Duration, details ...any) *heartbeat {
	h := &heartbeat{record: record, details: details, stopped: make(chan struct{}), done: make(chan struct{})}
	h.beat()
	go func() {
		defer close(h.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-h.stopped:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				h.beat()
			}
		}
	}()
	return h
}

// update replaces the details and heartbeats with them now.
func (h *heartbeat) update(details ...any) {
	h.mu.Lock()
	h.details = details
	h.mu.Unlock()
	h.beat()
}

func (h *heartbeat) beat() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.record(h.details...)
}

// stop ends the heartbeats; the activity returns right after.
func (h *heartbeat) stop() {
	close(h.stopped)
	<-h.done
}
