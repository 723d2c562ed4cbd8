package pendo_test

import (
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/meshflow/meshflow/connectors/conformance"
	"github.com/meshflow/meshflow/connectors/hubspot"
	"github.com/meshflow/meshflow/connectors/pendo"
	"github.com/meshflow/meshflow/dev/sandbox"
	sbhubspot "github.com/meshflow/meshflow/dev/sandbox/hubspot"
	sbpendo "github.com/meshflow/meshflow/dev/sandbox/pendo"
	"github.com/meshflow/meshflow/framework/source"
)

// badKey looks like a real integration key, so a leak would be visible.
const badKey = "4f1b2c3d-5e6f-4a7b-8c9d-0e1f2a3b4c5d.us"

// historyDays bounds a full event read to a few days (a few pages), lookbackDays
// re-reads two of them.
const historyDays, lookbackDays = 4, 2

func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.Harness{
		Start: func(t *testing.T, f conformance.Faults) conformance.Server {
			srv := sandbox.New(&sandbox.Options{
				Connectors: []source.Connector{hubspot.Connector, pendo.Connector},
				Seed:       7,
				Faults: sandbox.Faults{
					RateLimited: f.RateLimited, ServerError: f.ServerError,
					Truncate: f.Truncate, Slow: f.Slow, SlowDelay: f.SlowDelay,
				},
				// The sandbox's rate limit is off: the suite fakes sleeps, and 429s
				// are tested in this package's unit tests.
				Settings: []any{sbhubspot.Options{Contacts: 20, Companies: 60, Deals: 10}, sbpendo.Options{Accounts: 30, Visitors: 150, Pages: 8, Features: 12, Days: 30, RateLimit: -1}},
			})
			return &harnessServer{httptest.NewServer(srv), srv}
		},
		NewSource: func(t *testing.T, baseURL string, valid bool) (source.Source, error) {
			key := sbpendo.DefaultKey
			if !valid {
				key = badKey
			}
			return pendo.New(pendo.Config{BaseURL: baseURL, IntegrationKey: secretOf(key), HistoryDays: historyDays, LookbackDays: lookbackDays, MinInterval: -1}, nil)
		},
		BadCredential:   badKey,
		FullRefreshOnly: []string{"pages", "features"},
		// Pendo paginates nothing: lists and aggregations answer at once.
		SinglePage: []string{"pages", "features", "visitors", "accounts"},
		// Event syncs re-read a lookback of days; a changed day lands whole.
		Windowed: []string{"page_events", "feature_events"},
	})
}

type harnessServer struct {
	ts  *httptest.Server
	srv *sandbox.Server
}

func (h *harnessServer) URL() string   { return sbpendo.URL(h.ts.URL) }
func (h *harnessServer) Requests() int { return sandbox.Get[*sbpendo.API](h.srv).Requests() }
func (h *harnessServer) Close()        { h.ts.Close() }

var aggSource = map[string]string{"page_events": sbpendo.PageEvents, "feature_events": sbpendo.FeatureEvents}

// yesterday is the subscription-local day before today, the last day a sync reads.
func (h *harnessServer) yesterday() time.Time {
	return sandbox.Get[*sbpendo.API](h.srv).DayStart(time.Now()).AddDate(0, 0, -1)
}

func (h *harnessServer) Total(stream string) int {
	if src, ok := aggSource[stream]; ok {
		n := 0
		for i := range historyDays {
			n += len(sandbox.Get[*sbpendo.API](h.srv).Events(src, h.yesterday().AddDate(0, 0, -i)))
		}
		return n
	}
	return sandbox.Get[*sbpendo.API](h.srv).Count(stream)
}

// Mutate touches visitors or accounts, or adds late events to yesterday.
func (h *harnessServer) Mutate(stream string, n int) ([]string, error) {
	switch stream {
	case "visitors":
		return sandbox.Get[*sbpendo.API](h.srv).TouchVisitors(n), nil
	case "accounts":
		return sandbox.Get[*sbpendo.API](h.srv).TouchAccounts(n), nil
	}
	src, ok := aggSource[stream]
	if !ok {
		return nil, fmt.Errorf("stream %s cannot be mutated", stream)
	}
	var keys []string
	for _, row := range sandbox.Get[*sbpendo.API](h.srv).AddEvents(src, h.yesterday(), n) {
		k, err := pendo.EventKey(row)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}
