// Package github is the GitHub REST connector: repositories, issues, pull
// requests, pull request reviews and commits of the configured repositories,
// read incrementally with per-repository high-water marks, and the
// organizations around them (each repository's owner and the organisations
// owning its forks), re-read when their ETag changes. It works against
// api.github.com, GitHub Enterprise Server or the dev/sandbox imitation alike.
//
// Every record is an envelope around the object exactly as GitHub sent it:
//
//	{"repository":"acme/app","item":{...as sent...}}
//
// plus "branch" and "message_headline" for commits, "pull_number" for reviews
// and "relation" (owner or fork) for organizations. GitHub's objects do not
// always name their repository, so the envelope says which configured
// repository a record was read from (an organisation: first found through);
// the item is never changed.
package github

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/secret"
	"github.com/meshflow/meshflow/framework/source"
)

const (
	maxPerPage      = 100
	defaultLookback = 2 * time.Minute
	apiVersion      = "2022-11-28"
	userAgent       = "meshflow-github/1"
)

// Source is a configured GitHub client and its streams. It is safe for
// concurrent use; its streams share its pacing and its secondary-limit backoff.
type Source struct {
	base    *url.URL
	baseStr string
	// graphqlURL is the GraphQL API beside the REST base (see graphqlEndpoint);
	// reviews are read there in bulk unless restReviews.
	graphqlURL  string
	restReviews bool
	// token sits behind a pointer: fmt prints unexported fields by reflection,
	// bypassing secret.Value's redaction, but prints a pointer as an address.
	token    *secret.Value
	repos    []string
	branches []string
	lookback time.Duration
	pageSize int
	http     *http.Client
	longWait time.Duration
	now      func() time.Time

	// The limiter lives here, not in StreamSpec.RequestsPerSecond, because
	// GitHub limits a token across all its requests: readers of several streams
	// in parallel must share one pace.
	lim *source.Pacer
	// secondary counts secondary limits met in a row; the wait grows with it.
	secondary atomic.Int32

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
		baseStr:  strings.TrimRight(cfg.BaseURL, "/"),
		token:    &cfg.Token,
		repos:    slices.Clone(cfg.Repos),
		branches: slices.Clone(cfg.Branches),
		lookback: cfg.Lookback,
		pageSize: cfg.PageSize,
		http:     source.Client(o.HTTPClient, o.HTTPTimeout, DefaultHTTPTimeout),
		longWait: o.LongWait,
		now:      o.Now,
		lim:      source.NewPacer(source.Pace(o.RequestsPerSecond, DefaultRequestsPerSecond), "GitHub's request pacing"),
	}
	if s.baseStr == "" {
		s.baseStr = DefaultBaseURL
	}
	s.base, _ = url.Parse(s.baseStr) // Validate parsed it
	s.graphqlURL, s.restReviews = graphqlEndpoint(s.baseStr), o.RESTReviews
	if s.lookback == 0 {
		s.lookback = defaultLookback
	}
	if s.pageSize == 0 {
		s.pageSize = maxPerPage
	}
	if s.longWait <= 0 {
		s.longWait = 2 * time.Minute
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.streams = streams(s)
	return s, nil
}

// streams are src's streams, one per kind.
func streams(src *Source) []source.Stream {
	var out []source.Stream
	for _, k := range kinds {
		out = append(out, newStream(src, k))
	}
	return out
}

// Name is "github".
func (s *Source) Name() string { return "github" }

// Streams are repositories, issues, pull_requests, pull_request_reviews, commits
// and organizations.
func (s *Source) Streams() []source.Stream { return slices.Clone(s.streams) }

// Tuning is the pacing of all requests and the HTTP timeout.
func (s *Source) Tuning() source.Tuning {
	return source.Tuning{Pacers: []*source.Pacer{s.lim}, HTTPTimeout: s.http.Timeout}
}

// Check asks for the token's rate limit (authenticated, and free against the
// primary limit), then for each configured repository, one request each: a 404
// there names GITHUB_REPOS rather than the first read failing.
func (s *Source) Check(ctx context.Context) error {
	if _, err := s.get(ctx, "github: check", "/rate_limit", "", ""); err != nil {
		return err
	}
	for _, repo := range s.repos {
		if _, err := s.get(ctx, "github: check "+repo, "/repos/"+repo, "", repo); err != nil {
			return err
		}
	}
	return nil
}

// response is a 2xx or a 304.
type response struct {
	status int
	body   []byte
	etag   string
	next   string // the Link rel="next" URL, absolute
}

func (r response) notModified() bool { return r.status == http.StatusNotModified }

// get sends one GET of target (a path below the base URL, or an absolute URL
// from a Link header, followed verbatim) with If-None-Match: etag when given.
// It returns a 2xx or a 304; any other outcome is an *errs.Error of the right
// kind. repo names the repository for error messages. It is the one place HTTP
// failures are mapped.
func (s *Source) get(ctx context.Context, op, target, etag, repo string) (response, error) {
	u, err := s.resolve(target)
	if err != nil {
		return response{}, errs.E(errs.Internal, op, err)
	}
	if err := s.lim.Wait(ctx); err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return response{}, errs.E(errs.Canceled, op, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return response{}, errs.E(errs.Invalid, op, errors.New(s.scrub(err.Error())))
	}
	req.Header.Set("Authorization", "Bearer "+s.token.Reveal())
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", apiVersion)
	req.Header.Set("User-Agent", userAgent)
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	resp, b, err := source.Send(ctx, s.http, op, req, s.scrub, 0)
	if err != nil {
		return response{}, err
	}
	if resp.StatusCode/100 == 2 || resp.StatusCode == http.StatusNotModified {
		s.secondary.Store(0)
		out := response{status: resp.StatusCode, body: b, etag: resp.Header.Get("ETag")}
		if next := parseLink(resp.Header.Get("Link"))["next"]; next != "" {
			if out.next, err = s.resolve(next); err != nil {
				return response{}, errs.E(errs.Internal, op, err)
			}
		}
		return out, nil
	}
	return response{}, s.classify(op, repo, resp, b)
}

// resolve makes target absolute and refuses any URL off the API's own scheme,
// host and path: Link URLs are followed verbatim, and one pointing elsewhere
// would receive the token.
func (s *Source) resolve(target string) (string, error) {
	if !strings.HasPrefix(target, "http://") && !strings.HasPrefix(target, "https://") {
		target = s.baseStr + target
	}
	// The target may come from a server's Link header: scrubbed, in case it echoes the token.
	u, err := url.Parse(target)
	if err != nil {
		return "", fmt.Errorf("bad URL %q: %s", s.scrub(target), s.scrub(err.Error()))
	}
	if u.Scheme != s.base.Scheme || !strings.EqualFold(u.Host, s.base.Host) || !strings.HasPrefix(u.Path, s.base.Path) {
		return "", fmt.Errorf("refusing to send the token to %s, outside the API base %s", s.scrub(u.Scheme+"://"+u.Host+u.Path), s.baseStr)
	}
	return u.String(), nil
}

// parseLink reads an RFC 8288 Link header into rel → URL:
// <https://api.github.com/...&page=2>; rel="next", <...>; rel="last".
func parseLink(h string) map[string]string {
	out := map[string]string{}
	for h != "" {
		start := strings.IndexByte(h, '<')
		end := strings.IndexByte(h, '>')
		if start < 0 || end < start {
			break
		}
		target := h[start+1 : end]
		h = h[end+1:]
		params := h
		if i := strings.IndexByte(h, '<'); i >= 0 {
			params, h = h[:i], h[i:]
		} else {
			h = ""
		}
		for _, p := range strings.Split(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(strings.TrimRight(strings.TrimSpace(p), ",")), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "rel") {
				for _, rel := range strings.Fields(strings.Trim(strings.TrimSpace(v), `"`)) {
					out[strings.ToLower(rel)] = target
				}
			}
		}
	}
	return out
}

// apiError is GitHub's error body.
type apiError struct {
	Message string `json:"message"`
	Errors  []struct {
		Field   string `json:"field"`
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"errors"`
}

// classify maps a non-2xx answer to an error kind, once:
//
//	401                 Permission, naming GITHUB_TOKEN
//	403, 429 with       RateLimited: retry-after when sent; else, with
//	  a limit's signs   x-ratelimit-remaining 0, the wait until x-ratelimit-reset
//	                    (Quota with Until when longer than LongWait); else a
//	                    secondary limit: ≥ 60 s, doubling while they repeat
//	403 otherwise       Permission: the token lacks a permission on the repository
//	                    (on an organisation: the organisation's SSO policy)
//	404                 NotFound: no such repository, or the token cannot see it
//	                    (the organizations stream skips organisations GitHub has not)
//	422                 Invalid, with GitHub's message
//	408, 5xx            Transient
func (s *Source) classify(op, repo string, resp *http.Response, body []byte) error {
	var e apiError
	if json.Unmarshal(body, &e) != nil || e.Message == "" {
		e.Message = strings.TrimSpace(string(body))
		if e.Message == "" || strings.HasPrefix(e.Message, "<") || len(e.Message) > 300 {
			e.Message = http.StatusText(resp.StatusCode) // HTML from a proxy, or empty
		}
	}
	said := s.scrub(e.Message)
	code := resp.StatusCode
	h := resp.Header
	where := "the API"
	if repo != "" {
		where = repo
	}
	switch {
	case code == http.StatusUnauthorized:
		return errs.Errorf(errs.Permission, op, "GitHub rejected the token (401): set %s to a valid personal access token (it may have expired or been revoked). GitHub said: %s", TokenEnv, said)
	case code == http.StatusForbidden || code == http.StatusTooManyRequests:
		if err := s.limited(op, h, code, said); err != nil {
			return err
		}
		if strings.HasPrefix(where, "organisation ") {
			// An organisation's public profile needs no permission: what refuses it
			// is the organisation's own policy.
			return errs.Errorf(errs.Permission, op, "the token in %s may not read %s (HTTP %d): if the organisation enforces SAML single sign-on, authorise the token for it. GitHub said: %s",
				TokenEnv, where, code, said)
		}
		need := strings.Join(RequiredPermissions, ", ")
		if p := h.Get("X-Accepted-GitHub-Permissions"); p != "" {
			need = s.scrub(p)
		}
		return errs.Errorf(errs.Permission, op, "the token in %s may not read %s (HTTP %d): grant it %s on that repository. GitHub said: %s",
			TokenEnv, where, code, need, said)
	case code == http.StatusNotFound:
		if repo == "" {
			return errs.Errorf(errs.NotFound, op, "HTTP 404: %s", said)
		}
		return errs.Errorf(errs.NotFound, op, "repository %s was not found, or the token in %s cannot see it (GitHub answers 404 for private repositories a token has no access to): check %s and the token's repository access. GitHub said: %s",
			repo, TokenEnv, ReposEnv, said)
	case code == http.StatusRequestTimeout || code >= 500:
		return errs.Errorf(errs.Transient, op, "GitHub answered HTTP %d: %s", code, said)
	default:
		for _, x := range e.Errors {
			said += s.scrub(fmt.Sprintf(" [%s %s %s]", x.Field, x.Code, x.Message))
		}
		return errs.Errorf(errs.Invalid, op, "GitHub refused the request (HTTP %d): %s", code, said)
	}
}

// limited returns the rate-limit error a 403 or 429 stands for, or nil when it is
// not about limits. The order is GitHub's advice: retry-after, then a spent
// primary limit, then a secondary limit.
func (s *Source) limited(op string, h http.Header, code int, said string) error {
	now := s.now()
	lower := strings.ToLower(said)
	secondary := strings.Contains(lower, "secondary rate limit") || strings.Contains(lower, "abuse")
	if ra, ok := retryAfter(h.Get("Retry-After"), now); ok {
		n := s.secondary.Add(1)
		e := errs.Errorf(errs.RateLimited, op, "GitHub rate limit (HTTP %d, %d in a row), retry in %v: %s", code, n, ra, said)
		e.RetryAfter, e.Limit = ra, secondaryLimit
		if h.Get("X-Ratelimit-Remaining") == "0" && !secondary {
			e.Limit = primaryLimit(s.scrub(h.Get("X-Ratelimit-Resource")))
		}
		return e
	}
	if h.Get("X-Ratelimit-Remaining") == "0" && !secondary {
		reset, err := strconv.ParseInt(h.Get("X-Ratelimit-Reset"), 10, 64)
		until := time.Unix(reset, 0)
		if err != nil || reset <= 0 {
			until = now.Add(time.Minute) // no reset given: look again in a minute
		}
		// One second of slack: the reset is whole seconds, and clocks differ.
		wait := max(until.Sub(now), 0) + time.Second
		resource := s.scrub(h.Get("X-Ratelimit-Resource"))
		if resource == "" {
			resource = "core"
		}
		if wait > s.longWait {
			e := errs.Errorf(errs.Quota, op, "GitHub's primary rate limit (%s, %s requests an hour) is spent until %s: %s",
				resource, s.scrub(h.Get("X-Ratelimit-Limit")), until.UTC().Format(time.RFC3339), said)
			e.Until, e.RetryAfter, e.Limit = until.Add(time.Second), wait, primaryLimit(resource)
			return e
		}
		e := errs.Errorf(errs.RateLimited, op, "GitHub's primary rate limit (%s) is spent, it resets in %v: %s", resource, wait, said)
		e.RetryAfter, e.Limit = wait, primaryLimit(resource)
		return e
	}
	if secondary || code == http.StatusTooManyRequests || strings.Contains(lower, "rate limit") {
		n := s.secondary.Add(1)
		wait := time.Minute << min(n-1, 4) // 1, 2, 4, 8, 16 min
		e := errs.Errorf(errs.RateLimited, op, "GitHub secondary rate limit (HTTP %d, %d in a row), retry in %v: %s", code, n, wait, said)
		e.RetryAfter, e.Limit = wait, secondaryLimit
		return e
	}
	return nil
}

// secondaryLimit names GitHub's secondary rate limit for a reported wait.
const secondaryLimit = "the GitHub secondary rate limit"

// primaryLimit names GitHub's primary rate limit of a resource ("core", "graphql",
// "search"; "" when GitHub did not say) for a reported wait.
func primaryLimit(resource string) string {
	if resource == "" {
		resource = "core"
	}
	return "GitHub's primary rate limit (" + resource + ")"
}

// retryAfter reads a Retry-After header: delay seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, t.Sub(now)), true
	}
	return 0, false
}

// scrub removes the token from text that came from elsewhere (a server message, a
// transport error), so no error can carry it even if a server echoes it.
func (s *Source) scrub(text string) string {
	if tok := s.token.Reveal(); tok != "" {
		text = strings.ReplaceAll(text, tok, secret.Redacted)
	}
	return text
}
