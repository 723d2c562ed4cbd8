package github

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshflow/meshflow/dev/sandbox"
	sbgithub "github.com/meshflow/meshflow/dev/sandbox/github"
	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/secret"
	"github.com/meshflow/meshflow/framework/source"
)

// orgRec is an organizations record's envelope.
type orgRec struct {
	Repository string `json:"repository"`
	Relation   string `json:"relation"`
	Item       struct {
		ID    int64  `json:"id"`
		Login string `json:"login"`
	} `json:"item"`
}

// pass is one read of the organizations stream to its end.
type pass struct {
	recs    []orgRec
	cursors []json.RawMessage // after each page
	before  []int             // records before each page
	pages   int
}

func (p pass) last() json.RawMessage { return p.cursors[len(p.cursors)-1] }

func (p pass) ids() []string {
	var out []string
	for _, r := range p.recs {
		out = append(out, strconv.FormatInt(r.Item.ID, 10))
	}
	slices.Sort(out)
	return out
}

// readPass reads a whole pass from cursor, failing on an organisation returned twice.
func readPass(t *testing.T, s source.Stream, cursor json.RawMessage, syncStart time.Time) pass {
	t.Helper()
	var p pass
	seen := map[int64]bool{}
	_, err := source.NewReader(s, fastReader).Read(t.Context(), source.PageRequest{Cursor: cursor, SyncStart: syncStart}, func(pg source.Page) error {
		p.pages++
		p.cursors = append(p.cursors, pg.Next)
		p.before = append(p.before, len(p.recs))
		for _, raw := range pg.Records {
			var r orgRec
			if err := json.Unmarshal(raw, &r); err != nil || r.Item.ID == 0 {
				t.Fatalf("record %s: %v", raw, err)
			}
			if seen[r.Item.ID] {
				t.Fatalf("organisation %d (%s) returned twice in one pass", r.Item.ID, r.Item.Login)
			}
			seen[r.Item.ID] = true
			p.recs = append(p.recs, r)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("read organizations: %v", err)
	}
	return p
}

// forkOwner is one fork's owner as the sandbox lists it.
type forkOwner struct{ repo, login, typ string }

// forkOwners lists the forks of every configured repository straight from the
// sandbox, in the connector's order, and forgets the requests.
func (f *fixture) forkOwners(t *testing.T) []forkOwner {
	t.Helper()
	var out []forkOwner
	for _, repo := range f.src.repos {
		req, _ := http.NewRequest("GET", sbgithub.URL(f.ts.URL)+"/repos/"+repo+"/forks?sort=oldest&per_page=100", nil)
		req.Header.Set("Authorization", "Bearer "+sbgithub.DefaultToken)
		req.Header.Set("User-Agent", "test")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var forks []struct {
			Owner struct{ Login, Type string }
		}
		err = json.NewDecoder(res.Body).Decode(&forks)
		res.Body.Close()
		if err != nil || res.Header.Get("Link") != "" {
			t.Fatalf("forks of %s: %v, Link %q (want one page)", repo, err, res.Header.Get("Link"))
		}
		for _, x := range forks {
			out = append(out, forkOwner{repo, x.Owner.Login, x.Owner.Type})
		}
	}
	f.take()
	return out
}

// orgHits are the GET /orgs/{login} requests among hits, by lower-cased login.
func orgHits(hits []hit) map[string][]hit {
	out := map[string][]hit{}
	for _, h := range hits {
		if login, ok := strings.CutPrefix(h.url.Path, sbgithub.Path+"/orgs/"); ok {
			out[strings.ToLower(login)] = append(out[strings.ToLower(login)], h)
		}
	}
	return out
}

// A pass reads the owner, then every organisation owning a fork, once each
// however many repositories it forked, and nothing of users; one request per page.
func TestOrganizationsDiscovery(t *testing.T) {
	f := newFixture(t, sbgithub.Options{Orgs: 12, UserForks: 6}, Config{PageSize: 5}, nil)
	owners := f.forkOwners(t)
	p := readPass(t, f.stream(Organizations), nil, f.clock.Now())
	hits := f.take()

	// What the sandbox says a pass must find: the first repository each
	// organisation was seen through, in order.
	firstSeen := map[string]string{"acme": "acme/app"}
	forked := map[string]int{}
	var users []string
	for _, o := range owners {
		if o.typ == "User" {
			users = append(users, strings.ToLower(o.login))
			continue
		}
		forked[o.login]++
		if firstSeen[strings.ToLower(o.login)] == "" {
			firstSeen[strings.ToLower(o.login)] = o.repo
		}
	}
	several := 0
	for _, n := range forked {
		if n > 1 {
			several++
		}
	}
	if len(users) == 0 || several == 0 {
		t.Fatalf("the sandbox has %d user forks and %d organisations forking several repositories: the test needs both", len(users), several)
	}

	var want []string
	for _, m := range sandbox.Get[*sbgithub.API](f.sb).OrgMatches() {
		want = append(want, m.ID)
	}
	slices.Sort(want)
	if got := p.ids(); !slices.Equal(got, want) || len(got) != sandbox.Get[*sbgithub.API](f.sb).Count(Organizations) || len(got) != len(firstSeen) {
		t.Fatalf("ids %v, want the %d the sandbox holds %v", got, len(firstSeen), want)
	}
	for i, r := range p.recs {
		wantRel := "fork"
		if i == 0 {
			wantRel = "owner"
		}
		if r.Repository != firstSeen[strings.ToLower(r.Item.Login)] || r.Relation != wantRel || (r.Relation == "owner") != (r.Item.Login == "acme") {
			t.Errorf("record %d: %s found through %s as %s; want %s as %s", i, r.Item.Login, r.Repository, r.Relation, firstSeen[strings.ToLower(r.Item.Login)], wantRel)
		}
	}

	if len(hits) != p.pages {
		t.Errorf("%d requests for %d pages: NextPage sends one request", len(hits), p.pages)
	}
	reads := orgHits(hits)
	for login, hs := range reads {
		if len(hs) != 1 {
			t.Errorf("/orgs/%s requested %d times in one pass", login, len(hs))
		}
	}
	if len(reads) != len(firstSeen) {
		t.Errorf("%d organisations read, want %d", len(reads), len(firstSeen))
	}
	for _, u := range users {
		if reads[u] != nil {
			t.Errorf("user %s was looked up as an organisation", u)
		}
	}
	lists := 0
	for _, h := range hits {
		if !strings.HasSuffix(h.url.Path, "/forks") {
			continue
		}
		lists++
		if q := h.url.Query(); q.Get("sort") != "oldest" || q.Get("per_page") != "5" {
			t.Errorf("forks request %s", h.url)
		}
		if strings.HasPrefix(h.url.Path, sbgithub.Path+"/repos/") == h.url.Query().Has("page") {
			t.Errorf("a first forks request with a page, or a next one not from the Link: %s", h.url)
		}
	}
	if lists <= 3 {
		t.Errorf("%d forks requests: at page size 5 some list should take several pages", lists)
	}
}

// An unchanged organisation costs a free 304 and lands nothing; a changed one is
// read again on the next pass, as found the first time, and not after.
func TestOrganizationsIncremental(t *testing.T) {
	f := newFixture(t, sbgithub.Options{Orgs: 10, UserForks: 4, RateLimit: 5000}, Config{PageSize: 20}, nil)
	s := f.stream(Organizations)
	full := readPass(t, s, nil, f.clock.Now())
	f.take()
	used := sandbox.Get[*sbgithub.API](f.sb).Used()
	quiet := readPass(t, s, full.last(), f.clock.Add(time.Minute))
	hits := f.take()
	if len(quiet.recs) != 0 {
		t.Errorf("a quiet pass landed %d organisations", len(quiet.recs))
	}
	reads := orgHits(hits)
	for login, hs := range reads {
		if hs[0].status != 304 || !hs[0].etag {
			t.Errorf("/orgs/%s: %d (If-None-Match sent: %v), want a 304", login, hs[0].status, hs[0].etag)
		}
	}
	if lists := len(hits) - len(reads); len(reads) != len(full.recs) || sandbox.Get[*sbgithub.API](f.sb).Used() != used+lists {
		t.Errorf("%d organisations asked of %d; primary use %d → %d for %d forks lists (the 304s are free)", len(reads), len(full.recs), used, sandbox.Get[*sbgithub.API](f.sb).Used(), lists)
	}

	f.clock.Add(time.Hour)
	changed := sandbox.Get[*sbgithub.API](f.sb).UpdateOrgs(3)
	slices.Sort(changed)
	after := readPass(t, s, quiet.last(), f.clock.Now())
	if got := after.ids(); !slices.Equal(got, changed) {
		t.Errorf("after UpdateOrgs: %v, want %v", got, changed)
	}
	firstTime := map[int64]orgRec{}
	for _, r := range full.recs {
		firstTime[r.Item.ID] = r
	}
	for _, r := range after.recs {
		if was := firstTime[r.Item.ID]; r.Repository != was.Repository || r.Relation != was.Relation {
			t.Errorf("%s: found through %s as %s, first time %s as %s", r.Item.Login, r.Repository, r.Relation, was.Repository, was.Relation)
		}
	}
	if again := readPass(t, s, after.last(), f.clock.Add(time.Minute)); len(again.recs) != 0 {
		t.Errorf("the changed organisations came back: %v", again.ids())
	}
}

// Resuming from the cursor after any page of a pass, first or incremental,
// returns exactly what the rest of that pass would have.
func TestOrganizationsResumeFromEveryCursor(t *testing.T) {
	f := newFixture(t, sbgithub.Options{Orgs: 8, UserForks: 4}, Config{PageSize: 4}, nil)
	s := f.stream(Organizations)
	check := func(name string, start json.RawMessage, at time.Time) pass {
		t.Helper()
		whole := readPass(t, s, start, at)
		for i, cur := range whole.cursors[:len(whole.cursors)-1] {
			head := whole.recs[:whole.before[i+1]] // the records of pages 0..i
			rest := readPass(t, s, cur, at)
			got := rest.ids()
			for _, r := range head {
				got = append(got, strconv.FormatInt(r.Item.ID, 10))
			}
			slices.Sort(got)
			if !slices.Equal(got, whole.ids()) || len(head)+len(rest.recs) != len(whole.recs) {
				t.Fatalf("%s: resumed after page %d of %d: %v, want %v", name, i+1, whole.pages, got, whole.ids())
			}
		}
		return whole
	}
	full := check("first pass", nil, f.clock.Now())
	if full.pages < 8 {
		t.Fatalf("only %d pages", full.pages)
	}
	f.clock.Add(time.Hour)
	sandbox.Get[*sbgithub.API](f.sb).UpdateOrgs(3)
	if inc := check("incremental pass", full.last(), f.clock.Now()); len(inc.recs) != 3 {
		t.Errorf("incremental pass: %d organisations, want 3", len(inc.recs))
	}
	f.take()
}

// The cursor keeps one entry per organisation the pass discovered, under a key
// no repository can have, and forgets the others at the end of a pass.
func TestOrganizationsState(t *testing.T) {
	f := newFixture(t, sbgithub.Options{Orgs: 10, UserForks: 4}, Config{}, nil)
	owners := f.forkOwners(t)
	full := readPass(t, f.stream(Organizations), nil, f.clock.Now())
	var c cursor
	json.Unmarshal(full.last(), &c)
	if len(c.State) != len(full.recs) || c.Repo != "" || len(c.Orgs) != 0 {
		t.Fatalf("%d state entries for %d organisations, repo %q, queue %v: %s", len(c.State), len(full.recs), c.Repo, c.Orgs, full.last())
	}
	for _, r := range full.recs {
		ts := c.State[orgKey(r.Item.Login)]
		if ts == nil || ts.ETag == "" || ts.Pass != c.Pass || c.Pass != 1 {
			t.Errorf("%s: state %+v in pass %d", r.Item.Login, ts, c.Pass)
		}
	}

	// Read acme/api only, from a cursor that also remembers an organisation that
	// no longer forks anything.
	c.State[orgKey("Ghost-Org")] = &targetState{ETag: `W/"gone"`, Pass: c.Pass}
	cur, _ := json.Marshal(c)
	api, err := New(Config{BaseURL: f.src.baseStr, Token: sbgithub.DefaultToken, Repos: []string{"acme/api"}}, &Options{RequestsPerSecond: -1, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := source.Lookup(api, Organizations)
	p := readPass(t, s, cur, f.clock.Now())
	c = cursor{}
	json.Unmarshal(p.last(), &c)
	want := []string{orgKey("acme")}
	for _, o := range owners {
		if o.repo == "acme/api" && o.typ == "Organization" {
			want = append(want, orgKey(o.login))
		}
	}
	var got []string
	for k := range c.State {
		got = append(got, k)
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) || c.Pass != 2 {
		t.Errorf("after a pass over acme/api (pass %d): state %v, want %v", c.Pass, got, want)
	}
	if len(p.recs) != 0 {
		t.Errorf("the organisations of acme/api were unchanged, yet %d landed", len(p.recs))
	}

	// Cursors other streams wrote before organizations existed still read.
	old := `{"v":1,"state":{"acme/app":{"mark":1773000000,"etag":"W/\"abc\"","etag_url":"/repos/acme/app"}}}`
	if _, err := f.stream(Repositories).NextPage(t.Context(), source.PageRequest{Cursor: json.RawMessage(old), SyncStart: f.clock.Now()}); err != nil {
		t.Errorf("an old repositories cursor: %v", err)
	}
}

// A repository owner that is a user, and a fork owner gone since the list
// named it, answer 404 and are skipped; user forks are never looked up, whatever
// their login looks like; a fork's organisation that refuses our token (SAML) is
// skipped too, while the owner's refusal and other failures are errors of their kind.
func TestOrganizationsNotFoundAndErrors(t *testing.T) {
	var mu sync.Mutex
	requests := map[string]int{}
	nimbus, owner := 200, 404
	samlRefusal := `{"message":"Resource protected by organization SAML enforcement.","status":"403"}`
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests[r.URL.Path]++
		status, ownerStatus := nimbus, owner
		mu.Unlock()
		switch r.URL.Path {
		case "/repos/jdoe/tools/forks":
			fmt.Fprint(w, `[{"id":1,"owner":{"login":"Nimbus","type":"Organization"}},{"id":2,"owner":{"login":"bob","type":"User"}},{"id":3,"owner":{"login":"gone-org","type":"Organization"}},{"id":4,"owner":{"login":"odd login!","type":"User"}}]`)
		case "/orgs/nimbus", "/orgs/Nimbus":
			w.WriteHeader(status)
			if status == 200 {
				fmt.Fprint(w, `{"login":"nimbus","id":42,"blog":"nimbus-labs.example","updated_at":"2026-03-01T10:00:00Z"}`)
			} else {
				fmt.Fprint(w, samlRefusal)
			}
		case "/orgs/jdoe":
			w.WriteHeader(ownerStatus)
			if ownerStatus == 403 {
				fmt.Fprint(w, samlRefusal)
			} else {
				fmt.Fprint(w, `{"message":"Not Found","documentation_url":"https://docs.github.com/rest","status":"404"}`)
			}
		default:
			w.WriteHeader(404)
			fmt.Fprint(w, `{"message":"Not Found","documentation_url":"https://docs.github.com/rest","status":"404"}`)
		}
	}))
	defer ts.Close()
	src, err := New(Config{BaseURL: ts.URL, Token: secret.Value(tokenText), Repos: []string{"jdoe/tools"}}, &Options{RequestsPerSecond: -1, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := source.Lookup(src, Organizations)
	p := readPass(t, s, nil, t0)
	if len(p.recs) != 1 || p.recs[0].Item.ID != 42 || p.recs[0].Relation != "fork" || p.recs[0].Repository != "jdoe/tools" {
		t.Errorf("records %+v, want nimbus as a fork of jdoe/tools", p.recs)
	}
	want := map[string]int{"/orgs/jdoe": 1, "/repos/jdoe/tools/forks": 1, "/orgs/Nimbus": 1, "/orgs/gone-org": 1}
	mu.Lock()
	if fmt.Sprint(requests) != fmt.Sprint(want) {
		t.Errorf("requests %v, want %v", requests, want)
	}
	mu.Unlock()

	mu.Lock()
	nimbus = 403
	mu.Unlock()
	if recs, _, err := source.ReadAll(t.Context(), s, source.PageRequest{SyncStart: t0}, fastReader); err != nil || len(recs) != 0 {
		t.Errorf("a fork's organisation behind SAML: %d records, %v; want it skipped without an error", len(recs), err)
	}

	for _, c := range []struct {
		nimbus, owner int
		kind          errs.Kind
		says          []string
	}{
		{200, 403, errs.Permission, []string{"organisation jdoe", TokenEnv, "SAML"}},
		{500, 404, errs.Transient, []string{"organisation Nimbus", "500"}},
	} {
		mu.Lock()
		nimbus, owner = c.nimbus, c.owner
		mu.Unlock()
		_, _, err := source.ReadAll(t.Context(), s, source.PageRequest{SyncStart: t0}, fastReader)
		if errs.KindOf(err) != c.kind || strings.Contains(fmt.Sprint(err), tokenText) {
			t.Errorf("nimbus %d, owner %d: %v (kind %v), want %v", c.nimbus, c.owner, err, errs.KindOf(err), c.kind)
		}
		for _, m := range c.says {
			if !strings.Contains(fmt.Sprint(err), m) {
				t.Errorf("nimbus %d, owner %d: %v does not say %q", c.nimbus, c.owner, err, m)
			}
		}
	}
}

// The envelope is the repository, the relation, then the organisation as sent.
func TestOrganizationsEnvelope(t *testing.T) {
	f := newFixture(t, sbgithub.Options{Orgs: 3, UserForks: 1}, Config{Repos: []string{"acme/app"}}, nil)
	recs, _, err := source.ReadAll(t.Context(), f.stream(Organizations), source.PageRequest{SyncStart: f.clock.Now()}, fastReader)
	if err != nil || len(recs) == 0 {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(recs[0]), `{"repository":"acme/app","relation":"owner","item":{`) {
		t.Errorf("envelope %.120s", recs[0])
	}
	var env struct{ Item json.RawMessage }
	json.Unmarshal(recs[0], &env)
	req, _ := http.NewRequest("GET", sbgithub.URL(f.ts.URL)+"/orgs/acme", nil)
	req.Header.Set("Authorization", "Bearer "+sbgithub.DefaultToken)
	req.Header.Set("User-Agent", "test")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	sent, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(env.Item) != string(sent) {
		t.Errorf("the item is not the object as sent:\n%s\n%s", env.Item, sent)
	}
	vals, err := source.Extract(recs[0], f.stream(Organizations).Spec().Fields)
	if err != nil {
		t.Fatal(err)
	}
	spec := f.stream(Organizations).Spec()
	got := map[string]any{}
	for i, fl := range spec.Fields {
		got[fl.Name] = vals[i]
	}
	if got["login"] != "acme" || got["blog"] != "https://www.acme.example" || got["is_verified"] != true || got["relation"] != "owner" ||
		got["id"] == nil || got["public_repos"] == nil || got["updated_at"] == nil {
		t.Errorf("fields %v", got)
	}
}
