package jira

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshflow/meshflow/dev/sandbox"
	sbjira "github.com/meshflow/meshflow/dev/sandbox/jira"
	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/secret"
	"github.com/meshflow/meshflow/framework/source"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

var t0 = time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC)

// recorder keeps the JQL of every search the connector sends.
type recorder struct {
	mu  sync.Mutex
	jql []string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasSuffix(req.URL.Path, "/search/jql") && req.Body != nil {
		b, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(b))
		var body struct{ JQL string }
		json.Unmarshal(b, &body)
		r.mu.Lock()
		r.jql = append(r.jql, body.JQL)
		r.mu.Unlock()
	}
	return http.DefaultTransport.RoundTrip(req)
}

func (r *recorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.jql)
}

// fixture is a sandbox on a settable clock and a connector for it.
type fixture struct {
	clock *clock
	sb    *sandbox.Server
	ts    *httptest.Server
	src   *Source
	rec   *recorder
}

func newFixture(t *testing.T, js sbjira.Options, cfg Config) *fixture {
	t.Helper()
	f := &fixture{clock: &clock{t: t0}, rec: &recorder{}}
	if js.Issues == 0 {
		js.Issues = 200
	}
	if js.RateLimit == 0 {
		js.RateLimit = -1
	}
	f.sb = sandbox.New(&sandbox.Options{Connectors: []source.Connector{Connector}, Seed: 11, Now: f.clock.Now, Settings: []any{js}})
	f.ts = httptest.NewServer(f.sb)
	t.Cleanup(f.ts.Close)
	cfg.BaseURL = sbjira.URL(f.ts.URL)
	if cfg.Email == "" {
		cfg.Email, cfg.Token = sbjira.DefaultEmail, sbjira.DefaultToken
	}
	src, err := New(cfg, &Options{RequestsPerSecond: -1, Now: f.clock.Now, HTTPClient: &http.Client{Transport: f.rec}})
	if err != nil {
		t.Fatal(err)
	}
	f.src = src
	return f
}

func (f *fixture) stream(name string) source.Stream {
	s, _ := source.Lookup(f.src, name)
	return s
}

// api calls the sandbox directly, as a client other than the connector would.
func (f *fixture) api(t *testing.T, method, path string, body any) []byte {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, sbjira.URL(f.ts.URL)+"/rest/api/3"+path, rd)
	req.SetBasicAuth(sbjira.DefaultEmail, sbjira.DefaultToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return b
}

// searchIDs pages a JQL query through the sandbox and returns the issue ids.
func (f *fixture) searchIDs(t *testing.T, jql string) []string {
	t.Helper()
	var ids []string
	token := ""
	for {
		body := map[string]any{"jql": jql, "maxResults": 100}
		if token != "" {
			body["nextPageToken"] = token
		}
		var page struct {
			Issues []struct{ ID string }
			Token  string `json:"nextPageToken"`
		}
		json.Unmarshal(f.api(t, "POST", "/search/jql", body), &page)
		for _, is := range page.Issues {
			ids = append(ids, is.ID)
		}
		if page.Token == "" || len(page.Issues) == 0 {
			slices.Sort(ids)
			return ids
		}
		token = page.Token
	}
}

var fastReader = &source.ReaderOptions{BaseBackoff: time.Millisecond, Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }}

// readAll reads a whole sync and returns the records by primary key, failing on repeats.
func readAll(t *testing.T, s source.Stream, cursor json.RawMessage, syncStart time.Time) (map[string]json.RawMessage, json.RawMessage, source.Stats) {
	t.Helper()
	got := map[string]json.RawMessage{}
	st, err := source.NewReader(s, fastReader).Read(t.Context(), source.PageRequest{Cursor: cursor, SyncStart: syncStart}, func(p source.Page) error {
		for _, r := range p.Records {
			id := pk(t, s, r)
			if _, dup := got[id]; dup {
				t.Fatalf("record %s returned twice", id)
			}
			got[id] = r
		}
		cursor = p.Next
		return nil
	})
	if err != nil {
		t.Fatalf("read %s: %v", s.Spec().Name, err)
	}
	return got, cursor, st
}

func pk(t *testing.T, s source.Stream, raw json.RawMessage) string {
	t.Helper()
	vals, err := source.Extract(raw, s.Spec().Fields)
	if err != nil {
		t.Fatal(err)
	}
	return vals[0].(string) // every stream's first field is its key
}

func keys(m map[string]json.RawMessage) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func row(t *testing.T, s source.Stream, raw json.RawMessage) map[string]any {
	t.Helper()
	vals, err := source.Extract(raw, s.Spec().Fields)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]any{}
	for i, f := range s.Spec().Fields {
		out[f.Name] = vals[i]
	}
	return out
}

func TestSearchJQL(t *testing.T) {
	for _, c := range []struct {
		projects     []string
		since, until int64
		want         string
	}{
		{nil, 0, 1709370944000, "updated >= 0 AND updated <= 1709370944000 ORDER BY updated ASC, key ASC"},
		{[]string{"OPS", "WEB"}, 1709370000000, 1709370944000, `project in ("OPS", "WEB") AND updated >= 1709370000000 AND updated <= 1709370944000 ORDER BY updated ASC, key ASC`},
		{[]string{"DATA"}, 1709370000000, -1, `project in ("DATA") AND updated >= 1709370000000 ORDER BY updated ASC, key ASC`},
	} {
		if got := searchJQL(c.projects, c.since, c.until); got != c.want {
			t.Errorf("searchJQL(%v, %d, %d)\n got %s\nwant %s", c.projects, c.since, c.until, got, c.want)
		}
	}
}

// bareDatetime matches a JQL date in Jira's text formats, which Jira reads in the
// API user's profile time zone.
var bareDatetime = regexp.MustCompile(`\d{4}[/-]\d{2}[/-]\d{2}`)

// TestTimeZoneTrap: with the API user's profile in New York, a bare JQL datetime
// written from a UTC instant misses the five hours after it; the connector, which
// bounds by epoch milliseconds only, reads exactly the window.
func TestTimeZoneTrap(t *testing.T) {
	f := newFixture(t, sbjira.Options{Issues: 600, TimeZone: "America/New_York"}, Config{})
	issues := f.stream("issues")
	all, _, _ := readAll(t, issues, nil, f.clock.Now())

	// The mark is the seeded bulk edit (03:00 UTC), when many issues changed at once.
	mark := sandbox.Get[*sbjira.API](f.sb).BulkUpdatedAt()
	var want []string
	for id, raw := range all {
		if !row(t, issues, raw)["updated_at"].(time.Time).Before(mark) {
			want = append(want, id)
		}
	}
	slices.Sort(want)

	byEpoch := f.searchIDs(t, fmt.Sprintf("updated >= %d", mark.UnixMilli()))
	bare := f.searchIDs(t, fmt.Sprintf(`updated >= "%s"`, mark.UTC().Format("2006/01/02 15:04")))
	if !slices.Equal(byEpoch, want) {
		t.Fatalf("epoch-ms bound: %d issues, want %d", len(byEpoch), len(want))
	}
	if len(bare) > len(want)-10 {
		t.Fatalf("bare datetime: %d issues, want at least 10 fewer than %d (it is read in New York time)", len(bare), len(want))
	}
	t.Logf("updated >= mark: %d issues by epoch ms, %d by a bare UTC datetime read in New York time", len(want), len(bare))

	// The connector's incremental read from that mark: exactly the window, whatever
	// the profile zone, and never a bare datetime on the wire.
	sandbox.Get[*sbjira.API](f.sb).SetTimeZone("Asia/Kolkata")
	idle := cursor{V: 1, Phase: phaseIdle, Mark: mark.Add(defaultLookback).UnixMilli()}.encode()
	got, _, _ := readAll(t, issues, idle, f.clock.Now())
	if !slices.Equal(keys(got), want) {
		t.Errorf("incremental read from the mark: %d issues, want %d", len(got), len(want))
	}
	for _, q := range f.rec.all() {
		if bareDatetime.MatchString(q) || strings.Contains(q, `"`) { // no projects configured: no quotes at all
			t.Errorf("the connector sent a bare datetime: %s", q)
		}
	}
	if len(f.rec.all()) == 0 {
		t.Fatal("no JQL recorded")
	}
}

// TestTimestampsNormalised: Jira's offsets (-0500, -0400, +0530) all land as the
// same UTC instants.
func TestTimestampsNormalised(t *testing.T) {
	f := newFixture(t, sbjira.Options{Issues: 40, TimeZone: "America/New_York"}, Config{})
	issues := f.stream("issues")
	ny, _, _ := readAll(t, issues, nil, f.clock.Now())
	sandbox.Get[*sbjira.API](f.sb).SetTimeZone("Asia/Kolkata")
	in, _, _ := readAll(t, issues, nil, f.clock.Now())
	offset := regexp.MustCompile(`"updated":"[^"]+([+-]\d{4})"`)
	offsets := map[string]bool{}
	for id, raw := range ny {
		offsets[offset.FindStringSubmatch(string(raw))[1]] = true
		a, b := row(t, issues, raw), row(t, issues, in[id])
		for _, name := range []string{"created_at", "updated_at", "resolved_at", "status_category_changed_at"} {
			if a[name] != nil && !a[name].(time.Time).Equal(b[name].(time.Time)) {
				t.Errorf("%s %s: %v in New York, %v in Kolkata", id, name, a[name], b[name])
			}
		}
		if !slices.Contains([]any{"new", "indeterminate", "done"}, a["status_category"]) {
			t.Errorf("%s: status category %v", id, a["status_category"])
		}
		if l, _ := a["labels"].(string); !strings.HasPrefix(l, "[") {
			t.Errorf("%s: labels %q, want a JSON array", id, l)
		}
	}
	if !offsets["-0500"] || !offsets["-0400"] {
		t.Errorf("offsets seen %v: want both -0500 and -0400 (a year of data crosses DST)", offsets)
	}
	if !strings.Contains(string(in[keys(in)[0]]), "+0530") {
		t.Errorf("Kolkata timestamps: %s", in[keys(in)[0]])
	}
}

// TestLookbackDedupe: windows overlap by the lookback, yet each version of an
// issue lands once; a newer version of a seen issue lands again.
func TestLookbackDedupe(t *testing.T) {
	f := newFixture(t, sbjira.Options{}, Config{Lookback: 10 * time.Minute})
	issues := f.stream("issues")
	all, cur, _ := readAll(t, issues, nil, f.clock.Now())
	if len(all) != sandbox.Get[*sbjira.API](f.sb).Count() {
		t.Fatalf("full refresh: %d of %d issues", len(all), sandbox.Get[*sbjira.API](f.sb).Count())
	}
	ids := func(cs []sbjira.Change) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.IssueID)
		}
		slices.Sort(out)
		return out
	}

	f.clock.Add(time.Hour)
	first := sandbox.Get[*sbjira.API](f.sb).Transitions(4)
	got, cur, _ := readAll(t, issues, cur, f.clock.Add(time.Second))
	if !slices.Equal(keys(got), ids(first)) {
		t.Fatalf("after 4 transitions: %v, want %v", keys(got), ids(first))
	}
	var c cursor
	json.Unmarshal(cur, &c)
	if len(c.Seen) != 4 {
		t.Errorf("idle cursor remembers %d versions, want the 4 within the lookback: %s", len(c.Seen), cur)
	}

	// Two minutes on, inside the lookback: the 4 are in the window but seen.
	f.clock.Add(time.Minute)
	again := sandbox.Get[*sbjira.API](f.sb).TransitionIssues(first[0].IssueKey)
	got, cur, _ = readAll(t, issues, cur, f.clock.Add(time.Minute))
	if !slices.Equal(keys(got), ids(again)) {
		t.Fatalf("after moving %s again: %v, want only it", again[0].IssueKey, keys(got))
	}
	got, _, _ = readAll(t, issues, cur, f.clock.Add(time.Minute))
	if len(got) != 0 {
		t.Errorf("quiet sync inside the lookback returned %v", keys(got))
	}
}

// TestIsLastNotTrusted: paging follows the token, whatever isLast says, and stops
// on an empty page even if a token comes with it.
func TestIsLastNotTrusted(t *testing.T) {
	var tokens []string
	pages := []string{
		`{"issues":[{"id":"1","key":"A-1","fields":{"updated":"2024-03-02T09:15:44.123+0000"}}],"nextPageToken":"p2","isLast":true}`,
		`{"issues":[{"id":"2","key":"A-2","fields":{"updated":"2024-03-02T09:15:45.123+0000"}}],"nextPageToken":"p3","isLast":false}`,
		`{"issues":[],"nextPageToken":"p4","isLast":false}`,
		`{"issues":[{"id":"9","key":"A-9","fields":{"updated":"2024-03-02T09:15:46.123+0000"}}]}`,
	}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ NextPageToken string }
		json.NewDecoder(r.Body).Decode(&body)
		tokens = append(tokens, body.NextPageToken)
		io.WriteString(w, pages[len(tokens)-1])
	}))
	defer ts.Close()
	src, _ := New(Config{BaseURL: ts.URL, Email: "a@b.example", Token: "t"}, &Options{RequestsPerSecond: -1})
	recs, _, err := source.ReadAll(t.Context(), src.Streams()[0], source.PageRequest{SyncStart: t0}, fastReader)
	if err != nil || len(recs) != 2 || !slices.Equal(tokens, []string{"", "p2", "p3"}) {
		t.Fatalf("read %d records with tokens %q: %v; want 2 records, stopping at the empty page", len(recs), tokens, err)
	}
}

// TestChangelogPaging: with 2 entries per request, most issues' changelogs span
// several pages; a full read returns every entry once, also when resumed from a
// cursor in the middle of an issue's changelog.
func TestChangelogPaging(t *testing.T) {
	f := newFixture(t, sbjira.Options{Issues: 60}, Config{PageSize: 2})
	cl := f.stream("issue_changelog")
	before := sandbox.Get[*sbjira.API](f.sb).Requests()
	all, _, st := readAll(t, cl, nil, f.clock.Now())
	if len(all) != sandbox.Get[*sbjira.API](f.sb).Histories() {
		t.Fatalf("full read: %d entries, want %d", len(all), sandbox.Get[*sbjira.API](f.sb).Histories())
	}
	searches := (60 + 1) / 2
	if n := sandbox.Get[*sbjira.API](f.sb).Requests() - before; n != st.Pages || st.Pages < searches+60+20 {
		t.Errorf("%d requests for %d pages; want one request per page and many more changelog pages than issues", n, st.Pages)
	}
	perIssue := map[string]int{}
	for _, raw := range all {
		r := row(t, cl, raw)
		perIssue[r["issue_key"].(string)]++
		if r["issue_id"] == nil || r["created_at"] == nil || !strings.HasPrefix(r["items"].(string), "[{") {
			t.Fatalf("entry %s", raw)
		}
	}
	multi := 0
	for _, n := range perIssue {
		if n > 2 {
			multi++
		}
	}
	if multi < 10 {
		t.Fatalf("only %d issues have more than one page of changelog", multi)
	}

	// Stop in the middle of an issue's changelog, then resume.
	var part []json.RawMessage
	var mid json.RawMessage
	_, err := source.NewReader(cl, fastReader).Read(t.Context(), source.PageRequest{SyncStart: f.clock.Now()}, func(p source.Page) error {
		part = append(part, p.Records...)
		mid = p.Next
		var c cursor
		json.Unmarshal(p.Next, &c)
		if c.Phase == phaseChangelog && c.StartAt > 0 && len(part) > 10 {
			return source.ErrStop
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rest, _, _ := readAll(t, cl, mid, f.clock.Now())
	for _, raw := range part {
		id := pk(t, cl, raw)
		if _, dup := rest[id]; dup {
			t.Fatalf("entry %s returned before and after the resume", id)
		}
		rest[id] = raw
	}
	if !slices.Equal(keys(rest), keys(all)) {
		t.Errorf("resumed read: %d entries, want %d", len(rest), len(all))
	}
}

// TestChangelogIssueChangedMidSync: an issue changed after SyncStart while its
// changelog sync runs keeps its earlier entries in this sync (the search has no
// upper bound, so the issue is still met) and lands the new entry in the next.
func TestChangelogIssueChangedMidSync(t *testing.T) {
	f := newFixture(t, sbjira.Options{}, Config{PageSize: 2})
	cl := f.stream("issue_changelog")
	_, cur, _ := readAll(t, cl, nil, f.clock.Now())

	f.clock.Add(time.Hour)
	moved := sandbox.Get[*sbjira.API](f.sb).Transitions(6)
	syncStart := f.clock.Add(time.Minute)
	var got []json.RawMessage
	pages := 0
	_, err := source.NewReader(cl, fastReader).Read(t.Context(), source.PageRequest{Cursor: cur, SyncStart: syncStart}, func(p source.Page) error {
		got = append(got, p.Records...)
		cur = p.Next
		if pages++; pages == 1 { // the first search page is read: now the issues change again
			f.clock.Add(time.Minute)
			var keys []string
			for _, c := range moved {
				keys = append(keys, c.IssueKey)
			}
			sandbox.Get[*sbjira.API](f.sb).TransitionIssues(keys...)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, c := range moved {
		want = append(want, c.HistoryID)
	}
	slices.Sort(want)
	gotIDs := func(recs []json.RawMessage) []string {
		var out []string
		for _, r := range recs {
			out = append(out, pk(t, cl, r))
		}
		slices.Sort(out)
		return out
	}
	if g := gotIDs(got); !slices.Equal(g, want) {
		t.Fatalf("sync during the changes: %v, want the entries made before SyncStart %v", g, want)
	}
	next, _, _ := readAll(t, cl, cur, f.clock.Add(time.Minute))
	if len(next) != len(moved) {
		t.Fatalf("next sync: %d entries, want the %d made after the last SyncStart", len(next), len(moved))
	}
	for id := range next {
		if slices.Contains(want, id) {
			t.Errorf("entry %s landed twice", id)
		}
	}
}

// TestRecordsUnchanged: an issue is Jira's JSON object byte for byte; a changelog
// record wraps the entry's bytes as sent.
func TestRecordsUnchanged(t *testing.T) {
	f := newFixture(t, sbjira.Options{Issues: 30}, Config{PageSize: 5})
	s := f.stream("issues").(*issuesStream)
	page, err := s.NextPage(t.Context(), source.PageRequest{SyncStart: f.clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	direct := f.api(t, "POST", "/search/jql", map[string]any{"jql": f.rec.all()[0], "maxResults": 5, "fields": issueFields})
	var resp struct{ Issues []json.RawMessage }
	json.Unmarshal(direct, &resp)
	if len(page.Records) != 5 || !bytes.Equal(page.Records[3], resp.Issues[3]) {
		t.Errorf("issue changed:\n got %s\nwant %s", page.Records[3], resp.Issues[3])
	}

	cl := f.stream("issue_changelog")
	all, _, _ := readAll(t, cl, nil, f.clock.Now())
	raw := all[keys(all)[0]]
	var rec struct {
		Issue   issueRef
		History json.RawMessage
	}
	json.Unmarshal(raw, &rec)
	var log struct{ Values []json.RawMessage }
	json.Unmarshal(f.api(t, "GET", "/issue/"+rec.Issue.Key+"/changelog", nil), &log)
	if !slices.ContainsFunc(log.Values, func(v json.RawMessage) bool { return bytes.Equal(v, rec.History) }) {
		t.Errorf("history changed: %s", rec.History)
	}
}

func TestProjects(t *testing.T) {
	f := newFixture(t, sbjira.Options{Issues: 100, Projects: 5}, Config{Projects: []string{"ops", "DATA"}, PageSize: 1})
	p := f.stream("projects")
	got, cur, st := readAll(t, p, nil, f.clock.Now())
	if len(got) != 2 || st.Pages != 2 {
		t.Fatalf("projects: %d in %d pages, want OPS and DATA in 2", len(got), st.Pages)
	}
	for _, raw := range got {
		r := row(t, p, raw)
		if r["lead_account_id"] == nil || !strings.HasSuffix(r["category_name"].(string), " team") || r["description"] == nil {
			t.Errorf("project %v", r)
		}
	}
	again, _, _ := readAll(t, p, cur, f.clock.Now())
	if len(again) != 2 {
		t.Errorf("the next sync read %d projects, want all again", len(again))
	}
	issues, _, _ := readAll(t, f.stream("issues"), nil, f.clock.Now())
	for _, raw := range issues {
		if k := row(t, f.stream("issues"), raw)["project_key"]; k != "OPS" && k != "DATA" {
			t.Fatalf("issue of project %v", k)
		}
	}
}

// TestRetryAfter: the sandbox's burst limit answers 429 with Retry-After; the
// reader waits what it says and the read completes.
func TestRetryAfter(t *testing.T) {
	t.Parallel() // it waits on real clocks for a few seconds
	f := newFixture(t, sbjira.Options{Issues: 60, RateLimit: 4}, Config{PageSize: 5})
	var mu sync.Mutex
	var waits []time.Duration
	ro := &source.ReaderOptions{Sleep: func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		waits = append(waits, d)
		mu.Unlock()
		select {
		case <-time.After(d):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}}
	recs, _, err := source.ReadAll(t.Context(), f.stream("issues"), source.PageRequest{SyncStart: f.clock.Now()}, ro)
	if err != nil || len(recs) != 60 {
		t.Fatalf("read %d issues: %v", len(recs), err)
	}
	if len(waits) == 0 || !slices.Contains(waits, time.Second) {
		t.Errorf("waits %v: want the sandbox's Retry-After of 1s", waits)
	}
}

// TestErrorMapping maps each kind of answer once, to the right kind.
func TestErrorMapping(t *testing.T) {
	const email = "sync@acme.example"
	const tok = "ATATT3xFfGF0bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	basic := base64.StdEncoding.EncodeToString([]byte(email + ":" + tok))
	cases := []struct {
		name     string
		status   int
		header   map[string]string
		body     string
		kind     errs.Kind
		retry    time.Duration
		contains []string
	}{
		{"401", 401, nil, `{"errorMessages":["Client must be authenticated to access this resource."],"errors":{}}`, errs.Permission, 0, []string{"JIRA_EMAIL", "JIRA_API_TOKEN", "Client must be authenticated"}},
		{"403", 403, nil, `{"errorMessages":["You do not have permission."]}`, errs.Permission, 0, []string{"Browse Projects", "JIRA_EMAIL"}},
		{"404", 404, nil, `<html>not found</html>`, errs.NotFound, 0, []string{"JIRA_BASE_URL"}},
		{"410", 410, nil, `{"errorMessages":["` + sbjira.RemovedSearchMessage + `"],"errors":{}}`, errs.Invalid, 0, []string{"410", "/rest/api/3/search/jql", "CHANGE-2046"}},
		{"400-jql", 400, nil, `{"errorMessages":["Field 'x' does not exist or you do not have permission to view it."],"errors":{"jql":"bad"},"warningMessages":[]}`, errs.Invalid, 0, []string{"Field 'x' does not exist", "jql: bad"}},
		{"429-retry-after", 429, map[string]string{"Retry-After": "7", "RateLimit-Reason": "jira-burst-based"}, `{"errorMessages":["Rate limit exceeded."]}`, errs.RateLimited, 7 * time.Second, []string{"jira-burst-based"}},
		{"429-reset", 429, map[string]string{"X-RateLimit-Reset": t0.Add(90 * time.Second).Format("2006-01-02T15:04:05Z07:00")}, ``, errs.RateLimited, 90 * time.Second, nil},
		{"429-bare", 429, nil, ``, errs.RateLimited, 0, nil},
		{"503-retry-after", 503, map[string]string{"Retry-After": "3"}, `{"errorMessages":["busy"]}`, errs.Transient, 3 * time.Second, nil},
		{"503-bare", 503, nil, `<html>503</html>`, errs.Transient, 0, []string{"503"}},
		{"502-html", 502, nil, `<html><h1>502 Bad Gateway</h1></html>`, errs.Transient, 0, []string{"502"}},
		{"200-truncated", 200, nil, `{"issues":[{"id":"1","fiel`, errs.Transient, 0, []string{"undecodable"}},
		{"200-not-issues", 200, nil, `{"issues":[1,2],"nextPageToken":"x"}`, errs.Transient, 0, nil},
		{"echoed-token", 400, nil, `{"errorMessages":["bad header Basic ` + basic + ` for ` + tok + `"]}`, errs.Invalid, 0, []string{"[REDACTED]"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range c.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(c.status)
				io.WriteString(w, c.body)
			}))
			defer ts.Close()
			src, err := New(Config{BaseURL: ts.URL, Email: email, Token: tok}, &Options{RequestsPerSecond: -1, Now: func() time.Time { return t0 }})
			if err != nil {
				t.Fatal(err)
			}
			_, err = src.Streams()[0].NextPage(t.Context(), source.PageRequest{SyncStart: t0})
			e, ok := errs.As(err)
			if !ok || e.Kind != c.kind || e.RetryAfter != c.retry {
				t.Fatalf("got %v (%#v), want kind %v retry %v", err, e, c.kind, c.retry)
			}
			for _, s := range c.contains {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("%q does not mention %q", err, s)
				}
			}
			if strings.Contains(err.Error(), tok) || strings.Contains(err.Error(), basic) {
				t.Errorf("the error shows the credentials: %v", err)
			}
		})
	}
}

// TestRemovedSearch: the sandbox answers the old /search as Jira Cloud does.
func TestRemovedSearch(t *testing.T) {
	f := newFixture(t, sbjira.Options{Issues: 5}, Config{})
	for _, method := range []string{"GET", "POST"} {
		req, _ := http.NewRequest(method, sbjira.URL(f.ts.URL)+"/rest/api/3/search?jql=project%3DOPS", nil)
		req.SetBasicAuth(sbjira.DefaultEmail, sbjira.DefaultToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := `{"errorMessages":["The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"],"errors":{}}`
		if resp.StatusCode != 410 || string(b) != want {
			t.Errorf("%s /search: %d %s", method, resp.StatusCode, b)
		}
	}
}

// TestChangelogSkipsDeletedIssue: a 404 on a changelog (the issue was deleted
// after the search found it) skips that issue instead of failing the sync.
func TestChangelogSkipsDeletedIssue(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/search/jql"):
			io.WriteString(w, `{"issues":[{"id":"1","key":"A-1","fields":{}},{"id":"2","key":"A-2","fields":{}}],"isLast":true}`)
		case strings.Contains(r.URL.Path, "/issue/1/"):
			w.WriteHeader(404)
			io.WriteString(w, `{"errorMessages":["Issue does not exist or you do not have permission to see it."],"errors":{}}`)
		default:
			io.WriteString(w, `{"startAt":0,"maxResults":100,"total":1,"isLast":true,"values":[{"id":"77","created":"2024-03-02T09:15:44.123+0000","items":[]}]}`)
		}
	}))
	defer ts.Close()
	src, _ := New(Config{BaseURL: ts.URL, Email: "a@b.example", Token: "t"}, &Options{RequestsPerSecond: -1})
	cl, _ := source.Lookup(src, "issue_changelog")
	recs, _, err := source.ReadAll(t.Context(), cl, source.PageRequest{SyncStart: t0}, fastReader)
	if err != nil || len(recs) != 1 || string(recs[0]) != `{"issue":{"id":"2","key":"A-2"},"history":{"id":"77","created":"2024-03-02T09:15:44.123+0000","items":[]}}` {
		t.Fatalf("got %s, %v", recs, err)
	}
}

// TestNetworkErrorIsTransient: a refused connection is worth retrying.
func TestNetworkErrorIsTransient(t *testing.T) {
	ts := httptest.NewServer(http.NotFoundHandler())
	u := ts.URL
	ts.Close()
	src, _ := New(Config{BaseURL: u, Email: "a@b.example", Token: "t"}, &Options{RequestsPerSecond: -1})
	if err := src.Check(t.Context()); !errs.Is(err, errs.Transient) {
		t.Fatalf("got %v, want transient", err)
	}
}

func TestCheck(t *testing.T) {
	f := newFixture(t, sbjira.Options{Issues: 5}, Config{})
	if err := f.src.Check(t.Context()); err != nil {
		t.Fatal(err)
	}
	bad, _ := New(Config{BaseURL: sbjira.URL(f.ts.URL), Email: sbjira.DefaultEmail, Token: "nope"}, &Options{RequestsPerSecond: -1})
	if err := bad.Check(t.Context()); !errs.Is(err, errs.Permission) {
		t.Fatalf("bad token: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := Config{BaseURL: "https://acme.atlassian.net", Email: "a@acme.example", Token: "tok"}
	with := func(change func(*Config)) Config { c := ok; change(&c); return c }
	cases := []struct {
		cfg  Config
		want string
	}{
		{with(func(c *Config) { c.BaseURL = "" }), "JIRA_BASE_URL is not set"},
		{with(func(c *Config) { c.BaseURL = "acme.atlassian.net" }), "JIRA_BASE_URL"},
		{with(func(c *Config) { c.BaseURL = "https://acme.atlassian.net/rest/api/3" }), "site root"},
		{with(func(c *Config) { c.Email = "" }), "JIRA_EMAIL is not set"},
		{with(func(c *Config) { c.Email = "sync" }), "not an email address"},
		{with(func(c *Config) { c.Token = "" }), "JIRA_API_TOKEN is not set"},
		{with(func(c *Config) { c.Token = "Basic abc" }), "bare API token"},
		{with(func(c *Config) { c.Token = "abc\n" }), "whitespace"},
		{with(func(c *Config) { c.Projects = []string{"OPS", "x) OR (1=1"} }), "not a Jira project key"},
		{with(func(c *Config) { c.Lookback = -time.Second }), "negative"},
		{with(func(c *Config) { c.Lookback = 30 * time.Second }), "under 1m0s"},
		{with(func(c *Config) { c.PageSize = 500 }), "page size"},
	}
	for _, c := range cases {
		err := c.cfg.Validate()
		if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an Invalid error mentioning %q", c.cfg, err, c.want)
		}
		if _, err := New(c.cfg, nil); err == nil {
			t.Errorf("New accepted %+v", c.cfg)
		}
	}
	if err := with(func(c *Config) { c.Projects = []string{"ops", "DATA_2"} }).Validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

func TestSecretRedaction(t *testing.T) {
	const tok = "ATATT3xFfGF0-0123456789"
	cfg := Config{BaseURL: "https://acme.atlassian.net", Email: "a@acme.example", Token: tok}
	src, _ := New(cfg, nil)
	var out []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		out = append(out, fmt.Sprintf(verb, cfg), fmt.Sprintf(verb, &cfg), fmt.Sprintf(verb, cfg.Token))
	}
	out = append(out, fmt.Sprintf("%+v", *src), fmt.Sprintf("%#v", src), fmt.Sprintf("%+v", src))
	b, _ := json.Marshal(cfg)
	out = append(out, string(b))
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "cfg", cfg)
	out = append(out, buf.String())
	for _, s := range out {
		if strings.Contains(s, tok) || strings.Contains(s, fmt.Sprintf("%x", tok)) {
			t.Errorf("token printed: %s", s)
		}
	}
	if cfg.Token.Reveal() != tok || !strings.Contains(string(b), `"Token":"`+secret.Redacted+`"`) {
		t.Errorf("json %s", b)
	}
}

func TestCursorErrors(t *testing.T) {
	src, _ := New(Config{BaseURL: "https://acme.atlassian.net", Email: "a@b.example", Token: "t"}, nil)
	for _, st := range src.Streams() {
		for _, c := range []string{`{"v":2}`, `[1]`, `{"v":1,"phase":"sideways"}`} {
			_, err := st.NextPage(t.Context(), source.PageRequest{Cursor: json.RawMessage(c)})
			if !errs.Is(err, errs.Invalid) {
				t.Errorf("%s cursor %s: %v, want invalid", st.Spec().Name, c, err)
			}
		}
	}
	cl, _ := source.Lookup(src, "issue_changelog")
	if _, err := cl.NextPage(t.Context(), source.PageRequest{Cursor: json.RawMessage(`{"v":1,"phase":"changelog"}`)}); !errs.Is(err, errs.Invalid) {
		t.Errorf("changelog phase without a queue: %v", err)
	}
}
