package crunchbase_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	_ "gocloud.dev/blob/fileblob" // the lakes of TestSpecEqualsGoConnector

	"github.com/meshflow/meshflow/connectors/conformance"
	"github.com/meshflow/meshflow/connectors/crunchbase"
	"github.com/meshflow/meshflow/dev/sandbox"
	sbcrunchbase "github.com/meshflow/meshflow/dev/sandbox/crunchbase"
	"github.com/meshflow/meshflow/domains/marketintel"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/source"
	"github.com/meshflow/meshflow/framework/transform"
)

// The spec passes the conformance suite the Go connector passes, against the same
// sandbox. Its pages hold 1000 organizations, so the sandbox holds 2,600: three pages.
func TestSpecConformance(t *testing.T) {
	conformance.Run(t, conformance.Harness{
		Start: func(t *testing.T, f conformance.Faults) conformance.Server {
			srv := sandbox.New(&sandbox.Options{
				Connectors: []source.Connector{crunchbase.SpecConnector},
				Seed:       7,
				Faults:     sandbox.Faults{RateLimited: f.RateLimited, ServerError: f.ServerError, Truncate: f.Truncate, Slow: f.Slow, SlowDelay: f.SlowDelay},
				Settings:   []any{sbcrunchbase.Options{Organizations: 2600, RateLimit: -1}},
			})
			return &specServer{httptest.NewServer(srv), srv}
		},
		NewSource: func(t *testing.T, baseURL string, valid bool) (source.Source, error) {
			key := sbcrunchbase.DefaultKey
			if !valid {
				key = badKey
			}
			return crunchbase.SpecConnector.Open(source.Values{crunchbase.BaseURLEnv: baseURL, crunchbase.UserKeyEnv: key, source.Unpaced: "true"})
		},
		BadCredential: badKey,
	})
}

type specServer struct {
	ts  *httptest.Server
	srv *sandbox.Server
}

func (h *specServer) api() *sbcrunchbase.API { return sandbox.Get[*sbcrunchbase.API](h.srv) }
func (h *specServer) URL() string {
	return h.srv.Values(h.ts.URL)["crunchbase"].Get(crunchbase.BaseURLEnv)
}
func (h *specServer) Requests() int    { return h.api().Requests() }
func (h *specServer) Close()           { h.ts.Close() }
func (h *specServer) Total(string) int { return h.api().Count() }
func (h *specServer) Mutate(_ string, n int) ([]string, error) {
	return h.api().Touch(n), nil
}

// The spec and the Go connector are one source to the configuration: the same
// variables, with the same defaults and docs, and the same stream.
func TestSpecConnectorMatchesTheGoConnector(t *testing.T) {
	g, s := crunchbase.Connector, crunchbase.SpecConnector
	if g.Name != s.Name || g.Title != s.Title || len(g.Vars) != len(s.Vars) {
		t.Fatalf("Go %s %q %d variables, spec %s %q %d variables", g.Name, g.Title, len(g.Vars), s.Name, s.Title, len(s.Vars))
	}
	for i := range g.Vars {
		gv, sv := g.Vars[i], s.Vars[i]
		gv.Check, sv.Check = nil, nil
		if fmt.Sprintf("%+v", gv) != fmt.Sprintf("%+v", sv) {
			t.Errorf("variable %d: Go %+v, spec %+v", i, gv, sv)
		}
	}
	if fmt.Sprintf("%+v", g.Streams) != fmt.Sprintf("%+v", s.Streams) {
		t.Errorf("streams differ:\nGo   %+v\nspec %+v", g.Streams, s.Streams)
	}
}

// clock is the sandbox's and the syncs' clock, moved by the test: two sandboxes of
// one seed touched at the same instants hold the same data.
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

// TestSpecEqualsGoConnector proves the spec equivalent to the Go connector: each lands
// market_intelligence.organizations' raw input into a lake of its own through
// lake.Land, and the product's model runs over each landing (transform.Run, as the
// Transform step does); the two ports have the same row-set hash after a full read,
// after an incremental read of touched organizations and after a quiet one — on a
// clean sandbox and under the sandbox's faults (429s, 5xx pages, answers later than
// the clients wait, bodies cut off), where they also equal the clean ones.
func TestSpecEqualsGoConnector(t *testing.T) {
	faulty := sandbox.Faults{RateLimited: 0.1, ServerError: 0.1, Slow: 0.05, Truncate: 0.15, SlowDelay: 3 * time.Second}
	clean, cleanRequests := equivalence(t, sandbox.Faults{})
	underFaults, faultyRequests := equivalence(t, faulty)
	if faultyRequests <= cleanRequests {
		t.Errorf("%d requests under faults, %d on a clean sandbox: the faults did not reach the sources", faultyRequests, cleanRequests)
	}
	for i := range clean {
		if clean[i] != underFaults[i] {
			t.Errorf("step %d: the port is %s under faults, %s on a clean sandbox", i, underFaults[i], clean[i])
		}
	}
}

// equivalence runs the steps against one sandbox with faults f and returns the port's
// row-set hash after each (the same from both connectors, or the test fails).
func equivalence(t *testing.T, f sandbox.Faults) (hashes []string, requests int) {
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
	type side struct {
		name string
		src  source.Source
		lake *lake.Lake
		reqs int
	}
	var sides []*side
	// In this order every time: the sandbox draws its faults from the requests' order.
	for _, c := range []struct {
		name string
		c    source.Connector
	}{{"go", crunchbase.Connector}, {"spec", crunchbase.SpecConnector}} {
		name := c.name
		src, err := c.c.Open(vals)
		if err != nil {
			t.Fatal(err)
		}
		lk, err := lake.Open(ctx, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { lk.Close() })
		sides = append(sides, &side{name: name, src: src, lake: lk})
	}
	api := sandbox.Get[*sbcrunchbase.API](srv)
	steps := []struct {
		what  string
		touch int
	}{{"full read", 0}, {"incremental after 40 changes", 40}, {"quiet incremental", 0}, {"incremental after 900 changes", 900}, {"quiet incremental", 0}}
	for i, step := range steps {
		clk.set(anchor.Add(time.Duration(i) * time.Hour))
		api.Touch(step.touch)
		clk.set(anchor.Add(time.Duration(i)*time.Hour + time.Minute))
		want := ""
		for _, s := range sides {
			before := api.Requests()
			srv.SetFaults(f)
			rows, hash := landAndModel(t, ctx, s.lake, s.src, fmt.Sprintf("run-%d", i), clk.Now())
			srv.SetFaults(sandbox.Faults{})
			s.reqs += api.Requests() - before
			t.Logf("faults %+v, %s, %s: %d rows, row-set hash %s", f, step.what, s.name, rows, hash)
			if want == "" {
				want = hash
				hashes = append(hashes, hash)
			} else if hash != want {
				t.Errorf("%s: the port from the %s source has hash %s, from the %s one %s", step.what, s.name, hash, sides[0].name, want)
			}
		}
	}
	for _, s := range sides {
		t.Logf("faults %+v: the %s source sent %d requests", f, s.name, s.reqs)
		requests += s.reqs
	}
	return hashes, requests
}

// landAndModel lands organizations from its lake's cursor, then runs the product's
// model over every landing, and returns the port's rows and row-set hash.
func landAndModel(t *testing.T, ctx context.Context, lk *lake.Lake, src source.Source, runID string, syncStart time.Time) (int64, string) {
	t.Helper()
	ref := lake.StreamRef{Domain: marketintel.Name, Source: "crunchbase", Stream: "organizations"}
	st, _ := source.Lookup(src, ref.Stream)
	cursor, err := lk.Cursor(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	_, err = lk.Land(ctx, st, lake.LandRequest{Stream: ref, RunID: runID, SyncStart: syncStart, Cursor: cursor,
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
	res, err := transform.Run(ctx, transform.Request{
		Product: marketintel.Domain().Products[0],
		Raw:     []transform.RawInput{{Source: ref.Source, Stream: ref.Stream, Files: files, PrimaryKey: spec.PrimaryKey, CursorField: spec.CursorField, Fields: spec.Fields}},
		Output:  filepath.Join(dir, "model.parquet"),
	})
	if err != nil {
		t.Fatal(err)
	}
	return res.Rows, res.RowsHash
}
