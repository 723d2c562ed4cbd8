package port

import (
	"context"
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
