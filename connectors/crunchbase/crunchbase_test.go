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
	"github.com/meshflow/meshflow/connectors/rest"
	"github.com/meshflow/meshflow/dev/sandbox"
	sbcrunchbase "github.com/meshflow/meshflow/dev/sandbox/crunchbase"
	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/source"
)

// What the spec declares that is Crunchbase's own — the search's keyset and order,
// the bare 429, the 403 — tested against the sandbox or a server answering as
// Crunchbase does; the engine's paging, cursors and scrubbing are connectors/rest's.

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

// open builds the source against baseURL, unpaced, with the given key and options.
func open(t *testing.T, baseURL, key string, o *rest.Options) *rest.Source {
	t.Helper()
	src, err := crunchbase.Spec.New(source.Values{crunchbase.BaseURLEnv: baseURL, crunchbase.UserKeyEnv: key, source.Unpaced: "true"}, o)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// Every search of a sync sends the same field_ids, order and query, and after_id =
// the uuid of the previous page's last organization; an organization updated
// mid-sync neither goes missing nor comes twice (uuid order keeps its place).
func TestKeysetPagingWithAConstantOrder(t *testing.T) {
	// The sandbox's clock stands still, so the organizations touched mid-sync are
	// stamped before the sync's start, as the edits of a sync's first second are:
	// later ones wait for the next sync, and would make this test depend on the
	// wall clock's second turning.
	syncStart := time.Now().UTC().Truncate(time.Second)
	sb := sandbox.New(&sandbox.Options{Connectors: []source.Connector{crunchbase.Connector}, Seed: 5,
		Now:      func() time.Time { return syncStart },
		Settings: []any{sbcrunchbase.Options{Organizations: 2500, RateLimit: -1}}})
	api := sandbox.Get[*sbcrunchbase.API](sb)
	rec := &recorder{sb: sb}
	var touched []string
	rec.during = func(n int) {
		if n == 1 {
			touched = api.Touch(300)
		}
	}
	ts := httptest.NewServer(rec)
	defer ts.Close()
	st := open(t, sbcrunchbase.URL(ts.URL), sbcrunchbase.DefaultKey, nil).Streams()[0]
	recs, _, err := source.ReadAll(t.Context(), st, source.PageRequest{SyncStart: syncStart}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.bodies) != 3 {
		t.Fatalf("%d searches for 2,500 organizations at 1000 a page", len(rec.bodies))
	}
	for i, b := range rec.bodies {
		if fmt.Sprint(b["order"]) != "[map[field_id:uuid sort:asc]]" || fmt.Sprint(b["field_ids"]) != fmt.Sprint(rec.bodies[0]["field_ids"]) ||
			fmt.Sprint(b["query"]) != "[]" || b["limit"] != float64(1000) {
			t.Errorf("search %d: %v, want the first's field_ids, uuid order, an empty query and limit 1000", i, b)
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
	var ids []string
	for _, r := range recs {
		var e struct{ UUID string }
		json.Unmarshal(r, &e)
		ids = append(ids, e.UUID)
	}
	if len(touched) != 300 || !slices.Equal(slices.Sorted(slices.Values(ids)), api.UUIDs()) {
		t.Errorf("read %d organizations, %d distinct; want all 2,500 once (300 touched mid-sync)", len(ids), len(slices.Compact(slices.Sorted(slices.Values(ids)))))
	}
}

// A bare 429 says nothing: wait until the next minute begins, plus 1 to 4 s of
// jitter so parallel workers spread.
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
	clock := func() time.Time { return now }
	st := open(t, ts.URL, "k", &rest.Options{Now: clock, Jitter: func(lo, hi time.Duration) time.Duration { return 2 * time.Second }}).Streams()[0]
	var waits []time.Duration
	_, err := source.NewReader(st, &source.ReaderOptions{Sleep: func(_ context.Context, d time.Duration) error {
		waits = append(waits, d)
		return nil
	}}).Read(t.Context(), source.PageRequest{SyncStart: now}, func(source.Page) error { return nil })
	if err != nil || len(waits) != 1 || waits[0] != 16500*time.Millisecond {
		t.Errorf("waits %v, err %v; want one wait of 14.5 s to 12:01:00 plus 2 s jitter", waits, err)
	}

	mu.Lock()
	calls = 0
	mu.Unlock()
	_, err = open(t, ts.URL, "k", &rest.Options{Now: clock}).Streams()[0].NextPage(t.Context(), source.PageRequest{SyncStart: now})
	e, _ := errs.As(err)
	if !errs.Is(err, errs.RateLimited) || e.RetryAfter < 15500*time.Millisecond || e.RetryAfter > 18500*time.Millisecond || e.Limit != "Crunchbase's per-minute limit" {
		t.Errorf("default jitter: %v (retry after %v), want 14.5 s plus 1 to 4 s, for Crunchbase's per-minute limit", err, e.RetryAfter)
	}
}

// A refused key (401, from the sandbox) and a plan without access (403) are
// permission errors naming CRUNCHBASE_USER_KEY, from the check and a page alike,
// with Crunchbase's words and without the key.
func TestPermission(t *testing.T) {
	sb := httptest.NewServer(sandbox.New(&sandbox.Options{Connectors: []source.Connector{crunchbase.Connector},
		Settings: []any{sbcrunchbase.Options{Organizations: 10, RateLimit: -1}}}))
	defer sb.Close()
	plan := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(`[{"code":"MD403","message":"insufficient permissions to read field categories"}]`))
	}))
	defer plan.Close()
	for _, c := range []struct {
		url, key, said string
	}{{sbcrunchbase.URL(sb.URL), badKey, "HTTP 401"}, {plan.URL, badKey, "insufficient permissions to read field categories"}} {
		src := open(t, c.url, c.key, nil)
		for _, err := range []error{src.Check(t.Context()), func() error {
			_, err := src.Streams()[0].NextPage(t.Context(), source.PageRequest{})
			return err
		}()} {
			if !errs.Is(err, errs.Permission) || !strings.Contains(err.Error(), crunchbase.UserKeyEnv) || !strings.Contains(err.Error(), c.said) || strings.Contains(err.Error(), badKey) {
				t.Errorf("%s: %v, want a permission error naming %s and saying %q, without the key", c.url, err, crunchbase.UserKeyEnv, c.said)
			}
		}
	}
}
