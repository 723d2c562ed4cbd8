// Package googleanalytics imitates the Google Analytics Data API v1beta (GA4) over
// HTTP, boundary behaviour included: a service-account token endpoint that verifies
// RS256 JWT-bearer assertions, runReport with limit/offset paging and a rowCount
// independent of paging, metric values as strings typed by metricHeaders, all-zero
// rows omitted unless keepEmptyRows, an empty report without a `rows` key, numbers
// of the last two days still settling, per-property token quotas answering 429
// RESOURCE_EXHAUSTED, 401 UNAUTHENTICATED and 403 PERMISSION_DENIED.
//
// Daily traffic is generated from the seed for each property, Days back from the
// day of the clock, so tests and demos see the same numbers. The handler expects
// paths starting at /token and /v1beta (mount it with http.StripPrefix).
package googleanalytics

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshflow/meshflow/dev/sandbox/internal/fake"
)

// Scope is the OAuth scope read-only reporting needs; the token endpoint grants
// it, or the broader ScopeFull.
const (
	Scope     = "https://www.googleapis.com/auth/analytics.readonly"
	ScopeFull = "https://www.googleapis.com/auth/analytics"
)

// GoogleTokenURL is Google's token endpoint: the audience real key files name.
const GoogleTokenURL = "https://oauth2.googleapis.com/token"

// DefaultClientEmail is the service account the imitation knows.
const DefaultClientEmail = "meshflow-sandbox@meshflow-sandbox.iam.gserviceaccount.com"

// Property is one GA4 property the imitation serves.
type Property struct {
	ID            string // numeric property id, e.g. "123456789"
	TimeZone      string // IANA zone the property's days are in
	CurrencyCode  string // ISO 4217
	DailySessions int    // typical sessions per weekday at the start of the history
}

// DefaultProperties are served unless Options.Properties says otherwise: two
// properties in different time zones, so "yesterday" differs between them.
var DefaultProperties = []Property{
	{ID: "123456789", TimeZone: "America/New_York", CurrencyCode: "USD", DailySessions: 1200},
	{ID: "987654321", TimeZone: "Europe/Berlin", CurrencyCode: "EUR", DailySessions: 400},
}

// Options configures the imitation. Zero fields take the defaults in brackets.
type Options struct {
	Seed int64            // data and key seed [1]
	Now  func() time.Time // the data clock: days, settling and quota windows follow it [time.Now]

	Properties []Property // [DefaultProperties]
	Days       int        // days of history before the clock's day at New [365]

	// TokensPerHour and TokensPerDay are each property's quota budgets; a
	// runReport that cannot afford TokenCost answers 429 RESOURCE_EXHAUSTED until
	// the next hour, or the next midnight Pacific time (America/Los_Angeles), as
	// Google's quotas turn over, whatever the property's zone [40000, 200000].
	// Negative means unlimited.
	TokensPerHour, TokensPerDay int
	// TokenCost is what one runReport consumes [10]. Real costs grow with a
	// request's complexity; a constant keeps budgets easy to reason about in tests.
	TokenCost int

	ClientEmail string // the service account the token endpoint accepts [DefaultClientEmail]

	// Prefix is where the handler is mounted (e.g. "/ga4"); the admin endpoint
	// that serves the key file uses it to build token_uri.
	Prefix string
	// KeyFile, when set, is where Serving writes the service-account key file,
	// its token_uri pointing at the address served (for GA4_CREDENTIALS_FILE).
	KeyFile string
	// Middleware wraps the routes inside request counting; the sandbox injects
	// faults with it so faulted requests are counted too.
	Middleware func(http.Handler) http.Handler
}

func (o Options) withDefaults() Options {
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if len(o.Properties) == 0 {
		o.Properties = DefaultProperties
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.Days, 365)
	def(&o.TokensPerHour, 40_000)
	def(&o.TokensPerDay, 200_000)
	def(&o.TokenCost, 10)
	if o.ClientEmail == "" {
		o.ClientEmail = DefaultClientEmail
	}
	return o
}

// API is the imitation: an http.Handler plus the Go admin methods tests drive it with.
type API struct {
	opts    Options
	handler http.Handler

	requests, tokenRequests atomic.Int64
	reportSeq               atomic.Uint64 // varies the order of ties when a request has no orderBys

	props map[string]*property
	order []string // property ids as configured

	mu      sync.Mutex
	offset  time.Duration // SetNow and Advance move the clock by this much
	late    map[lateKey]int64
	tokens  map[string]grant // access tokens issued
	quota   map[string]*usage
	mutator *fake.Rand // draws which rows LateHits changes, in call order

	failDays  map[string]bool    // report start dates that fail (FailDays)
	malformed map[[2]string]bool // {property, day} reports whose first row is malformed (MalformDay)
}

// New builds the imitation. It panics on a property with an unknown time zone,
// a programming error in a test or a flag check the caller skipped.
func New(opts Options) *API {
	o := opts.withDefaults()
	a := &API{
		opts:    o,
		props:   map[string]*property{},
		late:    map[lateKey]int64{},
		tokens:  map[string]grant{},
		quota:   map[string]*usage{},
		mutator: fake.New(o.Seed, "ga4/mutations"),
	}
	now := o.Now()
	for _, p := range o.Properties {
		if _, dup := a.props[p.ID]; dup {
			panic("googleanalytics: property " + p.ID + " repeats")
		}
		a.props[p.ID] = newProperty(o, p, now)
		a.order = append(a.order, p.ID)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", a.token)
	mux.HandleFunc("POST /v1beta/properties/{call}", a.authed(a.runReport)) // {call} = "123:runReport"
	mux.HandleFunc("GET /v1beta/properties/{id}/metadata", a.authed(a.metadata))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "Method not found.")
	})
	var h http.Handler = mux
	if o.Middleware != nil {
		h = o.Middleware(h)
	}
	a.handler = h
	return a
}

// ServeHTTP counts the request and serves it.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.requests.Add(1)
	if r.URL.Path == "/token" {
		a.tokenRequests.Add(1)
	}
	// Read the whole body first, as a real front end does: net/http notices a
	// client that hangs up (and cancels r.Context) only once the body is consumed,
	// and a slow fault waiting on r.Context must end when the client gives up.
	if r.Body != nil && r.Body != http.NoBody {
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
		if err != nil {
			writeError(w, http.StatusRequestEntityTooLarge, "INVALID_ARGUMENT", "Request body too large or unreadable.")
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	a.handler.ServeHTTP(w, r)
}

const maxRequestBody = 1 << 20

// Requests is how many requests reached the imitation, token requests and
// faulted ones included.
func (a *API) Requests() int { return int(a.requests.Load()) }

// TokenRequests is how many of Requests went to the token endpoint.
func (a *API) TokenRequests() int { return int(a.tokenRequests.Load()) }

// Properties are the ids of the properties served, as configured.
func (a *API) Properties() []string { return append([]string(nil), a.order...) }

// Now is the imitation's clock: Options.Now moved by SetNow and Advance.
func (a *API) Now() time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.nowLocked()
}

func (a *API) nowLocked() time.Time { return a.opts.Now().Add(a.offset) }

// SetNow moves the clock to t; it runs on from there as Options.Now does.
func (a *API) SetNow(t time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.offset = t.Sub(a.opts.Now())
}

// Advance moves the clock by d: the last days settle, new days get traffic and
// quota windows roll over.
func (a *API) Advance(d time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.offset += d
}

// Today is the current day of property in its time zone, "YYYY-MM-DD" ("" for
// an unknown property).
func (a *API) Today(property string) string {
	p, ok := a.props[property]
	if !ok {
		return ""
	}
	return a.Now().In(p.loc).Format(time.DateOnly)
}

// TimeZone is property's IANA time zone ("" for an unknown property).
func (a *API) TimeZone(property string) string {
	if p, ok := a.props[property]; ok {
		return p.TimeZone
	}
	return ""
}

// ClientEmail is the service account the token endpoint accepts.
func (a *API) ClientEmail() string { return a.opts.ClientEmail }

// ServiceAccountJSON is the service-account key file (as downloaded from Google
// Cloud) whose key the token endpoint accepts, with token_uri set to tokenURL.
func (a *API) ServiceAccountJSON(tokenURL string) []byte {
	return keyFor(a.opts.Seed).file(a.opts.ClientEmail, tokenURL)
}

// ExhaustHourly uses up every property's hourly token budget: runReport answers
// 429 RESOURCE_EXHAUSTED until the next hour of the clock.
func (a *API) ExhaustHourly() { a.exhaust(true) }

// ExhaustDaily uses up every property's daily token budget: runReport answers 429
// RESOURCE_EXHAUSTED until the next midnight Pacific time.
func (a *API) ExhaustDaily() { a.exhaust(false) }

// authed checks the Bearer token before h. Like Google, a missing token and an
// invalid one are both 401 UNAUTHENTICATED; a token without an Analytics scope is
// 403.
func (a *API) authed(h func(w http.ResponseWriter, r *http.Request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || tok == "" {
			writeError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.")
			return
		}
		a.mu.Lock()
		g, ok := a.tokens[tok]
		a.mu.Unlock()
		// Tokens expire on the wall clock: a client caches them by it.
		if !ok || time.Now().After(g.expiry) {
			writeError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.")
			return
		}
		if !g.readable() {
			writeError(w, http.StatusForbidden, "PERMISSION_DENIED", "Request had insufficient authentication scopes.")
			return
		}
		h(w, r)
	}
}

// property resolves a property id, or writes Google's 403: an unknown property
// and one the service account was not granted look the same.
func (a *API) property(w http.ResponseWriter, id string) (*property, bool) {
	p, ok := a.props[id]
	if !ok {
		writeError(w, http.StatusForbidden, "PERMISSION_DENIED", "User does not have sufficient permissions for this property. To learn more about Property ID, see https://developers.google.com/analytics/devguides/reporting/data/v1/property-id.")
		return nil, false
	}
	return p, true
}

// metadata is GET /v1beta/properties/{id}/metadata: the dimensions and metrics
// the imitation knows.
func (a *API) metadata(w http.ResponseWriter, r *http.Request) {
	if _, ok := a.property(w, r.PathValue("id")); !ok {
		return
	}
	type dim struct {
		APIName string `json:"apiName"`
	}
	type met struct {
		APIName string `json:"apiName"`
		Type    string `json:"type"`
	}
	out := struct {
		Name       string `json:"name"`
		Dimensions []dim  `json:"dimensions"`
		Metrics    []met  `json:"metrics"`
	}{Name: "properties/" + r.PathValue("id") + "/metadata"}
	for _, d := range Dimensions {
		out.Dimensions = append(out.Dimensions, dim{d})
	}
	for _, m := range Metrics {
		out.Metrics = append(out.Metrics, met{m, metricTypes[m]})
	}
	writeJSON(w, http.StatusOK, out)
}

// apiError is Google's error envelope.
type apiError struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Status  string `json:"status"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, code int, status, msg string) {
	var e apiError
	e.Error.Code, e.Error.Status, e.Error.Message = code, status, msg
	writeJSON(w, code, e)
}

// Quota messages as GA4 words them; clients tell hourly from daily by them.
const (
	MsgTokensPerHour = "Exhausted property tokens per hour. These quota tokens will return in under an hour. To learn more, see https://developers.google.com/analytics/devguides/reporting/data/v1/quotas"
	MsgTokensPerDay  = "Exhausted property tokens per day. These quota tokens will return tomorrow. To learn more, see https://developers.google.com/analytics/devguides/reporting/data/v1/quotas"
	MsgConcurrent    = "Exhausted concurrent requests quota. Reduce the number of requests in flight and try again. To learn more, see https://developers.google.com/analytics/devguides/reporting/data/v1/quotas"
)

// WriteRateLimited writes the 429 the sandbox injects as a fault: the
// concurrent-requests quota, the one GA4 429 that passes within seconds.
// retryAfter > 0 adds a Retry-After header in whole seconds.
func WriteRateLimited(w http.ResponseWriter, retryAfter time.Duration) {
	if retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((retryAfter+time.Second-1)/time.Second)))
	}
	writeError(w, http.StatusTooManyRequests, "RESOURCE_EXHAUSTED", MsgConcurrent)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

func badRequest(format string, args ...any) *Error {
	return &Error{Code: http.StatusBadRequest, Status: "INVALID_ARGUMENT", Message: fmt.Sprintf(format, args...)}
}

// Error is a refusal of runReport as Go code sees it (see Report).
type Error struct {
	Code    int    // HTTP status
	Status  string // e.g. INVALID_ARGUMENT, RESOURCE_EXHAUSTED
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Code, e.Status, e.Message) }
