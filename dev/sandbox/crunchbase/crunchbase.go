// Package crunchbase imitates Crunchbase API v4's organization search and lookup
// over HTTP, boundary behaviour included: field_ids and `query` are required,
// `query` is a list of AND-ed predicates, paging is keyset (after_id = the uuid of the last
// entity, under an order the client must keep constant), `count` is the total,
// limit defaults to 50 and stops at 1000, money is {value, currency, value_usd},
// dates carry a precision, and past ~200 calls a minute the answer is a bare 429:
// no body, no Retry-After, no rate-limit headers. Data is generated from a seed.
//
// The handler expects paths starting at /api/v4 (mount it with http.StripPrefix):
//
//	POST /api/v4/searches/organizations
//	GET  /api/v4/entities/organizations/{permalink|uuid}?field_ids=a,b
//
// The user key goes in the X-cb-user-key header or the user_key query parameter.
package crunchbase

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshflow/meshflow/dev/sandbox/internal/fake"
)

// DefaultKey is the user key the imitation accepts unless told otherwise.
const DefaultKey = "cb-sandbox-user-key-0000000000000"

// Options configures the imitation. Zero fields take the defaults in brackets;
// a negative limit turns that limit off.
type Options struct {
	Seed int64            // data seed [1]
	Now  func() time.Time // the data clock: seeds lie before its day, Touch stamps it [time.Now]
	Key  string           // accepted user key [DefaultKey]

	Organizations int // [400]
	// Companies seeds organizations: MatchedShare of them derive from these (the
	// sandbox passes HubSpot's), the rest are strangers [0.6].
	Companies    []fake.Company
	MatchedShare float64
	// BulkShare is the share of organizations a seeded data refresh rewrote at one
	// instant, so many share one updated_at [0.15].
	BulkShare float64

	// RateLimit is the calls allowed per clock minute before a bare 429 [200].
	RateLimit int

	// Middleware wraps the routes inside request counting; the sandbox injects
	// faults with it so faulted requests are counted too.
	Middleware func(http.Handler) http.Handler
}

// Validate reports options New cannot build from.
func (o Options) Validate() error {
	if o.Organizations < 0 {
		return fmt.Errorf("crunchbase: %d organizations", o.Organizations)
	}
	for _, share := range []float64{o.MatchedShare, o.BulkShare} {
		if share < 0 || share > 1 {
			return fmt.Errorf("crunchbase: share %v is outside 0..1", share)
		}
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
	if o.Organizations == 0 {
		o.Organizations = 400
	}
	if o.MatchedShare == 0 {
		o.MatchedShare = 0.6
	}
	if o.BulkShare == 0 {
		o.BulkShare = 0.15
	}
	if o.RateLimit == 0 {
		o.RateLimit = 200
	}
	return o
}

// API is the imitation: an http.Handler plus the Go admin methods tests drive it with.
type API struct {
	opts     Options
	handler  http.Handler
	requests atomic.Int64
	limits   *minuteLimit

	mu      sync.RWMutex
	orgs    []*org // ascending uuid
	byUUID  map[string]*org
	byLink  map[string]*org
	bulkAt  time.Time
	mutator *fake.Rand
}

// New builds the imitation and its seeded data. It panics on invalid options
// (see Validate).
func New(opts Options) *API {
	if err := opts.Validate(); err != nil {
		panic(err)
	}
	o := opts.withDefaults()
	anchor := o.Now().UTC().Truncate(24 * time.Hour)
	a := &API{
		opts:    o,
		limits:  &minuteLimit{limit: o.RateLimit, clock: time.Now},
		byUUID:  map[string]*org{},
		byLink:  map[string]*org{},
		mutator: fake.New(o.Seed, "crunchbase/mutations"),
	}
	a.orgs, a.bulkAt = generate(o, anchor)
	for _, x := range a.orgs {
		a.byUUID[x.uuid] = x
		a.byLink[x.permalink] = x
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v4/searches/organizations", a.search)
	mux.HandleFunc("GET /api/v4/entities/organizations/{id}", a.entity)
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

// Key is the accepted user key.
func (a *API) Key() string { return a.opts.Key }

// BulkUpdatedAt is the instant the seeded refresh rewrote BulkShare of the organizations.
func (a *API) BulkUpdatedAt() time.Time { return a.bulkAt }

// guard checks the user key, then the per-minute budget.
func (a *API) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("X-cb-user-key")
		if key == "" {
			key = r.URL.Query().Get("user_key")
		}
		if key != a.opts.Key {
			writeErrors(w, http.StatusUnauthorized, "LA401", "Unauthorized: the user key is missing or not valid")
			return
		}
		if !a.limits.admit() {
			WriteRateLimited(w, 0)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// WriteRateLimited writes Crunchbase's 429: a status line and nothing else — no
// body, no Retry-After, no rate-limit headers, not even a Date. Clients have to
// wait for the next minute on their own. The retryAfter of injected faults is
// ignored for that reason.
func WriteRateLimited(w http.ResponseWriter, _ time.Duration) {
	w.Header()["Date"] = nil // stops net/http from adding one
	w.WriteHeader(http.StatusTooManyRequests)
}

// minuteLimit counts calls per clock minute on the wall clock.
type minuteLimit struct {
	limit int
	clock func() time.Time

	mu     sync.Mutex
	minute time.Time
	used   int
}

func (l *minuteLimit) admit() bool {
	if l.limit <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if m := l.clock().Truncate(time.Minute); !m.Equal(l.minute) {
		l.minute, l.used = m, 0
	}
	if l.used >= l.limit {
		return false
	}
	l.used++
	return true
}

// entity is GET /api/v4/entities/organizations/{permalink|uuid}.
func (a *API) entity(w http.ResponseWriter, r *http.Request) {
	var fields []string
	if v := r.URL.Query().Get("field_ids"); v != "" {
		fields = strings.Split(v, ",")
	} else {
		fields = []string{"identifier", "short_description", "website_url"}
	}
	if bad := unknownFields(fields); len(bad) > 0 {
		writeErrors(w, http.StatusBadRequest, "MD101", "Unsupported field_ids provided: "+strings.Join(bad, ", "))
		return
	}
	a.mu.RLock()
	id := r.PathValue("id")
	x := a.byUUID[id]
	if x == nil {
		x = a.byLink[id]
	}
	var props map[string]any
	if x != nil {
		props = x.properties(fields)
	}
	a.mu.RUnlock()
	if x == nil {
		writeErrors(w, http.StatusNotFound, "MD404", "Entity not found: organizations/"+id)
		return
	}
	cards := map[string]any{}
	for _, c := range strings.Split(r.URL.Query().Get("card_ids"), ",") {
		if c != "" {
			cards[c] = []any{}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"properties": props, "cards": cards})
}

// writeErrors writes Crunchbase's error body: a list of {code, message}.
func writeErrors(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, []map[string]string{{"code": code, "message": msg}})
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

// uuidOf draws a version-4-looking uuid.
func uuidOf(r *fake.Rand) string {
	x, y := r.Uint64(), r.Uint64()
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", uint32(x>>32), uint16(x>>16), uint16(x)&0xfff, 0x8000|uint16(y>>48)&0x3fff, y&0xffffffffffff)
}
