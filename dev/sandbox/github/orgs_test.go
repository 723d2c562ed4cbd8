package github

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meshflow/meshflow/dev/sandbox/internal/fake"
)

// forkOwners lists every fork of every repository (sort=oldest, followed by Link)
// and returns the owners by login with their type, and how many repositories each
// forked.
func forkOwners(t *testing.T, a *API, ts *httptest.Server) (types map[string]string, forked map[string]int) {
	t.Helper()
	types, forked = map[string]string{}, map[string]int{}
	for _, full := range a.Repos() {
		items, _ := all(t, ts, "/repos/"+full+"/forks?sort=oldest&per_page=7")
		for _, it := range items {
			o := it["owner"].(map[string]any)
			login := o["login"].(string)
			types[login] = o["type"].(string)
			forked[login]++
		}
	}
	return types, forked
}

func TestOrganization(t *testing.T) {
	a, ts, _ := newTestAPI(t, Options{})
	r := call(t, ts, "/orgs/acme")
	var org map[string]any
	if err := json.Unmarshal(r.body, &org); err != nil || r.status != 200 {
		t.Fatalf("/orgs/acme: %d %s", r.status, r.body)
	}
	for _, k := range []string{"login", "id", "node_id", "url", "repos_url", "avatar_url", "description", "name", "company", "blog",
		"location", "email", "twitter_username", "is_verified", "has_organization_projects", "public_repos", "followers",
		"following", "html_url", "created_at", "updated_at", "type"} {
		if _, ok := org[k]; !ok {
			t.Errorf("the organisation has no %q: %s", k, r.body)
		}
	}
	if org["login"] != "acme" || org["type"] != "Organization" || org["blog"] != "https://www.acme.example" || org["id"] != float64(ownerID) ||
		!strings.HasSuffix(org["repos_url"].(string), "/orgs/acme/repos") {
		t.Errorf("owner: %s", r.body)
	}
	var repo map[string]any
	json.Unmarshal(call(t, ts, "/repos/acme/app").body, &repo)
	if owner := repo["owner"].(map[string]any); owner["id"] != org["id"] {
		t.Errorf("the repository's owner %v is not the organisation %v", owner["id"], org["id"])
	}
	if r := call(t, ts, "/orgs/ACME"); r.status != 200 {
		t.Errorf("logins are case-insensitive: %d", r.status)
	}

	// A 304 for an unchanged organisation; a user's login and an unknown one are 404s.
	if r2 := call(t, ts, "/orgs/acme", "If-None-Match", r.header.Get("ETag")); r2.status != 304 || len(r2.body) != 0 {
		t.Errorf("If-None-Match: %d %s", r2.status, r2.body)
	}
	types, _ := forkOwners(t, a, ts)
	var user string
	for login, typ := range types {
		if typ == "User" {
			user = login
		}
	}
	member := a.w.repos[0].members[0].login
	for _, login := range []string{user, member, "no-such-org"} {
		r := call(t, ts, "/orgs/"+login)
		var e map[string]string
		json.Unmarshal(r.body, &e)
		if r.status != 404 || e["message"] != "Not Found" || e["status"] != "404" || e["documentation_url"] != docOrg {
			t.Errorf("/orgs/%s: %d %s, want GitHub's 404", login, r.status, r.body)
		}
	}
	if user == "" {
		t.Error("no user-owned fork")
	}
}

func TestForks(t *testing.T) {
	a, ts, _ := newTestAPI(t, Options{Orgs: 40, UserForks: 12})
	types, forked := forkOwners(t, a, ts)
	users, twice := 0, 0
	for login, typ := range types {
		r := call(t, ts, "/orgs/"+login)
		switch {
		case typ == "User":
			users++
			if r.status != 404 {
				t.Errorf("user %s: /orgs answers %d", login, r.status)
			}
		case typ != "Organization" || r.status != 200:
			t.Errorf("%s: type %q, /orgs answers %d", login, typ, r.status)
		case forked[login] > 3:
			t.Errorf("organisation %s forks %d repositories", login, forked[login])
		case forked[login] > 1:
			twice++
		}
	}
	if orgs := len(types) - users; orgs != 40 || users != 12 || twice == 0 {
		t.Errorf("%d forking organisations (want 40), %d forking users (want 12), %d organisations fork several repositories (want some)", orgs, users, twice)
	}
	if got := a.Count("organizations"); got != 41 {
		t.Errorf("Count = %d, want the owner and the 40", got)
	}

	// Orders: newest by default; oldest; by stargazers and watchers, most first.
	stamp := func(it map[string]any) string { return it["created_at"].(string) }
	oldest, urls := all(t, ts, "/repos/acme/api/forks?sort=oldest&per_page=5")
	newest, _ := all(t, ts, "/repos/acme/api/forks?per_page=100")
	if len(oldest) < 6 || len(urls) < 2 || len(newest) != len(oldest) {
		t.Fatalf("%d forks in %d pages (oldest), %d newest first", len(oldest), len(urls), len(newest))
	}
	for i := 1; i < len(oldest); i++ {
		if stamp(oldest[i]) < stamp(oldest[i-1]) || stamp(newest[i]) > stamp(newest[i-1]) {
			t.Fatalf("out of order at %d: oldest %s after %s, newest %s after %s", i, stamp(oldest[i]), stamp(oldest[i-1]), stamp(newest[i]), stamp(newest[i-1]))
		}
	}
	for _, by := range []string{"stargazers", "watchers"} {
		items, _ := all(t, ts, "/repos/acme/api/forks?per_page=100&sort="+by)
		for i := 1; i < len(items); i++ {
			if items[i][by+"_count"].(float64) > items[i-1][by+"_count"].(float64) {
				t.Errorf("sort=%s out of order", by)
			}
		}
	}
	if !strings.Contains(urls[1], "/repositories/700000138/forks?") {
		t.Errorf("links name /repositories/{id}: %v", urls)
	}
	for _, f := range oldest {
		owner := f["owner"].(map[string]any)["login"].(string)
		if f["fork"] != true || f["full_name"] != owner+"/api" || f["name"] != "api" {
			t.Errorf("fork %v %v %v", f["fork"], f["full_name"], f["name"])
		}
	}
	if r := call(t, ts, "/repos/acme/api/forks?sort=forks"); r.status != 422 {
		t.Errorf("sort=forks: %d, want 422", r.status)
	}
	if r := call(t, ts, "/repos/acme/nope/forks"); r.status != 404 {
		t.Errorf("forks of no repository: %d", r.status)
	}

	big, ts2, _ := newTestAPI(t, Options{Orgs: 200})
	if got := len(call(t, ts2, "/repos/acme/app/forks?per_page=500").items(t)); got != 100 || len(big.w.repos[0].forks) <= 100 {
		t.Errorf("per_page=500: %d items of %d, want the maximum 100", got, len(big.w.repos[0].forks))
	}
}

func TestOrgsDeriveFromCompanies(t *testing.T) {
	companies := fake.Numbered(200)
	a, ts, _ := newTestAPI(t, Options{Companies: companies})
	known := map[string]bool{}
	for _, c := range companies {
		known[c.Domain] = true
	}
	matches := a.OrgMatches()
	if len(matches) != 61 || a.Count("organizations") != 61 {
		t.Fatalf("%d matches, count %d; want the owner and 60 organisations", len(matches), a.Count("organizations"))
	}
	served := map[string]map[string]any{} // by id
	types, _ := forkOwners(t, a, ts)
	types["acme"] = "Organization"
	for login, typ := range types {
		if typ == "Organization" {
			var org map[string]any
			json.Unmarshal(call(t, ts, "/orgs/"+login).body, &org)
			served[strconv.FormatInt(int64(org["id"].(float64)), 10)] = org
		}
	}
	variants := map[string]int{}
	matched, unset := 0, 0
	for i, m := range matches {
		if i > 0 && len(m.ID) == len(matches[i-1].ID) && m.ID < matches[i-1].ID {
			t.Errorf("matches are not in id order: %s after %s", m.ID, matches[i-1].ID)
		}
		org := served[m.ID]
		name, _ := org["name"].(string)
		if org == nil || org["blog"] != m.Domain || name != m.Name {
			t.Errorf("match %+v: served blog %q, name %v", m, org["blog"], org["name"])
		}
		variants[m.Variant]++
		switch {
		case m.Company != "":
			matched++
			if !known[m.Company] || fake.CanonicalDomain(m.Domain) != m.Company || (m.Variant == fake.VariantExact) != (m.Domain == m.Company) {
				t.Errorf("derived %+v", m)
			}
		case m.Domain == "":
			unset++
		case known[fake.CanonicalDomain(m.Domain)] || m.Variant != fake.VariantUnmatched:
			t.Errorf("stranger %+v collides with a company", m)
		}
	}
	if matched != 42 || unset != 6 { // 0.7 and 0.1 of 60
		t.Errorf("%d derived (want 42), %d without a blog (want 6)", matched, unset)
	}
	for _, v := range []string{fake.VariantExact, fake.VariantWWW, fake.VariantURL, fake.VariantCase, fake.VariantUnmatched} {
		if variants[v] == 0 {
			t.Errorf("no organisation spells its domain %s: %v", v, variants)
		}
	}
	if matches[0].ID != strconv.Itoa(ownerID) || matches[0].Company != "" || fake.CanonicalDomain(matches[0].Domain) != ownerDomain {
		t.Errorf("owner %+v", matches[0])
	}

	// Without companies every organisation is a stranger.
	b, _, _ := newTestAPI(t, Options{})
	for _, m := range b.OrgMatches() {
		if m.Company != "" {
			t.Errorf("no companies, yet %+v derives from one", m)
		}
	}
	if !panics(func() { New(Options{MatchedShare: 1.5}) }) {
		t.Error("a matched share above 1 was accepted")
	}
}

func panics(f func()) (p bool) {
	defer func() { p = recover() != nil }()
	f()
	return false
}

// Same seed, same organisations and forks; another seed, others. Every timestamp
// lies before today.
func TestOrgsDeterministic(t *testing.T) {
	companies := []fake.Company{{Name: "Nimbus Labs", Domain: "nimbus-labs.example"}, {Name: "Quartz Media", Domain: "quartz-media.example"}}
	a, ts, _ := newTestAPI(t, Options{Seed: 4, Companies: companies})
	b, ts2, _ := newTestAPI(t, Options{Seed: 4, Companies: companies})
	c, _, _ := newTestAPI(t, Options{Seed: 5, Companies: companies})
	if fmt.Sprint(a.OrgMatches()) != fmt.Sprint(b.OrgMatches()) || fmt.Sprint(a.OrgMatches()) == fmt.Sprint(c.OrgMatches()) {
		t.Error("organisations do not follow the seed")
	}
	anchor := t0.Truncate(24 * time.Hour)
	stamp := regexp.MustCompile(`"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)"`)
	for _, full := range a.Repos() {
		p := "/repos/" + full + "/forks?per_page=100"
		x, y := call(t, ts, p), call(t, ts2, p)
		if strings.ReplaceAll(string(x.body), ts.URL, "") != strings.ReplaceAll(string(y.body), ts2.URL, "") {
			t.Errorf("%s: same seed, different forks", full)
		}
		for _, f := range x.items(t) {
			login := f["owner"].(map[string]any)["login"].(string)
			o := call(t, ts, "/orgs/"+login)
			for _, m := range stamp.FindAllStringSubmatch(string(x.body)+string(o.body), -1) {
				if at, _ := time.Parse(time.RFC3339, m[1]); !at.Before(anchor) {
					t.Fatalf("%s: timestamp %s is not before today", login, m[1])
				}
			}
		}
	}
}

func TestUpdateOrgs(t *testing.T) {
	a, ts, clock := newTestAPI(t, Options{Orgs: 10})
	logins := map[string]string{} // id → login
	types, _ := forkOwners(t, a, ts)
	types["acme"] = "Organization"
	etags := map[string]string{}
	for login, typ := range types {
		if typ != "Organization" {
			continue
		}
		r := call(t, ts, "/orgs/"+login)
		var org struct{ ID int64 }
		json.Unmarshal(r.body, &org)
		id := strconv.FormatInt(org.ID, 10)
		logins[id], etags[id] = login, r.header.Get("ETag")
	}
	now := t0.Add(2 * time.Hour)
	clock.Set(now)
	changed := a.UpdateOrgs(3)
	if len(changed) != 3 || a.Count("organizations") != 11 {
		t.Fatalf("UpdateOrgs: %v, count %d", changed, a.Count("organizations"))
	}
	for id, login := range logins {
		r := call(t, ts, "/orgs/"+login, "If-None-Match", etags[id])
		want := 304
		if slices.Contains(changed, id) {
			want = 200
			if !strings.Contains(string(r.body), `"updated_at":"`+now.Format(time.RFC3339)+`"`) {
				t.Errorf("%s: updated_at not stamped: %s", login, r.body)
			}
		}
		if r.status != want {
			t.Errorf("%s (id %s): %d after the update, want %d", login, id, r.status, want)
		}
		etags[id] = r.header.Get("ETag")
	}
	for _, id := range a.UpdateOrgs(4) { // the same second again: the bodies still change
		if r := call(t, ts, "/orgs/"+logins[id], "If-None-Match", etags[id]); r.status != 200 {
			t.Errorf("%s: %d after a second edit in the same second, want 200", logins[id], r.status)
		}
	}

	admin := httptest.NewServer(a.Admin())
	defer admin.Close()
	res, err := http.Post(admin.URL+"/update-orgs?n=2", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var keys struct{ Keys []string }
	if json.Unmarshal(body, &keys); res.StatusCode != 200 || len(keys.Keys) != 2 || logins[keys.Keys[0]] == "" {
		t.Errorf("POST /update-orgs: %d %s", res.StatusCode, body)
	}
	res, _ = http.Get(admin.URL + "/org-matches")
	var ms []fake.Match
	json.NewDecoder(res.Body).Decode(&ms)
	res.Body.Close()
	if len(ms) != 11 {
		t.Errorf("GET /org-matches: %d matches", len(ms))
	}
	res, _ = http.Get(admin.URL + "/count?stream=organizations")
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(body), `"count":11`) {
		t.Errorf("count: %s", body)
	}
}
