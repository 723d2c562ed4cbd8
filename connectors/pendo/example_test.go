package pendo_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/meshflow/meshflow/connectors/hubspot"
	"github.com/meshflow/meshflow/connectors/pendo"
	"github.com/meshflow/meshflow/dev/sandbox"
	sbpendo "github.com/meshflow/meshflow/dev/sandbox/pendo"
	"github.com/meshflow/meshflow/framework/source"
)

// Accounts in full and then incrementally; one day of page events, against the
// sandbox on a fixed clock.
func Example() {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	sb := sandbox.New(&sandbox.Options{Connectors: []source.Connector{hubspot.Connector, pendo.Connector}, Seed: 1, Now: func() time.Time { return now }, Settings: []any{sbpendo.Options{Accounts: 25, Visitors: 100}}})
	srv := httptest.NewServer(sb)
	defer srv.Close()

	src, err := pendo.New(pendo.Config{BaseURL: sbpendo.URL(srv.URL), IntegrationKey: sbpendo.DefaultKey, MinInterval: -1}, nil)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	accounts, _ := source.Lookup(src, "accounts")
	recs, cursor, err := source.ReadAll(ctx, accounts, source.PageRequest{SyncStart: now}, nil)
	fmt.Println(len(recs), "accounts", err)

	sandbox.Get[*sbpendo.API](sb).TouchAccounts(2)
	recs, _, err = source.ReadAll(ctx, accounts, source.PageRequest{Cursor: cursor, SyncStart: now}, nil)
	fmt.Println(len(recs), "changed accounts", err)

	events, _ := source.Lookup(src, "page_events")
	recs, _, err = source.ReadAll(ctx, events, source.PageRequest{SyncStart: now, Partition: "2026-03-09"}, nil)
	vals, _ := source.Extract(recs[0], events.Spec().Fields)
	la, _ := time.LoadLocation(pendo.DefaultTimeZone)
	fmt.Println(len(recs) > 0, "rows on 2026-03-09, day bucket", vals[1].(time.Time).In(la), err)
	// Output:
	// 25 accounts <nil>
	// 2 changed accounts <nil>
	// true rows on 2026-03-09, day bucket 2026-03-09 00:00:00 -0700 PDT <nil>
}

// A Config never prints its key.
func ExampleConfig() {
	cfg := pendo.Config{IntegrationKey: "4f1b2c3d-0000.us"}
	fmt.Printf("%+v\n", cfg)
	// Output:
	// {BaseURL: IntegrationKey:[REDACTED] TimeZone: LookbackDays:0 HistoryDays:0 MinInterval:0s}
}
