package source

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meshflow/meshflow/framework/errs"
)

// scripted serves pages of 2 records; errs[i] (if set) is returned on call i instead.
type scripted struct {
	pages int
	fail  map[int]error
	calls int
}

func (s *scripted) Spec() StreamSpec { return StreamSpec{Name: "things"} }

func (s *scripted) NextPage(ctx context.Context, req PageRequest) (Page, error) {
	s.calls++
	if err := s.fail[s.calls]; err != nil {
		return Page{}, err
	}
	n := 0
	if req.Cursor != nil {
		n, _ = strconv.Atoi(string(req.Cursor))
	}
	return Page{
		Records: []json.RawMessage{json.RawMessage(`{"n":` + strconv.Itoa(2*n) + `}`), json.RawMessage(`{"n":` + strconv.Itoa(2*n+1) + `}`)},
		Next:    json.RawMessage(strconv.Itoa(n + 1)),
		Done:    n+1 == s.pages,
	}, nil
}

func noSleep(waits *[]time.Duration) *ReaderOptions {
	return &ReaderOptions{Sleep: func(ctx context.Context, d time.Duration) error { *waits = append(*waits, d); return ctx.Err() }}
}

func TestReaderRetriesWhatCanBeRetried(t *testing.T) {
	var waits []time.Duration
	s := &scripted{pages: 3, fail: map[int]error{
		2: &errs.Error{Kind: errs.RateLimited, RetryAfter: 10 * time.Second},
		3: errs.E(errs.Transient, "get", errors.New("502")),
		4: &errs.Error{Kind: errs.Transient, RetryAfter: 3 * time.Second},
	}}
	recs, cursor, err := ReadAll(context.Background(), s, PageRequest{}, noSleep(&waits))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 6 || string(cursor) != "3" {
		t.Fatalf("read %d records to cursor %s, want 6 to 3", len(recs), cursor)
	}
	if len(waits) != 3 || waits[0] != 10*time.Second || waits[2] != 3*time.Second {
		t.Fatalf("waits = %v, want the source's 10s, a backoff, then its 3s", waits)
	}
}

func TestReaderGivesUp(t *testing.T) {
	for name, tc := range map[string]struct {
		fail  error
		calls int
	}{
		"permission is never retried":      {errs.E(errs.Permission, "get", errors.New("401")), 1},
		"transient is retried 5 times":     {errs.E(errs.Transient, "get", errors.New("503")), 5},
		"a long rate limit is handed back": {&errs.Error{Kind: errs.RateLimited, RetryAfter: time.Hour}, 1},
		"a quota is handed back":           {&errs.Error{Kind: errs.Quota, Until: time.Now().Add(time.Hour)}, 1},
	} {
		t.Run(name, func(t *testing.T) {
			var waits []time.Duration
			always := map[int]error{}
			for i := 1; i <= 20; i++ {
				always[i] = tc.fail
			}
			s := &scripted{pages: 3, fail: always}
			_, err := NewReader(s, noSleep(&waits)).Read(context.Background(), PageRequest{}, func(Page) error { return nil })
			if errs.KindOf(err) != errs.KindOf(tc.fail) || s.calls != tc.calls {
				t.Fatalf("err = %v after %d calls, want %s after %d", err, s.calls, errs.KindOf(tc.fail), tc.calls)
			}
		})
	}
}

func TestReaderStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s := &scripted{pages: 100}
	_, err := NewReader(s, nil).Read(ctx, PageRequest{}, func(p Page) error {
		if string(p.Next) == "2" {
			cancel()
		}
		return nil
	})
	if !errs.Is(err, errs.Canceled) || s.calls != 2 {
		t.Fatalf("err = %v after %d calls, want canceled after 2", err, s.calls)
	}
}

func TestExtractConvertsVendorValues(t *testing.T) {
	fields := []Field{
		{Name: "id", Type: String, Path: []string{"id"}},
		{Name: "n", Type: Int64, Path: []string{"p", "n"}},
		{Name: "x", Type: Float64, Path: []string{"p", "x"}},
		{Name: "ok", Type: Bool, Path: []string{"p", "ok"}},
		{Name: "jira", Type: Timestamp, Path: []string{"jira"}},
		{Name: "ms", Type: Timestamp, Path: []string{"ms"}},
		{Name: "day", Type: Date, Path: []string{"day"}},
		{Name: "missing", Type: String, Path: []string{"nope", "deeper"}},
		{Name: "empty", Type: Int64, Path: []string{"p", "empty"}},
	}
	rec := json.RawMessage(`{"id":51,"p":{"n":"42","x":"1.5","ok":"true","empty":""},"jira":"2024-03-02T09:15:44.123-0500","ms":1709370944000,"day":"20240301"}`)
	got, err := Extract(rec, fields)
	if err != nil {
		t.Fatal(err)
	}
	want := []any{"51", int64(42), 1.5, true, time.Date(2024, 3, 2, 14, 15, 44, 123e6, time.UTC), time.UnixMilli(1709370944000).UTC(), time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), nil, nil}
	for i := range want {
		if g, ok := got[i].(time.Time); ok {
			if !g.Equal(want[i].(time.Time)) {
				t.Errorf("%s = %v, want %v", fields[i].Name, g, want[i])
			}
			continue
		}
		if got[i] != want[i] {
			t.Errorf("%s = %#v, want %#v", fields[i].Name, got[i], want[i])
		}
	}
	if _, err := Extract(json.RawMessage(`{"p":{"n":"4x2"}}`), fields[1:2]); err == nil || err.Error() != `field n (p.n): "4x2" is not an integer` {
		t.Fatalf("bad integer error = %v", err)
	}
}

func TestVersions(t *testing.T) {
	var none Versions
	if none.Landed("a", 1) {
		t.Error("an empty set has landed nothing")
	}
	seen := MergeVersions(Versions{"a": 5, "b": 9}, Versions{"a": 7}, nil)
	if !seen.Landed("a", 7) || !seen.Landed("a", 6) || seen.Landed("a", 8) || !seen.Landed("b", 9) {
		t.Errorf("merged = %v", seen)
	}
	seen.Prune(8)
	if _, ok := seen["a"]; ok || !seen.Landed("b", 9) {
		t.Errorf("after pruning below 8: %v", seen)
	}
	if MergeVersions(nil, Versions{}) != nil {
		t.Error("an empty merge should be nil, keeping idle cursors small")
	}
}

// fakeClock is a clock that only moves when something sleeps on it.
type fakeClock struct {
	now    time.Time
	slept  []time.Duration
	wakeAt []time.Time
}

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.slept = append(c.slept, d)
	c.now = c.now.Add(d)
	c.wakeAt = append(c.wakeAt, c.now)
	return ctx.Err()
}

func TestReaderReportsItsWaitsOnTheSourcesLimits(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC)}
	s := &scripted{pages: 3, fail: map[int]error{
		2: &errs.Error{Kind: errs.RateLimited, RetryAfter: 70 * time.Second, Limit: "the GitHub secondary rate limit"},
		3: errs.E(errs.Transient, "get", errors.New("502")), // a network fault's backoff is no wait on a limit
		4: &errs.Error{Kind: errs.RateLimited},              // no Retry-After, no name: still a rate limit
		5: &errs.Error{Kind: errs.Transient, RetryAfter: 3 * time.Second, Limit: "Jira's load shedding (503)"},
	}}
	var got []Wait
	opts := &ReaderOptions{Now: clock.Now, Sleep: clock.Sleep, BaseBackoff: time.Second, OnWait: func(w Wait) { got = append(got, w) }}
	st, err := NewReader(s, opts).Read(context.Background(), PageRequest{}, func(Page) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || st.Waits != 3 || st.Retries != 4 {
		t.Fatalf("waits %+v (stats %+v), want 3 waits reported among 4 retries", got, st)
	}
	want := []struct {
		reason string
		until  time.Time
	}{
		{"the GitHub secondary rate limit", clock.wakeAt[0]},
		{"a rate limit of the source (reading things)", clock.wakeAt[2]},
		{"Jira's load shedding (503)", clock.wakeAt[3]},
	}
	for i, w := range want {
		if got[i].Reason != w.reason || !got[i].Until.Equal(w.until) || got[i].Waits != i+1 {
			t.Errorf("wait %d = %+v, want %q until %s, wait number %d", i, got[i], w.reason, w.until, i+1)
		}
	}
	if !got[0].Until.Equal(time.Date(2026, 3, 2, 14, 1, 10, 0, time.UTC)) {
		t.Errorf("the 429's Retry-After of 70s gives Until %s", got[0].Until)
	}
}

// reporting is a stream whose client waits on its own limit before every page, as a
// connector's shared pacing does.
type reporting struct{ scripted }

func (s *reporting) NextPage(ctx context.Context, req PageRequest) (Page, error) {
	ReportWait(ctx, "Crunchbase's per-minute limit", time.Date(2026, 3, 2, 14, 1, 0, 0, time.UTC))
	return s.scripted.NextPage(ctx, req)
}

func TestReaderCountsTheConnectorsWaitsWithItsOwn(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC)}
	s := &reporting{scripted{pages: 2, fail: map[int]error{2: &errs.Error{Kind: errs.RateLimited, RetryAfter: time.Second, Limit: "HubSpot's 10-second limit"}}}}
	var got []Wait
	st, err := NewReader(s, &ReaderOptions{Now: clock.Now, Sleep: clock.Sleep, OnWait: func(w Wait) { got = append(got, w) }}).
		Read(context.Background(), PageRequest{}, func(Page) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for i, w := range got {
		reasons = append(reasons, w.Reason)
		if w.Waits != i+1 {
			t.Errorf("wait %d counts %d waits so far", i+1, w.Waits)
		}
	}
	want := []string{"Crunchbase's per-minute limit", "Crunchbase's per-minute limit", "HubSpot's 10-second limit", "Crunchbase's per-minute limit"}
	if strings.Join(reasons, "; ") != strings.Join(want, "; ") || st.Waits != 4 {
		t.Fatalf("reasons %q (stats.Waits %d), want %q", reasons, st.Waits, want)
	}
	// Outside a read, nobody listens and nothing fails.
	ReportWait(context.Background(), "nobody", time.Now())
}

// TestPacerSpacesRequests: one read alone is spaced at the pace and its delays, the
// normal spacing of requests, are never reported as waits.
func TestPacerSpacesRequests(t *testing.T) {
	for name, tc := range map[string]struct {
		perSecond float64
		spacing   time.Duration
	}{
		"10 a second":  {10, 100 * time.Millisecond},
		"one every 2s": {0.5, 2 * time.Second},
		"unpaced":      {0, 0},
	} {
		t.Run(name, func(t *testing.T) {
			clock := &fakeClock{now: time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC)}
			p := NewPacer(tc.perSecond, "Pendo's request pacing").WithClock(clock.Now, clock.Sleep)
			var got []Wait
			ctx := context.WithValue(context.Background(), waitsKey{}, &waits{on: func(w Wait) { got = append(got, w) }})
			var sent []time.Time
			for range 4 {
				if err := p.Wait(ctx); err != nil {
					t.Fatal(err)
				}
				sent = append(sent, clock.now)
			}
			for i := 1; i < len(sent); i++ {
				if d := sent[i].Sub(sent[i-1]); d != tc.spacing {
					t.Errorf("request %d came %v after the one before, want %v", i+1, d, tc.spacing)
				}
			}
			if len(got) != 0 {
				t.Fatalf("the spacing of one read's requests was reported: %+v", got)
			}
		})
	}
}

// TestPacerReportsOnlyWaitsWellAboveItsPace: requests of parallel reads, all asking at
// one instant, queue behind each other. Queueing of up to max(5 s, 3 intervals) is
// the normal spacing of streams sharing a pace and is not reported; a longer delay is,
// with its end.
func TestPacerReportsOnlyWaitsWellAboveItsPace(t *testing.T) {
	at := time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC)
	for name, tc := range map[string]struct {
		perSecond float64
		queued    int
		reported  []time.Duration // the delays reported, in order
	}{
		"1 a second, 5 streams":    {1, 5, nil},
		"1 a second, 10 requests":  {1, 10, []time.Duration{6 * time.Second, 7 * time.Second, 8 * time.Second, 9 * time.Second}},
		"one every 10s, 5 queued":  {0.1, 5, []time.Duration{40 * time.Second}},
		"10 a second, 60 requests": {10, 60, []time.Duration{5100 * time.Millisecond, 5200 * time.Millisecond, 5300 * time.Millisecond, 5400 * time.Millisecond, 5500 * time.Millisecond, 5600 * time.Millisecond, 5700 * time.Millisecond, 5800 * time.Millisecond, 5900 * time.Millisecond}},
	} {
		t.Run(name, func(t *testing.T) {
			// The clock stands still: every request is asked for at the same instant.
			p := NewPacer(tc.perSecond, "Pendo's request pacing").WithClock(func() time.Time { return at }, func(context.Context, time.Duration) error { return nil })
			var got []time.Duration
			ctx := context.WithValue(context.Background(), waitsKey{}, &waits{on: func(w Wait) {
				if w.Reason != "Pendo's request pacing" || w.Waits != len(got)+1 {
					t.Errorf("wait %+v", w)
				}
				got = append(got, w.Until.Sub(at))
			}})
			for range tc.queued {
				if err := p.Wait(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if !slices.Equal(got, tc.reported) {
				t.Errorf("reported waits of %v, want %v", got, tc.reported)
			}
		})
	}
}

func TestPacerStopsOnCancel(t *testing.T) {
	p := NewPacer(0.001, "slow")
	ctx, cancel := context.WithCancel(context.Background())
	if err := p.Wait(ctx); err != nil {
		t.Fatal(err) // the first request goes at once
	}
	cancel()
	if err := p.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
