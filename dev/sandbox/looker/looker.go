// Package looker imitates the parts of the Looker API 4.0 the mesh reads, over
// HTTP, boundary behaviour included (FACTS.md lists what was checked against
// Looker's documentation, with sources):
//
//   - Log in with an API key: POST /login with client_id and client_secret
//     form-encoded in the body (query parameters still work, as on Looker) answers
//     {access_token, token_type, expires_in, refresh_token}; wrong credentials
//     answer 404 Not found, as Looker does. The token goes in
//     "Authorization: token …" (Looker's docs) or "Bearer …" (its SDKs) and expires
//     after TokenTTL (3600 s), after which every call answers 401
//     {"message":"Requires authentication."}. DELETE /logout revokes it.
//   - Content lists that page as Looker's do: /dashboards and /looks take only
//     `fields` and leave out (soft-)deleted content; /users takes `fields`, `ids`,
//     `sorts` and limit/offset (over the deprecated page/per_page), with a
//     GitHub-style Link header and X-Total-Count when a limit is sent. A
//     dashboard's tiles (/dashboards/{id}/dashboard_elements) carry their query's
//     model and view, or the Look's they show.
//   - run_inline_query (POST /queries/run/json) over the System Activity model
//     (`system__activity`): the `history` explore (one row per query run: who ran
//     what, when, from which dashboard or Look, with which model and explore, its
//     SQL and runtime) and the `dashboard` explore (each dashboard's tiles and the
//     explores their queries use). Fields are grouped by their dimensions and
//     measures aggregate, filters take Looker's filter expressions ("7 days",
//     "2026-11-01 to 2026-11-08", "after 3 days ago", ">1200450", "%Funnel%",
//     "-NULL"), sorts and limit (a string; 5,000 rows when unset, "-1" for all)
//     apply, timestamps are UTC. A query Looker cannot run answers 200 with a row
//     {"looker_error": "…"}, not an HTTP error.
//   - Errors carry Looker's body {"message", "documentation_url"}; no call is
//     rate limited (Looker throttles none of these endpoints), but injected 429s
//     use the same body (WriteRateLimited).
//
// The data is the company's own BI: dashboards and Looks named after the mesh's
// products, each tile a query on a LookML explore named after the mesh port it
// reads — model "marketing", explore "crm_deals_v1" reads marketing.crm_deals_v1
// (see Explore) — plus a finance model that is not on the mesh; users are the
// company's staff, the same people the Jira and GitHub imitations hold (same
// e-mail addresses, so person_gid joins) and business staff besides; and 90 days
// of history with the weekly rhythm of real use. Everything derives from Seed and
// the day of Now; ground truth (Views, DashboardTables, Users) is kept for tests.
//
// The handler expects paths starting at /api/4.0 (mount it with http.StripPrefix):
//
//	POST   /api/4.0/login
//	DELETE /api/4.0/logout
//	GET    /api/4.0/dashboards?fields=id,title,folder(name)
//	GET    /api/4.0/dashboards/{dashboard_id}/dashboard_elements?fields=…
//	GET    /api/4.0/looks?fields=…
//	GET    /api/4.0/users?fields=…&limit=50&offset=0&sorts=id&ids=1,2
//	POST   /api/4.0/queries/run/{result_format}     (json)
package looker

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

// The API key the imitation accepts unless told otherwise, shaped like Looker's:
// a 20-character public client id and a 24-character secret.
const (
	DefaultClientID     = "MeshflowSandboxId000"
	DefaultClientSecret = "MeshflowSandboxSecret000"
)

// APIPath is where the API lives under the instance's base URL.
const APIPath = "/api/4.0"

// Options configures the imitation. Zero fields take the defaults in brackets.
type Options struct {
	Seed int64 // data seed [1]
	// Now is the clock of the data (history lies before its day; AddViews stamps
	// it), of relative filters ("7 days") and of token expiry [time.Now].
	Now func() time.Time

	ClientID     string        // accepted API key [DefaultClientID]
	ClientSecret string        // [DefaultClientSecret]
	TokenTTL     time.Duration // access token lifetime, Looker's expires_in [1h]

	Days  int // days of history before today; System Activity keeps 90 [90]
	Staff int // business staff (sales, marketing, finance, …) besides the Jira and GitHub people [24]

	// DefaultLimit is the rows a query without a limit returns [5000].
	DefaultLimit int

	// Middleware wraps the API inside request counting; the sandbox injects faults
	// with it so faulted requests are counted too.
	Middleware func(http.Handler) http.Handler
}

// Validate reports options New cannot build from.
func (o Options) Validate() error {
	switch {
	case o.Days < 0 || o.Days > 3650:
		return fmt.Errorf("looker: %d days of history is outside 0..3650", o.Days)
	case o.Staff < 0:
		return fmt.Errorf("looker: %d staff", o.Staff)
	case o.TokenTTL < 0:
		return fmt.Errorf("looker: negative token lifetime %v", o.TokenTTL)
	case o.DefaultLimit < 0:
		return fmt.Errorf("looker: negative default limit %d", o.DefaultLimit)
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
	if o.ClientID == "" {
		o.ClientID = DefaultClientID
	}
	if o.ClientSecret == "" {
		o.ClientSecret = DefaultClientSecret
	}
	if o.TokenTTL == 0 {
		o.TokenTTL = time.Hour
	}
	if o.Days == 0 {
		o.Days = 90
	}
	if o.Staff == 0 {
		o.Staff = 24
	}
	if o.DefaultLimit == 0 {
		o.DefaultLimit = 5000
	}
	return o
}

// API is the imitation: an http.Handler plus the Go admin methods tests drive it with.
type API struct {
	opts     Options
	handler  http.Handler
	requests atomic.Int64
	logins   atomic.Int64

	tokMu    sync.Mutex
	tokens   map[string]time.Time // access token → when it expires
	tokenSeq uint64

	mu          sync.RWMutex
	data        *instance
	mutator     *fake.Rand
	failQueries int // the next this many queries answer a looker_error row
}

// New builds the imitation and its seeded data. It panics on invalid options
// (see Validate).
func New(opts Options) *API {
	if err := opts.Validate(); err != nil {
		panic(err)
	}
	o := opts.withDefaults()
	a := &API{
		opts:    o,
		tokens:  map[string]time.Time{},
		data:    generate(o, o.Now().UTC().Truncate(24*time.Hour)),
		mutator: fake.New(o.Seed, "looker/mutations"),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+APIPath+"/login", a.login)
	mux.HandleFunc("DELETE "+APIPath+"/logout", a.logout)
	mux.HandleFunc("GET "+APIPath+"/dashboards", a.dashboards)
	mux.HandleFunc("GET "+APIPath+"/dashboards/{dashboard_id}/dashboard_elements", a.dashboardElements)
	mux.HandleFunc("GET "+APIPath+"/looks", a.looks)
	mux.HandleFunc("GET "+APIPath+"/users", a.users)
	mux.HandleFunc("POST "+APIPath+"/queries/run/{result_format}", a.runInlineQuery)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, http.StatusNotFound, "Not found")
	})
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

// Logins is how many access tokens the imitation has handed out.
func (a *API) Logins() int { return int(a.logins.Load()) }

// ClientID and ClientSecret are the accepted API key.
func (a *API) ClientID() string     { return a.opts.ClientID }
func (a *API) ClientSecret() string { return a.opts.ClientSecret }

// ExpireTokens makes every access token handed out so far expire now: the next
// call with one answers 401, as after an hour on Looker.
func (a *API) ExpireTokens() {
	a.tokMu.Lock()
	defer a.tokMu.Unlock()
	now := a.opts.Now()
	for tok := range a.tokens {
		a.tokens[tok] = now
	}
}

// login is POST /login: the API key in the form body (or, deprecated, the query)
// buys an access token. Looker answers a wrong key with 404, not 401.
func (a *API) login(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeError(w, r, http.StatusBadRequest, "Bad Request")
		return
	}
	if r.Form.Get("client_id") != a.opts.ClientID || r.Form.Get("client_secret") != a.opts.ClientSecret {
		writeError(w, r, http.StatusNotFound, "Not found")
		return
	}
	a.tokMu.Lock()
	a.tokenSeq++
	tok := accessToken(a.opts.Seed, a.tokenSeq)
	a.tokens[tok] = a.opts.Now().Add(a.opts.TokenTTL)
	a.tokMu.Unlock()
	a.logins.Add(1)
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token":  tok,
		"token_type":    "Bearer",
		"expires_in":    int(a.opts.TokenTTL / time.Second),
		"refresh_token": nil,
	})
}

// logout is DELETE /logout: the token used for the call stops working.
func (a *API) logout(w http.ResponseWriter, r *http.Request) {
	tok, _ := bearer(r)
	a.tokMu.Lock()
	delete(a.tokens, tok)
	a.tokMu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// guard lets /login through and checks every other call's access token.
func (a *API) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == APIPath+"/login" {
			next.ServeHTTP(w, r)
			return
		}
		tok, ok := bearer(r)
		if ok {
			a.tokMu.Lock()
			expires, known := a.tokens[tok]
			a.tokMu.Unlock()
			ok = known && a.opts.Now().Before(expires)
		}
		if !ok {
			writeError(w, r, http.StatusUnauthorized, "Requires authentication.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// bearer reads the access token of "Authorization: token X" (Looker's docs) or
// "Bearer X" (every Looker SDK).
func bearer(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !ok || (!strings.EqualFold(scheme, "token") && !strings.EqualFold(scheme, "bearer")) {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// accessToken draws the n-th token: 40 alphanumerics, like Looker's.
func accessToken(seed int64, n uint64) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 40)
	for i := range b {
		b[i] = alphabet[fake.Mix(seed^0x100c, n*64+uint64(i))%uint64(len(alphabet))]
	}
	return string(b)
}

// WriteRateLimited writes the 429 every Looker endpoint declares, with Looker's
// error body. Looker documents no Retry-After; a fault's retryAfter adds one.
func WriteRateLimited(w http.ResponseWriter, retryAfter time.Duration) {
	if retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((retryAfter+time.Second-1)/time.Second)))
	}
	writeJSON(w, http.StatusTooManyRequests, errorBody{Message: "Too Many Requests", DocumentationURL: docsRoot + "429"})
}

// docsRoot is where Looker's error bodies point.
const docsRoot = "https://cloud.google.com/looker/docs/r/err/4.0/"

type errorBody struct {
	Message          string `json:"message"`
	DocumentationURL string `json:"documentation_url"`
}

// writeError writes Looker's error body; its documentation_url names the status,
// method and path the way Looker's do (…/4.0/404/get/dashboards).
func writeError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	path := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, APIPath), "/")
	writeJSON(w, status, errorBody{Message: msg, DocumentationURL: docsRoot + strconv.Itoa(status) + "/" + strings.ToLower(r.Method) + "/" + path})
}

// writeJSON writes v with Looker's content type.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeBody(w, status, b)
}

func writeBody(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}
