package googleanalytics_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshflow/meshflow/connectors/googleanalytics"
	"github.com/meshflow/meshflow/dev/sandbox"
	sbga "github.com/meshflow/meshflow/dev/sandbox/googleanalytics"
	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/secret"
	"github.com/meshflow/meshflow/framework/source"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// t0 is 11:30 in New York (EDT, UTC−4) and 16:30 in Berlin (CET, UTC+1).
var t0 = time.Date(2025, 3, 12, 15, 30, 0, 0, time.UTC)

const (
	nyProp     = "123456789"
	berlinProp = "987654321"
)

// fixture is a sandbox and a connector on one settable clock.
type fixture struct {
	clock *clock
	sb    *sandbox.Server
	ts    *httptest.Server
	src   *googleanalytics.Source
	st    source.Stream
}

func newFixture(t *testing.T, ga sbga.Options, cfg func(*googleanalytics.Config)) *fixture {
	t.Helper()
	f := &fixture{clock: &clock{t: t0}}
	if ga.TokensPerHour == 0 {
		ga.TokensPerHour, ga.TokensPerDay = -1, -1
	}
	f.sb = sandbox.New(&sandbox.Options{Connectors: []source.Connector{googleanalytics.Connector}, Seed: seed, Now: f.clock.Now, Settings: []any{ga}})
	f.ts = httptest.NewServer(f.sb)
	t.Cleanup(f.ts.Close)
	c := config(f.ts.URL, seed)
	c.StartDate = "2025-03-01"
	if cfg != nil {
		cfg(&c)
	}
	src, err := googleanalytics.New(c, &googleanalytics.Options{RequestsPerSecond: -1, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	f.src = src
	f.st, _ = source.Lookup(src, googleanalytics.StreamName)
	return f
}

func (f *fixture) reportRequests() int {
	return sandbox.Get[*sbga.API](f.sb).Requests() - sandbox.Get[*sbga.API](f.sb).TokenRequests()
}

// read reads to the end from cursor, failing the test on an error.
func (f *fixture) read(t *testing.T, cursor json.RawMessage, partition string) ([]rec, json.RawMessage, source.Stats) {
	t.Helper()
	var out []rec
	next := cursor
	st, err := source.NewReader(f.st, &source.ReaderOptions{Sleep: noSleep}).Read(t.Context(),
		source.PageRequest{Cursor: cursor, SyncStart: f.clock.Now(), Partition: partition},
		func(p source.Page) error {
			for _, r := range p.Records {
				out = append(out, decodeRec(t, r))
			}
			next = p.Next
			return nil
		})
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return out, next, st
}

func noSleep(ctx context.Context, _ time.Duration) error { return ctx.Err() }

// rec is a landed record as the tests look at it.
type rec struct {
	PropertyID  string            `json:"property_id"`
	Date        string            `json:"date"`
	Dimensions  map[string]string `json:"dimensions"`
	Metrics     map[string]string `json:"metrics"`
	MetricTypes map[string]string `json:"metric_types"`
	PulledAt    string            `json:"pulled_at"`
	TimeZone    string            `json:"time_zone"`
	Row         json.RawMessage   `json:"row"`
	raw         json.RawMessage
}

func decodeRec(t *testing.T, b json.RawMessage) rec {
	t.Helper()
	var r rec
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("record %s: %v", b, err)
	}
	r.raw = b
	return r
}

func (r rec) key() string {
	return r.PropertyID + "|" + r.Dimensions["date"] + "|" + r.Dimensions["sessionDefaultChannelGroup"] + "|" + r.Dimensions["landingPage"]
}

// truth is what the sandbox reports now for property on day, by record key.
func (f *fixture) truth(t *testing.T, property, day string) map[string][]string {
	t.Helper()
	rep, err := sandbox.Get[*sbga.API](f.sb).Report(property, defaultReport(day, day))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, r := range rep.Rows {
		k := property
		for _, d := range r.DimensionValues {
			k += "|" + d.Value
		}
		for _, m := range r.MetricValues {
			out[k] = append(out[k], m.Value)
		}
	}
	return out
}

func metricsOf(r rec) []string {
	var out []string
	for _, m := range googleanalytics.DefaultMetrics {
		out = append(out, r.Metrics[m])
	}
	return out
}

func TestOffsetPagingToRowCount(t *testing.T) {
	f := newFixture(t, sbga.Options{}, func(c *googleanalytics.Config) { c.PageSize = 7; c.PropertyIDs = []string{nyProp} })
	want := f.truth(t, nyProp, "2025-03-05")
	recs, _, st := f.read(t, nil, "2025-03-05")
	if len(recs) != len(want) || len(want) < 20 {
		t.Fatalf("%d records, the report has %d rows", len(recs), len(want))
	}
	if pages := (len(want) + 6) / 7; st.Pages != pages || f.reportRequests() != pages {
		t.Errorf("%d pages and %d requests for %d rows of 7: want %d of each (one request per page)", st.Pages, f.reportRequests(), len(want), pages)
	}
	seen := map[string]bool{}
	for _, r := range recs {
		if seen[r.key()] {
			t.Errorf("row %s twice: offset pages overlap", r.key())
		}
		seen[r.key()] = true
		if !slices.Equal(metricsOf(r), want[r.key()]) {
			t.Errorf("row %s: %v, the report says %v", r.key(), metricsOf(r), want[r.key()])
		}
	}
}

func TestEmptyReport(t *testing.T) {
	f := newFixture(t, sbga.Options{}, nil)
	recs, next, st := f.read(t, nil, "2023-01-01") // before the sandbox's year of history
	if len(recs) != 0 || st.Pages != 2 || f.reportRequests() != 2 {
		t.Errorf("empty day: %d records, %d pages, %d requests (want 0 and one page and request per property)", len(recs), st.Pages, f.reportRequests())
	}
	if !strings.Contains(string(next), `"v":1`) {
		t.Errorf("cursor %s is not versioned", next)
	}
}

func TestTypedFields(t *testing.T) {
	metrics := []string{"sessions", "engagementRate", "averageSessionDuration", "totalRevenue", "keyEvents"}
	f := newFixture(t, sbga.Options{}, func(c *googleanalytics.Config) {
		c.PropertyIDs, c.Metrics = []string{nyProp}, metrics
		c.Dimensions = []string{"deviceCategory"} // date is added first
	})
	spec := f.st.Spec()
	types := map[string]source.Type{}
	for _, fl := range spec.Fields {
		types[fl.Name] = fl.Type
	}
	want := map[string]source.Type{
		"property_id": source.String, "date": source.Date, "device_category": source.String,
		"sessions": source.Int64, "engagement_rate": source.Float64, "average_session_duration": source.Float64,
		"total_revenue": source.Float64, "key_events": source.Int64, "pulled_at": source.Timestamp,
	}
	if !mapsEqual(types, want) {
		t.Errorf("field types %v, want %v", types, want)
	}
	if !slices.Equal(spec.PrimaryKey, []string{"property_id", "date", "device_category"}) || spec.CursorField != "pulled_at" {
		t.Errorf("key %v cursor %q", spec.PrimaryKey, spec.CursorField)
	}

	recs, _, _ := f.read(t, nil, "2025-03-05")
	if len(recs) != 3 {
		t.Fatalf("%d rows by device, want 3", len(recs))
	}
	r := recs[0]
	wantTypes := map[string]string{"sessions": "TYPE_INTEGER", "engagementRate": "TYPE_FLOAT", "averageSessionDuration": "TYPE_SECONDS", "totalRevenue": "TYPE_CURRENCY", "keyEvents": "TYPE_INTEGER"}
	if !mapsEqual(r.MetricTypes, wantTypes) || r.TimeZone != "America/New_York" || len(r.Row) == 0 {
		t.Errorf("record %s", r.raw)
	}
	vals, err := source.Extract(r.raw, spec.Fields)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]any{}
	for i, fl := range spec.Fields {
		got[fl.Name] = vals[i]
	}
	if d, ok := got["date"].(time.Time); !ok || d != time.Date(2025, 3, 5, 0, 0, 0, 0, time.UTC) {
		t.Errorf("date %v", got["date"])
	}
	if _, ok := got["sessions"].(int64); !ok {
		t.Errorf("sessions %T", got["sessions"])
	}
	if v, ok := got["engagement_rate"].(float64); !ok || v <= 0 || v >= 1 {
		t.Errorf("engagement_rate %v", got["engagement_rate"])
	}
	if p, ok := got["pulled_at"].(time.Time); !ok || !p.Equal(t0) {
		t.Errorf("pulled_at %v, want the clock %v", got["pulled_at"], t0)
	}

	// A metric the connector does not know is Float64: exact for GA4's integers
	// up to 2^53 and right for every float type.
	src, err := googleanalytics.New(googleanalytics.Config{
		PropertyIDs: []string{"1"}, CredentialsJSON: f.key(), Metrics: []string{"customEvent:plan_value", "sessions"},
		Dimensions: []string{"customUser:tier"},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, fl := range src.Streams()[0].Spec().Fields {
		names = append(names, fmt.Sprintf("%s:%s", fl.Name, fl.Type))
	}
	if want := "property_id:string date:date custom_user_tier:string custom_event_plan_value:float64 sessions:int64 pulled_at:timestamp"; strings.Join(names, " ") != want {
		t.Errorf("fields %v, want %s", names, want)
	}
}

func (f *fixture) key() secret.Value {
	return secret.Value(sbga.ServiceAccountJSON(seed, "", sbga.TokenURL(f.ts.URL)))
}

func mapsEqual[K comparable, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// The lookback re-pull: numbers of the last two days settle, and an
// incremental read lands exactly the rows whose numbers changed, with the
// numbers GA4 reports now.
func TestLookbackRepullsSettlingDays(t *testing.T) {
	f := newFixture(t, sbga.Options{}, nil)
	full, cursor, _ := f.read(t, nil, "")
	days := map[string]bool{}
	for _, r := range full {
		days[r.PropertyID+" "+r.Date] = true
	}
	// NY's yesterday is the 11th; Berlin's too. The 1st through the 11th: 11 days each.
	if len(days) != 22 || !days[nyProp+" 20250311"] || days[nyProp+" 20250312"] || !days[berlinProp+" 20250301"] {
		t.Fatalf("full read covers %d property-days: %v", len(days), days)
	}

	quiet, cursor, _ := f.read(t, cursor, "")
	if len(quiet) != 0 {
		t.Fatalf("nothing changed, yet %d records", len(quiet))
	}
	// Four days (the last one and three of lookback) of each property were pulled again.
	if n := f.reportRequests(); n < 2*11+2*4 {
		t.Errorf("%d requests: the quiet read did not re-pull the lookback window", n)
	}

	f.clock.Add(3 * time.Hour) // the last two days settle a little
	settled, cursor, _ := f.read(t, cursor, "")
	if len(settled) == 0 {
		t.Fatal("no records after the last two days settled")
	}
	for _, r := range settled {
		if r.Date != "20250311" && r.Date != "20250310" {
			t.Errorf("record of %s, only the 10th and 11th were still settling", r.Date)
		}
		day := r.Date[:4] + "-" + r.Date[4:6] + "-" + r.Date[6:]
		if want := f.truth(t, r.PropertyID, day)[r.key()]; !slices.Equal(metricsOf(r), want) {
			t.Errorf("%s: landed %v, GA4 now says %v", r.key(), metricsOf(r), want)
		}
	}

	f.clock.Add(24 * time.Hour) // the 12th is over: a new day, and more settling
	next, cursor, _ := f.read(t, cursor, "")
	byDay := map[string]int{}
	for _, r := range next {
		byDay[r.Date]++
	}
	if byDay["20250312"] != len(f.truth(t, nyProp, "2025-03-12"))+len(f.truth(t, berlinProp, "2025-03-12")) {
		t.Errorf("the new day landed %d rows of %d", byDay["20250312"], len(f.truth(t, nyProp, "2025-03-12"))+len(f.truth(t, berlinProp, "2025-03-12")))
	}
	if byDay["20250309"] != 0 || byDay["20250308"] != 0 {
		t.Errorf("settled days came back: %v", byDay)
	}

	f.clock.Add(72 * time.Hour) // everything settles
	f.read(t, cursor, "")
	_, cursor, _ = f.read(t, cursor, "")
	again, _, _ := f.read(t, cursor, "")
	if len(again) != 0 {
		t.Errorf("%d records from an unchanged window", len(again))
	}
	if len(cursor) > 8<<10 {
		t.Errorf("the cursor is %d bytes", len(cursor))
	}
}

// A partition is exactly its day, every row each time, and leaves the state of
// incremental syncs as it was.
func TestPartition(t *testing.T) {
	f := newFixture(t, sbga.Options{}, nil)
	_, inc, _ := f.read(t, nil, "")
	a, after, _ := f.read(t, inc, "2025-03-04")
	b, _, _ := f.read(t, inc, "2025-03-04")
	if len(a) == 0 || len(a) != len(b) {
		t.Fatalf("partition reads: %d then %d records", len(a), len(b))
	}
	for _, r := range a {
		if r.Date != "20250304" {
			t.Fatalf("partition 2025-03-04 returned a row of %s", r.Date)
		}
	}
	if quiet, _, _ := f.read(t, after, ""); len(quiet) != 0 {
		t.Errorf("the incremental state after a partition read: %d records from a quiet read", len(quiet))
	}
	_, err := source.NewReader(f.st, nil).Read(t.Context(), source.PageRequest{Partition: "March 4"}, func(source.Page) error { return nil })
	if !errs.Is(err, errs.Invalid) {
		t.Errorf("partition %q: %v", "March 4", err)
	}
	_, err = f.st.NextPage(t.Context(), source.PageRequest{Cursor: json.RawMessage(`{"v":2}`)})
	if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "version 2") {
		t.Errorf("cursor v2: %v", err)
	}
}

func TestQuotaIsWaitedOutNotRetried(t *testing.T) {
	f := newFixture(t, sbga.Options{TokensPerHour: 30, TokensPerDay: 1000}, func(c *googleanalytics.Config) { c.PropertyIDs = []string{nyProp} })
	var pages int
	_, err := source.NewReader(f.st, &source.ReaderOptions{Sleep: noSleep}).Read(t.Context(), source.PageRequest{SyncStart: f.clock.Now()},
		func(source.Page) error { pages++; return nil })
	e, _ := errs.As(err)
	if !errs.Is(err, errs.Quota) || e == nil {
		t.Fatalf("over the hourly budget: %v (kind %v), want quota", err, errs.KindOf(err))
	}
	// 11:30 in New York: the hour ends at 12:00 EDT.
	if want := time.Date(2025, 3, 12, 16, 0, 0, 0, time.UTC); !e.Until.Equal(want) {
		t.Errorf("Until %v, want %v (the next hour)", e.Until, want)
	}
	if n := f.reportRequests(); pages != 3 || n != 4 {
		t.Errorf("%d pages, %d requests: want 3 and 4 (the refused one is not retried)", pages, n)
	}

	sandbox.Get[*sbga.API](f.sb).ExhaustDaily()
	err = f.src.Check(t.Context())
	e, _ = errs.As(err)
	if !errs.Is(err, errs.Quota) || e == nil || !strings.Contains(err.Error(), "daily") {
		t.Fatalf("daily quota: %v", err)
	}
	// Midnight Pacific time (PDT since 9 March), not New York's.
	if want := time.Date(2025, 3, 13, 7, 0, 0, 0, time.UTC); !e.Until.Equal(want) {
		t.Errorf("Until %v, want %v (the next midnight in Los Angeles)", e.Until, want)
	}
}

// Daily quotas turn over at midnight in Los Angeles, daylight saving time
// included, whatever the property's zone.
func TestDailyQuotaReset(t *testing.T) {
	for _, c := range []struct{ at, want time.Time }{
		{time.Date(2025, 1, 15, 10, 0, 0, 0, time.UTC), time.Date(2025, 1, 16, 8, 0, 0, 0, time.UTC)},  // PST
		{time.Date(2025, 3, 12, 15, 30, 0, 0, time.UTC), time.Date(2025, 3, 13, 7, 0, 0, 0, time.UTC)}, // PDT
		{time.Date(2025, 3, 9, 6, 0, 0, 0, time.UTC), time.Date(2025, 3, 9, 8, 0, 0, 0, time.UTC)},     // 22:00 PST the evening before the switch
		{time.Date(2025, 3, 9, 10, 0, 0, 0, time.UTC), time.Date(2025, 3, 10, 7, 0, 0, 0, time.UTC)},   // 03:00 PDT: a 23-hour day
		{time.Date(2025, 11, 2, 8, 30, 0, 0, time.UTC), time.Date(2025, 11, 3, 8, 0, 0, 0, time.UTC)},  // 01:30 PDT, the day back to PST: 25 hours
		{time.Date(2025, 3, 13, 7, 0, 0, 0, time.UTC), time.Date(2025, 3, 14, 7, 0, 0, 0, time.UTC)},   // at midnight: the next one
	} {
		if got := googleanalytics.DailyQuotaReset(c.at); !got.Equal(c.want) {
			t.Errorf("DailyQuotaReset(%s) = %s, want %s", c.at, got.UTC(), c.want)
		}
	}
}

// A landing that meets the daily quota partway through a day's report waits until
// midnight Pacific time — the first moment the quota is back, not the property's
// midnight, when it would be refused again — and resumes from the cursor of the
// last page it landed: no page is requested twice. (The lake keeps that cursor as
// the landing's checkpoint and the workflow hands it back after the wait.)
func TestDailyQuotaWaitResumesFromCheckpoint(t *testing.T) {
	f := newFixture(t, sbga.Options{TokensPerHour: -1, TokensPerDay: -1}, nil)
	type page struct{ property, day, offset string }
	var mu sync.Mutex
	var asked []page
	exhaustAt := -1 // the report request that finds the day's tokens spent
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if prop, ok := strings.CutSuffix(path.Base(r.URL.Path), ":runReport"); ok {
			var body struct {
				DateRanges []struct{ StartDate string } `json:"dateRanges"`
				Offset     int                          `json:"offset"`
			}
			b, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(b))
			json.Unmarshal(b, &body)
			mu.Lock()
			asked = append(asked, page{prop, body.DateRanges[0].StartDate, strconv.Itoa(body.Offset)})
			if len(asked)-1 == exhaustAt {
				sandbox.Get[*sbga.API](f.sb).ExhaustDaily()
			}
			mu.Unlock()
		}
		f.sb.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	cfg := config(ts.URL, seed)
	cfg.StartDate = "2025-01-01"
	src, err := googleanalytics.New(cfg, &googleanalytics.Options{RequestsPerSecond: -1, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	st, _ := source.Lookup(src, googleanalytics.StreamName)
	syncStart := f.clock.Now()
	land := func(cursor json.RawMessage) (pages int, checkpoint json.RawMessage, err error) {
		checkpoint = cursor
		_, err = source.NewReader(st, &source.ReaderOptions{Sleep: noSleep}).Read(t.Context(),
			source.PageRequest{Cursor: cursor, SyncStart: syncStart}, func(p source.Page) error {
				pages++
				checkpoint = p.Next
				return nil
			})
		return pages, checkpoint, err
	}

	// An unhindered landing, to know its pages; then the day's tokens run out on a
	// page in the middle of a day's report, past the middle of the landing.
	total, _, err := land(nil)
	if err != nil {
		t.Fatal(err)
	}
	cut := total / 2
	for cut < total && asked[cut].offset == "0" {
		cut++
	}
	if cut == total {
		t.Fatalf("no day of the %d pages has a second page: the test needs a smaller page size", total)
	}
	mu.Lock()
	asked, exhaustAt = nil, cut
	mu.Unlock()

	before, checkpoint, err := land(nil)
	e, _ := errs.As(err)
	if !errs.Is(err, errs.Quota) || e == nil || before != cut {
		t.Fatalf("after %d of %d pages: %v, want a quota error after %d", before, total, err, cut)
	}
	refused := asked[len(asked)-1]
	if want := googleanalytics.DailyQuotaReset(f.clock.Now()); !e.Until.Equal(want) {
		t.Errorf("Until %s, want midnight Pacific time %s", e.Until, want)
	}
	// The workflow's timer fires at Until, and the landing goes on from its checkpoint.
	f.clock.Add(e.Until.Sub(f.clock.Now()))
	after, _, err := land(checkpoint)
	if err != nil {
		t.Fatalf("resumed at %s: %v", f.clock.Now(), err)
	}
	resumed := asked[len(asked)-after]
	if resumed != refused {
		t.Errorf("resumed at %+v, want the refused page %+v", resumed, refused)
	}
	seen := map[page]bool{}
	for _, p := range asked[:len(asked)-after-1] { // all but the refused request and those after the wait
		seen[p] = true
	}
	for _, p := range asked[len(asked)-after:] {
		if seen[p] {
			t.Errorf("page %+v requested again after the wait", p)
		}
	}
	if got := before + 1 + after; got != total+1 {
		t.Errorf("%d report requests with the quota wait, want the %d of an unhindered landing and the refused one", got, total)
	}
	t.Logf("report requests: %d before the quota, 1 refused, %d after the wait (%d in all; starting over would have cost %d)",
		before, after, before+1+after, before+1+total)
}

func TestServerErrorsAreTransientAndCapped(t *testing.T) {
	f := newFixture(t, sbga.Options{}, nil)
	f.src.Check(t.Context()) // a token first: the faults below hit runReport
	f.sb.SetFaults(sandbox.Faults{ServerError: 1})
	before := sandbox.Get[*sbga.API](f.sb).Requests()
	_, err := source.NewReader(f.st, &source.ReaderOptions{Sleep: noSleep, MaxAttempts: 3}).Read(t.Context(), source.PageRequest{SyncStart: f.clock.Now()}, func(source.Page) error { return nil })
	if !errs.Is(err, errs.Transient) {
		t.Fatalf("5xx: %v (kind %v)", err, errs.KindOf(err))
	}
	if n := sandbox.Get[*sbga.API](f.sb).Requests() - before; n != 3 {
		t.Errorf("%d attempts, want the reader's 3", n)
	}
}

func TestJWTTokenFlow(t *testing.T) {
	f := newFixture(t, sbga.Options{}, nil)
	if err := f.src.Check(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.read(t, nil, "2025-03-05")
	if n := sandbox.Get[*sbga.API](f.sb).TokenRequests(); n != 1 {
		t.Errorf("%d token requests: the access token is not reused", n)
	}

	// A key the sandbox does not know.
	c := config(f.ts.URL, badSeed)
	bad, err := googleanalytics.New(c, &googleanalytics.Options{RequestsPerSecond: -1})
	if err != nil {
		t.Fatal(err)
	}
	err = bad.Check(t.Context())
	if !errs.Is(err, errs.Permission) || !strings.Contains(err.Error(), googleanalytics.CredentialsFileEnv) || !strings.Contains(err.Error(), "Invalid JWT Signature") {
		t.Errorf("foreign key: %v", err)
	}
	if strings.Contains(err.Error(), keyLine(badSeed)) {
		t.Error("the error shows the key")
	}

	// A property the service account cannot read.
	c = config(f.ts.URL, seed)
	c.PropertyIDs = []string{"555"}
	other, _ := googleanalytics.New(c, &googleanalytics.Options{RequestsPerSecond: -1})
	err = other.Check(t.Context())
	if !errs.Is(err, errs.Permission) || !strings.Contains(err.Error(), "555") || !strings.Contains(err.Error(), googleanalytics.PropertyIDsEnv) || !strings.Contains(err.Error(), sbga.DefaultClientEmail) {
		t.Errorf("unknown property: %v", err)
	}

	// The token URL: GA4_TOKEN_URL wins over the key file's token_uri.
	c = config("http://127.0.0.1:1", seed) // token_uri points nowhere
	c.BaseURL, c.TokenURL = sbga.URL(f.ts.URL), sbga.TokenURL(f.ts.URL)
	over, _ := googleanalytics.New(c, &googleanalytics.Options{RequestsPerSecond: -1})
	if err := over.Check(t.Context()); err != nil {
		t.Errorf("with TokenURL set: %v", err)
	}
}

func TestValidate(t *testing.T) {
	key := secret.Value(sbga.ServiceAccountJSON(seed, "", "http://x/token"))
	ok := googleanalytics.Config{PropertyIDs: []string{"123"}, CredentialsJSON: key}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		change func(*googleanalytics.Config)
		want   string
	}{
		{func(c *googleanalytics.Config) { c.PropertyIDs = nil }, "GA4_PROPERTY_IDS is not set"},
		{func(c *googleanalytics.Config) { c.PropertyIDs = []string{"G-ABC123"} }, "measurement id"},
		{func(c *googleanalytics.Config) { c.PropertyIDs = []string{"1", "1"} }, "twice"},
		{func(c *googleanalytics.Config) { c.CredentialsJSON = "" }, "GA4_CREDENTIALS_FILE is not set"},
		{func(c *googleanalytics.Config) { c.CredentialsJSON = "hunter2-not-json" }, "not JSON"},
		{func(c *googleanalytics.Config) { c.CredentialsJSON = `{"type":"authorized_user"}` }, "not a service-account key"},
		{func(c *googleanalytics.Config) {
			c.CredentialsJSON = secret.Value(strings.Replace(string(key), "MII", "XXX", 1))
		}, "not an RSA key"},
		{func(c *googleanalytics.Config) { c.BaseURL = "analyticsdata.googleapis.com" }, "GA4_BASE_URL"},
		{func(c *googleanalytics.Config) { c.TokenURL = "/token" }, "GA4_TOKEN_URL"},
		{func(c *googleanalytics.Config) { c.Dimensions = strings.Fields("a b c d e f g h i") }, "9 per report"},
		{func(c *googleanalytics.Config) { c.Metrics = []string{"sessions", "sessions"} }, "both be the column"},
		{func(c *googleanalytics.Config) { c.Metrics = []string{"ga:sessions "} }, ""},
		{func(c *googleanalytics.Config) { c.Metrics = []string{"sessions; drop"} }, "not a GA4 dimension or metric"},
		{func(c *googleanalytics.Config) { c.LookbackDays = -1 }, "lookback"},
		{func(c *googleanalytics.Config) { c.PageSize = 300_000 }, "page size"},
		{func(c *googleanalytics.Config) { c.StartDate = "last year" }, "GA4_START_DATE"},
	} {
		cfg := ok
		c.change(&cfg)
		err := cfg.Validate()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%+v: %v", cfg, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !errs.Is(err, errs.Invalid)):
			t.Errorf("want an invalid error with %q, got %v", c.want, err)
		case err != nil && (strings.Contains(err.Error(), "PRIVATE KEY") || strings.Contains(err.Error(), "hunter2")):
			t.Errorf("the error shows the key file: %v", err)
		}
	}
	if s := fmt.Sprintf("%v %+v", ok, ok); strings.Contains(s, "PRIVATE") {
		t.Errorf("a printed config shows the key: %s", s)
	}
}
