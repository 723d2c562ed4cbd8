package hubspot

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
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
	if o.Contacts == 0 {
		o.Contacts, o.Companies, o.Deals = 300, 100, 150
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

func call(t *testing.T, ts *httptest.Server, method, path, token string, body any) resp {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, ts.URL+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
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

type page struct {
	Total   int              `json:"total"`
	Results []map[string]any `json:"results"`
	Paging  *struct {
		Next struct{ After, Link string }
	}
	Category   string `json:"category"`
	Message    string `json:"message"`
	PolicyName string `json:"policyName"`
}

func decodePage(t *testing.T, r resp) page {
	t.Helper()
	var p page
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("decode %d %s: %v", r.status, r.body, err)
	}
	return p
}

func props(rec map[string]any) map[string]any { return rec["properties"].(map[string]any) }

func TestDeterministicData(t *testing.T) {
	_, ts1, _ := newTestAPI(t, Options{Seed: 3})
	_, ts2, _ := newTestAPI(t, Options{Seed: 3})
	_, ts3, _ := newTestAPI(t, Options{Seed: 4})
	for _, obj := range Objects {
		path := "/crm/v3/objects/" + obj + "?limit=100"
		a := call(t, ts1, "GET", path, DefaultToken, nil).body
		b := call(t, ts2, "GET", path, DefaultToken, nil).body
		c := call(t, ts3, "GET", path, DefaultToken, nil).body
		// Links carry each server's host; compare the records only.
		strip := func(b []byte) string { return regexp.MustCompile(`"paging".*`).ReplaceAllString(string(b), "") }
		if strip(a) != strip(b) {
			t.Errorf("%s: same seed, different data", obj)
		}
		if strip(a) == strip(c) {
			t.Errorf("%s: different seeds, same data", obj)
		}
	}
}

func TestDataShape(t *testing.T) {
	a := New(Options{Now: func() time.Time { return t0 }})
	if a.Count("contacts")+a.Archived("contacts") != 3000 || a.Count("companies")+a.Archived("companies") != 800 || a.Count("deals")+a.Archived("deals") != 1500 {
		t.Fatalf("default sizes: %d %d %d", a.Count("contacts"), a.Count("companies"), a.Count("deals"))
	}
	if a.Archived("contacts") == 0 {
		t.Error("no archived contacts seeded")
	}
	millis := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
	anchor := t0.Truncate(24 * time.Hour)
	for _, name := range Objects {
		s := a.stores[name]
		bulk, distinct := 0, map[time.Time]bool{}
		for i, rec := range s.recs {
			if i > 0 && rec.id <= s.recs[i-1].id {
				t.Fatalf("%s: ids not ascending", name)
			}
			for p, v := range rec.props {
				if s.def.props[p] == timestamp && !millis.MatchString(v) {
					t.Fatalf("%s.%s = %q: not ISO with millis and Z", name, p, v)
				}
			}
			if rec.props[s.def.modProp] != propTime(rec.updated) || !rec.updated.Before(anchor) || rec.updated.Before(rec.created) {
				t.Fatalf("%s %d: inconsistent times %v %v %q", name, rec.id, rec.created, rec.updated, rec.props[s.def.modProp])
			}
			if rec.updated.Equal(a.BulkUpdatedAt()) {
				bulk++
			}
			distinct[rec.updated] = true
		}
		if bulk < len(s.recs)/10 {
			t.Errorf("%s: only %d records share the bulk-update timestamp", name, bulk)
		}
		if len(distinct) < len(s.recs)/2 {
			t.Errorf("%s: modified times are not spread (%d distinct)", name, len(distinct))
		}
	}
	var www, upper, plain int
	for _, c := range a.stores["companies"].recs {
		d := c.props["domain"]
		switch {
		case strings.HasPrefix(strings.ToLower(d), "www."):
			www++
		case d != strings.ToLower(d):
			upper++
		case strings.HasSuffix(d, ".example"):
			plain++
		}
	}
	if www == 0 || upper == 0 || plain < 500 {
		t.Errorf("domain variants: www %d, upper %d, plain %d", www, upper, plain)
	}
	for _, c := range a.stores["contacts"].recs {
		if !slices.Contains(LifecycleStages, c.props["lifecyclestage"]) {
			t.Fatalf("lifecyclestage %q", c.props["lifecyclestage"])
		}
	}
}

func TestListPaging(t *testing.T) {
	a, ts, _ := newTestAPI(t, Options{})
	p := decodePage(t, call(t, ts, "GET", "/crm/v3/objects/contacts", DefaultToken, nil))
	if len(p.Results) != 10 || p.Paging == nil || !strings.Contains(p.Paging.Next.Link, "after="+p.Paging.Next.After) {
		t.Fatalf("default page: %d results, paging %+v", len(p.Results), p.Paging)
	}
	if got := slices.Sorted(maps.Keys(props(p.Results[0]))); !slices.Equal(got, objectDefs["contacts"].defaults) {
		t.Errorf("default properties %v", got)
	}

	seen := map[string]bool{}
	after := ""
	for pages := 0; ; pages++ {
		path := "/crm/v3/objects/contacts?limit=500&properties=email,lastmodifieddate,nosuchprop"
		if after != "" {
			path += "&after=" + after
		}
		p := decodePage(t, call(t, ts, "GET", path, DefaultToken, nil))
		if len(p.Results) > 100 {
			t.Fatalf("page of %d > 100", len(p.Results))
		}
		for _, r := range p.Results {
			id := r["id"].(string)
			if seen[id] || r["archived"] != false || r["archivedAt"] != nil {
				t.Fatalf("record %s repeated or archived", id)
			}
			seen[id] = true
			if pr := props(r); len(pr) != 2 || pr["lastmodifieddate"] != r["updatedAt"] && !strings.HasPrefix(pr["lastmodifieddate"].(string), strings.TrimSuffix(r["updatedAt"].(string), "Z")) {
				t.Fatalf("properties %v updatedAt %v", pr, r["updatedAt"])
			}
		}
		if p.Paging == nil {
			break
		}
		after = p.Paging.Next.After
	}
	if len(seen) != a.Count("contacts") {
		t.Errorf("listed %d, want %d", len(seen), a.Count("contacts"))
	}

	p = decodePage(t, call(t, ts, "GET", "/crm/v3/objects/contacts?limit=100&archived=true", DefaultToken, nil))
	if len(p.Results) != a.Archived("contacts") || len(p.Results) == 0 {
		t.Fatalf("archived list: %d, want %d", len(p.Results), a.Archived("contacts"))
	}
	for _, r := range p.Results {
		if r["archived"] != true || r["archivedAt"] == nil {
			t.Fatalf("archived record %v", r)
		}
	}
	if r := call(t, ts, "GET", "/crm/v3/objects/widgets", DefaultToken, nil); r.status != 400 {
		t.Errorf("unknown object: %d", r.status)
	}
}

func filter(prop, op string, v any) map[string]any {
	return map[string]any{"propertyName": prop, "operator": op, "value": v}
}

func searchBody(limit int, after string, filters ...map[string]any) map[string]any {
	b := map[string]any{
		"filterGroups": []any{map[string]any{"filters": filters}},
		"sorts":        []any{map[string]string{"propertyName": "hs_object_id", "direction": "ASCENDING"}},
		"properties":   []string{"email", "name", "dealname"},
		"limit":        limit,
	}
	if after != "" {
		b["after"] = after
	}
	return b
}

func TestSearch(t *testing.T) {
	a, ts, _ := newTestAPI(t, Options{SearchCap: 10, SearchPerSecond: -1})
	bulk := a.BulkUpdatedAt().UnixMilli()
	for _, obj := range Objects {
		mod := objectDefs[obj].modProp
		want := 0
		for _, r := range a.stores[obj].recs {
			if !r.archived() && r.updated.UnixMilli() == bulk {
				want++
			}
		}
		// EQ through GTE+LTE on epoch ms, the way an incremental client asks.
		r := call(t, ts, "POST", "/crm/v3/objects/"+obj+"/search", DefaultToken,
			searchBody(200, "", filter(mod, "GTE", fmt.Sprint(bulk)), filter(mod, "LTE", bulk)))
		if r.header.Get("X-HubSpot-RateLimit-Max") != "" {
			t.Error("search responses carry no rate-limit headers")
		}
		p := decodePage(t, r)
		if want <= 10 || p.Total != want || len(p.Results) != 10 {
			t.Fatalf("%s: total %d results %d, want %d", obj, p.Total, len(p.Results), want)
		}
		for _, rec := range p.Results {
			pr := props(rec)
			if pr["hs_object_id"] != rec["id"] || pr["createdate"] == nil || pr[mod] == nil {
				t.Fatalf("search always returns id, createdate and %s: %v", mod, pr)
			}
		}
		// Keyset: ids above the last one.
		last := p.Results[len(p.Results)-1]["id"].(string)
		p2 := decodePage(t, call(t, ts, "POST", "/crm/v3/objects/"+obj+"/search", DefaultToken,
			searchBody(200, "", filter(mod, "GTE", bulk), filter(mod, "LTE", bulk), filter("hs_object_id", "GT", last))))
		if p2.Total != want-10 {
			t.Errorf("%s: keyset window total %d, want %d", obj, p2.Total, want-10)
		}
		// Offset paging stops at the cap with HubSpot's 400.
		r = call(t, ts, "POST", "/crm/v3/objects/"+obj+"/search", DefaultToken, searchBody(10, "10"))
		if p := decodePage(t, r); r.status != 400 || p.Category != "VALIDATION_ERROR" || !strings.Contains(p.Message, "10") {
			t.Errorf("%s: paging past the cap: %d %s", obj, r.status, r.body)
		}
	}

	// No archived records in search.
	p := decodePage(t, call(t, ts, "POST", "/crm/v3/objects/deals/search", DefaultToken, searchBody(10, "")))
	if p.Total != a.Count("deals") {
		t.Errorf("unfiltered search total %d, want live deals %d", p.Total, a.Count("deals"))
	}
	// The trap: contacts ignore a filter on hs_lastmodifieddate.
	future := t0.Add(24 * time.Hour).UnixMilli()
	p = decodePage(t, call(t, ts, "POST", "/crm/v3/objects/contacts/search", DefaultToken, searchBody(10, "", filter("hs_lastmodifieddate", "GTE", future))))
	if p.Total != a.Count("contacts") {
		t.Errorf("contacts filtered on hs_lastmodifieddate: total %d, want all %d (filter ignored)", p.Total, a.Count("contacts"))
	}
	p = decodePage(t, call(t, ts, "POST", "/crm/v3/objects/contacts/search", DefaultToken, searchBody(10, "", filter("lastmodifieddate", "GTE", future))))
	if p.Total != 0 {
		t.Errorf("contacts filtered on lastmodifieddate in the future: total %d", p.Total)
	}
	// EQ on id, sort descending.
	p = decodePage(t, call(t, ts, "POST", "/crm/v3/objects/companies/search", DefaultToken, map[string]any{
		"filterGroups": []any{
			map[string]any{"filters": []any{filter("hs_object_id", "EQ", "5000000002")}},
			map[string]any{"filters": []any{filter("numberofemployees", "GTE", 1)}},
		},
		"sorts": []any{map[string]string{"propertyName": "hs_object_id", "direction": "DESCENDING"}},
		"limit": 2,
	}))
	if len(p.Results) != 2 || p.Results[0]["id"].(string) < p.Results[1]["id"].(string) {
		t.Errorf("descending sort: %v", p.Results)
	}

	for name, body := range map[string]map[string]any{
		"limit":    searchBody(201, ""),
		"property": searchBody(10, "", filter("nosuch", "EQ", "x")),
		"operator": searchBody(10, "", filter("email", "LIKE", "x")),
		"value":    searchBody(10, "", filter("lastmodifieddate", "GTE", "yesterday")),
		"groups":   {"filterGroups": []any{map[string]any{}, map[string]any{}, map[string]any{}, map[string]any{}, map[string]any{}, map[string]any{}}},
	} {
		if r := call(t, ts, "POST", "/crm/v3/objects/contacts/search", DefaultToken, body); r.status != 400 {
			t.Errorf("%s: status %d, want 400", name, r.status)
		}
	}
}

// TestBulkContacts: BulkContacts live contacts share one lastmodifieddate, the newest
// of the data set, as after a month-end bulk update; the same ones for the same seed.
func TestBulkContacts(t *testing.T) {
	a, ts, _ := newTestAPI(t, Options{Contacts: 500, Companies: 50, Deals: 50, BulkContacts: 220, SearchPerSecond: -1})
	at := a.LastBulkAt()
	if at.IsZero() || !at.Before(t0) {
		t.Fatalf("LastBulkAt = %v, want an instant of the seeded history", at)
	}
	p := decodePage(t, call(t, ts, "POST", "/crm/v3/objects/contacts/search", DefaultToken,
		searchBody(200, "", filter("lastmodifieddate", "EQ", at.UnixMilli()))))
	if p.Total != 220 {
		t.Errorf("%d contacts modified at %v, want 220", p.Total, at)
	}
	newest := decodePage(t, call(t, ts, "POST", "/crm/v3/objects/contacts/search", DefaultToken, map[string]any{
		"sorts": []any{map[string]string{"propertyName": "lastmodifieddate", "direction": "DESCENDING"}}, "limit": 1,
	}))
	if got := props(newest.Results[0])["lastmodifieddate"]; got != propTime(at) {
		t.Errorf("the newest modification is %v, want the bulk update's %v", got, propTime(at))
	}
	var ids []int64
	for _, r := range a.stores["contacts"].recs {
		if r.updated.Equal(at) {
			ids = append(ids, r.id)
		}
	}
	b := New(Options{Now: func() time.Time { return t0 }, Contacts: 500, Companies: 50, Deals: 50, BulkContacts: 220})
	for _, id := range ids {
		if !b.stores["contacts"].byID[id].updated.Equal(at) {
			t.Fatalf("contact %d is in one bulk update and not the other: the seed decides", id)
		}
	}
	if none := New(Options{Now: func() time.Time { return t0 }, Contacts: 100}); !none.LastBulkAt().IsZero() {
		t.Errorf("without BulkContacts, LastBulkAt = %v", none.LastBulkAt())
	}
}

func TestAuth(t *testing.T) {
	a, ts, _ := newTestAPI(t, Options{MissingScopes: []string{"deals"}})
	for _, tok := range []string{"", "pat-na1-wrong"} {
		r := call(t, ts, "GET", "/crm/v3/objects/contacts", tok, nil)
		if p := decodePage(t, r); r.status != 401 || p.Category != "INVALID_AUTHENTICATION" || !strings.Contains(p.Message, "Authentication credentials not found") {
			t.Errorf("token %q: %d %s", tok, r.status, r.body)
		}
	}
	r := call(t, ts, "GET", "/crm/v3/objects/deals", DefaultToken, nil)
	if p := decodePage(t, r); r.status != 403 || p.Category != "MISSING_SCOPES" || !strings.Contains(string(r.body), "crm.objects.deals.read") {
		t.Errorf("missing scope: %d %s", r.status, r.body)
	}
	if a.Requests() != 3 {
		t.Errorf("Requests() = %d, want 3", a.Requests())
	}
}

func TestRateLimits(t *testing.T) {
	t.Run("ten-secondly", func(t *testing.T) {
		_, ts, _ := newTestAPI(t, Options{RateLimit: 3})
		for i := range 3 {
			r := call(t, ts, "GET", "/crm/v3/objects/contacts?limit=1", DefaultToken, nil)
			if r.status != 200 || r.header.Get("X-HubSpot-RateLimit-Remaining") != fmt.Sprint(2-i) || r.header.Get("X-HubSpot-RateLimit-Max") != "3" || r.header.Get("X-HubSpot-RateLimit-Interval-Milliseconds") != "10000" {
				t.Fatalf("request %d: %d %v", i, r.status, r.header)
			}
		}
		r := call(t, ts, "GET", "/crm/v3/objects/contacts?limit=1", DefaultToken, nil)
		if p := decodePage(t, r); r.status != 429 || p.PolicyName != PolicyTenSecondly || !strings.Contains(string(r.body), `"errorType":"RATE_LIMIT"`) {
			t.Fatalf("4th request: %d %s", r.status, r.body)
		}
	})
	t.Run("secondly-search", func(t *testing.T) {
		_, ts, _ := newTestAPI(t, Options{SearchPerSecond: 2, RateLimit: 1})
		var statuses []int
		for range 3 {
			r := call(t, ts, "POST", "/crm/v3/objects/contacts/search", DefaultToken, searchBody(1, ""))
			statuses = append(statuses, r.status)
			if r.status == 429 && decodePage(t, r).PolicyName != PolicySecondly {
				t.Errorf("policy %s", r.body)
			}
		}
		if !slices.Equal(statuses, []int{200, 200, 429}) {
			t.Errorf("statuses %v", statuses)
		}
		// Searches do not use up the 10-second budget.
		if r := call(t, ts, "GET", "/crm/v3/objects/contacts?limit=1", DefaultToken, nil); r.status != 200 {
			t.Errorf("list after searches: %d", r.status)
		}
	})
	t.Run("daily", func(t *testing.T) {
		a, ts, clock := newTestAPI(t, Options{DailyLimit: 2})
		call(t, ts, "GET", "/crm/v3/objects/contacts?limit=1", DefaultToken, nil)
		r := call(t, ts, "GET", "/crm/v3/objects/contacts?limit=1", DefaultToken, nil)
		if r.header.Get("X-HubSpot-RateLimit-Daily-Remaining") != "0" || r.header.Get("X-HubSpot-RateLimit-Daily") != "2" {
			t.Errorf("daily headers %v", r.header)
		}
		r = call(t, ts, "POST", "/crm/v3/objects/contacts/search", DefaultToken, searchBody(1, ""))
		if p := decodePage(t, r); r.status != 429 || p.PolicyName != PolicyDaily {
			t.Fatalf("over the daily limit: %d %s", r.status, r.body)
		}
		clock.Set(t0.Add(24 * time.Hour)) // a new day
		if r := call(t, ts, "GET", "/crm/v3/objects/contacts?limit=1", DefaultToken, nil); r.status != 200 {
			t.Fatalf("next day: %d", r.status)
		}
		a.ExhaustDaily()
		if r := call(t, ts, "GET", "/crm/v3/objects/contacts?limit=1", DefaultToken, nil); r.status != 429 {
			t.Fatalf("after ExhaustDaily: %d", r.status)
		}
	})
}

func TestTouchAndArchive(t *testing.T) {
	a, ts, clock := newTestAPI(t, Options{})
	b, _, _ := newTestAPI(t, Options{})
	later := t0.Add(time.Hour + 123*time.Millisecond)
	clock.Set(later)

	before := map[string]string{}
	for _, r := range a.stores["deals"].recs {
		before[fmt.Sprint(r.id)] = r.props["dealstage"] + r.props["amount"]
	}
	ids := a.Touch("deals", 5)
	if len(ids) != 5 || !slices.IsSorted(ids) {
		t.Fatalf("Touch ids %v", ids)
	}
	if other := b.Touch("deals", 5); !slices.Equal(ids, other) {
		t.Errorf("Touch is not deterministic: %v vs %v", ids, other)
	}
	changed := 0
	for _, id := range ids {
		var n int64
		fmt.Sscan(id, &n)
		rec := a.stores["deals"].byID[n]
		if !rec.updated.Equal(later) || rec.props["hs_lastmodifieddate"] != "2026-03-10T13:00:00.123Z" {
			t.Errorf("touched %s: updated %v %q", id, rec.updated, rec.props["hs_lastmodifieddate"])
		}
		if before[id] != rec.props["dealstage"]+rec.props["amount"] {
			changed++
		}
	}
	if changed == 0 {
		t.Error("Touch changed no property values")
	}

	live, archived := a.Count("contacts"), a.Archived("contacts")
	gone := a.Archive("contacts", 4)
	if a.Count("contacts") != live-4 || a.Archived("contacts") != archived+4 {
		t.Fatalf("counts after Archive: %d %d", a.Count("contacts"), a.Archived("contacts"))
	}
	p := decodePage(t, call(t, ts, "POST", "/crm/v3/objects/contacts/search", DefaultToken,
		searchBody(200, "", filter("lastmodifieddate", "GTE", later.UnixMilli()))))
	if p.Total != 0 {
		t.Errorf("archived records found by search: %v", p.Results)
	}
	r := call(t, ts, "GET", "/crm/v3/objects/contacts/"+gone[0]+"?archived=true", DefaultToken, nil)
	if r.status != 200 || !strings.Contains(string(r.body), `"archivedAt":"2026-03-10T13:00:00.123Z"`) {
		t.Errorf("archived record: %d %s", r.status, r.body)
	}
	if got := a.Touch("nosuch", 1); got != nil {
		t.Errorf("Touch of an unknown object: %v", got)
	}
}

func TestAdminHTTP(t *testing.T) {
	a, _, clock := newTestAPI(t, Options{})
	clock.Set(t0.Add(time.Hour))
	admin := httptest.NewServer(a.Admin())
	defer admin.Close()
	post := func(path string) resp {
		r, err := http.Post(admin.URL+path, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return resp{status: r.StatusCode, body: b}
	}
	var ids struct{ IDs []string }
	if r := post("/touch?object=companies&n=2"); r.status != 200 || json.Unmarshal(r.body, &ids) != nil || len(ids.IDs) != 2 {
		t.Fatalf("touch: %d %s", r.status, r.body)
	}
	if r := post("/archive?object=companies&n=3"); r.status != 200 || !strings.Contains(string(r.body), `"ids":[`) {
		t.Fatalf("archive: %d %s", r.status, r.body)
	}
	if r := post("/touch?object=widgets&n=2"); r.status != 400 {
		t.Errorf("bad object: %d", r.status)
	}
	r, _ := http.Get(admin.URL + "/count?object=companies")
	var count struct{ Live, Archived int }
	json.NewDecoder(r.Body).Decode(&count)
	r.Body.Close()
	if count.Live != a.Count("companies") || count.Archived != a.Archived("companies") {
		t.Errorf("count %+v", count)
	}
	if r := post("/exhaust-daily"); r.status != 204 {
		t.Errorf("exhaust-daily: %d", r.status)
	}
	if a.Requests() != 0 {
		t.Errorf("admin calls counted as API requests: %d", a.Requests())
	}
}
