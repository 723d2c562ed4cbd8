package transform

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/quality"
	"github.com/meshflow/meshflow/framework/source"
)

var fields = []source.Field{
	{Name: "id", Type: source.String}, {Name: "email", Type: source.String},
	{Name: "stage", Type: source.String}, {Name: "updated_at", Type: source.Timestamp},
}

// rawFile writes a raw-shaped Parquet file with DuckDB itself, standing in for a landing.
func rawFile(t *testing.T, dir, name, values string) string {
	t.Helper()
	return writeRaw(t, dir, name, values, "")
}

// oldRawFile is a raw file as landings wrote them before the cursor moved to the
// manifest: with a _cursor column repeating it on every row.
func oldRawFile(t *testing.T, dir, name, values string) string {
	t.Helper()
	return writeRaw(t, dir, name, values, `'{"v":1,"phase":"idle","seen":{"1":1}}' AS _cursor, `)
}

func writeRaw(t *testing.T, dir, name, values, cursorColumn string) string {
	t.Helper()
	db, err := Open(context.Background(), "", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p := filepath.Join(dir, name)
	q := `COPY (SELECT id, email, stage, CAST(updated_at AS TIMESTAMP) AS updated_at, TIMESTAMP '2026-11-23 00:00:00' AS _extracted_at,
	  'run' AS _run_id, ` + cursorColumn + `'{}' AS _raw FROM (VALUES ` + values + `) AS v(id, email, stage, updated_at)) TO '` + p + `' (FORMAT parquet)`
	if _, err := db.Exec(q); err != nil {
		t.Fatal(err)
	}
	return p
}

func product() mesh.Product {
	return mesh.Product{
		Name: "crm_contacts", Version: "1.0.0",
		Model: `SELECT id AS contact_id, lower(email) AS email, stage, updated_at FROM hubspot.contacts`,
		Schema: []mesh.Column{
			{Name: "contact_id", Type: mesh.String, Doc: "id", Required: true},
			{Name: "email", Type: mesh.String, Doc: "e-mail"},
			{Name: "stage", Type: mesh.String, Doc: "stage"},
			{Name: "updated_at", Type: mesh.Timestamp, Doc: "modified"},
		},
		PrimaryKey: []string{"contact_id"},
		Freshness:  mesh.Freshness{Column: "updated_at"},
		Checks:     []mesh.Check{mesh.AcceptedValues("stage", "lead", "customer"), mesh.RowCount(1, 0)},
	}
}

func TestModelKeepsNewestVersionPerKey(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	f1 := rawFile(t, dir, "a.parquet", `('1','A@X.TEST','lead','2024-01-01 00:00:00'), ('2','b@x.test','lead','2024-01-02 00:00:00')`)
	f2 := rawFile(t, dir, "b.parquet", `('1','a2@x.test','customer','2024-02-01 00:00:00'), ('3','c@x.test','other','2024-02-03 10:00:00')`)
	out := filepath.Join(dir, "model.parquet")
	res, err := Run(ctx, Request{Product: product(), Output: out, Raw: []RawInput{{Source: "hubspot", Stream: "contacts", Files: []string{f1, f2}, PrimaryKey: []string{"id"}, CursorField: "updated_at", Fields: fields}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 3 || !res.Watermark.Equal(time.Date(2024, 2, 3, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("rows=%d watermark=%v", res.Rows, res.Watermark)
	}
	db, _ := Open(ctx, "", 0)
	defer db.Close()
	var email, stage string
	if err := db.QueryRow(`SELECT email, stage FROM read_parquet('`+out+`') WHERE contact_id = '1'`).Scan(&email, &stage); err != nil {
		t.Fatal(err)
	}
	if email != "a2@x.test" || stage != "customer" {
		t.Fatalf("contact 1 = %s/%s, want the newest version a2@x.test/customer", email, stage)
	}

	results, err := CheckStaged(ctx, out, product().AllChecks(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]quality.Result{}
	for _, r := range results {
		got[r.Name] = r
	}
	if r := got["accepted_values_stage"]; r.Status != mesh.StatusFail || r.Failing != 1 {
		t.Fatalf("accepted values = %+v, want 1 failing row", r)
	}
	if got["unique_contact_id"].Status != mesh.StatusPass || got["not_null_contact_id"].Status != mesh.StatusPass || got["row_count"].Status != mesh.StatusPass {
		t.Fatalf("results = %+v", results)
	}
	if quality.Summary(results) != mesh.StatusFail || len(quality.Blocking(results)) != 1 {
		t.Fatalf("summary = %s", quality.Summary(results))
	}
}

// TestRawFilesWithAndWithoutCursorColumn: a lake holding files landed with the old
// _cursor column beside new files without it transforms as if none had it: a model
// selecting every raw column sees the same columns either way, and the newest version
// of each record still wins across old and new files.
func TestRawFilesWithAndWithoutCursorColumn(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	old := oldRawFile(t, dir, "old.parquet", `('1','a@x.test','lead','2024-01-01 00:00:00'), ('2','b@x.test','lead','2024-01-02 00:00:00')`)
	cur := rawFile(t, dir, "new.parquet", `('1','a2@x.test','customer','2024-02-01 00:00:00'), ('3','c@x.test','lead','2024-02-03 10:00:00')`)
	p := product()
	p.Model = `SELECT * EXCLUDE (_extracted_at, _run_id, _raw) RENAME (id AS contact_id) FROM hubspot.contacts`
	for name, files := range map[string][]string{"old and new": {old, cur}, "new only": {cur}, "old only": {old}, "none yet": nil} {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "model.parquet")
			res, err := Run(ctx, Request{Product: p, Output: out, Raw: []RawInput{{Source: "hubspot", Stream: "contacts", Files: files, PrimaryKey: []string{"id"}, CursorField: "updated_at", Fields: fields}}})
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]int64{"old and new": 3, "new only": 2, "old only": 2, "none yet": 0}[name]
			if res.Rows != want {
				t.Fatalf("%d rows, want %d", res.Rows, want)
			}
		})
	}
	out := filepath.Join(dir, "both.parquet")
	if _, err := Run(ctx, Request{Product: p, Output: out, Raw: []RawInput{{Source: "hubspot", Stream: "contacts", Files: []string{old, cur}, PrimaryKey: []string{"id"}, CursorField: "updated_at", Fields: fields}}}); err != nil {
		t.Fatal(err)
	}
	db, _ := Open(ctx, "", 0)
	defer db.Close()
	var stage string
	if err := db.QueryRow(`SELECT stage FROM read_parquet('` + out + `') WHERE contact_id = '1'`).Scan(&stage); err != nil || stage != "customer" {
		t.Fatalf("contact 1 = %q, %v; want the newest version (customer, from the new file)", stage, err)
	}
}

func TestModelSchemaMismatchNamesTheColumn(t *testing.T) {
	dir := t.TempDir()
	p := product()
	p.Model = `SELECT id AS contact_id, email, updated_at, 1 AS extra FROM hubspot.contacts`
	_, err := Run(context.Background(), Request{Product: p, Output: filepath.Join(dir, "m.parquet"), Raw: []RawInput{{Source: "hubspot", Stream: "contacts", PrimaryKey: []string{"id"}, CursorField: "updated_at", Fields: fields}}})
	if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), `"stage" is declared`) || !strings.Contains(err.Error(), `selects "extra"`) {
		t.Fatalf("err = %v", err)
	}
	if _, statErr := os.Stat(filepath.Join(dir, "m.parquet")); statErr == nil {
		t.Fatal("a failed model wrote output")
	}
}

func TestChecksSQL(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mustExec(t, db, `CREATE TABLE model AS SELECT * FROM (VALUES (1, 'a', TIMESTAMP '2026-11-20 00:00:00'), (1, NULL, TIMESTAMP '2026-11-22 00:00:00'), (2, 'b', NULL)) AS t(id, name, ts)`)
	now := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	checks := []mesh.Check{
		mesh.NotNull("name"), mesh.Unique("id"), mesh.RowCount(5, 0).AsWarn(), mesh.RowCount(1, 3),
		mesh.Fresh("ts", 48*time.Hour), mesh.Fresh("ts", 12*time.Hour).AsWarn(),
		mesh.SQL("no_negative_ids", "SELECT * FROM model WHERE id < 0"),
	}
	checks[5].Name = "freshness_ts_tight"
	rs, err := quality.Run(ctx, db, checks, now)
	if err != nil {
		t.Fatal(err)
	}
	want := []mesh.Status{mesh.StatusFail, mesh.StatusFail, mesh.StatusWarn, mesh.StatusPass, mesh.StatusPass, mesh.StatusWarn, mesh.StatusPass}
	for i, r := range rs {
		if r.Status != want[i] {
			t.Errorf("%s: status %s (failing %d), want %s", r.Name, r.Status, r.Failing, want[i])
		}
	}
	_, err = quality.Run(ctx, db, []mesh.Check{mesh.SQL("broken", "SELECT * FROM nowhere")}, now)
	if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "check broken") {
		t.Fatalf("broken SQL err = %v", err)
	}
}

func mustExec(t *testing.T, db *sql.DB, q string) {
	t.Helper()
	if _, err := db.Exec(q); err != nil {
		t.Fatal(err)
	}
}

func TestPartitionKeepsOnlyThatDaysRows(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	f := rawFile(t, dir, "a.parquet", `('1','a@x.test','lead','2024-05-01 08:00:00'), ('2','b@x.test','lead','2024-05-02 09:00:00'), ('3','c@x.test','customer','2024-05-02 23:59:00')`)
	p := product()
	p.Model = `SELECT id AS contact_id, email, stage, updated_at, CAST(updated_at AS DATE) AS day FROM hubspot.contacts`
	p.Schema = append(p.Schema, mesh.Column{Name: "day", Type: mesh.Date, Doc: "day"})
	p.PartitionBy = "day"
	raw := []RawInput{{Source: "hubspot", Stream: "contacts", Files: []string{f}, PrimaryKey: []string{"id"}, CursorField: "updated_at", Fields: fields}}
	out := filepath.Join(dir, "model.parquet")
	res, err := Run(ctx, Request{Product: p, Output: out, Raw: raw, Partition: "2024-05-02"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 2 || !res.Watermark.Equal(time.Date(2024, 5, 2, 23, 59, 0, 0, time.UTC)) {
		t.Fatalf("rows=%d watermark=%v, want the 2 rows of 2024-05-02", res.Rows, res.Watermark)
	}
	db, _ := Open(ctx, "", 0)
	defer db.Close()
	var other int
	if err := db.QueryRow(`SELECT count(*) FROM read_parquet('` + out + `') WHERE day <> DATE '2024-05-02'`).Scan(&other); err != nil || other != 0 {
		t.Fatalf("rows outside the partition: %d (%v)", other, err)
	}
	// Checks run on the staged partition only: 2 rows, not 3.
	rs, err := CheckStaged(ctx, out, []mesh.Check{mesh.RowCount(3, 0)}, time.Now())
	if err != nil || rs[0].Status != mesh.StatusFail {
		t.Fatalf("row count over the partition = %+v (%v)", rs, err)
	}

	for _, bad := range []string{"2024-05-02' OR TRUE --", "May 2"} {
		if _, err := Run(ctx, Request{Product: p, Output: out, Raw: raw, Partition: bad}); !errs.Is(err, errs.Invalid) {
			t.Errorf("partition %q: err = %v", bad, err)
		}
	}
	p.PartitionBy = ""
	if _, err := Run(ctx, Request{Product: p, Output: out, Raw: raw, Partition: "2024-05-02"}); !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "not partitioned") {
		t.Fatalf("partition of an unpartitioned product: %v", err)
	}
}

// TestFieldDeclaredAfterTheLandingsReadsAsNull: a stream that began landing a field
// after the files at hand were written (Pendo's local_date, say) still transforms: in
// those files the field reads as NULL, of its declared type.
func TestFieldDeclaredAfterTheLandingsReadsAsNull(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	f := rawFile(t, dir, "before.parquet", `('1','a@x.test','lead','2024-01-01 00:00:00')`)
	p := product()
	p.Model = `SELECT id AS contact_id, email, coalesce(stage, 'lead') AS stage, coalesce(deleted_at, updated_at) AS updated_at FROM hubspot.contacts`
	withLater := append(fields[:len(fields):len(fields)], source.Field{Name: "deleted_at", Type: source.Timestamp})
	res, err := Run(ctx, Request{Product: p, Output: filepath.Join(dir, "model.parquet"),
		Raw: []RawInput{{Source: "hubspot", Stream: "contacts", Files: []string{f}, PrimaryKey: []string{"id"}, CursorField: "updated_at", Fields: withLater}}})
	if err != nil {
		t.Fatalf("a model using a field no landing has yet: %v", err)
	}
	if res.Rows != 1 || !res.Watermark.Equal(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("rows %d, watermark %v: want the row, its updated_at (deleted_at NULL)", res.Rows, res.Watermark)
	}
}

// A model or a check whose last line is a comment runs: the SQL wrapped around it
// must not end inside that comment.
func TestModelAndCheckMayEndWithALineComment(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	f := rawFile(t, dir, "a.parquet", `('1','a@x.test','lead','2024-05-01 08:00:00')`)
	p := product()
	p.Model += "\n-- the last line is a comment"
	p.PartitionBy = ""
	res, err := Run(ctx, Request{Product: p, Output: filepath.Join(dir, "m.parquet"), Raw: []RawInput{{Source: "hubspot", Stream: "contacts", Files: []string{f}, PrimaryKey: []string{"id"}, CursorField: "updated_at", Fields: fields}}})
	if err != nil || res.Rows != 1 {
		t.Fatalf("a model ending with a comment: %d rows, %v", res.Rows, err)
	}
	rs, err := CheckStaged(ctx, filepath.Join(dir, "m.parquet"), []mesh.Check{mesh.SQL("none", "SELECT * FROM model WHERE false -- nothing fails")}, time.Now())
	if err != nil || len(rs) != 1 || rs[0].Status != mesh.StatusPass {
		t.Fatalf("a check ending with a comment: %+v, %v", rs, err)
	}
}
