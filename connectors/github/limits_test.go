package github

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshflow/meshflow/connectors/hubspot"
	"github.com/meshflow/meshflow/dev/sandbox"
	sbgithub "github.com/meshflow/meshflow/dev/sandbox/github"
	sbhubspot "github.com/meshflow/meshflow/dev/sandbox/hubspot"
	"github.com/meshflow/meshflow/framework/source"
)

// A read that meets GitHub's secondary rate limit (a 403 without Retry-After, in
// front of the sandbox) waits it out inline and reports the wait with the limit's
// name, when it ends and how many waits the read has made.
func TestSecondaryLimitWaitsAreReported(t *testing.T) {
	sb := sandbox.New(&sandbox.Options{Connectors: []source.Connector{hubspot.Connector, Connector}, Seed: 5, Settings: []any{sbgithub.Options{RateLimit: -1, SecondaryPerMinute: -1}, sbhubspot.Options{Contacts: 1, Companies: 1, Deals: 1}}})
	var calls atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n := calls.Add(1); n == 2 || n == 3 { // the second repository's first two tries
			w.Header().Set("X-Ratelimit-Remaining", "4000")
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprintf(w, `{"message":%q}`, sbgithub.SecondaryMessage)
			return
		}
		sb.ServeHTTP(w, r)
	}))
	defer ts.Close()
	src, err := New(Config{BaseURL: sbgithub.URL(ts.URL), Token: sbgithub.DefaultToken, Repos: []string{"acme/app", "acme/api"}}, &Options{RequestsPerSecond: -1})
	if err != nil {
		t.Fatal(err)
	}
	st, _ := source.Lookup(src, Repositories)
	now := time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC)
	var got []source.Wait
	var slept []time.Duration
	opts := &source.ReaderOptions{
		MaxInlineWait: 5 * time.Minute,
		Now:           func() time.Time { return now },
		Sleep: func(ctx context.Context, d time.Duration) error {
			slept = append(slept, d)
			now = now.Add(d)
			return ctx.Err()
		},
		OnWait: func(w source.Wait) { got = append(got, w) },
	}
	stats, err := source.NewReader(st, opts).Read(t.Context(), source.PageRequest{SyncStart: now}, func(source.Page) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC)
	want := []source.Wait{
		{Reason: "the GitHub secondary rate limit", Until: start.Add(time.Minute), Waits: 1},
		{Reason: "the GitHub secondary rate limit", Until: start.Add(3 * time.Minute), Waits: 2}, // it doubles while it repeats
	}
	if len(got) != len(want) || stats.Waits != 2 || len(slept) != 2 {
		t.Fatalf("reported %+v after sleeping %v (stats %+v), want %+v", got, slept, stats, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("wait %d = %+v, want %+v", i+1, got[i], want[i])
		}
	}
}
