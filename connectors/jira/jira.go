// Package jira is the Jira Cloud REST v3 connector: issues read incrementally
// through /search/jql, every issue's full changelog through /issue/{id}/changelog,
// and projects in full on every sync. It works against a real Jira Cloud site or
// the dev/sandbox imitation alike.
//
// Incremental reads bound JQL by epoch milliseconds, never by a bare datetime: Jira
// reads "2024/03/02 09:15" in the API user's profile time zone, not UTC, which
// skips or repeats issues whenever that zone is not UTC.
//
// Records are returned exactly as Jira sent them; a changelog entry is wrapped as
// {"issue":{"id":…,"key":…},"history":<the entry as sent>} because the entry
// itself does not name its issue.
package jira

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/source"
)

const (
	maxIssues       = 100 // /search/jql maxResults
	maxChangelog    = 100 // /issue/{id}/changelog maxResults
	maxProjects     = 50  // /project/search maxResults
	defaultLookback = 5 * time.Minute
	apiPath         = "/rest/api/3"
)

// Source is a configured Jira client and its streams. It is safe for concurrent
// use; its streams share its pacing.
type Source struct {
	// api sends every call below the site's /rest/api/3: Basic credentials, one
	// pace — here, not in StreamSpec.RequestsPerSecond, because Jira limits a whole
	// site and three streams read in parallel share one budget —, the token and
	// the credentials scrubbed from every error.
	api      *source.API
	projects []string
	lookback time.Duration
	pageSize int
	now      func() time.Time

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
		now:      o.Now,
	}
	for _, p := range cfg.Projects {
		if p = strings.ToUpper(p); !slices.Contains(s.projects, p) {
			s.projects = append(s.projects, p)
		}
	}
	if s.lookback == 0 {
		s.lookback = defaultLookback
	}
	if s.now == nil {
		s.now = time.Now
	}
	api, err := source.NewAPI(source.APIOptions{
		Title: "Jira", BaseURL: strings.TrimRight(cfg.BaseURL, "/") + apiPath, BaseURLVar: BaseURLEnv,
		HTTPClient: o.HTTPClient, Timeout: cmp.Or(o.HTTPTimeout, DefaultHTTPTimeout),
		Auth:     source.Basic(cfg.Email, cfg.Token),
		Pacer:    source.NewPacer(source.Pace(o.RequestsPerSecond, DefaultRequestsPerSecond), "Jira's request pacing"),
		Header:   http.Header{"User-Agent": {"meshflow-jira/1"}},
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

// streams are src's streams.
func streams(src *Source) []source.Stream {
	return []source.Stream{newIssues(src), newChangelog(src), newProjects(src)}
}

// Name is "jira".
func (s *Source) Name() string { return "jira" }

// Streams are issues, issue_changelog and projects.
func (s *Source) Streams() []source.Stream { return slices.Clone(s.streams) }

// Tuning is the pacing of all calls and the HTTP timeout.
func (s *Source) Tuning() source.Tuning {
	return s.api.Tuning()
}

// Check reads the API user (/myself): the cheapest call that proves the site URL,
// the email and the token.
func (s *Source) Check(ctx context.Context) error {
	_, err := s.do(ctx, "jira: check", http.MethodGet, "/myself", nil)
	return err
}

// limit is the page size for an endpoint whose maximum is maxSize.
func (s *Source) limit(maxSize int) int {
	if s.pageSize <= 0 {
		return maxSize
	}
	return min(s.pageSize, maxSize)
}

// do sends one request and returns the body of a 2xx answer; any other outcome is
// an *errs.Error of the right kind (classify).
func (s *Source) do(ctx context.Context, op, method, pathQuery string, body any) ([]byte, error) {
	r, err := s.api.Do(ctx, source.Call{Op: op, Method: method, Path: pathQuery, Body: body})
	if err != nil {
		return nil, err
	}
	return r.Body, nil
}

// apiError is Jira's error body; errors and warningMessages are sometimes missing.
type apiError struct {
	ErrorMessages   []string          `json:"errorMessages"`
	Errors          map[string]string `json:"errors"`
	WarningMessages []string          `json:"warningMessages"`
}

func (e apiError) text() string {
	msgs := slices.Clone(e.ErrorMessages)
	keys := make([]string, 0, len(e.Errors))
	for k := range e.Errors {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		msgs = append(msgs, k+": "+e.Errors[k])
	}
	return strings.Join(msgs, "; ")
}

// classify maps a non-2xx answer to an error kind, once:
//
//	401, 403        Permission (never retried), naming JIRA_EMAIL and JIRA_API_TOKEN
//	404             NotFound, naming JIRA_BASE_URL
//	410             Invalid: Jira removed the endpoint; its message names the replacement
//	429             RateLimited, RetryAfter from Retry-After (or X-RateLimit-Reset)
//	503 + Retry-After  Transient with RetryAfter: Jira sheds load this way too
//	408, 5xx        Transient
//	400, other 4xx  Invalid, with Jira's errorMessages and errors
func (s *Source) classify(op string, r *source.Response) error {
	var e apiError
	said := ""
	if json.Unmarshal(r.Body, &e) == nil {
		said = e.text()
	}
	code := r.Status
	if said == "" {
		said = http.StatusText(code) // HTML from a proxy, or empty
	}
	said = r.Scrub(said)
	wait, hasWait := s.retryAfter(r.Header)
	switch {
	case code == http.StatusUnauthorized:
		return errs.Errorf(errs.Permission, op, "Jira rejected the credentials (401): %s must be the email of the Atlassian account and %s one of its API tokens (create one at %s; tokens expire). Jira said: %s",
			EmailEnv, TokenEnv, TokenURL, said)
	case code == http.StatusForbidden:
		return errs.Errorf(errs.Permission, op, "the account in %s lacks a permission (403): it needs Browse Projects on every configured project. Jira said: %s", EmailEnv, said)
	case code == http.StatusNotFound:
		return errs.Errorf(errs.NotFound, op, "Jira answered 404: check that %s is the site root, such as https://acme.atlassian.net. Jira said: %s", BaseURLEnv, said)
	case code == http.StatusGone:
		return errs.Errorf(errs.Invalid, op, "Jira has removed this API (410 Gone); the connector must migrate to the endpoint Jira names. Jira said: %s", said)
	case code == http.StatusTooManyRequests:
		reason := r.Scrub(r.Header.Get("RateLimit-Reason"))
		e := errs.Errorf(errs.RateLimited, op, "rate limited (429 %s), retry in %v: %s", orUnknown(reason), wait, said)
		e.RetryAfter, e.Limit = wait, "Jira's rate limit"
		if reason != "" {
			e.Limit += " (" + reason + ")" // jira-burst-based, jira-quota-tenant-based, …
		}
		return e
	case code == http.StatusServiceUnavailable && hasWait:
		e := errs.Errorf(errs.Transient, op, "Jira is shedding load (503 %s), retry in %v: %s", orUnknown(r.Scrub(r.Header.Get("RateLimit-Reason"))), wait, said)
		e.RetryAfter, e.Limit = wait, "Jira's load shedding (HTTP 503)"
		return e
	case code == http.StatusRequestTimeout || code >= 500:
		return errs.Errorf(errs.Transient, op, "Jira answered HTTP %d: %s", code, said)
	default:
		return errs.Errorf(errs.Invalid, op, "Jira refused the request (HTTP %d): %s", code, said)
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "no reason given"
	}
	return s
}

// retryAfter reads how long Jira asked us to wait: Retry-After (seconds or an
// HTTP date), else X-RateLimit-Reset (ISO-8601). Without either, 0: the reader
// backs off exponentially with jitter.
func (s *Source) retryAfter(h http.Header) (time.Duration, bool) {
	now := s.now()
	if wait, ok := source.RetryAfter(h, now); ok {
		return wait, true
	}
	if v := strings.TrimSpace(h.Get("X-RateLimit-Reset")); v != "" {
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00", "2006-01-02T15:04:05.000-0700"} {
			if t, err := time.Parse(layout, v); err == nil {
				return max(0, t.Sub(now)), true
			}
		}
	}
	return 0, false
}

// get issues a GET of path with query q.
func (s *Source) get(ctx context.Context, op, path string, q url.Values) ([]byte, error) {
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	return s.do(ctx, op, http.MethodGet, path, nil)
}

// jiraTime parses Jira's timestamp ("2024-03-02T09:15:44.123+0000") to epoch ms;
// other RFC 3339 shapes are accepted too.
func jiraTime(s string) (int64, error) {
	t, err := source.ParseTime(s)
	if err != nil {
		return 0, err
	}
	return t.(time.Time).UnixMilli(), nil
}

// searchJQL is the JQL of an incremental window: issues of the configured
// projects updated in [since, until] (epoch ms; until < 0 = open-ended), oldest
// change first. Bounds are epoch milliseconds, never a bare datetime, which Jira
// would read in the API user's profile time zone.
func searchJQL(projects []string, since, until int64) string {
	var clauses []string
	if len(projects) > 0 {
		quoted := make([]string, len(projects))
		for i, p := range projects {
			quoted[i] = strconv.Quote(p) // keys are validated: [A-Z][A-Z0-9_]*
		}
		clauses = append(clauses, "project in ("+strings.Join(quoted, ", ")+")")
	}
	clauses = append(clauses, fmt.Sprintf("updated >= %d", max(0, since)))
	if until >= 0 {
		clauses = append(clauses, fmt.Sprintf("updated <= %d", until))
	}
	return strings.Join(clauses, " AND ") + " ORDER BY updated ASC, key ASC"
}

func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
