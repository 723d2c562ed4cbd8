package pendo_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshflow/meshflow/connectors/hubspot"
	"github.com/meshflow/meshflow/connectors/pendo"
	"github.com/meshflow/meshflow/dev/sandbox"
	sbhubspot "github.com/meshflow/meshflow/dev/sandbox/hubspot"
	sbpendo "github.com/meshflow/meshflow/dev/sandbox/pendo"
	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/source"
)

// t0 is 05:00 in Los Angeles on 2026-03-10 (PDT, UTC-7) and 17:30 in Kolkata.
var t0 = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// fixture is a sandbox on a settable clock and a connector for it.
type fixture struct {
	sb    *sandbox.Server
	url   string
	clock *clock
}

func newFixture(t *testing.T, o sbpendo.Options) *fixture {
	t.Helper()
	c := &clock{t: t0}
	if o.Accounts == 0 {
		o.Accounts, o.Visitors, o.Pages, o.Features, o.Days = 20, 120, 6, 8, 30
	}
	if o.RateLimit == 0 {
		o.RateLimit = -1
	}
	sb := sandbox.New(&sandbox.Options{Connectors: []source.Connector{hubspot.Connector, pendo.Connector}, Seed: 3, Now: c.Now, Settings: []any{sbhubspot.Options{Contacts: 5, Companies: 30, Deals: 5}, o}})
	ts := httptest.NewServer(sb)
	t.Cleanup(ts.Close)
	return &fixture{sb: sb, url: sbpendo.URL(ts.URL), clock: c}
}

func (f *fixture) source(t *testing.T, cfg pendo.Config) *pendo.Source {
	t.Helper()
	if cfg.BaseURL == "" {
		cfg.BaseURL = f.url
	}
	if cfg.IntegrationKey == "" {
		cfg.IntegrationKey = sbpendo.DefaultKey
	}
	if cfg.MinInterval == 0 {
		cfg.MinInterval = -1
	}
	src, err := pendo.New(cfg, &pendo.Options{Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func stream(t *testing.T, src source.Source, name string) source.Stream {
	t.Helper()
	st, ok := source.Lookup(src, name)
	if !ok {
		t.Fatalf("no stream %s", name)
	}
	return st
}

// read reads to the end, never really sleeping.
func read(t *testing.T, st source.Stream, req source.PageRequest) ([]json.RawMessage, json.RawMessage, source.Stats) {
	t.Helper()
	var recs []json.RawMessage
	cursor := req.Cursor
	stats, err := source.NewReader(st, &source.ReaderOptions{Sleep: func(context.Context, time.Duration) error { return nil }}).Read(t.Context(), req, func(p source.Page) error {
		recs = append(recs, p.Records...)
		cursor = p.Next
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", st.Spec().Name, err)
	}
	return recs, cursor, stats
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		cfg  pendo.Config
		want string
	}{
		{pendo.Config{}, pendo.IntegrationKeyEnv},
		{pendo.Config{IntegrationKey: "a b"}, pendo.IntegrationKeyEnv},
		{pendo.Config{IntegrationKey: "k", BaseURL: "app.pendo.io"}, pendo.BaseURLEnv},
		{pendo.Config{IntegrationKey: "k", TimeZone: "Pacific Time"}, pendo.TimeZoneEnv},
		{pendo.Config{IntegrationKey: "k", HistoryDays: -1}, "negative"},
		{pendo.Config{IntegrationKey: "k", TimeZone: "Europe/Berlin", BaseURL: "https://app.eu.pendo.io"}, ""},
	} {
		err := c.cfg.Validate()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%+v: %v", c.cfg, err)
		case c.want != "" && (!errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%+v: %v, want an invalid error naming %s", c.cfg, err, c.want)
		}
	}
	if s := fmt.Sprintf("%+v %#v", pendo.Config{IntegrationKey: badKey}, pendo.Config{IntegrationKey: badKey}); strings.Contains(s, badKey) {
		t.Errorf("config prints its key: %s", s)
	}
}

// Rows carry day = the subscription's midnight: for Kolkata (UTC+5:30) that is
// 18:30 UTC the day before, not a UTC midnight. A connector told the wrong zone
// notices from the rows and names PENDO_TIME_ZONE.
func TestDayBucketsAlignedToSubscriptionTimeZone(t *testing.T) {
	f := newFixture(t, sbpendo.Options{TimeZone: "Asia/Kolkata"})
	kolkata, _ := time.LoadLocation("Asia/Kolkata")
	st := stream(t, f.source(t, pendo.Config{TimeZone: "Asia/Kolkata"}), "page_events")
	recs, _, stats := read(t, st, source.PageRequest{SyncStart: t0, Partition: "2026-03-08"})
	if len(recs) == 0 || stats.Pages != 1 {
		t.Fatalf("%d records in %d pages", len(recs), stats.Pages)
	}
	want := time.Date(2026, 3, 8, 0, 0, 0, 0, kolkata)
	for _, r := range recs {
		vals, err := source.Extract(r, st.Spec().Fields)
		if err != nil {
			t.Fatal(err)
		}
		if day := vals[1].(time.Time); !day.Equal(want) || day.UTC().Hour() != 18 || day.UTC().Minute() != 30 {
			t.Fatalf("day %v, want %v (18:30 UTC)", day, want)
		}
	}

	// The connector's yesterday is Kolkata's: at t0 (17:30 there) it is 2026-03-09.
	_, cursor, _ := read(t, st, source.PageRequest{SyncStart: t0})
	var c struct{ First, Last string }
	json.Unmarshal(cursor, &c)
	if c.Last != "2026-03-09" || c.First != "2025-03-10" {
		t.Errorf("cursor %s: want days 2025-03-10 .. 2026-03-09", cursor)
	}

	wrong := stream(t, f.source(t, pendo.Config{TimeZone: "UTC"}), "page_events")
	_, err := wrong.NextPage(t.Context(), source.PageRequest{SyncStart: t0, Partition: "2026-03-08"})
	if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), pendo.TimeZoneEnv) || !strings.Contains(err.Error(), "18:30 UTC") {
		t.Errorf("wrong zone: %v, want an invalid error naming %s and 18:30 UTC", err, pendo.TimeZoneEnv)
	}
}

func TestEventKeyIsStable(t *testing.T) {
	row := `{"accountId":"acct-19","visitorId":"v-882","day":1709269200000,"pageId":"aJ3kPq0xYz","numEvents":14,"numMinutes":6,"server":"app.example.test","remoteIp":"203.0.113.9"}`
	same := []string{
		// other field order, whitespace, counters and user agent: the same row later
		`{ "visitorId": "v-882", "pageId": "aJ3kPq0xYz", "day": 1.7092692e12, "server": "app.example.test",
		   "remoteIp": "203.0.113.9", "accountId": "acct-19", "numEvents": 20, "numMinutes": 9, "userAgent": "x" }`,
	}
	different := []string{
		strings.Replace(row, `"v-882"`, `"v-883"`, 1),
		strings.Replace(row, `"acct-19"`, `"acct-1"`, 1),
		strings.Replace(row, `1709269200000`, `1709355600000`, 1),
		strings.Replace(row, `"pageId"`, `"featureId"`, 1),
		strings.Replace(row, `203.0.113.9`, `203.0.113.10`, 1),
		strings.Replace(row, `"app.example.test"`, `"eu.app.example.test"`, 1),
		// values that would run together if joined naively
		strings.Replace(strings.Replace(row, `"v-882"`, `"v-88"`, 1), `"acct-19"`, `"2acct-19"`, 1),
	}
	key, err := pendo.EventKey(json.RawMessage(row))
	if err != nil || len(key) != 32 {
		t.Fatalf("EventKey = %q, %v", key, err)
	}
	for _, s := range same {
		if k, err := pendo.EventKey(json.RawMessage(s)); k != key || err != nil {
			t.Errorf("%s: key %s, want %s (%v)", s, k, key, err)
		}
	}
	for _, d := range different {
		if k, _ := pendo.EventKey(json.RawMessage(d)); k == key {
			t.Errorf("%s: same key as the original", d)
		}
	}
	if _, err := pendo.EventKey(json.RawMessage(`{"accountId":"a","numEvents":1}`)); err == nil {
		t.Error("a row without visitor, bucket or object has a key")
	}

	// Against the sandbox: two reads give the same keys, and a record is the row
	// Pendo sent, byte for byte, plus the key and the local date.
	f := newFixture(t, sbpendo.Options{})
	st := stream(t, f.source(t, pendo.Config{}), "feature_events")
	first, _, _ := read(t, st, source.PageRequest{SyncStart: t0, Partition: "2026-03-05"})
	again, _, _ := read(t, st, source.PageRequest{SyncStart: t0, Partition: "2026-03-05"})
	sent := sandbox.Get[*sbpendo.API](f.sb).Events(sbpendo.FeatureEvents, time.Date(2026, 3, 5, 12, 0, 0, 0, time.UTC))
	if len(first) == 0 || len(first) != len(again) || len(first) != len(sent) {
		t.Fatalf("%d, %d records; the sandbox has %d", len(first), len(again), len(sent))
	}
	keys := map[string]bool{}
	for i, r := range first {
		var k struct {
			Key string `json:"_meshflow_key"`
		}
		json.Unmarshal(r, &k)
		if !bytes.Equal(r, again[i]) {
			t.Errorf("record %d differs between reads", i)
		}
		if want, _ := pendo.EventKey(sent[i]); k.Key != want {
			t.Errorf("record %d: key %s, EventKey of the sent row %s", i, k.Key, want)
		}
		if stripped := strings.Replace(string(r), `"_meshflow_key":"`+k.Key+`","_meshflow_date":"2026-03-05",`, "", 1); stripped != string(sent[i]) {
			t.Errorf("record %d is not lossless:\n%s\n%s", i, stripped, sent[i])
		}
		keys[k.Key] = true
	}
	if len(keys) != len(first) {
		t.Errorf("%d distinct keys for %d rows", len(keys), len(first))
	}
}

// Event syncs re-read a lookback of days; unchanged days land nothing, a day with
// late events lands whole, and each new day lands once.
func TestEventLookback(t *testing.T) {
	f := newFixture(t, sbpendo.Options{})
	st := stream(t, f.source(t, pendo.Config{HistoryDays: 5, LookbackDays: 3}), "page_events")
	la, _ := time.LoadLocation(pendo.DefaultTimeZone)
	day := func(s string) time.Time { d, _ := time.ParseInLocation(time.DateOnly, s, la); return d }
	count := func(days ...string) (n int) {
		for _, d := range days {
			n += len(sandbox.Get[*sbpendo.API](f.sb).Events(sbpendo.PageEvents, day(d)))
		}
		return n
	}

	full, cursor, stats := read(t, st, source.PageRequest{SyncStart: t0})
	if stats.Pages != 5 || len(full) != count("2026-03-05", "2026-03-06", "2026-03-07", "2026-03-08", "2026-03-09") {
		t.Fatalf("full read: %d records in %d pages", len(full), stats.Pages)
	}
	quiet, cursor, stats := read(t, st, source.PageRequest{SyncStart: t0, Cursor: cursor})
	if len(quiet) != 0 || stats.Pages != 3 {
		t.Errorf("quiet read: %d records in %d pages, want 0 in 3 (the lookback)", len(quiet), stats.Pages)
	}
	if len(cursor) > 300 {
		t.Errorf("cursor of %d bytes: %s", len(cursor), cursor)
	}

	sandbox.Get[*sbpendo.API](f.sb).AddEvents(sbpendo.PageEvents, day("2026-03-08"), 3)
	late, cursor, _ := read(t, st, source.PageRequest{SyncStart: t0, Cursor: cursor})
	if len(late) != count("2026-03-08") {
		t.Errorf("after late events on 03-08: %d records, want that day's %d", len(late), count("2026-03-08"))
	}

	f.clock.Add(24 * time.Hour) // a day later, 03-10 is complete
	next, cursor, stats := read(t, st, source.PageRequest{SyncStart: f.clock.Now(), Cursor: cursor})
	if len(next) != count("2026-03-10") || stats.Pages != 4 { // 03-07..03-09 again, 03-10 new
		t.Errorf("next day: %d records in %d pages, want %d in 4", len(next), stats.Pages, count("2026-03-10"))
	}
	var c struct {
		Last    string
		Digests map[string]string
	}
	json.Unmarshal(cursor, &c)
	if c.Last != "2026-03-10" || len(c.Digests) != 3 || c.Digests["2026-03-07"] != "" {
		t.Errorf("cursor %s: want last 2026-03-10 and digests of 03-08..03-10", cursor)
	}
}

// A partition reads its day and hands back the stream's cursor unchanged, so a
// backfill never moves the incremental position.
func TestPartitionKeepsTheCursor(t *testing.T) {
	f := newFixture(t, sbpendo.Options{})
	st := stream(t, f.source(t, pendo.Config{HistoryDays: 2, LookbackDays: 1}), "feature_events")
	_, cursor, _ := read(t, st, source.PageRequest{SyncStart: t0})
	recs, after, _ := read(t, st, source.PageRequest{SyncStart: t0, Cursor: cursor, Partition: "2026-02-20"})
	if len(recs) == 0 || string(after) != string(cursor) {
		t.Errorf("partition: %d records; cursor %s → %s", len(recs), cursor, after)
	}
	for _, bad := range []string{"2026-3-1", "2026-03-11"} {
		if _, err := st.NextPage(t.Context(), source.PageRequest{SyncStart: t0, Partition: bad}); !errs.Is(err, errs.Invalid) {
			t.Errorf("partition %s: %v, want invalid", bad, err)
		}
	}
}

// Requests of all streams are spaced by MinInterval.
func TestSelfThrottle(t *testing.T) {
	var mu sync.Mutex
	var at []time.Time
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		at = append(at, time.Now())
		mu.Unlock()
		w.Write([]byte(`[{"id":"p1","name":"Home"}]`))
	}))
	defer ts.Close()
	src, err := pendo.New(pendo.Config{BaseURL: ts.URL, IntegrationKey: "k", MinInterval: 80 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	pages, features := stream(t, src, "pages"), stream(t, src, "features")
	start := time.Now()
	for i := range 4 {
		st := pages
		if i%2 == 1 {
			st = features
		}
		if _, err := st.NextPage(t.Context(), source.PageRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	if took := time.Since(start); took < 230*time.Millisecond {
		t.Errorf("4 requests took %v, want at least 3 intervals of 80 ms", took)
	}
	for i := 1; i < len(at); i++ {
		if gap := at[i].Sub(at[i-1]); gap < 70*time.Millisecond {
			t.Errorf("gap %d is %v", i, gap)
		}
	}

	def, _ := pendo.New(pendo.Config{BaseURL: ts.URL, IntegrationKey: "k"}, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	stream(t, def, "pages").NextPage(ctx, source.PageRequest{})
	start = time.Now()
	if _, err := stream(t, def, "pages").NextPage(ctx, source.PageRequest{}); !errs.Is(err, errs.Canceled) || time.Since(start) > time.Second {
		t.Errorf("second request within the default 2 s: %v after %v, want it held back until canceled", err, time.Since(start))
	}
}

// A 429 carries no Retry-After: wait 30 s, doubling per 429 in a row, up to 2 min;
// a success starts over.
func TestRateLimitBackoff(t *testing.T) {
	var mu sync.Mutex
	codes := []int{429, 429, 429, 429, 200, 429}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		code := codes[0]
		codes = codes[1:]
		mu.Unlock()
		if code != 200 {
			w.WriteHeader(code)
			w.Write([]byte("Too Many Requests"))
			return
		}
		w.Write([]byte(`[]`))
	}))
	defer ts.Close()
	src, _ := pendo.New(pendo.Config{BaseURL: ts.URL, IntegrationKey: "k", MinInterval: -1}, nil)
	var waits []time.Duration
	_, err := source.NewReader(stream(t, src, "pages"), &source.ReaderOptions{Sleep: func(_ context.Context, d time.Duration) error {
		waits = append(waits, d)
		return nil
	}}).Read(t.Context(), source.PageRequest{}, func(source.Page) error { return nil })
	if err != nil || fmt.Sprint(waits) != "[30s 1m0s 2m0s 2m0s]" {
		t.Errorf("waits %v, err %v", waits, err)
	}
	_, err = stream(t, src, "pages").NextPage(t.Context(), source.PageRequest{})
	if e, _ := errs.As(err); !errs.Is(err, errs.RateLimited) || e.RetryAfter != 30*time.Second {
		t.Errorf("after a success: %v, want rate limited for 30 s", err)
	}
}

func TestPermissionNamesTheVariable(t *testing.T) {
	for _, code := range []int{401, 403} {
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(code)
			w.Write([]byte("invalid key " + r.Header.Get("x-pendo-integration-key")))
		}))
		src, _ := pendo.New(pendo.Config{BaseURL: ts.URL, IntegrationKey: badKey, MinInterval: -1}, nil)
		for _, err := range []error{src.Check(t.Context()), func() error {
			_, err := stream(t, src, "accounts").NextPage(t.Context(), source.PageRequest{})
			return err
		}()} {
			if !errs.Is(err, errs.Permission) || !strings.Contains(err.Error(), pendo.IntegrationKeyEnv) || strings.Contains(err.Error(), badKey) {
				t.Errorf("HTTP %d: %v", code, err)
			}
		}
		ts.Close()
	}
}

// Accounts dedupe on (id, lastupdated) across the lookback overlap.
func TestAccountsIncremental(t *testing.T) {
	f := newFixture(t, sbpendo.Options{})
	st := stream(t, f.source(t, pendo.Config{}), "accounts")
	all, cursor, _ := read(t, st, source.PageRequest{SyncStart: t0})
	if len(all) != 20 {
		t.Fatalf("%d accounts", len(all))
	}
	f.clock.Add(time.Minute)
	touched := sandbox.Get[*sbpendo.API](f.sb).TouchAccounts(2)
	changed, cursor, _ := read(t, st, source.PageRequest{SyncStart: f.clock.Now(), Cursor: cursor})
	f.clock.Add(time.Minute) // within the 15-minute overlap
	again, _, _ := read(t, st, source.PageRequest{SyncStart: f.clock.Now(), Cursor: cursor})
	var ids []string
	for _, r := range changed {
		var a struct{ AccountID string }
		json.Unmarshal(r, &a)
		ids = append(ids, a.AccountID)
	}
	if fmt.Sprint(ids) != fmt.Sprint(touched) || len(again) != 0 {
		t.Errorf("changed %v (touched %v); then %d again", ids, touched, len(again))
	}
}
