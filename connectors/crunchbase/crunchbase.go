// Package crunchbase is the Crunchbase API v4 connector: organizations, read
// through the search endpoint with an explicit field list, keyset paging on uuid
// and an `updated_at gte` window for incremental syncs. It works against
// api.crunchbase.com or the dev/sandbox imitation alike.
//
// Records are returned exactly as Crunchbase sent them ({uuid, properties}); the
// connector only decides which to return and where to resume.
package crunchbase

import (
	"cmp"
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/source"
)

const (
	defaultLookback = time.Hour
)

// Source is a configured Crunchbase client and its streams. It is safe for
// concurrent use; its streams share its pacing.
type Source struct {
	// api sends every call: the key in its header, one pace for all calls
	// (Crunchbase's limit is per key, across endpoints), the key scrubbed from
	// every error.
	api      *source.API
	pageSize int
	lookback time.Duration
	now      func() time.Time
	jitter   func() time.Duration

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
		pageSize: cfg.PageSize,
		lookback: o.Lookback,
		now:      o.Now,
		jitter:   o.Jitter,
	}
	if s.pageSize == 0 {
		s.pageSize = MaxPageSize
	}
	if s.lookback <= 0 {
		s.lookback = defaultLookback
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.jitter == nil {
		s.jitter = func() time.Duration { return time.Second + rand.N(3*time.Second) }
	}
	api, err := source.NewAPI(source.APIOptions{
		Title: "Crunchbase", BaseURL: cmp.Or(cfg.BaseURL, DefaultBaseURL), BaseURLVar: BaseURLEnv,
		HTTPClient: o.HTTPClient, Timeout: cmp.Or(o.HTTPTimeout, DefaultHTTPTimeout),
		// The header, never the user_key query parameter: URLs end up in logs.
		Auth:     source.APIKeyHeader("X-cb-user-key", cfg.UserKey, ""),
		Pacer:    source.NewPacer(source.Pace(float64(cfg.RequestsPerMinute)/60, DefaultRequestsPerMinute/60.0), "Crunchbase's request pacing"),
		Header:   http.Header{"User-Agent": {"meshflow-crunchbase/1"}},
		Classify: s.classify,
		Now:      s.now,
	})
	if err != nil {
		return nil, err
	}
	s.api = api
	s.streams = []source.Stream{newOrganizations(s)}
	return s, nil
}

// Name is "crunchbase".
func (s *Source) Name() string { return "crunchbase" }

// Streams is organizations.
func (s *Source) Streams() []source.Stream { return slices.Clone(s.streams) }

// Tuning is the pacing of all calls and the HTTP timeout.
func (s *Source) Tuning() source.Tuning {
	return s.api.Tuning()
}

// Check searches for one company: the cheapest call that proves the key may
// search organizations, as the stream does. A search needs field_ids and a query
// (Crunchbase refuses one without it, HTTP 400); "facet_ids includes company" is
// the predicate Crunchbase's own examples use.
func (s *Source) Check(ctx context.Context) error {
	_, err := s.do(ctx, "crunchbase: check", http.MethodPost, "/searches/organizations", map[string]any{
		"field_ids": []string{"identifier"},
		"query":     []any{map[string]any{"type": "predicate", "field_id": "facet_ids", "operator_id": "includes", "values": []string{"company"}}},
		"limit":     1,
	})
	return err
}

// Organization looks one organization up by permalink or uuid, returning its
// properties object with the given fields (Crunchbase's defaults when none).
// Identity products enrich single companies with it.
func (s *Source) Organization(ctx context.Context, id string, fieldIDs ...string) (json.RawMessage, error) {
	op := "crunchbase: organization " + id
	path := "/entities/organizations/" + url.PathEscape(id)
	if len(fieldIDs) > 0 {
		path += "?" + url.Values{"field_ids": {strings.Join(fieldIDs, ",")}}.Encode()
	}
	b, err := s.do(ctx, op, http.MethodGet, path, nil)
	if err != nil {
		return nil, err
	}
	var resp struct {
		Properties json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(b, &resp); err != nil || len(resp.Properties) == 0 {
		return nil, errs.Errorf(errs.Transient, op, "undecodable entity response (%d bytes)", len(b))
	}
	return resp.Properties, nil
}

// do sends one request and returns the body of a 2xx answer; any other outcome is
// an *errs.Error of the right kind (classify).
func (s *Source) do(ctx context.Context, op, method, path string, body any) ([]byte, error) {
	r, err := s.api.Do(ctx, source.Call{Op: op, Method: method, Path: path, Body: body})
	if err != nil {
		return nil, err
	}
	return r.Body, nil
}

// classify maps a non-2xx answer to an error kind, once:
//
//	401, 403   Permission (never retried), naming CRUNCHBASE_USER_KEY
//	429        RateLimited until the next minute boundary plus jitter (the 429 says nothing more)
//	404        NotFound
//	408, 5xx   Transient
//	400, 4xx   Invalid, with Crunchbase's messages
func (s *Source) classify(op string, r *source.Response) error {
	code := r.Status
	said := r.Scrub(messages(r.Body))
	if said == "" {
		said = http.StatusText(code)
	}
	switch {
	case code == http.StatusUnauthorized:
		return errs.Errorf(errs.Permission, op, "Crunchbase rejected the user key (HTTP 401): set %s to the API user key of an account with API access. Crunchbase said: %s", UserKeyEnv, said)
	case code == http.StatusForbidden:
		return errs.Errorf(errs.Permission, op, "the key in %s lacks access (HTTP 403): its plan may not include these fields or endpoints. Crunchbase said: %s", UserKeyEnv, said)
	case code == http.StatusTooManyRequests:
		now := s.now()
		wait := now.Truncate(time.Minute).Add(time.Minute).Sub(now) + s.jitter()
		e := errs.Errorf(errs.RateLimited, op, "rate limited (HTTP 429, %d calls a minute), retry in %v after the minute turns", MaxRequestsPerMinute, wait.Round(time.Millisecond))
		e.RetryAfter, e.Limit = wait, "Crunchbase's per-minute limit"
		return e
	case code == http.StatusNotFound:
		return errs.Errorf(errs.NotFound, op, "HTTP 404: %s", said)
	case code == http.StatusRequestTimeout || code >= 500:
		return errs.Errorf(errs.Transient, op, "Crunchbase answered HTTP %d: %s", code, said)
	default:
		return errs.Errorf(errs.Invalid, op, "Crunchbase refused the request (HTTP %d): %s", code, said)
	}
}

// messages reads Crunchbase's error body — a list of {code, message}, or one of
// them — as text; anything else (HTML from a proxy, nothing) as "".
func messages(body []byte) string {
	type msg struct {
		Code    any    `json:"code"`
		Message string `json:"message"`
		Error   string `json:"error"`
	}
	var list []msg
	if json.Unmarshal(body, &list) != nil {
		var one msg
		if json.Unmarshal(body, &one) != nil {
			return ""
		}
		list = []msg{one}
	}
	var parts []string
	for _, m := range list {
		text := strings.TrimSpace(m.Error + " " + m.Message)
		if m.Code != nil {
			if c, ok := m.Code.(string); ok && c != "" {
				text = c + ": " + text
			}
		}
		if text != "" {
			parts = append(parts, text)
		}
	}
	return truncate(strings.Join(parts, "; "), 400)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
