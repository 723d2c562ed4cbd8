// Package crunchbase is the Crunchbase API v4 connector: organizations, read
// through the search endpoint with an explicit field list, keyset paging on uuid
// and an `updated_at gte` window for incremental syncs. It works against
// api.crunchbase.com or the dev/sandbox imitation alike.
//
// Records are returned exactly as Crunchbase sent them ({uuid, properties}); the
// connector only decides which to return and where to resume.
package crunchbase

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/secret"
	"github.com/meshflow/meshflow/framework/source"
)

const (
	defaultLookback = time.Hour
)

// Source is a configured Crunchbase client and its streams. It is safe for
// concurrent use; its streams share its pacing.
type Source struct {
	base string
	// key sits behind a pointer: fmt prints unexported fields by reflection,
	// bypassing secret.Value's redaction, but prints a pointer as an address.
	key      *secret.Value
	pageSize int
	lookback time.Duration
	http     *http.Client
	now      func() time.Time
	jitter   func() time.Duration

	// limiter paces all calls: Crunchbase's limit is per key, across endpoints.
	limiter *source.Pacer

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
		base:     strings.TrimRight(cfg.BaseURL, "/"),
		key:      &cfg.UserKey,
		pageSize: cfg.PageSize,
		lookback: o.Lookback,
		http:     source.Client(o.HTTPClient, o.HTTPTimeout, DefaultHTTPTimeout),
		now:      o.Now,
		jitter:   o.Jitter,
	}
	if s.base == "" {
		s.base = DefaultBaseURL
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
	s.limiter = source.NewPacer(source.Pace(float64(cfg.RequestsPerMinute)/60, DefaultRequestsPerMinute/60.0), "Crunchbase's request pacing")
	s.streams = []source.Stream{newOrganizations(s)}
	return s, nil
}

// Name is "crunchbase".
func (s *Source) Name() string { return "crunchbase" }

// Streams is organizations.
func (s *Source) Streams() []source.Stream { return slices.Clone(s.streams) }

// Tuning is the pacing of all calls and the HTTP timeout.
func (s *Source) Tuning() source.Tuning {
	return source.Tuning{Pacers: []*source.Pacer{s.limiter}, HTTPTimeout: s.http.Timeout}
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
// an *errs.Error of the right kind. It is the one place HTTP failures are mapped.
func (s *Source) do(ctx context.Context, op, method, path string, body any) ([]byte, error) {
	var payload io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, errs.E(errs.Internal, op, err)
		}
		payload = bytes.NewReader(b)
	}
	if err := s.limiter.Wait(ctx); err != nil {
		return nil, errs.E(errs.Canceled, op, firstErr(ctx.Err(), err))
	}
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, payload)
	if err != nil {
		return nil, errs.E(errs.Invalid, op, err)
	}
	// The header, never the user_key query parameter: URLs end up in logs.
	req.Header.Set("X-cb-user-key", s.key.Reveal())
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "meshflow-crunchbase/1")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, b, err := source.Send(ctx, s.http, op, req, s.scrub, 0)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 == 2 {
		return b, nil
	}
	return nil, s.classify(op, resp.StatusCode, b)
}

func firstErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// classify maps a non-2xx answer to an error kind, once:
//
//	401, 403   Permission (never retried), naming CRUNCHBASE_USER_KEY
//	429        RateLimited until the next minute boundary plus jitter (the 429 says nothing more)
//	404        NotFound
//	408, 5xx   Transient
//	400, 4xx   Invalid, with Crunchbase's messages
func (s *Source) classify(op string, code int, body []byte) error {
	said := s.scrub(messages(body))
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

// scrub removes the key from text that came from elsewhere (a server message, a
// transport error), so no error can carry it even if a server echoes it.
func (s *Source) scrub(text string) string {
	if k := s.key.Reveal(); k != "" {
		text = strings.ReplaceAll(text, k, secret.Redacted)
	}
	return text
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
