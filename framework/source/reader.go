package source

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"time"

	"golang.org/x/time/rate"

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
}

// Reader drives a Stream page by page. It is the one place where paging, pacing,
// retries and cancellation are handled for every connector.
type Reader struct {
	stream  Stream
	name    string
	opts    ReaderOptions
	limiter *rate.Limiter
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
		o.Sleep = sleepCtx
	}
	spec := s.Spec()
	// The limiter paces this reader only; a connector whose API limits a whole account
	// across streams paces inside its client instead.
	lim := rate.NewLimiter(rate.Inf, 1)
	if spec.RequestsPerSecond > 0 {
		lim = rate.NewLimiter(rate.Limit(spec.RequestsPerSecond), 1)
	}
	return &Reader{stream: s, name: spec.Name, opts: o, limiter: lim}
}

// Stats counts what one Read did.
type Stats struct {
	Pages, Records, Retries int
	Waited                  time.Duration
}

// Read pages through the stream from req.Cursor, handing each page to sink in order.
// A page counts as consumed only when sink returns nil, so the cursor a caller keeps
// after sink is always safe to resume from. Read stops at the last page, on a sink
// error, on a non-retryable error, or when ctx ends.
func (r *Reader) Read(ctx context.Context, req PageRequest, sink func(Page) error) (Stats, error) {
	var st Stats
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
		if err := r.limiter.Wait(ctx); err != nil {
			return Page{}, errs.E(errs.Canceled, "read "+name, ctx.Err())
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
		st.Waited += wait
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

func (r *Reader) exp(attempt int) time.Duration {
	d := r.opts.BaseBackoff << min(attempt-1, 10)
	return d + time.Duration(rand.Int64N(int64(d)/4+1)) // jitter so parallel readers spread out
}

func sleepCtx(ctx context.Context, d time.Duration) error {
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
