package crunchbase_test

import (
	"net/http/httptest"
	"testing"

	"github.com/meshflow/meshflow/connectors/conformance"
	"github.com/meshflow/meshflow/connectors/crunchbase"
	"github.com/meshflow/meshflow/connectors/hubspot"
	"github.com/meshflow/meshflow/dev/sandbox"
	sbcrunchbase "github.com/meshflow/meshflow/dev/sandbox/crunchbase"
	sbhubspot "github.com/meshflow/meshflow/dev/sandbox/hubspot"
	"github.com/meshflow/meshflow/framework/secret"
	"github.com/meshflow/meshflow/framework/source"
)

// badKey looks like a real user key, so a leak would be visible.
const badKey = "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d"

func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.Harness{
		Start: func(t *testing.T, f conformance.Faults) conformance.Server {
			srv := sandbox.New(&sandbox.Options{
				Connectors: []source.Connector{hubspot.Connector, crunchbase.Connector},
				Seed:       7,
				Faults: sandbox.Faults{
					RateLimited: f.RateLimited, ServerError: f.ServerError,
					Truncate: f.Truncate, Slow: f.Slow, SlowDelay: f.SlowDelay,
				},
				// 120 organizations at PageSize 25: five pages. The per-minute limit
				// is off: the suite fakes sleeps; the bare 429 is unit-tested here.
				Settings: []any{sbhubspot.Options{Contacts: 20, Companies: 80, Deals: 10}, sbcrunchbase.Options{Organizations: 120, RateLimit: -1}},
			})
			return &harnessServer{httptest.NewServer(srv), srv}
		},
		NewSource: func(t *testing.T, baseURL string, valid bool) (source.Source, error) {
			key := sbcrunchbase.DefaultKey
			if !valid {
				key = badKey
			}
			return crunchbase.New(crunchbase.Config{BaseURL: baseURL, UserKey: secret.Value(key), PageSize: 25, RequestsPerMinute: -1}, nil)
		},
		BadCredential: badKey,
	})
}

type harnessServer struct {
	ts  *httptest.Server
	srv *sandbox.Server
}

func (h *harnessServer) URL() string      { return sbcrunchbase.URL(h.ts.URL) }
func (h *harnessServer) Requests() int    { return sandbox.Get[*sbcrunchbase.API](h.srv).Requests() }
func (h *harnessServer) Close()           { h.ts.Close() }
func (h *harnessServer) Total(string) int { return sandbox.Get[*sbcrunchbase.API](h.srv).Count() }
func (h *harnessServer) Mutate(_ string, n int) ([]string, error) {
	return sandbox.Get[*sbcrunchbase.API](h.srv).Touch(n), nil
}
