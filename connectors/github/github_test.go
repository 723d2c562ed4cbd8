package github

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshflow/meshflow/connectors/hubspot"
	"github.com/meshflow/meshflow/dev/sandbox"
	sbgithub "github.com/meshflow/meshflow/dev/sandbox/github"
	sbhubspot "github.com/meshflow/meshflow/dev/sandbox/hubspot"
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

var t0 = time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)

// hit is one request the sandbox answered.
type hit struct {
	url    *url.URL
	status int
	etag   bool // it carried If-None-Match
}

// fixture is a sandbox on a settable clock, recording every request, and a
// connector for it.
type fixture struct {
	clock *clock
	sb    *sandbox.Server
	ts    *httptest.Server
	src   *Source

	mu   sync.Mutex
	hits []hit
}

func newFixture(t *testing.T, gh sbgithub.Options, cfg Config, opts *Options) *fixture {
	t.Helper()
	f := &fixture{clock: &clock{t: t0}}
	for _, d := range []struct {
		v   *int
		def int
	}{{&gh.Issues, 60}, {&gh.PullRequests, 80}, {&gh.Commits, 20}} {
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if gh.RateLimit == 0 {
		gh.RateLimit = -1
	}
	if gh.SecondaryPerMinute == 0 {
		gh.SecondaryPerMinute = -1
	}
	f.sb = sandbox.New(&sandbox.Options{Connectors: []source.Connector{hubspot.Connector, Connector}, Seed: 5, Now: f.clock.Now, Settings: []any{gh, sbhubspot.Options{Contacts: 1, Companies: 1, Deals: 1}}})
	f.ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, sbgithub.Path+"/") {
			f.sb.ServeHTTP(w, r)
			return
		}
		u := *r.URL
		f.sb.ServeHTTP(&statusRecorder{ResponseWriter: w, record: func(status int) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.hits = append(f.hits, hit{url: &u, status: status, etag: r.Header.Get("If-None-Match") != ""})
		}}, r)
	}))
	t.Cleanup(f.ts.Close)
	cfg.BaseURL = sbgithub.URL(f.ts.URL)
	if cfg.Token == "" {
		cfg.Token = sbgithub.DefaultToken
	}
	if cfg.Repos == nil {
		cfg.Repos = []string{"acme/app", "acme/api", "acme/data-pipeline"}
	}
	if opts == nil {
		opts = &Options{RequestsPerSecond: -1}
	}
	if opts.Now == nil {
		opts.Now = f.clock.Now
	}
	src, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	f.src = src
	return f
}

// statusRecorder records a response's status as its header is written: before
// the client can have the response, so a test that reads the hits after a read
// sees all of them.
type statusRecorder struct {
	http.ResponseWriter
	record func(status int)
	done   bool
}

func (r *statusRecorder) WriteHeader(s int) {
	if !r.done {
		r.done = true
		r.record(s)
	}
	r.ResponseWriter.WriteHeader(s)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if !r.done {
		r.WriteHeader(http.StatusOK)
	}
	return r.ResponseWriter.Write(b)
}

// take returns the requests since the last take.
func (f *fixture) take() []hit {
	f.mu.Lock()
	defer f.mu.Unlock()
	h := f.hits
	f.hits = nil
	return h
}

func (f *fixture) stream(name string) source.Stream {
	s, _ := source.Lookup(f.src, name)
	return s
}

var fastReader = &source.ReaderOptions{BaseBackoff: time.Millisecond, Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }}

// read reads a whole sync from cursor and returns the records' keys (failing on
// a repeat) and the final cursor.
func read(t *testing.T, s source.Stream, cursor json.RawMessage, syncStart time.Time) ([]string, json.RawMessage) {
	t.Helper()
	spec := s.Spec()
	var keys []string
	_, err := source.NewReader(s, fastReader).Read(t.Context(), source.PageRequest{Cursor: cursor, SyncStart: syncStart}, func(p source.Page) error {
		for _, r := range p.Records {
			k := key(t, spec, r)
			if slices.Contains(keys, k) {
				t.Fatalf("%s: record %s returned twice", spec.Name, k)
			}
			keys = append(keys, k)
		}
		cursor = p.Next
		return nil
	})
	if err != nil {
		t.Fatalf("read %s: %v", spec.Name, err)
	}
	return keys, cursor
}

func key(t *testing.T, spec source.StreamSpec, rec json.RawMessage) string {
	t.Helper()
	vals, err := source.Extract(rec, spec.Fields)
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, k := range spec.PrimaryKey {
		i := slices.IndexFunc(spec.Fields, func(f source.Field) bool { return f.Name == k })
		parts = append(parts, fmt.Sprint(vals[i]))
	}
	return strings.Join(parts, "|")
}

func TestValidate(t *testing.T) {
	ok := Config{Token: "ghp_abc", Repos: []string{"acme/app"}}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		mutate func(*Config)
		want   string
	}{
		{func(c *Config) { c.Token = "" }, TokenEnv},
		{func(c *Config) { c.Token = "Bearer ghp_abc" }, TokenEnv},
		{func(c *Config) { c.Token = "ghp_abc\n" }, TokenEnv},
		{func(c *Config) { c.Repos = nil }, ReposEnv},
		{func(c *Config) { c.Repos = []string{"https://github.com/acme/app"} }, ReposEnv},
		{func(c *Config) { c.Repos = []string{"acme"} }, ReposEnv},
		{func(c *Config) { c.Repos = []string{"acme/app", "ACME/app"} }, ReposEnv},
		{func(c *Config) { c.BaseURL = "api.github.com" }, BaseURLEnv},
		{func(c *Config) { c.Branches = []string{"a b"} }, BranchesEnv},
		{func(c *Config) { c.PageSize = 101 }, "page size"},
		{func(c *Config) { c.Lookback = -time.Second }, "lookback"},
	} {
		cfg := ok
		c.mutate(&cfg)
		err := cfg.Validate()
		if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "ghp_abc") {
			t.Errorf("%+v: %v, want an invalid error naming %s and not the token", cfg, err, c.want)
		}
	}
}

func TestParseLink(t *testing.T) {
	h := `<https://api.github.com/repositories/1/issues?page=2&per_page=100>; rel="next", <https://api.github.com/repositories/1/issues?page=9>; rel="last", <https://x/a?b=1,2>; rel="prev first"`
	got := source.ParseLink(h)
	want := map[string]string{
		"next": "https://api.github.com/repositories/1/issues?page=2&per_page=100",
		"last": "https://api.github.com/repositories/1/issues?page=9",
		"prev": "https://x/a?b=1,2", "first": "https://x/a?b=1,2",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("parseLink = %v", got)
	}
	if len(source.ParseLink("")) != 0 || len(source.ParseLink("garbage")) != 0 {
		t.Error("empty or garbage headers have no links")
	}
}

// The first sync leaves since out (never 1970); later ones send the mark minus
// the lookback.
func TestIssuesSince(t *testing.T) {
	f := newFixture(t, sbgithub.Options{}, Config{PageSize: 20}, nil)
	s := f.stream(Issues)
	keys, cur := read(t, s, nil, f.clock.Now())
	if want := sandbox.Get[*sbgithub.API](f.sb).Count(Issues); len(keys) != want {
		t.Fatalf("%d issues, want %d", len(keys), want)
	}
	firsts := map[string]bool{}
	for _, h := range f.take() {
		repo := h.url.Path
		q := h.url.Query()
		if q.Get("state") != "all" || q.Get("sort") != "updated" || q.Get("direction") != "asc" {
			t.Errorf("request %s", h.url)
		}
		if strings.HasPrefix(q.Get("since"), "1970") {
			t.Errorf("since=1970 sent: %s", h.url)
		}
		if !firsts[repo] && q.Has("since") {
			t.Errorf("the first request of a first sync has since: %s", h.url)
		}
		firsts[repo] = true
	}
	if len(firsts) != 3 {
		t.Errorf("requests for %d repositories", len(firsts))
	}

	f.clock.Add(time.Hour)
	sandbox.Get[*sbgithub.API](f.sb).UpdateIssues(4)
	keys, _ = read(t, s, cur, f.clock.Now())
	if len(keys) != 4 {
		t.Errorf("incremental: %v, want the 4 updated", keys)
	}
	var c cursor
	json.Unmarshal(cur, &c)
	for _, h := range f.take()[:1] {
		mark := c.State["acme/app"].Mark
		if want := formatUnix(mark - int64(defaultLookback/time.Second)); h.url.Query().Get("since") != want {
			t.Errorf("incremental since %q, want the mark minus the lookback %s", h.url.Query().Get("since"), want)
		}
	}
}

// An issue updated mid-read moves to the end of the list; since-keyed requests
// still see every other issue.
func TestIssuesUpdatedMidRead(t *testing.T) {
	f := newFixture(t, sbgithub.Options{}, Config{PageSize: 10}, nil)
	s := f.stream(Issues)
	spec := s.Spec()
	seen := map[string]bool{}
	pages := 0
	_, err := source.NewReader(s, fastReader).Read(t.Context(), source.PageRequest{SyncStart: f.clock.Now()}, func(p source.Page) error {
		for _, r := range p.Records {
			seen[key(t, spec, r)] = true
		}
		if pages++; pages == 2 {
			f.clock.Add(time.Minute)
			sandbox.Get[*sbgithub.API](f.sb).UpdateIssues(8)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := sandbox.Get[*sbgithub.API](f.sb).Count(Issues); len(seen) != want {
		t.Errorf("%d of %d issues read while some changed", len(seen), want)
	}
}

// A bulk edit stamps more issues with one updated_at than page numbers reach:
// the connector follows Link rel="next" verbatim, through after= cursors, and
// never meets the 422.
func TestFollowsLinksPastThePageCap(t *testing.T) {
	f := newFixture(t, sbgithub.Options{Issues: 400, PullRequests: 600, PageCap: 300}, Config{PageSize: 20, Repos: []string{"acme/app"}}, nil)
	_, cur := read(t, f.stream(Issues), nil, f.clock.Now())
	f.take()

	f.clock.Add(time.Hour) // the sandbox clock stands still: every update shares one second
	changed := sandbox.Get[*sbgithub.API](f.sb).UpdateIssues(1000)
	want := 0
	for _, k := range changed {
		if strings.HasPrefix(k, "acme/app#") {
			want++
		}
	}
	if want <= 300 {
		t.Fatalf("only %d issues changed in acme/app: the block must exceed the cap", want)
	}
	keys, _ := read(t, f.stream(Issues), cur, f.clock.Now())
	if len(keys) != want {
		t.Errorf("%d issues read, want the %d updated", len(keys), want)
	}
	after := 0
	for _, h := range f.take() {
		if h.status == 422 {
			t.Fatalf("422 on %s", h.url)
		}
		if h.url.Query().Has("after") {
			after++
			if !strings.HasPrefix(h.url.Path, "/github/repositories/") {
				t.Errorf("the Link was not followed verbatim: %s", h.url)
			}
		}
	}
	if after == 0 {
		t.Error("no after= cursor was followed: the test did not reach the cap")
	}

	// Pull requests (600, newest first, no since) page past the cap too.
	keys, _ = read(t, f.stream(PullRequests), nil, f.clock.Now())
	if len(keys) != 600 {
		t.Errorf("%d pull requests, want 600", len(keys))
	}
	for _, h := range f.take() {
		if h.status == 422 {
			t.Fatalf("422 on %s", h.url)
		}
	}
}

// The pull list has no since: it stops at the first pull request older than the
// mark, so an incremental read of a quiet repository costs one request.
func TestPullsStopEarly(t *testing.T) {
	f := newFixture(t, sbgithub.Options{PullRequests: 300}, Config{PageSize: 20}, nil)
	s := f.stream(PullRequests)
	keys, cur := read(t, s, nil, f.clock.Now())
	if hits := f.take(); len(keys) != 900 || len(hits) < 45 {
		t.Fatalf("full read: %d pull requests in %d requests", len(keys), len(hits))
	}
	f.clock.Add(time.Hour)
	merged := sandbox.Get[*sbgithub.API](f.sb).MergePRs(2)
	keys, _ = read(t, s, cur, f.clock.Now())
	slices.Sort(keys)
	var want []string
	for _, k := range merged {
		want = append(want, strings.Replace(k, "#", "|", 1))
	}
	if !slices.Equal(keys, want) {
		t.Errorf("incremental: %v, want %v", keys, want)
	}
	hits := f.take()
	if len(hits) != 3 {
		t.Errorf("%d requests, want one per repository", len(hits))
	}
	for _, h := range hits {
		if q := h.url.Query(); q.Get("direction") != "desc" || q.Get("sort") != "updated" || q.Get("state") != "all" || q.Has("page") {
			t.Errorf("request %s", h.url)
		}
	}
}

// A 304 is free and lands nothing; a quiet sync of the desc-ordered streams is
// one free request per repository. GraphQL has no conditional requests: a quiet
// sync of reviews is one query, one point of the GraphQL budget, per repository.
func TestNotModifiedCostsNothing(t *testing.T) {
	f := newFixture(t, sbgithub.Options{RateLimit: 5000}, Config{PageSize: 50, Branches: []string{"release"}}, nil)
	reviews := f.stream(PullRequestReviews)
	_, cur := read(t, reviews, nil, f.clock.Now())
	f.take()
	used, points := sandbox.Get[*sbgithub.API](f.sb).Used(), sandbox.Get[*sbgithub.API](f.sb).GraphQLUsed()
	if keys, _ := read(t, reviews, cur, f.clock.Add(time.Minute)); len(keys) != 0 {
		t.Errorf("quiet reviews sync landed %v", keys)
	}
	if hits := f.take(); len(hits) != 3 || sandbox.Get[*sbgithub.API](f.sb).Used() != used || sandbox.Get[*sbgithub.API](f.sb).GraphQLUsed() != points+3 {
		t.Errorf("quiet reviews sync: %d requests, REST use %d → %d, GraphQL points %d → %d; want a 1-point query per repository",
			len(hits), used, sandbox.Get[*sbgithub.API](f.sb).Used(), points, sandbox.Get[*sbgithub.API](f.sb).GraphQLUsed())
	}
	for _, name := range []string{Repositories, PullRequests, Commits, Issues} {
		s := f.stream(name)
		_, cur := read(t, s, nil, f.clock.Now())
		_, cur = read(t, s, cur, f.clock.Now()) // issues and commits store an ETag for their windowed URL here
		f.take()
		used := sandbox.Get[*sbgithub.API](f.sb).Used()
		keys, _ := read(t, s, cur, f.clock.Add(time.Minute))
		hits := f.take()
		notModified := 0
		for _, h := range hits {
			if h.status == 304 {
				notModified++
			}
		}
		if len(keys) != 0 || notModified != len(hits) || sandbox.Get[*sbgithub.API](f.sb).Used() != used {
			t.Errorf("%s: quiet sync landed %d, %d of %d requests were 304, primary use %d → %d",
				name, len(keys), notModified, len(hits), used, sandbox.Get[*sbgithub.API](f.sb).Used())
		}
	}
}

func TestReviews(t *testing.T) {
	f := newFixture(t, sbgithub.Options{}, Config{PageSize: 30}, nil)
	s := f.stream(PullRequestReviews)
	keys, cur := read(t, s, nil, f.clock.Now())
	if want := sandbox.Get[*sbgithub.API](f.sb).Count(PullRequestReviews); len(keys) != want {
		t.Fatalf("%d reviews, want %d", len(keys), want)
	}
	f.clock.Add(time.Hour)
	added := sandbox.Get[*sbgithub.API](f.sb).ReviewPRs(2)
	sandbox.Get[*sbgithub.API](f.sb).MergePRs(3) // changes pull requests, not their reviews
	keys, _ = read(t, s, cur, f.clock.Now())
	slices.Sort(keys)
	if !slices.Equal(keys, added) {
		t.Errorf("incremental: %v, want %v", keys, added)
	}
}

func TestCommitsBranches(t *testing.T) {
	f := newFixture(t, sbgithub.Options{}, Config{Branches: []string{"release", "no-such-branch"}}, nil)
	keys, cur := read(t, f.stream(Commits), nil, f.clock.Now())
	if want := sandbox.Get[*sbgithub.API](f.sb).Count(Commits); len(keys) != want {
		t.Errorf("%d commits, want %d", len(keys), want)
	}
	for _, h := range f.take() {
		if q := h.url.Query(); q.Get("sha") != "" && !q.Has("until") && !q.Has("after") && !q.Has("page") {
			t.Errorf("a first commits request without until: %s", h.url)
		}
	}
	var c cursor
	json.Unmarshal(cur, &c)
	if c.State["acme/app"].Default != "main" || c.State["acme/app@release"].Mark == 0 {
		t.Errorf("state %+v", c.State)
	}
	f.clock.Add(time.Hour)
	added := sandbox.Get[*sbgithub.API](f.sb).AddCommits(3)
	keys, _ = read(t, f.stream(Commits), cur, f.clock.Now())
	if len(keys) != 3 {
		t.Errorf("incremental: %v, want %v", keys, added)
	}
}

func TestRecordsAreEnvelopes(t *testing.T) {
	f := newFixture(t, sbgithub.Options{}, Config{Repos: []string{"acme/api"}}, nil)
	recs, _, err := source.ReadAll(t.Context(), f.stream(Commits), source.PageRequest{SyncStart: f.clock.Now()}, fastReader)
	if err != nil || len(recs) == 0 {
		t.Fatal(err)
	}
	for _, r := range recs {
		var env struct {
			Repository string `json:"repository"`
			Branch     string `json:"branch"`
			Headline   string `json:"message_headline"`
			Item       struct {
				Commit struct{ Message string }
			} `json:"item"`
		}
		json.Unmarshal(r, &env)
		if env.Repository != "acme/api" || env.Branch != "main" || strings.Contains(env.Headline, "\n") || !strings.HasPrefix(env.Item.Commit.Message, env.Headline) {
			t.Fatalf("envelope %s", r)
		}
	}
	recs, _, _ = source.ReadAll(t.Context(), f.stream(Issues), source.PageRequest{SyncStart: f.clock.Now()}, fastReader)
	for _, r := range recs {
		if strings.Contains(string(r), `"pull_request":`) {
			t.Fatalf("a pull request among issues: %.200s", r)
		}
	}
}

// stub answers every request with the given status, headers and body.
func stub(t *testing.T, status int, headers map[string]string, body string) (*Source, *int) {
	t.Helper()
	n := new(int)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*n++
		for k, v := range headers {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		fmt.Fprint(w, strings.ReplaceAll(body, "$AUTH", r.Header.Get("Authorization")))
	}))
	t.Cleanup(ts.Close)
	src, err := New(Config{BaseURL: ts.URL, Token: secret.Value(tokenText), Repos: []string{"acme/app"}}, &Options{RequestsPerSecond: -1, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	return src, n
}

const tokenText = "ghp_SECRETSECRETSECRETSECRET"

func pageErr(t *testing.T, src *Source, stream string) error {
	t.Helper()
	s, _ := source.Lookup(src, stream)
	_, err := s.NextPage(t.Context(), source.PageRequest{SyncStart: t0})
	if err != nil && strings.Contains(fmt.Sprintf("%v %+v %#v", err, err, err), tokenText) {
		t.Errorf("the error shows the token: %v", err)
	}
	return err
}

func TestErrorKinds(t *testing.T) {
	reset := fmt.Sprint(t0.Add(30 * time.Second).Unix())
	later := fmt.Sprint(t0.Add(50 * time.Minute).Unix())
	limitHeaders := func(remaining, reset string, extra ...string) map[string]string {
		h := map[string]string{"X-Ratelimit-Limit": "5000", "X-Ratelimit-Remaining": remaining, "X-Ratelimit-Reset": reset, "X-Ratelimit-Resource": "core"}
		for i := 0; i+1 < len(extra); i += 2 {
			h[extra[i]] = extra[i+1]
		}
		return h
	}
	body := func(msg string) string {
		return `{"message":"` + msg + `","documentation_url":"https://docs.github.com/rest","status":"403"}`
	}
	for _, c := range []struct {
		name    string
		status  int
		headers map[string]string
		body    string
		kind    errs.Kind
		wait    time.Duration
		until   time.Time
		mention []string
	}{
		{"primary 403, reset soon", 403, limitHeaders("0", reset), body("API rate limit exceeded for user ID 1."), errs.RateLimited, 31 * time.Second, time.Time{}, nil},
		{"primary 429, reset in 50 min", 429, limitHeaders("0", later), body("API rate limit exceeded for user ID 1."), errs.Quota, 50*time.Minute + time.Second, t0.Add(50*time.Minute + time.Second), []string{"primary"}},
		{"secondary with retry-after", 429, limitHeaders("4000", later, "Retry-After", "7"), body(sbgithub.SecondaryMessage), errs.RateLimited, 7 * time.Second, time.Time{}, nil},
		{"secondary without retry-after", 403, limitHeaders("4000", later), body(sbgithub.SecondaryMessage), errs.RateLimited, time.Minute, time.Time{}, []string{"secondary"}},
		{"permission", 403, limitHeaders("4000", later, "X-Accepted-GitHub-Permissions", "issues=read"), body(sbgithub.ForbiddenMessage), errs.Permission, 0, time.Time{},
			[]string{TokenEnv, "acme/app", "issues=read", sbgithub.ForbiddenMessage}},
		{"bad credentials echoing the token", 401, nil, `{"message":"Bad credentials: $AUTH"}`, errs.Permission, 0, time.Time{}, []string{TokenEnv, secret.Redacted}},
		{"invisible repository", 404, nil, `{"message":"Not Found"}`, errs.NotFound, 0, time.Time{}, []string{"acme/app", ReposEnv, TokenEnv}},
		{"validation", 422, nil, `{"message":"Validation Failed","errors":[{"field":"since","code":"invalid"}]}`, errs.Invalid, 0, time.Time{}, []string{"since invalid"}},
		{"proxy", 502, nil, "<html>bad gateway</html>", errs.Transient, 0, time.Time{}, []string{"Bad Gateway"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			src, n := stub(t, c.status, c.headers, c.body)
			err := pageErr(t, src, Issues)
			e, _ := errs.As(err)
			if errs.KindOf(err) != c.kind || e == nil || e.RetryAfter != c.wait || !e.Until.Equal(c.until) || *n != 1 {
				t.Fatalf("%v: kind %v, wait %v, until %v after %d requests; want %v, %v, %v", err, errs.KindOf(err), e.RetryAfter, e.Until, *n, c.kind, c.wait, c.until)
			}
			for _, m := range c.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("%v does not mention %q", err, m)
				}
			}
		})
	}
}

// Secondary limits without retry-after wait a minute, then longer while they
// repeat; a success resets the count.
func TestSecondaryBackoffGrows(t *testing.T) {
	var fail sync.Map
	fail.Store("on", true)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if on, _ := fail.Load("on"); on.(bool) {
			w.Header().Set("X-Ratelimit-Remaining", "100")
			w.WriteHeader(403)
			fmt.Fprint(w, `{"message":"`+sbgithub.SecondaryMessage+`"}`)
			return
		}
		fmt.Fprint(w, `{"resources":{}}`)
	}))
	defer ts.Close()
	src, _ := New(Config{BaseURL: ts.URL, Token: "ghp_x", Repos: []string{"acme/app"}}, &Options{RequestsPerSecond: -1})
	var waits []time.Duration
	for range 3 {
		e, _ := errs.As(src.Check(t.Context()))
		waits = append(waits, e.RetryAfter)
	}
	fail.Store("on", false)
	if err := src.Check(t.Context()); err != nil {
		t.Fatal(err)
	}
	fail.Store("on", true)
	e, _ := errs.As(src.Check(t.Context()))
	waits = append(waits, e.RetryAfter)
	if want := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, time.Minute}; !slices.Equal(waits, want) {
		t.Errorf("waits %v, want %v", waits, want)
	}
}

// The sandbox's own limits and permissions reach the connector as the right kinds.
func TestSandboxLimitsAndPermissions(t *testing.T) {
	t.Run("primary spent", func(t *testing.T) {
		f := newFixture(t, sbgithub.Options{}, Config{}, nil)
		sandbox.Get[*sbgithub.API](f.sb).ExhaustPrimary()
		e, _ := errs.As(pageErr(t, f.src, PullRequests))
		if e == nil || e.Kind != errs.Quota || e.Until.Before(time.Now().Add(50*time.Minute)) {
			t.Errorf("%v, want a quota until the hour's reset", e)
		}
	})
	t.Run("secondary", func(t *testing.T) {
		f := newFixture(t, sbgithub.Options{SecondaryPerMinute: 1}, Config{}, nil)
		pageErr(t, f.src, Repositories)
		e, _ := errs.As(pageErr(t, f.src, Repositories))
		if e == nil || e.Kind != errs.RateLimited || e.RetryAfter < time.Minute {
			t.Errorf("%v, want rate limited for at least a minute", e)
		}
	})
	t.Run("forbidden", func(t *testing.T) {
		f := newFixture(t, sbgithub.Options{Forbidden: []string{"acme/app/pulls"}}, Config{}, nil)
		err := pageErr(t, f.src, PullRequests)
		if !errs.Is(err, errs.Permission) || !strings.Contains(err.Error(), "pull_requests=read") || !strings.Contains(err.Error(), TokenEnv) {
			t.Errorf("%v, want permission naming %s and pull_requests=read", err, TokenEnv)
		}
		if n := len(f.take()); n != 1 {
			t.Errorf("%d requests", n)
		}
	})
	t.Run("invisible repository", func(t *testing.T) {
		f := newFixture(t, sbgithub.Options{}, Config{Repos: []string{"acme/secret"}}, nil)
		if err := pageErr(t, f.src, Issues); !errs.Is(err, errs.NotFound) || !strings.Contains(err.Error(), "acme/secret") {
			t.Errorf("%v", err)
		}
	})
}

func TestRefusesLinksElsewhere(t *testing.T) {
	other := 0
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { other++ }))
	defer evil.Close()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", `<`+evil.URL+`/repos/acme/app/pulls?page=2>; rel="next"`)
		fmt.Fprint(w, `[]`)
	}))
	defer ts.Close()
	src, _ := New(Config{BaseURL: ts.URL + "/api/v3", Token: "ghp_x", Repos: []string{"acme/app"}}, &Options{RequestsPerSecond: -1})
	s, _ := source.Lookup(src, PullRequests)
	_, err := s.NextPage(t.Context(), source.PageRequest{SyncStart: t0})
	if err == nil || !strings.Contains(err.Error(), "refusing") || other != 0 {
		t.Errorf("%v; %d requests elsewhere", err, other)
	}
}

func TestCursor(t *testing.T) {
	s := newFixture(t, sbgithub.Options{}, Config{}, nil).stream(Issues)
	for _, bad := range []string{`{"v":2}`, `[1]`} {
		if _, err := s.NextPage(t.Context(), source.PageRequest{Cursor: json.RawMessage(bad)}); !errs.Is(err, errs.Invalid) {
			t.Errorf("cursor %s: %v", bad, err)
		}
	}
	// A repository dropped from the configuration is forgotten at the end of a pass.
	f := newFixture(t, sbgithub.Options{}, Config{}, nil)
	_, cur := read(t, f.stream(Repositories), nil, f.clock.Now())
	f2 := newFixture(t, sbgithub.Options{}, Config{Repos: []string{"acme/api"}}, nil)
	_, cur = read(t, f2.stream(Repositories), cur, f.clock.Now())
	var c cursor
	json.Unmarshal(cur, &c)
	if c.V != 1 || len(c.State) != 1 || c.State["acme/api"] == nil {
		t.Errorf("cursor %s", cur)
	}
}

func TestSourceNeverPrintsTheToken(t *testing.T) {
	src, _ := New(Config{Token: tokenText, Repos: []string{"a/b"}}, nil)
	for _, text := range []string{fmt.Sprintf("%v", src), fmt.Sprintf("%+v", src), fmt.Sprintf("%#v", src)} {
		if strings.Contains(text, tokenText) {
			t.Fatalf("the token prints: %s", text)
		}
	}
}

func TestSpecsAreSnakeCase(t *testing.T) {
	src, _ := New(Config{Token: "ghp_x", Repos: []string{"a/b"}}, nil)
	var names []string
	for _, s := range src.Streams() {
		names = append(names, s.Spec().Name)
		for _, f := range s.Spec().Fields {
			if f.Name != strings.ToLower(f.Name) || strings.ContainsAny(f.Name, " -.") {
				t.Errorf("%s.%s", s.Spec().Name, f.Name)
			}
		}
	}
	if !slices.Equal(names, []string{Repositories, Issues, PullRequests, PullRequestReviews, Commits, Organizations}) {
		t.Errorf("streams %v", names)
	}
	if src.Name() != "github" {
		t.Error(src.Name())
	}
}
