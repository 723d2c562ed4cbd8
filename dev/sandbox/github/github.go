// Package github imitates the GitHub REST API for one organisation's repositories
// (issues, pull requests, reviews, commits, forks) and the organisations around
// them (the owner, and customers' and partners' that fork the repositories) over
// HTTP, and the GraphQL API over the same data (pull requests and their reviews:
// see graphql.go), boundary behaviour included: state=open by default, every pull request doubling as an issue,
// Link-header paging that answers 422 past PageCap results and switches its
// links to after= cursors, the since=1970 empty-list bug, ETags and 304s that
// cost nothing, Bearer auth and a required User-Agent, primary and secondary
// rate limits told apart by headers and message, and 403/404 permission answers.
// Data is generated from a seed and anchored to the start of today.
//
// The handler expects paths such as /repos/acme/app/issues (mount it with
// http.StripPrefix); the links it writes keep the mount prefix.
package github

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshflow/meshflow/dev/sandbox/internal/fake"
)

// DefaultToken is the personal access token the imitation accepts unless told otherwise.
const DefaultToken = "ghp_sandbox000000000000000000000000000000"

// PaginationMessage is GitHub's 422 message for page-numbered paging past PageCap.
const PaginationMessage = "Pagination with the page parameter is not supported for large datasets, please use cursor based pagination (after/before)"

// SecondaryMessage starts GitHub's answer to a secondary rate limit.
const SecondaryMessage = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."

// ForbiddenMessage is the 403 a fine-grained token gets for a permission it lacks.
const ForbiddenMessage = "Resource not accessible by personal access token"

// Options configures the imitation. Zero fields take the defaults in brackets;
// a negative limit turns that limit off.
type Options struct {
	Seed  int64            // data seed [1]
	Now   func() time.Time // the data clock: seeds lie before its day, admin changes stamp it [time.Now]
	Token string           // accepted Bearer token [DefaultToken]
	Org   string           // the organisation owning app, api and data-pipeline [DefaultOrg]

	// Issues and PullRequests are generated per repository [400, 600]; Commits are
	// direct commits on main per repository, besides one squash commit per merged
	// pull request [150]; ReleaseCommits are the release branch's own [20].
	Issues, PullRequests, Commits, ReleaseCommits int
	// BulkShare is the share of older issues a label migration rewrote at one
	// instant (see BulkUpdatedAt) [0.15].
	BulkShare float64

	// PageCap is how deep page-numbered paging goes: a request whose
	// page×per_page exceeds it answers 422, and links switch to after= cursors
	// before that [10000, as GitHub]. Tests lower it.
	PageCap int
	// RateLimit is the primary limit per hour [5000]. SecondaryPerMinute is how
	// many requests a rolling minute allows before the secondary limit [900].
	RateLimit, SecondaryPerMinute int
	// GraphQLRateLimit is the GraphQL API's primary limit in points per hour
	// [5000]; GraphQLSecondaryPerMinute its secondary limit, in queries (a point
	// each) per rolling minute [2000].
	GraphQLRateLimit, GraphQLSecondaryPerMinute int
	// Orgs are the customers' and partners' organisations that fork the
	// repositories, each 1 to 3 of them [60]; UserForks are forks owned by users
	// [20]. Negative = none.
	Orgs, UserForks int
	// Companies seeds the forking organisations: MatchedShare of them derive from
	// these (the sandbox passes HubSpot's), their blog spelling the company's
	// domain; the rest are strangers [0.7].
	Companies    []fake.Company
	MatchedShare float64

	// Forbidden lists "owner/repo/resource" the token lacks a permission for
	// (resource: repo, issues, pulls or commits; reviews belong to pulls): 403
	// "Resource not accessible by personal access token".
	Forbidden []string

	// Middleware wraps the routes inside request counting; the sandbox injects
	// faults with it so faulted requests are counted too.
	Middleware func(http.Handler) http.Handler
}

// Validate reports options New cannot build from.
func (o Options) Validate() error {
	if o.MatchedShare < 0 || o.MatchedShare > 1 {
		return fmt.Errorf("github: matched share %v is outside 0..1", o.MatchedShare)
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
	if o.Token == "" {
		o.Token = DefaultToken
	}
	if o.Org == "" {
		o.Org = DefaultOrg
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.Issues, 400)
	def(&o.PullRequests, 600)
	def(&o.Commits, 150)
	def(&o.ReleaseCommits, 20)
	def(&o.PageCap, 10_000)
	def(&o.RateLimit, 5000)
	def(&o.SecondaryPerMinute, 900)
	def(&o.GraphQLRateLimit, 5000)
	def(&o.GraphQLSecondaryPerMinute, 2000)
	if o.BulkShare == 0 {
		o.BulkShare = 0.15
	}
	def(&o.Orgs, 60)
	def(&o.UserForks, 20)
	o.Orgs, o.UserForks = max(o.Orgs, 0), max(o.UserForks, 0)
	if o.MatchedShare == 0 {
		o.MatchedShare = 0.7
	}
	return o
}

// API is the imitation: an http.Handler plus the Go admin methods tests drive it with.
type API struct {
	opts     Options
	handler  http.Handler
	requests atomic.Int64
	limits   *limits

	mu      sync.RWMutex
	w       *world
	mutator *fake.Rand // draws which records the admin methods change, in call order
}

// New builds the imitation and its seeded data. It panics on invalid options
// (see Validate).
func New(opts Options) *API {
	if err := opts.Validate(); err != nil {
		panic(err)
	}
	o := opts.withDefaults()
	anchor := o.Now().UTC().Truncate(24 * time.Hour)
	a := &API{opts: o, limits: newLimits(o), mutator: fake.New(o.Seed, "github/mutations")}
	a.w = generate(o, anchor)

	mux := http.NewServeMux()
	for _, prefix := range []string{"/repos/{owner}/{repo}", "/repositories/{id}"} {
		mux.HandleFunc("GET "+prefix, a.reading(a.getRepo))
		mux.HandleFunc("GET "+prefix+"/issues", a.reading(a.listIssues))
		mux.HandleFunc("GET "+prefix+"/pulls", a.reading(a.listPulls))
		mux.HandleFunc("GET "+prefix+"/pulls/{number}/reviews", a.reading(a.listReviews))
		mux.HandleFunc("GET "+prefix+"/commits", a.reading(a.listCommits))
		mux.HandleFunc("GET "+prefix+"/forks", a.reading(a.listForks))
	}
	mux.HandleFunc("GET /orgs/{org}", a.reading(a.getOrg))
	mux.HandleFunc("GET /user", a.reading(a.getUser))
	mux.HandleFunc("GET /rate_limit", a.reading(a.rateLimit))
	mux.HandleFunc("POST /graphql", a.graphql)
	mux.HandleFunc("/", a.reading(func(r *http.Request) reply { return notFound("https://docs.github.com/rest") }))
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

// Repos are the full names of the organisation's repositories.
func (a *API) Repos() []string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	var out []string
	for _, rp := range a.w.repos {
		out = append(out, rp.fullName())
	}
	return out
}

// Team is the team owning repository fullName ("" if there is none).
func (a *API) Team(fullName string) string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if rp := a.w.find(fullName); rp != nil {
		return rp.team
	}
	return ""
}

// BulkUpdatedAt is the instant the seeded label migration rewrote BulkShare of
// the older issues.
func (a *API) BulkUpdatedAt() time.Time { return a.w.bulkAt }

// reply is a handler's answer, written after the read lock is released.
type reply struct {
	status int
	body   any
	link   string
	header http.Header
}

func (a *API) reading(h func(r *http.Request) reply) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a.mu.RLock()
		rep := h(r)
		a.mu.RUnlock()
		a.respond(w, r, rep, r.URL.Path != "/rate_limit")
	}
}

// respond writes rep. A 200 carries an ETag of its body; a request whose
// If-None-Match holds it gets 304 with no body and is not charged to the
// primary limit.
func (a *API) respond(w http.ResponseWriter, r *http.Request, rep reply, charge bool) {
	b, err := json.Marshal(rep.body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	for k, v := range rep.header {
		h[k] = v
	}
	h.Set("X-GitHub-Media-Type", "github.v3; format=json")
	h.Set("X-GitHub-Api-Version-Selected", "2022-11-28")
	h.Set("X-GitHub-Request-Id", requestID())
	if rep.status == http.StatusOK {
		sum := sha256.Sum256(b)
		etag := `W/"` + hex.EncodeToString(sum[:16]) + `"`
		h.Set("ETag", etag)
		h.Set("Cache-Control", "private, max-age=60, s-maxage=60")
		h.Set("Vary", "Accept, Authorization, Cookie, X-GitHub-OTP")
		if etagMatch(r.Header.Get("If-None-Match"), etag) {
			a.limits.headers(h)
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	if charge {
		a.limits.charge()
	}
	a.limits.headers(h)
	if rep.link != "" {
		h.Set("Link", rep.link)
	}
	writeJSONBytes(w, rep.status, b)
}

// etagMatch reads If-None-Match: a list of tags, weak or strong, or *.
func etagMatch(header, etag string) bool {
	if header == "" {
		return false
	}
	want := strings.TrimPrefix(etag, "W/")
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == want {
			return true
		}
	}
	return false
}

func writeJSONBytes(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSONBytes(w, status, b)
}

// errorBody is GitHub's error shape.
func errorBody(status int, msg, doc string) map[string]any {
	return map[string]any{"message": msg, "documentation_url": doc, "status": strconv.Itoa(status)}
}

func fail(status int, msg, doc string) reply {
	return reply{status: status, body: errorBody(status, msg, doc)}
}

func notFound(doc string) reply { return fail(http.StatusNotFound, "Not Found", doc) }

func validation(field, doc string) reply {
	return reply{status: http.StatusUnprocessableEntity, body: map[string]any{
		"message":           "Validation Failed",
		"errors":            []any{map[string]string{"field": field, "code": "invalid"}},
		"documentation_url": doc,
		"status":            "422",
	}}
}

var requestSeq atomic.Uint64

func requestID() string {
	x := fake.Mix(0x617, requestSeq.Add(1))
	return fmt.Sprintf("%04X:%05X:%06X:%07X:%08X", uint16(x>>48), uint32(x>>28)&0xfffff, uint32(x>>4)&0xffffff, uint32(x)&0xfffffff, uint32(x>>16))
}

// base is the API root the request reached, mount prefix included, for the URLs
// in bodies and links.
func base(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	raw, _, _ := strings.Cut(r.RequestURI, "?")
	prefix := strings.TrimSuffix(raw, r.URL.EscapedPath())
	if prefix == raw {
		prefix = ""
	}
	return scheme + "://" + r.Host + prefix
}

func (w *world) find(fullName string) *repo {
	for _, rp := range w.repos {
		if strings.EqualFold(rp.fullName(), fullName) {
			return rp
		}
	}
	return nil
}

// permissions maps a resource to the fine-grained permission it needs, as GitHub
// reports it in X-Accepted-GitHub-Permissions.
var permissions = map[string]string{"repo": "metadata=read", "issues": "issues=read", "pulls": "pull_requests=read", "commits": "contents=read"}

// repo resolves /repos/{owner}/{repo} or /repositories/{id} and checks the
// token's permission for resource. A repository the token cannot see is a 404,
// as GitHub answers for private repositories.
func (a *API) repo(r *http.Request, resource, doc string) (*repo, *reply) {
	var rp *repo
	if id := r.PathValue("id"); id != "" {
		n, _ := strconv.ParseInt(id, 10, 64)
		for _, x := range a.w.repos {
			if x.id == n {
				rp = x
			}
		}
	} else {
		rp = a.w.find(r.PathValue("owner") + "/" + r.PathValue("repo"))
	}
	if rp == nil {
		nf := notFound(doc)
		return nil, &nf
	}
	if slices.Contains(a.opts.Forbidden, rp.fullName()+"/"+resource) {
		rep := fail(http.StatusForbidden, ForbiddenMessage, doc)
		rep.header = http.Header{"X-Accepted-Github-Permissions": {permissions[resource]}}
		return nil, &rep
	}
	return rp, nil
}

// entry is one item of a list in the list's order, with the key its after=
// cursor is made of.
type entry struct {
	k1, k2 int64
	v      any
}

// sortEntries orders es by (k1, k2), ascending or descending.
func sortEntries(es []entry, desc bool) {
	slices.SortStableFunc(es, func(x, y entry) int {
		c := cmp2(x, y)
		if desc {
			return -c
		}
		return c
	})
}

func cmp2(x, y entry) int {
	switch {
	case x.k1 != y.k1:
		if x.k1 < y.k1 {
			return -1
		}
		return 1
	case x.k2 < y.k2:
		return -1
	case x.k2 > y.k2:
		return 1
	}
	return 0
}

func encodeAfter(e entry) string {
	return base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "cursor:v2:%d:%d", e.k1, e.k2))
}

func decodeAfter(s string) (entry, bool) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return entry{}, false
	}
	var e entry
	if _, err := fmt.Sscanf(string(b), "cursor:v2:%d:%d", &e.k1, &e.k2); err != nil {
		return entry{}, false
	}
	return e, true
}

// paginate serves one page of es (filtered and sorted) as GitHub does:
// per_page (default 30, at most 100) and page, or after= once past PageCap.
// Links point at /repositories/{id}{tail}, as GitHub's do, so a client must
// follow them verbatim rather than rebuild them.
func (a *API) paginate(r *http.Request, rp *repo, tail, doc string, es []entry, desc bool, render func(any) any) reply {
	q := r.URL.Query()
	per := 30
	if v, err := strconv.Atoi(q.Get("per_page")); err == nil && v > 0 {
		per = min(v, 100)
	}
	link := func(rel string, set func(url.Values)) string {
		nq := url.Values{}
		for k, v := range q {
			if k != "page" && k != "after" && k != "before" {
				nq[k] = v
			}
		}
		set(nq)
		return fmt.Sprintf(`<%s/repositories/%d%s?%s>; rel="%s"`, base(r), rp.id, tail, nq.Encode(), rel)
	}
	var start int
	var links []string
	after := q.Get("after")
	page := 1
	if after != "" {
		k, ok := decodeAfter(after)
		if !ok {
			return validation("after", doc)
		}
		start = sort.Search(len(es), func(i int) bool {
			c := cmp2(es[i], k)
			if desc {
				return c < 0
			}
			return c > 0
		})
	} else {
		if v, err := strconv.Atoi(q.Get("page")); err == nil && v > 0 {
			page = v
		}
		if page*per > a.opts.PageCap {
			return fail(http.StatusUnprocessableEntity, PaginationMessage, doc)
		}
		start = min((page-1)*per, len(es))
	}
	end := min(start+per, len(es))
	if after == "" && page > 1 {
		links = append(links,
			link("prev", func(v url.Values) { v.Set("page", strconv.Itoa(page-1)) }),
			link("first", func(v url.Values) { v.Set("page", "1") }))
	}
	if end < len(es) {
		if after != "" || (page+1)*per > a.opts.PageCap {
			tok := encodeAfter(es[end-1])
			links = append(links, link("next", func(v url.Values) { v.Set("after", tok) }))
		} else {
			links = append(links, link("next", func(v url.Values) { v.Set("page", strconv.Itoa(page+1)) }))
			if last := (len(es) + per - 1) / per; last*per <= a.opts.PageCap {
				links = append(links, link("last", func(v url.Values) { v.Set("page", strconv.Itoa(last)) }))
			}
		}
	}
	out := make([]any, 0, end-start)
	for _, e := range es[start:end] {
		out = append(out, render(e.v))
	}
	return reply{status: http.StatusOK, body: out, link: strings.Join(links, ", ")}
}

// parseTime reads a since/until value: ISO 8601 in UTC or with an offset.
func parseTime(s string) (time.Time, bool) {
	for _, l := range []string{time.RFC3339, "2006-01-02T15:04Z07:00", "2006-01-02"} {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

const (
	docIssues  = "https://docs.github.com/rest/issues/issues#list-repository-issues"
	docPulls   = "https://docs.github.com/rest/pulls/pulls#list-pull-requests"
	docReviews = "https://docs.github.com/rest/pulls/reviews#list-reviews-for-a-pull-request"
	docCommits = "https://docs.github.com/rest/commits/commits#list-commits"
	docRepo    = "https://docs.github.com/rest/repos/repos#get-a-repository"
	docForks   = "https://docs.github.com/rest/repos/forks#list-forks"
	docOrg     = "https://docs.github.com/rest/orgs/orgs#get-an-organization"
)

// sortKey is what a list of issues or pull requests sorted by `by` orders them
// on: created (the default), updated, comments and popularity (the comment
// count), long-running (the oldest first).
func sortKey(it *issue, by string) int64 {
	switch by {
	case "updated":
		return it.updated.Unix()
	case "comments", "popularity":
		return int64(it.comments)
	case "long-running":
		return -it.created.Unix()
	}
	return it.created.Unix()
}

// listIssues is GET /repos/{o}/{r}/issues: issues and pull requests alike
// (those carry a pull_request key), state open unless asked, sorted by created
// desc unless asked; since keeps those updated at or after it, except that
// since=1970-01-01T00:00:00Z returns nothing (a reported GitHub bug).
func (a *API) listIssues(r *http.Request) reply {
	rp, f := a.repo(r, "issues", docIssues)
	if f != nil {
		return *f
	}
	q := r.URL.Query()
	state := or(q.Get("state"), "open")
	sortBy := or(q.Get("sort"), "created")
	dir := or(q.Get("direction"), "desc")
	if !slices.Contains([]string{"open", "closed", "all"}, state) {
		return validation("state", docIssues)
	}
	if !slices.Contains([]string{"created", "updated", "comments"}, sortBy) {
		return validation("sort", docIssues)
	}
	if dir != "asc" && dir != "desc" {
		return validation("direction", docIssues)
	}
	var since time.Time
	if v := q.Get("since"); v != "" {
		t, ok := parseTime(v)
		if !ok {
			return validation("since", docIssues)
		}
		if !t.After(time.Unix(0, 0)) {
			return reply{status: http.StatusOK, body: []any{}}
		}
		since = t
	}
	var es []entry
	for _, it := range rp.issues {
		if (state != "all" && it.state != state) || it.updated.Before(since) {
			continue
		}
		es = append(es, entry{k1: sortKey(it, sortBy), k2: int64(it.number), v: it})
	}
	sortEntries(es, dir == "desc")
	b := base(r)
	return a.paginate(r, rp, "/issues", docIssues, es, dir == "desc", func(v any) any { return a.issueJSON(b, rp, v.(*issue)) })
}

// listPulls is GET /repos/{o}/{r}/pulls: state open unless asked, sort created
// (direction desc) unless asked, otherwise direction asc unless asked. It has
// no since: GitHub ignores one.
func (a *API) listPulls(r *http.Request) reply {
	rp, f := a.repo(r, "pulls", docPulls)
	if f != nil {
		return *f
	}
	q := r.URL.Query()
	state := or(q.Get("state"), "open")
	sortBy := or(q.Get("sort"), "created")
	dir := q.Get("direction")
	if dir == "" {
		dir = "asc"
		if sortBy == "created" {
			dir = "desc"
		}
	}
	if !slices.Contains([]string{"open", "closed", "all"}, state) {
		return validation("state", docPulls)
	}
	if !slices.Contains([]string{"created", "updated", "popularity", "long-running"}, sortBy) {
		return validation("sort", docPulls)
	}
	if dir != "asc" && dir != "desc" {
		return validation("direction", docPulls)
	}
	var es []entry
	for _, it := range rp.issues {
		if it.pr == nil || (state != "all" && it.state != state) {
			continue
		}
		es = append(es, entry{k1: sortKey(it, sortBy), k2: int64(it.number), v: it})
	}
	sortEntries(es, dir == "desc")
	b := base(r)
	return a.paginate(r, rp, "/pulls", docPulls, es, dir == "desc", func(v any) any { return a.pullJSON(b, rp, v.(*issue)) })
}

// listReviews is GET /repos/{o}/{r}/pulls/{number}/reviews, oldest first.
func (a *API) listReviews(r *http.Request) reply {
	rp, f := a.repo(r, "pulls", docReviews)
	if f != nil {
		return *f
	}
	n, err := strconv.Atoi(r.PathValue("number"))
	if err != nil || n < 1 || n > len(rp.issues) || rp.issues[n-1].pr == nil {
		return notFound(docReviews)
	}
	it := rp.issues[n-1]
	var es []entry
	for _, rv := range it.pr.reviews {
		es = append(es, entry{k1: rv.id, v: rv})
	}
	b := base(r)
	return a.paginate(r, rp, "/pulls/"+strconv.Itoa(n)+"/reviews", docReviews, es, false, func(v any) any { return a.reviewJSON(b, rp, it, v.(*review)) })
}

// listCommits is GET /repos/{o}/{r}/commits: newest first from sha (a branch
// name or a commit sha; main unless given), since/until on the committer date,
// both inclusive.
func (a *API) listCommits(r *http.Request) reply {
	rp, f := a.repo(r, "commits", docCommits)
	if f != nil {
		return *f
	}
	q := r.URL.Query()
	var list []*commit
	if sha := q.Get("sha"); sha == "" {
		list = rp.main().listing()
	} else if b := rp.branch(sha); b != nil {
		list = b.listing()
	} else {
		for _, b := range rp.branches {
			l := b.listing()
			if i := slices.IndexFunc(l, func(c *commit) bool { return c.sha == sha || (len(sha) >= 7 && strings.HasPrefix(c.sha, sha)) }); i >= 0 {
				list = l[i:]
				break
			}
		}
		if list == nil {
			return fail(http.StatusNotFound, "No commit found for SHA: "+sha, docCommits)
		}
	}
	var since, until time.Time
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"since", &since}, {"until", &until}} {
		if v := q.Get(p.name); v != "" {
			t, ok := parseTime(v)
			if !ok {
				return validation(p.name, docCommits)
			}
			*p.t = t
		}
	}
	var es []entry
	for i, c := range list {
		if c.committed.Before(since) || (!until.IsZero() && c.committed.After(until)) {
			continue
		}
		es = append(es, entry{k1: int64(len(list) - 1 - i), v: c}) // position from the oldest: stable as history grows
	}
	b := base(r)
	return a.paginate(r, rp, "/commits", docCommits, es, true, func(v any) any { return a.commitJSON(b, rp, v.(*commit)) })
}

func (a *API) getRepo(r *http.Request) reply {
	rp, f := a.repo(r, "repo", docRepo)
	if f != nil {
		return *f
	}
	return reply{status: http.StatusOK, body: a.repoJSON(base(r), rp)}
}

// listForks is GET /repos/{o}/{r}/forks: sort newest (the default), oldest,
// stargazers or watchers; ties go to the newer fork.
func (a *API) listForks(r *http.Request) reply {
	rp, f := a.repo(r, "repo", docForks)
	if f != nil {
		return *f
	}
	sortBy := or(r.URL.Query().Get("sort"), "newest")
	if !slices.Contains([]string{"newest", "oldest", "stargazers", "watchers"}, sortBy) {
		return validation("sort", docForks)
	}
	var es []entry
	for _, fk := range rp.forks {
		e := entry{k1: fk.created.Unix(), k2: fk.id, v: fk}
		switch sortBy {
		case "stargazers":
			e.k1 = int64(fk.stars)
		case "watchers":
			e.k1 = int64(fk.watchers)
		}
		es = append(es, e)
	}
	desc := sortBy != "oldest"
	sortEntries(es, desc)
	b := base(r)
	return a.paginate(r, rp, "/forks", docForks, es, desc, func(v any) any { return a.forkJSON(b, v.(*fork)) })
}

// getOrg is GET /orgs/{org}. A user's login is a 404, as on GitHub.
func (a *API) getOrg(r *http.Request) reply {
	x := a.w.findOrg(r.PathValue("org"))
	if x == nil {
		return notFound(docOrg)
	}
	return reply{status: http.StatusOK, body: a.orgJSON(base(r), x)}
}

// getUser is GET /user: the token's own account.
func (a *API) getUser(r *http.Request) reply {
	return reply{status: http.StatusOK, body: map[string]any{
		"login": "sandbox-bot", "id": 1, "node_id": "U_kgDOAAAAAQ", "type": "User", "site_admin": false,
		"name": "Sandbox Bot", "url": base(r) + "/users/sandbox-bot", "html_url": "https://github.com/sandbox-bot",
	}}
}

// rateLimit is GET /rate_limit, which GitHub does not count.
func (a *API) rateLimit(r *http.Request) reply {
	core := a.limits.core()
	return reply{status: http.StatusOK, body: map[string]any{
		"resources": map[string]any{"core": core, "search": map[string]any{"limit": 30, "remaining": 30, "used": 0, "reset": core["reset"], "resource": "search"}},
		"rate":      core,
	}}
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// Wire shapes. Maps marshal with sorted keys, so equal data gives equal bytes and
// equal ETags.

func (a *API) userJSON(b string, u *user) any {
	if u == nil {
		return nil
	}
	typ := "User"
	if u.bot {
		typ = "Bot"
	}
	return map[string]any{
		"login": u.login, "id": u.id, "node_id": "U_kgDO" + strconv.FormatInt(u.id, 36), "type": typ, "site_admin": false,
		"url": b + "/users/" + url.PathEscape(u.login), "html_url": "https://github.com/" + url.PathEscape(u.login),
	}
}

func (a *API) users(b string, us []*user) []any {
	out := []any{}
	for _, u := range us {
		out = append(out, a.userJSON(b, u))
	}
	return out
}

func (a *API) labels(names []string) []any {
	out := []any{}
	for _, n := range names {
		h := fnv.New64a()
		h.Write([]byte(n))
		out = append(out, map[string]any{"id": int64(h.Sum64() >> 34), "name": n, "color": "d73a4a", "default": n == "bug"})
	}
	return out
}

func association(rp *repo, u *user) string {
	if slices.Contains(rp.members, u) {
		return "MEMBER"
	}
	if u.bot {
		return "NONE"
	}
	return "COLLABORATOR"
}

func (a *API) issueJSON(b string, rp *repo, it *issue) map[string]any {
	api := b + "/repos/" + rp.fullName()
	m := map[string]any{
		"url": api + "/issues/" + strconv.Itoa(it.number), "repository_url": api,
		"html_url": "https://github.com/" + rp.fullName() + "/issues/" + strconv.Itoa(it.number),
		"id":       it.id, "node_id": "I_kwDO" + strconv.FormatInt(it.id, 36), "number": it.number,
		"title": it.title, "body": it.body, "user": a.userJSON(b, it.user), "labels": a.labels(it.labels),
		"state": it.state, "state_reason": nilIfEmpty(it.reason), "locked": false,
		"assignee": a.userJSON(b, it.assignee), "assignees": a.users(b, nonNilUsers(it.assignee)), "milestone": nil,
		"comments": it.comments, "created_at": ts(it.created), "updated_at": ts(it.updated), "closed_at": tsOrNil(it.closed),
		"author_association": association(rp, it.user),
	}
	if it.pr != nil {
		pu := api + "/pulls/" + strconv.Itoa(it.number)
		m["html_url"] = "https://github.com/" + rp.fullName() + "/pull/" + strconv.Itoa(it.number)
		m["draft"] = it.pr.draft
		m["pull_request"] = map[string]any{
			"url": pu, "html_url": m["html_url"], "diff_url": m["html_url"].(string) + ".diff", "patch_url": m["html_url"].(string) + ".patch",
			"merged_at": tsOrNil(it.pr.merged),
		}
	}
	return m
}

func (a *API) pullJSON(b string, rp *repo, it *issue) map[string]any {
	api := b + "/repos/" + rp.fullName()
	p := it.pr
	main := rp.main().head()
	html := "https://github.com/" + rp.fullName() + "/pull/" + strconv.Itoa(it.number)
	return map[string]any{
		"url": api + "/pulls/" + strconv.Itoa(it.number), "id": p.id, "node_id": "PR_kwDO" + strconv.FormatInt(p.id, 36),
		"html_url": html, "diff_url": html + ".diff", "patch_url": html + ".patch",
		"issue_url": api + "/issues/" + strconv.Itoa(it.number), "number": it.number, "state": it.state, "locked": false,
		"title": it.title, "user": a.userJSON(b, it.user), "body": it.body, "labels": a.labels(it.labels), "milestone": nil,
		"created_at": ts(it.created), "updated_at": ts(it.updated), "closed_at": tsOrNil(it.closed), "merged_at": tsOrNil(p.merged),
		"merge_commit_sha": nilIfEmpty(p.mergeSHA), "assignee": a.userJSON(b, it.assignee), "assignees": a.users(b, nonNilUsers(it.assignee)),
		"requested_reviewers": a.users(b, p.requested), "requested_teams": []any{},
		"draft": p.draft, "author_association": association(rp, it.user), "auto_merge": nil, "active_lock_reason": nil,
		"head":                map[string]any{"label": rp.owner + ":" + p.head, "ref": p.head, "sha": p.headSHA, "user": map[string]any{"login": rp.owner}},
		"base":                map[string]any{"label": rp.owner + ":main", "ref": "main", "sha": main.sha, "user": map[string]any{"login": rp.owner}},
		"review_comments_url": api + "/pulls/" + strconv.Itoa(it.number) + "/comments",
	}
}

func (a *API) reviewJSON(b string, rp *repo, it *issue, rv *review) map[string]any {
	html := "https://github.com/" + rp.fullName() + "/pull/" + strconv.Itoa(it.number)
	return map[string]any{
		"id": rv.id, "node_id": "PRR_kwDO" + strconv.FormatInt(rv.id, 36), "user": a.userJSON(b, rv.user), "body": "",
		"state": rv.state, "html_url": html + "#pullrequestreview-" + strconv.FormatInt(rv.id, 10),
		"pull_request_url":   b + "/repos/" + rp.fullName() + "/pulls/" + strconv.Itoa(it.number),
		"author_association": association(rp, rv.user), "submitted_at": ts(rv.submitted), "commit_id": rv.commitID,
	}
}

func (a *API) commitJSON(b string, rp *repo, c *commit) map[string]any {
	api := b + "/repos/" + rp.fullName()
	parents := []any{}
	if c.parent != "" {
		parents = append(parents, map[string]any{"sha": c.parent, "url": api + "/commits/" + c.parent, "html_url": "https://github.com/" + rp.fullName() + "/commit/" + c.parent})
	}
	return map[string]any{
		"sha": c.sha, "node_id": "C_kwDO" + c.sha[:16], "url": api + "/commits/" + c.sha,
		"html_url": "https://github.com/" + rp.fullName() + "/commit/" + c.sha, "comments_url": api + "/commits/" + c.sha + "/comments",
		"commit": map[string]any{
			"author":    map[string]any{"name": c.authName, "email": c.authEmail, "date": ts(c.authored)},
			"committer": map[string]any{"name": c.commName, "email": c.commEmail, "date": ts(c.committed)},
			"message":   c.message, "comment_count": 0,
			"tree":         map[string]any{"sha": shaOf("tree", c.sha), "url": api + "/git/trees/" + shaOf("tree", c.sha)},
			"url":          api + "/git/commits/" + c.sha,
			"verification": map[string]any{"verified": c.committer != nil && c.committer.login == "web-flow", "reason": "unsigned", "signature": nil, "payload": nil},
		},
		"author": a.userJSON(b, c.author), "committer": a.userJSON(b, c.committer), "parents": parents,
	}
}

func (a *API) repoJSON(b string, rp *repo) map[string]any {
	open := 0
	for _, it := range rp.issues {
		if it.state == "open" {
			open++
		}
	}
	return map[string]any{
		"id": rp.id, "node_id": "R_kgDO" + strconv.FormatInt(rp.id, 36), "name": rp.name, "full_name": rp.fullName(),
		"private": true, "visibility": "private", "fork": false, "archived": false, "disabled": false,
		"owner":    map[string]any{"login": rp.owner, "id": ownerID, "type": "Organization", "url": b + "/orgs/" + rp.owner},
		"html_url": "https://github.com/" + rp.fullName(), "url": b + "/repos/" + rp.fullName(),
		"description": rp.description, "language": rp.language, "topics": slices.Clone(rp.topics),
		"default_branch": "main", "created_at": ts(rp.created), "updated_at": ts(rp.updated), "pushed_at": ts(rp.pushed),
		"open_issues_count": open, "custom_properties": map[string]any{"team": rp.team},
		"has_issues": true, "has_projects": false, "has_wiki": false,
	}
}

func (a *API) orgJSON(b string, x *organization) map[string]any {
	api := b + "/orgs/" + url.PathEscape(x.login)
	return map[string]any{
		"login": x.login, "id": x.id, "node_id": "O_kgDO" + strconv.FormatInt(x.id, 36), "type": "Organization",
		"url": api, "repos_url": api + "/repos", "events_url": api + "/events", "hooks_url": api + "/hooks",
		"issues_url": api + "/issues", "members_url": api + "/members{/member}", "public_members_url": api + "/public_members{/member}",
		"avatar_url": "https://avatars.githubusercontent.com/u/" + strconv.FormatInt(x.id, 10) + "?v=4",
		"html_url":   "https://github.com/" + url.PathEscape(x.login),
		"name":       nilIfEmpty(x.name), "company": nil, "blog": x.blog, "location": nilIfEmpty(x.location),
		"email": nilIfEmpty(x.email), "twitter_username": nilIfEmpty(x.twitter), "description": nilIfEmpty(x.description),
		"is_verified": x.verified, "has_organization_projects": true, "has_repository_projects": true,
		"public_repos": x.publicRepos, "public_gists": 0, "followers": x.followers, "following": 0,
		"created_at": ts(x.created), "updated_at": ts(x.updated), "archived_at": nil,
	}
}

// forkJSON is a fork as the forks list shows it: a repository object without
// parent or source (only GET of the fork itself has those).
func (a *API) forkJSON(b string, f *fork) map[string]any {
	rp := f.parent
	full := f.fullName()
	return map[string]any{
		"id": f.id, "node_id": "R_kgDO" + strconv.FormatInt(f.id, 36), "name": rp.name, "full_name": full,
		// A fork of a private repository is private too.
		"private": true, "visibility": "private", "fork": true, "archived": false, "disabled": false,
		"owner": map[string]any{
			"login": f.owner, "id": f.ownerID, "node_id": "MDQ6" + strconv.FormatInt(f.ownerID, 36), "type": f.ownerType, "site_admin": false,
			"url": b + "/users/" + url.PathEscape(f.owner), "html_url": "https://github.com/" + url.PathEscape(f.owner),
			"avatar_url": "https://avatars.githubusercontent.com/u/" + strconv.FormatInt(f.ownerID, 10) + "?v=4",
		},
		"html_url": "https://github.com/" + full, "url": b + "/repos/" + full, "forks_url": b + "/repos/" + full + "/forks",
		"description": rp.description, "language": rp.language, "topics": []any{}, "default_branch": "main",
		"created_at": ts(f.created), "updated_at": ts(f.updated), "pushed_at": ts(f.pushed),
		"stargazers_count": f.stars, "watchers_count": f.watchers, "forks_count": 0, "open_issues_count": 0,
		"has_issues": false, "has_projects": false, "has_wiki": false,
	}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nonNilUsers(us ...*user) []*user {
	var out []*user
	for _, u := range us {
		if u != nil {
			out = append(out, u)
		}
	}
	return out
}
