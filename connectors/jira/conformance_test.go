package jira_test

import (
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/meshflow/meshflow/connectors/conformance"
	"github.com/meshflow/meshflow/connectors/jira"
	"github.com/meshflow/meshflow/dev/sandbox"
	sbjira "github.com/meshflow/meshflow/dev/sandbox/jira"
	"github.com/meshflow/meshflow/framework/secret"
	"github.com/meshflow/meshflow/framework/source"
)

// badToken looks like a real Atlassian API token, so a leak would be visible.
const badToken = "ATATT3xFfGF0aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.Harness{
		Start: func(t *testing.T, f conformance.Faults) conformance.Server {
			srv := sandbox.New(&sandbox.Options{
				Connectors: []source.Connector{jira.Connector},
				Seed:       7,
				Faults: sandbox.Faults{
					RateLimited: f.RateLimited, ServerError: f.ServerError,
					Truncate: f.Truncate, Slow: f.Slow, SlowDelay: f.SlowDelay,
				},
				// Small enough for seconds, big enough for several pages per stream
				// at PageSize 5 (8 projects: two pages). The sandbox's own burst
				// limit is off: the suite fakes sleeps, and 429s are tested in
				// this package's unit tests.
				Settings: []any{sbjira.Options{Issues: 30, Projects: 8, RateLimit: -1}},
			})
			return &harnessServer{httptest.NewServer(srv), srv}
		},
		NewSource: func(t *testing.T, baseURL string, valid bool) (source.Source, error) {
			tok := sbjira.DefaultToken
			if !valid {
				tok = badToken
			}
			return jira.New(jira.Config{BaseURL: baseURL, Email: sbjira.DefaultEmail, Token: secret.Value(tok), PageSize: 5},
				&jira.Options{RequestsPerSecond: -1})
		},
		BadCredential:   badToken,
		FullRefreshOnly: []string{"projects"},
	})
}

type harnessServer struct {
	ts  *httptest.Server
	srv *sandbox.Server
}

func (h *harnessServer) URL() string   { return sbjira.URL(h.ts.URL) }
func (h *harnessServer) Requests() int { return sandbox.Get[*sbjira.API](h.srv).Requests() }
func (h *harnessServer) Close()        { h.ts.Close() }

func (h *harnessServer) Total(stream string) int {
	switch stream {
	case "issues":
		return sandbox.Get[*sbjira.API](h.srv).Count()
	case "issue_changelog":
		return sandbox.Get[*sbjira.API](h.srv).Histories()
	case "projects":
		return len(sandbox.Get[*sbjira.API](h.srv).Projects())
	}
	return -1
}

// Mutate moves issues one status forward: the issues stream sees them changed,
// the changelog stream sees one new entry each.
func (h *harnessServer) Mutate(stream string, n int) ([]string, error) {
	var keys []string
	for _, c := range sandbox.Get[*sbjira.API](h.srv).Transitions(n) {
		switch stream {
		case "issues":
			keys = append(keys, c.IssueID)
		case "issue_changelog":
			keys = append(keys, c.HistoryID)
		default:
			return nil, fmt.Errorf("stream %s cannot be mutated", stream)
		}
	}
	return keys, nil
}
