// Package peopledatalabs imitates the People Data Labs API v5 over HTTP, with the
// boundary behaviour a client has to survive: company enrichment answers flat
// (the company's fields beside status and likelihood), person enrichment inside
// `data`; no match is a 404 with PDL's error body and costs nothing; a match
// costs one credit of its own pool and a search one credit per record returned;
// an exhausted pool answers 402; each endpoint has its own per-minute fixed
// window per key, and every answer carries PDL's x-ratelimit-* and x-totallimit-*
// headers; error bodies carry error.type as a one-element list, as PDL sends it
// (its docs show a string). What was checked against PDL, and where, is in FACTS.md.
//
// The companies derive from Options.Companies (the sandbox passes HubSpot's), so
// the web domains of the mesh's identity.company_ids find a record for most and
// "no match" for some; Matches is that ground truth.
//
// The handler expects paths starting at /v5 (mount it with http.StripPrefix):
//
//	GET      /v5/company/enrich?website=…|name=…|profile=…|ticker=…|pdl_id=…
//	POST     /v5/company/enrich/bulk   {"requests": [{"params": {"website": …}, "metadata": …}, …]}  (1–100)
//	GET      /v5/person/enrich?email=…|profile=…|phone=…|pdl_id=…|name=…&company=…
//	GET|POST /v5/company/search   {"query": {"query": {…Elasticsearch…}} | "sql": "SELECT * FROM company WHERE …", "size": N, "scroll_token": "…"}
//
// The key goes in the X-Api-Key header or the api_key parameter.
package peopledatalabs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshflow/meshflow/dev/sandbox/internal/fake"
)

// DefaultKey is the API key the imitation accepts unless told otherwise: 64 hex
// digits, the shape of PDL's keys.
const DefaultKey = "0d1e2f3a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f50"

// Credit types, as PDL names them in x-call-credits-type. Each is a pool of its own.
const (
	CreditsCompanyEnrich = "enrich_company"
	CreditsPersonEnrich  = "enrich"
	CreditsCompanySearch = "search_company"
)

// CreditTypes are the pools the imitation keeps, in a fixed order.
var CreditTypes = []string{CreditsCompanyEnrich, CreditsPersonEnrich, CreditsCompanySearch}

// Options configures the imitation. Zero fields take the defaults in brackets;
// a negative rate limit turns that limit off.
type Options struct {
	Seed int64            // data seed [1]
	Now  func() time.Time // the data clock: dates in records lie before its day [time.Now]
	Key  string           // accepted API key [DefaultKey]

	// Companies seeds the company records: MatchedShare of them have a PDL record
	// (found by their website), the rest answer "no match" [0.8]. When nil, the
	// companies of a default HubSpot imitation with the same seed are used.
	Companies    []fake.Company
	MatchedShare float64
	// AlternativeShare of the matched companies are found through one of the
	// record's alternative_domains: the record's website is another domain (a
	// rebrand), so a client must key its result on the domain it asked for [0.05].
	AlternativeShare float64
	// Strangers are records of companies HubSpot does not know, found by search [200].
	Strangers int
	// DatasetVersion is every record's dataset_version ["31.2"].
	DatasetVersion string

	// Credits are the starting balance of each credit pool, by credit type
	// (CreditsCompanyEnrich, …) [100000 each].
	Credits map[string]int

	// Per-minute request limits per key, each endpoint its own window: company
	// and person enrichment [1000, PDL's paid default], company search [10].
	CompanyEnrichPerMinute, PersonEnrichPerMinute, SearchPerMinute int
	// LimitClock runs the per-minute windows [time.Now]. They pace a real
	// client, so they follow the wall clock whatever Now says; tests replace it.
	LimitClock func() time.Time

	// Middleware wraps the routes inside request counting; the sandbox injects
	// faults with it so faulted requests are counted too.
	Middleware func(http.Handler) http.Handler
}

// Validate reports options New cannot build from.
func (o Options) Validate() error {
	for _, share := range []float64{o.MatchedShare, o.AlternativeShare} {
		if share < 0 || share > 1 {
			return fmt.Errorf("peopledatalabs: share %v is outside 0..1", share)
		}
	}
	if o.Strangers < 0 {
		return fmt.Errorf("peopledatalabs: %d strangers", o.Strangers)
	}
	for typ, n := range o.Credits {
		if !isCreditType(typ) {
			return fmt.Errorf("peopledatalabs: unknown credit type %q (one of %v)", typ, CreditTypes)
		}
		if n < 0 {
			return fmt.Errorf("peopledatalabs: %d %s credits", n, typ)
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
	if o.MatchedShare == 0 {
		o.MatchedShare = 0.8
	}
	if o.AlternativeShare == 0 {
		o.AlternativeShare = 0.05
	}
	if o.Strangers == 0 {
		o.Strangers = 200
	}
	if o.DatasetVersion == "" {
		o.DatasetVersion = "31.2"
	}
	credits := map[string]int{}
	for _, typ := range CreditTypes {
		credits[typ] = 100_000
		if n, ok := o.Credits[typ]; ok {
			credits[typ] = n
		}
	}
	o.Credits = credits
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.CompanyEnrichPerMinute, 1000)
	def(&o.PersonEnrichPerMinute, 1000)
	def(&o.SearchPerMinute, 10)
	if o.LimitClock == nil {
		o.LimitClock = time.Now
	}
	return o
}

// API is the imitation: an http.Handler plus the Go admin methods tests drive it with.
type API struct {
	opts     Options
	handler  http.Handler
	requests atomic.Int64
	limits   map[string]*minuteWindow // by credit type: one window per endpoint

	mu        sync.RWMutex
	companies []*company // ascending ordinal
	people    []*person
	index     indexes
	credits   map[string]*pool
	mutator   *fake.Rand
}

// New builds the imitation and its seeded data. It panics on invalid options
// (see Validate).
func New(opts Options) *API {
	if err := opts.Validate(); err != nil {
		panic(err)
	}
	o := opts.withDefaults()
	if o.Companies == nil {
		o.Companies = hubSpotCompanies(o.Seed, o.Now)
	}
	a := &API{
		opts:    o,
		mutator: fake.New(o.Seed, "peopledatalabs/mutations"),
		credits: map[string]*pool{},
		limits: map[string]*minuteWindow{
			CreditsCompanyEnrich: {limit: o.CompanyEnrichPerMinute, clock: o.LimitClock},
			CreditsPersonEnrich:  {limit: o.PersonEnrichPerMinute, clock: o.LimitClock},
			CreditsCompanySearch: {limit: o.SearchPerMinute, clock: o.LimitClock},
		},
	}
	for _, typ := range CreditTypes {
		a.credits[typ] = &pool{remaining: o.Credits[typ]}
	}
	a.companies, a.people = generate(o, o.Now().UTC().Truncate(24*time.Hour))
	a.reindex()

	mux := http.NewServeMux()
	mux.Handle("/v5/company/enrich", a.endpoint(CreditsCompanyEnrich, "company enrichment", a.companyEnrich, http.MethodGet))
	mux.Handle("/v5/company/enrich/bulk", a.endpoint(CreditsCompanyEnrich, "company enrichment", a.companyBulk, http.MethodPost))
	mux.Handle("/v5/person/enrich", a.endpoint(CreditsPersonEnrich, "person enrichment", a.personEnrich, http.MethodGet))
	mux.Handle("/v5/company/search", a.endpoint(CreditsCompanySearch, "company search", a.companySearch, http.MethodGet, http.MethodPost))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "Invalid endpoint: "+r.URL.Path+" (the base URL must end in the API host; paths start at /v5)")
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
	a.handler.ServeHTTP(w, r)
}

// Requests is how many API requests reached the imitation, faulted ones included.
func (a *API) Requests() int { return int(a.requests.Load()) }

// Key is the accepted API key.
func (a *API) Key() string { return a.opts.Key }

// call is one request to an endpoint, its parameters read from the query string
// and the JSON body (the body wins, as PDL documents).
type call struct {
	params map[string]any
	pool   *pool
	what   string // the endpoint as PDL's 402 message names it
}

// handlerFunc serves a call: it validates, charges the call's pool and answers.
type handlerFunc func(w http.ResponseWriter, c *call)

// endpoint guards a route as PDL does, in this order: the key (401), the method
// (405), the key's window for this endpoint (429), then the handler, which
// validates (400), checks the credits (402) and answers (200 or 404). Every
// answer after the key check carries the rate-limit and credit headers.
func (a *API) endpoint(creditType, what string, serve handlerFunc, methods ...string) http.Handler {
	window := a.limits[creditType]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		params, err := readParams(r)
		key := r.Header.Get("X-Api-Key")
		if key == "" {
			if k, ok := params["api_key"].(string); ok {
				key = k
			}
		}
		if key != a.opts.Key {
			writeError(w, http.StatusUnauthorized, "authentication_error", "Request contained a missing or invalid key")
			return
		}
		delete(params, "api_key")
		allowed := r.Method == http.MethodHead && methods[0] == http.MethodGet
		for _, m := range methods {
			allowed = allowed || r.Method == m
		}
		if !allowed {
			w.Header().Set("Allow", fmt.Sprint(methods))
			writeError(w, http.StatusMethodNotAllowed, "invalid_request_error", "Request method is not allowed on the requested resource")
			return
		}
		admitted, limit, remaining, reset := window.admit()
		setLimitHeaders(w.Header(), limit, remaining, reset)
		w.Header().Set("X-Call-Credits-Type", creditType)
		p := a.credits[creditType]
		if !admitted {
			p.setHeaders(w.Header(), 0)
			writeError(w, http.StatusTooManyRequests, "rate_limit_error", "An error occurred due to requests hitting the API too quick")
			return
		}
		if err != nil {
			p.setHeaders(w.Header(), 0)
			writeError(w, http.StatusBadRequest, "invalid_request_error", err.Error())
			return
		}
		serve(&headerWriter{ResponseWriter: w, pool: p}, &call{params: params, pool: p, what: what})
	})
}

// headerWriter adds the credit headers when the handler writes its status, once
// it knows what the call cost.
type headerWriter struct {
	http.ResponseWriter
	pool  *pool
	spent int
}

func (h *headerWriter) WriteHeader(status int) {
	h.pool.setHeaders(h.Header(), h.spent)
	h.ResponseWriter.WriteHeader(status)
}

// charge takes n credits from the call's pool for the answer about to be written,
// or reports that the pool cannot pay them.
func (c *call) charge(w http.ResponseWriter, n int) bool {
	if !c.pool.take(n) {
		return false
	}
	if hw, ok := w.(*headerWriter); ok {
		hw.spent = n
	}
	return true
}

// paymentRequired writes PDL's 402 for an exhausted pool.
func (c *call) paymentRequired(w http.ResponseWriter) {
	writeError(w, http.StatusPaymentRequired, "payment_required", "You have hit your account maximum for "+c.what+" (all matches used)")
}

// pool is one credit type's balance.
type pool struct {
	mu        sync.Mutex
	remaining int
	used      int // lifetime
}

func (p *pool) take(n int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n > p.remaining {
		return false
	}
	p.remaining -= n
	p.used += n
	return true
}

func (p *pool) exhausted() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.remaining <= 0
}

func (p *pool) setHeaders(h http.Header, spent int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	h.Set("X-Call-Credits-Spent", strconv.Itoa(spent))
	h.Set("X-Totallimit-Remaining", strconv.Itoa(p.remaining))
	h.Set("X-Totallimit-Purchased-Remaining", strconv.Itoa(p.remaining))
	h.Set("X-Totallimit-Overages-Remaining", "0")
	h.Set("X-Lifetime-Used", strconv.Itoa(p.used))
}

// minuteWindow is one key's fixed window on one endpoint, aligned to the clock
// minute.
type minuteWindow struct {
	limit int
	clock func() time.Time

	mu     sync.Mutex
	minute time.Time
	used   int
}

// admit counts a request when the window has room and returns what the
// rate-limit headers report.
func (l *minuteWindow) admit() (ok bool, limit, remaining int, reset time.Time) {
	now := l.clock().UTC()
	reset = now.Truncate(time.Minute).Add(time.Minute)
	if l.limit < 0 {
		return true, -1, -1, reset
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if m := now.Truncate(time.Minute); !m.Equal(l.minute) {
		l.minute, l.used = m, 0
	}
	if l.used >= l.limit {
		return false, l.limit, 0, reset
	}
	l.used++
	return true, l.limit, l.limit - l.used, reset
}

// setLimitHeaders writes PDL's rate-limit headers: the limit and what remains as
// JSON objects keyed by window, the reset as a UTC timestamp. A window that is
// off (limit < 0) reports nothing.
func setLimitHeaders(h http.Header, limit, remaining int, reset time.Time) {
	if limit < 0 {
		return
	}
	h.Set("X-Ratelimit-Limit", fmt.Sprintf(`{"minute": %d}`, limit))
	h.Set("X-Ratelimit-Remaining", fmt.Sprintf(`{"minute": %d}`, remaining))
	h.Set("X-Ratelimit-Reset", reset.UTC().Format(time.RFC3339))
}

// WriteRateLimited writes PDL's 429 for injected faults: the rate_limit_error body,
// no minute left, and the reset retryAfter from now (the next minute when 0).
// PDL sends no Retry-After; clients wait for x-ratelimit-reset.
func WriteRateLimited(w http.ResponseWriter, retryAfter time.Duration) {
	now := time.Now().UTC()
	reset := now.Truncate(time.Minute).Add(time.Minute)
	if retryAfter > 0 {
		reset = now.Add(retryAfter).Truncate(time.Second)
	}
	setLimitHeaders(w.Header(), 0, 0, reset)
	writeError(w, http.StatusTooManyRequests, "rate_limit_error", "An error occurred due to requests hitting the API too quick")
}

// writeError writes PDL's error body. error.type is a one-element list: that is
// what PDL sends (its own Go SDK decodes it so), although its docs show a string.
func writeError(w http.ResponseWriter, status int, typ, msg string) {
	writeJSON(w, status, errorBody(status, typ, msg), false)
}

// errorBody is PDL's error body; a bulk answer holds it as an element.
func errorBody(status int, typ, msg string) map[string]any {
	return map[string]any{"status": status, "error": map[string]any{"type": []string{typ}, "message": msg}}
}

func writeJSON(w http.ResponseWriter, status int, v any, pretty bool) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if pretty {
		enc.SetIndent("", "    ")
	}
	if err := enc.Encode(v); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func isCreditType(typ string) bool {
	for _, t := range CreditTypes {
		if t == typ {
			return true
		}
	}
	return false
}
