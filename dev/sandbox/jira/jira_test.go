package jira

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
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
		o.Issues = 300
	}
	if o.RateLimit == 0 {
		o.RateLimit = -1
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

func call(t *testing.T, ts *httptest.Server, method, path string, body any) resp {
	t.Helper()
	return callAs(t, ts, method, path, body, DefaultEmail, DefaultToken)
}

func callAs(t *testing.T, ts *httptest.Server, method, path string, body any, email, token string) resp {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, ts.URL+path, rd)
	if email != "" {
		req.SetBasicAuth(email, token)
	}
	r, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp{r.StatusCode, r.Header, b}
}

type searchPage struct {
	Issues        []map[string]any `json:"issues"`
	NextPageToken string           `json:"nextPageToken"`
	IsLast        bool             `json:"isLast"`
	ErrorMessages []string         `json:"errorMessages"`
}

func search(t *testing.T, ts *httptest.Server, body map[string]any) (searchPage, resp) {
	t.Helper()
	r := call(t, ts, "POST", "/rest/api/3/search/jql", body)
	var p searchPage
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("search %v: %d %s", body, r.status, r.body)
	}
	return p, r
}

// searchAll pages a query to its end and returns its issues in order.
func searchAll(t *testing.T, ts *httptest.Server, jql string, fields ...string) []map[string]any {
	t.Helper()
	var out []map[string]any
	token := ""
	for range 1000 {
		body := map[string]any{"jql": jql, "maxResults": 100, "fields": fields}
		if token != "" {
			body["nextPageToken"] = token
		}
		p, r := search(t, ts, body)
		if r.status != 200 {
			t.Fatalf("search %q: %d %s", jql, r.status, r.body)
		}
		out = append(out, p.Issues...)
		if p.NextPageToken == "" || len(p.Issues) == 0 {
			return out
		}
		token = p.NextPageToken
	}
	t.Fatal("paging never ended")
	return nil
}

var jiraTime = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d{4}$`)

func parse(t *testing.T, v any) time.Time {
	t.Helper()
	s, _ := v.(string)
	if !jiraTime.MatchString(s) {
		t.Fatalf("timestamp %q is not in Jira's format", s)
	}
	ts, err := time.Parse(TimeLayout, s)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func get(m any, path ...string) any {
	for _, k := range path {
		mm, ok := m.(map[string]any)
		if !ok {
			return nil
		}
		m = mm[k]
	}
	return m
}

// TestDataAgreesWithChangelog reads every issue and its changelog over HTTP and
// checks they tell one story: the status items chain from To Do to the current
// status, the resolution date is the Done transition, updated is the last change.
func TestDataAgreesWithChangelog(t *testing.T) {
	a, ts, _ := newTestAPI(t, Options{})
	anchor := t0.Truncate(24 * time.Hour)
	issues := searchAll(t, ts, "updated >= 0", "*navigable")
	if len(issues) != 300 || a.Count() != 300 {
		t.Fatalf("%d issues, want 300", len(issues))
	}
	statusesSeen, offsets := map[string]int{}, map[string]bool{}
	histIDs := map[string]bool{}
	unassigned, histories := 0, 0
	for _, is := range issues {
		key := is["key"].(string)
		f := is["fields"].(map[string]any)
		created, updated := parse(t, f["created"]), parse(t, f["updated"])
		offsets[f["updated"].(string)[23:]] = true
		if created.Before(anchor.AddDate(-1, 0, -1)) || !updated.Before(anchor) || updated.Before(created) {
			t.Fatalf("%s: created %v, updated %v outside the year before %v", key, created, updated, anchor)
		}
		status := get(f, "status", "name").(string)
		statusesSeen[status]++
		if f["assignee"] == nil {
			unassigned++
		}
		var log struct {
			Total  int
			IsLast bool
			Values []struct {
				ID      string
				Created string
				Items   []map[string]any
			}
		}
		r := call(t, ts, "GET", "/rest/api/3/issue/"+key+"/changelog", nil)
		json.Unmarshal(r.body, &log)
		if r.status != 200 || log.Total != len(log.Values) || !log.IsLast {
			t.Fatalf("%s changelog: %d %s", key, r.status, r.body)
		}
		histories += log.Total
		cur, last, doneAt := "To Do", created, time.Time{}
		for _, h := range log.Values {
			at := parse(t, h.Created)
			if at.Before(last) || histIDs[h.ID] {
				t.Fatalf("%s: history %s at %v out of order or repeated", key, h.ID, at)
			}
			histIDs[h.ID], last = true, at
			for _, it := range h.Items {
				if it["field"] == "status" {
					if it["fromString"] != cur {
						t.Fatalf("%s: transition from %v while in %s", key, it["fromString"], cur)
					}
					cur = it["toString"].(string)
					if cur == "Done" {
						doneAt = at
					}
				}
			}
		}
		if cur != status {
			t.Errorf("%s: changelog ends in %s, issue is %s", key, cur, status)
		}
		if updated.Before(last) {
			t.Errorf("%s: updated %v before its last change %v", key, updated, last)
		}
		done := get(f, "status", "statusCategory", "key") == "done"
		if done != (f["resolution"] != nil) || done != (f["resolutiondate"] != nil) {
			t.Errorf("%s: status %s, resolution %v, resolutiondate %v", key, status, f["resolution"], f["resolutiondate"])
		}
		if done && !parse(t, f["resolutiondate"]).Equal(doneAt) {
			t.Errorf("%s: resolved %v, Done transition at %v", key, f["resolutiondate"], doneAt)
		}
	}
	for _, s := range Statuses {
		if statusesSeen[s] < 5 {
			t.Errorf("only %d issues in %s: %v", statusesSeen[s], s, statusesSeen)
		}
	}
	if unassigned < 15 || unassigned > 200 {
		t.Errorf("%d of 300 issues unassigned", unassigned)
	}
	if histories != a.Histories() {
		t.Errorf("%d changelog entries over HTTP, Histories() = %d", histories, a.Histories())
	}
	if !offsets["-0500"] || !offsets["-0400"] {
		t.Errorf("offsets %v: a year in New York has both -0500 and -0400", offsets)
	}
}

func TestSearchPaging(t *testing.T) {
	_, ts, _ := newTestAPI(t, Options{Issues: 200})
	// Default fields: ids only. Default page: 50. No total.
	p, r := search(t, ts, map[string]any{"jql": "updated >= 0"})
	if r.status != 200 || len(p.Issues) != 50 || p.IsLast || p.NextPageToken == "" {
		t.Fatalf("first page: %d issues, isLast %v, token %q", len(p.Issues), p.IsLast, p.NextPageToken)
	}
	if len(p.Issues[0]) != 1 || p.Issues[0]["id"] == nil {
		t.Errorf("default fields: %v, want only the id", p.Issues[0])
	}
	if bytes.Contains(r.body, []byte(`"total"`)) {
		t.Error("/search/jql has no total")
	}
	// At most 100 a page, however many are asked for.
	p, _ = search(t, ts, map[string]any{"jql": "updated >= 0", "maxResults": 500})
	if len(p.Issues) != 100 {
		t.Errorf("maxResults 500: %d issues, want 100", len(p.Issues))
	}
	// 200 issues in pages of 100: the second page is full and still has a token;
	// the third is empty and the last.
	p2, _ := search(t, ts, map[string]any{"jql": "updated >= 0", "maxResults": 100, "nextPageToken": p.NextPageToken})
	p3, _ := search(t, ts, map[string]any{"jql": "updated >= 0", "maxResults": 100, "nextPageToken": p2.NextPageToken})
	if len(p2.Issues) != 100 || p2.NextPageToken == "" || len(p3.Issues) != 0 || !p3.IsLast || p3.NextPageToken != "" {
		t.Errorf("pages 2 and 3: %d (token %q), %d (last %v)", len(p2.Issues), p2.NextPageToken, len(p3.Issues), p3.IsLast)
	}
	// A token belongs to its query.
	_, r = search(t, ts, map[string]any{"jql": "updated >= 1", "nextPageToken": p.NextPageToken})
	if r.status != 400 || !strings.Contains(string(r.body), "nextPageToken") {
		t.Errorf("foreign token: %d %s", r.status, r.body)
	}
	// GET answers as POST does.
	q := url.Values{"jql": {"project = OPS ORDER BY key"}, "maxResults": {"3"}, "fields": {"summary,status", "updated"}}
	g := call(t, ts, "GET", "/rest/api/3/search/jql?"+q.Encode(), nil)
	_, pr := search(t, ts, map[string]any{"jql": "project = OPS ORDER BY key", "maxResults": 3, "fields": []string{"summary", "status", "updated"}})
	if g.status != 200 || !bytes.Equal(g.body, pr.body) {
		t.Errorf("GET and POST differ:\n%s\n%s", g.body, pr.body)
	}
}

func TestSearchFewerThanAsked(t *testing.T) {
	_, ts, _ := newTestAPI(t, Options{Issues: 30, MaxResults: 7})
	p, _ := search(t, ts, map[string]any{"jql": "updated >= 0", "maxResults": 20, "fields": []string{"*navigable", "-description"}})
	if len(p.Issues) != 7 || p.NextPageToken == "" {
		t.Fatalf("%d issues, token %q: want 7 and more to come", len(p.Issues), p.NextPageToken)
	}
	f := p.Issues[0]["fields"].(map[string]any)
	if f["description"] != nil || f["summary"] == nil || f["status"] == nil {
		t.Errorf("fields %v", f)
	}
	if got := len(searchAll(t, ts, "updated >= 0")); got != 30 {
		t.Errorf("paged %d issues, want 30", got)
	}
}

// TestPagingSurvivesChanges: issues changing between pages move to the end of an
// updated-ordered query; they are met again, and none is skipped.
func TestPagingSurvivesChanges(t *testing.T) {
	a, ts, clock := newTestAPI(t, Options{Issues: 200})
	seen := map[string]int{}
	token := ""
	for page := 0; ; page++ {
		body := map[string]any{"jql": "updated >= 0 ORDER BY updated ASC", "maxResults": 25}
		if token != "" {
			body["nextPageToken"] = token
		}
		p, _ := search(t, ts, body)
		for _, is := range p.Issues {
			seen[is["id"].(string)]++
		}
		if p.NextPageToken == "" || len(p.Issues) == 0 {
			break
		}
		token = p.NextPageToken
		if page < 4 {
			clock.Set(clock.Now().Add(time.Minute))
			a.Transition(10)
		}
	}
	again := 0
	for _, n := range seen {
		again += n - 1
	}
	if len(seen) != 200 || again == 0 {
		t.Errorf("met %d of 200 issues, %d twice; want all, some twice", len(seen), again)
	}
}

func TestJQL(t *testing.T) {
	a, ts, _ := newTestAPI(t, Options{Issues: 200})
	count := func(pred func(*issue) bool) int {
		n := 0
		for _, is := range a.w.issues {
			if pred(is) {
				n++
			}
		}
		return n
	}
	for _, c := range []struct {
		jql  string
		want int
	}{
		{`project = OPS`, count(func(is *issue) bool { return is.proj.key == "OPS" })},
		{`project in (ops, "WEB") AND updated >= 0`, count(func(is *issue) bool { return is.proj.key == "OPS" || is.proj.key == "WEB" })},
		{`project not in (OPS) and project != WEB`, count(func(is *issue) bool { return is.proj.key != "OPS" && is.proj.key != "WEB" })},
		{`status = "In Progress"`, count(func(is *issue) bool { return is.status == stInProgress })},
		{`statusCategory = done`, count(func(is *issue) bool { return is.status == stDone })},
		{`statusCategory in (new, indeterminate)`, count(func(is *issue) bool { return is.status != stDone })},
		{`assignee is EMPTY`, count(func(is *issue) bool { return is.assignee == nil })},
		{`resolved is not empty`, count(func(is *issue) bool { return !is.resolved.IsZero() })},
		{`key = OPS-1`, 1},
		{`updated >= -7d`, count(func(is *issue) bool { return !is.updated.Before(t0.Add(-7 * 24 * time.Hour)) })},
		{fmt.Sprintf(`updated > %d AND updated <= %d`, t0.Add(-60*24*time.Hour).UnixMilli(), t0.Add(-30*24*time.Hour).UnixMilli()),
			count(func(is *issue) bool {
				return is.updated.After(t0.Add(-60*24*time.Hour)) && !is.updated.After(t0.Add(-30*24*time.Hour))
			})},
	} {
		if got := len(searchAll(t, ts, c.jql)); got != c.want || got == 0 {
			t.Errorf("%s: %d issues, want %d (> 0)", c.jql, got, c.want)
		}
	}
	for _, c := range []struct{ jql, want string }{
		{``, "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."},
		{`ORDER BY key`, "Unbounded JQL"},
		{`order by updated DESC`, "Unbounded JQL"},
		{`project = NOPE`, "The value 'NOPE' does not exist for the field 'project'."},
		{`colour = red`, "Field 'colour' does not exist or you do not have permission to view it."},
		{`project = OPS OR project = WEB`, "only clauses joined by AND"},
		{`updated >= "2024/13/45"`, "Date value '2024/13/45' for field 'updated' is invalid."},
		{`updated >= now()`, "function 'now()'"},
		{`project = OPS ORDER BY summary`, "Field 'summary' does not support sorting."},
		{`project = "OPS`, "has not been completed"},
		{`project ~ OPS`, "The operator '~' is not supported by the 'project' field."},
	} {
		_, r := search(t, ts, map[string]any{"jql": c.jql})
		var e struct {
			ErrorMessages []string
			Errors        map[string]string
		}
		json.Unmarshal(r.body, &e)
		if r.status != 400 || len(e.ErrorMessages) != 1 || !strings.Contains(e.ErrorMessages[0], c.want) || e.Errors == nil {
			t.Errorf("%q: %d %s, want 400 saying %q", c.jql, r.status, r.body, c.want)
		}
	}
	// ORDER BY is followed, with the key as tie-breaker.
	desc := searchAll(t, ts, "project = WEB ORDER BY updated DESC, key", "updated")
	for i := 1; i < len(desc); i++ {
		if parse(t, get(desc[i-1], "fields", "updated")).Before(parse(t, get(desc[i], "fields", "updated"))) {
			t.Fatalf("not descending at %d", i)
		}
	}
}

// TestBareDatetimeInProfileZone: "yyyy/MM/dd HH:mm" is the profile zone's wall
// clock, not UTC; epoch milliseconds are absolute.
func TestBareDatetimeInProfileZone(t *testing.T) {
	a, ts, _ := newTestAPI(t, Options{Issues: 400, TimeZone: "America/New_York"})
	bulk := a.BulkUpdatedAt() // many issues changed at 03:00 UTC
	ids := func(jql string) int { return len(searchAll(t, ts, jql)) }
	utcWall := bulk.UTC().Format("2006/01/02 15:04")
	ny, _ := time.LoadLocation("America/New_York")
	nyWall := bulk.In(ny).Format("2006/01/02 15:04")
	epoch := ids(fmt.Sprintf("updated >= %d", bulk.UnixMilli()))
	if n := ids(fmt.Sprintf(`updated >= "%s"`, nyWall)); n != epoch {
		t.Errorf("New York wall clock: %d issues, epoch ms: %d; want equal", n, epoch)
	}
	if n := ids(fmt.Sprintf(`updated >= "%s"`, utcWall)); n >= epoch {
		t.Errorf("UTC wall clock read in New York: %d issues, want fewer than %d", n, epoch)
	}
	if err := a.SetTimeZone("UTC"); err != nil {
		t.Fatal(err)
	}
	if n := ids(fmt.Sprintf(`updated >= "%s"`, utcWall)); n != epoch {
		t.Errorf("profile in UTC: %d issues, want %d", n, epoch)
	}
}

func TestAuth(t *testing.T) {
	_, ts, _ := newTestAPI(t, Options{Issues: 5})
	for _, c := range []struct{ email, token string }{{"", ""}, {DefaultEmail, "nope"}, {"other@acme.example", DefaultToken}} {
		r := callAs(t, ts, "GET", "/rest/api/3/myself", nil, c.email, c.token)
		if r.status != 401 || !strings.Contains(string(r.body), `"errorMessages":["Client must be authenticated`) {
			t.Errorf("%q/%q: %d %s", c.email, c.token, r.status, r.body)
		}
	}
	if r := callAs(t, ts, "GET", "/rest/api/3/myself", nil, strings.ToUpper(DefaultEmail), DefaultToken); r.status != 200 {
		t.Errorf("email case: %d", r.status)
	}
}

func TestRateLimit(t *testing.T) {
	a, ts, _ := newTestAPI(t, Options{Issues: 5, RateLimit: 3})
	wall := &fixedNow{t: t0}
	a.limits.clock = wall.Now
	for i := range 3 {
		if r := call(t, ts, "GET", "/rest/api/3/myself", nil); r.status != 200 || r.header.Get("X-RateLimit-Remaining") != fmt.Sprint(2-i) {
			t.Fatalf("request %d: %d, remaining %q", i, r.status, r.header.Get("X-RateLimit-Remaining"))
		}
	}
	wall.Set(t0.Add(400 * time.Millisecond))
	r := call(t, ts, "GET", "/rest/api/3/myself", nil)
	if r.status != 429 || r.header.Get("Retry-After") != "1" || r.header.Get("RateLimit-Reason") != "jira-burst-based" || r.header.Get("X-RateLimit-Reset") == "" {
		t.Fatalf("4th request in a second: %d %v %s", r.status, r.header, r.body)
	}
	wall.Set(t0.Add(1001 * time.Millisecond))
	if r := call(t, ts, "GET", "/rest/api/3/myself", nil); r.status != 200 {
		t.Errorf("after the second: %d", r.status)
	}
}

func TestFaultRateLimited(t *testing.T) {
	a := New(Options{Issues: 1})
	var got []string
	for range 6 {
		w := httptest.NewRecorder()
		a.WriteFaultRateLimited(w, 0)
		got = append(got, fmt.Sprintf("%d:%s", w.Code, w.Header().Get("Retry-After")))
	}
	if want := []string{"429:", "429:", "503:1", "429:", "429:", "503:1"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestTransition(t *testing.T) {
	a, ts, clock := newTestAPI(t, Options{Issues: 100})
	b := New(Options{Issues: 100, Now: clock.Now})
	now := t0.Add(90 * time.Minute)
	clock.Set(now)
	changes := a.Transitions(5)
	if other := b.Transitions(5); !slices.Equal(changes, other) {
		t.Errorf("same seed, different transitions:\n%v\n%v", changes, other)
	}
	if len(changes) != 5 || !slices.IsSortedFunc(changes, func(x, y Change) int { return strings.Compare(x.IssueID, y.IssueID) }) {
		t.Fatalf("changes %v", changes)
	}
	order := map[string]int{}
	for i, s := range Statuses {
		order[s] = i
	}
	for _, c := range changes {
		if order[c.To] != order[c.From]+1 {
			t.Errorf("%s: %s → %s is not one step forward", c.IssueKey, c.From, c.To)
		}
		issues := searchAll(t, ts, "key = "+c.IssueKey, "status", "updated", "resolutiondate")
		f := issues[0]["fields"].(map[string]any)
		if get(f, "status", "name") != c.To || !parse(t, f["updated"]).Equal(now) || (c.To == "Done") != (f["resolutiondate"] != nil) {
			t.Errorf("%s after the move: %v", c.IssueKey, f)
		}
		var log struct {
			Values []struct {
				ID      string
				Created string
				Items   []map[string]any
			}
		}
		json.Unmarshal(call(t, ts, "GET", "/rest/api/3/issue/"+c.IssueKey+"/changelog", nil).body, &log)
		last := log.Values[len(log.Values)-1]
		if last.ID != c.HistoryID || !parse(t, last.Created).Equal(now) || last.Items[0]["toString"] != c.To {
			t.Errorf("%s: last changelog entry %+v", c.IssueKey, last)
		}
	}
	// Done issues stay done.
	var done string
	for _, is := range a.w.issues {
		if is.status == stDone {
			done = is.key()
			break
		}
	}
	if got := a.TransitionIssues(done, "NOPE-1"); len(got) != 0 {
		t.Errorf("moved a done or unknown issue: %v", got)
	}
}

func TestChangelogPaging(t *testing.T) {
	a, ts, _ := newTestAPI(t, Options{Issues: 50})
	var is *issue
	for _, x := range a.w.issues {
		if len(x.histories) >= 4 {
			is = x
			break
		}
	}
	var ids []string
	for start := 0; ; {
		var page struct {
			StartAt, MaxResults, Total int
			IsLast                     bool
			Values                     []struct{ ID string }
		}
		r := call(t, ts, "GET", fmt.Sprintf("/rest/api/3/issue/%d/changelog?startAt=%d&maxResults=3", is.id, start), nil)
		json.Unmarshal(r.body, &page)
		if r.status != 200 || page.StartAt != start || page.MaxResults != 3 || page.Total != len(is.histories) {
			t.Fatalf("page at %d: %d %s", start, r.status, r.body)
		}
		for _, v := range page.Values {
			ids = append(ids, v.ID)
		}
		start += len(page.Values)
		if page.IsLast {
			break
		}
	}
	if len(ids) != len(is.histories) {
		t.Errorf("paged %d entries, want %d", len(ids), len(is.histories))
	}
	r := call(t, ts, "GET", "/rest/api/3/issue/"+is.key()+"/changelog?maxResults=1000", nil)
	if !strings.Contains(string(r.body), `"maxResults":100`) {
		t.Errorf("maxResults is capped at 100: %s", r.body[:200])
	}
	if r := call(t, ts, "GET", "/rest/api/3/issue/NOPE-9/changelog", nil); r.status != 404 || !strings.Contains(string(r.body), "Issue does not exist") {
		t.Errorf("unknown issue: %d %s", r.status, r.body)
	}
}

func TestProjectSearch(t *testing.T) {
	_, ts, _ := newTestAPI(t, Options{Projects: 6})
	var page struct {
		Total, StartAt int
		IsLast         bool
		NextPage       string
		Values         []map[string]any
	}
	r := call(t, ts, "GET", "/rest/api/3/project/search?maxResults=4&expand=lead,description,insight", nil)
	json.Unmarshal(r.body, &page)
	if page.Total != 6 || len(page.Values) != 4 || page.IsLast || !strings.Contains(page.NextPage, "startAt=4") {
		t.Fatalf("first page: %s", r.body)
	}
	p := page.Values[0]
	if get(p, "lead", "accountId") == nil || get(p, "projectCategory", "name") == nil || p["description"] == nil || get(p, "insight", "totalIssueCount") == nil {
		t.Errorf("project %v", p)
	}
	u, _ := url.Parse(page.NextPage)
	page.Values = nil
	json.Unmarshal(call(t, ts, "GET", "/rest/api/3/project/search?"+u.RawQuery, nil).body, &page)
	if len(page.Values) != 2 || !page.IsLast {
		t.Errorf("second page: %d, last %v", len(page.Values), page.IsLast)
	}
	page.Values = nil
	json.Unmarshal(call(t, ts, "GET", "/rest/api/3/project/search?keys=ops&keys=DATA", nil).body, &page)
	if page.Total != 2 || page.Values[0]["key"] != "DATA" || page.Values[0]["lead"] != nil {
		t.Errorf("by keys: %+v", page)
	}
}

func TestMyselfAndTimeZone(t *testing.T) {
	a, ts, _ := newTestAPI(t, Options{Issues: 20, TimeZone: "Europe/Berlin"})
	var me map[string]any
	json.Unmarshal(call(t, ts, "GET", "/rest/api/3/myself", nil).body, &me)
	if me["timeZone"] != "Europe/Berlin" || me["emailAddress"] != DefaultEmail {
		t.Errorf("myself %v", me)
	}
	admin := httptest.NewServer(a.Admin())
	defer admin.Close()
	req, _ := http.NewRequest("PUT", admin.URL+"/timezone?name=Asia/Kolkata", nil)
	if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode != 200 {
		t.Fatalf("set time zone: %v %v", r, err)
	}
	json.Unmarshal(call(t, ts, "GET", "/rest/api/3/myself", nil).body, &me)
	is := searchAll(t, ts, "updated >= 0", "updated")[0]
	if me["timeZone"] != "Asia/Kolkata" || !strings.HasSuffix(get(is, "fields", "updated").(string), "+0530") {
		t.Errorf("after the change: %v, %v", me["timeZone"], is)
	}
	if err := a.SetTimeZone("Mars/Olympus"); err == nil {
		t.Error("unknown zone accepted")
	}
}

func TestAdmin(t *testing.T) {
	a, _, _ := newTestAPI(t, Options{Issues: 50})
	admin := httptest.NewServer(a.Admin())
	defer admin.Close()
	r, err := http.Post(admin.URL+"/transition?n=2", "", nil)
	if err != nil || r.StatusCode != 200 {
		t.Fatalf("transition: %v %v", r, err)
	}
	var out struct {
		Keys    []string
		Changes []Change
	}
	json.NewDecoder(r.Body).Decode(&out)
	r.Body.Close()
	if len(out.Keys) != 2 || len(out.Changes) != 2 || out.Changes[0].HistoryID == "" {
		t.Errorf("transition: %+v", out)
	}
	r, _ = http.Get(admin.URL + "/count")
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if !strings.Contains(string(b), `"issues":50`) || !strings.Contains(string(b), fmt.Sprintf(`"histories":%d`, a.Histories())) {
		t.Errorf("count: %s", b)
	}
}

func TestDeterministic(t *testing.T) {
	_, ts1, _ := newTestAPI(t, Options{Issues: 80, Seed: 3})
	_, ts2, _ := newTestAPI(t, Options{Issues: 80, Seed: 3})
	_, ts3, _ := newTestAPI(t, Options{Issues: 80, Seed: 4})
	body := map[string]any{"jql": "updated >= 0", "maxResults": 100, "fields": []string{"summary", "status", "updated", "assignee"}}
	strip := func(ts *httptest.Server, b []byte) string { return strings.ReplaceAll(string(b), ts.URL, "") }
	_, r1 := search(t, ts1, body)
	_, r2 := search(t, ts2, body)
	_, r3 := search(t, ts3, body)
	if strip(ts1, r1.body) != strip(ts2, r2.body) {
		t.Error("same seed, different data")
	}
	if strip(ts1, r1.body) == strip(ts3, r3.body) {
		t.Error("different seeds, same data")
	}
}
