package files_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	_ "gocloud.dev/blob/fileblob"

	"github.com/meshflow/meshflow/connectors/files"
	"github.com/meshflow/meshflow/dev/sandbox/bucket"
	"github.com/meshflow/meshflow/framework/source"
	"github.com/meshflow/meshflow/framework/transform"
)

const testSpec = `
source: team_files
title: Team files
doc: A team's exports.
bucket:
  variable: TEAM_FILES_URL
  doc: where the team drops its exports
streams:
  deals:
    doc: Deals, one file a month.
    files: deals/*
    primary_key: [deal_id]
    columns:
      - {name: deal_id, header: Deal ID, type: string, doc: The deal.}
      - {name: amount, header: Amount, type: float64, doc: Its amount.}
      - {name: closed_on, header: Closed on, type: date, doc: When it closed.}
      - {name: won, header: Won, type: bool, doc: Whether it was won.}
  partners:
    doc: The partner list.
    files: partners.xlsx
    sheet: Partners
    primary_key: [partner_id]
    columns:
      - {name: partner_id, header: Partner, type: int64, doc: The partner's number.}
      - {name: website, header: Website, type: string, doc: Its website.}
      - {name: since, header: Partner since, type: date, doc: Since when.}
`

var spec = files.Must("team_files.yaml", []byte(testSpec))

// clock is a sandbox clock the test moves.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// sandbox serves a bucket of the S3 imitation and returns it with the source reading it.
func sandbox(t *testing.T, c *clock) (*bucket.API, source.Source) {
	t.Helper()
	b := bucket.New(files.BucketName(spec.Name()), c.now, nil)
	ts := httptest.NewServer(b)
	t.Cleanup(ts.Close)
	src, err := spec.Open(files.SandboxURL(b.Name(), ts.URL))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return b, src
}

// sync is one landing's read of a stream from cursor: its records, warnings and end.
type sync struct {
	records  []map[string]any
	warnings []string
	cursor   json.RawMessage
}

func read(t *testing.T, src source.Source, stream string, cursor json.RawMessage) sync {
	t.Helper()
	st, ok := source.Lookup(src, stream)
	if !ok {
		t.Fatalf("no stream %s", stream)
	}
	out := sync{cursor: cursor}
	_, err := source.NewReader(st, nil).Read(context.Background(), source.PageRequest{Cursor: cursor, SyncStart: time.Now()}, func(p source.Page) error {
		for _, r := range p.Records {
			var m map[string]any
			if err := json.Unmarshal(r, &m); err != nil {
				t.Fatalf("record %s: %v", r, err)
			}
			out.records = append(out.records, m)
		}
		out.warnings = append(out.warnings, p.Warnings...)
		out.cursor = p.Next
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (s sync) files() []string {
	var out []string
	for _, r := range s.records {
		if f := r["_file"].(string); !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

func TestEachFileLandsOnceInEveryFormat(t *testing.T) {
	c := &clock{time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	b, src := sandbox(t, c)
	b.Put("deals/2026-01.csv", files.CSVFile([][]string{{"Deal ID", "Amount", "Closed on", "Won"}, {"d1", "100.5", "2026-01-03", "true"}, {"d2", "", "2026-01-09", "no"}}))
	c.t = c.t.Add(time.Minute)
	b.Put("deals/2026-02.tsv", []byte("won\tCLOSED ON\tamount\tdeal id\nTRUE\t2026-02-01\t7\td3\n"))
	c.t = c.t.Add(time.Minute)
	b.Put("deals/2026-03.jsonl", []byte(`{"Deal ID":"d4","Amount":12,"Closed on":"2026-03-02","Won":false}`+"\n\n"+`{"Deal ID":"d5","Amount":1e3,"Closed on":"2026-03-04T00:00:00Z","Won":true}`+"\n"))
	c.t = c.t.Add(time.Minute)
	b.Put("deals/README.md", []byte("not a data file: no extension the stream reads"))

	first := read(t, src, "deals", nil)
	if got, want := first.files(), []string{"deals/2026-01.csv", "deals/2026-02.tsv", "deals/2026-03.jsonl"}; !slices.Equal(got, want) {
		t.Fatalf("landed files %v, want %v (oldest first)", got, want)
	}
	want := []string{
		`{"_file":"deals/2026-01.csv","_modified":"2026-03-01T09:00:00Z","_row":2,"amount":100.5,"closed_on":"2026-01-03","deal_id":"d1","won":true}`,
		`{"_file":"deals/2026-01.csv","_modified":"2026-03-01T09:00:00Z","_row":3,"amount":null,"closed_on":"2026-01-09","deal_id":"d2","won":false}`,
		`{"_file":"deals/2026-02.tsv","_modified":"2026-03-01T09:01:00Z","_row":2,"amount":7,"closed_on":"2026-02-01","deal_id":"d3","won":true}`,
		`{"_file":"deals/2026-03.jsonl","_modified":"2026-03-01T09:02:00Z","_row":1,"amount":12,"closed_on":"2026-03-02","deal_id":"d4","won":false}`,
		`{"_file":"deals/2026-03.jsonl","_modified":"2026-03-01T09:02:00Z","_row":3,"amount":1000,"closed_on":"2026-03-04","deal_id":"d5","won":true}`,
	}
	for i, r := range first.records {
		got, _ := json.Marshal(r)
		if i >= len(want) || string(got) != want[i] {
			t.Errorf("record %d = %s, want %s", i, got, want[min(i, len(want)-1)])
		}
	}
	if len(first.records) != len(want) || len(first.warnings) != 0 {
		t.Fatalf("%d records, warnings %q", len(first.records), first.warnings)
	}

	// Nothing new: nothing lands. The same bytes dropped again are no new file.
	c.t = c.t.Add(time.Minute)
	b.Put("deals/2026-01.csv", files.CSVFile([][]string{{"Deal ID", "Amount", "Closed on", "Won"}, {"d1", "100.5", "2026-01-03", "true"}, {"d2", "", "2026-01-09", "no"}}))
	if again := read(t, src, "deals", first.cursor); len(again.records) != 0 {
		t.Fatalf("a read with nothing changed landed %v", again.files())
	}
	// A file changed in place lands again, alone.
	c.t = c.t.Add(time.Minute)
	b.Put("deals/2026-02.tsv", []byte("deal id\tamount\tclosed on\twon\nd3\t8\t2026-02-01\ttrue\n"))
	changed := read(t, src, "deals", first.cursor)
	if got := changed.files(); !slices.Equal(got, []string{"deals/2026-02.tsv"}) || changed.records[0]["amount"] != 8.0 {
		t.Fatalf("after a change landed %v: %v", got, changed.records)
	}
}

func TestXLSXSheetAndDates(t *testing.T) {
	c := &clock{time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	b, src := sandbox(t, c)
	x, err := files.XLSXFile("Partners", [][]any{{"Partner", "Website", "Partner since"}, {1, "https://acme.example", time.Date(2024, 5, 17, 0, 0, 0, 0, time.UTC)}, {}, {2, "globex.example", "2025-01-02"}})
	if err != nil {
		t.Fatal(err)
	}
	b.Put("partners.xlsx", x)
	got := read(t, src, "partners", nil)
	if len(got.records) != 2 || got.records[0]["since"] != "2024-05-17" || got.records[1]["since"] != "2025-01-02" ||
		got.records[0]["partner_id"] != 1.0 || got.records[1]["_row"] != 4.0 {
		t.Fatalf("records %v, warnings %q", got.records, got.warnings)
	}

	// A workbook without the declared sheet is refused, naming the sheets it has.
	other, _ := files.XLSXFile("Sheet 2", [][]any{{"Partner", "Website", "Partner since"}, {3, "x.example", "2025-01-02"}})
	c.t = c.t.Add(time.Minute)
	b.Put("partners.xlsx", other)
	refused := read(t, src, "partners", got.cursor)
	if len(refused.records) != 0 || len(refused.warnings) != 1 || !strings.Contains(refused.warnings[0], `has no sheet "Partners" (its sheets: Sheet 2)`) {
		t.Fatalf("records %v, warnings %q", refused.records, refused.warnings)
	}
}

// TestRefusedFileLandsNothingAndComesBackFixed: a file whose header misses a column
// is refused naming the file, the column and the header expected; the stream's other
// files land; the same file dropped again fixed lands.
func TestRefusedFileLandsNothingAndComesBackFixed(t *testing.T) {
	c := &clock{time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	b, src := sandbox(t, c)
	b.Put("deals/2026-01.csv", files.CSVFile([][]string{{"Deal ID", "Amount (USD)", "Closed on", "Won"}, {"d1", "1", "2026-01-03", "true"}}))
	c.t = c.t.Add(time.Minute)
	b.Put("deals/2026-02.csv", files.CSVFile([][]string{{"Deal ID", "Amount", "Closed on", "Won"}, {"d2", "2", "2026-02-03", "false"}}))
	c.t = c.t.Add(time.Minute)
	b.Put("deals/2026-03.csv", files.CSVFile([][]string{{"Deal ID", "Amount", "Closed on", "Won"}, {"d3", "3", "2026-03-03", "true"}, {"d4", "four", "2026-03-04", "true"}}))

	first := read(t, src, "deals", nil)
	if got := first.files(); !slices.Equal(got, []string{"deals/2026-02.csv"}) {
		t.Fatalf("landed %v, want only the good file", got)
	}
	wantWarnings := []string{
		`refused deals/2026-01.csv: column "Amount" is missing from the header; expected header: Deal ID, Amount, Closed on, Won; it lands once it is dropped again, fixed`,
		`refused deals/2026-03.csv: row 3, column "Amount" (float64): "four" is not a number; it lands once it is dropped again, fixed`,
	}
	if !slices.Equal(first.warnings, wantWarnings) {
		t.Fatalf("warnings:\n%s\nwant:\n%s", strings.Join(first.warnings, "\n"), strings.Join(wantWarnings, "\n"))
	}
	// Refused once: the next read neither lands nor refuses it again.
	if again := read(t, src, "deals", first.cursor); len(again.records)+len(again.warnings) != 0 {
		t.Fatalf("a quiet read: %v %q", again.records, again.warnings)
	}
	c.t = c.t.Add(time.Minute)
	b.Put("deals/2026-01.csv", files.CSVFile([][]string{{"Deal ID", "Amount", "Closed on", "Won"}, {"d1", "1", "2026-01-03", "true"}}))
	fixed := read(t, src, "deals", first.cursor)
	if got := fixed.files(); !slices.Equal(got, []string{"deals/2026-01.csv"}) || len(fixed.warnings) != 0 {
		t.Fatalf("after the fix landed %v, warnings %q", got, fixed.warnings)
	}
}

// TestCursorStaysBoundedAndOldFilesDroppedAgainLand: after a year of monthly files
// the cursor holds only the last hour's, and a file from the start of the year
// dropped again with new content lands.
func TestCursorStaysBoundedAndOldFilesDroppedAgainLand(t *testing.T) {
	c := &clock{time.Date(2025, 1, 1, 9, 0, 0, 0, time.UTC)}
	b, src := sandbox(t, c)
	var cursor json.RawMessage
	for day := range 120 {
		c.t = c.t.Add(24 * time.Hour)
		for i := range 3 {
			b.Put(fmt.Sprintf("deals/%03d-%d.csv", day, i), files.CSVFile([][]string{{"Deal ID", "Amount", "Closed on", "Won"}, {fmt.Sprintf("d%d-%d", day, i), "1", "2025-01-03", "true"}}))
		}
		got := read(t, src, "deals", cursor)
		if len(got.records) != 3 {
			t.Fatalf("day %d landed %d records, want 3", day, len(got.records))
		}
		cursor = got.cursor
	}
	if len(cursor) > 400 {
		t.Fatalf("after 360 files the cursor is %d bytes: %s", len(cursor), cursor)
	}
	c.t = c.t.Add(time.Hour)
	b.Put("deals/000-0.csv", files.CSVFile([][]string{{"Deal ID", "Amount", "Closed on", "Won"}, {"d0-0", "2", "2025-01-03", "true"}}))
	got := read(t, src, "deals", cursor)
	if len(got.records) != 1 || got.records[0]["amount"] != 2.0 {
		t.Fatalf("the old file dropped again landed %v", got.records)
	}
}

// TestLongFileLandsOverPagesAndResumes: a file past PageRows lands over pages, and
// a read resumed from a cursor between them lands the rest once.
func TestLongFileLandsOverPagesAndResumes(t *testing.T) {
	c := &clock{time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	b, src := sandbox(t, c)
	rows := [][]string{{"Deal ID", "Amount", "Closed on", "Won"}}
	for i := range files.PageRows*2 + 10 {
		rows = append(rows, []string{fmt.Sprint("d", i), "1", "2026-01-03", "true"})
	}
	b.Put("deals/big.csv", files.CSVFile(rows))
	st, _ := source.Lookup(src, "deals")
	p, err := st.NextPage(context.Background(), source.PageRequest{})
	if err != nil || len(p.Records) != files.PageRows || p.Done {
		t.Fatalf("first page: %d records, done %v, %v", len(p.Records), p.Done, err)
	}
	// A new Source (another worker) resumes from the cursor.
	_, other := sandboxOver(t, b)
	rest := read(t, other, "deals", p.Next)
	if len(rest.records) != files.PageRows+10 || rest.records[0]["_row"] != float64(files.PageRows+2) {
		t.Fatalf("resumed read landed %d records from row %v", len(rest.records), rest.records[0]["_row"])
	}
}

func sandboxOver(t *testing.T, b *bucket.API) (*bucket.API, source.Source) {
	ts := httptest.NewServer(b)
	t.Cleanup(ts.Close)
	src, err := spec.Open(files.SandboxURL(b.Name(), ts.URL))
	if err != nil {
		t.Fatal(err)
	}
	return b, src
}

// TestLocalDirectory reads a file:// bucket: what a team's share mounted on the
// worker is.
func TestLocalDirectory(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "deals"), 0o755)
	os.WriteFile(filepath.Join(dir, "deals", "a.csv"), files.CSVFile([][]string{{"Deal ID", "Amount", "Closed on", "Won"}, {"d1", "1", "2026-01-03", "true"}}), 0o644)
	src, err := spec.Open("file://" + dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := read(t, src, "deals", nil)
	if len(got.records) != 1 || read(t, src, "deals", got.cursor).records != nil {
		t.Fatalf("records %v", got.records)
	}
	missing, _ := spec.Open("file://" + filepath.Join(dir, "nope"))
	if err := missing.Check(context.Background()); err == nil || !strings.Contains(err.Error(), "TEAM_FILES_URL") {
		t.Fatalf("a missing directory: %v", err)
	}
}

// A Parquet export lands with its columns matched by name as a CSV header is, its
// types read (a DATE as a date, a DOUBLE as a number, a TIMESTAMP as a date), and
// its rows numbered from 1; a Parquet file lacking a declared column is refused.
func TestParquetFilesLand(t *testing.T) {
	c := &clock{time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	b, src := sandbox(t, c)
	b.Put("deals/2026-01.parquet", parquetFile(t, `SELECT * FROM (VALUES
		('d1', 100.5::DOUBLE, DATE '2026-01-03', true),
		('d2', NULL, TIMESTAMP '2026-01-09 00:00:00', false)) AS t("Deal ID", "AMOUNT", "closed on", "Won")`))
	c.t = c.t.Add(time.Minute)
	b.Put("deals/2026-02.parquet", parquetFile(t, `SELECT 'd3' AS "Deal ID", 7.0::DOUBLE AS "Amount", true AS "Won"`))

	got := read(t, src, "deals", nil)
	want := []string{
		`{"_file":"deals/2026-01.parquet","_modified":"2026-03-01T09:00:00Z","_row":1,"amount":100.5,"closed_on":"2026-01-03","deal_id":"d1","won":true}`,
		`{"_file":"deals/2026-01.parquet","_modified":"2026-03-01T09:00:00Z","_row":2,"amount":null,"closed_on":"2026-01-09","deal_id":"d2","won":false}`,
	}
	if len(got.records) != len(want) {
		t.Fatalf("%d records %v, want %d", len(got.records), got.records, len(want))
	}
	for i, r := range got.records {
		if b, _ := json.Marshal(r); string(b) != want[i] {
			t.Errorf("record %d = %s, want %s", i, b, want[i])
		}
	}
	if len(got.warnings) != 1 || !strings.Contains(got.warnings[0], "deals/2026-02.parquet") || !strings.Contains(got.warnings[0], "Closed on") {
		t.Errorf("warnings %q: want the file without a Closed on column refused, naming both", got.warnings)
	}
}

// parquetFile is the Parquet file DuckDB writes for query.
func parquetFile(t *testing.T, query string) []byte {
	t.Helper()
	db, err := transform.Open(context.Background(), "", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	path := filepath.Join(t.TempDir(), "export.parquet")
	if _, err := db.Exec(fmt.Sprintf("COPY (%s) TO '%s' (FORMAT parquet)", query, path)); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
