package port

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strconv"
	"testing"
)

// TestLoadParsesEachMetadataFileOnce: reading a table again parses nothing while its
// metadata file is the same (the publish that wrote it counts as a read), and a
// publish by another process (another Catalog on the same database) is seen at once.
func TestLoadParsesEachMetadataFileOnce(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	c, other := openTest(t, dir), openTest(t, dir)
	publishDayRows(t, c, `[{"id": 1, "name": "a", "day": "2024-05-01"}]`, "2024-05-01")

	first, err := c.load(ctx, "test", contacts)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.load(ctx, "test", contacts)
	if err != nil {
		t.Fatal(err)
	}
	if first.Metadata() != again.Metadata() {
		t.Fatal("the second load parsed the same metadata file again")
	}

	snap := publishDayRows(t, other, `[{"id": 2, "name": "b", "day": "2024-05-02"}]`, "2024-05-02")
	cur, ok, err := c.Current(ctx, contacts)
	if err != nil || !ok {
		t.Fatalf("current: %v %v", ok, err)
	}
	if cur.ID != snap.ID {
		t.Fatalf("current snapshot %d after another catalog published %d: the cache hid its publish", cur.ID, snap.ID)
	}
	fresh, err := c.load(ctx, "test", contacts)
	if err != nil {
		t.Fatal(err)
	}
	if fresh.Metadata() == first.Metadata() || fresh.MetadataLocation() == first.MetadataLocation() {
		t.Fatal("the load after another catalog's publish returned the old metadata")
	}

	// A publish of this catalog leaves its new metadata cached: the next load is it.
	mine := publishDayRows(t, c, `[{"id": 3, "name": "c", "day": "2024-05-03"}]`, "2024-05-03")
	next, err := c.load(ctx, "test", contacts)
	if err != nil {
		t.Fatal(err)
	}
	if next.CurrentSnapshot().SnapshotID != mine.ID {
		t.Fatalf("current snapshot %d, want %d", next.CurrentSnapshot().SnapshotID, mine.ID)
	}
	if md, ok := c.meta.get(contacts, next.MetadataLocation()); !ok || md != next.Metadata() {
		t.Fatal("the metadata this catalog's publish wrote was not the one loaded next")
	}
}

// TestLoadMissingTableIsNotFound: a table the catalog does not have is still
// errs.NotFound through the cache's path.
func TestLoadMissingTableIsNotFound(t *testing.T) {
	c := openTest(t, t.TempDir())
	if _, ok, err := c.Current(context.Background(), TableID{Domain: "crm", Name: "nothing_v1"}); err != nil || ok {
		t.Fatalf("Current of a missing table: ok %v, err %v; want false, nil", ok, err)
	}
}

// TestDayCommitsWriteMetadataEveryReaderReads: a day's publish commits onto the
// metadata it read (commitOnto) and writes a metadata file that iceberg-go's own
// catalog, in another process, loads: every snapshot, the log of earlier metadata
// files, the next version in the file's name, the table's properties.
func TestDayCommitsWriteMetadataEveryReaderReads(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	c := openTest(t, dir)
	var snaps []Snapshot
	for i, day := range []string{"2024-05-01", "2024-05-02", "2024-05-03"} {
		snaps = append(snaps, publishDayRows(t, c, fmt.Sprintf(`[{"id": %d, "name": "a", "day": %q}]`, i, day), day))
	}
	fresh := openTest(t, dir)
	tbl, err := fresh.cat.LoadTable(ctx, contacts.ident())
	if err != nil {
		t.Fatal(err)
	}
	md := tbl.Metadata()
	if got := md.CurrentSnapshot().SnapshotID; got != snaps[2].ID {
		t.Fatalf("current snapshot %d, want %d", got, snaps[2].ID)
	}
	if n := len(md.Snapshots()); n != 3 {
		t.Fatalf("%d snapshots, want 3", n)
	}
	if n := len(slices.Collect(md.PreviousFiles())); n < 2 {
		t.Fatalf("%d earlier metadata files logged, want at least 2", n)
	}
	prev := slices.Collect(md.PreviousFiles())
	if v, want := metadataVersion(t, tbl.MetadataLocation()), metadataVersion(t, prev[len(prev)-1].MetadataFile)+1; v != want {
		t.Fatalf("metadata file %s: version %d, want %d", tbl.MetadataLocation(), v, want)
	}
	cur, ok, err := fresh.Current(ctx, contacts)
	if err != nil || !ok || cur.Rows != 3 {
		t.Fatalf("current %+v (ok %v, err %v), want 3 rows", cur, ok, err)
	}
}

func metadataVersion(t *testing.T, loc string) int {
	t.Helper()
	m := metadataFileName.FindStringSubmatch(path.Base(loc))
	if m == nil {
		t.Fatalf("%s is not a metadata file name", loc)
	}
	v, _ := strconv.Atoi(m[1])
	return v
}
