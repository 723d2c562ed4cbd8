package hubspot_test

import (
	"net/http/httptest"
	"testing"

	"github.com/meshflow/meshflow/connectors/conformance"
	"github.com/meshflow/meshflow/connectors/hubspot"
	"github.com/meshflow/meshflow/dev/sandbox"
	sbhubspot "github.com/meshflow/meshflow/dev/sandbox/hubspot"
	"github.com/meshflow/meshflow/framework/source"
)

// badToken looks like a real private app token, so a leak would be visible.
const badToken = "pat-na1-11111111-2222-3333-4444-555555555555"

func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.Harness{
		Start: func(t *testing.T, f conformance.Faults) conformance.Server {
			srv := sandbox.New(&sandbox.Options{
				Connectors: []source.Connector{hubspot.Connector},
				Seed:       7,
				Faults: sandbox.Faults{
					RateLimited: f.RateLimited, ServerError: f.ServerError,
					Truncate: f.Truncate, Slow: f.Slow, SlowDelay: f.SlowDelay,
				},
				// Small enough for seconds, big enough for several pages per stream.
				// The sandbox's own limits are off: the suite fakes sleeps, and
				// pacing against them is tested in this package's unit tests.
				Settings: []any{sbhubspot.Options{Contacts: 450, Companies: 150, Deals: 250, RateLimit: -1, SearchPerSecond: -1}},
			})
			return &harnessServer{httptest.NewServer(srv), srv}
		},
		NewSource: func(t *testing.T, baseURL string, valid bool) (source.Source, error) {
			tok := hubspot.Secret(sbhubspot.DefaultToken)
			if !valid {
				tok = badToken
			}
			return hubspot.New(hubspot.Config{BaseURL: baseURL, Token: tok},
				&hubspot.Options{RequestsPerSecond: -1, SearchRequestsPerSecond: -1})
		},
		BadCredential: badToken,
	})
}

type harnessServer struct {
	ts  *httptest.Server
	srv *sandbox.Server
}

func (h *harnessServer) URL() string   { return sbhubspot.URL(h.ts.URL) }
func (h *harnessServer) Requests() int { return sandbox.Get[*sbhubspot.API](h.srv).Requests() }
func (h *harnessServer) Close()        { h.ts.Close() }

// Total counts archived records too: a full read lands deletes as well.
func (h *harnessServer) Total(stream string) int {
	return sandbox.Get[*sbhubspot.API](h.srv).Count(stream) + sandbox.Get[*sbhubspot.API](h.srv).Archived(stream)
}

func (h *harnessServer) Mutate(stream string, n int) ([]string, error) {
	return sandbox.Get[*sbhubspot.API](h.srv).Touch(stream, n), nil
}
