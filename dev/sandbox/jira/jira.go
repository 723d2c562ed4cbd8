// Package jira imitates Jira Cloud REST v3 over HTTP, boundary behaviour
// included: /search/jql paged by nextPageToken without a total (a full last page
// still carries a token, and the page after it is empty), ids-only issues unless
// fields are asked for, bounded JQL only, bare JQL datetimes read in the API
// user's profile time zone, timestamps written in that zone
// ("2024-03-02T04:15:44.123-0500"), the removed /search answering 410, Basic
// auth with an email and API token, and a per-second burst limit answering 429
// with Retry-After. Data is generated from a seed and anchored to the start of
// "today", so tests and demos see the same projects, issues and changelogs.
//
// The handler expects paths starting at /rest/api (mount it with http.StripPrefix).
package jira

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	_ "time/tzdata" // profile time zones must load on machines without a zoneinfo database

	"github.com/meshflow/meshflow/dev/sandbox/internal/fake"
)

// Credentials the imitation accepts unless told otherwise, and the API user's
// default profile time zone.
const (
	DefaultEmail    = "sync@acme.example"
	DefaultToken    = "ATATT3xFfGF0sandbox0000"
	DefaultTimeZone = "America/New_York"
)

// Options configures the imitation. Zero fields take the defaults in brackets; a
// negative RateLimit turns the limit off.
type Options struct {
	Seed int64            // data seed [1]
	Now  func() time.Time // the data clock: seeds lie before its day, Transition stamps it [time.Now]

	Email string // accepted Basic auth user [DefaultEmail]
	Token string // accepted API token [DefaultToken]
	// TimeZone is the API user's profile time zone (IANA name): timestamps are
	// written in it and bare JQL datetimes are read in it [DefaultTimeZone].
	TimeZone string

	Projects int // projects, taken in order from OPS, WEB, DATA, MOB, SEC, PAY, SUP, PPL [4]
	Issues   int // issues over the past year [1500]

	// MaxResults is the most issues one /search/jql page holds whatever the client
	// asks [100]; the server may return fewer than requested.
	MaxResults int
	// RateLimit is the requests allowed per rolling second (Jira's burst limit) [20].
	RateLimit int

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
	if o.Email == "" {
		o.Email = DefaultEmail
	}
	if o.Token == "" {
		o.Token = DefaultToken
	}
	if o.TimeZone == "" {
		o.TimeZone = DefaultTimeZone
	}
	if o.Projects == 0 {
		o.Projects = 4
	}
	if o.Issues == 0 {
		o.Issues = 1500
	}
	if o.MaxResults == 0 {
		o.MaxResults = 100
	}
	if o.RateLimit == 0 {
		o.RateLimit = 20
	}
	return o
}

// Validate reports options New would refuse.
func (o Options) Validate() error {
	o = o.withDefaults()
	if _, err := time.LoadLocation(o.TimeZone); err != nil {
		return fmt.Errorf("jira sandbox: time zone %q: %v", o.TimeZone, err)
	}
	if o.Projects < 1 || o.Projects > len(projectDefs) {
		return fmt.Errorf("jira sandbox: projects %d is outside 1..%d", o.Projects, len(projectDefs))
	}
	if o.Issues < 0 || o.MaxResults < 1 {
		return fmt.Errorf("jira sandbox: issues %d and max results %d must be positive", o.Issues, o.MaxResults)
	}
	return nil
}

// API is the imitation: an http.Handler plus the Go admin methods tests drive it with.
type API struct {
	opts     Options
	handler  http.Handler
	requests atomic.Int64
	limits   *limits
	faults   atomic.Uint64 // injected rate limits so far; every third is a 503

	mu      sync.RWMutex
	w       *world
	tz      *time.Location
	mutator *fake.Rand // draws which issues Transition moves, in call order
}

// New builds the imitation and its seeded data. It panics on options Validate
// rejects, a programming error in a test or a flag check the caller skipped.
func New(opts Options) *API {
	if err := opts.Validate(); err != nil {
		panic(err)
	}
	o := opts.withDefaults()
	tz, _ := time.LoadLocation(o.TimeZone)
	anchor := o.Now().UTC().Truncate(24 * time.Hour)
	a := &API{opts: o, tz: tz, limits: &limits{max: o.RateLimit, clock: time.Now}, mutator: fake.New(o.Seed, "jira/mutations")}
	a.w = generate(o, anchor)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /rest/api/3/search/jql", a.reading(a.searchGet))
	mux.HandleFunc("POST /rest/api/3/search/jql", a.reading(a.searchPost))
	for _, v := range []string{"2", "3", "latest"} {
		mux.HandleFunc("/rest/api/"+v+"/search", removedSearch)
	}
	mux.HandleFunc("GET /rest/api/3/issue/{key}/changelog", a.reading(a.changelog))
	mux.HandleFunc("GET /rest/api/3/project/search", a.reading(a.projectSearch))
	mux.HandleFunc("GET /rest/api/3/myself", a.reading(a.myself))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, errorBody("No API here: the sandbox imitates /rest/api/3/search/jql, /issue/{key}/changelog, /project/search and /myself."))
	})
	var h http.Handler = a.guard(mux)
	if o.Middleware != nil {
		h = o.Middleware(h)
	}
	a.handler = readBody(h)
	return a
}

// ServeHTTP counts the request and serves it.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.requests.Add(1)
	a.handler.ServeHTTP(w, r)
}

// Requests is how many API requests reached the imitation, faulted ones included.
func (a *API) Requests() int { return int(a.requests.Load()) }

// Email and Token are the accepted credentials.
func (a *API) Email() string { return a.opts.Email }

// Token is the accepted API token.
func (a *API) Token() string { return a.opts.Token }

// TimeZone is the API user's profile time zone.
func (a *API) TimeZone() *time.Location {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.tz
}

// SetTimeZone changes the API user's profile time zone (an IANA name), as a user
// editing their Atlassian profile does: timestamps and bare JQL datetimes follow.
func (a *API) SetTimeZone(name string) error {
	tz, err := time.LoadLocation(name)
	if err != nil {
		return fmt.Errorf("jira sandbox: time zone %q: %v", name, err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.tz = tz
	a.w.me.tz = name
	return nil
}

// Count is the number of issues.
func (a *API) Count() int {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return len(a.w.issues)
}

// Histories is the number of changelog entries across all issues.
func (a *API) Histories() int {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.w.hists
}

// Projects are the project keys, in order.
func (a *API) Projects() []string {
	var out []string
	for _, p := range a.w.projects {
		out = append(out, p.key)
	}
	return out
}

// BulkUpdatedAt is the instant a seeded bulk edit labelled many issues at once.
func (a *API) BulkUpdatedAt() time.Time { return a.w.bulkAt }

// Change is one issue moved by Transition.
type Change struct {
	IssueID   string `json:"issue_id"`
	IssueKey  string `json:"issue_key"`
	HistoryID string `json:"history_id"` // the changelog entry recording the move
	From      string `json:"from"`
	To        string `json:"to"`
}

// Transition moves n issues that are not done one status forward now (To Do →
// In Progress → In Review → Done), chosen deterministically from the seed and
// the calls before. Each gets one changelog entry, a new `updated`, and on Done
// a resolution and resolution date. It returns their keys in ascending id order.
func (a *API) Transition(n int) []string {
	var keys []string
	for _, c := range a.Transitions(n) {
		keys = append(keys, c.IssueKey)
	}
	return keys
}

// Transitions is Transition reporting each move.
func (a *API) Transitions(n int) []Change {
	a.mu.Lock()
	defer a.mu.Unlock()
	var open []*issue
	for _, is := range a.w.issues {
		if is.status != stDone {
			open = append(open, is)
		}
	}
	n = min(max(n, 0), len(open))
	for i := range n { // partial Fisher–Yates: the first n are a uniform sample
		j := i + a.mutator.IntN(len(open)-i)
		open[i], open[j] = open[j], open[i]
	}
	chosen := open[:n]
	slices.SortFunc(chosen, func(x, y *issue) int { return cmp.Compare(x.id, y.id) })
	return a.move(chosen)
}

// TransitionIssues moves the named issues (keys) one status forward now, as
// Transition does; unknown keys and done issues are skipped.
func (a *API) TransitionIssues(keys ...string) []Change {
	a.mu.Lock()
	defer a.mu.Unlock()
	var chosen []*issue
	for _, k := range keys {
		if is, ok := a.w.byKey[strings.ToUpper(k)]; ok && is.status != stDone && !slices.Contains(chosen, is) {
			chosen = append(chosen, is)
		}
	}
	return a.move(chosen)
}

// move transitions issues under the write lock.
func (a *API) move(issues []*issue) []Change {
	var out []Change
	for _, is := range issues {
		now := a.opts.Now().UTC().Truncate(time.Millisecond)
		if last := is.lastChange(); now.Before(last) {
			now = last // the changelog never goes back in time
		}
		from, to := is.status, is.status+1
		items := []item{{field: "status", fieldID: "status", from: str(statuses[from].id), fromString: str(statuses[from].name), to: str(statuses[to].id), toS: str(statuses[to].name)}}
		if to == stDone {
			is.res, is.resolved = resDone, now
			items = append(items, item{field: "resolution", fieldID: "resolution", to: str(resDone.id), toS: str(resDone.name)})
		}
		if statuses[from].cat != statuses[to].cat {
			is.catChange = now
		}
		author := is.assignee
		if author == nil {
			author = is.reporter
		}
		h := &history{id: a.w.nextHist, author: author, created: now, items: items}
		a.w.nextHist++
		a.w.hists++
		is.histories = append(is.histories, h)
		is.status = to
		is.updated = now
		out = append(out, Change{IssueID: strconv.FormatInt(is.id, 10), IssueKey: is.key(), HistoryID: strconv.FormatInt(h.id, 10),
			From: statuses[from].name, To: statuses[to].name})
	}
	return out
}

// reading adapts a handler that builds its answer under the read lock; the answer
// is written after the lock is released, so a slow client never holds up Transition.
func (a *API) reading(h func(r *http.Request, w wire) (int, any)) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		a.mu.RLock()
		status, body := h(r, wire{site: site(r), tz: a.tz})
		a.mu.RUnlock()
		writeJSON(rw, status, body)
	}
}

// site is the base URL the client used, mount prefix included, for self links.
func site(r *http.Request) string {
	path, _, _ := strings.Cut(r.RequestURI, "?")
	prefix := strings.TrimSuffix(path, r.URL.Path)
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + prefix
}

// removedSearch is the old /search: removed from Jira Cloud in 2025.
func removedSearch(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusGone, errorBody(RemovedSearchMessage))
}

// RemovedSearchMessage is what Jira Cloud answers, with 410, on the old /rest/api/3/search.
const RemovedSearchMessage = "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"

// myself is GET /rest/api/3/myself: the API user, with the profile time zone.
func (a *API) myself(r *http.Request, w wire) (int, any) {
	me := a.w.me
	return http.StatusOK, map[string]any{
		"self":             w.api("/user?accountId=" + url.QueryEscape(me.accountID)),
		"accountId":        me.accountID,
		"accountType":      "atlassian",
		"emailAddress":     me.email,
		"avatarUrls":       w.avatars("user", "10122"),
		"displayName":      me.name,
		"active":           true,
		"timeZone":         me.tz,
		"locale":           "en_US",
		"groups":           map[string]any{"size": 2, "items": []any{}},
		"applicationRoles": map[string]any{"size": 1, "items": []any{}},
		"expand":           "groups,applicationRoles",
	}
}

// changelog is GET /rest/api/3/issue/{key}/changelog: an issue's changelog, oldest
// first, paged by startAt (maxResults default and maximum 100).
func (a *API) changelog(r *http.Request, w wire) (int, any) {
	ref := strings.ToUpper(r.PathValue("key"))
	is, ok := a.w.byKey[ref]
	if !ok {
		id, _ := strconv.ParseInt(ref, 10, 64)
		is, ok = a.w.byID[id]
	}
	if !ok {
		return http.StatusNotFound, errorBody("Issue does not exist or you do not have permission to see it.")
	}
	startAt, maxResults, fail := paging(r, 100, 100)
	if fail != nil {
		return http.StatusBadRequest, fail
	}
	total := len(is.histories)
	values := []wireHistory{}
	for i := startAt; i < total && len(values) < maxResults; i++ {
		values = append(values, w.history(is.histories[i]))
	}
	return http.StatusOK, map[string]any{
		"self":       w.api(fmt.Sprintf("/issue/%s/changelog?maxResults=%d&startAt=%d", r.PathValue("key"), maxResults, startAt)),
		"maxResults": maxResults,
		"startAt":    startAt,
		"total":      total,
		"isLast":     startAt+len(values) >= total,
		"values":     values,
	}
}

// projectSearch is GET /rest/api/3/project/search, paged by startAt (maxResults
// default 50, at most 100), filtered by keys, ordered by key.
func (a *API) projectSearch(r *http.Request, w wire) (int, any) {
	startAt, maxResults, fail := paging(r, 50, 100)
	if fail != nil {
		return http.StatusBadRequest, fail
	}
	q := r.URL.Query()
	var keys []string
	for _, k := range q["keys"] {
		for _, s := range strings.Split(k, ",") {
			if s = strings.TrimSpace(s); s != "" {
				keys = append(keys, strings.ToUpper(s))
			}
		}
	}
	expand := map[string]bool{}
	for _, e := range strings.Split(q.Get("expand"), ",") {
		expand[strings.TrimSpace(e)] = true
	}
	var match []*project
	for _, p := range a.w.projects {
		if len(keys) == 0 || slices.Contains(keys, p.key) {
			match = append(match, p)
		}
	}
	slices.SortFunc(match, func(x, y *project) int { return strings.Compare(x.key, y.key) })
	values := []map[string]any{}
	for i := startAt; i < len(match) && len(values) < maxResults; i++ {
		p := match[i]
		count, last := 0, time.Time{}
		for _, is := range a.w.issues {
			if is.proj == p {
				count++
				if is.updated.After(last) {
					last = is.updated
				}
			}
		}
		values = append(values, w.project(p, expand, count, last))
	}
	isLast := startAt+len(values) >= len(match)
	out := map[string]any{
		"self":       w.api(fmt.Sprintf("/project/search?maxResults=%d&startAt=%d", maxResults, startAt)),
		"maxResults": maxResults,
		"startAt":    startAt,
		"total":      len(match),
		"isLast":     isLast,
		"values":     values,
	}
	if !isLast {
		nq := q
		nq.Set("startAt", strconv.Itoa(startAt+len(values)))
		out["nextPage"] = w.api("/project/search?" + nq.Encode())
	}
	return http.StatusOK, out
}

// paging reads startAt and maxResults; a maxResults above the endpoint's maximum
// is lowered to it, as Jira does.
func paging(r *http.Request, def, maxLimit int) (startAt, maxResults int, fail any) {
	q := r.URL.Query()
	maxResults = def
	if v := q.Get("startAt"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, 0, errorBody(fmt.Sprintf("The value '%s' is invalid for startAt: it must be a non-negative integer.", v))
		}
		startAt = n
	}
	if v := q.Get("maxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return 0, 0, errorBody(fmt.Sprintf("The value '%s' is invalid for maxResults: it must be a positive integer.", v))
		}
		maxResults = min(n, maxLimit)
	}
	return startAt, maxResults, nil
}

// errorBody is Jira's error shape.
func errorBody(msgs ...string) map[string]any {
	return map[string]any{"errorMessages": msgs, "errors": map[string]string{}}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// readBody reads a request's body before anything else, as a proxy in front of
// Jira would: only once the body is read does Go's server watch the connection,
// so a client that gives up on a slow POST ends the handler at once.
func readBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			if err != nil {
				return // the client went away mid-body
			}
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		next.ServeHTTP(w, r)
	})
}

// guard is what Jira does before routing: Basic authentication, then the burst limit.
func (a *API) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		email, token, ok := r.BasicAuth()
		if !ok || !strings.EqualFold(email, a.opts.Email) || token != a.opts.Token {
			w.Header().Set("X-Seraph-LoginReason", "AUTHENTICATED_FAILED")
			w.Header().Set("WWW-Authenticate", `Basic realm="protected-area"`)
			writeJSON(w, http.StatusUnauthorized, errorBody("Client must be authenticated to access this resource."))
			return
		}
		wait, remaining := a.limits.admit()
		if a.limits.max > 0 {
			w.Header().Set("X-RateLimit-Limit", strconv.Itoa(a.limits.max))
			w.Header().Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
			if remaining < a.limits.max/5 {
				w.Header().Set("X-RateLimit-NearLimit", "true")
			}
		}
		if wait > 0 {
			writeRateLimited(w, http.StatusTooManyRequests, wait, "jira-burst-based")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// WriteFaultRateLimited is the sandbox's injected rate limit: mostly 429, and every
// third time a 503 with Retry-After, which Jira also sends when it sheds load.
// retryAfter > 0 sets Retry-After on the 429s (a 503 always carries one).
func (a *API) WriteFaultRateLimited(w http.ResponseWriter, retryAfter time.Duration) {
	if a.faults.Add(1)%3 == 0 {
		writeRateLimited(w, http.StatusServiceUnavailable, max(retryAfter, time.Second), "jira-quota-tenant-based")
		return
	}
	writeRateLimited(w, http.StatusTooManyRequests, retryAfter, "jira-burst-based")
}

func writeRateLimited(w http.ResponseWriter, status int, retryAfter time.Duration, reason string) {
	if retryAfter > 0 {
		secs := int(math.Ceil(retryAfter.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		w.Header().Set("X-RateLimit-Reset", time.Now().UTC().Add(time.Duration(secs)*time.Second).Format("2006-01-02T15:04Z"))
	}
	w.Header().Set("RateLimit-Reason", reason)
	msg := "Rate limit exceeded."
	if status == http.StatusServiceUnavailable {
		msg = "The service is temporarily unavailable. Try again after the Retry-After interval."
	}
	writeJSON(w, status, errorBody(msg))
}

// limits is the per-second burst limit, on the wall clock whatever Options.Now
// says, because it paces a real client's requests.
type limits struct {
	max   int
	clock func() time.Time

	mu     sync.Mutex
	recent []time.Time
}

// admit accounts one request; wait > 0 refuses it for that long.
func (l *limits) admit() (wait time.Duration, remaining int) {
	if l.max <= 0 {
		return 0, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock()
	cut := now.Add(-time.Second)
	i := 0
	for i < len(l.recent) && !l.recent[i].After(cut) {
		i++
	}
	l.recent = l.recent[i:]
	if len(l.recent) >= l.max {
		return l.recent[0].Add(time.Second).Sub(now), 0
	}
	l.recent = append(l.recent, now)
	return 0, l.max - len(l.recent)
}
