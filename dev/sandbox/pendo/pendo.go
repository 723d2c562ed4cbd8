// Package pendo imitates Pendo's v1 API over HTTP, boundary behaviour included:
// unpaginated list endpoints (bare JSON arrays), the aggregation endpoint with
// every row in one `results` array, event rows bucketed by day or hour aligned to
// the subscription's time zone (so day buckets are not UTC midnights), epoch
// millisecond timestamps, the x-pendo-integration-key header, and 429s without
// Retry-After once a request rate is passed. Data is generated from a seed.
//
// The handler expects paths starting at /api/v1 (mount it with http.StripPrefix):
//
//	GET  /api/v1/page          pages, a bare array
//	GET  /api/v1/feature       features, a bare array
//	POST /api/v1/aggregation   sources pageEvents, featureEvents (with timeSeries), visitors, accounts;
//	                           steps filter, select, sort, limit
package pendo

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshflow/meshflow/dev/sandbox/internal/fake"
)

// DefaultKey is the integration key the imitation accepts unless told otherwise.
const DefaultKey = "00000000-sandbox-pendo-key.us"

// DefaultTimeZone is the subscription's time zone unless told otherwise.
const DefaultTimeZone = "America/Los_Angeles"

// AppID is the application id every object and event carries (Pendo's id of a
// subscription's default app).
const AppID = -323232

// Options configures the imitation. Zero fields take the defaults in brackets;
// a negative limit turns that limit off.
type Options struct {
	Seed int64            // data seed [1]
	Now  func() time.Time // the data clock: events run up to its day; Touch stamps it [time.Now]
	Key  string           // accepted integration key [DefaultKey]

	// TimeZone is the subscription's IANA time zone: day and hour buckets start at
	// its midnights and hours [DefaultTimeZone]. New panics on an unknown zone
	// (see Validate).
	TimeZone string

	Accounts, Visitors, Pages, Features int // [200, 2000, 40, 60]
	// Days is how many days before today hold events [365].
	Days int
	// Companies seeds accounts: MatchedShare of them derive from these (the sandbox
	// passes HubSpot's), the rest are strangers [0.75].
	Companies    []fake.Company
	MatchedShare float64

	// RateLimit is the requests allowed per rolling minute before 429 [60].
	RateLimit int

	// Middleware wraps the routes inside request counting; the sandbox injects
	// faults with it so faulted requests are counted too.
	Middleware func(http.Handler) http.Handler
}

// Validate reports options New cannot build from.
func (o Options) Validate() error {
	if o.TimeZone != "" {
		if _, err := time.LoadLocation(o.TimeZone); err != nil {
			return fmt.Errorf("pendo: time zone %q: %v", o.TimeZone, err)
		}
	}
	if o.MatchedShare < 0 || o.MatchedShare > 1 {
		return fmt.Errorf("pendo: matched share %v is outside 0..1", o.MatchedShare)
	}
	if o.Accounts < 0 || o.Visitors < 0 || o.Pages < 0 || o.Features < 0 || o.Days < 0 {
		return fmt.Errorf("pendo: negative size (accounts %d, visitors %d, pages %d, features %d, days %d)", o.Accounts, o.Visitors, o.Pages, o.Features, o.Days)
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Key == "" {
		o.Key = DefaultKey
	}
	if o.TimeZone == "" {
		o.TimeZone = DefaultTimeZone
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.Accounts, 200)
	def(&o.Visitors, 2000)
	def(&o.Pages, 40)
	def(&o.Features, 60)
	def(&o.Days, 365)
	def(&o.RateLimit, 60)
	if o.MatchedShare == 0 {
		o.MatchedShare = 0.75
	}
	return o
}

// API is the imitation: an http.Handler plus the Go admin methods tests drive it with.
type API struct {
	opts     Options
	tz       *time.Location
	handler  http.Handler
	requests atomic.Int64
	limits   *limiter

	mu       sync.RWMutex
	data     *dataset
	extra    map[dayKey]*overlay // AddEvents changes on top of the generated days
	mutator  *fake.Rand          // draws what Touch* and AddEvents change, in call order
	firstDay time.Time           // the first day with events (local midnight)
}

// New builds the imitation and its seeded data. It panics on invalid options
// (see Validate).
func New(opts Options) *API {
	if err := opts.Validate(); err != nil {
		panic(err)
	}
	o := opts.withDefaults()
	tz, _ := time.LoadLocation(o.TimeZone)
	a := &API{
		opts:    o,
		tz:      tz,
		limits:  &limiter{limit: o.RateLimit, clock: time.Now},
		extra:   map[dayKey]*overlay{},
		mutator: fake.New(o.Seed, "pendo/mutations"),
	}
	today := midnight(o.Now().In(tz))
	a.firstDay = today.AddDate(0, 0, -o.Days)
	a.data = generate(o, today, a.firstDay)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/page", a.reading(func(*http.Request) (int, any) { return http.StatusOK, a.data.objectsWire(a.data.pages) }))
	mux.HandleFunc("GET /api/v1/feature", a.reading(func(*http.Request) (int, any) { return http.StatusOK, a.data.objectsWire(a.data.features) }))
	mux.HandleFunc("POST /api/v1/aggregation", a.aggregate)
	var h http.Handler = a.guard(mux)
	if o.Middleware != nil {
		h = o.Middleware(h)
	}
	a.handler = h
	return a
}

// ServeHTTP counts the request and serves it.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.requests.Add(1)
	a.handler.ServeHTTP(w, r)
}

// Requests is how many API requests reached the imitation, faulted ones included.
func (a *API) Requests() int { return int(a.requests.Load()) }

// Key is the accepted integration key.
func (a *API) Key() string { return a.opts.Key }

// TimeZone is the subscription's time zone.
func (a *API) TimeZone() *time.Location { return a.tz }

// DayStart is the start of t's day in the subscription's time zone: the `day`
// value of that day's event rows.
func (a *API) DayStart(t time.Time) time.Time { return midnight(t.In(a.tz)) }

// reading adapts a handler that builds its answer under the read lock.
func (a *API) reading(h func(r *http.Request) (int, any)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a.mu.RLock()
		status, body := h(r)
		a.mu.RUnlock()
		writeJSON(w, status, body)
	}
}

// guard is what Pendo does before routing: the integration key, then the rate.
func (a *API) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch key := r.Header.Get("x-pendo-integration-key"); {
		case key == "":
			writeText(w, http.StatusUnauthorized, "Unauthorized: missing x-pendo-integration-key header")
			return
		case key != a.opts.Key:
			writeText(w, http.StatusForbidden, "Forbidden: invalid integration key")
			return
		}
		if !a.limits.admit() {
			WriteRateLimited(w, 0)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// WriteRateLimited writes Pendo's 429: plain text and no Retry-After, so clients
// must pick their own wait. The retryAfter of injected faults is ignored for that
// reason.
func WriteRateLimited(w http.ResponseWriter, _ time.Duration) {
	writeText(w, http.StatusTooManyRequests, "Too Many Requests")
}

// limiter counts requests of the last rolling minute on the wall clock.
type limiter struct {
	limit int
	clock func() time.Time

	mu     sync.Mutex
	recent []time.Time
}

func (l *limiter) admit() bool {
	if l.limit <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock()
	i := 0
	for i < len(l.recent) && !l.recent[i].After(now.Add(-time.Minute)) {
		i++
	}
	l.recent = l.recent[i:]
	if len(l.recent) >= l.limit {
		return false
	}
	l.recent = append(l.recent, now)
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// writeText answers as Pendo does for errors: a short plain-text body.
func writeText(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintln(w, msg)
}

// midnight is the start of t's day in t's location.
func midnight(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, t.Location())
}
