// Package googleanalytics is the Google Analytics 4 connector: one stream,
// daily_report, a runReport per property per day with the configured dimensions
// and metrics, paged by offset. Incremental syncs pull the last LookbackDays again
// because GA4 numbers settle over 24–48 hours, and land only rows whose numbers
// changed. It authenticates as a service account (JWT bearer flow) and works
// against analyticsdata.googleapis.com or the dev/sandbox imitation alike.
package googleanalytics

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/jwt"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/secret"
	"github.com/meshflow/meshflow/framework/source"
)

const maxBody = 256 << 20 // a 250,000-row page of ten columns fits; guards against a runaway response

// Source is a configured GA4 client and its stream. It is safe for concurrent use.
type Source struct {
	props         []string
	dims, metrics []string
	lookback      int
	pageSize      int
	startDate     string
	creds         credentials
	now           func() time.Time

	// api sends the runReports: the service account's access token, one pace for
	// all of them, the key and the token scrubbed from every error.
	api  *source.API
	auth *serviceAccount

	mu    sync.Mutex
	zones map[string]*time.Location

	stream *stream
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
	creds, _ := parseKey(cfg.CredentialsJSON) // Validate checked it
	dims, metrics := shape(cfg)
	s := &Source{
		dims:      dims,
		metrics:   metrics,
		lookback:  cfg.LookbackDays,
		pageSize:  cfg.PageSize,
		startDate: cfg.StartDate,
		creds:     creds,
		now:       o.Now,
		zones:     map[string]*time.Location{},
	}
	for _, id := range cfg.PropertyIDs {
		s.props = append(s.props, strings.TrimSpace(id))
	}
	if s.lookback == 0 {
		s.lookback = DefaultLookbackDays
	}
	if s.pageSize == 0 {
		s.pageSize = DefaultPageSize
	}
	if s.startDate == "" {
		s.startDate = DefaultStartDate
	}
	if s.now == nil {
		s.now = time.Now
	}
	hc := source.Client(o.HTTPClient, o.HTTPTimeout, DefaultHTTPTimeout)
	s.auth = &serviceAccount{creds: creds, tokenURL: cmp.Or(cfg.TokenURL, creds.tokenURI, DefaultTokenURL), http: hc, now: s.now}
	api, err := source.NewAPI(source.APIOptions{
		Title: "GA4", BaseURL: cmp.Or(cfg.BaseURL, DefaultBaseURL), BaseURLVar: BaseURLEnv,
		HTTPClient: hc, Auth: s.auth,
		Pacer:   source.NewPacer(source.Pace(o.RequestsPerSecond, DefaultRequestsPerSecond), "GA4's request pacing"),
		Header:  http.Header{"User-Agent": {"meshflow-googleanalytics/1"}},
		MaxBody: maxBody,
		Now:     s.now,
	})
	if err != nil {
		return nil, err
	}
	s.api = api
	s.stream = newStream(s)
	return s, nil
}

// Name is "googleanalytics".
func (s *Source) Name() string { return "googleanalytics" }

// Streams is daily_report.
func (s *Source) Streams() []source.Stream { return []source.Stream{s.stream} }

// Tuning is the pacing of runReport calls and the HTTP timeout.
func (s *Source) Tuning() source.Tuning {
	return s.api.Tuning()
}

// Check fetches a token and runs a one-row report of yesterday on every
// property: it proves the key and the service account's access to each.
func (s *Source) Check(ctx context.Context) error {
	for _, p := range s.props {
		body := reportRequest{
			DateRanges: []dateRange{{StartDate: "yesterday", EndDate: "yesterday"}},
			Metrics:    []named{{"sessions"}},
			Limit:      1,
		}
		if _, err := s.runReport(ctx, "googleanalytics: check", p, body); err != nil {
			return err
		}
	}
	return nil
}

// runReport sends one runReport and returns the body of a 2xx answer; any other
// outcome is an *errs.Error of the right kind (classify).
func (s *Source) runReport(ctx context.Context, op, property string, body reportRequest) ([]byte, error) {
	r, err := s.api.Do(ctx, source.Call{Op: op, Path: "/v1beta/properties/" + property + ":runReport", Body: body,
		Classify: func(op string, r *source.Response) error { return s.classify(op, property, r) }})
	if err != nil {
		return nil, err
	}
	return r.Body, nil
}

// serviceAccount puts the service account's access token on each request: fetched
// through the JWT bearer flow of golang.org/x/oauth2/jwt (a JWT signed with the
// account's key is exchanged at the token endpoint) and cached until a minute
// before it expires.
type serviceAccount struct {
	creds    credentials
	tokenURL string
	http     *http.Client // the API's: its transport and timeout
	now      func() time.Time

	mu     sync.Mutex
	access secret.Value // the cached access token
	expiry time.Time    // wall clock, as the token endpoint's expires_in
}

// Authorize sets the access token, fetching one when none is cached; an error has
// no op (the API names its call).
func (a *serviceAccount) Authorize(ctx context.Context, req *http.Request) error {
	tok, err := a.token(ctx)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok.Reveal())
	return nil
}

// Secrets are the key, each line of its PEM body, and the access token.
func (a *serviceAccount) Secrets() []string {
	a.mu.Lock()
	tok := a.access.Reveal()
	a.mu.Unlock()
	secrets := []string{tok}
	key := a.creds.key.Reveal()
	if !strings.HasPrefix(key, "-----") {
		secrets = append(secrets, key)
	}
	for _, line := range strings.Split(key, "\n") {
		if len(line) >= 16 && !strings.HasPrefix(line, "-----") { // PEM body lines; not the BEGIN/END markers
			secrets = append(secrets, line)
		}
	}
	return secrets
}

func (a *serviceAccount) token(ctx context.Context) (secret.Value, error) {
	a.mu.Lock()
	tok, exp := a.access, a.expiry
	a.mu.Unlock()
	// A minute of margin: a request must not start with a token about to expire.
	if tok != "" && time.Now().Add(time.Minute).Before(exp) {
		return tok, nil
	}
	cfg := &jwt.Config{
		Email:        a.creds.email,
		PrivateKey:   []byte(a.creds.key.Reveal()),
		PrivateKeyID: a.creds.keyID,
		Scopes:       []string{Scope},
		TokenURL:     a.tokenURL,
	}
	// x/oauth2/jwt posts without a request context; a transport that adds ctx
	// lets a cancellation interrupt a slow token endpoint too.
	base := a.http.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	hc := &http.Client{Transport: ctxTransport{ctx, base}, Timeout: a.http.Timeout}
	t, err := cfg.TokenSource(context.WithValue(ctx, oauth2.HTTPClient, hc)).Token()
	if err != nil {
		return "", a.tokenError(ctx, err)
	}
	if t.AccessToken == "" {
		return "", errs.Errorf(errs.Transient, "", "the token endpoint %s answered without an access_token", a.tokenURL)
	}
	exp = t.Expiry
	if exp.IsZero() {
		exp = time.Now().Add(30 * time.Minute) // no expires_in: assume less than Google's hour
	}
	a.mu.Lock()
	a.access, a.expiry = secret.Value(t.AccessToken), exp
	a.mu.Unlock()
	return secret.Value(t.AccessToken), nil
}

// drop forgets the cached token after a 401, so the next attempt fetches one.
func (a *serviceAccount) drop() {
	a.mu.Lock()
	a.access, a.expiry = "", time.Time{}
	a.mu.Unlock()
}

// dropToken forgets the cached access token.
func (s *Source) dropToken() { s.auth.drop() }

type ctxTransport struct {
	ctx  context.Context
	base http.RoundTripper
}

func (t ctxTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return t.base.RoundTrip(r.WithContext(t.ctx))
}

// tokenError maps a failed token fetch:
//
//	400, 401, 403   Permission: the key is wrong, deleted or not this account's
//	429             RateLimited
//	408, 5xx        Transient
//	no answer       Transient (network), or Canceled
func (a *serviceAccount) tokenError(ctx context.Context, err error) error {
	const op = "" // the API names its call
	scrub := func(text string) string { return source.ScrubSecrets(text, a.Secrets()...) }
	if ctx.Err() != nil {
		return errs.E(errs.Canceled, op, ctx.Err())
	}
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.Response == nil {
		return errs.Errorf(errs.Transient, op, "fetching an access token from %s failed: %s", a.tokenURL, scrub(err.Error()))
	}
	code := re.Response.StatusCode
	var body struct {
		Error       json.RawMessage `json:"error"`
		Description string          `json:"error_description"`
	}
	said := http.StatusText(code)
	if json.Unmarshal(re.Body, &body) == nil {
		var short string
		var long apiError
		switch {
		case json.Unmarshal(body.Error, &short) == nil: // OAuth: {"error":"invalid_grant","error_description":...}
			said = strings.TrimSpace(short + ": " + body.Description)
		case json.Unmarshal(re.Body, &long) == nil && long.Error.Message != "": // Google API envelope
			said = long.Error.Status + ": " + long.Error.Message
		}
	}
	said = scrub(said)
	switch {
	case code == http.StatusBadRequest || code == http.StatusUnauthorized || code == http.StatusForbidden:
		return errs.Errorf(errs.Permission, op, "Google refused the service-account key in %s for %s (HTTP %d %s): the key may have been deleted or rotated; create a new JSON key for the account and point %s at it",
			CredentialsFileEnv, a.creds.email, code, said, CredentialsFileEnv)
	case code == http.StatusTooManyRequests:
		e := errs.Errorf(errs.RateLimited, op, "the token endpoint is rate limiting (429): %s", said)
		e.Limit = "the rate limit of Google's token endpoint"
		if ra, ok := source.RetryAfter(re.Response.Header, a.now()); ok {
			e.RetryAfter = ra
		}
		return e
	case code == http.StatusRequestTimeout || code >= 500:
		return errs.Errorf(errs.Transient, op, "the token endpoint %s answered HTTP %d: %s", a.tokenURL, code, said)
	default:
		return errs.Errorf(errs.Invalid, op, "the token endpoint %s refused the request (HTTP %d): %s; check %s", a.tokenURL, code, said, TokenURLEnv)
	}
}

// apiError is Google's error envelope.
type apiError struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Status  string `json:"status"`
	} `json:"error"`
}

// classify maps a non-2xx runReport answer to an error kind, once:
//
//	401             Permission, naming GA4_CREDENTIALS_FILE (the cached token is dropped)
//	403             Permission, naming the service account and the property
//	429             Quota until the next hour (tokens per hour) or the next midnight
//	                Pacific time (tokens per day); RateLimited for the concurrent-requests quota
//	400, other 4xx  Invalid, with GA4's message
//	404             NotFound (a wrong GA4_BASE_URL)
//	408, 5xx        Transient (the Reader caps the retries)
func (s *Source) classify(op, property string, r *source.Response) error {
	var e apiError
	code := r.Status
	if json.Unmarshal(r.Body, &e) != nil || e.Error.Message == "" {
		e.Error.Message = http.StatusText(code) // HTML from a proxy, or empty
	}
	said := r.Scrub(e.Error.Message)
	e.Error.Status = r.Scrub(e.Error.Status) // shown too: no field the server sent may carry a secret
	switch {
	case code == http.StatusUnauthorized:
		s.dropToken()
		return errs.Errorf(errs.Permission, op, "GA4 rejected the access token for property %s (401 %s): check the service-account key in %s. Google said: %s",
			property, e.Error.Status, CredentialsFileEnv, said)
	case code == http.StatusForbidden:
		if strings.Contains(strings.ToLower(said), "scope") {
			return errs.Errorf(errs.Permission, op, "the access token lacks the %s scope (403 %s). Google said: %s", Scope, e.Error.Status, said)
		}
		return errs.Errorf(errs.Permission, op, "the service account %s cannot read GA4 property %s (403 %s): add it as a Viewer under GA4 Admin → Property access management, or correct %s. Google said: %s",
			s.creds.email, property, e.Error.Status, PropertyIDsEnv, said)
	case code == http.StatusTooManyRequests:
		return s.exhausted(op, property, r, said)
	case code == http.StatusNotFound:
		return errs.Errorf(errs.NotFound, op, "HTTP 404 for property %s at %s: check %s. %s", property, s.api.BaseURL(), BaseURLEnv, said)
	case code == http.StatusRequestTimeout || code >= 500:
		err := errs.Errorf(errs.Transient, op, "GA4 answered HTTP %d for property %s: %s", code, property, said)
		if ra, ok := r.RetryAfter(); ok {
			err.RetryAfter, err.Limit = ra, fmt.Sprintf("GA4's Retry-After (HTTP %d)", code)
		}
		return err
	default:
		return errs.Errorf(errs.Invalid, op, "GA4 refused the report for property %s (HTTP %d %s): %s; check the configured dimensions %v and metrics %v",
			property, code, e.Error.Status, said, s.dims, s.metrics)
	}
}

// exhausted reads a 429 RESOURCE_EXHAUSTED. Token quotas pass only when their
// window turns over, so they are Quota errors with Until — never retried inline —
// while the concurrent-requests quota passes in seconds and is RateLimited.
//
// Google's quota page says daily quotas refresh at midnight Pacific time and
// hourly ones within the hour: a property's daily tokens come back at the next
// midnight in America/Los_Angeles whatever the property's own zone (a wait until
// the property's midnight ends hours early east of California and spends one of
// the run's quota waits for nothing), and hourly ones at the next full hour.
func (s *Source) exhausted(op, property string, r *source.Response, said string) error {
	now := s.now()
	msg := strings.ToLower(said)
	var until time.Time
	var window string
	switch {
	case strings.Contains(msg, "per day"):
		until, window = DailyQuotaReset(now), "daily"
	case strings.Contains(msg, "per hour"):
		until, window = now.UTC().Truncate(time.Hour).Add(time.Hour), "hourly"
	default:
		e := errs.Errorf(errs.RateLimited, op, "GA4 is limiting requests for property %s (429): %s", property, said)
		e.Limit = "GA4's concurrent-requests quota of property " + property
		if ra, ok := r.RetryAfter(); ok {
			e.RetryAfter = ra
		}
		return e
	}
	e := errs.Errorf(errs.Quota, op, "the %s token quota of GA4 property %s is exhausted (429 RESOURCE_EXHAUSTED); it resets at %s (%s): %s",
		window, property, until.UTC().Format(time.RFC3339), until.In(pacific()).Format("15:04 MST"), said)
	e.Until = until
	e.RetryAfter = until.Sub(now)
	e.Limit = "GA4's " + window + " token quota of property " + property
	return e
}

// QuotaZone is where GA4's daily quotas turn over: midnight Pacific time.
const QuotaZone = "America/Los_Angeles"

// DailyQuotaReset is when daily token quotas exhausted at t come back: the next
// midnight in America/Los_Angeles, daylight saving time included.
func DailyQuotaReset(t time.Time) time.Time {
	loc := pacific()
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, loc)
}

// pacific is America/Los_Angeles; without tzdata (a main package should import
// time/tzdata) it is UTC−8, whose midnight is at or after Los Angeles' all year,
// so a wait computed with it never ends early.
func pacific() *time.Location {
	if loc, err := time.LoadLocation(QuotaZone); err == nil {
		return loc
	}
	return time.FixedZone("PST", -8*3600)
}

// learnZone records property's IANA zone name; it reports the location, or nil
// for an empty or unknown name.
func (s *Source) learnZone(property, name string) *time.Location {
	if name == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if loc, ok := s.zones[property]; ok && loc.String() == name {
		return loc
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil // no tzdata for it: a main package should import time/tzdata
	}
	s.zones[property] = loc
	return loc
}

// scrub removes the key and the access token from text that came from elsewhere
// (a server message, a transport error), so no error can carry them even if a
// server echoes them.
func (s *Source) scrub(text string) string { return source.ScrubSecrets(text, s.auth.Secrets()...) }

// String describes the source without its credentials.
func (s *Source) String() string {
	return fmt.Sprintf("googleanalytics(properties %s as %s)", strings.Join(slices.Clone(s.props), ","), s.creds.email)
}
