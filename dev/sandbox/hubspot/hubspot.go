// Package hubspot imitates the HubSpot CRM v3 API (contacts, companies, deals) over
// HTTP, boundary behaviour included: string-typed properties, opaque list paging,
// offset-paged search capped at SearchCap results, the contacts cursor-property
// trap, Bearer auth, rolling and daily rate limits with HubSpot's bodies and
// headers. Data is generated from a seed so tests and demos see the same records.
//
// The handler expects paths starting at /crm/v3 (mount it with http.StripPrefix).
package hubspot

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshflow/meshflow/dev/sandbox/internal/fake"
)

// DefaultToken is the private app token the imitation accepts unless told otherwise.
const DefaultToken = "pat-na1-sandbox-0000"

// Options configures the imitation. Zero fields take the defaults in brackets;
// a negative limit turns that limit off.
type Options struct {
	Seed  int64            // data seed [1]
	Now   func() time.Time // the data clock: seeds lie before its day, Touch/Archive stamp it [time.Now]
	Token string           // accepted Bearer token [DefaultToken]

	Contacts, Companies, Deals int // record counts [3000, 800, 1500]

	// BulkShare is the share of records a seeded batch job rewrote at one instant
	// (see BulkUpdatedAt) [0.2]; ArchivedShare the share seeded as archived [0.02].
	BulkShare, ArchivedShare float64
	// BulkContacts is how many live contacts a last batch job rewrote at one instant,
	// after every other seeded change (see LastBulkAt): a month-end bulk update, where
	// 12,000 of 25,000 contacts share one lastmodifieddate, the newest of all. At most
	// every live contact [0: none].
	BulkContacts int

	// SearchCap is how many results one search query can page through before
	// HTTP 400 [10000, as HubSpot]. Tests lower it to exercise windowing cheaply.
	SearchCap int
	// RateLimit is the requests allowed per rolling 10 s (TEN_SECONDLY_ROLLING) [190].
	RateLimit int
	// SearchPerSecond is the search requests allowed per rolling second (SECONDLY) [5].
	SearchPerSecond int
	// DailyLimit is the requests allowed per UTC day of Now (DAILY) [500000].
	DailyLimit int
	// MissingScopes names objects the token lacks the read scope for: 403 MISSING_SCOPES.
	MissingScopes []string

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
	if o.Token == "" {
		o.Token = DefaultToken
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.Contacts, 3000)
	def(&o.Companies, 800)
	def(&o.Deals, 1500)
	def(&o.SearchCap, 10_000)
	def(&o.RateLimit, 190)
	def(&o.SearchPerSecond, 5)
	def(&o.DailyLimit, 500_000)
	if o.BulkShare == 0 {
		o.BulkShare = 0.2
	}
	if o.ArchivedShare == 0 {
		o.ArchivedShare = 0.02
	}
	return o
}

// API is the imitation: an http.Handler plus the Go admin methods tests drive it with.
type API struct {
	opts     Options
	handler  http.Handler
	requests atomic.Int64
	limits   *limits

	mu         sync.RWMutex
	stores     map[string]*store
	bulkAt     time.Time
	lastBulkAt time.Time
	mutator    *fake.Rand // draws which records Touch and Archive change, in call order
}

// New builds the imitation and its seeded data.
func New(opts Options) *API {
	o := opts.withDefaults()
	anchor := o.Now().UTC().Truncate(24 * time.Hour)
	a := &API{opts: o, limits: newLimits(o), mutator: fake.New(o.Seed, "hubspot/mutations")}
	a.stores, a.bulkAt, a.lastBulkAt = generate(o, anchor)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /crm/v3/objects/{object}", a.reading(a.list))
	mux.HandleFunc("GET /crm/v3/objects/{object}/{id}", a.reading(a.get))
	mux.HandleFunc("POST /crm/v3/objects/{object}/search", a.reading(a.search))
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

// Token is the accepted Bearer token.
func (a *API) Token() string { return a.opts.Token }

// BulkUpdatedAt is the instant the seeded batch job modified BulkShare of the records.
func (a *API) BulkUpdatedAt() time.Time { return a.bulkAt }

// LastBulkAt is the lastmodifieddate the BulkContacts contacts share: the newest
// modification of the seeded data (zero without BulkContacts).
func (a *API) LastBulkAt() time.Time { return a.lastBulkAt }

// Count is the number of live (not archived) records of object.
func (a *API) Count(object string) int { return a.count(object, false) }

// Archived is the number of archived records of object.
func (a *API) Archived(object string) int { return a.count(object, true) }

func (a *API) count(object string, archived bool) int {
	a.mu.RLock()
	defer a.mu.RUnlock()
	s, ok := a.stores[object]
	if !ok {
		return 0
	}
	n := 0
	for _, r := range s.recs {
		if r.archived() == archived {
			n++
		}
	}
	return n
}

// Touch modifies n live records of object, chosen deterministically from the seed
// and the calls before: it changes a property or two and stamps the modified
// timestamps with Now. It returns their ids in ascending order (nil for an unknown
// object). Touch many records under a fixed clock to make a bulk update.
func (a *API) Touch(object string, n int) []string {
	return a.mutate(object, n, func(s *store, rec *record, now time.Time) {
		r := a.mutator
		switch object {
		case "contacts":
			rec.props["lifecyclestage"] = fake.Pick(r, LifecycleStages)
			rec.props["phone"] = "+1 555-02" + strconv.Itoa(10+r.IntN(90))
		case "companies":
			emp, _ := strconv.ParseInt(rec.props["numberofemployees"], 10, 64)
			rec.props["numberofemployees"] = strconv.FormatInt(emp+1+r.Int64N(50), 10)
		case "deals":
			rec.props["dealstage"] = fake.Pick(r, DealStages)
			rec.props["amount"] = strconv.FormatInt(500*(2+r.Int64N(500)), 10)
		}
		rec.setModified(s.def, now)
	})
}

// Archive archives n live records of object (HubSpot's delete), setting archivedAt
// and the modified timestamps to Now. It returns their ids in ascending order.
func (a *API) Archive(object string, n int) []string {
	return a.mutate(object, n, func(s *store, rec *record, now time.Time) {
		rec.archivedAt = now.UTC().Truncate(time.Millisecond)
		rec.setModified(s.def, now)
	})
}

func (a *API) mutate(object string, n int, change func(*store, *record, time.Time)) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.stores[object]
	if !ok || n <= 0 {
		return nil
	}
	chosen := sample(a.mutator, s.live(), n)
	now := a.opts.Now()
	ids := make([]string, n)
	for i, rec := range chosen {
		change(s, rec, now)
		ids[i] = strconv.FormatInt(rec.id, 10)
	}
	return ids
}

// ExhaustDaily uses up the daily quota, so every request answers 429 DAILY until
// the next UTC day of Now.
func (a *API) ExhaustDaily() { a.limits.exhaustDaily() }

// RestoreDaily gives the daily quota back at once, as HubSpot does at the account's
// midnight (a test whose client believes midnight has come uses it).
func (a *API) RestoreDaily() { a.limits.restoreDaily() }

// reading adapts a handler that builds its answer under the read lock; the
// answer is written after the lock is released, so a client that reads slowly
// never holds up Touch or Archive.
func (a *API) reading(h func(r *http.Request) (int, any)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a.mu.RLock()
		status, body := h(r)
		a.mu.RUnlock()
		writeJSON(w, status, body)
	}
}

// object resolves the {object} path value, or returns HubSpot's 400 body.
func (a *API) object(r *http.Request) (*store, any) {
	s, ok := a.stores[r.PathValue("object")]
	if !ok {
		return nil, errorBody("Unable to infer object type from: "+r.PathValue("object"), "VALIDATION_ERROR")
	}
	return s, nil
}

// wireRecord is a record as the API sends it.
type wireRecord struct {
	ID         string             `json:"id"`
	Properties map[string]*string `json:"properties"`
	CreatedAt  string             `json:"createdAt"`
	UpdatedAt  string             `json:"updatedAt"`
	Archived   bool               `json:"archived"`
	ArchivedAt string             `json:"archivedAt,omitempty"`
}

func (rec *record) wire(props []string) wireRecord {
	w := wireRecord{
		ID:         strconv.FormatInt(rec.id, 10),
		Properties: make(map[string]*string, len(props)),
		CreatedAt:  instantTime(rec.created),
		UpdatedAt:  instantTime(rec.updated),
		Archived:   rec.archived(),
	}
	for _, p := range props {
		if v, ok := rec.props[p]; ok {
			w.Properties[p] = &v
		} else {
			w.Properties[p] = nil // asked for but unset: HubSpot sends null
		}
	}
	if rec.archived() {
		w.ArchivedAt = instantTime(rec.archivedAt)
	}
	return w
}

// requestedProps reads `properties` (comma lists, repeatable). Unknown names are
// dropped silently as HubSpot does; none asked means the object's default set.
func requestedProps(def *objectDef, asked []string) []string {
	var out []string
	for _, a := range asked {
		for _, p := range strings.Split(a, ",") {
			p = strings.TrimSpace(p)
			if _, ok := def.props[p]; ok && !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	if len(asked) == 0 {
		return def.defaults
	}
	return out
}

type listPage struct {
	Results []wireRecord `json:"results"`
	Paging  *paging      `json:"paging,omitempty"`
}

type paging struct {
	Next struct {
		After string `json:"after"`
		Link  string `json:"link,omitempty"`
	} `json:"next"`
}

// list is GET /crm/v3/objects/{object}: records in id order, `after` being the id
// to start at (opaque to clients, who must send it back verbatim).
func (a *API) list(r *http.Request) (int, any) {
	s, fail := a.object(r)
	if fail != nil {
		return http.StatusBadRequest, fail
	}
	q := r.URL.Query()
	limit := 10
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return http.StatusBadRequest, errorBody("limit must be a positive integer, got "+strconv.Quote(v), "VALIDATION_ERROR")
		}
		limit = min(n, 100) // HubSpot serves at most 100 per page
	}
	var start int64
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return http.StatusBadRequest, errorBody("Invalid paging cursor: "+strconv.Quote(v), "VALIDATION_ERROR")
		}
		start = n
	}
	archived := q.Get("archived") == "true"
	props := requestedProps(s.def, q["properties"])

	i, _ := slices.BinarySearchFunc(s.recs, start, func(rec *record, id int64) int { return cmpInt(rec.id, id) })
	page := listPage{Results: []wireRecord{}}
	for ; i < len(s.recs); i++ {
		rec := s.recs[i]
		if rec.archived() != archived {
			continue
		}
		if len(page.Results) == limit {
			page.Paging = &paging{}
			page.Paging.Next.After = strconv.FormatInt(rec.id, 10)
			nq := q
			nq.Set("after", page.Paging.Next.After)
			page.Paging.Next.Link = "http://" + r.Host + strings.SplitN(r.RequestURI, "?", 2)[0] + "?" + nq.Encode()
			break
		}
		page.Results = append(page.Results, rec.wire(props))
	}
	return http.StatusOK, page
}

// get is GET /crm/v3/objects/{object}/{id}.
func (a *API) get(r *http.Request) (int, any) {
	s, fail := a.object(r)
	if fail != nil {
		return http.StatusBadRequest, fail
	}
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	rec, ok := s.byID[id]
	if !ok || rec.archived() != (r.URL.Query().Get("archived") == "true") {
		return http.StatusNotFound, errorBody("Object not found.  objectId are usually numeric.", "OBJECT_NOT_FOUND")
	}
	return http.StatusOK, rec.wire(requestedProps(s.def, r.URL.Query()["properties"]))
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}
