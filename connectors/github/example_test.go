package github_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/meshflow/meshflow/connectors/github"
	"github.com/meshflow/meshflow/connectors/hubspot"
	"github.com/meshflow/meshflow/dev/sandbox"
	sbgithub "github.com/meshflow/meshflow/dev/sandbox/github"
	"github.com/meshflow/meshflow/framework/source"
)

// A full read of pull requests, then incremental reads from its cursor, against
// the sandbox.
func Example() {
	sb := sandbox.New(&sandbox.Options{Connectors: []source.Connector{hubspot.Connector, github.Connector}, Seed: 1, Settings: []any{sbgithub.Options{Issues: 30, PullRequests: 40, Commits: 10}}})
	srv := httptest.NewServer(sb)
	defer srv.Close()

	src, err := github.New(github.Config{
		BaseURL: sbgithub.URL(srv.URL),
		Token:   sbgithub.DefaultToken,
		Repos:   []string{"acme/app", "acme/api", "acme/data-pipeline"},
	}, nil)
	if err != nil {
		panic(err)
	}
	pulls, _ := source.Lookup(src, github.PullRequests)
	ctx := context.Background()

	recs, cursor, err := source.ReadAll(ctx, pulls, source.PageRequest{SyncStart: time.Now()}, nil)
	fmt.Println(len(recs), "pull requests", err)

	var env struct {
		Repository string          `json:"repository"`
		Item       json.RawMessage `json:"item"`
	}
	json.Unmarshal(recs[0], &env)
	fmt.Println("each record wraps GitHub's object:", env.Repository, json.Valid(env.Item))

	recs, cursor, err = source.ReadAll(ctx, pulls, source.PageRequest{Cursor: cursor, SyncStart: time.Now()}, nil)
	fmt.Println(len(recs), "changed since (three free 304s)", err)

	sandbox.Get[*sbgithub.API](sb).MergePRs(2)
	recs, _, err = source.ReadAll(ctx, pulls, source.PageRequest{Cursor: cursor, SyncStart: time.Now()}, nil)
	fmt.Println(len(recs), "changed after two merges", err)
	// Output:
	// 120 pull requests <nil>
	// each record wraps GitHub's object: acme/app true
	// 0 changed since (three free 304s) <nil>
	// 2 changed after two merges <nil>
}

// Validate names the environment variable to fix, and never prints the token.
func ExampleConfig_Validate() {
	cfg := github.Config{Token: "ghp_0123", Repos: []string{"https://github.com/acme/app"}}
	fmt.Println(cfg.Validate())
	fmt.Printf("%+v\n", cfg.Token)
	// Output:
	// github: config: GITHUB_REPOS entry "https://github.com/acme/app" is not owner/name (e.g. acme/app; no URL, no .git)
	// [REDACTED]
}
