package googleanalytics_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/meshflow/meshflow/connectors/googleanalytics"
	"github.com/meshflow/meshflow/dev/sandbox"
	sbga "github.com/meshflow/meshflow/dev/sandbox/googleanalytics"
	"github.com/meshflow/meshflow/framework/secret"
	"github.com/meshflow/meshflow/framework/source"
)

// A first sync, a quiet one, and one after late hits changed three rows, against
// the sandbox; then the typed columns of a record.
func Example() {
	now := func() time.Time { return time.Date(2025, 3, 12, 15, 30, 0, 0, time.UTC) }
	sb := sandbox.New(&sandbox.Options{Connectors: []source.Connector{googleanalytics.Connector}, Seed: 1, Now: now})
	srv := httptest.NewServer(sb)
	defer srv.Close()

	src, err := googleanalytics.New(googleanalytics.Config{
		PropertyIDs: []string{"123456789"},
		// The key file as GA4_CREDENTIALS_FILE would hold it; its token_uri is the sandbox's.
		CredentialsJSON: secret.Value(sandbox.Get[*sbga.API](sb).ServiceAccountJSON(sbga.TokenURL(srv.URL))),
		BaseURL:         sbga.URL(srv.URL),
		StartDate:       "2025-03-01",
	}, &googleanalytics.Options{Now: now, RequestsPerSecond: -1}) // no pacing against a local sandbox
	if err != nil {
		panic(err)
	}
	report, _ := source.Lookup(src, googleanalytics.StreamName)
	ctx := context.Background()
	req := source.PageRequest{SyncStart: now()}

	recs, cursor, err := source.ReadAll(ctx, report, req, nil)
	fmt.Println(len(recs), "rows of 11 days", err)

	req.Cursor = cursor
	recs, cursor, err = source.ReadAll(ctx, report, req, nil)
	fmt.Println(len(recs), "changed in the lookback window", err)

	sandbox.Get[*sbga.API](sb).LateHits("123456789", "2025-03-10", googleanalytics.DefaultDimensions, 3)
	req.Cursor = cursor
	recs, _, err = source.ReadAll(ctx, report, req, nil)
	fmt.Println(len(recs), "changed after late hits", err)

	spec := report.Spec()
	vals, _ := source.Extract(recs[0], spec.Fields)
	for i, f := range spec.Fields {
		fmt.Printf("%s %s = %v\n", f.Name, f.Type, vals[i])
	}
	// Output:
	// 366 rows of 11 days <nil>
	// 0 changed in the lookback window <nil>
	// 3 changed after late hits <nil>
	// property_id string = 123456789
	// date date = 2025-03-10 00:00:00 +0000 UTC
	// session_default_channel_group string = Display
	// landing_page string = /pricing
	// sessions int64 = 19
	// total_users int64 = 19
	// conversions int64 = 0
	// pulled_at timestamp = 2025-03-12 15:30:00 +0000 UTC
}

// The key file never prints.
func ExampleConfig() {
	cfg := googleanalytics.Config{PropertyIDs: []string{"123456789"}, CredentialsJSON: `{"type":"service_account","private_key":"..."}`}
	fmt.Printf("%+v\n", cfg)
	// Output:
	// {PropertyIDs:[123456789] CredentialsJSON:[REDACTED] TokenURL: BaseURL: Dimensions:[] Metrics:[] LookbackDays:0 StartDate: PageSize:0}
}
