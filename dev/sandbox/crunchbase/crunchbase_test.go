package crunchbase

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshflow/meshflow/dev/sandbox/internal/fake"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

var t0 = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

func newTestAPI(t *testing.T, o Options) (*API, *httptest.Server, *clock) {
	t.Helper()
	c := &clock{t: t0}
	if o.Now == nil {
		o.Now = c.Now
	}
	if o.Organizations == 0 {
		o.Organizations = 120
	}
	if o.RateLimit == 0 {
		o.RateLimit = -1
	}
	a := New(o)
	ts := httptest.NewServer(a)
	t.Cleanup(ts.Close)
	return a, ts, c
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func post(t *testing.T, ts *httptest.Server, body any) answer {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", ts.URL+"/api/v4/searches/organizations", bytes.NewReader(b))
	req.Header.Set("X-cb-user-key", DefaultKey)
	req.Header.Set("Content-Type", "application/json")
	return do(t, req)
}

func do(t *testing.T, req *http.Request) answer {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, b}
}

type result struct {
	Count    int `json:"count"`
	Entities []struct {
		UUID       string                     `json:"uuid"`
		Properties map[string]json.RawMessage `json:"properties"`
	} `json:"entities"`
}

func search(t *testing.T, ts *httptest.Server, body map[string]any) result {
	t.Helper()
	if body["field_ids"] == nil {
		body["field_ids"] = []string{"identifier", "updated_at"}
	}
	if body["query"] == nil {
		body["query"] = []any{}
	}
	r := post(t, ts, body)
	if r.status != 200 {
		t.Fatalf("search %v: %d %s", body, r.status, r.body)
	}
	var res result
	if err := json.Unmarshal(r.body, &res); err != nil {
		t.Fatal(err)
	}
	return res
}

func pred(field, op string, values ...any) map[string]any {
	return map[string]any{"type": "predicate", "field_id": field, "operator_id": op, "values": values}
}

func TestFieldIDsAndQueryAreRequired(t *testing.T) {
	_, ts, _ := newTestAPI(t, Options{})
	none := []any{}
	for name, c := range map[string]struct {
		body map[string]any
		want string
	}{
		"missing":            {map[string]any{"limit": 5, "query": none}, "field_ids"},
		"empty":              {map[string]any{"field_ids": []string{}, "query": none}, "field_ids"},
		"unknown":            {map[string]any{"field_ids": []string{"identifier", "valuation"}, "query": none}, "valuation"},
		"no query":           {map[string]any{"field_ids": []string{"identifier"}, "limit": 1}, "Missing required field: query"},
		"limit":              {map[string]any{"field_ids": []string{"identifier"}, "query": none, "limit": 1001}, "1000"},
		"operator":           {map[string]any{"field_ids": []string{"identifier"}, "query": []any{pred("updated_at", "includes", "2024-01-01")}}, "includes"},
		"order":              {map[string]any{"field_ids": []string{"identifier"}, "query": none, "order": []any{map[string]string{"field_id": "categories", "sort": "asc"}}}, "categories"},
		"after_id":           {map[string]any{"field_ids": []string{"identifier"}, "query": none, "after_id": "nope"}, "nope"},
		"unknown body field": {map[string]any{"field_ids": []string{"identifier"}, "query": none, "offset": 10}, "offset"},
	} {
		r := post(t, ts, c.body)
		var errs []struct{ Code, Message string }
		if r.status != 400 || json.Unmarshal(r.body, &errs) != nil || len(errs) != 1 || !strings.Contains(errs[0].Message, c.want) {
			t.Errorf("%s: %d %s, want 400 naming %q", name, r.status, r.body, c.want)
		}
	}
}

func TestDefaultLimitAndCount(t *testing.T) {
	_, ts, _ := newTestAPI(t, Options{})
	res := search(t, ts, map[string]any{})
	if res.Count != 120 || len(res.Entities) != DefaultLimit {
		t.Errorf("count %d, %d entities; want 120 and %d", res.Count, len(res.Entities), DefaultLimit)
	}
	if p := res.Entities[0].Properties; len(p) != 2 || p["identifier"] == nil {
		t.Errorf("properties %v, want only the requested fields", p)
	}
}

// Keyset paging under a constant order returns every organization once.
func TestKeysetPaging(t *testing.T) {
	a, ts, _ := newTestAPI(t, Options{})
	for _, order := range [][]map[string]string{
		{{"field_id": "uuid", "sort": "asc"}},
		{{"field_id": "updated_at", "sort": "asc"}, {"field_id": "uuid", "sort": "asc"}},
		{{"field_id": "rank_org", "sort": "desc"}},
	} {
		var got []string
		after := ""
		for range 20 {
			body := map[string]any{"order": order, "limit": 25}
			if after != "" {
				body["after_id"] = after
			}
			res := search(t, ts, body)
			if res.Count != 120 {
				t.Fatalf("count %d", res.Count)
			}
			for _, e := range res.Entities {
				got = append(got, e.UUID)
			}
			if len(res.Entities) < 25 {
				break
			}
			after = res.Entities[len(res.Entities)-1].UUID
		}
		sorted := slices.Sorted(slices.Values(got))
		if !slices.Equal(sorted, a.UUIDs()) {
			t.Errorf("order %v: %d uuids, %d distinct of %d", order, len(got), len(slices.Compact(sorted)), a.Count())
		}
		if fmt.Sprint(order[0]["field_id"]) == "uuid" && !slices.IsSorted(got) {
			t.Errorf("uuid order is not ascending")
		}
	}
}

// Paging by updated_at while the last entity of a page changes moves the pivot:
// the rest of the result is skipped. Ordering by uuid does not have the problem.
func TestKeysetOnAMovingFieldSkips(t *testing.T) {
	a, ts, _ := newTestAPI(t, Options{})
	byUpdated := []map[string]string{{"field_id": "updated_at", "sort": "asc"}}
	first := search(t, ts, map[string]any{"order": byUpdated, "limit": 10})
	pivot := first.Entities[9].UUID
	a.mu.Lock() // the pivot changes, as Touch would change it
	a.byUUID[pivot].updated = t0.Add(time.Hour)
	a.mu.Unlock()
	rest := search(t, ts, map[string]any{"order": byUpdated, "limit": 1000, "after_id": pivot})
	if len(rest.Entities) >= 110 {
		t.Errorf("after_id on a moved pivot returned %d entities; expected it to skip", len(rest.Entities))
	}
}

func TestPredicates(t *testing.T) {
	a, ts, c := newTestAPI(t, Options{})
	c.Set(t0.Add(2 * time.Hour))
	touched := a.Touch(4)
	for _, since := range []string{"2026-03-10T13:00:00Z", "2026-03-10T13:00:00.000Z"} {
		res := search(t, ts, map[string]any{"query": []any{pred("updated_at", "gte", since)}, "order": []any{map[string]string{"field_id": "uuid", "sort": "asc"}}})
		var got []string
		for _, e := range res.Entities {
			got = append(got, e.UUID)
			var u string
			json.Unmarshal(e.Properties["updated_at"], &u)
			if u != "2026-03-10T14:00:00Z" {
				t.Errorf("updated_at %q", u)
			}
		}
		if !slices.Equal(got, touched) || res.Count != 4 {
			t.Errorf("updated_at gte %s: %v (count %d), want %v", since, got, res.Count, touched)
		}
	}
	all := search(t, ts, map[string]any{"query": []any{pred("updated_at", "gte", "2000-01-01")}, "limit": 1000})
	small := search(t, ts, map[string]any{"query": []any{pred("num_employees_enum", "includes", "c_00001_00010", "c_00011_00050")}, "limit": 1000})
	soft := search(t, ts, map[string]any{"query": []any{pred("categories", "includes", "software"), pred("facet_ids", "includes", "company")}, "limit": 1000})
	rich := search(t, ts, map[string]any{"query": []any{pred("funding_total", "gte", map[string]any{"value": 10_000_000, "currency": "usd"})}, "limit": 1000})
	if all.Count != 120 || small.Count == 0 || small.Count >= 120 || soft.Count == 0 || soft.Count >= 120 || rich.Count == 0 || rich.Count >= 120 {
		t.Errorf("counts: all %d, small %d, software %d, rich %d", all.Count, small.Count, soft.Count, rich.Count)
	}
}

func TestEntityLookup(t *testing.T) {
	a, ts, _ := newTestAPI(t, Options{})
	m := a.Matches()[3]
	var link string
	for _, by := range []string{m.ID, ""} {
		id := by
		if id == "" {
			id = link
		}
		req, _ := http.NewRequest("GET", ts.URL+"/api/v4/entities/organizations/"+id+"?field_ids=identifier,website_url,funding_total&user_key="+DefaultKey, nil)
		r := do(t, req)
		var got struct {
			Properties struct {
				Identifier struct{ UUID, Permalink, Value string }
				WebsiteURL string `json:"website_url"`
			}
		}
		if r.status != 200 || json.Unmarshal(r.body, &got) != nil || got.Properties.Identifier.UUID != m.ID {
			t.Fatalf("lookup %s: %d %s", id, r.status, r.body)
		}
		link = got.Properties.Identifier.Permalink
	}
	req, _ := http.NewRequest("GET", ts.URL+"/api/v4/entities/organizations/no-such-org?user_key="+DefaultKey, nil)
	if r := do(t, req); r.status != 404 {
		t.Errorf("unknown org: %d", r.status)
	}
}

func TestAuth(t *testing.T) {
	a, ts, _ := newTestAPI(t, Options{})
	req, _ := http.NewRequest("POST", ts.URL+"/api/v4/searches/organizations", strings.NewReader(`{"field_ids":["identifier"],"query":[]}`))
	req.Header.Set("X-cb-user-key", "wrong-key")
	if r := do(t, req); r.status != 401 || bytes.Contains(r.body, []byte("wrong-key")) {
		t.Errorf("bad key: %d %s", r.status, r.body)
	}
	req, _ = http.NewRequest("POST", ts.URL+"/api/v4/searches/organizations?user_key="+DefaultKey, strings.NewReader(`{"field_ids":["identifier"],"query":[]}`))
	if r := do(t, req); r.status != 200 {
		t.Errorf("key as query parameter: %d %s", r.status, r.body)
	}
	if a.Requests() != 2 {
		t.Errorf("requests %d", a.Requests())
	}
}

// Past the per-minute budget the answer is a bare 429 until the next minute.
func TestBare429(t *testing.T) {
	a, ts, _ := newTestAPI(t, Options{RateLimit: 3})
	wall := &clock{t: time.Date(2026, 3, 10, 12, 0, 10, 0, time.UTC)}
	a.limits.clock = wall.Now
	body := map[string]any{"field_ids": []string{"identifier"}, "query": []any{}, "limit": 1}
	for i := range 3 {
		if r := post(t, ts, body); r.status != 200 {
			t.Fatalf("call %d: %d", i, r.status)
		}
	}
	r := post(t, ts, body)
	if r.status != 429 || len(r.body) != 0 {
		t.Fatalf("over budget: %d %q", r.status, r.body)
	}
	for _, h := range []string{"Retry-After", "Content-Type", "Date", "X-Ratelimit-Remaining"} {
		if v := r.header.Get(h); v != "" {
			t.Errorf("the 429 carries %s: %q", h, v)
		}
	}
	wall.Set(time.Date(2026, 3, 10, 12, 1, 0, 0, time.UTC))
	if r := post(t, ts, body); r.status != 200 {
		t.Errorf("next minute: %d", r.status)
	}
}

func TestOrganizationsDeriveFromCompanies(t *testing.T) {
	companies := fake.Numbered(200)
	a, _, _ := newTestAPI(t, Options{Companies: companies})
	known := map[string]bool{}
	for _, c := range companies {
		known[c.Domain] = true
	}
	matched := 0
	for _, m := range a.Matches() {
		if m.Company != "" {
			matched++
			if !known[m.Company] || fake.CanonicalDomain(m.Domain) != m.Company || !strings.HasPrefix(m.Domain, "http") {
				t.Errorf("match %+v", m)
			}
		} else if m.Domain != "" && known[fake.CanonicalDomain(m.Domain)] {
			t.Errorf("stranger %+v collides with a company", m)
		}
	}
	if matched != 72 { // 0.6 of 120
		t.Errorf("%d matched organizations, want 72", matched)
	}
}
