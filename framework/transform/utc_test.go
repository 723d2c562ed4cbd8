package transform

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/globalid"
)

// A model that selects a TIMESTAMP WITH TIME ZONE for a Timestamp column is refused
// with the column and the fix; with the fix applied it publishes the UTC instant.
func TestTimestampWithTimeZoneIsRefused(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	f := rawFile(t, dir, "a.parquet", `('1','a@x.test','lead','2024-05-01 08:00:00')`)
	raw := []RawInput{{Source: "hubspot", Stream: "contacts", Files: []string{f}, PrimaryKey: []string{"id"}, CursorField: "updated_at", Fields: fields}}
	out := filepath.Join(dir, "model.parquet")

	p := product()
	p.Model = `SELECT id AS contact_id, email, stage, timezone('Europe/Paris', updated_at) AS updated_at FROM hubspot.contacts`
	_, err := Run(ctx, Request{Product: p, Output: out, Raw: raw})
	if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), `column "updated_at" is TIMESTAMP WITH TIME ZONE`) ||
		!strings.Contains(err.Error(), "updated_at AT TIME ZONE 'UTC' AS updated_at") {
		t.Fatalf("err = %v, want the column named and the fix", err)
	}

	// 08:00 in Paris (summer time) is 06:00 UTC.
	p.Model = `SELECT id AS contact_id, email, stage, timezone('Europe/Paris', updated_at) AT TIME ZONE 'UTC' AS updated_at FROM hubspot.contacts`
	res, err := Run(ctx, Request{Product: p, Output: out, Raw: raw})
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2024, 5, 1, 6, 0, 0, 0, time.UTC); !res.Watermark.Equal(want) {
		t.Fatalf("watermark = %v, want %v", res.Watermark, want)
	}
}

// Every connection Open returns is on UTC and has the global-id macros, so models and
// checks can call them.
func TestOpenIsUTCWithGlobalIDMacros(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var tz, gid string
	if err := db.QueryRowContext(ctx, "SELECT current_setting('TimeZone'), company_gid('https://www.Acme.example/')").Scan(&tz, &gid); err != nil {
		t.Fatal(err)
	}
	if tz != "UTC" || gid != globalid.CompanyGID("acme.example") {
		t.Fatalf("TimeZone = %q, company_gid = %q", tz, gid)
	}
}
