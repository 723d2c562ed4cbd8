package port

import (
	"context"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/meshflow/meshflow/framework/errs"
)

var idSchema = arrow.NewSchema([]arrow.Field{field("id", arrow.PrimitiveTypes.Int64, "")}, nil)

// mergeReq merges rows by id, replacing the keys given as a JSON array of ids.
func mergeReq(t *testing.T, keys string, props map[string]string) PublishRequest {
	t.Helper()
	var objs []string
	for _, k := range strings.Split(strings.Trim(keys, "[] "), ",") {
		if k = strings.TrimSpace(k); k != "" {
			objs = append(objs, `{"id": `+k+`}`)
		}
	}
	return PublishRequest{Mode: MergeByKey{Columns: []string{"id"}, Keys: reader(t, idSchema, "["+strings.Join(objs, ",")+"]")}, SnapshotProperties: props}
}

func TestMergeByKeyReplacesAndDeletesKeysInOneSnapshot(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	c := openTest(t, dir)
	publish(t, c, contacts, baseSchema, `[
		{"id": 1, "name": "Ada", "day": "2024-05-01"},
		{"id": 2, "name": "Bob", "day": "2024-05-01"},
		{"id": 3, "name": "Cy", "day": "2024-05-01"}]`, PublishRequest{Mode: Replace{}})
	before, _ := c.Snapshots(ctx, contacts)

	// 2 is updated, 3 deleted (a key without a row), 4 added.
	s := publish(t, c, contacts, baseSchema, `[
		{"id": 2, "name": "Bobby", "day": "2024-05-02"},
		{"id": 4, "name": "Di", "day": "2024-05-02"}]`, mergeReq(t, "[2, 3, 4]", map[string]string{"run": "merge-1"}))
	wantRows(t, rowsOf(t, c, contacts, 0), "1:Ada:2024-05-01", "2:Bobby:2024-05-02", "4:Di:2024-05-02")
	after, _ := c.Snapshots(ctx, contacts)
	if len(after) != len(before)+1 || after[0].ID != s.ID || s.Properties["run"] != "merge-1" {
		t.Fatalf("snapshots %+v after %+v: want one new snapshot carrying the merge's properties", after, before)
	}
	if s.Rows != 3 {
		t.Fatalf("snapshot rows = %d, want 3 (4 records less 1 deleted position)", s.Rows)
	}
	// The old rows are deleted by position, not rewritten: data files alone would
	// show them, so DataFiles refuses and LocalScan names the delete file.
	if _, err := c.DataFiles(ctx, contacts, 0); !errs.Is(err, errs.Invalid) {
		t.Fatalf("DataFiles of a merged snapshot: %v, want invalid", err)
	}
	files, err := c.LocalScan(ctx, contacts, 0, "")
	if err != nil || len(files.Data) != 2 || len(files.PositionDeletes) != 1 || len(files.Locations) != 2 {
		t.Fatalf("LocalScan = %+v, %v; want 2 data files and 1 delete file", files, err)
	}

	// A second merge finds only live rows: the old version of 2 is not deleted twice.
	keys := reader(t, idSchema, `[{"id": 2}, {"id": 1}]`)
	loc, err := c.Locate(ctx, contacts, []string{"id"}, keys)
	if err != nil || loc.Rows() != 2 || loc.Snapshot != s.ID {
		t.Fatalf("Locate = %+v, %v; want the 2 live rows of snapshot %d", loc, err, s.ID)
	}
	s2 := publish(t, c, contacts, baseSchema, `[{"id": 2, "name": "Robert", "day": "2024-05-03"}]`, mergeReq(t, "[1, 2]", nil))
	wantRows(t, rowsOf(t, c, contacts, 0), "2:Robert:2024-05-03", "4:Di:2024-05-02")
	if s2.Rows != 2 {
		t.Fatalf("snapshot rows = %d, want 2", s2.Rows)
	}
	// Time travel still reads the merge before.
	wantRows(t, rowsOf(t, c, contacts, s.ID), "1:Ada:2024-05-01", "2:Bobby:2024-05-02", "4:Di:2024-05-02")
	assertNoOrphanFiles(t, c, dir)
}

func TestMergeByKeyRefusesARowOfAnotherKey(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	c := openTest(t, dir)
	publish(t, c, contacts, baseSchema, `[{"id": 1, "name": "Ada", "day": "2024-05-01"}]`, PublishRequest{Mode: Replace{}})
	_, err := c.Publish(ctx, contacts, reader(t, baseSchema, `[{"id": 1, "name": "Ada", "day": "2024-05-01"}, {"id": 5, "name": "Eve", "day": "2024-05-01"}]`), mergeReq(t, "[1]", nil))
	if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "id=5 is not one of the keys") {
		t.Fatalf("err = %v; want the row of key 5 named", err)
	}
	wantRows(t, rowsOf(t, c, contacts, 0), "1:Ada:2024-05-01")
	assertNoOrphanFiles(t, c, dir)
}

func TestMergeByKeyOfNothingCommitsNothing(t *testing.T) {
	c := openTest(t, t.TempDir())
	s := publish(t, c, contacts, baseSchema, `[{"id": 1, "name": "Ada", "day": "2024-05-01"}]`, PublishRequest{Mode: Replace{}})
	// Key 9 has no row: deleting it changes nothing.
	got := publish(t, c, contacts, baseSchema, `[]`, mergeReq(t, "[9]", nil))
	if got.ID != s.ID {
		t.Fatalf("merge of nothing made snapshot %d; want the current %d kept", got.ID, s.ID)
	}
}

func TestMergeByKeyUsesWhatWasLocatedOnlyOnItsSnapshot(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	c := openTest(t, dir)
	publish(t, c, contacts, baseSchema, `[{"id": 1, "name": "Ada", "day": "2024-05-01"}, {"id": 2, "name": "Bob", "day": "2024-05-01"}]`, PublishRequest{Mode: Replace{}})
	stale, err := c.Locate(ctx, contacts, []string{"id"}, reader(t, idSchema, `[{"id": 2}]`))
	if err != nil || stale.Rows() != 1 {
		t.Fatalf("Locate = %+v, %v", stale, err)
	}
	// Another publish comes between: where 2 was is another row now.
	publish(t, c, contacts, baseSchema, `[{"id": 3, "name": "Cy", "day": "2024-05-01"}, {"id": 2, "name": "Bob", "day": "2024-05-01"}]`, PublishRequest{Mode: Replace{}})
	req := mergeReq(t, "[2]", nil)
	m := req.Mode.(MergeByKey)
	m.Located = &stale
	req.Mode = m
	publish(t, c, contacts, baseSchema, `[{"id": 2, "name": "Bobby", "day": "2024-05-02"}]`, req)
	wantRows(t, rowsOf(t, c, contacts, 0), "3:Cy:2024-05-01", "2:Bobby:2024-05-02")

	// Of the current snapshot it is taken as it is, without reading the keys again.
	cur, err := c.Locate(ctx, contacts, []string{"id"}, reader(t, idSchema, `[{"id": 3}]`))
	if err != nil || cur.Rows() != 1 {
		t.Fatalf("Locate = %+v, %v", cur, err)
	}
	req = mergeReq(t, "[2]", nil) // the keys say 2, what was located says 3's row
	m = req.Mode.(MergeByKey)
	m.Located = &cur
	req.Mode = m
	publish(t, c, contacts, baseSchema, `[]`, req)
	wantRows(t, rowsOf(t, c, contacts, 0), "2:Bobby:2024-05-02")
	assertNoOrphanFiles(t, c, dir)
}

// TestMergeByKeyLosingARaceLocatesAgain: a merge whose base moved under it (another
// publish, a compaction) deletes the rows of its keys where they are in the new
// snapshot, and its first delete file is removed.
func TestMergeByKeyLosingARaceLocatesAgain(t *testing.T) {
	dir := t.TempDir()
	a, other := openTest(t, dir), openTest(t, dir)
	publish(t, a, contacts, baseSchema, `[{"id": 1, "name": "Ada", "day": "2024-05-01"}, {"id": 2, "name": "Bob", "day": "2024-05-01"}]`, PublishRequest{Mode: Replace{}})
	attempts := 0
	a.beforeCommit = func(_ TableID, attempt int) {
		attempts = attempt + 1
		if attempt == 0 {
			// Rewrites the table: 2 now sits at another position of another file.
			publish(t, other, contacts, baseSchema, `[{"id": 3, "name": "Cy", "day": "2024-05-01"}, {"id": 2, "name": "Bob", "day": "2024-05-01"}]`, PublishRequest{Mode: Replace{}})
		}
	}
	publish(t, a, contacts, baseSchema, `[{"id": 2, "name": "Bobby", "day": "2024-05-02"}]`, mergeReq(t, "[2]", nil))
	if attempts != 2 {
		t.Fatalf("%d attempts; the race was not provoked", attempts)
	}
	wantRows(t, rowsOf(t, a, contacts, 0), "3:Cy:2024-05-01", "2:Bobby:2024-05-02")
	assertNoOrphanFiles(t, a, dir)
}

// assertNoOrphanFiles checks that every Parquet file in the warehouse — data or
// delete file — belongs to a snapshot of contacts.
func assertNoOrphanFiles(t *testing.T, c *Catalog, dir string) {
	t.Helper()
	snaps, err := c.Snapshots(context.Background(), contacts)
	if err != nil {
		t.Fatal(err)
	}
	referenced := map[string]bool{}
	for _, s := range snaps {
		files, err := c.LocalScan(context.Background(), contacts, s.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range append(files.Data, files.PositionDeletes...) {
			referenced[f] = true
		}
	}
	err = filepath.WalkDir(filepath.Join(dir, "warehouse"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".parquet") && !referenced[p] {
			t.Errorf("orphan file %s", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
