package pendo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
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

// t0 is 05:00 in Los Angeles (PDT, UTC-7) on 2026-03-10.
var t0 = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

func newTestAPI(t *testing.T, o Options) (*API, *httptest.Server, *clock) {
	t.Helper()
	c := &clock{t: t0}
	if o.Now == nil {
		o.Now = c.Now
	}
	if o.Accounts == 0 {
		o.Accounts, o.Visitors = 40, 300
	}
	if o.Days == 0 {
		o.Days = 30
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

func call(t *testing.T, ts *httptest.Server, method, path, key string, body any) answer {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, ts.URL+path, rd)
	if key != "" {
		req.Header.Set("x-pendo-integration-key", key)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, b}
}

func pipeline(steps ...any) map[string]any {
	return map[string]any{"response": map[string]any{"mimeType": "application/json"}, "request": map[string]any{"requestId": "t", "pipeline": steps}}
}

func eventsSource(source, period string, first int64, count int) map[string]any {
	return map[string]any{"source": map[string]any{source: nil, "timeSeries": map[string]any{"period": period, "first": first, "count": count}}}
}

// aggregate posts a pipeline and decodes its results.
func aggregate(t *testing.T, ts *httptest.Server, steps ...any) []map[string]any {
	t.Helper()
	r := call(t, ts, "POST", "/api/v1/aggregation", DefaultKey, pipeline(steps...))
	if r.status != 200 {
		t.Fatalf("aggregation: %d %s", r.status, r.body)
	}
	var out struct {
		Results   []map[string]any `json:"results"`
		StartTime int64            `json:"startTime"`
	}
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil || out.Results == nil || out.StartTime == 0 {
		t.Fatalf("aggregation body: %v %.300s", err, r.body)
	}
	return out.Results
}

func num(t *testing.T, v any) int64 {
	t.Helper()
	n, err := v.(json.Number).Int64()
	if err != nil {
		t.Fatalf("%v is not an integer", v)
	}
	return n
}

func TestListsAreBareArraysInEpochMillis(t *testing.T) {
	_, ts, _ := newTestAPI(t, Options{Pages: 12, Features: 20})
	for path, want := range map[string]int{"/api/v1/page": 12, "/api/v1/feature": 20} {
		r := call(t, ts, "GET", path, DefaultKey, nil)
		var objs []map[string]any
		if r.status != 200 || json.Unmarshal(r.body, &objs) != nil || len(objs) != want {
			t.Fatalf("%s: %d, %d objects, want %d: %.200s", path, r.status, len(objs), want, r.body)
		}
		for _, o := range objs {
			created, ok1 := o["createdAt"].(float64)
			updated, ok2 := o["lastUpdatedAt"].(float64)
			if !ok1 || !ok2 || created > updated || created < 1e12 || o["id"] == "" {
				t.Fatalf("%s: object %v", path, o)
			}
		}
	}
}

func TestAuth(t *testing.T) {
	a, ts, _ := newTestAPI(t, Options{})
	if r := call(t, ts, "GET", "/api/v1/page", "", nil); r.status != 401 {
		t.Errorf("no key: %d", r.status)
	}
	if r := call(t, ts, "GET", "/api/v1/page", "wrong", nil); r.status != 403 || bytes.Contains(r.body, []byte("wrong")) {
		t.Errorf("wrong key: %d %s", r.status, r.body)
	}
	if a.Requests() != 2 {
		t.Errorf("requests %d, want 2", a.Requests())
	}
}

// Day buckets start at the subscription's midnight, not UTC's, and `first`
// anywhere inside a day selects that day.
func TestDayBucketsFollowTheSubscriptionTimeZone(t *testing.T) {
	for _, zone := range []string{"America/Los_Angeles", "Asia/Kolkata", "UTC"} {
		t.Run(zone, func(t *testing.T) {
			a, ts, _ := newTestAPI(t, Options{TimeZone: zone})
			tz, _ := time.LoadLocation(zone)
			want := []int64{
				time.Date(2026, 3, 7, 0, 0, 0, 0, tz).UnixMilli(),
				time.Date(2026, 3, 8, 0, 0, 0, 0, tz).UnixMilli(), // the US switches to DST this day: 23 hours
				time.Date(2026, 3, 9, 0, 0, 0, 0, tz).UnixMilli(),
			}
			first := want[0] + 5*3600*1000 + 1234 // inside the first day
			rows := aggregate(t, ts, eventsSource(PageEvents, "dayRange", first, 3), map[string]any{"sort": []string{"day"}})
			days := map[int64]int{}
			for _, r := range rows {
				days[num(t, r["day"])]++
				if r["pageId"] == nil || r["visitorId"] == nil || r["accountId"] == nil || r["remoteIp"] == nil || r["server"] == nil {
					t.Fatalf("row %v", r)
				}
			}
			if len(days) != 3 {
				t.Fatalf("day values %v, want %v", days, want)
			}
			for _, d := range want {
				if days[d] == 0 {
					t.Errorf("no rows on day %d (%s); got %v", d, time.UnixMilli(d).In(tz), days)
				}
				if got := len(a.Events(PageEvents, time.UnixMilli(d))); got != days[d] {
					t.Errorf("Events(%s) = %d rows, the API served %d", time.UnixMilli(d).In(tz).Format(time.DateOnly), got, days[d])
				}
			}
			if zone != "UTC" && want[0]%86_400_000 == 0 {
				t.Errorf("day %d is a UTC midnight", want[0])
			}
			// A negative count walks back from first's day.
			back := aggregate(t, ts, eventsSource(PageEvents, "dayRange", want[2]+1, -2))
			if n := len(back); n != days[want[1]]+days[want[2]] {
				t.Errorf("count -2 gave %d rows, want %d", n, days[want[1]]+days[want[2]])
			}
		})
	}
}

func TestHourBucketsSplitTheDay(t *testing.T) {
	_, ts, _ := newTestAPI(t, Options{})
	tz, _ := time.LoadLocation(DefaultTimeZone)
	day := time.Date(2026, 3, 5, 0, 0, 0, 0, tz)
	sum := func(rows []map[string]any) (n int64) {
		for _, r := range rows {
			n += num(t, r["numEvents"])
		}
		return n
	}
	daily := aggregate(t, ts, eventsSource(FeatureEvents, "dayRange", day.UnixMilli(), 1))
	hourly := aggregate(t, ts, eventsSource(FeatureEvents, "hourRange", day.UnixMilli(), 24))
	if len(daily) == 0 || len(daily) != len(hourly) || sum(daily) != sum(hourly) {
		t.Fatalf("daily %d rows / %d events, hourly %d rows / %d events", len(daily), sum(daily), len(hourly), sum(hourly))
	}
	for _, r := range hourly {
		h := time.UnixMilli(num(t, r["hour"])).In(tz)
		if h.Minute() != 0 || h.Second() != 0 || h.Day() != 5 || r["featureId"] == nil {
			t.Fatalf("hour row %v (%s)", r, h)
		}
	}
}

func TestNoEventsOutsideHistory(t *testing.T) {
	a, ts, _ := newTestAPI(t, Options{Days: 10})
	old := a.DayStart(t0).AddDate(0, 0, -11)
	if rows := aggregate(t, ts, eventsSource(PageEvents, "dayRange", old.UnixMilli(), 1)); len(rows) != 0 {
		t.Errorf("%d rows before the history starts", len(rows))
	}
	if rows := aggregate(t, ts, eventsSource(PageEvents, "dayRange", old.UnixMilli(), 2)); len(rows) == 0 {
		t.Error("no rows on the first day of history")
	}
}

func TestVisitorsAndAccountsSteps(t *testing.T) {
	a, ts, c := newTestAPI(t, Options{})
	accts := aggregate(t, ts, map[string]any{"source": map[string]any{"accounts": nil}})
	if len(accts) != 40 {
		t.Fatalf("%d accounts", len(accts))
	}
	visitors := aggregate(t, ts, map[string]any{"source": map[string]any{"visitors": nil}})
	if len(visitors) != 300 {
		t.Fatalf("%d visitors", len(visitors))
	}
	for _, v := range visitors {
		if lookup(v, "metadata.auto.lastupdated") == nil || lookup(v, "metadata.auto.accountid") == nil {
			t.Fatalf("visitor %v", v)
		}
	}

	c.Set(t0.Add(time.Hour))
	touched := a.TouchAccounts(3)
	since := t0.Add(30 * time.Minute).UnixMilli()
	rows := aggregate(t, ts,
		map[string]any{"source": map[string]any{"accounts": nil}},
		map[string]any{"filter": fmt.Sprintf("metadata.auto.lastupdated >= %d", since)},
		map[string]any{"sort": []string{"-accountId"}},
		map[string]any{"select": map[string]string{"id": "accountId", "updated": "metadata.auto.lastupdated"}},
	)
	if len(rows) != 3 {
		t.Fatalf("filter returned %v, want %v", rows, touched)
	}
	for i, r := range rows {
		if r["id"] != touched[2-i] || num(t, r["updated"]) != t0.Add(time.Hour).UnixMilli() || len(r) != 2 {
			t.Errorf("row %d: %v, touched %v", i, r, touched)
		}
	}
	limited := aggregate(t, ts, map[string]any{"source": map[string]any{"visitors": nil}},
		map[string]any{"filter": `metadata.agent.role == "admin" || !(metadata.auto.lastupdated > 0)`}, map[string]any{"limit": 2})
	if len(limited) != 2 || lookup(limited[0], "metadata.agent.role") != "admin" {
		t.Errorf("filter/limit: %v", limited)
	}
}

func TestBadRequests(t *testing.T) {
	_, ts, _ := newTestAPI(t, Options{})
	for name, body := range map[string]any{
		"no pipeline":    map[string]any{"request": map[string]any{}},
		"no time series": pipeline(map[string]any{"source": map[string]any{PageEvents: nil}}),
		"bad period":     pipeline(eventsSource(PageEvents, "weekRange", t0.UnixMilli(), 1)),
		"bad filter":     pipeline(map[string]any{"source": map[string]any{"accounts": nil}}, map[string]any{"filter": "accountId =="}),
		"unknown step":   pipeline(map[string]any{"source": map[string]any{"accounts": nil}}, map[string]any{"explode": 1}),
		"unknown source": pipeline(map[string]any{"source": map[string]any{"guides": nil}}),
	} {
		if r := call(t, ts, "POST", "/api/v1/aggregation", DefaultKey, body); r.status != 400 || len(r.body) == 0 {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
}

func TestRateLimitWithoutRetryAfter(t *testing.T) {
	_, ts, _ := newTestAPI(t, Options{RateLimit: 3})
	var codes []int
	for range 5 {
		r := call(t, ts, "GET", "/api/v1/page", DefaultKey, nil)
		codes = append(codes, r.status)
		if r.status == 429 && r.header.Get("Retry-After") != "" {
			t.Errorf("429 carries Retry-After %q", r.header.Get("Retry-After"))
		}
	}
	if fmt.Sprint(codes) != "[200 200 200 429 429]" {
		t.Errorf("statuses %v", codes)
	}
}

func TestAddEventsChangesTheDay(t *testing.T) {
	a, ts, _ := newTestAPI(t, Options{})
	day := a.DayStart(t0).AddDate(0, 0, -1)
	before := a.Events(PageEvents, day)
	changed := a.AddEvents(PageEvents, day, 4)
	after := a.Events(PageEvents, day)
	if len(changed) != 4 || len(after) != len(before)+2 {
		t.Fatalf("changed %d rows; %d rows before, %d after", len(changed), len(before), len(after))
	}
	served := aggregate(t, ts, eventsSource(PageEvents, "dayRange", day.UnixMilli(), 1))
	if len(served) != len(after) {
		t.Fatalf("served %d rows, Events says %d", len(served), len(after))
	}
	set := map[string]bool{}
	for _, r := range after {
		set[string(r)] = true
	}
	for _, r := range changed {
		if !set[string(r)] {
			t.Errorf("changed row %s is not what the API serves", r)
		}
	}
	if a.AddEvents(PageEvents, a.DayStart(t0).AddDate(0, 0, 1), 3) != nil {
		t.Error("events added to a future day")
	}
}

func TestAccountsDeriveFromCompanies(t *testing.T) {
	companies := fake.Numbered(60)
	a, ts, _ := newTestAPI(t, Options{Companies: companies})
	known := map[string]bool{}
	for _, c := range companies {
		known[c.Domain] = true
	}
	matched, variants := 0, map[string]int{}
	for _, m := range a.Matches() {
		variants[m.Variant]++
		switch {
		case m.Company != "":
			matched++
			if !known[m.Company] || fake.CanonicalDomain(m.Domain) != m.Company {
				t.Errorf("match %+v does not canonicalise to its company", m)
			}
		case known[fake.CanonicalDomain(m.Domain)] || m.Variant != fake.VariantUnmatched:
			t.Errorf("stranger %+v collides with a company", m)
		}
	}
	if matched != 30 { // 0.75 of 40 accounts
		t.Errorf("%d matched accounts, want 30 (variants %v)", matched, variants)
	}
	rows := aggregate(t, ts, map[string]any{"source": map[string]any{"accounts": nil}})
	for i, m := range a.Matches() {
		if rows[i]["accountId"] != m.ID || lookup(rows[i], "metadata.agent.domain") != m.Domain {
			t.Fatalf("account %v vs match %+v", rows[i], m)
		}
	}
}

func TestSeededDataIsRepeatable(t *testing.T) {
	_, ts1, _ := newTestAPI(t, Options{Seed: 5})
	_, ts2, _ := newTestAPI(t, Options{Seed: 5})
	for _, path := range []string{"/api/v1/page", "/api/v1/feature"} {
		if a, b := call(t, ts1, "GET", path, DefaultKey, nil), call(t, ts2, "GET", path, DefaultKey, nil); !bytes.Equal(a.body, b.body) {
			t.Errorf("%s differs between two sandboxes of one seed", path)
		}
	}
	body := pipeline(eventsSource(PageEvents, "dayRange", t0.Add(-72*time.Hour).UnixMilli(), 3))
	a, b := call(t, ts1, "POST", "/api/v1/aggregation", DefaultKey, body), call(t, ts2, "POST", "/api/v1/aggregation", DefaultKey, body)
	if !bytes.Equal(a.body, b.body) {
		t.Error("events differ between two sandboxes of one seed")
	}
}

func TestAdminOverHTTP(t *testing.T) {
	a, _, _ := newTestAPI(t, Options{})
	adm := httptest.NewServer(a.Admin())
	defer adm.Close()
	resp, err := http.Post(adm.URL+"/add-events?source=featureEvents&day=2026-03-09&n=3", "", nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("add-events: %v %v", resp, err)
	}
	var got struct{ Rows []json.RawMessage }
	json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if len(got.Rows) != 3 || !strings.Contains(string(got.Rows[0]), `"featureId"`) {
		t.Errorf("add-events rows %s", got.Rows)
	}
	resp, _ = http.Post(adm.URL+"/touch-visitors?n=2", "", nil)
	var ids struct{ IDs []string }
	json.NewDecoder(resp.Body).Decode(&ids)
	resp.Body.Close()
	if len(ids.IDs) != 2 {
		t.Errorf("touch-visitors: %v", ids)
	}
	if a.Requests() != 0 {
		t.Errorf("admin calls counted: %d", a.Requests())
	}
}
