package crunchbase_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/meshflow/meshflow/connectors/crunchbase"
	"github.com/meshflow/meshflow/dev/sandbox"
	sbcrunchbase "github.com/meshflow/meshflow/dev/sandbox/crunchbase"
	"github.com/meshflow/meshflow/framework/source"
)

// A full read, then an incremental read from its cursor, against the sandbox.
func Example() {
	sb := sandbox.New(&sandbox.Options{Connectors: []source.Connector{crunchbase.Connector}, Seed: 1, Settings: []any{sbcrunchbase.Options{Organizations: 70}}})
	srv := httptest.NewServer(sb)
	defer srv.Close()

	// The sandbox's values: its address, the key it accepts, unpaced.
	src, err := crunchbase.Connector.Open(sb.Values(srv.URL)["crunchbase"])
	if err != nil {
		panic(err)
	}
	orgs, _ := source.Lookup(src, "organizations")
	ctx := context.Background()

	recs, cursor, err := source.ReadAll(ctx, orgs, source.PageRequest{SyncStart: time.Now()}, nil)
	fmt.Println(len(recs), "organizations", err)

	sandbox.Get[*sbcrunchbase.API](sb).Touch(4)
	recs, _, err = source.ReadAll(ctx, orgs, source.PageRequest{Cursor: cursor, SyncStart: time.Now()}, nil)
	fmt.Println(len(recs), "changed", err)
	// Output:
	// 70 organizations <nil>
	// 4 changed <nil>
}
