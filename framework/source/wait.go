package source

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// ReportWait tells the read running in ctx that it is about to wait, until until, on
// the limit named by reason ("Pendo's request pacing"). Connectors call it for the
// waits they make inside their clients — pacing shared by all streams of a Source, a
// per-minute window — which the Reader cannot see; the Reader reports its own waits
// on RateLimited errors. Outside a Reader's read (mesh doctor's check) it does
// nothing.
//
// The reporter travels in the context, not in the connector, because one client
// serves several reads at once (parallel streams share a Source's pacing): only the
// request's context knows which read is waiting.
func ReportWait(ctx context.Context, reason string, until time.Time) {
	if w, ok := ctx.Value(waitsKey{}).(*waits); ok {
		w.report(reason, until)
	}
}

type waitsKey struct{}

// waits counts the waits of one read and tells its listener of each.
type waits struct {
	on func(Wait)
	mu sync.Mutex
	n  int
}

func (w *waits) report(reason string, until time.Time) {
	w.mu.Lock()
	w.n++
	wait := Wait{Reason: reason, Until: until, Waits: w.n}
	w.mu.Unlock()
	if w.on != nil {
		w.on(wait)
	}
}

func (w *waits) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

// ReportPacingAfter is the shortest pacing delay a Pacer ever reports as a wait; see
// Pacer.reportsAfter for the rule.
const ReportPacingAfter = 5 * time.Second

// Pacer spaces the requests of one Source, all its streams together (a vendor's
// limits are per account, not per stream), and reports a delay well above its pace
// (reportsAfter) through ReportWait. It is safe for concurrent use.
type Pacer struct {
	lim    *rate.Limiter
	reason string
	now    func() time.Time
	sleep  func(context.Context, time.Duration) error
}

// NewPacer paces at perSecond requests a second, one at a time (no burst); perSecond
// ≤ 0 leaves requests unpaced. reason names the pacing in a reported wait, e.g.
// "Pendo's request pacing".
func NewPacer(perSecond float64, reason string) *Pacer {
	lim := rate.NewLimiter(rate.Inf, 1)
	if perSecond > 0 {
		lim = rate.NewLimiter(rate.Limit(perSecond), 1)
	}
	return &Pacer{lim: lim, reason: reason, now: time.Now, sleep: Sleep}
}

// WithClock replaces the clock and the sleep of p, for tests that measure spacing on
// a fake clock; sleep must return ctx.Err() when ctx ends first.
func (p *Pacer) WithClock(now func() time.Time, sleep func(context.Context, time.Duration) error) *Pacer {
	p.now, p.sleep = now, sleep
	return p
}

// PerSecond is the pace, in requests a second (0: unpaced).
func (p *Pacer) PerSecond() float64 {
	if l := p.lim.Limit(); l != rate.Inf {
		return float64(l)
	}
	return 0
}

// String describes the pace for a report: "9 requests a second", "unpaced".
func (p *Pacer) String() string {
	switch r := p.PerSecond(); {
	case r == 0:
		return "unpaced"
	case r < 1:
		return fmt.Sprintf("one request every %v", time.Duration(float64(time.Second)/r).Round(time.Millisecond))
	default:
		return fmt.Sprintf("%g requests a second", r)
	}
}

// Wait blocks until the next request may go, or ctx ends (then it returns ctx's error).
func (p *Pacer) Wait(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := p.now()
	r := p.lim.ReserveN(now, 1) // never refused: one token, and the burst is one
	d := r.DelayFrom(now)
	if d <= 0 {
		return nil
	}
	if d > p.reportsAfter() {
		ReportWait(ctx, p.reason, now.Add(d))
	}
	if err := p.sleep(ctx, d); err != nil {
		r.CancelAt(p.now()) // the request is not sent: give its slot back
		return err
	}
	return nil
}

// reportsAfter is the longest pacing delay that is the normal spacing of requests,
// not a wait to tell on-call about: three intervals, and at least ReportPacingAfter.
// Streams landed in parallel share one Pacer (account_usage_daily reads several Pendo
// streams through one request a second), so each request routinely queues behind
// the others' for an interval or two; reporting those would show "waiting for the
// pacing" all the time and hide the waits that matter. Three intervals is more
// queueing than a few parallel streams make; five seconds, because a pause shorter
// than that never looks stuck to anyone watching a run.
func (p *Pacer) reportsAfter() time.Duration {
	after := ReportPacingAfter
	if r := p.PerSecond(); r > 0 {
		after = max(after, time.Duration(3*float64(time.Second)/r))
	}
	return after
}

// Tuning is how a configured Source spends its API's limits: the paces it keeps and
// how long one request may take. mesh doctor shows it, so that a changed variable can
// be seen to take effect.
type Tuning struct {
	Pacers      []*Pacer      // HubSpot keeps two: list calls and search calls
	HTTPTimeout time.Duration // the longest one request may take
}

// Tuned is a Source that says its Tuning.
type Tuned interface {
	Tuning() Tuning
}

// String is "HubSpot's request pacing: 9 requests a second, HubSpot's search pacing:
// 4 requests a second, HTTP timeout 1m0s".
func (t Tuning) String() string {
	var parts []string
	for _, p := range t.Pacers {
		parts = append(parts, p.reason+": "+p.String())
	}
	return strings.Join(append(parts, "HTTP timeout "+t.HTTPTimeout.String()), ", ")
}

// Pace resolves a configured pace in requests a second: 0 takes def, and a negative
// value leaves requests unpaced (tests, a local sandbox), as NewPacer takes it.
func Pace(configured, def float64) float64 {
	switch {
	case configured < 0:
		return 0
	case configured == 0:
		return def
	}
	return configured
}
