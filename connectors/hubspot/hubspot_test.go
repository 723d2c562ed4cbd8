package hubspot

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshflow/meshflow/dev/sandbox"
	sbhubspot "github.com/meshflow/meshflow/dev/sandbox/hubspot"
	"github.com/meshflow/meshflow/framework/errs"
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

var t0 = time.Date(2026, 3, 10, 3, 0, 0, 0, time.UTC)

// fixture is a sandbox on a settable clock and a connector for it.
type fixture struct {
	clock *clock
	sb    *sandbox.Server
	ts    *httptest.Server
	src   *Source
}

func newFixture(t *testing.T, hs sbhubspot.Options, cfg Config, opts *Options) *fixture {
	t.Helper()
	f := &fixture{clock: &clock{t: t0}}
	if hs.Contacts == 0 {
		hs.Contacts, hs.Companies, hs.Deals = 300, 80, 120
	}
	if hs.RateLimit == 0 {
		hs.RateLimit = -1
	}
	if hs.SearchPerSecond == 0 {
		hs.SearchPerSecond = -1
	}
	f.sb = sandbox.New(&sandbox.Options{Connectors: []source.Connector{Connector}, Seed: 11, Now: f.clock.Now, Settings: []any{hs}})
	f.ts = httptest.NewServer(f.sb)
	t.Cleanup(f.ts.Close)
	cfg.BaseURL = sbhubspot.URL(f.ts.URL)
	if cfg.Token == "" {
		cfg.Token = sbhubspot.DefaultToken
	}
	if opts == nil {
		opts = &Options{RequestsPerSecond: -1, SearchRequestsPerSecond: -1}
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

func (f *fixture) stream(name string) source.Stream {
	s, _ := source.Lookup(f.src, name)
	return s
}

var fastReader = &source.ReaderOptions{BaseBackoff: time.Millisecond, Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }}

// readAll reads a whole sync and returns the records by id, failing on repeats.
func readAll(t *testing.T, s source.Stream, cursor json.RawMessage, syncStart time.Time) (map[string]json.RawMessage, json.RawMessage, source.Stats) {
	t.Helper()
	return readAllWith(t, s, cursor, syncStart, fastReader)
}

func readAllWith(t *testing.T, s source.Stream, cursor json.RawMessage, syncStart time.Time, ro *source.ReaderOptions) (map[string]json.RawMessage, json.RawMessage, source.Stats) {
	t.Helper()
	got := map[string]json.RawMessage{}
	st, err := source.NewReader(s, ro).Read(t.Context(), source.PageRequest{Cursor: cursor, SyncStart: syncStart}, func(p source.Page) error {
		for _, r := range p.Records {
			id := recordID(t, r)
			if _, dup := got[id]; dup {
				t.Fatalf("record %s returned twice", id)
			}
			got[id] = r
		}
		cursor = p.Next
		return nil
	})
	if err != nil {
		t.Fatalf("read %s: %v", s.Spec().Name, err)
	}
	return got, cursor, st
}

func recordID(t *testing.T, raw json.RawMessage) string {
	var m meta
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m.ID
}

func ids(m map[string]json.RawMessage) []string {
	out := make([]string, 0, len(m))
	for id := range m {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// TestSearchCapWindowing: more records share one modified instant than one search
// query may page through; the incremental read still returns each exactly once
// and never asks past the cap (which the sandbox would answer with a 400).
func TestSearchCapWindowing(t *testing.T) {
	const limitCap = 40
	f := newFixture(t, sbhubspot.Options{SearchCap: limitCap}, Config{PageSize: 25}, nil)
	contacts := f.stream("contacts")
	_, start, _ := readAll(t, contacts, nil, f.clock.Now())

	f.clock.Add(time.Hour) // a batch job rewrites 150 contacts at one instant
	touched := sandbox.Get[*sbhubspot.API](f.sb).Touch("contacts", 150)
	syncStart := f.clock.Add(time.Minute)

	// Resume mid-search too: stop after two pages, then go on from that cursor.
	var firstPart []json.RawMessage
	var mid json.RawMessage
	pages := 0
	_, err := source.NewReader(contacts, fastReader).Read(t.Context(), source.PageRequest{Cursor: start, SyncStart: syncStart}, func(p source.Page) error {
		firstPart = append(firstPart, p.Records...)
		mid = p.Next
		if pages++; pages == 2 {
			return source.ErrStop
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var c cursor
	json.Unmarshal(mid, &c)
	if c.Phase != phaseSearch || c.Last == "" {
		t.Fatalf("after two pages the cursor is %+v, want mid-search", c)
	}
	before := sandbox.Get[*sbhubspot.API](f.sb).Requests()
	rest, _, st := readAll(t, contacts, mid, syncStart)
	for _, r := range firstPart {
		id := recordID(t, r)
		if _, dup := rest[id]; dup {
			t.Fatalf("record %s returned before and after the resume", id)
		}
		rest[id] = r
	}
	if got := ids(rest); !slices.Equal(got, touched) {
		t.Fatalf("incremental read returned %d records, want the %d touched", len(got), len(touched))
	}
	// Every page was one request and none failed: a pager following offsets
	// would have met the sandbox's 400 at offset 40.
	if n := sandbox.Get[*sbhubspot.API](f.sb).Requests() - before; n != st.Pages || st.Pages < 5 || st.Retries != 0 {
		t.Errorf("after the resume: %d requests, %+v; want one request per page, ≥ 5 pages, no retries", n, st)
	}
}

// TestSeededBulkUpdate reads the seeded bulk update (more records than the cap at
// one instant) through a window that starts just before it.
func TestSeededBulkUpdate(t *testing.T) {
	const limitCap = 12
	f := newFixture(t, sbhubspot.Options{SearchCap: limitCap}, Config{}, nil)
	for _, name := range []string{"contacts", "companies", "deals"} {
		s := f.stream(name)
		all, _, _ := readAll(t, s, nil, f.clock.Now())
		since := sandbox.Get[*sbhubspot.API](f.sb).BulkUpdatedAt().Add(-defaultLookback)
		var want []string
		atBulk := 0
		for id, raw := range all {
			var m meta
			json.Unmarshal(raw, &m)
			v := time.UnixMilli(m.version(objectsByName(name).modProp))
			if !v.Before(since) {
				want = append(want, id)
			}
			if v.Equal(sandbox.Get[*sbhubspot.API](f.sb).BulkUpdatedAt()) && !m.Archived {
				atBulk++
			}
		}
		if atBulk <= limitCap {
			t.Fatalf("%s: only %d records at the bulk instant; the test needs more than the cap", name, atBulk)
		}
		slices.Sort(want)
		mark := sandbox.Get[*sbhubspot.API](f.sb).BulkUpdatedAt().UnixMilli()
		idle := cursor{V: 1, Phase: phaseIdle, Mark: mark}.encode()
		got, _, _ := readAll(t, s, idle, f.clock.Now())
		if !slices.Equal(ids(got), want) {
			t.Errorf("%s: %d records from the bulk update on, want %d", name, len(got), len(want))
		}
	}
}

func objectsByName(name string) object {
	for _, o := range objects {
		if o.name == name {
			return o
		}
	}
	panic(name)
}

// TestDeletes: archived records arrive on the next incremental read, once.
func TestDeletes(t *testing.T) {
	f := newFixture(t, sbhubspot.Options{}, Config{}, nil)
	s := f.stream("companies")
	all, cursor, _ := readAll(t, s, nil, f.clock.Now())
	if len(all) != sandbox.Get[*sbhubspot.API](f.sb).Count("companies")+sandbox.Get[*sbhubspot.API](f.sb).Archived("companies") {
		t.Fatalf("full refresh: %d records", len(all))
	}
	f.clock.Add(time.Hour)
	gone := sandbox.Get[*sbhubspot.API](f.sb).Archive("companies", 4)
	got, cursor, _ := readAll(t, s, cursor, f.clock.Add(time.Second))
	if !slices.Equal(ids(got), gone) {
		t.Fatalf("incremental after archiving %v: %v", gone, ids(got))
	}
	for _, raw := range got {
		vals, err := source.Extract(raw, s.Spec().Fields)
		if err != nil {
			t.Fatal(err)
		}
		row := map[string]any{}
		for i, f := range s.Spec().Fields {
			row[f.Name] = vals[i]
		}
		if row["archived"] != true || row["archived_at"] == nil || row["updated_at"] == nil {
			t.Errorf("archived record: %v", row)
		}
	}
	again, _, _ := readAll(t, s, cursor, f.clock.Add(time.Second))
	if len(again) != 0 {
		t.Errorf("deletes landed twice: %v", ids(again))
	}
}

// TestRecordsUnchanged: a record is the API's JSON object, byte for byte.
func TestRecordsUnchanged(t *testing.T) {
	f := newFixture(t, sbhubspot.Options{}, Config{}, nil)
	s := f.stream("deals").(*stream)
	page, err := s.NextPage(t.Context(), source.PageRequest{SyncStart: f.clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	raw := page.Records[3]
	req, _ := http.NewRequest("GET", sbhubspot.URL(f.ts.URL)+"/crm/v3/objects/deals/"+recordID(t, raw)+"?properties="+s.props, nil)
	req.Header.Set("Authorization", "Bearer "+sbhubspot.DefaultToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	direct, _ := io.ReadAll(resp.Body)
	if !bytes.Equal(raw, direct) {
		t.Errorf("record changed:\n got %s\nwant %s", raw, direct)
	}
}

// TestDailyQuota: a DAILY 429 is a Quota error until the account's next midnight,
// returned at once by the reader (a workflow waits it out with a durable timer).
func TestDailyQuota(t *testing.T) {
	est := time.FixedZone("EST", -5*3600)
	f := newFixture(t, sbhubspot.Options{}, Config{}, &Options{RequestsPerSecond: -1, AccountTimeZone: est})
	sandbox.Get[*sbhubspot.API](f.sb).ExhaustDaily()
	before := sandbox.Get[*sbhubspot.API](f.sb).Requests()
	_, err := source.NewReader(f.stream("contacts"), fastReader).Read(t.Context(), source.PageRequest{SyncStart: t0}, func(source.Page) error { return nil })
	e, ok := errs.As(err)
	if !ok || e.Kind != errs.Quota {
		t.Fatalf("got %v, want a Quota error", err)
	}
	// 03:00 UTC is 22:00 the day before in EST: the quota resets at 05:00 UTC.
	if want := time.Date(2026, 3, 10, 0, 0, 0, 0, est); !e.Until.Equal(want) || e.RetryAfter != 2*time.Hour {
		t.Errorf("Until %v, RetryAfter %v; want %v, 2h", e.Until, e.RetryAfter, want)
	}
	if n := sandbox.Get[*sbhubspot.API](f.sb).Requests() - before; n != 1 {
		t.Errorf("%d requests; an exhausted quota is not retried inline", n)
	}
}

// TestErrorMapping maps each kind of answer once, to the right kind.
func TestErrorMapping(t *testing.T) {
	const tok = "pat-na1-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
	cases := []struct {
		name     string
		status   int
		header   map[string]string
		body     string
		kind     errs.Kind
		retry    time.Duration
		contains []string
	}{
		{"401", 401, nil, `{"status":"error","message":"Authentication credentials not found.","correlationId":"c-1","category":"INVALID_AUTHENTICATION"}`, errs.Permission, 0, []string{"HUBSPOT_TOKEN", "INVALID_AUTHENTICATION", "c-1"}},
		{"403", 403, nil, `{"status":"error","message":"This app hasn't been granted all required scopes","category":"MISSING_SCOPES","errors":[{"context":{"requiredGranularScopes":["crm.objects.deals.read"]}}]}`, errs.Permission, 0, []string{"crm.objects.deals.read", "HUBSPOT_TOKEN"}},
		{"403-bare", 403, nil, ``, errs.Permission, 0, []string{"crm.objects.contacts.read"}},
		{"429-rolling", 429, nil, `{"policyName":"TEN_SECONDLY_ROLLING","message":"You have reached your ten_secondly_rolling limit."}`, errs.RateLimited, 10 * time.Second, []string{"TEN_SECONDLY_ROLLING"}},
		{"429-secondly", 429, nil, `{"policyName":"SECONDLY"}`, errs.RateLimited, time.Second, nil},
		{"429-retry-after", 429, map[string]string{"Retry-After": "3"}, `{"policyName":"TEN_SECONDLY_ROLLING"}`, errs.RateLimited, 3 * time.Second, nil},
		{"429-unknown", 429, nil, `<html>slow down</html>`, errs.RateLimited, 10 * time.Second, nil},
		{"400", 400, nil, `{"status":"error","message":"Property \"x\" does not exist","category":"VALIDATION_ERROR"}`, errs.Invalid, 0, []string{`Property "x" does not exist`}},
		{"404", 404, nil, `{"message":"not found"}`, errs.NotFound, 0, nil},
		{"502-html", 502, nil, `<html><h1>502 Bad Gateway</h1></html>`, errs.Transient, 0, []string{"502"}},
		{"500-json", 500, nil, `{"message":"internal error"}`, errs.Transient, 0, nil},
		{"200-truncated", 200, nil, `{"results":[{"id":"1","proper`, errs.Transient, 0, []string{"undecodable"}},
		{"200-not-records", 200, nil, `{"results":[1,2]}`, errs.Transient, 0, nil},
		{"echoed-token", 400, nil, `{"message":"bad header Bearer ` + tok + `"}`, errs.Invalid, 0, []string{"[REDACTED]"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range c.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(c.status)
				io.WriteString(w, c.body)
			}))
			defer ts.Close()
			src, err := New(Config{BaseURL: ts.URL, Token: tok}, &Options{RequestsPerSecond: -1})
			if err != nil {
				t.Fatal(err)
			}
			_, err = src.Streams()[0].NextPage(t.Context(), source.PageRequest{})
			e, ok := errs.As(err)
			if !ok || e.Kind != c.kind || e.RetryAfter != c.retry {
				t.Fatalf("got %v (%#v), want kind %v retry %v", err, e, c.kind, c.retry)
			}
			for _, s := range c.contains {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("%q does not mention %q", err, s)
				}
			}
			if strings.Contains(err.Error(), tok) {
				t.Errorf("the error shows the token: %v", err)
			}
		})
	}
}

// TestNetworkErrorIsTransient: a refused connection is worth retrying.
func TestNetworkErrorIsTransient(t *testing.T) {
	ts := httptest.NewServer(http.NotFoundHandler())
	url := ts.URL
	ts.Close()
	src, _ := New(Config{BaseURL: url, Token: "pat-x"}, &Options{RequestsPerSecond: -1})
	if err := src.Check(t.Context()); !errs.Is(err, errs.Transient) {
		t.Fatalf("got %v, want transient", err)
	}
}

// TestPacing: with default pacing the client stays under the sandbox's real
// search limit (5/s); unpaced, it runs into it. Both finish correctly.
func TestPacing(t *testing.T) {
	t.Parallel() // it waits on real clocks for ~2 s
	run := func(opts *Options, ro *source.ReaderOptions) (source.Stats, time.Duration) {
		f := newFixture(t, sbhubspot.Options{SearchPerSecond: 5}, Config{PageSize: 10}, opts)
		idle := cursor{V: 1, Phase: phaseIdle, Mark: t0.UnixMilli()}.encode()
		f.clock.Add(time.Hour)
		touched := sandbox.Get[*sbhubspot.API](f.sb).Touch("deals", 55) // 6 searches of 10
		began := time.Now()
		got, _, st := readAllWith(t, f.stream("deals"), idle, f.clock.Add(time.Second), ro)
		if !slices.Equal(ids(got), touched) {
			t.Fatalf("read %d records, want %d", len(got), len(touched))
		}
		return st, time.Since(began)
	}
	st, took := run(&Options{RequestsPerSecond: -1}, fastReader) // search paced at the default 4/s
	if st.Retries != 0 || took < time.Second {
		t.Errorf("paced: %+v in %v; want no 429s and ≥ 1 s for 6 searches at 4/s", st, took)
	}
	// Unpaced, the reader really waits out the 1 s the SECONDLY policy asks for.
	st, _ = run(&Options{RequestsPerSecond: -1, SearchRequestsPerSecond: -1}, nil)
	if st.Retries == 0 {
		t.Errorf("unpaced: %+v; the sandbox's SECONDLY limit should have answered 429", st)
	}
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		cfg  Config
		want string
	}{
		{Config{}, "HUBSPOT_TOKEN is not set"},
		{Config{Token: "Bearer pat-1"}, "without the \"Bearer \" prefix"},
		{Config{Token: "pat-1\n"}, "whitespace"},
		{Config{Token: "pat-1", BaseURL: "api.hubapi.com"}, "HUBSPOT_BASE_URL"},
		{Config{Token: "pat-1", Lookback: -time.Second}, "negative"},
		{Config{Token: "pat-1", PageSize: 500}, "page size"},
	}
	for _, c := range cases {
		err := c.cfg.Validate()
		if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an Invalid error mentioning %q", c.cfg, err, c.want)
		}
		if _, err := New(c.cfg, nil); err == nil {
			t.Errorf("New accepted %+v", c.cfg)
		}
	}
	if err := (Config{Token: "pat-1"}).Validate(); err != nil {
		t.Errorf("minimal config: %v", err)
	}
}

func TestSecretRedaction(t *testing.T) {
	const tok = "pat-na1-0123456789"
	cfg := Config{BaseURL: "https://api.hubapi.com", Token: tok}
	var out []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%10s", "%T"} {
		out = append(out, fmt.Sprintf(verb, cfg), fmt.Sprintf(verb, cfg.Token), fmt.Sprintf(verb, &cfg))
	}
	out = append(out, cfg.Token.String(), fmt.Sprint(cfg.Token), fmt.Sprintln(cfg))
	b, _ := json.Marshal(cfg)
	out = append(out, string(b))
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "token", cfg.Token, "cfg", cfg)
	out = append(out, buf.String())
	for _, s := range out {
		if strings.Contains(s, tok) || strings.Contains(s, fmt.Sprintf("%x", tok)) {
			t.Errorf("token printed: %s", s)
		}
	}
	if !strings.Contains(string(b), `"Token":"[REDACTED]"`) {
		t.Errorf("json: %s", b)
	}
	if cfg.Token.Reveal() != tok {
		t.Error("Reveal lost the value")
	}
}

func TestCursorErrors(t *testing.T) {
	src, _ := New(Config{Token: "pat-x"}, nil)
	for _, c := range []string{`{"v":3,"phase":"idle"}`, `{"v":2}`, `[1]`, `{"v":1,"phase":"sideways"}`, `{"v":2,"phase":"sideways"}`} {
		_, err := src.Streams()[0].NextPage(t.Context(), source.PageRequest{Cursor: json.RawMessage(c)})
		if !errs.Is(err, errs.Invalid) {
			t.Errorf("cursor %s: %v, want invalid", c, err)
		}
	}
}
