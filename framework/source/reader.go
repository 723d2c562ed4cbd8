package source

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/meshflow/meshflow/framework/errs"
)

// ReaderOptions tunes a Reader. The zero value is usable.
type ReaderOptions struct {
	// MaxAttempts bounds tries of one page on Transient errors (default 5).
	MaxAttempts int
	// MaxInlineWait is the longest rate-limit wait done inside the reader; a longer one
	// is returned to the caller (a workflow waits it out with a durable timer). Default 2 min.
	MaxInlineWait time.Duration
	// BaseBackoff is the first Transient backoff, doubled per attempt (default 500 ms).
	BaseBackoff time.Duration
	// Sleep waits; tests replace it. It must return ctx.Err() when ctx ends first.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock a reported Wait's Until is computed from [time.Now].
	Now func() time.Time
	// OnWait is told when the read starts waiting on a source's limit (a 429, a
	// secondary rate limit, pacing longer than a moment), so a landing can say what it
	// waits for instead of looking stuck. nil = nobody listens. The Reader reports its
	// own waits on RateLimited errors (and Transient ones carrying RetryAfter); a
	// connector reports the waits inside its client with ReportWait.
	OnWait func(Wait)
}

// Wait is a pause a read makes for a source's limits.
type Wait struct {
	Reason string    `json:"reason"` // what is waited for, e.g. "the GitHub secondary rate limit"
	Until  time.Time `json:"until"`  // when the read goes on
	Waits  int       `json:"waits"`  // how many waits this read has made so far, this one included
}

// Reader drives a Stream page by page. It is the one place where paging, pacing,
// retries and cancellation are handled for every connector.
type Reader struct {
	stream Stream
	name   string
	opts   ReaderOptions
	pacer  *Pacer
}

// NewReader returns a Reader for s; opts may be nil.
func NewReader(s Stream, opts *ReaderOptions) *Reader {
	o := ReaderOptions{}
	if opts != nil {
		o = *opts
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 5
	}
	if o.MaxInlineWait <= 0 {
		o.MaxInlineWait = 2 * time.Minute
	}
	if o.BaseBackoff <= 0 {
		o.BaseBackoff = 500 * time.Millisecond
	}
	if o.Sleep == nil {
		o.Sleep = Sleep
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	spec := s.Spec()
	// This pacer paces this reader only; a connector whose API limits a whole account
	// across streams paces inside its client instead.
	pacer := NewPacer(spec.RequestsPerSecond, "the pacing of "+spec.Name).WithClock(o.Now, o.Sleep)
	return &Reader{stream: s, name: spec.Name, opts: o, pacer: pacer}
}

// Stats counts what one Read did.
type Stats struct {
	Pages, Records, Retries int
	// RateLimited counts the retries the source asked for by rate limiting (a 429).
	RateLimited int
	Waited      time.Duration
	// Waits counts the waits on the source's limits reported through OnWait: the
	// Reader's own and the connector's (ReportWait).
	Waits int
}

// Read pages through the stream from req.Cursor, handing each page to sink in order.
// A page counts as consumed only when sink returns nil, so the cursor a caller keeps
// after sink is always safe to resume from. Read stops at the last page, on a sink
// error, on a non-retryable error, or when ctx ends.
func (r *Reader) Read(ctx context.Context, req PageRequest, sink func(Page) error) (st Stats, err error) {
	w := &waits{on: r.opts.OnWait}
	ctx = context.WithValue(ctx, waitsKey{}, w)
	defer func() { st.Waits = w.count() }()
	name := r.name
	for {
		page, err := r.fetch(ctx, req, &st)
		if err != nil {
			return st, err
		}
		st.Pages++
		st.Records += len(page.Records)
		if err := sink(page); err != nil {
			if errors.Is(err, ErrStop) {
				return st, nil
			}
			return st, err
		}
		if page.Done {
			return st, nil
		}
		if len(page.Next) == 0 || string(page.Next) == string(req.Cursor) {
			return st, errs.Errorf(errs.Internal, "read "+name, "page %d returned no new cursor and is not the last page: the connector would loop forever", st.Pages)
		}
		req.Cursor = page.Next
	}
}

func (r *Reader) fetch(ctx context.Context, req PageRequest, st *Stats) (Page, error) {
	name := r.name
	for attempt := 1; ; attempt++ {
		if err := r.pacer.Wait(ctx); err != nil {
			return Page{}, errs.E(errs.Canceled, "read "+name, err)
		}
		page, err := r.stream.NextPage(ctx, req)
		if err == nil {
			return page, nil
		}
		if ctx.Err() != nil {
			return Page{}, errs.E(errs.Canceled, "read "+name, ctx.Err())
		}
		wait, retry := r.backoff(err, attempt)
		if !retry {
			return Page{}, err
		}
		st.Retries++
		if errs.KindOf(err) == errs.RateLimited {
			st.RateLimited++
		}
		st.Waited += wait
		if reason, ok := r.waitReason(err); ok {
			ReportWait(ctx, reason, r.opts.Now().Add(wait))
		}
		if err := r.opts.Sleep(ctx, wait); err != nil {
			return Page{}, errs.E(errs.Canceled, "read "+name, err)
		}
	}
}

// backoff decides whether and how long to wait before trying the same page again.
func (r *Reader) backoff(err error, attempt int) (time.Duration, bool) {
	e, _ := errs.As(err)
	switch errs.KindOf(err) {
	case errs.RateLimited:
		wait := time.Duration(0)
		if e != nil {
			wait = e.RetryAfter
		}
		if wait <= 0 {
			wait = r.exp(attempt)
		}
		// A source that keeps saying "slow down" past our patience is handed back.
		if wait > r.opts.MaxInlineWait || attempt > 2*r.opts.MaxAttempts {
			return 0, false
		}
		return wait, true
	case errs.Transient:
		if attempt >= r.opts.MaxAttempts {
			return 0, false
		}
		// A 503 may say when to come back; believe it when it is within our patience.
		if e != nil && e.RetryAfter > 0 && e.RetryAfter <= r.opts.MaxInlineWait {
			return e.RetryAfter, true
		}
		return r.exp(attempt), true
	}
	return 0, false
}

// waitReason names what a wait before retrying after err is for, when it is a wait on
// the source's limits: a rate limit, or a Retry-After the source sent with a 5xx. A
// backoff after a network fault is not one.
func (r *Reader) waitReason(err error) (string, bool) {
	e, _ := errs.As(err)
	switch kind := errs.KindOf(err); {
	case e != nil && e.Limit != "" && (kind == errs.RateLimited || e.RetryAfter > 0):
		return e.Limit, true
	case kind == errs.RateLimited:
		return "a rate limit of the source (reading " + r.name + ")", true
	case kind == errs.Transient && e != nil && e.RetryAfter > 0:
		return "the source's Retry-After (reading " + r.name + ")", true
	}
	return "", false
}

func (r *Reader) exp(attempt int) time.Duration {
	d := r.opts.BaseBackoff << min(attempt-1, 10)
	return d + time.Duration(rand.Int64N(int64(d)/4+1)) // jitter so parallel readers spread out
}

// Sleep waits d, or until ctx ends (then it returns ctx.Err()).
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ReadAll reads every page into memory. For tests and small lookups only: landing streams.
func ReadAll(ctx context.Context, s Stream, req PageRequest, opts *ReaderOptions) ([]json.RawMessage, json.RawMessage, error) {
	var recs []json.RawMessage
	cursor := req.Cursor
	_, err := NewReader(s, opts).Read(ctx, req, func(p Page) error {
		recs = append(recs, p.Records...)
		if len(p.Next) > 0 {
			cursor = p.Next
		}
		return nil
	})
	return recs, cursor, err
}

// ErrStop may be returned by a sink to end a Read early without an error.
var ErrStop = errors.New("stop reading")
