package bi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/meshflow/meshflow/connectors/conformance"
	"github.com/meshflow/meshflow/dev/sandbox"
	sblooker "github.com/meshflow/meshflow/dev/sandbox/looker"
	"github.com/meshflow/meshflow/framework/source"
)

// badSecret looks like a real client secret, so a leak would be visible.
const badSecret = "Zq9Xw8Vu7Ts6Rq5Po4Nm3Lk2"

// lookerServer is the composite sandbox serving the Looker imitation alone.
type lookerServer struct {
	ts  *httptest.Server
	srv *sandbox.Server
}

func startLooker(t *testing.T, faults sandbox.Faults, o sblooker.Options) *lookerServer {
	t.Helper()
	srv := sandbox.New(&sandbox.Options{Connectors: []source.Connector{Looker()}, Seed: 7, Faults: faults, Settings: []any{o}})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &lookerServer{ts, srv}
}

func (h *lookerServer) api() *sblooker.API { return sandbox.Get[*sblooker.API](h.srv) }
func (h *lookerServer) URL() string        { return sblooker.URL(h.ts.URL) + sblooker.APIPath }
func (h *lookerServer) Requests() int      { return h.api().Requests() }
func (h *lookerServer) Close()             { h.ts.Close() }

func (h *lookerServer) Total(stream string) int {
	c := h.api().Count()
	switch stream {
	case "users":
		return c.Users
	case "dashboards":
		return c.Dashboards
	case "looks":
		return c.Looks
	case "dashboard_elements":
		n := 0
		for _, d := range h.api().DashboardTables() {
			if !d.Deleted {
				n += d.Tiles
			}
		}
		return n
	}
	return c.History
}

func (h *lookerServer) Mutate(stream string, n int) ([]string, error) {
	if stream != "query_history" {
		return nil, fmt.Errorf("%s is read in full", stream)
	}
	var keys []string
	for _, id := range h.api().AddQueries(n) {
		keys = append(keys, conformance.Key(id))
	}
	return keys, nil
}

// openLooker builds the looker source for the sandbox at baseURL.
func openLooker(t *testing.T, baseURL, secret string) (source.Source, error) {
	t.Helper()
	return Looker().Open(source.Values{
		sblooker.BaseURLVar: baseURL, sblooker.ClientIDVar: sblooker.DefaultClientID, sblooker.ClientSecretVar: secret, source.Unpaced: "true",
	})
}

// The looker spec passes the suite every connector passes: paging (users by
// offset), resuming, incremental history windows, backoff, bad credentials.
func TestLookerConformance(t *testing.T) {
	conformance.Run(t, conformance.Harness{
		Start: func(t *testing.T, f conformance.Faults) conformance.Server {
			// A week of history keeps the whole-window answers small under faults;
			// 200 business staff make three pages of users.
			return startLooker(t, sandbox.Faults{RateLimited: f.RateLimited, ServerError: f.ServerError, Truncate: f.Truncate, Slow: f.Slow, SlowDelay: f.SlowDelay},
				sblooker.Options{Days: 7, Staff: 200})
		},
		NewSource: func(t *testing.T, baseURL string, valid bool) (source.Source, error) {
			secret := sblooker.DefaultClientSecret
			if !valid {
				secret = badSecret
			}
			return openLooker(t, baseURL, secret)
		},
		BadCredential:   badSecret,
		FullRefreshOnly: []string{"users", "dashboards", "dashboard_elements", "looks"},
		SinglePage:      []string{"dashboards", "dashboard_elements", "looks", "query_history"},
	})
}

// readAll reads a stream from the start, every page.
func readAll(t *testing.T, src source.Source, name string) []json.RawMessage {
	t.Helper()
	st, ok := source.Lookup(src, name)
	if !ok {
		t.Fatalf("no stream %s", name)
	}
	var out []json.RawMessage
	var cursor json.RawMessage
	for range 1000 {
		page, err := st.NextPage(context.Background(), source.PageRequest{Cursor: cursor, SyncStart: time.Now()})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out = append(out, page.Records...)
		if page.Done {
			return out
		}
		cursor = page.Next
	}
	t.Fatalf("%s never ends", name)
	return nil
}

// A token that expires mid-sync (Looker's expires_in) is renewed by logging in
// again, and the read goes on.
func TestLookerLogsInAgainWhenTheTokenExpires(t *testing.T) {
	h := startLooker(t, sandbox.Faults{}, sblooker.Options{Days: 3})
	src, err := openLooker(t, h.URL(), sblooker.DefaultClientSecret)
	if err != nil {
		t.Fatal(err)
	}
	users := readAll(t, src, "users")
	h.api().ExpireTokens()
	dashboards := readAll(t, src, "dashboards")
	if len(users) != h.api().Count().Users || len(dashboards) != h.api().Count().Dashboards {
		t.Fatalf("%d users, %d dashboards", len(users), len(dashboards))
	}
	if got := h.api().Logins(); got != 2 {
		t.Errorf("%d logins: want one, and one more after the token expired", got)
	}
}

// A History query Looker could not run answers 200 with a looker_error row: the
// read fails (and is retried), it never lands the error as a record.
func TestLookerErrorRowIsAnError(t *testing.T) {
	h := startLooker(t, sandbox.Faults{}, sblooker.Options{Days: 3})
	src, err := openLooker(t, h.URL(), sblooker.DefaultClientSecret)
	if err != nil {
		t.Fatal(err)
	}
	h.api().FailQueries(1)
	st, _ := source.Lookup(src, "query_history")
	_, err = st.NextPage(context.Background(), source.PageRequest{SyncStart: time.Now()})
	if err == nil || !strings.Contains(err.Error(), "System Activity could not run the query") {
		t.Fatalf("a looker_error row read as %v", err)
	}
	if rows := readAll(t, src, "query_history"); len(rows) != h.api().Count().History {
		t.Errorf("the read after it: %d rows of %d", len(rows), h.api().Count().History)
	}
}
