package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meshflow/meshflow/connectors"
	"github.com/meshflow/meshflow/dev/sandbox/hubspot"
)

func small() hubspot.Options {
	return hubspot.Options{Contacts: 50, Companies: 20, Deals: 30, RateLimit: -1, SearchPerSecond: -1}
}

func start(t *testing.T, o *Options) (*Server, *httptest.Server) {
	t.Helper()
	srv := New(o)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return srv, ts
}

func get(t *testing.T, ctx context.Context, url string) (*http.Response, []byte, error) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+hubspot.DefaultToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

func TestRoutes(t *testing.T) {
	srv, ts := start(t, &Options{Connectors: connectors.All(), Settings: []any{small()}})
	resp, body, err := get(t, t.Context(), hubspot.URL(ts.URL)+"/crm/v3/objects/contacts?limit=2")
	if err != nil || resp.StatusCode != 200 || !strings.Contains(string(body), `"results"`) {
		t.Fatalf("hubspot list: %v %v %s", err, resp, body)
	}
	var page struct {
		Paging struct{ Next struct{ Link string } }
	}
	json.Unmarshal(body, &page)
	if !strings.HasPrefix(page.Paging.Next.Link, hubspot.URL(ts.URL)+"/crm/v3/objects/contacts?") {
		t.Errorf("paging link %q does not keep the mount prefix", page.Paging.Next.Link)
	}
	resp, body, _ = get(t, t.Context(), ts.URL+"/_sandbox/health")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"hubspot":"/hubspot"`) {
		t.Errorf("health: %d %s", resp.StatusCode, body)
	}
	if Get[*hubspot.API](srv).Requests() != 1 {
		t.Errorf("requests %d, want 1 (admin calls are not counted)", Get[*hubspot.API](srv).Requests())
	}
}

func TestFaultsAreDeterministic(t *testing.T) {
	f := Faults{RateLimited: 0.2, ServerError: 0.2, RetryAfter: 1500 * time.Millisecond}
	statuses := func(seed int64) []int {
		_, ts := start(t, &Options{Connectors: connectors.All(), Seed: seed, Faults: f, Settings: []any{small()}})
		var out []int
		for range 200 {
			resp, body, err := get(t, t.Context(), hubspot.URL(ts.URL)+"/crm/v3/objects/deals?limit=1")
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, resp.StatusCode)
			if resp.StatusCode == 429 {
				if !strings.Contains(string(body), `"policyName":"TEN_SECONDLY_ROLLING"`) || resp.Header.Get("Retry-After") != "2" {
					t.Fatalf("faulted 429: %v %s", resp.Header, body)
				}
			}
			if resp.StatusCode >= 500 && json.Valid(body) {
				t.Fatalf("5xx faults should not be JSON: %s", body)
			}
		}
		return out
	}
	a, b, c := statuses(5), statuses(5), statuses(6)
	if !slices.Equal(a, b) {
		t.Error("same seed, different faults")
	}
	if slices.Equal(a, c) {
		t.Error("different seeds, same faults")
	}
	var ok, limited, failed int
	for _, s := range a {
		switch {
		case s == 200:
			ok++
		case s == 429:
			limited++
		case s >= 500:
			failed++
		}
	}
	if limited < 20 || limited > 60 || failed < 20 || failed > 60 || ok+limited+failed != 200 {
		t.Errorf("200 requests at 20%%/20%%: %d ok, %d 429, %d 5xx", ok, limited, failed)
	}
}

func TestFaultsSpareAdmin(t *testing.T) {
	srv, ts := start(t, &Options{Connectors: connectors.All(), Faults: Faults{ServerError: 1}, Settings: []any{small()}})
	for _, path := range []string{"/_sandbox/health", "/_sandbox/faults", "/_sandbox/hubspot/count?object=deals"} {
		if resp, _, err := get(t, t.Context(), ts.URL+path); err != nil || resp.StatusCode != 200 {
			t.Errorf("%s under 100%% 5xx faults: %v %v", path, resp.StatusCode, err)
		}
	}
	resp, _, _ := get(t, t.Context(), hubspot.URL(ts.URL)+"/crm/v3/objects/deals")
	if resp.StatusCode < 500 || resp.Header.Get(FaultHeader) == "" {
		t.Errorf("API request under 100%% 5xx faults: %d", resp.StatusCode)
	}
	if Get[*hubspot.API](srv).Requests() != 1 {
		t.Errorf("faulted requests are counted: got %d, want 1", Get[*hubspot.API](srv).Requests())
	}
}

func TestTruncate(t *testing.T) {
	_, ts := start(t, &Options{Connectors: connectors.All(), Faults: Faults{Truncate: 1}, Settings: []any{small()}})
	resp, body, err := get(t, t.Context(), hubspot.URL(ts.URL)+"/crm/v3/objects/contacts?limit=50")
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated body: err %v, status %v, %d bytes", err, resp, len(body))
	}
}

func TestSlowHonoursCancel(t *testing.T) {
	_, ts := start(t, &Options{Connectors: connectors.All(), Faults: Faults{Slow: 1, SlowDelay: 50 * time.Millisecond}, Settings: []any{small()}})
	began := time.Now()
	resp, _, err := get(t, t.Context(), hubspot.URL(ts.URL)+"/crm/v3/objects/contacts")
	if err != nil || resp.StatusCode != 200 || time.Since(began) < 50*time.Millisecond {
		t.Fatalf("slow response: %v %v after %v", err, resp, time.Since(began))
	}

	srv, ts2 := start(t, &Options{Connectors: connectors.All(), Faults: Faults{Slow: 1, SlowDelay: time.Hour}, Settings: []any{small()}})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, _, err := get(t, ctx, hubspot.URL(ts2.URL)+"/crm/v3/objects/contacts"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want the client's deadline, got %v", err)
	}
	srv.SetFaults(Faults{})
	// ts2.Close (cleanup) returns promptly only if the slow handler saw the cancel.
}

func TestFaultsAdmin(t *testing.T) {
	srv, ts := start(t, &Options{Connectors: connectors.All(), Settings: []any{small()}})
	put := func(body string) int {
		req, _ := http.NewRequest("PUT", ts.URL+"/_sandbox/faults", strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := put(`{"rate_limited":0.25,"slow":0.1,"slow_delay":"300ms","retry_after":"1s"}`); s != 200 {
		t.Fatalf("PUT faults: %d", s)
	}
	want := Faults{RateLimited: 0.25, Slow: 0.1, SlowDelay: 300 * time.Millisecond, RetryAfter: time.Second}
	if srv.Faults() != want {
		t.Errorf("faults %+v, want %+v", srv.Faults(), want)
	}
	_, body, _ := get(t, t.Context(), ts.URL+"/_sandbox/faults")
	var back Faults
	if err := json.Unmarshal(body, &back); err != nil || back != want {
		t.Errorf("GET faults: %s → %+v %v", body, back, err)
	}
	for _, bad := range []string{`{"rate_limited":1.5}`, `{"rate_limited":0.6,"server_error":0.6}`, `{"slow_delay":"soon"}`, `nope`} {
		if s := put(bad); s != 400 {
			t.Errorf("PUT %s: %d, want 400", bad, s)
		}
	}
	resp, err := http.Post(ts.URL+"/_sandbox/hubspot/touch?object=contacts&n=2", "", nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("touch over HTTP: %v %v", resp, err)
	}
	resp.Body.Close()
}

// RateLimitNext answers exactly the next N vendor requests 429, set over the admin
// API as a test of a client's one retry does, then lets requests through.
func TestRateLimitNext(t *testing.T) {
	srv, ts := start(t, &Options{Connectors: connectors.All(), Settings: []any{small()}})
	req, _ := http.NewRequest("PUT", ts.URL+"/_sandbox/faults", strings.NewReader(`{"rate_limit_next":2}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("PUT faults: %v %v", resp, err)
	}
	resp.Body.Close()
	var got []int
	for range 4 {
		resp, _, err := get(t, t.Context(), hubspot.URL(ts.URL)+"/crm/v3/objects/contacts?limit=1")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, resp.StatusCode)
	}
	if !slices.Equal(got, []int{429, 429, 200, 200}) {
		t.Errorf("statuses %v, want two 429s then 200s", got)
	}
	if f := srv.Faults(); f.RateLimitNext != 0 {
		t.Errorf("%d rate limits left, want 0", f.RateLimitNext)
	}
	if err := (Faults{RateLimitNext: -1}).Validate(); err == nil {
		t.Error("a negative count is accepted")
	}
}
