package port

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meshflow/meshflow/framework/errs"
)

// publishDays publishes one snapshot per day, each replacing only its own day, as a
// backfill of a partitioned product does: every day adds a small data file and a
// manifest. It returns the snapshots and the rows, as rowsOf reads them.
func publishDays(t *testing.T, c *Catalog, days int) ([]Snapshot, []string) {
	t.Helper()
	var snaps []Snapshot
	var rows []string
	for i := range days {
		day := time.Date(2024, 5, 1+i, 0, 0, 0, 0, time.UTC).Format("2006-01-02")
		s := publish(t, c, contacts, baseSchema, fmt.Sprintf(`[{"id": %d, "name": "n%d", "day": %q}, {"id": %d, "name": "m%d", "day": %q}]`, 2*i, i, day, 2*i+1, i, day),
			PublishRequest{Mode: ReplacePartition{Column: "day", Value: day}, SnapshotProperties: map[string]string{"meshflow.run-id": fmt.Sprintf("run-%d", i), "meshflow.partition": day}})
		snaps = append(snaps, s)
		rows = append(rows, fmt.Sprintf("%d:n%d:%s", 2*i, i, day), fmt.Sprintf("%d:m%d:%s", 2*i+1, i, day))
	}
	slices.Sort(rows)
	return snaps, rows
}

// tableDir is the warehouse directory of the contacts table.
func tableDir(t *testing.T, dir string) string {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(dir, "warehouse", "crm.db", "contacts_v1*"))
	if err != nil || len(matches) != 1 {
		t.Fatalf("table directory: %v %v", matches, err)
	}
	return matches[0]
}

// writeFile writes a file modified at mtime.
func writeFile(t *testing.T, path string, mtime time.Time) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("not referenced by any metadata"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func TestMaintain(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	c := openTest(t, dir)
	snaps, rows := publishDays(t, c, 8)
	last := snaps[len(snaps)-1]
	rows5 := rowsOf(t, c, contacts, snaps[5].ID)

	tdir := tableDir(t, dir)
	oldOrphan := filepath.Join(tdir, "data", "00000-0-lost-attempt.parquet")
	freshOrphan := filepath.Join(tdir, "data", "00000-0-in-flight.parquet")
	outside := filepath.Join(dir, "warehouse", "crm.db", "not-this-table.parquet")
	writeFile(t, oldOrphan, time.Now().Add(-10*24*time.Hour))
	writeFile(t, freshOrphan, time.Now())
	writeFile(t, outside, time.Now().Add(-10*24*time.Hour))

	req := MaintainRequest{
		Retention:  Retention{MaxAge: 30 * 24 * time.Hour, MinSnapshots: 3},
		Compaction: CompactOptions{MinInputFiles: 2},
		Now:        time.Now().Add(40 * 24 * time.Hour), // every snapshot is past 30 days
	}

	// A dry run says what would happen and changes nothing.
	dry := req
	dry.DryRun = true
	plan, err := c.Maintain(ctx, contacts, dry)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Before.DataFiles != 8 || plan.Compacted.Files != 8 || plan.Compacted.FilesOut != 1 || plan.Manifests.Before < 2 || plan.Manifests.After != 1 {
		t.Fatalf("dry run plan = %+v", plan)
	}
	if len(plan.Expired.Snapshots) != 5 || len(plan.Orphans.Files) != 1 || !strings.HasSuffix(plan.Orphans.Files[0].Path, oldOrphan) {
		t.Fatalf("dry run: expire %v, orphans %+v", plan.Expired.Snapshots, plan.Orphans.Files)
	}
	if plan.After != plan.Before || !exists(oldOrphan) {
		t.Fatalf("a dry run changed the table: before %+v after %+v", plan.Before, plan.After)
	}

	m, err := c.Maintain(ctx, contacts, req)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("data files %d → %d, manifests %d → %d, snapshots %d → %d, bytes %d → %d",
		m.Before.DataFiles, m.After.DataFiles, m.Before.Manifests, m.After.Manifests, m.Before.Snapshots, m.After.Snapshots, m.Before.DataBytes, m.After.DataBytes)

	// Small files compacted into one, manifests merged, the same rows.
	if m.Before.DataFiles != 8 || m.After.DataFiles != 1 || m.Compacted.Files != 8 || m.Compacted.Snapshot == 0 {
		t.Fatalf("compaction: %+v, files %d → %d", m.Compacted, m.Before.DataFiles, m.After.DataFiles)
	}
	if m.After.Manifests != 1 || m.Manifests.Snapshot == 0 {
		t.Fatalf("manifests %d → %d: %+v", m.Before.Manifests, m.After.Manifests, m.Manifests)
	}
	wantRows(t, rowsOf(t, c, contacts, 0), rows...)

	// The last 3 publishes stay (and the two maintenance snapshots on top), the 5
	// older ones are expired, oldest first.
	var want []int64
	for _, s := range snaps[:5] {
		want = append(want, s.ID)
	}
	if !slices.Equal(m.Expired.Snapshots, want) || m.After.Snapshots != 5 {
		t.Fatalf("expired %v, want %v; %d snapshots left", m.Expired.Snapshots, want, m.After.Snapshots)
	}
	if _, err := c.ReadAll(ctx, contacts, snaps[4].ID, 0); !errs.Is(err, errs.NotFound) {
		t.Fatalf("time travel to an expired snapshot: %v; want not found", err)
	}
	wantRows(t, rowsOf(t, c, contacts, snaps[5].ID), rows5...) // a kept publish still reads as it was

	// The current snapshot is the manifest rewrite; it reads as the publish it was
	// made from, so the catalog's published time, checks and run stay right.
	cur, _, err := c.Current(ctx, contacts)
	if err != nil {
		t.Fatal(err)
	}
	if cur.ID == last.ID || cur.Operation != "replace" || cur.Properties["meshflow.run-id"] != "run-7" || cur.Properties["meshflow.partition"] != last.Properties["meshflow.partition"] {
		t.Fatalf("current after maintenance = %+v, want a replace reading as %+v", cur, last.Properties)
	}
	history, err := c.Snapshots(ctx, contacts)
	if err != nil {
		t.Fatal(err)
	}
	if history[1].Properties[PropMaintenance] != "compact" || history[1].Properties["meshflow.run-id"] != "run-7" {
		t.Fatalf("the compaction snapshot reads %+v", history[1].Properties)
	}

	// The old orphan went; a fresh one (a publish in flight) and a file outside the
	// table stay; every data file left is referenced.
	if m.Orphans.Deleted != 1 || exists(oldOrphan) || !exists(freshOrphan) || !exists(outside) {
		t.Fatalf("orphans %+v: old exists %v, fresh %v, outside %v", m.Orphans, exists(oldOrphan), exists(freshOrphan), exists(outside))
	}
	for _, f := range []string{freshOrphan, outside} {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	assertNoOrphanDataFiles(t, c, dir)

	// Again: nothing left to do.
	again, err := c.Maintain(ctx, contacts, req)
	if err != nil {
		t.Fatal(err)
	}
	if again.Compacted.Files != 0 || again.Manifests.Snapshot != 0 || len(again.Expired.Snapshots) != 0 || again.Orphans.Deleted != 0 || again.After != m.After {
		t.Fatalf("second maintenance did something: %+v", again)
	}
}

func TestExpireKeepsWhatBranchesAndConsumersNeed(t *testing.T) {
	ctx := context.Background()
	c := openTest(t, t.TempDir())
	snaps, _ := publishDays(t, c, 2)
	onBranch := publish(t, c, contacts, baseSchema, `[{"id": 100, "name": "preview", "day": "2024-06-01"}]`,
		PublishRequest{Mode: ReplacePartition{Column: "day", Value: "2024-06-01"}, Branch: "preview"})
	later, _ := publishDays(t, c, 3) // main moves on: days 1–3 again, three snapshots
	snaps = append(snaps, later...)
	before, ok, err := c.Branch(ctx, contacts, "preview")
	if err != nil || !ok {
		t.Fatal(ok, err)
	}

	read := snaps[2] // a consumer's current snapshot was computed from it
	res, err := c.ExpireSnapshots(ctx, contacts, ExpireRequest{
		Retention: Retention{MaxAge: time.Hour, MinSnapshots: 1},
		Keep:      map[int64]string{read.ID: "read by metrics.weekly_v1's current snapshot"},
		Now:       time.Now().Add(48 * time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	// Kept: main's current (snaps[4]), the branch's head, the snapshot of main the
	// branch was made from (snaps[1]), main's since (through which promote finds it)
	// and the consumer's; expired: the one before the branch.
	want := []int64{snaps[0].ID}
	if !slices.Equal(res.Snapshots, want) {
		t.Fatalf("expired %v, want %v (snapshots %v, branch head %d)", res.Snapshots, want, ids(snaps), onBranch.ID)
	}
	why := map[int64]string{}
	for _, k := range res.KeptPastRetention {
		why[k.ID] = k.Why
	}
	if !strings.Contains(why[snaps[1].ID], "branch preview was made from it") || !strings.Contains(why[read.ID], "metrics.weekly_v1") ||
		!strings.Contains(why[snaps[3].ID], "main's history since branch preview") || len(why) != 3 {
		t.Fatalf("kept past retention: %+v", res.KeptPastRetention)
	}
	after, ok, err := c.Branch(ctx, contacts, "preview")
	if err != nil || !ok || after.Head.ID != before.Head.ID || after.Fork != before.Fork || after.Fork != snaps[1].ID {
		t.Fatalf("branch after expiry = %+v, before %+v", after, before)
	}
	if _, err := c.ReadAll(ctx, contacts, read.ID, 0); err != nil {
		t.Fatalf("the consumer's snapshot no longer reads: %v", err)
	}
}

func TestCompactionSkipsATableNotPartitionedByItsDays(t *testing.T) {
	ctx := context.Background()
	c := openTest(t, t.TempDir())
	publishDays(t, c, 6)
	res, err := c.Compact(ctx, contacts, CompactOptions{MinInputFiles: 2, PartitionColumn: "day"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.Stats(ctx, contacts)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Skipped, "not partitioned by day") || res.Snapshot != 0 || st.DataFiles != 6 {
		t.Fatalf("compaction of an unpartitioned day-replaced table = %+v, %d files", res, st.DataFiles)
	}
}

// A publish that lands while a compaction is being built wins; the compaction plans
// again on it, and the files of its lost attempt are deleted.
func TestCompactionLosingToAPublish(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	c := openTest(t, dir)
	_, rows := publishDays(t, c, 4)
	raced := false
	c.beforeCommit = func(id TableID, attempt int) {
		if raced {
			return
		}
		raced = true
		publish(t, c, contacts, baseSchema, `[{"id": 50, "name": "late", "day": "2024-06-30"}]`,
			PublishRequest{Mode: ReplacePartition{Column: "day", Value: "2024-06-30"}, SnapshotProperties: map[string]string{"meshflow.run-id": "late"}})
	}
	res, err := c.Compact(ctx, contacts, CompactOptions{MinInputFiles: 2})
	if err != nil {
		t.Fatal(err)
	}
	if res.Files != 5 || res.FilesOut != 1 {
		t.Fatalf("compaction after the race = %+v, want the 5 files of the winner's snapshot in one", res)
	}
	wantRows(t, rowsOf(t, c, contacts, 0), append(rows, "50:late:2024-06-30")...)
	if cur, _, _ := c.Current(ctx, contacts); cur.Properties["meshflow.run-id"] != "late" {
		t.Fatalf("current = %+v, want the compaction reading as the late publish", cur)
	}
	assertNoOrphanDataFiles(t, c, dir)
}

// Expiry deletes the files only expired snapshots read: here every whole-table publish
// but the last.
func TestExpiryDeletesTheFilesOnlyExpiredSnapshotsRead(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	c := openTest(t, dir)
	for i := range 4 {
		publish(t, c, contacts, baseSchema, fmt.Sprintf(`[{"id": %d, "name": "v%d", "day": "2024-05-01"}]`, i, i), PublishRequest{Mode: Replace{}})
	}
	parquet := func() int {
		n := 0
		filepath.WalkDir(filepath.Join(dir, "warehouse"), func(p string, _ os.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(p, ".parquet") {
				n++
			}
			return err
		})
		return n
	}
	if n := parquet(); n != 4 {
		t.Fatalf("%d data files before expiry, want 4", n)
	}
	res, err := c.ExpireSnapshots(ctx, contacts, ExpireRequest{Retention: Retention{MaxAge: time.Hour, MinSnapshots: 1}, Now: time.Now().Add(2 * time.Hour)})
	if err != nil || len(res.Snapshots) != 3 || res.Warning != "" {
		t.Fatalf("expire = %+v, %v", res, err)
	}
	if n := parquet(); n != 1 {
		t.Fatalf("%d data files after expiry, want the current snapshot's 1", n)
	}
	wantRows(t, rowsOf(t, c, contacts, 0), "3:v3:2024-05-01")
}
