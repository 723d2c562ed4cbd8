package hubspot_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/meshflow/meshflow/connectors/hubspot"
	"github.com/meshflow/meshflow/dev/sandbox"
	sbhubspot "github.com/meshflow/meshflow/dev/sandbox/hubspot"
	"github.com/meshflow/meshflow/framework/source"
)

// A full refresh, then incremental syncs from its cursor, against the sandbox.
func Example() {
	sb := sandbox.New(&sandbox.Options{Connectors: []source.Connector{hubspot.Connector}, Seed: 1, Settings: []any{sbhubspot.Options{Contacts: 120, Companies: 30, Deals: 40}}})
	srv := httptest.NewServer(sb)
	defer srv.Close()

	src, err := hubspot.New(hubspot.Config{BaseURL: sbhubspot.URL(srv.URL), Token: sbhubspot.DefaultToken}, nil)
	if err != nil {
		panic(err)
	}
	companies, _ := source.Lookup(src, "companies")
	ctx := context.Background()

	recs, cursor, err := source.ReadAll(ctx, companies, source.PageRequest{SyncStart: time.Now()}, nil)
	fmt.Println(len(recs), "companies, archived included", err)

	recs, cursor, err = source.ReadAll(ctx, companies, source.PageRequest{Cursor: cursor, SyncStart: time.Now()}, nil)
	fmt.Println(len(recs), "changed since", err)

	sandbox.Get[*sbhubspot.API](sb).Touch("companies", 2)
	recs, _, err = source.ReadAll(ctx, companies, source.PageRequest{Cursor: cursor, SyncStart: time.Now()}, nil)
	fmt.Println(len(recs), "changed after a touch", err)
	// Output:
	// 30 companies, archived included <nil>
	// 0 changed since <nil>
	// 2 changed after a touch <nil>
}

// A Secret never prints.
func ExampleSecret() {
	cfg := hubspot.Config{Token: "pat-na1-0123"}
	fmt.Println(cfg.Token)
	fmt.Printf("%+v\n", cfg)
	// Output:
	// [REDACTED]
	// {BaseURL: Token:[REDACTED] Lookback:0s PageSize:0}
}
