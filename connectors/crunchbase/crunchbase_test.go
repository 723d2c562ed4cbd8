package crunchbase_test

import (
	"bytes"
	"context"
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

	"github.com/meshflow/meshflow/connectors/crunchbase"
	"github.com/meshflow/meshflow/connectors/hubspot"
	"github.com/meshflow/meshflow/dev/sandbox"
	sbcrunchbase "github.com/meshflow/meshflow/dev/sandbox/crunchbase"
	sbhubspot "github.com/meshflow/meshflow/dev/sandbox/hubspot"
	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/secret"
	"github.com/meshflow/meshflow/framework/source"
)

// recorder serves the sandbox and keeps every search body and answer.
type recorder struct {
	sb *sandbox.Server
	mu sync.Mutex
	// bodies and answers of POST /searches/organizations, in order
	bodies, answers []map[string]any
	// during, when set, runs after the n-th search (1-based) is answered
	during func(n int)
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasSuffix(r.URL.Path, "/searches/organizations") {
		rec.sb.ServeHTTP(w, r)
		return
	}
	b, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(b))
	rw := httptest.NewRecorder()
	rec.sb.ServeHTTP(rw, r)
	var body, answer map[string]any
	json.Unmarshal(b, &body)
	json.Unmarshal(rw.Body.Bytes(), &answer)
	rec.mu.Lock()
	rec.bodies, rec.answers = append(rec.bodies, body), append(rec.answers, answer)
	n := len(rec.bodies)
	rec.mu.Unlock()
	for k, v := range rw.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rw.Code)
	w.Write(rw.Body.Bytes())
	if rec.during != nil {
		rec.during(n)
	}
}

func newRecorder(t *testing.T, orgs int) (*recorder, string) {
	t.Helper()
	sb := sandbox.New(&sandbox.Options{
		Connectors: []source.Connector{hubspot.Connector, crunchbase.Connector},
		Seed:       5,
		Settings:   []any{sbhubspot.Options{Contacts: 5, Companies: 40, Deals: 5}, sbcrunchbase.Options{Organizations: orgs, RateLimit: -1}},
	})
	rec := &recorder{sb: sb}
	ts := httptest.NewServer(rec)
	t.Cleanup(ts.Close)
	return rec, sbcrunchbase.URL(ts.URL)
}

func newSource(t *testing.T, url string, cfg crunchbase.Config, o *crunchbase.Options) source.Stream {
	t.Helper()
	cfg.BaseURL = url
	if cfg.UserKey == "" {
		cfg.UserKey = sbcrunchbase.DefaultKey
	}
	if cfg.RequestsPerMinute == 0 {
		cfg.RequestsPerMinute = -1
	}
	src, err := crunchbase.New(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	return src.Streams()[0]
}

func readAll(t *testing.T, st source.Stream, cursor json.RawMessage) ([]string, json.RawMessage) {
	t.Helper()
	recs, next, err := source.ReadAll(t.Context(), st, source.PageRequest{Cursor: cursor, SyncStart: time.Now()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range recs {
		var e struct{ UUID string }
		json.Unmarshal(r, &e)
		ids = append(ids, e.UUID)
	}
	return ids, next
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		cfg  crunchbase.Config
		want string
	}{
		{crunchbase.Config{}, crunchbase.UserKeyEnv},
		{crunchbase.Config{UserKey: "a\nb"}, crunchbase.UserKeyEnv},
		{crunchbase.Config{UserKey: "k", BaseURL: "api.crunchbase.com/api/v4"}, crunchbase.BaseURLEnv},
		{crunchbase.Config{UserKey: "k", PageSize: 5000}, "page size"},
		{crunchbase.Config{UserKey: "k", RequestsPerMinute: 600}, "200"},
		{crunchbase.Config{UserKey: "k", PageSize: 100, RequestsPerMinute: -1}, ""},
	} {
		err := c.cfg.Validate()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%+v: %v", c.cfg, err)
		case c.want != "" && (!errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%+v: %v, want an invalid error naming %s", c.cfg, err, c.want)
		}
	}
}

// Every search of a sync sends the same field_ids, order and query, and
// after_id = the uuid of the previous page's last organization; an organization
// updated mid-sync neither goes missing nor comes twice.
func TestKeysetPagingWithAConstantOrder(t *testing.T) {
	rec, url := newRecorder(t, 45)
	var touched []string
	rec.during = func(n int) {
		if n == 2 {
			touched = sandbox.Get[*sbcrunchbase.API](rec.sb).Touch(10)
		}
	}
	ids, _ := readAll(t, newSource(t, url, crunchbase.Config{PageSize: 10}, nil), nil)
	if len(rec.bodies) != 5 {
		t.Fatalf("%d searches for 45 organizations at 10 a page", len(rec.bodies))
	}
	for i, b := range rec.bodies {
		if fmt.Sprint(b["order"]) != fmt.Sprint(rec.bodies[0]["order"]) || fmt.Sprint(b["field_ids"]) != fmt.Sprint(rec.bodies[0]["field_ids"]) ||
			fmt.Sprint(b["query"]) != fmt.Sprint(rec.bodies[0]["query"]) || b["limit"] != float64(10) {
			t.Errorf("search %d: %v differs from the first %v", i, b, rec.bodies[0])
		}
		if i == 0 {
			if _, ok := b["after_id"]; ok {
				t.Errorf("first search has an after_id")
			}
			continue
		}
		prev := rec.answers[i-1]["entities"].([]any)
		if last := prev[len(prev)-1].(map[string]any)["uuid"]; b["after_id"] != last {
			t.Errorf("search %d: after_id %v, want the previous page's last uuid %v", i, b["after_id"], last)
		}
	}
	if len(touched) != 10 || !slices.Equal(slices.Sorted(slices.Values(ids)), sandbox.Get[*sbcrunchbase.API](rec.sb).UUIDs()) {
		t.Errorf("read %d organizations, %d distinct; want all 45 once (10 touched mid-sync)", len(ids), len(slices.Compact(slices.Sorted(slices.Values(ids)))))
	}
	if want := []any{"identifier", "short_description", "website_url", "founded_on"}; fmt.Sprint(rec.bodies[0]["field_ids"].([]any)[:4]) != fmt.Sprint(want) {
		t.Errorf("field_ids %v", rec.bodies[0]["field_ids"])
	}
}

// An incremental sync asks for updated_at gte the last mark minus the lookback
// and lands only what changed.
func TestIncremental(t *testing.T) {
	rec, url := newRecorder(t, 60)
	st := newSource(t, url, crunchbase.Config{PageSize: 20}, &crunchbase.Options{Lookback: 10 * time.Minute})
	_, cursor := readAll(t, st, nil)
	var c struct{ Mark int64 }
	json.Unmarshal(cursor, &c)
	quiet, cursor := readAll(t, st, cursor)
	touched := sandbox.Get[*sbcrunchbase.API](rec.sb).Touch(3)
	changed, cursor := readAll(t, st, cursor)
	again, _ := readAll(t, st, cursor)
	if len(quiet) != 0 || !slices.Equal(slices.Sorted(slices.Values(changed)), touched) || len(again) != 0 {
		t.Errorf("quiet %d, changed %v (touched %v), again %d", len(quiet), changed, touched, len(again))
	}
	q := rec.bodies[len(rec.bodies)-3]["query"].([]any)[0].(map[string]any)
	want := time.UnixMilli(c.Mark - (10 * time.Minute).Milliseconds()).UTC().Format(time.RFC3339)
	if q["field_id"] != "updated_at" || q["operator_id"] != "gte" || fmt.Sprint(q["values"]) != "["+want+"]" {
		t.Errorf("incremental query %v, want updated_at gte %s", q, want)
	}
}

// A bare 429 says nothing: wait until the next minute begins, plus jitter.
func TestBare429WaitsForTheNextMinute(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if n == 1 {
			sbcrunchbase.WriteRateLimited(w, 0)
			return
		}
		w.Write([]byte(`{"count":0,"entities":[]}`))
	}))
	defer ts.Close()
	now := time.Date(2026, 3, 10, 12, 0, 45, 500e6, time.UTC)
	st := newSource(t, ts.URL, crunchbase.Config{}, &crunchbase.Options{Now: func() time.Time { return now }, Jitter: func() time.Duration { return 2 * time.Second }})
	var waits []time.Duration
	_, err := source.NewReader(st, &source.ReaderOptions{Sleep: func(_ context.Context, d time.Duration) error {
		waits = append(waits, d)
		return nil
	}}).Read(t.Context(), source.PageRequest{SyncStart: now}, func(source.Page) error { return nil })
	if err != nil || len(waits) != 1 || waits[0] != 16500*time.Millisecond {
		t.Errorf("waits %v, err %v; want one wait of 14.5 s to 12:01:00 plus 2 s jitter", waits, err)
	}

	calls = 0
	st = newSource(t, ts.URL, crunchbase.Config{}, &crunchbase.Options{Now: func() time.Time { return now }})
	_, err = st.NextPage(t.Context(), source.PageRequest{SyncStart: now})
	e, _ := errs.As(err)
	if !errs.Is(err, errs.RateLimited) || e.RetryAfter < 15500*time.Millisecond || e.RetryAfter >= 18500*time.Millisecond {
		t.Errorf("default jitter: %v (retry after %v), want 14.5 s plus 1 to 4 s", err, e.RetryAfter)
	}
}

// Against the sandbox's own limit: the 181st call in a minute is refused only if
// the connector does not pace; at 180 a minute it spaces calls by a third of a second.
func TestPacing(t *testing.T) {
	_, url := newRecorder(t, 10)
	src, _ := crunchbase.New(crunchbase.Config{BaseURL: url, UserKey: sbcrunchbase.DefaultKey}, nil)
	start := time.Now()
	for range 3 {
		if err := src.Check(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if took := time.Since(start); took < 600*time.Millisecond {
		t.Errorf("3 calls at the default 180 a minute took %v, want at least 2/3 s", took)
	}
}

func TestPermission(t *testing.T) {
	_, url := newRecorder(t, 10)
	src, _ := crunchbase.New(crunchbase.Config{BaseURL: url, UserKey: badKey, RequestsPerMinute: -1}, nil)
	for _, err := range []error{src.Check(t.Context()), func() error {
		_, err := src.Streams()[0].NextPage(t.Context(), source.PageRequest{})
		return err
	}()} {
		if !errs.Is(err, errs.Permission) || !strings.Contains(err.Error(), crunchbase.UserKeyEnv) || strings.Contains(err.Error(), badKey) {
			t.Errorf("bad key: %v", err)
		}
	}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(403)
		w.Write([]byte(`[{"code":"MD403","message":"insufficient permissions to read field categories"}]`))
	}))
	defer ts.Close()
	src, _ = crunchbase.New(crunchbase.Config{BaseURL: ts.URL, UserKey: "k", RequestsPerMinute: -1}, nil)
	if err := src.Check(t.Context()); !errs.Is(err, errs.Permission) || !strings.Contains(err.Error(), "MD403: insufficient permissions") {
		t.Errorf("403: %v", err)
	}
}

func TestOrganizationLookup(t *testing.T) {
	rec, url := newRecorder(t, 10)
	src, _ := crunchbase.New(crunchbase.Config{BaseURL: url, UserKey: secret.Value(sbcrunchbase.DefaultKey), RequestsPerMinute: -1}, nil)
	m := sandbox.Get[*sbcrunchbase.API](rec.sb).Matches()[0]
	props, err := src.Organization(t.Context(), m.ID, "identifier", "website_url")
	var p struct {
		Identifier struct{ UUID string }
		WebsiteURL string `json:"website_url"`
	}
	if err != nil || json.Unmarshal(props, &p) != nil || p.Identifier.UUID != m.ID || p.WebsiteURL != m.Domain {
		t.Errorf("lookup: %s %v", props, err)
	}
	if _, err := src.Organization(t.Context(), "no-such-org"); !errs.Is(err, errs.NotFound) {
		t.Errorf("unknown organization: %v", err)
	}
}
