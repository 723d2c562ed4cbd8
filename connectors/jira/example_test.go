package jira_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/meshflow/meshflow/connectors/jira"
	"github.com/meshflow/meshflow/dev/sandbox"
	sbjira "github.com/meshflow/meshflow/dev/sandbox/jira"
	"github.com/meshflow/meshflow/framework/source"
)

// A full refresh of issues and their changelog, then incremental syncs from the
// cursors, against the sandbox.
func Example() {
	sb := sandbox.New(&sandbox.Options{Connectors: []source.Connector{jira.Connector}, Seed: 1, Settings: []any{sbjira.Options{Issues: 120, RateLimit: -1}}})
	srv := httptest.NewServer(sb)
	defer srv.Close()

	src, err := jira.New(jira.Config{
		BaseURL:  sbjira.URL(srv.URL),
		Email:    sbjira.DefaultEmail,
		Token:    sbjira.DefaultToken,
		Projects: []string{"OPS", "WEB", "DATA", "MOB"},
	}, &jira.Options{RequestsPerSecond: -1}) // unpaced: the sandbox's limit is off too
	if err != nil {
		panic(err)
	}
	issues, _ := source.Lookup(src, "issues")
	changelog, _ := source.Lookup(src, "issue_changelog")
	ctx := context.Background()

	recs, issuesAt, err := source.ReadAll(ctx, issues, source.PageRequest{SyncStart: time.Now()}, nil)
	fmt.Println(len(recs), "issues", err)
	_, changelogAt, err := source.ReadAll(ctx, changelog, source.PageRequest{SyncStart: time.Now()}, nil)
	fmt.Println("changelog read", err)

	sandbox.Get[*sbjira.API](sb).Transition(2) // two issues move one status forward
	recs, _, err = source.ReadAll(ctx, issues, source.PageRequest{Cursor: issuesAt, SyncStart: time.Now()}, nil)
	fmt.Println(len(recs), "issues changed", err)
	recs, _, err = source.ReadAll(ctx, changelog, source.PageRequest{Cursor: changelogAt, SyncStart: time.Now()}, nil)
	fmt.Println(len(recs), "new changelog entries", err)
	// Output:
	// 120 issues <nil>
	// changelog read <nil>
	// 2 issues changed <nil>
	// 2 new changelog entries <nil>
}

// The API token never prints.
func ExampleConfig() {
	cfg := jira.Config{BaseURL: "https://acme.atlassian.net", Email: "sync@acme.example", Token: "ATATT3xFfGF0-0123"}
	fmt.Println(cfg.Token)
	fmt.Printf("%+v\n", cfg)
	// Output:
	// [REDACTED]
	// {BaseURL:https://acme.atlassian.net Email:sync@acme.example Token:[REDACTED] Projects:[] Lookback:0s PageSize:0}
}
