// Package hubspot is the HubSpot CRM v3 connector: contacts, companies and deals,
// read in full through the list endpoints and incrementally through search, with
// deletes (archived records) caught on every sync. It works against
// api.hubapi.com or the dev/sandbox imitation alike.
//
// Records are returned exactly as HubSpot sent them; the connector only decides
// which to return and where to resume.
package hubspot

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/source"
)

const (
	maxListLimit    = 100
	maxSearchLimit  = 200
	defaultLookback = 5 * time.Minute
)

// Source is a configured HubSpot client and its streams. It is safe for
// concurrent use; its streams share its pacing.
type Source struct {
	// api sends every call: the token, list calls at the API's pace, the token
	// scrubbed from every error.
	api      *source.API
	lookback time.Duration
	pageSize int
	tz       *time.Location
	now      func() time.Time

	// The limiters live here, not in StreamSpec.RequestsPerSecond, because
	// HubSpot's limits are per account: the source.Reader's limiter is per reader,
	// so three streams read in parallel would each pace alone, and it cannot tell a
	// search call (≈5/s) from a list call (≈10–19/s, the API's pacer).
	search *source.Pacer

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
		lookback: cfg.Lookback,
		pageSize: cfg.PageSize,
		tz:       o.AccountTimeZone,
		now:      o.Now,
		search:   source.NewPacer(source.Pace(o.SearchRequestsPerSecond, DefaultSearchRequestsPerSecond), "HubSpot's search pacing"),
	}
	if s.lookback == 0 {
		s.lookback = defaultLookback
	}
	if s.tz == nil {
		s.tz = time.UTC
	}
	if s.now == nil {
		s.now = time.Now
	}
	api, err := source.NewAPI(source.APIOptions{
		Title: "HubSpot", BaseURL: cmp.Or(cfg.BaseURL, DefaultBaseURL), BaseURLVar: BaseURLEnv,
		HTTPClient: o.HTTPClient, Timeout: cmp.Or(o.HTTPTimeout, DefaultHTTPTimeout),
		Auth:     source.Bearer(cfg.Token),
		Pacer:    source.NewPacer(source.Pace(o.RequestsPerSecond, DefaultRequestsPerSecond), "HubSpot's request pacing"),
		Header:   http.Header{"User-Agent": {"meshflow-hubspot/1"}},
		Classify: s.classify,
		Now:      s.now,
	})
	if err != nil {
		return nil, err
	}
	s.api = api
	s.streams = streams(s)
	return s, nil
}

// streams are src's streams, one per CRM object.
func streams(src *Source) []source.Stream {
	var out []source.Stream
	for _, o := range objects {
		out = append(out, newStream(src, o))
	}
	return out
}

// Name is "hubspot".
func (s *Source) Name() string { return "hubspot" }

// Streams are contacts, companies and deals.
func (s *Source) Streams() []source.Stream { return slices.Clone(s.streams) }

// Tuning is the pacing of list and search calls and the HTTP timeout.
func (s *Source) Tuning() source.Tuning {
	return source.Tuning{Pacers: []*source.Pacer{s.api.Pacer(), s.search}, HTTPTimeout: s.api.Timeout()}
}

// Check lists one contact: the cheapest call that proves the token and a scope.
func (s *Source) Check(ctx context.Context) error {
	_, err := s.do(ctx, "hubspot: check", http.MethodGet, "/crm/v3/objects/contacts?limit=1", nil)
	return err
}

// do sends one request and returns the body of a 2xx answer; any other outcome is
// an *errs.Error of the right kind (classify). A search (the only POST) is paced
// apart from lists.
func (s *Source) do(ctx context.Context, op, method, pathQuery string, body any) ([]byte, error) {
	c := source.Call{Op: op, Method: method, Path: pathQuery, Body: body}
	if body != nil {
		c.Pacer = s.search
	}
	r, err := s.api.Do(ctx, c)
	if err != nil {
		return nil, err
	}
	return r.Body, nil
}

// apiError is HubSpot's error body, across its variants.
type apiError struct {
	Message       string `json:"message"`
	Category      string `json:"category"`
	PolicyName    string `json:"policyName"`
	CorrelationID string `json:"correlationId"`
	Errors        []struct {
		Context struct {
			RequiredGranularScopes []string `json:"requiredGranularScopes"`
			RequiredScopes         []string `json:"requiredScopes"`
		} `json:"context"`
	} `json:"errors"`
}

// classify maps a non-2xx answer to an error kind, once:
//
//	401, 403        Permission (never retried), naming HUBSPOT_TOKEN or the missing scope
//	429             RateLimited with RetryAfter (10 s rolling, 1 s secondly, or Retry-After);
//	                DAILY: Quota until the account's next midnight
//	400, other 4xx  Invalid, with HubSpot's message
//	404             NotFound
//	408, 5xx        Transient
func (s *Source) classify(op string, r *source.Response) error {
	var e apiError
	if json.Unmarshal(r.Body, &e) != nil || e.Message == "" {
		e.Message = http.StatusText(r.Status) // HTML from a proxy, or empty
	}
	said := r.Scrub(e.Message)
	// Every field the server sent is scrubbed, not only the message: the error must
	// not carry the token even from a server that echoes it somewhere else.
	e.Category, e.PolicyName, e.CorrelationID = r.Scrub(e.Category), r.Scrub(e.PolicyName), r.Scrub(e.CorrelationID)
	if e.CorrelationID != "" {
		said += " (correlation id " + e.CorrelationID + ")"
	}
	code := r.Status
	switch {
	case code == http.StatusUnauthorized:
		return errs.Errorf(errs.Permission, op, "HubSpot rejected the token (401 %s): set %s to a valid private app access token. HubSpot said: %s",
			e.Category, TokenEnv, said)
	case code == http.StatusForbidden:
		var scopes []string
		for _, x := range e.Errors {
			scopes = append(scopes, x.Context.RequiredGranularScopes...)
			scopes = append(scopes, x.Context.RequiredScopes...)
		}
		need := r.Scrub(strings.Join(scopes, ", "))
		if need == "" {
			need = strings.Join(RequiredScopes, ", ")
		}
		return errs.Errorf(errs.Permission, op, "the private app behind %s lacks a scope (403 %s): grant it %s. HubSpot said: %s",
			TokenEnv, e.Category, need, said)
	case code == http.StatusTooManyRequests:
		return s.rateLimited(op, r, e.PolicyName, said)
	case code == http.StatusNotFound:
		return errs.Errorf(errs.NotFound, op, "HTTP 404: %s", said)
	case code == http.StatusRequestTimeout || code >= 500:
		return errs.Errorf(errs.Transient, op, "HubSpot answered HTTP %d: %s", code, said)
	default:
		return errs.Errorf(errs.Invalid, op, "HubSpot refused the request (HTTP %d %s): %s", code, e.Category, said)
	}
}

func (s *Source) rateLimited(op string, r *source.Response, policy, said string) error {
	now := s.now()
	if policy == "DAILY" {
		until := nextMidnight(now, s.tz)
		e := errs.Errorf(errs.Quota, op, "daily API limit reached (429 DAILY); it resets at %s: %s", until.Format(time.RFC3339), said)
		e.Until, e.Limit = until, "HubSpot's daily limit"
		e.RetryAfter = until.Sub(now)
		return e
	}
	wait, limit := 10*time.Second, "HubSpot's 10-second limit" // TEN_SECONDLY_ROLLING; its wait is the safe guess for unknown policies
	if policy == "SECONDLY" {
		wait, limit = time.Second, "HubSpot's per-second limit"
	} else if policy != "TEN_SECONDLY_ROLLING" {
		limit = "HubSpot's rate limit"
	}
	if ra, ok := source.RetryAfter(r.Header, now); ok {
		wait = ra
	}
	if policy == "" {
		policy = "unknown policy"
	}
	e := errs.Errorf(errs.RateLimited, op, "rate limited (429 %s), retry in %v: %s", policy, wait, said)
	e.RetryAfter, e.Limit = wait, limit
	return e
}

// nextMidnight is the start of the day after now's day in tz.
func nextMidnight(now time.Time, tz *time.Location) time.Time {
	y, m, d := now.In(tz).Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, tz)
}

// get issues a GET of path with query q.
func (s *Source) get(ctx context.Context, op, path string, q url.Values) ([]byte, error) {
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	return s.do(ctx, op, http.MethodGet, path, nil)
}
