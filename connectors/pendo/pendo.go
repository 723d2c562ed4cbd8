// Package pendo is the Pendo connector: pages and features (full lists), visitors
// and accounts (incremental on metadata.auto.lastupdated), and page and feature
// events aggregated per visitor and day, read one subscription-local day per
// request. It works against app.pendo.io or the dev/sandbox imitation alike.
//
// Pendo paginates nothing: a list or an aggregation answers with every row at
// once, so the unit of progress is the request — one day of events, one list.
// Records are returned as Pendo sent them; event rows get two fields injected:
// "_meshflow_key" (see EventKey), because they have no id of their own, and
// "_meshflow_date", the day bucket's date in the subscription's time zone,
// because the bucket's instant alone does not say which day it starts.
package pendo

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/source"
)

const (
	maxBody = 512 << 20 // an unpaginated day of events can be large; guard against a runaway answer

	// rateLimitWait is the first wait after a 429 (Pendo sends no Retry-After); each
	// further 429 in a row doubles it, up to maxRateLimitWait.
	rateLimitWait    = 30 * time.Second
	maxRateLimitWait = 2 * time.Minute
)

// Source is a configured Pendo client and its streams. It is safe for
// concurrent use; its streams share its pacing.
type Source struct {
	// api sends every request: the key in its header, one pace for all streams
	// (Pendo's limits are per subscription), the key scrubbed from every error.
	api      *source.API
	tz       *time.Location
	tzName   string
	lookback int
	history  int
	now      func() time.Time

	// throttled counts 429s in a row, to back off exponentially from rateLimitWait.
	throttled atomic.Int32

	streams []source.Stream
}

var _ source.Source = (*Source)(nil)

// New validates cfg and returns a Source; opts may be nil.
func New(cfg Config, opts *Options) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	s := &Source{
		tzName:   cfg.TimeZone,
		lookback: cfg.LookbackDays,
		history:  cfg.HistoryDays,
		now:      o.Now,
	}
	if s.tzName == "" {
		s.tzName = DefaultTimeZone
	}
	s.tz, _ = time.LoadLocation(s.tzName) // Validate loaded it once already
	switch {
	case s.lookback == 0:
		s.lookback = DefaultLookbackDays
	case s.lookback < 0:
		s.lookback = 0
	}
	if s.history == 0 {
		s.history = DefaultHistoryDays
	}
	if s.now == nil {
		s.now = time.Now
	}
	interval := cfg.MinInterval
	if interval == 0 {
		interval = DefaultMinInterval
	}
	perSecond := 0.0 // a negative interval: unpaced
	if interval > 0 {
		perSecond = float64(time.Second) / float64(interval)
	}
	api, err := source.NewAPI(source.APIOptions{
		Title: "Pendo", BaseURL: cmp.Or(cfg.BaseURL, DefaultBaseURL), BaseURLVar: BaseURLEnv,
		HTTPClient: o.HTTPClient, Timeout: cmp.Or(o.HTTPTimeout, DefaultHTTPTimeout),
		Auth:     source.APIKeyHeader("x-pendo-integration-key", cfg.IntegrationKey, ""),
		Pacer:    source.NewPacer(perSecond, "Pendo's request pacing"),
		Header:   http.Header{"User-Agent": {"meshflow-pendo/1"}},
		Classify: s.classify,
		MaxBody:  maxBody,
		Now:      s.now,
	})
	if err != nil {
		return nil, err
	}
	s.api = api
	s.streams = streams(s)
	return s, nil
}

// streams are src's streams.
func streams(src *Source) []source.Stream {
	return []source.Stream{
		newListStream(src, "pages", "/api/v1/page", pageFields),
		newListStream(src, "features", "/api/v1/feature", featureFields),
		newEventStream(src, "page_events", "pageEvents", "pageId", "page_id", "The page viewed (pages.id)."),
		newEventStream(src, "feature_events", "featureEvents", "featureId", "feature_id", "The feature clicked (features.id)."),
		newMetaStream(src, "visitors", "visitors", "visitorId", visitorFields),
		newMetaStream(src, "accounts", "accounts", "accountId", accountFields),
	}
}

// Name is "pendo".
func (s *Source) Name() string { return "pendo" }

// Streams are pages, features, page_events, feature_events, visitors and accounts.
func (s *Source) Streams() []source.Stream { return slices.Clone(s.streams) }

// Tuning is the pacing of all requests and the HTTP timeout.
func (s *Source) Tuning() source.Tuning {
	return s.api.Tuning()
}

// Check aggregates one account: the cheapest call that proves the key.
func (s *Source) Check(ctx context.Context) error {
	_, err := s.aggregate(ctx, "pendo: check", "meshflow-check", []any{
		map[string]any{"source": map[string]any{"accounts": nil}},
		map[string]any{"limit": 1},
	})
	return err
}

// aggregate posts a pipeline and returns its results.
func (s *Source) aggregate(ctx context.Context, op, requestID string, pipeline []any) ([]json.RawMessage, error) {
	body := map[string]any{
		"response": map[string]any{"mimeType": "application/json"},
		"request":  map[string]any{"requestId": requestID, "pipeline": pipeline},
	}
	b, err := s.do(ctx, op, http.MethodPost, "/api/v1/aggregation", body)
	if err != nil {
		return nil, err
	}
	var resp struct {
		Results *[]json.RawMessage `json:"results"`
	}
	if err := json.Unmarshal(b, &resp); err != nil || resp.Results == nil {
		// A body cut off in transit, or not an aggregation answer: try again.
		return nil, errs.Errorf(errs.Transient, op, "undecodable aggregation response (%d bytes): %s", len(b), truncate(s.api.Scrub(string(b)), 120))
	}
	return *resp.Results, nil
}

// do sends one request and returns the body of a 2xx answer; any other outcome is
// an *errs.Error of the right kind (classify). A 2xx ends a run of 429s.
func (s *Source) do(ctx context.Context, op, method, path string, body any) ([]byte, error) {
	r, err := s.api.Do(ctx, source.Call{Op: op, Method: method, Path: path, Body: body})
	if err != nil {
		return nil, err
	}
	s.throttled.Store(0)
	return r.Body, nil
}

// classify maps a non-2xx answer to an error kind, once:
//
//	401, 403   Permission (never retried), naming PENDO_INTEGRATION_KEY
//	429        RateLimited: Retry-After if sent, else 30 s doubling per 429 in a row, up to 2 min
//	404        NotFound
//	408, 5xx   Transient
//	other 4xx  Invalid, with Pendo's message
func (s *Source) classify(op string, r *source.Response) error {
	said := strings.TrimSpace(r.Scrub(string(r.Body)))
	code := r.Status
	if said == "" || strings.HasPrefix(said, "<") { // empty, or an HTML page from a proxy
		said = http.StatusText(code)
	}
	said = truncate(said, 300)
	switch {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return errs.Errorf(errs.Permission, op, "Pendo rejected the integration key (HTTP %d): set %s to a valid integration key of this subscription (Settings → Integrations → Integration Keys), and %s to its region's URL. Pendo said: %s",
			code, IntegrationKeyEnv, BaseURLEnv, said)
	case code == http.StatusTooManyRequests:
		n := s.throttled.Add(1)
		wait := min(rateLimitWait<<min(n-1, 8), maxRateLimitWait)
		if d, ok := r.RetryAfter(); ok {
			wait = d
		}
		e := errs.Errorf(errs.RateLimited, op, "rate limited (HTTP 429, %d in a row), retry in %v: %s", n, wait, said)
		e.RetryAfter, e.Limit = wait, "Pendo's rate limit"
		return e
	case code == http.StatusNotFound:
		return errs.Errorf(errs.NotFound, op, "HTTP 404 (is %s the subscription's region, e.g. %s?): %s", BaseURLEnv, DefaultBaseURL, said)
	case code == http.StatusRequestTimeout || code >= 500:
		return errs.Errorf(errs.Transient, op, "Pendo answered HTTP %d: %s", code, said)
	default:
		return errs.Errorf(errs.Invalid, op, "Pendo refused the request (HTTP %d): %s", code, said)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
