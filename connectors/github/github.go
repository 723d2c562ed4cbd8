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
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/meshflow/meshflow/framework/errs"
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
	baseStr string
	// graphqlURL is the GraphQL API beside the REST base (see graphqlEndpoint);
	// reviews are read there in bulk unless restReviews.
	graphqlURL  string
	restReviews bool
	// rest and gql send the requests to the REST and the GraphQL API: the token,
	// one pace for both — here, not in StreamSpec.RequestsPerSecond, because
	// GitHub limits a token across all its requests and readers of several
	// streams in parallel must share it —, the token scrubbed from every error.
	rest, gql *source.API
	repos     []string
	branches  []string
	lookback  time.Duration
	pageSize  int
	longWait  time.Duration
	now       func() time.Time

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
		repos:    slices.Clone(cfg.Repos),
		branches: slices.Clone(cfg.Branches),
		lookback: cfg.Lookback,
		pageSize: cfg.PageSize,
		longWait: o.LongWait,
		now:      o.Now,
	}
	if s.baseStr == "" {
		s.baseStr = DefaultBaseURL
	}
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
	hc := source.Client(o.HTTPClient, o.HTTPTimeout, DefaultHTTPTimeout)
	auth := source.Bearer(cfg.Token)
	pacer := source.NewPacer(source.Pace(o.RequestsPerSecond, DefaultRequestsPerSecond), "GitHub's request pacing")
	var err error
	s.rest, err = source.NewAPI(source.APIOptions{Title: "GitHub", BaseURL: s.baseStr, BaseURLVar: BaseURLEnv, HTTPClient: hc, Auth: auth, Pacer: pacer,
		Header: http.Header{"Accept": {"application/vnd.github+json"}, "X-GitHub-Api-Version": {apiVersion}, "User-Agent": {userAgent}}, Now: s.now})
	if err != nil {
		return nil, err
	}
	s.gql, err = source.NewAPI(source.APIOptions{Title: "GitHub", BaseURL: s.graphqlURL, BaseURLVar: BaseURLEnv, HTTPClient: hc, Auth: auth, Pacer: pacer,
		Header: http.Header{"User-Agent": {userAgent}}, Now: s.now})
	if err != nil {
		return nil, err
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
	return s.rest.Tuning() // the GraphQL API shares its pace and its client
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
	// Resolved first: a target off the API (a cursor's) is the connector's fault.
	u, err := s.rest.Resolve(target, nil)
	if err != nil {
		return response{}, errs.E(errs.Internal, op, err)
	}
	c := source.Call{Op: op, Path: u, Accept: []int{http.StatusNotModified},
		Classify: func(op string, r *source.Response) error { return s.classify(op, repo, r) }}
	if etag != "" {
		c.Header = http.Header{"If-None-Match": {etag}}
	}
	r, err := s.rest.Do(ctx, c)
	if err != nil {
		return response{}, err
	}
	s.secondary.Store(0)
	out := response{status: r.Status, body: r.Body, etag: r.Header.Get("ETag")}
	if next := source.ParseLink(r.Header.Get("Link"))["next"]; next != "" {
		// Followed verbatim: one pointing elsewhere would receive the token.
		if out.next, err = s.rest.Resolve(next, nil); err != nil {
			return response{}, errs.E(errs.Internal, op, err)
		}
	}
	return out, nil
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
func (s *Source) classify(op, repo string, r *source.Response) error {
	var e apiError
	code, h := r.Status, r.Header
	if json.Unmarshal(r.Body, &e) != nil || e.Message == "" {
		e.Message = strings.TrimSpace(string(r.Body))
		if e.Message == "" || strings.HasPrefix(e.Message, "<") || len(e.Message) > 300 {
			e.Message = http.StatusText(code) // HTML from a proxy, or empty
		}
	}
	said := r.Scrub(e.Message)
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
	if ra, ok := source.RetryAfter(h, now); ok {
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

// scrub removes the token from text that came from elsewhere (a server message, a
// transport error), so no error can carry it even if a server echoes it.
func (s *Source) scrub(text string) string { return s.rest.Scrub(text) }
