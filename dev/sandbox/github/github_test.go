package github

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fixedNow is a settable clock.
type fixedNow struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fixedNow) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fixedNow) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

var t0 = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

func newTestAPI(t *testing.T, o Options) (*API, *httptest.Server, *fixedNow) {
	t.Helper()
	clock := &fixedNow{t: t0}
	if o.Now == nil {
		o.Now = clock.Now
	}
	if o.Issues == 0 {
		o.Issues, o.PullRequests, o.Commits = 60, 90, 30
	}
	if o.RateLimit == 0 {
		o.RateLimit = -1
	}
	if o.SecondaryPerMinute == 0 {
		o.SecondaryPerMinute = -1
	}
	a := New(o)
	ts := httptest.NewServer(a)
	t.Cleanup(ts.Close)
	return a, ts, clock
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) items(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatalf("not a JSON list (%d): %s", r.status, r.body)
	}
	return out
}

// call GETs url (absolute, or a path on ts) with the default token and a
// User-Agent, plus the given headers (an empty value removes one).
func call(t *testing.T, ts *httptest.Server, url string, headers ...string) resp {
	t.Helper()
	if strings.HasPrefix(url, "/") {
		url = ts.URL + url
	}
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+DefaultToken)
	req.Header.Set("User-Agent", "test")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header[http.CanonicalHeaderKey(headers[i])] = []string{headers[i+1]}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp{res.StatusCode, res.Header, b}
}

var linkRE = regexp.MustCompile(`<([^>]+)>; rel="(\w+)"`)

func links(h http.Header) map[string]string {
	out := map[string]string{}
	for _, m := range linkRE.FindAllStringSubmatch(h.Get("Link"), -1) {
		out[m[2]] = m[1]
	}
	return out
}

// all follows rel="next" from path and returns every item and the URLs visited.
func all(t *testing.T, ts *httptest.Server, path string) ([]map[string]any, []string) {
	t.Helper()
	var items []map[string]any
	var urls []string
	for u := path; u != ""; {
		r := call(t, ts, u)
		if r.status != 200 {
			t.Fatalf("GET %s: %d %s", u, r.status, r.body)
		}
		items = append(items, r.items(t)...)
		urls = append(urls, u)
		u = links(r.header)["next"]
	}
	return items, urls
}

func numbers(items []map[string]any) []int {
	var out []int
	for _, it := range items {
		out = append(out, int(it["number"].(float64)))
	}
	return out
}

func TestDeterministicAndAnchoredToToday(t *testing.T) {
	a, ts, _ := newTestAPI(t, Options{Seed: 3})
	b, ts2, _ := newTestAPI(t, Options{Seed: 3})
	for _, s := range Streams {
		if a.Count(s) != b.Count(s) || a.Count(s) == 0 {
			t.Errorf("%s: %d vs %d records", s, a.Count(s), b.Count(s))
		}
	}
	p := "/repos/acme/api/issues?state=all&per_page=100"
	x, y := call(t, ts, p), call(t, ts2, p)
	if strings.ReplaceAll(string(x.body), ts.URL, "") != strings.ReplaceAll(string(y.body), ts2.URL, "") {
		t.Error("same seed and day, different data")
	}
	anchor := t0.Truncate(24 * time.Hour)
	stamp := regexp.MustCompile(`"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)"`)
	for _, path := range []string{
		"/repos/acme/app/issues?state=all&per_page=100", "/repos/acme/app/pulls?state=all&per_page=100",
		"/repos/acme/app/commits?per_page=100&sha=release", "/repos/acme/app/pulls/3/reviews", "/repos/acme/app",
	} {
		for u := path; u != ""; {
			r := call(t, ts, u)
			for _, m := range stamp.FindAllStringSubmatch(string(r.body), -1) {
				at, err := time.Parse("2006-01-02T15:04:05Z", m[1]) // GitHub's format: no fraction
				if err != nil || !at.Before(anchor) {
					t.Fatalf("%s: timestamp %s is not a whole second before today (%v)", path, m[1], err)
				}
			}
			u = links(r.header)["next"]
		}
	}
}

func TestIssuesList(t *testing.T) {
	a, ts, _ := newTestAPI(t, Options{})
	if items := call(t, ts, "/repos/acme/app/issues?state=all").items(t); len(items) != 30 {
		t.Errorf("default per_page: %d items, want 30", len(items))
	}
	open, _ := all(t, ts, "/repos/acme/app/issues?per_page=100")
	for _, it := range open {
		if it["state"] != "open" {
			t.Fatalf("the default state is open, got %v", it["state"])
		}
	}
	if got := len(call(t, ts, "/repos/acme/app/issues?per_page=500&state=all").items(t)); got != 100 {
		t.Errorf("per_page=500: %d items, want the maximum 100", got)
	}
	everything, _ := all(t, ts, "/repos/acme/app/issues?state=all&per_page=100&sort=updated&direction=asc")
	if len(everything) != 150 {
		t.Fatalf("state=all: %d items, want 60 issues + 90 pull requests", len(everything))
	}
	prs, last := 0, ""
	for _, it := range everything {
		if _, ok := it["pull_request"]; ok {
			prs++
		}
		if u := it["updated_at"].(string); u < last {
			t.Fatalf("sort=updated&direction=asc out of order: %s after %s", u, last)
		} else {
			last = u
		}
	}
	if prs != 90 {
		t.Errorf("%d items carry pull_request, want 90", prs)
	}
	_ = a
}

func TestSince(t *testing.T) {
	_, ts, _ := newTestAPI(t, Options{})
	full, _ := all(t, ts, "/repos/acme/app/issues?state=all&per_page=100")
	// Cut in the middle, at an existing updated_at: since is inclusive.
	var stamps []string
	for _, it := range full {
		stamps = append(stamps, it["updated_at"].(string))
	}
	slices.Sort(stamps)
	cut := stamps[len(stamps)/2]
	want := 0
	for _, s := range stamps {
		if s >= cut {
			want++
		}
	}
	got, _ := all(t, ts, "/repos/acme/app/issues?state=all&per_page=100&since="+cut)
	if len(got) != want {
		t.Errorf("since=%s: %d items, want %d (inclusive)", cut, len(got), want)
	}
	if r := call(t, ts, "/repos/acme/app/issues?state=all&since=1970-01-01T00:00:00Z"); r.status != 200 || string(r.body) != "[]" {
		t.Errorf("since=1970: %d %s, want the reported empty list", r.status, r.body)
	}
	if r := call(t, ts, "/repos/acme/app/issues?since=yesterday"); r.status != 422 {
		t.Errorf("since=yesterday: %d, want 422", r.status)
	}
}

func TestPageCapAndAfterCursors(t *testing.T) {
	_, ts, _ := newTestAPI(t, Options{PageCap: 60})
	base := "/repos/acme/app/issues?state=all&per_page=20"
	r := call(t, ts, base+"&page=3")
	if l := links(r.header); r.status != 200 || !strings.Contains(l["next"], "after=") || l["last"] != "" || l["prev"] == "" {
		t.Errorf("page 3 of 20 at cap 60: %d, links %v; want next by after=, no last", r.status, l)
	}
	if !strings.Contains(links(r.header)["next"], "/repositories/700000101/issues?") {
		t.Errorf("links should name /repositories/{id}: %v", links(r.header))
	}
	r = call(t, ts, base+"&page=4")
	var e struct{ Message, Status string }
	json.Unmarshal(r.body, &e)
	if r.status != 422 || e.Message != PaginationMessage || e.Status != "422" {
		t.Errorf("page 4: %d %s", r.status, r.body)
	}
	if l := links(call(t, ts, base).header); l["last"] != "" || !strings.HasSuffix(l["next"], "page=2&per_page=20&state=all") {
		t.Errorf("page 1 links %v: a list deeper than the cap has no last", l)
	}
	items, urls := all(t, ts, base)
	ns := numbers(items)
	sorted := slices.Clone(ns)
	slices.Sort(sorted)
	slices.Reverse(sorted)
	if len(ns) != 150 || !slices.Equal(ns, sorted) || slices.Compact(sorted) == nil || len(slices.Compact(slices.Clone(sorted))) != 150 {
		t.Errorf("following links: %d items, each once in order? %v", len(ns), ns[:min(10, len(ns))])
	}
	if len(urls) != 8 || !strings.Contains(urls[len(urls)-1], "after=") {
		t.Errorf("visited %d pages: %v", len(urls), urls)
	}
	if r := call(t, ts, base+"&after=bm9wZQ"); r.status != 422 {
		t.Errorf("a bad after cursor: %d", r.status)
	}
}

func TestAfterCursorIsStableUnderUpdates(t *testing.T) {
	a, ts, clock := newTestAPI(t, Options{PageCap: 20})
	base := "/repos/acme/app/pulls?state=all&sort=updated&direction=desc&per_page=20"
	first := call(t, ts, base)
	next := links(first.header)["next"]
	if !strings.Contains(next, "after=") {
		t.Fatalf("next %q", next)
	}
	clock.Set(t0.Add(time.Minute))
	merged := a.MergePRs(5) // they move to the front; keyset paging does not shift the rest
	rest, _ := all(t, ts, next)
	got := append(numbers(first.items(t)), numbers(rest)...)
	if len(slices.Compact(slices.Sorted(slices.Values(got)))) != len(got) {
		t.Errorf("a pull request came twice: %v", got)
	}
	for n := 1; n <= 150; n++ {
		if slices.Contains(merged, "acme/app#"+strconv.Itoa(n)) || slices.Contains(got, n) {
			continue
		}
		if r := call(t, ts, "/repos/acme/app/pulls/"+strconv.Itoa(n)+"/reviews"); r.status == 200 {
			t.Errorf("pull request %d, unchanged, was skipped", n)
		}
	}
}

func TestConditionalRequests(t *testing.T) {
	a, ts, clock := newTestAPI(t, Options{RateLimit: 100})
	path := "/repos/acme/app/pulls?state=all&sort=updated&direction=desc"
	r := call(t, ts, path)
	etag := r.header.Get("ETag")
	if !strings.HasPrefix(etag, `W/"`) {
		t.Fatalf("ETag %q", etag)
	}
	used := a.Used()
	r = call(t, ts, path, "If-None-Match", etag)
	if r.status != 304 || len(r.body) != 0 || a.Used() != used || r.header.Get("X-Ratelimit-Remaining") != strconv.Itoa(100-used) {
		t.Errorf("If-None-Match: %d, %d bytes, used %d → %d, headers %v", r.status, len(r.body), used, a.Used(), r.header)
	}
	clock.Set(t0.Add(time.Hour))
	a.MergePRs(1)
	if r = call(t, ts, path, "If-None-Match", etag); r.status != 200 || a.Used() != used+1 {
		t.Errorf("after a change: %d, used %d", r.status, a.Used())
	}
}

func TestAuthAndUserAgent(t *testing.T) {
	_, ts, _ := newTestAPI(t, Options{})
	r := call(t, ts, "/repos/acme/app/issues", "User-Agent", "")
	if r.status != 403 || !strings.Contains(string(r.body), "User-Agent") {
		t.Errorf("no User-Agent: %d %s", r.status, r.body)
	}
	r = call(t, ts, "/repos/acme/app/issues", "Authorization", "Bearer ghp_wrong")
	var e map[string]string
	json.Unmarshal(r.body, &e)
	if r.status != 401 || e["message"] != "Bad credentials" || e["status"] != "401" || e["documentation_url"] == "" {
		t.Errorf("wrong token: %d %s", r.status, r.body)
	}
	if r := call(t, ts, "/user", "Authorization", ""); r.status != 401 || !strings.Contains(string(r.body), "Requires authentication") {
		t.Errorf("no token: %d %s", r.status, r.body)
	}
	if r := call(t, ts, "/user", "Authorization", "token "+DefaultToken); r.status != 200 {
		t.Errorf("the token scheme: %d", r.status)
	}
}

func TestRateLimits(t *testing.T) {
	t.Run("primary", func(t *testing.T) {
		a, ts, _ := newTestAPI(t, Options{RateLimit: 3})
		for i := range 3 {
			r := call(t, ts, "/repos/acme/app")
			if r.status != 200 || r.header.Get("X-Ratelimit-Remaining") != strconv.Itoa(2-i) || r.header.Get("X-Ratelimit-Used") != strconv.Itoa(i+1) ||
				r.header.Get("X-Ratelimit-Limit") != "3" || r.header.Get("X-Ratelimit-Resource") != "core" {
				t.Fatalf("request %d: %d %v", i, r.status, r.header)
			}
		}
		r := call(t, ts, "/repos/acme/app")
		reset, _ := strconv.ParseInt(r.header.Get("X-Ratelimit-Reset"), 10, 64)
		if r.status != 403 || r.header.Get("X-Ratelimit-Remaining") != "0" || time.Until(time.Unix(reset, 0)) < 50*time.Minute ||
			!strings.Contains(string(r.body), "API rate limit exceeded") {
			t.Errorf("spent: %d %v %s", r.status, r.header, r.body)
		}
		if r := call(t, ts, "/rate_limit"); r.status != 200 || !strings.Contains(string(r.body), `"remaining":0`) {
			t.Errorf("/rate_limit is free: %d %s", r.status, r.body)
		}
		_ = a
	})
	t.Run("exhaust", func(t *testing.T) {
		a, ts, _ := newTestAPI(t, Options{})
		a.ExhaustPrimary()
		if r := call(t, ts, "/repos/acme/app/issues"); r.status != 403 || r.header.Get("X-Ratelimit-Remaining") != "0" {
			t.Errorf("ExhaustPrimary: %d %v", r.status, r.header)
		}
	})
	t.Run("secondary", func(t *testing.T) {
		_, ts, _ := newTestAPI(t, Options{SecondaryPerMinute: 2})
		call(t, ts, "/repos/acme/app")
		call(t, ts, "/repos/acme/app")
		r := call(t, ts, "/repos/acme/app")
		if r.status != 403 || r.header.Get("X-Ratelimit-Remaining") == "0" || r.header.Get("Retry-After") != "" || !strings.Contains(string(r.body), SecondaryMessage) {
			t.Errorf("first secondary refusal: %d %v %s", r.status, r.header, r.body)
		}
		r = call(t, ts, "/repos/acme/app")
		if ra, _ := strconv.Atoi(r.header.Get("Retry-After")); r.status != 429 || ra < 1 || ra > 60 || !strings.Contains(string(r.body), SecondaryMessage) {
			t.Errorf("second secondary refusal: %d %v %s", r.status, r.header, r.body)
		}
	})
	t.Run("fault answers", func(t *testing.T) {
		w := httptest.NewRecorder()
		WriteRateLimited(w, 0)
		reset, _ := strconv.ParseInt(w.Header().Get("X-Ratelimit-Reset"), 10, 64)
		if (w.Code != 403 && w.Code != 429) || w.Header().Get("X-Ratelimit-Remaining") != "0" || time.Until(time.Unix(reset, 0)) > 2*time.Second {
			t.Errorf("primary fault: %d %v", w.Code, w.Header())
		}
		w = httptest.NewRecorder()
		WriteRateLimited(w, 1500*time.Millisecond)
		if w.Code != 429 || w.Header().Get("Retry-After") != "2" || !strings.Contains(w.Body.String(), SecondaryMessage) {
			t.Errorf("secondary fault: %d %v %s", w.Code, w.Header(), w.Body)
		}
	})
}

func TestPermissionAnswers(t *testing.T) {
	_, ts, _ := newTestAPI(t, Options{Forbidden: []string{"acme/api/pulls"}})
	r := call(t, ts, "/repos/acme/api/pulls")
	if r.status != 403 || !strings.Contains(string(r.body), ForbiddenMessage) || r.header.Get("X-Accepted-Github-Permissions") != "pull_requests=read" ||
		r.header.Get("X-Ratelimit-Remaining") == "0" {
		t.Errorf("forbidden: %d %v %s", r.status, r.header, r.body)
	}
	if r := call(t, ts, "/repos/acme/api/pulls/3/reviews"); r.status != 403 {
		t.Errorf("reviews belong to pulls: %d", r.status)
	}
	if r := call(t, ts, "/repos/acme/api/issues"); r.status != 200 {
		t.Errorf("issues stay readable: %d", r.status)
	}
	if r := call(t, ts, "/repos/acme/secret/issues"); r.status != 404 || !strings.Contains(string(r.body), `"Not Found"`) {
		t.Errorf("a repository the token cannot see: %d %s", r.status, r.body)
	}
	if r := call(t, ts, "/repos/ACME/App"); r.status != 200 {
		t.Errorf("names are case-insensitive: %d", r.status)
	}
}

func TestPulls(t *testing.T) {
	_, ts, _ := newTestAPI(t, Options{})
	if items := call(t, ts, "/repos/acme/app/pulls?per_page=100").items(t); len(items) == 0 || len(items) == 90 {
		t.Errorf("default state open: %d of 90", len(items))
	}
	a, _ := all(t, ts, "/repos/acme/app/pulls?state=all&sort=updated&direction=desc&per_page=100")
	b, _ := all(t, ts, "/repos/acme/app/pulls?state=all&sort=updated&direction=desc&per_page=100&since=2099-01-01T00:00:00Z")
	if len(a) != 90 || len(b) != 90 {
		t.Errorf("pulls: %d, with since (ignored) %d, want 90", len(a), len(b))
	}
	merged, closed, reviewed := 0, 0, 0
	for i, p := range a {
		if i > 0 && p["updated_at"].(string) > a[i-1]["updated_at"].(string) {
			t.Fatal("sort=updated&direction=desc out of order")
		}
		if p["merged_at"] != nil {
			merged++
			if p["state"] != "closed" || p["merge_commit_sha"] == nil || p["merged_at"] != p["closed_at"] {
				t.Errorf("merged pull %v: state %v sha %v", p["number"], p["state"], p["merge_commit_sha"])
			}
		} else if p["state"] == "closed" {
			closed++
		}
		if _, ok := p["additions"]; ok {
			t.Error("the list endpoint carries no additions (only GET of one pull request does)")
		}
		n := int(p["number"].(float64))
		if rs := call(t, ts, "/repos/acme/app/pulls/"+strconv.Itoa(n)+"/reviews").items(t); len(rs) > 0 {
			reviewed++
			if rs[0]["submitted_at"].(string) < p["created_at"].(string) {
				t.Errorf("pull %d reviewed before it was opened", n)
			}
		}
	}
	if merged == 0 || closed == 0 || reviewed == 0 {
		t.Errorf("%d merged, %d closed unmerged, %d reviewed: want some of each", merged, closed, reviewed)
	}
	if r := call(t, ts, "/repos/acme/app/pulls/999/reviews"); r.status != 404 {
		t.Errorf("reviews of no pull request: %d", r.status)
	}
}

func TestCommits(t *testing.T) {
	a, ts, clock := newTestAPI(t, Options{})
	main, _ := all(t, ts, "/repos/acme/app/commits?per_page=100")
	rel, _ := all(t, ts, "/repos/acme/app/commits?per_page=100&sha=release")
	if len(main) == 0 || len(rel) <= 20 || len(rel) >= len(main)+20 {
		t.Fatalf("main %d, release %d commits", len(main), len(rel))
	}
	for i := 1; i < len(main); i++ {
		if main[i-1]["parents"].([]any)[0].(map[string]any)["sha"] != main[i]["sha"] {
			t.Fatal("main is not listed newest first along its parents")
		}
	}
	if len(main[len(main)-1]["parents"].([]any)) != 0 {
		t.Error("the first commit has a parent")
	}
	date := func(c map[string]any) string {
		return c["commit"].(map[string]any)["committer"].(map[string]any)["date"].(string)
	}
	since, until := date(main[len(main)*3/4]), date(main[len(main)/4])
	win, _ := all(t, ts, "/repos/acme/app/commits?per_page=100&since="+since+"&until="+until)
	want := 0
	for _, c := range main {
		if d := date(c); d >= since && d <= until {
			want++
		}
	}
	if len(win) != want || want == 0 {
		t.Errorf("since/until: %d commits, want %d", len(win), want)
	}
	if r := call(t, ts, "/repos/acme/app/commits?sha=nope"); r.status != 404 || !strings.Contains(string(r.body), "No commit found for SHA: nope") {
		t.Errorf("unknown sha: %d %s", r.status, r.body)
	}
	if got, _ := all(t, ts, "/repos/acme/app/commits?per_page=100&sha="+main[5]["sha"].(string)); len(got) != len(main)-5 {
		t.Errorf("from a sha: %d commits, want %d", len(got), len(main)-5)
	}

	clock.Set(t0.Add(2 * time.Hour))
	before := a.Count("commits")
	keys := a.AddCommits(4)
	if len(keys) != 4 || a.Count("commits") != before+4 {
		t.Fatalf("AddCommits: %v, count %d → %d", keys, before, a.Count("commits"))
	}
	after, _ := all(t, ts, "/repos/acme/app/commits?per_page=100&since=2026-03-10T14:00:00Z")
	relAfter, _ := all(t, ts, "/repos/acme/app/commits?per_page=100&sha=release&since=2026-03-10T14:00:00Z")
	wantApp := 0
	for _, k := range keys {
		if strings.HasPrefix(k, "acme/app@") {
			wantApp++
		}
	}
	if len(after) != wantApp || len(relAfter) != 0 {
		t.Errorf("new commits: %d on main (want %d), %d on release (want 0)", len(after), wantApp, len(relAfter))
	}
}

func TestMutations(t *testing.T) {
	a, ts, clock := newTestAPI(t, Options{})
	now := t0.Add(3 * time.Hour)
	clock.Set(now)
	before := a.Count("pull_request_reviews")

	merged := a.MergePRs(3)
	issues := a.UpdateIssues(3)
	reviews := a.ReviewPRs(2)
	repos := a.UpdateRepos(1)
	if len(merged) != 3 || len(issues) != 3 || len(reviews) != 2 || len(repos) != 1 || a.Count("pull_request_reviews") != before+2 {
		t.Fatalf("mutations: %v %v %v %v", merged, issues, reviews, repos)
	}
	stamp := now.Format("2006-01-02T15:04:05Z")
	for _, k := range append(merged, issues...) {
		repo, num, _ := strings.Cut(k, "#")
		r := call(t, ts, "/repos/"+repo+"/issues?state=all&per_page=100&since="+stamp)
		found := false
		for _, it := range r.items(t) {
			if strconv.Itoa(int(it["number"].(float64))) == num {
				found = it["updated_at"] == stamp
				_, isPR := it["pull_request"]
				if isPR != slices.Contains(merged, k) {
					t.Errorf("%s: pull_request key %v", k, isPR)
				}
			}
		}
		if !found {
			t.Errorf("%s is not listed as updated at %s", k, stamp)
		}
	}
	repo, num, _ := strings.Cut(merged[0], "#")
	for _, p := range call(t, ts, "/repos/"+repo+"/pulls?state=closed&sort=updated&direction=desc&per_page=5").items(t) {
		if strconv.Itoa(int(p["number"].(float64))) == num && (p["merged_at"] != stamp || p["merge_commit_sha"] == nil) {
			t.Errorf("merged pull: %v %v", p["merged_at"], p["merge_commit_sha"])
		}
	}
	if r := call(t, ts, "/repos/"+repos[0]); !strings.Contains(string(r.body), `"updated_at":"`+stamp+`"`) {
		t.Errorf("UpdateRepos: %s", r.body)
	}
	if got := a.MergePRs(100000); len(got) == 0 || len(a.MergePRs(1)) != 0 {
		t.Error("MergePRs merges every open pull request, then none")
	}
}

func TestAdminHTTP(t *testing.T) {
	a, _, _ := newTestAPI(t, Options{})
	admin := httptest.NewServer(a.Admin())
	defer admin.Close()
	post := func(path string) (int, string) {
		r, err := http.Post(admin.URL+path, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return r.StatusCode, string(b)
	}
	for _, p := range []string{"/merge-prs?n=1", "/update-issues?n=2", "/review-prs?n=1", "/add-commits?n=1", "/update-repos?n=1"} {
		if code, body := post(p); code != 200 || !strings.Contains(body, `"keys":["`) {
			t.Errorf("POST %s: %d %s", p, code, body)
		}
	}
	if code, _ := post("/merge-prs?n=x"); code != 400 {
		t.Errorf("bad n: %d", code)
	}
	if code, _ := post("/exhaust-primary"); code != 204 {
		t.Errorf("exhaust-primary: %d", code)
	}
	r, _ := http.Get(admin.URL + "/count?stream=issues")
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if !strings.Contains(string(b), `"count":180`) {
		t.Errorf("count: %s", b)
	}
	r, _ = http.Get(admin.URL + "/count?stream=nope")
	r.Body.Close()
	if r.StatusCode != 400 {
		t.Errorf("unknown stream: %d", r.StatusCode)
	}
}

func TestRepositoryAndUser(t *testing.T) {
	a, ts, _ := newTestAPI(t, Options{})
	var repo map[string]any
	json.Unmarshal(call(t, ts, "/repos/acme/data-pipeline").body, &repo)
	props, _ := repo["custom_properties"].(map[string]any)
	if repo["full_name"] != "acme/data-pipeline" || props["team"] != "data" || repo["default_branch"] != "main" ||
		!slices.Contains(repo["topics"].([]any), any("team-data")) || a.Team("acme/data-pipeline") != "data" {
		t.Errorf("repository: %v", repo)
	}
	if r := call(t, ts, "/repositories/700000101/issues?per_page=1"); r.status != 200 {
		t.Errorf("/repositories/{id} routes: %d", r.status)
	}
	if r := call(t, ts, "/user"); r.status != 200 || !strings.Contains(string(r.body), `"login":"sandbox-bot"`) {
		t.Errorf("/user: %d %s", r.status, r.body)
	}
	if r := call(t, ts, "/nope"); r.status != 404 || !strings.Contains(string(r.body), `"message":"Not Found"`) {
		t.Errorf("unknown route: %d %s", r.status, r.body)
	}
	if !slices.Equal(a.Repos(), []string{"acme/app", "acme/api", "acme/data-pipeline"}) {
		t.Errorf("repos %v", a.Repos())
	}
}
