package port

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"

	"github.com/meshflow/meshflow/framework/errs"
)

var contacts = TableID{Domain: "crm", Name: "contacts_v1"}

func openTest(t *testing.T, dir string) *Catalog {
	t.Helper()
	c, err := Open(context.Background(), Options{
		CatalogURI: "sqlite://" + filepath.Join(dir, "catalog.db"),
		Warehouse:  "file://" + filepath.Join(dir, "warehouse"),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	})
	return c
}

func field(name string, dt arrow.DataType, doc string) arrow.Field {
	f := arrow.Field{Name: name, Type: dt, Nullable: true}
	if doc != "" {
		f.Metadata = arrow.NewMetadata([]string{"doc"}, []string{doc})
	}
	return f
}

var baseSchema = arrow.NewSchema([]arrow.Field{
	field("id", arrow.PrimitiveTypes.Int64, "contact id"),
	field("name", arrow.BinaryTypes.String, ""),
	field("day", arrow.FixedWidthTypes.Date32, "partition day"),
}, nil)

// reader builds a record reader from JSON rows; the test's allocator checks that
// every buffer is released.
func reader(t *testing.T, sc *arrow.Schema, rowsJSON string) array.RecordReader {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	rec, _, err := array.RecordFromJSON(mem, sc, strings.NewReader(rowsJSON))
	if err != nil {
		t.Fatal(err)
	}
	rdr, err := array.NewRecordReader(sc, []arrow.RecordBatch{rec})
	rec.Release()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		rdr.Release()
		mem.AssertSize(t, 0)
	})
	return rdr
}

func publish(t *testing.T, c *Catalog, id TableID, sc *arrow.Schema, rowsJSON string, req PublishRequest) Snapshot {
	t.Helper()
	s, err := c.Publish(context.Background(), id, reader(t, sc, rowsJSON), req)
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	return s
}

// rowsOf reads a snapshot as sorted "id:name:day" strings.
func rowsOf(t *testing.T, c *Catalog, id TableID, asOf int64) []string {
	t.Helper()
	tbl, err := c.ReadAll(context.Background(), id, asOf, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	var out []string
	tr := array.NewTableReader(tbl, 0)
	defer tr.Release()
	for tr.Next() {
		rec := tr.RecordBatch()
		idx := func(name string) arrow.Array {
			i := rec.Schema().FieldIndices(name)
			if len(i) != 1 {
				t.Fatalf("no column %s in %s", name, rec.Schema())
			}
			return rec.Column(i[0])
		}
		ids, names, days := idx("id"), idx("name"), idx("day")
		for i := range int(rec.NumRows()) {
			out = append(out, ids.ValueStr(i)+":"+names.ValueStr(i)+":"+days.ValueStr(i))
		}
	}
	if err := tr.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func wantRows(t *testing.T, got []string, want ...string) {
	t.Helper()
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("rows:\n got %v\nwant %v", got, want)
	}
}

func TestPublishCreatesTableAndReadsBack(t *testing.T) {
	ctx := context.Background()
	c := openTest(t, t.TempDir())

	if _, ok, err := c.Current(ctx, contacts); err != nil || ok {
		t.Fatalf("Current before publish = %v, %v; want false, nil", ok, err)
	}
	props := map[string]string{"meshflow.run-id": "run-1", "meshflow.partition": "2024-05-01", "meshflow.checks": `[{"name":"not_null","status":"PASS"}]`}
	s := publish(t, c, contacts, baseSchema, `[
		{"id": 1, "name": "Ada", "day": "2024-05-01"},
		{"id": 2, "name": "Bob", "day": "2024-05-01"},
		{"id": 3, "name": "Cy", "day": "2024-05-02"}]`,
		PublishRequest{Mode: Replace{}, SnapshotProperties: props, TableProperties: map[string]string{"owner": "crm-team", "version": "1.0.0"}})

	if s.Rows != 3 || s.ParentID != 0 || s.ID == 0 || s.Timestamp.IsZero() {
		t.Fatalf("snapshot = %+v", s)
	}
	for k, v := range props {
		if s.Properties[k] != v {
			t.Errorf("snapshot property %s = %q, want %q", k, s.Properties[k], v)
		}
	}
	cur, ok, err := c.Current(ctx, contacts)
	if err != nil || !ok || cur.ID != s.ID || cur.Properties["meshflow.run-id"] != "run-1" {
		t.Fatalf("Current = %+v, %v, %v", cur, ok, err)
	}
	wantRows(t, rowsOf(t, c, contacts, 0), "1:Ada:2024-05-01", "2:Bob:2024-05-01", "3:Cy:2024-05-02")

	tp, err := c.TableProperties(ctx, contacts)
	if err != nil || tp["owner"] != "crm-team" || tp["version"] != "1.0.0" {
		t.Fatalf("TableProperties = %v, %v", tp, err)
	}
	// Field docs from Arrow metadata reach the Iceberg schema.
	tbl, err := c.cat.LoadTable(ctx, contacts.ident())
	if err != nil {
		t.Fatal(err)
	}
	if f, _ := tbl.Schema().FindFieldByName("id"); f.Doc != "contact id" {
		t.Errorf("doc of id = %q", f.Doc)
	}

	// A later publish updates table properties in the same commit.
	publish(t, c, contacts, baseSchema, `[{"id": 1, "name": "Ada", "day": "2024-05-01"}]`,
		PublishRequest{Mode: Replace{}, TableProperties: map[string]string{"version": "1.1.0"}})
	if tp, _ := c.TableProperties(ctx, contacts); tp["version"] != "1.1.0" || tp["owner"] != "crm-team" {
		t.Fatalf("TableProperties after update = %v", tp)
	}

	publish(t, c, TableID{"sales", "orders_v2"}, baseSchema, `[]`, PublishRequest{Mode: Replace{}})
	if ids, err := c.Tables(ctx, "crm"); err != nil || !slices.Equal(ids, []TableID{contacts}) {
		t.Fatalf("Tables(crm) = %v, %v", ids, err)
	}
	if ids, err := c.Tables(ctx, ""); err != nil || len(ids) != 2 || ids[1] != (TableID{"sales", "orders_v2"}) {
		t.Fatalf("Tables() = %v, %v", ids, err)
	}
	if ids, err := c.Tables(ctx, "nobody"); err != nil || len(ids) != 0 {
		t.Fatalf("Tables(nobody) = %v, %v", ids, err)
	}
	if _, err := c.Snapshots(ctx, TableID{"crm", "missing_v1"}); !errs.Is(err, errs.NotFound) {
		t.Fatalf("Snapshots of a missing table: %v, want not found", err)
	}
}

func TestReplaceAndTimeTravel(t *testing.T) {
	ctx := context.Background()
	c := openTest(t, t.TempDir())
	first := publish(t, c, contacts, baseSchema, `[
		{"id": 1, "name": "Ada", "day": "2024-05-01"},
		{"id": 2, "name": "Bob", "day": "2024-05-01"}]`, PublishRequest{Mode: Replace{}})
	time.Sleep(5 * time.Millisecond) // distinct millisecond timestamps for SnapshotAsOf
	between := time.Now()
	time.Sleep(5 * time.Millisecond)
	second := publish(t, c, contacts, baseSchema, `[{"id": 9, "name": "Zed", "day": "2024-05-03"}]`, PublishRequest{Mode: Replace{}})

	if second.ParentID != first.ID || second.Rows != 1 || second.Operation != "overwrite" {
		t.Fatalf("second snapshot = %+v", second)
	}
	wantRows(t, rowsOf(t, c, contacts, 0), "9:Zed:2024-05-03")
	wantRows(t, rowsOf(t, c, contacts, first.ID), "1:Ada:2024-05-01", "2:Bob:2024-05-01")

	snaps, err := c.Snapshots(ctx, contacts)
	if err != nil || len(snaps) != 2 || snaps[0].ID != second.ID || snaps[1].ID != first.ID {
		t.Fatalf("Snapshots = %+v, %v", snaps, err)
	}
	if s, ok, err := c.SnapshotAsOf(ctx, contacts, between); err != nil || !ok || s.ID != first.ID {
		t.Fatalf("SnapshotAsOf(between) = %+v, %v, %v", s, ok, err)
	}
	if _, ok, err := c.SnapshotAsOf(ctx, contacts, first.Timestamp.Add(-time.Hour)); err != nil || ok {
		t.Fatalf("SnapshotAsOf(before) = %v, %v; want false", ok, err)
	}
	if _, err := c.ReadAll(ctx, contacts, 12345, 0); !errs.Is(err, errs.NotFound) {
		t.Fatalf("ReadAll of a missing snapshot: %v", err)
	}
	sample, err := c.ReadAll(ctx, contacts, first.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer sample.Release()
	if sample.NumRows() != 1 {
		t.Fatalf("ReadAll limit 1 = %d rows", sample.NumRows())
	}
}

func TestReplacePartition(t *testing.T) {
	c := openTest(t, t.TempDir())
	// One file holding two days: replacing one day must rewrite it, keeping the other.
	publish(t, c, contacts, baseSchema, `[
		{"id": 1, "name": "Ada", "day": "2024-05-01"},
		{"id": 2, "name": "Bob", "day": "2024-05-01"},
		{"id": 3, "name": "Cy", "day": "2024-05-02"},
		{"id": 4, "name": "Di", "day": "2024-05-02"}]`, PublishRequest{Mode: Replace{}})

	day2 := `[
		{"id": 5, "name": "Eve", "day": "2024-05-02"},
		{"id": 6, "name": "Fay", "day": "2024-05-02"},
		{"id": 7, "name": "Gus", "day": "2024-05-02"}]`
	want := []string{"1:Ada:2024-05-01", "2:Bob:2024-05-01", "5:Eve:2024-05-02", "6:Fay:2024-05-02", "7:Gus:2024-05-02"}
	req := PublishRequest{Mode: ReplacePartition{Column: "day", Value: "2024-05-02"}, SnapshotProperties: map[string]string{"meshflow.partition": "2024-05-02"}}
	for range 2 { // re-running a partition replaces it, never duplicates it
		s := publish(t, c, contacts, baseSchema, day2, req)
		if s.Rows != 5 || s.Properties["meshflow.partition"] != "2024-05-02" {
			t.Fatalf("snapshot = %+v", s)
		}
		wantRows(t, rowsOf(t, c, contacts, 0), want...)
	}

	// A new partition is added beside the others.
	publish(t, c, contacts, baseSchema, `[{"id": 8, "name": "Hal", "day": "2024-05-03"}]`,
		PublishRequest{Mode: &ReplacePartition{Column: "day", Value: "2024-05-03"}})
	wantRows(t, rowsOf(t, c, contacts, 0), append(want, "8:Hal:2024-05-03")...)

	// A row outside the partition would be duplicated by a re-run: refused, nothing lands.
	before, _, _ := c.Current(context.Background(), contacts)
	_, err := c.Publish(context.Background(), contacts, reader(t, baseSchema, `[
		{"id": 9, "name": "Ivy", "day": "2024-05-03"},
		{"id": 10, "name": "Jo", "day": "2024-05-04"}]`), PublishRequest{Mode: ReplacePartition{Column: "day", Value: "2024-05-03"}})
	if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "2024-05-04") {
		t.Fatalf("publish with a row outside the partition: %v; want invalid naming the row's value", err)
	}
	if after, _, _ := c.Current(context.Background(), contacts); after.ID != before.ID {
		t.Fatal("a refused publish committed a snapshot")
	}
	for _, bad := range []ReplacePartition{{Column: "nope", Value: "1"}, {Column: "day", Value: "yesterday"}, {Column: "day"}} {
		if _, err := c.Publish(context.Background(), contacts, reader(t, baseSchema, `[]`), PublishRequest{Mode: bad}); !errs.Is(err, errs.Invalid) {
			t.Errorf("partition %+v: %v; want invalid", bad, err)
		}
	}
	if _, err := c.Publish(context.Background(), contacts, reader(t, baseSchema, `[]`), PublishRequest{}); !errs.Is(err, errs.Invalid) {
		t.Errorf("no mode: %v; want invalid", err)
	}
}

func TestRequiredColumns(t *testing.T) {
	c := openTest(t, t.TempDir())
	strict := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, field("name", arrow.BinaryTypes.String, "")}, nil)
	publish(t, c, contacts, strict, `[{"id": 1, "name": "Ada"}]`, PublishRequest{Mode: Replace{}})

	// Nullable data for a required column is a contract change; nulls despite a
	// non-nullable field would be written by iceberg-go as they are.
	loose := arrow.NewSchema([]arrow.Field{field("id", arrow.PrimitiveTypes.Int64, ""), field("name", arrow.BinaryTypes.String, "")}, nil)
	_, err := c.Publish(context.Background(), contacts, reader(t, loose, `[{"id": 2, "name": "Bob"}]`), PublishRequest{Mode: Replace{}})
	if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), `"id" is required`) {
		t.Errorf("nullable data for a required column: %v", err)
	}
	_, err = c.Publish(context.Background(), contacts, reader(t, strict, `[{"id": null, "name": "Bob"}]`), PublishRequest{Mode: Replace{}})
	if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), `"id" is not nullable`) {
		t.Errorf("nulls in a non-nullable column: %v", err)
	}
	wantRows0 := rowsOfIDs(t, c)
	if !slices.Equal(wantRows0, []string{"1"}) {
		t.Errorf("rows = %v after refused publishes", wantRows0)
	}
}

func rowsOfIDs(t *testing.T, c *Catalog) []string {
	t.Helper()
	tbl, err := c.ReadAll(context.Background(), contacts, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	var out []string
	for _, chunk := range tbl.Column(0).Data().Chunks() {
		for i := range chunk.Len() {
			out = append(out, chunk.ValueStr(i))
		}
	}
	return out
}

func TestSchemaEvolution(t *testing.T) {
	ctx := context.Background()
	c := openTest(t, t.TempDir())
	first := publish(t, c, contacts, baseSchema, `[{"id": 1, "name": "Ada", "day": "2024-05-01"}]`, PublishRequest{Mode: Replace{}})

	wider := arrow.NewSchema([]arrow.Field{
		field("id", arrow.PrimitiveTypes.Int64, "contact id"),
		field("name", arrow.BinaryTypes.String, "full name"), // a doc added later
		field("day", arrow.FixedWidthTypes.Date32, "partition day"),
		field("email", arrow.BinaryTypes.String, "primary e-mail"),
		field("score", arrow.PrimitiveTypes.Float64, ""),
	}, nil)
	s := publish(t, c, contacts, wider, `[
		{"id": 1, "name": "Ada", "day": "2024-05-01", "email": "ada@example.com", "score": 1.5},
		{"id": 2, "name": "Bob", "day": "2024-05-01", "email": null, "score": 2}]`, PublishRequest{Mode: Replace{}})
	if s.SchemaID == first.SchemaID {
		t.Errorf("schema id unchanged after adding columns: %d", s.SchemaID)
	}
	tbl, err := c.cat.LoadTable(ctx, contacts.ident())
	if err != nil {
		t.Fatal(err)
	}
	email, ok := tbl.Schema().FindFieldByName("email")
	if !ok || email.Doc != "primary e-mail" || email.Required {
		t.Fatalf("email column = %+v, %v", email, ok)
	}
	if name, _ := tbl.Schema().FindFieldByName("name"); name.Doc != "full name" {
		t.Errorf("doc of name = %q", name.Doc)
	}
	if nm := tbl.NameMapping(); nm == nil || !strings.Contains(fmt.Sprint(nm), "email") {
		t.Errorf("name mapping not updated with the new columns: %v", nm)
	}
	got, err := c.ReadAll(ctx, contacts, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	if got.NumRows() != 2 || got.Schema().NumFields() != 5 {
		t.Fatalf("read back %d rows, schema %s", got.NumRows(), got.Schema())
	}
	wantRows(t, rowsOf(t, c, contacts, first.ID), "1:Ada:2024-05-01") // old snapshot, old schema

	// The narrower data lacks email and score: a breaking change, refused naming them.
	_, err = c.Publish(ctx, contacts, reader(t, baseSchema, `[]`), PublishRequest{Mode: Replace{}})
	if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), `"email"`) || !strings.Contains(err.Error(), `"score"`) {
		t.Fatalf("removed columns: %v; want invalid naming email and score", err)
	}
	retyped := arrow.NewSchema([]arrow.Field{
		field("id", arrow.BinaryTypes.String, ""), field("name", arrow.BinaryTypes.String, ""),
		field("day", arrow.FixedWidthTypes.Date32, ""), field("email", arrow.BinaryTypes.String, ""),
		field("score", arrow.PrimitiveTypes.Float64, ""),
	}, nil)
	_, err = c.Publish(ctx, contacts, reader(t, retyped, `[]`), PublishRequest{Mode: Replace{}})
	if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), `"id"`) {
		t.Fatalf("type change: %v; want invalid naming id", err)
	}
	if cur, _, _ := c.Current(ctx, contacts); cur.ID != s.ID {
		t.Fatal("a refused publish committed a snapshot")
	}
}

// TestConcurrentPublishers makes two catalogs (two workers) build their commits on the
// same base before either commits: one loses the race, rebuilds on the winner's
// snapshot and lands after it. Ordered cases let the winner finish first, so the loser
// meets iceberg-go's "requirement failed" error; the others commit at the same time
// and may meet table.ErrCommitFailed instead.
func TestConcurrentPublishers(t *testing.T) {
	parts := [2]Mode{ReplacePartition{"day", "2024-05-02"}, ReplacePartition{"day", "2024-05-03"}}
	whole := [2]Mode{Replace{}, Replace{}}
	for _, tc := range []struct {
		name    string
		seed    bool // whether the table exists with a snapshot before the race
		ordered bool
		modes   [2]Mode
		branch  string // both publish to this branch, not main
	}{
		{"partitions, branch changed", true, true, parts, ""},
		{"partitions, branch created concurrently", false, true, parts, ""},
		{"whole table, branch changed", true, true, whole, ""},
		{"partitions, simultaneous", true, false, parts, ""},
		{"partitions on a new table, simultaneous", false, false, parts, ""},
		{"whole table, simultaneous", true, false, whole, ""},
		// The loser re-reads its rows from the snapshot it staged on the branch.
		{"partitions on a branch, branch changed", true, true, parts, "preview"},
		{"partitions on a new branch, simultaneous", true, false, parts, "preview"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			a, b := openTest(t, dir), openTest(t, dir)
			var seeded []string
			if tc.seed {
				publish(t, a, contacts, baseSchema, `[{"id": 1, "name": "Ada", "day": "2024-05-01"}]`, PublishRequest{Mode: Replace{}})
				seeded = []string{"1:Ada:2024-05-01"}
			}
			before, _ := a.Snapshots(ctx, contacts)

			var ready sync.WaitGroup
			ready.Add(2)
			aDone := make(chan struct{})
			var mu sync.Mutex
			attempts := map[*Catalog]int{}
			for _, c := range []*Catalog{a, b} {
				c.beforeCommit = func(_ TableID, attempt int) {
					mu.Lock()
					attempts[c] = attempt + 1
					mu.Unlock()
					if attempt == 0 {
						ready.Done()
						ready.Wait()
						if tc.ordered && c == b {
							<-aDone
						}
					}
				}
			}
			data := [2]string{
				`[{"id": 2, "name": "Bob", "day": "2024-05-02"}, {"id": 3, "name": "Cy", "day": "2024-05-02"}]`,
				`[{"id": 4, "name": "Di", "day": "2024-05-03"}]`,
			}
			rows := [2][]string{{"2:Bob:2024-05-02", "3:Cy:2024-05-02"}, {"4:Di:2024-05-03"}}
			var wg sync.WaitGroup
			snaps := make([]Snapshot, 2)
			failures := make([]error, 2)
			for i, c := range []*Catalog{a, b} {
				rdr := reader(t, baseSchema, data[i])
				wg.Go(func() {
					snaps[i], failures[i] = c.Publish(ctx, contacts, rdr, PublishRequest{Mode: tc.modes[i], SnapshotProperties: map[string]string{"publisher": string(rune('a' + i))}, Branch: tc.branch})
					if c == a {
						close(aDone)
					}
				})
			}
			wg.Wait()
			for i, err := range failures {
				if err != nil {
					t.Fatalf("publisher %d: %v", i, err)
				}
			}
			if attempts[a]+attempts[b] < 3 || tc.ordered && attempts[b] < 2 {
				t.Fatalf("attempts = %d and %d; the race was not provoked", attempts[a], attempts[b])
			}

			after, err := a.Snapshots(ctx, contacts)
			if tc.branch != "" {
				if now, _ := a.Snapshots(ctx, contacts); len(now) != len(before) || len(now) > 0 && now[0].ID != before[0].ID {
					t.Fatalf("publishes to a branch changed main's snapshots")
				}
				after, err = a.BranchSnapshots(ctx, contacts, tc.branch)
			}
			if err != nil || len(after) != len(before)+2 {
				t.Fatalf("snapshots: %d before, %d after (%v); want +2", len(before), len(after), err)
			}
			// The loser's snapshot is the child of the winner's, each carrying its own properties.
			last, prev := 0, 1
			if snaps[1].ID == after[0].ID {
				last, prev = 1, 0
			}
			if after[0].ID != snaps[last].ID || after[0].ParentID != snaps[prev].ID || after[0].Properties["publisher"] != snaps[last].Properties["publisher"] {
				t.Fatalf("snapshots %+v; publishers got %+v", after[:2], snaps)
			}
			got := rowsOf(t, a, contacts, after[0].ID)
			if _, whole := tc.modes[0].(Replace); whole {
				wantRows(t, got, rows[last]...) // the last replace is the whole table
			} else {
				wantRows(t, got, slices.Concat(seeded, rows[0], rows[1])...)
			}
			assertNoOrphanDataFiles(t, a, dir, tc.branch)
		})
	}
}

// assertNoOrphanDataFiles checks that every Parquet file in the warehouse belongs to a
// snapshot: a lost race must not leave its written files behind.
func assertNoOrphanDataFiles(t *testing.T, c *Catalog, dir string, branches ...string) {
	t.Helper()
	snaps, err := c.Snapshots(context.Background(), contacts)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range branches {
		if b == "" {
			continue
		}
		more, err := c.BranchSnapshots(context.Background(), contacts, b)
		if err != nil {
			t.Fatal(err)
		}
		snaps = append(snaps, more...)
	}
	referenced := map[string]bool{}
	for _, s := range snaps {
		files, err := c.DataFiles(context.Background(), contacts, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			referenced[f] = true
		}
	}
	err = filepath.WalkDir(filepath.Join(dir, "warehouse"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".parquet") && !referenced[p] {
			t.Errorf("orphan data file %s", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestIsStale(t *testing.T) {
	for _, err := range []error{
		fmt.Errorf("commit: %w", table.ErrCommitFailed),
		table.ErrConflictingDataFiles,
		table.ErrCommitDiverged,
		errors.New(`requirement failed: branch "main" has changed: expected id 1, found 2`),
		errors.New(`requirement failed: branch "main" was created concurrently`),
		errors.New("Requirement failed: current schema id has changed: expected 0, found 1"),
		errors.New("database is locked (5) (SQLITE_BUSY)"),
	} {
		if !isStale(err) {
			t.Errorf("isStale(%v) = false", err)
		}
	}
	for _, err := range []error{errors.New("connection reset by peer"), context.DeadlineExceeded, catalog.ErrNoSuchTable} {
		if isStale(err) {
			t.Errorf("isStale(%v) = true", err)
		}
	}
}

// TestLostRaceToSchemaChange: the winner adds a column the loser's data lacks, so the
// loser's rebuilt commit is a breaking change — refused, leaving no files behind.
func TestLostRaceToSchemaChange(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a, b := openTest(t, dir), openTest(t, dir)
	publish(t, a, contacts, baseSchema, `[{"id": 1, "name": "Ada", "day": "2024-05-01"}]`, PublishRequest{Mode: Replace{}})

	var ready sync.WaitGroup
	ready.Add(2)
	aDone := make(chan struct{})
	for _, c := range []*Catalog{a, b} {
		c.beforeCommit = func(_ TableID, attempt int) {
			if attempt == 0 {
				ready.Done()
				ready.Wait()
				if c == b {
					<-aDone
				}
			}
		}
	}
	wider := arrow.NewSchema(append(baseSchema.Fields(), field("email", arrow.BinaryTypes.String, "")), nil)
	ra := reader(t, wider, `[{"id": 2, "name": "Bob", "day": "2024-05-01", "email": "bob@example.com"}]`)
	rb := reader(t, baseSchema, `[{"id": 3, "name": "Cy", "day": "2024-05-01"}]`)
	var errA, errB error
	var wg sync.WaitGroup
	wg.Go(func() { _, errA = a.Publish(ctx, contacts, ra, PublishRequest{Mode: Replace{}}); close(aDone) })
	wg.Go(func() { _, errB = b.Publish(ctx, contacts, rb, PublishRequest{Mode: Replace{}}) })
	wg.Wait()
	if errA != nil {
		t.Fatal(errA)
	}
	if !errs.Is(errB, errs.Invalid) || !strings.Contains(errB.Error(), `"email"`) {
		t.Fatalf("loser: %v; want invalid naming email", errB)
	}
	wantRows(t, rowsOf(t, a, contacts, 0), "2:Bob:2024-05-01")
	assertNoOrphanDataFiles(t, a, dir)
}

func TestCommitGivesUpWithConflict(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a, other := openTest(t, dir), openTest(t, dir)
	publish(t, a, contacts, baseSchema, `[{"id": 1, "name": "Ada", "day": "2024-05-01"}]`, PublishRequest{Mode: Replace{}})

	// Another writer lands a snapshot between every build and commit of a.
	a.maxAttempts = 3
	a.beforeCommit = func(TableID, int) {
		publish(t, other, contacts, baseSchema, `[{"id": 2, "name": "Bob", "day": "2024-05-01"}]`, PublishRequest{Mode: Replace{}})
	}
	_, err := a.Publish(ctx, contacts, reader(t, baseSchema, `[{"id": 3, "name": "Cy", "day": "2024-05-01"}]`), PublishRequest{Mode: Replace{},
		SnapshotProperties: map[string]string{"publisher": "a"}})
	if !errs.Is(err, errs.Conflict) {
		t.Fatalf("err = %v; want conflict", err)
	}
	wantRows(t, rowsOf(t, a, contacts, 0), "2:Bob:2024-05-01")
	// The seed and the other writer's three: the publish that reported a conflict
	// landed no snapshot at all.
	snaps, err := a.Snapshots(ctx, contacts)
	if err != nil || len(snaps) != 4 {
		t.Fatalf("%d snapshots (%v), want 4", len(snaps), err)
	}
	for _, s := range snaps {
		if s.Properties["publisher"] == "a" {
			t.Fatalf("snapshot %d is the conflicting publish's", s.ID)
		}
	}
	assertNoOrphanDataFiles(t, a, dir)
}

func TestDataFilesAreReadableParquet(t *testing.T) {
	ctx := context.Background()
	c := openTest(t, t.TempDir())
	if files, err := c.DataFiles(ctx, contacts, 0); !errs.Is(err, errs.NotFound) {
		t.Fatalf("DataFiles of a missing table = %v, %v", files, err)
	}
	s := publish(t, c, contacts, baseSchema, `[
		{"id": 1, "name": "Ada", "day": "2024-05-01"},
		{"id": 2, "name": "Bob", "day": "2024-05-02"}]`, PublishRequest{Mode: Replace{}})
	publish(t, c, contacts, baseSchema, `[{"id": 3, "name": "Cy", "day": "2024-05-03"}]`, PublishRequest{Mode: ReplacePartition{"day", "2024-05-03"}})

	for _, tc := range []struct {
		asOf int64
		rows int64
	}{{0, 3}, {s.ID, 2}} {
		files, err := c.DataFiles(ctx, contacts, tc.asOf)
		if err != nil || len(files) == 0 {
			t.Fatalf("DataFiles(%d) = %v, %v", tc.asOf, files, err)
		}
		var rows int64
		for _, f := range files {
			if !filepath.IsAbs(f) {
				t.Errorf("path %q is not absolute", f)
			}
			r, err := file.OpenParquetFile(f, false)
			if err != nil {
				t.Fatal(err)
			}
			rows += r.NumRows()
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
		}
		if rows != tc.rows {
			t.Errorf("DataFiles(%d): %d rows in the files, want %d", tc.asOf, rows, tc.rows)
		}
	}
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	// Plain paths for both, in a directory that does not exist yet.
	c, err := Open(ctx, Options{CatalogURI: filepath.Join(dir, "new", "catalog.db"), Warehouse: filepath.Join(dir, "wh")})
	if err != nil {
		t.Fatal(err)
	}
	publish(t, c, contacts, baseSchema, `[]`, PublishRequest{Mode: Replace{}})
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	// Reopened with the URL spellings, the table is still there.
	c, err = Open(ctx, Options{CatalogURI: "sqlite://" + filepath.Join(dir, "new", "catalog.db"), Warehouse: "file://" + filepath.Join(dir, "wh") + "/"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if ids, err := c.Tables(ctx, ""); err != nil || !slices.Equal(ids, []TableID{contacts}) {
		t.Fatalf("Tables after reopening = %v, %v", ids, err)
	}

	for _, o := range []Options{
		{Warehouse: dir},
		{CatalogURI: filepath.Join(dir, "c.db")},
		{CatalogURI: "mysql://x", Warehouse: dir},
		{CatalogURI: "postgres://localhost/db", Warehouse: dir}, // no driver registered
		{CatalogURI: filepath.Join(dir, "c.db"), Warehouse: "nosuch://bucket/wh"},
	} {
		if _, err := Open(ctx, o); !errs.Is(err, errs.Invalid) {
			t.Errorf("Open(%+v) = %v; want invalid", o, err)
		}
	}
	if _, err := ParseTableID("crm"); !errs.Is(err, errs.Invalid) {
		t.Errorf("ParseTableID(crm) = %v", err)
	}
	if id, err := ParseTableID("crm.contacts_v1"); err != nil || id != PortTable("crm", "contacts", 1) || id.String() != "crm.contacts_v1" {
		t.Errorf("ParseTableID = %v, %v", id, err)
	}
}
