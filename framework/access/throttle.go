package access

import (
	"context"
	"errors"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Throttle is the Auditor of a long-running server. It writes every allowed read
// through at once (an allowed read is never served unaudited), but it folds refused
// reads, which anyone can send without a token, into one record per caller, product,
// way of reading and minute, with their count: a flood of refusals costs a few objects
// a minute instead of one each, so it can neither fill the bucket nor crowd out the
// records of allowed reads.
//
// The first refusal of each minute is written at once, so a single refusal shows in
// the log as it happens; the rest of that minute's are written as one record when the
// minute ends (Run, the next refusal after it, or Flush). On top, each caller's
// immediate writes are rate limited across products, so a caller cycling through many
// products and paths still writes a bounded number of records. Counts held in memory
// are lost if the process dies before they are written.
type Throttle struct {
	next   Auditor
	window time.Duration
	every  rate.Limit // a caller's immediate refusal records, per second
	burst  int
	now    func() time.Time

	mu       sync.Mutex
	pending  map[refusalKey]*Event // refusals folded since the window's first; Count 0 = none yet
	limiters map[string]*rate.Limiter
}

// refusalKey is what one folded record stands for. Principals are names from the
// access file or the two placeholders for callers without a known token, and the
// other parts come from the mesh and small enums, so the map stays small whatever
// callers send.
type refusalKey struct {
	principal, product, port, reason string
	what                             What
	path                             Path
	window                           time.Time
}

// Throttle defaults: one record per refusal kind and minute, and at most 10 immediate
// refusal records per caller at once, refilled at one every 6 s.
const (
	DefaultRefusalWindow = time.Minute
	defaultRefusalBurst  = 10
	defaultRefusalEvery  = 6 * time.Second
)

// NewThrottle returns a Throttle writing to next.
func NewThrottle(next Auditor) *Throttle {
	return &Throttle{next: next, window: DefaultRefusalWindow, every: rate.Every(defaultRefusalEvery), burst: defaultRefusalBurst,
		now: time.Now, pending: map[refusalKey]*Event{}, limiters: map[string]*rate.Limiter{}}
}

// Record writes an allowed read through, and folds a refused one as the type says.
func (t *Throttle) Record(ctx context.Context, e Event) error {
	if e.Allowed {
		return t.next.Record(ctx, e)
	}
	now := t.now()
	if e.Time.IsZero() {
		e.Time = now
	}
	e.Count = 1
	t.mu.Lock()
	due := t.takeEnded(now)
	agg, seen := t.pending[t.keyOf(e)]
	immediate := !seen && t.limiter(e.Principal).AllowN(now, 1)
	if !seen {
		agg = &Event{}
		t.pending[t.keyOf(e)] = agg
	}
	if !immediate {
		merge(agg, e)
	}
	t.mu.Unlock()

	err := t.write(ctx, due)
	if immediate {
		err = errors.Join(err, t.next.Record(ctx, e))
	}
	return err
}

func (t *Throttle) keyOf(e Event) refusalKey {
	return refusalKey{principal: e.Principal, product: e.Product, port: e.Port, reason: e.Reason, what: e.What, path: e.Path,
		window: e.Time.Truncate(t.window)}
}

// merge adds the refused reads of record e to the record agg (Count 0 = empty).
func merge(agg *Event, e Event) {
	if e.Until.IsZero() {
		e.Until = e.Time
	}
	if agg.Count == 0 {
		*agg = e
		return
	}
	agg.Count += e.Count
	if e.Time.Before(agg.Time) {
		agg.Time = e.Time
	}
	if e.Until.After(agg.Until) {
		agg.Until = e.Until
	}
}

// limiter returns caller's rate limiter; t.mu is held.
func (t *Throttle) limiter(caller string) *rate.Limiter {
	l, ok := t.limiters[caller]
	if !ok {
		l = rate.NewLimiter(t.every, t.burst)
		t.limiters[caller] = l
	}
	return l
}

// takeEnded removes and returns the folded records of windows that ended by now;
// t.mu is held.
func (t *Throttle) takeEnded(now time.Time) []Event {
	var due []Event
	for k, agg := range t.pending {
		if !k.window.Add(t.window).After(now) {
			delete(t.pending, k)
			if agg.Count > 0 {
				due = append(due, *agg)
			}
		}
	}
	return due
}

// write records folded events; one that cannot be written is kept for the next try.
func (t *Throttle) write(ctx context.Context, due []Event) error {
	var failed []error
	for _, e := range due {
		if err := t.next.Record(ctx, e); err != nil {
			failed = append(failed, err)
			t.mu.Lock()
			agg, ok := t.pending[t.keyOf(e)]
			if !ok {
				agg = &Event{}
				t.pending[t.keyOf(e)] = agg
			}
			merge(agg, e)
			t.mu.Unlock()
		}
	}
	return errors.Join(failed...)
}

// Flush writes every folded record now, ended window or not (at shutdown, and in tests).
func (t *Throttle) Flush(ctx context.Context) error {
	t.mu.Lock()
	var due []Event
	for k, agg := range t.pending {
		delete(t.pending, k)
		if agg.Count > 0 {
			due = append(due, *agg)
		}
	}
	t.mu.Unlock()
	return t.write(ctx, due)
}

// Run writes the records of ended windows as they end, until ctx ends; then it
// flushes the rest with a short grace period of its own. report is told of each
// failed write.
func (t *Throttle) Run(ctx context.Context, report func(error)) {
	tick := time.NewTicker(t.window / 4)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			flush, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if err := t.Flush(flush); err != nil {
				report(err)
			}
			return
		case <-tick.C:
		}
		t.mu.Lock()
		due := t.takeEnded(t.now())
		t.mu.Unlock()
		if err := t.write(ctx, due); err != nil {
			report(err)
		}
	}
}
