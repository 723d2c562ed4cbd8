package googleanalytics_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/jwt"

	ga "github.com/meshflow/meshflow/dev/sandbox/googleanalytics"
)

// clock is 11:30 in New York, 16:30 in Berlin.
var clock = time.Date(2025, 3, 12, 15, 30, 0, 0, time.UTC)

const ny = "123456789"

type env struct {
	api *ga.API
	ts  *httptest.Server
	tok string
}

func start(t *testing.T, o ga.Options) *env {
	t.Helper()
	if o.Now == nil {
		o.Now = func() time.Time { return clock }
	}
	api := ga.New(o)
	ts := httptest.NewServer(api)
	t.Cleanup(ts.Close)
	e := &env{api: api, ts: ts}
	e.tok = e.token(t, api.ServiceAccountJSON(ts.URL+"/token"))
	return e
}

// token runs the real client library's JWT flow against the imitation.
func (e *env) token(t *testing.T, keyJSON []byte) string {
	t.Helper()
	cfg, err := jwtConfig(keyJSON, ga.Scope)
	if err != nil {
		t.Fatalf("the key file does not parse as a Google service-account key: %v", err)
	}
	if cfg.TokenURL != e.ts.URL+"/token" {
		t.Fatalf("token_uri %q, want the sandbox's", cfg.TokenURL)
	}
	tok, err := cfg.TokenSource(t.Context()).Token()
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	return tok.AccessToken
}

func (e *env) report(t *testing.T, property string, body any) (int, map[string]json.RawMessage, []byte) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequestWithContext(t.Context(), "POST", e.ts.URL+"/v1beta/properties/"+property+":runReport", bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+e.tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]json.RawMessage
	json.Unmarshal(raw, &m)
	return resp.StatusCode, m, raw
}

func (e *env) mustReport(t *testing.T, property string, body any) ga.Report {
	t.Helper()
	code, _, raw := e.report(t, property, body)
	if code != 200 {
		t.Fatalf("runReport: %d %s", code, raw)
	}
	var r ga.Report
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func day(date string, dims []string, metrics []string) map[string]any {
	req := map[string]any{"dateRanges": []map[string]string{{"startDate": date, "endDate": date}}}
	var d, m, ob []map[string]any
	for _, n := range dims {
		d = append(d, map[string]any{"name": n})
		ob = append(ob, map[string]any{"dimension": map[string]string{"dimensionName": n}})
	}
	for _, n := range metrics {
		m = append(m, map[string]any{"name": n})
	}
	req["dimensions"], req["metrics"], req["orderBys"] = d, m, ob
	return req
}

var defDims = []string{"date", "sessionDefaultChannelGroup", "landingPage"}

func TestTokenEndpoint(t *testing.T) {
	e := start(t, ga.Options{})
	if !strings.HasPrefix(e.tok, "ya29.") {
		t.Errorf("access token %q", e.tok)
	}
	if got := ga.ServiceAccountJSON(1, "", "x"); !bytes.Equal(got, e.api.ServiceAccountJSON("x")) {
		t.Error("the key of seed 1 differs between the helper and the API")
	}

	// A well-formed key the sandbox does not know: Google's invalid_grant.
	cfg, err := jwtConfig(ga.ServiceAccountJSON(2, "", e.ts.URL+"/token"), ga.Scope)
	if err != nil {
		t.Fatal(err)
	}
	_, err = cfg.TokenSource(t.Context()).Token()
	var re *oauth2.RetrieveError
	if !asRetrieve(err, &re) || re.Response.StatusCode != 400 || !strings.Contains(string(re.Body), `"error":"invalid_grant"`) || !strings.Contains(string(re.Body), "Signature") {
		t.Errorf("token with a foreign key: %v", err)
	}

	// The wrong audience is refused; Google's own token URL is accepted.
	for aud, ok := range map[string]bool{"https://evil.example/token": false, ga.GoogleTokenURL: true} {
		c := *cfg
		key := ga.ServiceAccountJSON(1, "", "")
		var f struct {
			PrivateKey string `json:"private_key"`
		}
		json.Unmarshal(key, &f)
		c.PrivateKey, c.Audience = []byte(f.PrivateKey), aud
		_, err := (&c).TokenSource(t.Context()).Token()
		if (err == nil) != ok {
			t.Errorf("audience %s: %v", aud, err)
		}
	}

	resp, err := http.PostForm(e.ts.URL+"/token", url.Values{"grant_type": {"client_credentials"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(body), "unsupported_grant_type") {
		t.Errorf("wrong grant: %d %s", resp.StatusCode, body)
	}
	if n := e.api.TokenRequests(); n != 5 {
		t.Errorf("%d token requests counted, want 5", n)
	}
}

// jwtConfig reads a service-account key file the way golang.org/x/oauth2/google
// does (that package would pull in the GCE metadata client).
func jwtConfig(keyJSON []byte, scope string) (*jwt.Config, error) {
	var f struct {
		Type, ClientEmail, PrivateKey, PrivateKeyID, TokenURI string
	}
	var raw map[string]string
	if err := json.Unmarshal(keyJSON, &raw); err != nil {
		return nil, err
	}
	f.Type, f.ClientEmail, f.PrivateKey, f.PrivateKeyID, f.TokenURI = raw["type"], raw["client_email"], raw["private_key"], raw["private_key_id"], raw["token_uri"]
	if f.Type != "service_account" || f.ClientEmail == "" || f.PrivateKey == "" || f.TokenURI == "" {
		return nil, errors.New("not a service-account key file")
	}
	return &jwt.Config{Email: f.ClientEmail, PrivateKey: []byte(f.PrivateKey), PrivateKeyID: f.PrivateKeyID, Scopes: []string{scope}, TokenURL: f.TokenURI}, nil
}

func asRetrieve(err error, re **oauth2.RetrieveError) bool {
	for err != nil {
		if r, ok := err.(*oauth2.RetrieveError); ok {
			*re = r
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

func TestAuthErrors(t *testing.T) {
	e := start(t, ga.Options{})
	for _, c := range []struct {
		tok, prop string
		code      int
		status    string
	}{
		{"", ny, 401, "UNAUTHENTICATED"},
		{"ya29.forged", ny, 401, "UNAUTHENTICATED"},
		{e.tok, "555", 403, "PERMISSION_DENIED"},
	} {
		e2 := *e
		e2.tok = c.tok
		code, m, raw := e2.report(t, c.prop, day("2025-03-01", defDims, []string{"sessions"}))
		var body struct {
			Error struct {
				Code   int
				Status string
			}
		}
		json.Unmarshal(m["error"], &body.Error)
		if code != c.code || body.Error.Code != c.code || body.Error.Status != c.status {
			t.Errorf("token %q property %s: %d %s", c.tok, c.prop, code, raw)
		}
	}
	code, _, raw := e.report(t, ny, day("2025-03-01", []string{"city"}, []string{"sessions"}))
	if code != 400 || !strings.Contains(string(raw), "INVALID_ARGUMENT") || !strings.Contains(string(raw), "city") {
		t.Errorf("unknown dimension: %d %s", code, raw)
	}
}

func TestReportPagingAndTypes(t *testing.T) {
	e := start(t, ga.Options{})
	metrics := []string{"sessions", "totalUsers", "activeUsers", "conversions", "screenPageViews", "engagementRate"}
	full := e.mustReport(t, ny, day("2025-03-03", defDims, metrics))
	if full.RowCount < 20 || len(full.Rows) != full.RowCount {
		t.Fatalf("a day has %d rows (rowCount %d); want a few dozen", len(full.Rows), full.RowCount)
	}
	wantTypes := []string{"TYPE_INTEGER", "TYPE_INTEGER", "TYPE_INTEGER", "TYPE_INTEGER", "TYPE_INTEGER", "TYPE_FLOAT"}
	for i, h := range full.MetricHeaders {
		if h.Name != metrics[i] || h.Type != wantTypes[i] {
			t.Errorf("metric header %d: %+v", i, h)
		}
	}
	if full.Metadata.TimeZone != "America/New_York" || full.Metadata.CurrencyCode != "USD" {
		t.Errorf("metadata %+v", full.Metadata)
	}
	for _, r := range full.Rows {
		if r.DimensionValues[0].Value != "20250303" {
			t.Fatalf("date dimension %q, want YYYYMMDD", r.DimensionValues[0].Value)
		}
	}

	var paged []ga.Row
	for offset := 0; ; offset += 7 {
		req := day("2025-03-03", defDims, metrics)
		req["limit"], req["offset"] = "7", offset // int64 fields may come as strings
		p := e.mustReport(t, ny, req)
		if p.RowCount != full.RowCount {
			t.Fatalf("rowCount %d at offset %d, want %d whatever the page", p.RowCount, offset, full.RowCount)
		}
		paged = append(paged, p.Rows...)
		if offset+7 >= p.RowCount {
			break
		}
	}
	if !reflect.DeepEqual(paged, full.Rows) {
		t.Error("pages with orderBys do not add up to the whole report in order")
	}

	// orderBys by a metric, descending.
	req := day("2025-03-03", defDims, metrics)
	req["orderBys"] = []any{map[string]any{"metric": map[string]string{"metricName": "sessions"}, "desc": true}}
	byMetric := e.mustReport(t, ny, req)
	if !slices.IsSortedFunc(byMetric.Rows, func(a, b ga.Row) int { return atoi(b.MetricValues[0].Value) - atoi(a.MetricValues[0].Value) }) {
		t.Error("rows are not ordered by sessions descending")
	}

	// A quota report when asked.
	req = day("2025-03-03", defDims, metrics)
	req["returnPropertyQuota"] = true
	if q := e.mustReport(t, ny, req).PropertyQuota; q == nil || q.TokensPerHour.Consumed != 10 || q.TokensPerDay.Remaining <= 0 {
		t.Errorf("propertyQuota %+v", q)
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func TestEmptyReportHasNoRows(t *testing.T) {
	e := start(t, ga.Options{Days: 30})
	for _, date := range []string{"2024-01-01", "2025-03-20"} { // before the history; after today
		code, m, raw := e.report(t, ny, day(date, defDims, []string{"sessions"}))
		if code != 200 {
			t.Fatalf("%s: %d %s", date, code, raw)
		}
		if _, ok := m["rows"]; ok {
			t.Errorf("%s: an empty report has a rows key: %s", date, raw)
		}
		if _, ok := m["rowCount"]; ok {
			t.Errorf("%s: an empty report has a rowCount: %s", date, raw)
		}
		if _, ok := m["metricHeaders"]; !ok {
			t.Errorf("%s: headers missing: %s", date, raw)
		}
	}
	// Offset past the end: no rows, but the total.
	req := day("2025-03-03", defDims, []string{"sessions"})
	req["offset"] = 10_000
	code, m, raw := e.report(t, ny, req)
	if _, ok := m["rows"]; ok || code != 200 || string(m["rowCount"]) == "" {
		t.Errorf("offset past the end: %d %s", code, raw)
	}
}

func TestKeepEmptyRows(t *testing.T) {
	e := start(t, ga.Options{})
	dims := []string{"date", "sessionDefaultChannelGroup", "landingPage", "country", "deviceCategory"}
	for _, date := range []string{"2025-03-01", "2025-03-02", "2025-03-03", "2025-03-04"} {
		plain := e.mustReport(t, "987654321", day(date, dims, []string{"conversions"}))
		req := day(date, dims, []string{"conversions"})
		req["keepEmptyRows"] = true
		kept := e.mustReport(t, "987654321", req)
		if kept.RowCount <= plain.RowCount {
			t.Errorf("%s: keepEmptyRows gives %d rows, without %d: zero rows should be omitted by default", date, kept.RowCount, plain.RowCount)
		}
		for _, r := range plain.Rows {
			if r.MetricValues[0].Value == "0" {
				t.Fatalf("%s: an all-zero row without keepEmptyRows", date)
			}
		}
	}
}

func TestLastTwoDaysSettle(t *testing.T) {
	e := start(t, ga.Options{})
	get := func(date string) []ga.Row {
		return e.mustReport(t, ny, day(date, defDims, []string{"sessions", "screenPageViews"})).Rows
	}
	yesterday, before, old := get("2025-03-11"), get("2025-03-10"), get("2025-03-07")
	if !reflect.DeepEqual(yesterday, get("2025-03-11")) {
		t.Fatal("the same request within the hour gave other numbers")
	}
	e.api.Advance(3 * time.Hour)
	if reflect.DeepEqual(yesterday, get("2025-03-11")) || reflect.DeepEqual(before, get("2025-03-10")) {
		t.Error("yesterday and the day before did not settle when re-requested hours later")
	}
	if !reflect.DeepEqual(old, get("2025-03-07")) {
		t.Error("a settled day changed")
	}
	e.api.Advance(72 * time.Hour)
	settled := get("2025-03-11")
	e.api.Advance(24 * time.Hour)
	if !reflect.DeepEqual(settled, get("2025-03-11")) {
		t.Error("a day changed after 48 hours")
	}
}

func TestLateHits(t *testing.T) {
	e := start(t, ga.Options{})
	before := e.mustReport(t, ny, day("2025-03-05", defDims, []string{"sessions"}))
	rows, err := e.api.LateHits(ny, "2025-03-05", defDims, 3)
	if err != nil || len(rows) != 3 {
		t.Fatalf("LateHits: %v %v", rows, err)
	}
	after := e.mustReport(t, ny, day("2025-03-05", defDims, []string{"sessions"}))
	var changed [][]string
	old := map[string]string{}
	for _, r := range before.Rows {
		old[dimsOf(r)] = r.MetricValues[0].Value
	}
	for _, r := range after.Rows {
		if old[dimsOf(r)] != r.MetricValues[0].Value {
			changed = append(changed, strings.Split(dimsOf(r), "|"))
		}
	}
	if !reflect.DeepEqual(changed, rows) {
		t.Errorf("changed rows %v, LateHits said %v", changed, rows)
	}
}

func dimsOf(r ga.Row) string {
	var s []string
	for _, v := range r.DimensionValues {
		s = append(s, v.Value)
	}
	return strings.Join(s, "|")
}

func TestQuotas(t *testing.T) {
	e := start(t, ga.Options{TokensPerHour: 30, TokensPerDay: 50})
	status := func() (int, string) {
		code, _, raw := e.report(t, ny, day("2025-03-03", defDims, []string{"sessions"}))
		return code, string(raw)
	}
	for i := range 3 {
		if code, raw := status(); code != 200 {
			t.Fatalf("request %d within the budget: %d %s", i, code, raw)
		}
	}
	code, raw := status()
	if code != 429 || !strings.Contains(raw, `"status":"RESOURCE_EXHAUSTED"`) || !strings.Contains(raw, "tokens per hour") {
		t.Fatalf("over the hourly budget: %d %s", code, raw)
	}
	// Another property has its own budget.
	if code, _, raw := e.report(t, "987654321", day("2025-03-03", defDims, []string{"sessions"})); code != 200 {
		t.Fatalf("other property: %d %s", code, raw)
	}
	e.api.Advance(time.Hour)
	status()
	status()
	if code, raw := status(); code != 429 || !strings.Contains(raw, "tokens per day") {
		t.Fatalf("over the daily budget: %d %s", code, raw)
	}
	e.api.Advance(24 * time.Hour)
	if code, raw := status(); code != 200 {
		t.Fatalf("the next day: %d %s", code, raw)
	}
	e.api.ExhaustHourly()
	if code, raw := status(); code != 429 || !strings.Contains(raw, "per hour") {
		t.Fatalf("ExhaustHourly: %d %s", code, raw)
	}
}

func TestReportHelperMatchesWire(t *testing.T) {
	e := start(t, ga.Options{})
	req := ga.ReportRequest{
		DateRanges: []ga.DateRange{{StartDate: "2025-02-01", EndDate: "yesterday"}},
		Dimensions: []ga.Named{{Name: "date"}, {Name: "country"}},
		Metrics:    []ga.Named{{Name: "sessions"}},
	}
	direct, err := e.api.Report(ny, req)
	if err != nil {
		t.Fatal(err)
	}
	before := e.api.Requests()
	wire := e.mustReport(t, ny, req)
	if direct.RowCount != wire.RowCount || direct.RowCount < 28*5 {
		t.Errorf("Report %d rows, runReport %d", direct.RowCount, wire.RowCount)
	}
	if e.api.Requests() != before+1 {
		t.Error("Report counted as a request")
	}
}

// Daily tokens come back at midnight Pacific time, not at the property's midnight:
// a Berlin property exhausted in the afternoon is still refused after Berlin's
// midnight, one second before Los Angeles' (in daylight time: 07:00 UTC), and
// served from it on.
func TestDailyQuotaTurnsOverAtPacificMidnight(t *testing.T) {
	const berlin = "987654321"
	e := start(t, ga.Options{TokensPerHour: -1, TokensPerDay: 1000})
	ask := func() (int, string) {
		code, _, raw := e.report(t, berlin, day("2025-03-03", defDims, []string{"sessions"}))
		return code, string(raw)
	}
	e.api.ExhaustDaily()
	for _, at := range []time.Time{
		clock,
		time.Date(2025, 3, 12, 23, 0, 0, 0, time.UTC), // 00:00 in Berlin (CET)
		time.Date(2025, 3, 13, 6, 59, 59, 0, time.UTC),
	} {
		e.api.SetNow(at)
		if code, raw := ask(); code != 429 || !strings.Contains(raw, "tokens per day") {
			t.Fatalf("at %s: %d %s, want 429 for the day's tokens", at, code, raw)
		}
	}
	e.api.SetNow(time.Date(2025, 3, 13, 7, 0, 0, 0, time.UTC)) // 00:00 PDT
	if code, raw := ask(); code != 200 {
		t.Fatalf("at midnight Pacific time: %d %s", code, raw)
	}
}
