package crunchbase_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	_ "gocloud.dev/blob/fileblob" // the lakes of TestLandsTheSandboxTruth

	"github.com/meshflow/meshflow/connectors/conformance"
	"github.com/meshflow/meshflow/connectors/crunchbase"
	"github.com/meshflow/meshflow/dev/sandbox"
	sbcrunchbase "github.com/meshflow/meshflow/dev/sandbox/crunchbase"
	"github.com/meshflow/meshflow/domains/marketintel"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/source"
	"github.com/meshflow/meshflow/framework/transform"
)

// badKey looks like a real user key, so a leak would be visible.
const badKey = "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d"

// The conformance suite every connector passes, against the Crunchbase sandbox. A
// search page holds 1000 organizations, so the sandbox holds 2,600: three pages. The
// per-minute limit is off: the suite fakes sleeps; the bare 429 is tested in
// crunchbase_test.go.
func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.Harness{
		Start: func(t *testing.T, f conformance.Faults) conformance.Server {
			srv := sandbox.New(&sandbox.Options{
				Connectors: []source.Connector{crunchbase.Connector},
				Seed:       7,
				Faults:     sandbox.Faults{RateLimited: f.RateLimited, ServerError: f.ServerError, Truncate: f.Truncate, Slow: f.Slow, SlowDelay: f.SlowDelay},
				Settings:   []any{sbcrunchbase.Options{Organizations: 2600, RateLimit: -1}},
			})
			return &harnessServer{httptest.NewServer(srv), srv}
		},
		NewSource: func(t *testing.T, baseURL string, valid bool) (source.Source, error) {
			key := sbcrunchbase.DefaultKey
			if !valid {
				key = badKey
			}
			return crunchbase.Connector.Open(source.Values{crunchbase.BaseURLEnv: baseURL, crunchbase.UserKeyEnv: key, source.Unpaced: "true"})
		},
		BadCredential: badKey,
	})
}

type harnessServer struct {
	ts  *httptest.Server
	srv *sandbox.Server
}

func (h *harnessServer) api() *sbcrunchbase.API { return sandbox.Get[*sbcrunchbase.API](h.srv) }
func (h *harnessServer) URL() string {
	return h.srv.Values(h.ts.URL)["crunchbase"].Get(crunchbase.BaseURLEnv)
}
func (h *harnessServer) Requests() int    { return h.api().Requests() }
func (h *harnessServer) Close()           { h.ts.Close() }
func (h *harnessServer) Total(string) int { return h.api().Count() }
func (h *harnessServer) Mutate(_ string, n int) ([]string, error) {
	return h.api().Touch(n), nil
}

// clock is the sandbox's and the syncs' clock, moved by the test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// TestLandsTheSandboxTruth holds the spec to what replaced the Go connector: the
// spec lands market_intelligence.organizations' raw input into a lake through
// lake.Land, the product's model runs over every landing (transform.Run, as the
// Transform step does), and the port has the row-set hash of the model run over the
// sandbox's ground truth — every organization once, at its newest version, with
// every field the sandbox serves — after a full read, incremental reads of 40 and of
// 900 changes (past the versions a cursor remembers) and quiet ones; on a clean
// sandbox and under its faults (429s, 5xx pages, answers later than the client
// waits, bodies cut off). The Go connector's port had this hash too
// (TestSpecEqualsGoConnector, before it was deleted).
func TestLandsTheSandboxTruth(t *testing.T) {
	clean := landAgainstTruth(t, sandbox.Faults{})
	underFaults := landAgainstTruth(t, sandbox.Faults{RateLimited: 0.1, ServerError: 0.1, Slow: 0.05, Truncate: 0.15, SlowDelay: 3 * time.Second})
	if underFaults <= clean {
		t.Errorf("%d requests under faults, %d on a clean sandbox: the faults did not reach the source", underFaults, clean)
	}
}

// landAgainstTruth runs the steps against a sandbox with faults f, checking the port
// after each against the sandbox's truth, and returns the requests the source sent.
func landAgainstTruth(t *testing.T, f sandbox.Faults) (requests int) {
	t.Helper()
	ctx := t.Context()
	anchor := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	clk := &clock{t: anchor}
	srv := sandbox.New(&sandbox.Options{Connectors: []source.Connector{crunchbase.Connector}, Seed: 11, Now: clk.Now,
		Settings: []any{sbcrunchbase.Options{Organizations: 2600, RateLimit: -1}}})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	vals := srv.Values(ts.URL)["crunchbase"]
	vals[crunchbase.HTTPTimeoutEnv] = "1s" // a Slow fault's answer comes later than this
	src, err := crunchbase.Connector.Open(vals)
	if err != nil {
		t.Fatal(err)
	}
	orgs, _ := source.Lookup(src, "organizations")
	lk := openLake(t)
	api := sandbox.Get[*sbcrunchbase.API](srv)
	steps := []struct {
		what  string
		touch int
	}{{"full read", 0}, {"incremental after 40 changes", 40}, {"quiet incremental", 0}, {"incremental after 900 changes", 900}, {"quiet incremental", 0}}
	for i, step := range steps {
		clk.set(anchor.Add(time.Duration(i) * time.Hour))
		api.Touch(step.touch)
		clk.set(anchor.Add(time.Duration(i)*time.Hour + time.Minute))
		runID := fmt.Sprintf("run-%d", i)

		before := api.Requests()
		srv.SetFaults(f)
		landed, rows, hash := landAndModel(t, ctx, lk, orgs, runID, clk.Now())
		srv.SetFaults(sandbox.Faults{})
		requests += api.Requests() - before

		_, wantRows, want := landAndModel(t, ctx, openLake(t), truth{orgs.Spec(), api.Organizations()}, runID, clk.Now())
		t.Logf("faults %+v, %s: %d records landed, %d rows, row-set hash %s (truth %s)", f, step.what, landed, rows, hash, want)
		if rows != int64(api.Count()) || wantRows != rows || hash != want {
			t.Errorf("faults %+v, %s: the port has %d rows, hash %s; the sandbox's truth %d organizations, hash %s", f, step.what, rows, hash, wantRows, want)
		}
		if i == 0 && landed != api.Count() {
			t.Errorf("faults %+v: the full read landed %d records of %d organizations", f, landed, api.Count())
		}
	}
	t.Logf("faults %+v: the source sent %d requests", f, requests)
	return requests
}

// truth is a stream whose one page is the sandbox's ground truth.
type truth struct {
	spec    source.StreamSpec
	records []json.RawMessage
}

func (s truth) Spec() source.StreamSpec { return s.spec }
func (s truth) NextPage(context.Context, source.PageRequest) (source.Page, error) {
	return source.Page{Records: s.records, Next: json.RawMessage(`{}`), Done: true}, nil
}

func openLake(t *testing.T) *lake.Lake {
	t.Helper()
	lk, err := lake.Open(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lk.Close() })
	return lk
}

// landAndModel lands st from its lake's cursor, then runs the product's model over
// every landing, and returns the records landed, the port's rows and its row-set hash.
func landAndModel(t *testing.T, ctx context.Context, lk *lake.Lake, st source.Stream, runID string, syncStart time.Time) (landed int, rows int64, hash string) {
	t.Helper()
	ref := lake.StreamRef{Domain: marketintel.Name, Source: "crunchbase", Stream: "organizations"}
	cursor, err := lk.Cursor(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	res, err := lk.Land(ctx, st, lake.LandRequest{Stream: ref, RunID: runID, SyncStart: syncStart, Cursor: cursor,
		Reader: &source.ReaderOptions{MaxAttempts: 20, Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }}})
	if err != nil {
		t.Fatalf("land %s: %v", runID, err)
	}
	ms, err := lk.Manifests(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, m := range ms {
		for _, f := range m.Files {
			keys = append(keys, f.Key)
		}
	}
	dir := t.TempDir()
	files, err := lk.LocalFiles(ctx, keys, dir)
	if err != nil {
		t.Fatal(err)
	}
	spec := st.Spec()
	out, err := transform.Run(ctx, transform.Request{
		Product: marketintel.Domain().Products[0],
		Raw:     []transform.RawInput{{Source: ref.Source, Stream: ref.Stream, Files: files, PrimaryKey: spec.PrimaryKey, CursorField: spec.CursorField, Fields: spec.Fields}},
		Output:  filepath.Join(dir, "model.parquet"),
	})
	if err != nil {
		t.Fatal(err)
	}
	return res.Stats.Records, out.Rows, out.RowsHash
}
