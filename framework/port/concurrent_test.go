package port

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/meshflow/meshflow/framework/errs"
)

// TestConcurrentPublishersOfTheSameDay: two publishes of the same partition race (a
// retried Publish whose first attempt is still committing, or two reruns of one day).
// Both land, one after the other: two snapshots, the second replacing the first's rows
// of that day — never both sets of rows, never a lost or doubled snapshot. Partitioned,
// both partition the table and plan the day from its manifests at once.
func TestConcurrentPublishersOfTheSameDay(t *testing.T) {
	for _, partitionBy := range []string{"", "day"} {
		t.Run("PartitionBy="+partitionBy, func(t *testing.T) { concurrentPublishersOfTheSameDay(t, partitionBy) })
	}
}

func concurrentPublishersOfTheSameDay(t *testing.T, partitionBy string) {
	ctx := context.Background()
	dir := t.TempDir()
	a, b := openTest(t, dir), openTest(t, dir)
	publish(t, a, contacts, baseSchema, `[{"id": 1, "name": "Ada", "day": "2024-05-01"}]`, PublishRequest{Mode: Replace{}})
	before, _ := a.Snapshots(ctx, contacts)

	var ready sync.WaitGroup
	ready.Add(2)
	for _, c := range []*Catalog{a, b} {
		c.beforeCommit = func(_ TableID, attempt int) {
			if attempt == 0 { // both build on the same base, then commit at once
				ready.Done()
				ready.Wait()
			}
		}
	}
	data := [2]string{
		`[{"id": 2, "name": "Bob", "day": "2024-05-02"}, {"id": 3, "name": "Cy", "day": "2024-05-02"}]`,
		`[{"id": 2, "name": "Bob2", "day": "2024-05-02"}]`,
	}
	rows := [2][]string{{"2:Bob:2024-05-02", "3:Cy:2024-05-02"}, {"2:Bob2:2024-05-02"}}
	snaps := make([]Snapshot, 2)
	failures := make([]error, 2)
	var wg sync.WaitGroup
	for i, c := range []*Catalog{a, b} {
		rdr := reader(t, baseSchema, data[i])
		wg.Go(func() {
			snaps[i], failures[i] = c.Publish(ctx, contacts, rdr, PublishRequest{Mode: ReplacePartition{"day", "2024-05-02"},
				SnapshotProperties: map[string]string{"publisher": fmt.Sprint(i)}, PartitionBy: partitionBy})
		})
	}
	wg.Wait()
	for i, err := range failures {
		if err != nil {
			t.Fatalf("publisher %d: %v", i, err)
		}
	}
	after, err := a.Snapshots(ctx, contacts)
	if err != nil || len(after) != len(before)+2 {
		t.Fatalf("snapshots: %d before, %d after (%v); want +2", len(before), len(after), err)
	}
	last, first := 0, 1
	if after[0].ID == snaps[1].ID {
		last, first = 1, 0
	}
	if after[0].ID != snaps[last].ID || after[1].ID != snaps[first].ID || after[0].ParentID != after[1].ID || after[1].ParentID != before[0].ID {
		t.Fatalf("snapshots %+v, publishers got %+v: want one chain, each publish once", after, snaps)
	}
	// Each snapshot holds the seed plus its own publisher's rows of the day.
	wantRows(t, rowsOf(t, a, contacts, after[1].ID), append([]string{"1:Ada:2024-05-01"}, rows[first]...)...)
	wantRows(t, rowsOf(t, a, contacts, after[0].ID), append([]string{"1:Ada:2024-05-01"}, rows[last]...)...)
	assertRowCounts(t, a, after)
	assertNoOrphanDataFiles(t, a, dir)
}

// TestManyPublishersLandExactlyOnce: four writers with their own catalog connections,
// as four workers backfilling four days, each publish three days at once, no hooks
// ordering them. Every publish either lands exactly once or reports errs.Conflict and
// lands nothing; the table's history is one chain holding every landed snapshot once,
// and the rows are exactly those of the landed publishes — partitioned or not.
func TestManyPublishersLandExactlyOnce(t *testing.T) {
	for _, partitionBy := range []string{"", "day"} {
		t.Run("PartitionBy="+partitionBy, func(t *testing.T) { manyPublishersLandExactlyOnce(t, partitionBy) })
	}
}

func manyPublishersLandExactlyOnce(t *testing.T, partitionBy string) {
	ctx := context.Background()
	dir := t.TempDir()
	const writers, rounds = 4, 3
	cats := make([]*Catalog, writers)
	var mu sync.Mutex
	retries := 0
	for i := range cats {
		cats[i] = openTest(t, dir)
		cats[i].beforeCommit = func(_ TableID, attempt int) { // counts, never orders
			if attempt > 0 {
				mu.Lock()
				retries++
				mu.Unlock()
			}
		}
	}
	publish(t, cats[0], contacts, baseSchema, `[{"id": 0, "name": "seed", "day": "2024-04-30"}]`, PublishRequest{Mode: Replace{}})
	before, _ := cats[0].Snapshots(ctx, contacts)

	type outcome struct {
		name string // publisher property: w<writer>r<round>
		day  string
		snap Snapshot
		err  error
	}
	results := make(chan outcome, writers*rounds)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for w, c := range cats {
		var todo []outcome
		var rdrs []array.RecordReader
		for r := range rounds {
			n := 1 + w*rounds + r
			o := outcome{name: fmt.Sprintf("w%dr%d", w, r), day: fmt.Sprintf("2024-05-%02d", n)}
			todo = append(todo, o)
			rdrs = append(rdrs, reader(t, baseSchema, fmt.Sprintf(`[{"id": %d, "name": %q, "day": %q}]`, n, o.name, o.day)))
		}
		wg.Go(func() {
			<-start
			for r, o := range todo {
				o.snap, o.err = c.Publish(ctx, contacts, rdrs[r], PublishRequest{Mode: ReplacePartition{"day", o.day},
					SnapshotProperties: map[string]string{"publisher": o.name}, PartitionBy: partitionBy})
				results <- o
			}
		})
	}
	close(start)
	wg.Wait()
	close(results)

	want := []string{"0:seed:2024-04-30"}
	landed := map[int64]string{}
	conflicts := 0
	for o := range results {
		switch {
		case o.err == nil:
			landed[o.snap.ID] = o.name
			want = append(want, fmt.Sprintf("%s:%s:%s", strings.TrimLeft(o.day[8:], "0"), o.name, o.day))
		case errs.Is(o.err, errs.Conflict):
			conflicts++ // allowed: reported, and it must have left nothing behind
		default:
			t.Fatalf("%s: %v; want it published or a conflict", o.name, o.err)
		}
	}
	t.Logf("%d publishes landed, %d reported a conflict, %d commits were rebuilt after a lost race", len(landed), conflicts, retries)
	after, err := cats[0].Snapshots(ctx, contacts)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before)+len(landed) {
		t.Fatalf("%d snapshots added, %d publishes landed", len(after)-len(before), len(landed))
	}
	// Newest first: each snapshot's parent is the next one, down to the seed.
	for i, s := range after[:len(landed)] {
		if name, ok := landed[s.ID]; !ok || s.Properties["publisher"] != name {
			t.Fatalf("snapshot %d (%s) is none of the landed publishes %v", s.ID, s.Properties["publisher"], landed)
		}
		if s.ParentID != after[i+1].ID {
			t.Fatalf("snapshot %d has parent %d, want %d: the history forked", s.ID, s.ParentID, after[i+1].ID)
		}
	}
	// Row ids are the days' numbers, so the expected rows sort as rowsOf's do.
	got := rowsOf(t, cats[0], contacts, 0)
	wantRows(t, got, want...)
	assertRowCounts(t, cats[0], after)
	assertNoOrphanDataFiles(t, cats[0], dir)
}

// assertRowCounts checks that each snapshot's recorded row count is what reading it
// returns: a doubled commit would show as more rows than its summary says, or a jump.
func assertRowCounts(t *testing.T, c *Catalog, snaps []Snapshot) {
	t.Helper()
	for _, s := range snaps {
		rows := rowsOf(t, c, contacts, s.ID)
		if int64(len(rows)) != s.Rows {
			t.Errorf("snapshot %d says %d rows and holds %d", s.ID, s.Rows, len(rows))
		}
		if len(slices.Compact(slices.Clone(rows))) != len(rows) {
			t.Errorf("snapshot %d holds a row twice: %v", s.ID, rows)
		}
	}
}
