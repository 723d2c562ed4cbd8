package github_test

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/meshflow/meshflow/connectors/conformance"
	"github.com/meshflow/meshflow/connectors/github"
	"github.com/meshflow/meshflow/connectors/hubspot"
	"github.com/meshflow/meshflow/dev/sandbox"
	sbgithub "github.com/meshflow/meshflow/dev/sandbox/github"
	sbhubspot "github.com/meshflow/meshflow/dev/sandbox/hubspot"
	"github.com/meshflow/meshflow/framework/secret"
	"github.com/meshflow/meshflow/framework/source"
)

// badToken looks like a real personal access token, so a leak would be visible.
const badToken = "ghp_1111111111222222222233333333334444"

func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.Harness{
		Start: func(t *testing.T, f conformance.Faults) conformance.Server {
			srv := sandbox.New(&sandbox.Options{
				Connectors: []source.Connector{hubspot.Connector, github.Connector},
				Seed:       7,
				Faults: sandbox.Faults{
					RateLimited: f.RateLimited, ServerError: f.ServerError,
					Truncate: f.Truncate, Slow: f.Slow, SlowDelay: f.SlowDelay,
				},
				// here only the companies organisations derive from,
				// Small enough for seconds (reviews cost a request per pull request),
				// big enough for several pages per stream at PageSize 10. The
				// sandbox's own limits are off: the suite fakes sleeps, and the
				// limits are tested in this package's unit tests.
				Settings: []any{sbgithub.Options{Issues: 40, PullRequests: 12, Commits: 12, ReleaseCommits: 4, Orgs: 15, UserForks: 5,
					RateLimit: -1, SecondaryPerMinute: -1}, sbhubspot.Options{Contacts: 1, Companies: 1, Deals: 1}},
			})
			return &harnessServer{httptest.NewServer(srv), srv}
		},
		NewSource: func(t *testing.T, baseURL string, valid bool) (source.Source, error) {
			tok := secret.Value(sbgithub.DefaultToken)
			if !valid {
				tok = badToken
			}
			return github.New(github.Config{
				BaseURL: baseURL, Token: tok, PageSize: 10,
				Repos:    []string{"acme/app", "acme/api", "acme/data-pipeline"},
				Branches: []string{sbgithub.ReleaseBranch},
			}, &github.Options{RequestsPerSecond: -1})
		},
		BadCredential: badToken,
	})
}

type harnessServer struct {
	ts  *httptest.Server
	srv *sandbox.Server
}

func (h *harnessServer) URL() string   { return sbgithub.URL(h.ts.URL) }
func (h *harnessServer) Requests() int { return sandbox.Get[*sbgithub.API](h.srv).Requests() }
func (h *harnessServer) Close()        { h.ts.Close() }
func (h *harnessServer) Total(stream string) int {
	return sandbox.Get[*sbgithub.API](h.srv).Count(stream)
}

// Mutate turns the sandbox's keys into the streams' primary keys:
// "acme/app#12" → (repository, number), "acme/app@sha" → (repository, main, sha);
// organisation ids are already theirs.
func (h *harnessServer) Mutate(stream string, n int) ([]string, error) {
	gh := sandbox.Get[*sbgithub.API](h.srv)
	var keys []string
	switch stream {
	case github.Repositories:
		return gh.UpdateRepos(n), nil
	case github.PullRequestReviews:
		return gh.ReviewPRs(n), nil
	case github.Organizations:
		return gh.UpdateOrgs(n), nil
	case github.Issues:
		keys = gh.UpdateIssues(n)
	case github.PullRequests:
		keys = gh.MergePRs(n)
	case github.Commits:
		for _, k := range gh.AddCommits(n) {
			repo, sha, _ := strings.Cut(k, "@")
			keys = append(keys, conformance.Key(repo, "main", sha))
		}
		return keys, nil
	default:
		return nil, fmt.Errorf("no mutation for stream %q", stream)
	}
	for i, k := range keys {
		repo, num, _ := strings.Cut(k, "#")
		keys[i] = conformance.Key(repo, num)
	}
	return keys, nil
}
