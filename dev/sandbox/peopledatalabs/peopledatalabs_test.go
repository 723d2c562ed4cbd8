package peopledatalabs

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshflow/meshflow/dev/sandbox/internal/fake"
	"github.com/meshflow/meshflow/framework/source"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock        { return &clock{t: t} }
func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

var t0 = time.Date(2026, 3, 10, 12, 0, 30, 0, time.UTC)

// newTestAPI serves an imitation over 100 numbered companies, limits off unless
// the options set them.
func newTestAPI(t *testing.T, o Options) (*API, *httptest.Server) {
	t.Helper()
	if o.Now == nil {
		o.Now = func() time.Time { return t0 }
	}
	if o.Companies == nil {
		o.Companies = fake.Numbered(100)
	}
	if o.Strangers == 0 {
		o.Strangers = 50
	}
	for _, lim := range []*int{&o.CompanyEnrichPerMinute, &o.PersonEnrichPerMinute, &o.SearchPerMinute} {
		if *lim == 0 {
			*lim = -1
		}
	}
	a := New(o)
	ts := httptest.NewServer(a)
	t.Cleanup(ts.Close)
	return a, ts
}

type answer struct {
	status int
	h      http.Header
	body   []byte
}

func (a answer) header(name string) string { return a.h.Get(name) }

func (a answer) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(a.body, &m); err != nil {
		t.Fatalf("body %s: %v", a.body, err)
	}
	return m
}

func do(t *testing.T, method, u string, body any, key string) answer {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, u, rd)
	if key != "" {
		req.Header.Set("X-Api-Key", key)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, b}
}

func enrich(t *testing.T, ts *httptest.Server, q url.Values) answer {
	t.Helper()
	return do(t, "GET", ts.URL+"/v5/company/enrich?"+q.Encode(), nil, DefaultKey)
}

func search(t *testing.T, ts *httptest.Server, body map[string]any) answer {
	t.Helper()
	return do(t, "POST", ts.URL+"/v5/company/search", body, DefaultKey)
}

func mustError(t *testing.T, a answer, status int, typ, msgPart string) {
	t.Helper()
	var body struct {
		Status int `json:"status"`
		Error  struct {
			Type    []string `json:"type"`
			Message string   `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(a.body, &body); err != nil || a.status != status || body.Status != status ||
		!slices.Equal(body.Error.Type, []string{typ}) || !strings.Contains(body.Error.Message, msgPart) {
		t.Fatalf("want %d %s %q, got %d %s", status, typ, msgPart, a.status, a.body)
	}
}

// Every seeded company answers as the ground truth says, whichever way its
// website is spelled: its record, at its likelihood, for one credit; or 404 for
// nothing.
func TestCompanyEnrichFollowsGroundTruth(t *testing.T) {
	a, ts := newTestAPI(t, Options{AlternativeShare: 0.1})
	counts := map[string]int{}
	spent := 0
	for i, m := range a.Matches() {
		counts[m.Via]++
		spelling := []string{m.Company, "https://www." + m.Company + "/about", "WWW." + strings.ToUpper(m.Company), "http://" + m.Company + ":443"}[i%4]
		got := enrich(t, ts, url.Values{"website": {spelling}})
		if m.Via == ViaNone {
			mustError(t, got, 404, "not_found", "No records were found matching your request")
			if got.header("X-Call-Credits-Spent") != "0" {
				t.Errorf("a 404 spent %q credits", got.header("X-Call-Credits-Spent"))
			}
			continue
		}
		spent++
		body := got.json(t)
		if got.status != 200 || body["status"] != 200.0 || body["id"] != m.ID || body["website"] != m.Website || body["likelihood"] != float64(m.Likelihood) {
			t.Fatalf("%s (%s): %d %.300s; want %+v", m.Company, spelling, got.status, got.body, m)
		}
		if _, wrapped := body["data"]; wrapped {
			t.Fatal("company enrichment must answer flat, not inside data")
		}
		if m.Via == ViaAlternativeDomain && (m.Website == m.Company || !slices.Contains(anyStrings(body["alternative_domains"]), m.Company)) {
			t.Errorf("%s found through an alternative domain, but the record has website %v and alternative_domains %v", m.Company, body["website"], body["alternative_domains"])
		}
		if got.header("X-Call-Credits-Spent") != "1" || got.header("X-Call-Credits-Type") != "enrich_company" {
			t.Errorf("credit headers %v", got.h)
		}
	}
	if counts[ViaWebsite] < 60 || counts[ViaNone] < 10 || counts[ViaAlternativeDomain] < 2 {
		t.Errorf("ground truth shares %v: want most found by website, some not at all, a few through an alternative domain", counts)
	}
	if b := a.Credits(CreditsCompanyEnrich); b.Used != spent || b.Remaining != 100_000-spent {
		t.Errorf("balance %+v after %d matches", b, spent)
	}
}

// sure is the first company PDL finds by its website with a likelihood of 6 or more.
func sure(a *API) Match {
	for _, m := range a.Matches() {
		if m.Via == ViaWebsite && m.Likelihood >= 6 {
			return m
		}
	}
	panic("no sure match in the seed")
}

func anyStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func TestMinLikelihoodTurnsWeakMatchesInto404(t *testing.T) {
	a, ts := newTestAPI(t, Options{})
	weak := 0
	for _, m := range a.Matches() {
		if m.Via == ViaNone {
			continue
		}
		got := enrich(t, ts, url.Values{"website": {m.Company}, "min_likelihood": {"6"}})
		if m.Likelihood < 6 {
			weak++
			mustError(t, got, 404, "not_found", "No records")
		} else if got.status != 200 {
			t.Fatalf("%+v with min_likelihood 6: %d %s", m, got.status, got.body)
		}
	}
	if weak == 0 {
		t.Fatal("the seed has no weak match to test min_likelihood on")
	}
	if got := enrich(t, ts, url.Values{"website": {"x.example"}, "min_likelihood": {"11"}}); got.status != 400 {
		t.Errorf("min_likelihood 11: %d %s", got.status, got.body)
	}
}

func TestCompanyEnrichInputsAndOptions(t *testing.T) {
	a, ts := newTestAPI(t, Options{})
	m := sure(a)
	name := strings.TrimSuffix(m.Company, ".example") // fake.Numbered: company-7.example is "Company 7"
	name = strings.ReplaceAll(name, "-", " ")
	for what, q := range map[string]url.Values{
		"pdl_id":  {"pdl_id": {m.ID}},
		"profile": {"profile": {"https://www.linkedin.com/company/" + strings.TrimSuffix(m.Company, ".example") + "/"}},
		"name":    {"name": {strings.ToUpper(name) + ", Inc."}},
	} {
		got := enrich(t, ts, q)
		if got.status != 200 || got.json(t)["id"] != m.ID {
			t.Errorf("by %s: %d %.200s", what, got.status, got.body)
		}
	}
	if got := enrich(t, ts, url.Values{"name": {name}}); got.json(t)["likelihood"].(float64) >= float64(m.Likelihood) {
		t.Errorf("a name alone is as sure as a website: %s", got.body)
	}
	got := enrich(t, ts, url.Values{"website": {m.Company}, "data_include": {"id,website,employee_count"}, "include_if_matched": {"true"}})
	body := got.json(t)
	if len(body) != 6 || body["matched"] == nil || body["employee_count"] == nil {
		t.Errorf("data_include kept %v", body)
	}
	got = enrich(t, ts, url.Values{"website": {m.Company}, "data_include": {""}})
	if body := got.json(t); len(body) != 2 {
		t.Errorf(`data_include="" kept %v`, body)
	}
	got = enrich(t, ts, url.Values{"website": {m.Company}, "data_include": {"-summary,tags"}})
	if body := got.json(t); body["summary"] != nil || body["tags"] != nil || body["name"] == nil {
		t.Errorf("data_include=-summary,tags kept %v", body)
	}
	mustError(t, enrich(t, ts, url.Values{"website": {m.Company}, "required": {"facebook_url"}}), 404, "not_found", "No records")
	if got := enrich(t, ts, url.Values{"website": {m.Company}, "required": {"facebook_url OR employee_count AND industry"}}); got.status != 200 {
		t.Errorf("required with an OR that holds: %d %s", got.status, got.body)
	}
	mustError(t, enrich(t, ts, url.Values{"website": {m.Company}, "required": {"AND website"}}), 400, "invalid_request_error", "required")
	mustError(t, enrich(t, ts, url.Values{"location": {"berlin"}}), 400, "invalid_request_error", "Does not meet minimum combination of required data points.")
	mustError(t, do(t, "POST", ts.URL+"/v5/company/enrich?website="+m.Company, nil, DefaultKey), 405, "invalid_request_error", "method is not allowed")
	if got := do(t, "GET", ts.URL+"/v5/company/enrich", map[string]any{"website": m.Company}, DefaultKey); got.status != 200 {
		t.Errorf("parameters in a JSON body: %d %s", got.status, got.body)
	}
	if got := enrich(t, ts, url.Values{"website": {m.Company}, "pretty": {"true"}}); !bytes.Contains(got.body, []byte("\n    \"")) {
		t.Errorf("pretty answer is not indented: %.100s", got.body)
	}
}

func TestAuthentication(t *testing.T) {
	a, ts := newTestAPI(t, Options{})
	site := sure(a).Company
	for _, key := range []string{"", "wrong"} {
		got := do(t, "GET", ts.URL+"/v5/company/enrich?website="+site, nil, key)
		mustError(t, got, 401, "authentication_error", "missing or invalid key")
		if got.header("X-Ratelimit-Remaining") != "" {
			t.Error("a refused key is told its rate limit")
		}
	}
	if got := do(t, "GET", ts.URL+"/v5/company/enrich?website="+site+"&api_key="+DefaultKey, nil, ""); got.status == 401 {
		t.Errorf("api_key parameter refused: %s", got.body)
	}
	if a.Credits(CreditsCompanyEnrich).Used > 1 {
		t.Error("refused requests spent credits")
	}
	mustError(t, do(t, "GET", ts.URL+"/v4/company/enrich", nil, DefaultKey), 404, "not_found", "Invalid endpoint")
}

// Each endpoint has its own fixed window per minute; the headers count it down
// and name the next minute; a 429 costs nothing; the next minute admits again.
func TestRateLimitPerEndpointAndMinute(t *testing.T) {
	c := newClock(t0)
	a, ts := newTestAPI(t, Options{CompanyEnrichPerMinute: 2, SearchPerMinute: 1, LimitClock: c.Now})
	site := sure(a).Company
	for i, want := range []string{`{"minute": 1}`, `{"minute": 0}`} {
		got := enrich(t, ts, url.Values{"website": {site}})
		if got.header("X-Ratelimit-Remaining") != want || got.header("X-Ratelimit-Limit") != `{"minute": 2}` || got.header("X-Ratelimit-Reset") != "2026-03-10T12:01:00Z" {
			t.Fatalf("request %d: headers %v", i, got.h)
		}
	}
	got := enrich(t, ts, url.Values{"website": {site}})
	mustError(t, got, 429, "rate_limit_error", "An error occurred due to requests hitting the API too quick")
	if got.header("X-Ratelimit-Remaining") != `{"minute": 0}` || got.header("Retry-After") != "" || got.header("X-Call-Credits-Spent") != "0" {
		t.Errorf("429 headers %v", got.h)
	}
	if s := search(t, ts, map[string]any{"sql": "SELECT * FROM company"}); s.status != 200 {
		t.Errorf("search shares the enrichment window: %d %s", s.status, s.body)
	}
	c.Advance(30 * time.Second)
	if got := enrich(t, ts, url.Values{"website": {site}}); got.status != 200 || got.header("X-Ratelimit-Reset") != "2026-03-10T12:02:00Z" {
		t.Errorf("next minute: %d %v", got.status, got.h)
	}
	if used := a.Credits(CreditsCompanyEnrich).Used; used != 3 {
		t.Errorf("%d credits used; the 429 must cost nothing", used)
	}
}

// An exhausted pool answers 402 with PDL's body to every request of its endpoint,
// a no-match one included, until credits come back; other pools go on.
func TestExhaustedCreditsAnswer402(t *testing.T) {
	a, ts := newTestAPI(t, Options{Credits: map[string]int{CreditsCompanyEnrich: 1}})
	site := sure(a).Company
	first := enrich(t, ts, url.Values{"website": {site}})
	if first.status != 200 || first.header("X-Totallimit-Remaining") != "0" || first.header("X-Lifetime-Used") != "1" {
		t.Fatalf("first: %d %v", first.status, first.h)
	}
	for _, site := range []string{site, "nobody-has-this.example"} {
		mustError(t, enrich(t, ts, url.Values{"website": {site}}), 402, "payment_required", "You have hit your account maximum for company enrichment (all matches used)")
	}
	if s := search(t, ts, map[string]any{"sql": "SELECT * FROM company", "size": 3}); s.status != 200 {
		t.Errorf("the search pool is its own: %d %s", s.status, s.body)
	}
	a.SetCredits(CreditsCompanyEnrich, 5)
	if got := enrich(t, ts, url.Values{"website": {site}}); got.status != 200 {
		t.Errorf("after a purchase: %d %s", got.status, got.body)
	}
	a.SetCredits(CreditsCompanySearch, 2)
	mustError(t, search(t, ts, map[string]any{"sql": "SELECT * FROM company", "size": 3}), 402, "payment_required", "company search")
	if s := search(t, ts, map[string]any{"sql": "SELECT * FROM company", "size": 2}); s.status != 200 || a.Credits(CreditsCompanySearch).Remaining != 0 {
		t.Errorf("a page the balance pays: %d, balance %+v", s.status, a.Credits(CreditsCompanySearch))
	}
}

func TestPersonEnrichment(t *testing.T) {
	a, ts := newTestAPI(t, Options{})
	email := a.PersonEmails()[3]
	get := func(q url.Values) answer {
		return do(t, "GET", ts.URL+"/v5/person/enrich?"+q.Encode(), nil, DefaultKey)
	}
	got := get(url.Values{"email": {strings.ToUpper(email)}})
	body := got.json(t)
	data, _ := body["data"].(map[string]any)
	if got.status != 200 || data["work_email"] != email || body["likelihood"] == nil || got.header("X-Call-Credits-Type") != "enrich" {
		t.Fatalf("by email: %d %.300s", got.status, got.body)
	}
	byName := get(url.Values{"first_name": {data["first_name"].(string)}, "last_name": {data["last_name"].(string)}, "company": {data["job_company_website"].(string)}})
	if byName.status != 200 || byName.json(t)["data"].(map[string]any)["id"] != data["id"] {
		t.Errorf("by name and company: %d %.200s", byName.status, byName.body)
	}
	mustError(t, get(url.Values{"email": {"nobody@nowhere.example"}}), 404, "not_found", "No records")
	mustError(t, get(url.Values{"name": {"ana silva"}}), 400, "invalid_request_error", "minimum combination")
	if a.Credits(CreditsPersonEnrich).Used != 2 || a.Credits(CreditsCompanyEnrich).Used != 0 {
		t.Errorf("pools: person %+v, company %+v", a.Credits(CreditsPersonEnrich), a.Credits(CreditsCompanyEnrich))
	}
}

// Following scroll tokens returns every matching record exactly once, a credit
// each; the token of the last page leads to a 404.
func TestSearchScrollsThroughEveryRecordOnce(t *testing.T) {
	a, ts := newTestAPI(t, Options{})
	total, _ := a.Count()
	seen := map[string]bool{}
	token := ""
	pages := 0
	for {
		body := map[string]any{"sql": "SELECT name FROM company WHERE employee_count >= 1 LIMIT 5", "size": 7}
		if token != "" {
			body["scroll_token"] = token
		}
		got := search(t, ts, body)
		if got.status == 404 {
			mustError(t, got, 404, "not_found", "No records")
			break
		}
		var page struct {
			Data        []map[string]any `json:"data"`
			Total       int              `json:"total"`
			ScrollToken string           `json:"scroll_token"`
		}
		json.Unmarshal(got.body, &page)
		if got.status != 200 || page.Total != total || page.ScrollToken == "" || !strings.Contains(page.ScrollToken, "$") {
			t.Fatalf("page %d: %d %.300s", pages, got.status, got.body)
		}
		if got.header("X-Call-Credits-Spent") != itoa(len(page.Data)) || got.header("X-Call-Credits-Type") != "search_company" {
			t.Errorf("page of %d records: credit headers %v", len(page.Data), got.h)
		}
		for _, rec := range page.Data {
			id := rec["id"].(string)
			if seen[id] {
				t.Fatalf("record %s twice", id)
			}
			seen[id] = true
		}
		token = page.ScrollToken
		pages++
	}
	if len(seen) != total || pages != (total+6)/7 {
		t.Errorf("%d records in %d pages; want %d in %d", len(seen), pages, total, (total+6)/7)
	}
	if used := a.Credits(CreditsCompanySearch).Used; used != total {
		t.Errorf("%d credits for %d records", used, total)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// The Elasticsearch form and the SQL form of one question find the same records,
// by POST body or GET query string.
func TestSearchElasticsearchAndSQLAgree(t *testing.T) {
	_, ts := newTestAPI(t, Options{})
	ids := func(got answer) []string {
		t.Helper()
		if got.status != 200 {
			t.Fatalf("%d %s", got.status, got.body)
		}
		var out []string
		for _, r := range got.json(t)["data"].([]any) {
			out = append(out, r.(map[string]any)["id"].(string))
		}
		return out
	}
	es := map[string]any{"query": map[string]any{"bool": map[string]any{
		"must":     []any{map[string]any{"range": map[string]any{"employee_count": map[string]any{"gte": 20, "lt": 300}}}},
		"filter":   map[string]any{"terms": map[string]any{"location.country": []any{"united states", "germany"}}},
		"must_not": []any{map[string]any{"term": map[string]any{"industry": "retail"}}},
	}}}
	sql := "SELECT * FROM company WHERE employee_count >= 20 AND employee_count < 300 AND location.country IN ('united states', 'germany') AND NOT industry = 'retail'"
	byES := ids(search(t, ts, map[string]any{"query": es, "size": 100}))
	bySQL := ids(search(t, ts, map[string]any{"sql": sql, "size": 100}))
	esText, _ := json.Marshal(es)
	byGET := ids(do(t, "GET", ts.URL+"/v5/company/search?"+url.Values{"query": {string(esText)}, "size": {"100"}}.Encode(), nil, DefaultKey))
	if len(byES) < 5 || !slices.Equal(byES, bySQL) || !slices.Equal(byES, byGET) {
		t.Errorf("ES %d records, SQL %d, GET %d; want the same, several", len(byES), len(bySQL), len(byGET))
	}
	one := ids(search(t, ts, map[string]any{"query": map[string]any{"query": map[string]any{"term": map[string]any{"website": "company-7.example"}}}}))
	if len(one) > 1 {
		t.Errorf("size defaults to 1, got %d", len(one))
	}
}

func TestSearchRefusals(t *testing.T) {
	_, ts := newTestAPI(t, Options{})
	all := "SELECT * FROM company"
	first := search(t, ts, map[string]any{"sql": all, "size": 2}).json(t)
	for name, c := range map[string]struct {
		body   map[string]any
		status int
		msg    string
	}{
		"neither":       {map[string]any{"size": 1}, 400, "either a query or an sql"},
		"both":          {map[string]any{"sql": all, "query": map[string]any{"query": map[string]any{"match_all": map[string]any{}}}}, 400, "either a query or an sql"},
		"size":          {map[string]any{"sql": all, "size": 101}, 400, "size must be between 1 and 100"},
		"from+scroll":   {map[string]any{"sql": all, "from": 2, "scroll_token": first["scroll_token"]}, 400, "cannot be used in the same request"},
		"from too deep": {map[string]any{"sql": all, "from": 9_990, "size": 20}, 400, "scroll_token"},
		"bad token":     {map[string]any{"sql": all, "scroll_token": "nonsense"}, 400, "Invalid scroll_token"},
		"other query":   {map[string]any{"sql": all + " WHERE founded > 2000", "scroll_token": first["scroll_token"]}, 400, "another query"},
		"malformed ES":  {map[string]any{"query": map[string]any{"bool": map[string]any{}}}, 400, "Elasticsearch query is malformed."},
		"not imitated":  {map[string]any{"query": map[string]any{"query": map[string]any{"fuzzy": map[string]any{"name": "x"}}}}, 400, "not imitated"},
		"bad SQL":       {map[string]any{"sql": "SELECT * FROM person WHERE x = 1"}, 400, "SQL query is malformed"},
		"nothing found": {map[string]any{"sql": "SELECT * FROM company WHERE website = 'nobody.example'"}, 404, "No records"},
	} {
		got := search(t, ts, c.body)
		typ := map[int]string{400: "invalid_request_error", 404: "not_found"}[c.status]
		t.Run(name, func(t *testing.T) { mustError(t, got, c.status, typ, c.msg) })
	}
	if got := search(t, ts, map[string]any{"sql": all, "from": 3, "size": 2}); got.status != 200 {
		t.Errorf("legacy from: %d %s", got.status, got.body)
	}
	if got := search(t, ts, map[string]any{"sql": all, "count_only": true}); got.status != 200 || len(got.json(t)) != 2 {
		t.Errorf("count_only: %d %s", got.status, got.body)
	}
}

// The same seed gives the same data; another seed other data.
func TestDeterministicBySeed(t *testing.T) {
	build := func(seed int64) []Match {
		return New(Options{Seed: seed, Companies: fake.Numbered(50), Now: func() time.Time { return t0 }}).Matches()
	}
	if !slices.Equal(build(3), build(3)) {
		t.Error("same seed, different ground truth")
	}
	if slices.Equal(build(3), build(4)) {
		t.Error("different seeds, same ground truth")
	}
	if m := New(Options{Now: func() time.Time { return t0 }}).Matches(); len(m) < 100 {
		t.Errorf("without Companies the HubSpot imitation's are used; got %d", len(m))
	}
}

func TestAdminOverHTTP(t *testing.T) {
	a, ts := newTestAPI(t, Options{})
	admin := httptest.NewServer(a.Admin())
	defer admin.Close()
	if got := do(t, "POST", admin.URL+"/exhaust-credits?type=enrich_company", nil, ""); got.status != 204 {
		t.Fatalf("exhaust: %d %s", got.status, got.body)
	}
	mustError(t, enrich(t, ts, url.Values{"website": {sure(a).Company}}), 402, "payment_required", "all matches used")
	if got := do(t, "PUT", admin.URL+"/credits?type=enrich_company&remaining=7", nil, ""); got.status != 204 {
		t.Fatalf("set: %d %s", got.status, got.body)
	}
	credits := do(t, "GET", admin.URL+"/credits", nil, "").json(t)
	if credits["enrich_company"].(map[string]any)["remaining"] != 7.0 {
		t.Errorf("credits %v", credits)
	}
	var matches []Match
	json.Unmarshal(do(t, "GET", admin.URL+"/matches", nil, "").body, &matches)
	if !slices.Equal(matches, a.Matches()) {
		t.Error("matches over HTTP differ from Matches()")
	}
	if got := do(t, "GET", admin.URL+"/requests", nil, "").json(t); got["requests"] != 1.0 {
		t.Errorf("requests %v", got)
	}
	if got := do(t, "POST", admin.URL+"/exhaust-credits?type=nope", nil, ""); got.status != 400 {
		t.Errorf("unknown credit type: %d", got.status)
	}
}

// A data refresh changes the records it names, and an enrichment shows it.
func TestTouchChangesRecords(t *testing.T) {
	a, ts := newTestAPI(t, Options{})
	m := sure(a)
	before := enrich(t, ts, url.Values{"website": {m.Company}}).json(t)
	var touched []string
	for i := 0; !slices.Contains(touched, m.ID) && i < 50; i++ {
		touched = a.Touch(40)
	}
	after := enrich(t, ts, url.Values{"website": {m.Company}}).json(t)
	if before["employee_count"] == after["employee_count"] && before["total_funding_raised"] == after["total_funding_raised"] {
		t.Errorf("touched %s but neither headcount nor funding changed", m.ID)
	}
}

// Faults the sandbox injects answer PDL's own 429.
func TestInjectedRateLimitIsPDLs(t *testing.T) {
	first := true
	_, ts := newTestAPI(t, Options{Middleware: func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if first {
				first = false
				WriteRateLimited(w, 3*time.Second)
				return
			}
			next.ServeHTTP(w, r)
		})
	}})
	got := enrich(t, ts, url.Values{"website": {"company-1.example"}})
	mustError(t, got, 429, "rate_limit_error", "too quick")
	reset, err := time.Parse(time.RFC3339, got.header("X-Ratelimit-Reset"))
	if err != nil || time.Until(reset) > 4*time.Second || got.header("X-Ratelimit-Remaining") != `{"minute": 0}` {
		t.Errorf("429 headers %v", got.h)
	}
}

// A bulk enrichment answers each request in order as the single one would, echoes
// its metadata, and charges the matches together.
func TestCompanyBulkEnrichment(t *testing.T) {
	a, ts := newTestAPI(t, Options{})
	var found, missing Match
	for _, m := range a.Matches() {
		switch {
		case m.Via == ViaWebsite && found.ID == "":
			found = m
		case m.Via == ViaNone && missing.Company == "":
			missing = m
		}
	}
	bulk := func(body map[string]any) answer {
		return do(t, "POST", ts.URL+"/v5/company/enrich/bulk", body, DefaultKey)
	}
	got := bulk(map[string]any{"data_include": "id,website", "requests": []any{
		map[string]any{"params": map[string]any{"website": "https://" + found.Company}, "metadata": map[string]any{"row": 1}},
		map[string]any{"params": map[string]any{"website": missing.Company}, "metadata": map[string]any{"row": 2}},
		map[string]any{"params": map[string]any{"location": "berlin"}},
	}})
	var elems []map[string]any
	if err := json.Unmarshal(got.body, &elems); err != nil || got.status != 200 || len(elems) != 3 {
		t.Fatalf("%d %s", got.status, got.body)
	}
	if elems[0]["status"] != 200.0 || elems[0]["id"] != found.ID || elems[0]["metadata"].(map[string]any)["row"] != 1.0 || elems[0]["name"] != nil {
		t.Errorf("match: %v", elems[0])
	}
	if elems[1]["status"] != 404.0 || elems[1]["metadata"].(map[string]any)["row"] != 2.0 || elems[2]["status"] != 400.0 {
		t.Errorf("no match, invalid: %v, %v", elems[1], elems[2])
	}
	if got.header("X-Call-Credits-Spent") != "1" || a.Credits(CreditsCompanyEnrich).Used != 1 {
		t.Errorf("spent %q, balance %+v; want one credit for one match", got.header("X-Call-Credits-Spent"), a.Credits(CreditsCompanyEnrich))
	}
	many := make([]any, 101)
	for i := range many {
		many[i] = map[string]any{"params": map[string]any{"website": found.Company}}
	}
	mustError(t, bulk(map[string]any{"requests": many}), 400, "invalid_request_error", "1 to 100")
	a.SetCredits(CreditsCompanyEnrich, 1)
	mustError(t, bulk(map[string]any{"requests": many[:2]}), 402, "payment_required", "company enrichment")
	mustError(t, do(t, "GET", ts.URL+"/v5/company/enrich/bulk", nil, DefaultKey), 405, "invalid_request_error", "not allowed")
}

// Started as a source's sandbox, the imitation takes the companies, seed and
// limits the platform hands it, and its values point a client at it.
func TestStartAsSourceSandbox(t *testing.T) {
	companies := fake.Numbered(30)
	sb, err := Start(source.SandboxOptions{Seed: 9, Now: func() time.Time { return t0 }, Companies: companies, Unlimited: true,
		Settings: []any{&Options{Strangers: 5}}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(Path+"/", http.StripPrefix(Path, sb))
	ts := httptest.NewServer(mux)
	defer ts.Close()
	vals := sb.Values(ts.URL + Path)
	api := sb.(*source.Imitation).Unwrap().(*API)
	if n, _ := api.Count(); len(api.Matches()) != 30 || n != 24+5 {
		t.Fatalf("%d companies seeded, %d records; want 30 and 24 matched + 5 strangers", len(api.Matches()), n)
	}
	for range 3 { // the per-minute limits are off: more than a window admits
		got := do(t, "GET", vals.Get(BaseURLVar)+"/company/enrich?website="+sure(api).Company, nil, vals.Get(KeyVar))
		if got.status != 200 || got.header("X-Ratelimit-Limit") != "" {
			t.Fatalf("%d %v %s", got.status, got.h, got.body)
		}
	}
}
