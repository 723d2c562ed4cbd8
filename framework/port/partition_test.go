package port

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/apache/iceberg-go"
	icebergio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"

	"github.com/meshflow/meshflow/framework/errs"
)

// day publishes one day of contacts, partitioned by day.
func publishDayRows(t *testing.T, c *Catalog, rowsJSON, day string) Snapshot {
	t.Helper()
	return publish(t, c, contacts, baseSchema, rowsJSON, PublishRequest{Mode: ReplacePartition{"day", day}, PartitionBy: "day"})
}

// filesByDay maps each current data file of contacts to the day in its path
// (day=YYYY-MM-DD/, Hive-style), "" for a file outside any partition directory.
func filesByDay(t *testing.T, c *Catalog) map[string]string {
	t.Helper()
	files, err := c.DataFiles(context.Background(), contacts, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, f := range files {
		_, rest, ok := strings.Cut(f, "/day=")
		day, _, _ := strings.Cut(rest, "/")
		if !ok {
			day = ""
		}
		out[f] = day
	}
	return out
}

// manifestsOf lists the manifests of the current snapshot of contacts.
func manifestsOf(t *testing.T, c *Catalog) []string {
	t.Helper()
	tbl, err := c.load(context.Background(), "test", contacts)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := tbl.FS(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ms, err := tbl.CurrentSnapshot().Manifests(fs)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range ms {
		out = append(out, m.FilePath())
	}
	return out
}

// partitionFields describes the current spec of contacts: "name:transform(source)".
func partitionFields(t *testing.T, c *Catalog) string {
	t.Helper()
	tbl, err := c.load(context.Background(), "test", contacts)
	if err != nil {
		t.Fatal(err)
	}
	spec := tbl.Spec()
	var out []string
	for _, f := range spec.Fields() {
		src, _ := tbl.Schema().FindColumnName(f.SourceID())
		out = append(out, fmt.Sprintf("%s:%s(%s)", f.Name, f.Transform, src))
	}
	return strings.Join(out, ",")
}

func TestFirstPublishCreatesAPartitionedTable(t *testing.T) {
	c := openTest(t, t.TempDir())
	publishDayRows(t, c, `[{"id": 1, "name": "Ada", "day": "2024-05-01"}, {"id": 2, "name": "Bob", "day": "2024-05-01"}]`, "2024-05-01")
	if got := partitionFields(t, c); got != "day:identity(day)" {
		t.Fatalf("partition spec %q, want day:identity(day)", got)
	}
	for f, day := range filesByDay(t, c) {
		if day != "2024-05-01" {
			t.Errorf("data file %s is not in the partition directory day=2024-05-01", f)
		}
	}
	wantRows(t, rowsOf(t, c, contacts, 0), "1:Ada:2024-05-01", "2:Bob:2024-05-01")
}

// TestDayOverwriteTouchesOnlyItsDay: re-publishing a day of a partitioned table replaces
// that day's data file and manifest; every other day's data files and manifests are
// carried over as they were (same paths), and the other days' rows are unchanged.
func TestDayOverwriteTouchesOnlyItsDay(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	c := openTest(t, dir)
	for d := 1; d <= 3; d++ {
		day := fmt.Sprintf("2024-05-0%d", d)
		publishDayRows(t, c, fmt.Sprintf(`[{"id": %d, "name": "v1", "day": %q}]`, d, day), day)
	}
	filesBefore, manifestsBefore := filesByDay(t, c), manifestsOf(t, c)
	if len(filesBefore) != 3 || len(manifestsBefore) != 3 {
		t.Fatalf("%d files and %d manifests after three days, want one of each per day", len(filesBefore), len(manifestsBefore))
	}

	s := publishDayRows(t, c, `[{"id": 2, "name": "v2", "day": "2024-05-02"}, {"id": 4, "name": "v2", "day": "2024-05-02"}]`, "2024-05-02")

	filesAfter := filesByDay(t, c)
	for f, day := range filesBefore {
		_, kept := filesAfter[f]
		if day == "2024-05-02" && kept {
			t.Errorf("the day's old file %s is still current", f)
		}
		if day != "2024-05-02" && !kept {
			t.Errorf("file %s of %s was rewritten by a publish of 2024-05-02", f, day)
		}
	}
	if n := len(filesAfter); n != 3 {
		t.Errorf("%d current files, want 3: %v", n, slices.Collect(maps.Keys(filesAfter)))
	}
	manifestsAfter := manifestsOf(t, c)
	var carried int
	for _, m := range manifestsAfter {
		if slices.Contains(manifestsBefore, m) {
			carried++
		}
	}
	// The two other days' manifests, as they were; the day's new one; and the day's old
	// one rewritten to record its file's deletion (dropped by the next publish).
	if carried != 2 || len(manifestsAfter) != 4 {
		t.Errorf("manifests %v after, %v before: want the two other days' carried over, the day's new one and its old one's deletion", manifestsAfter, manifestsBefore)
	}
	if s.Operation != "overwrite" || s.Properties["deleted-data-files"] != "1" || s.Properties["added-data-files"] != "1" || s.Rows != 4 {
		t.Errorf("snapshot %+v: want an overwrite deleting one file, adding one, 4 rows in the table", s)
	}
	wantRows(t, rowsOf(t, c, contacts, 0), "1:v1:2024-05-01", "2:v2:2024-05-02", "4:v2:2024-05-02", "3:v1:2024-05-03")
	// The first snapshots still read as they were.
	snaps, _ := c.Snapshots(ctx, contacts)
	wantRows(t, rowsOf(t, c, contacts, snaps[1].ID), "1:v1:2024-05-01", "2:v1:2024-05-02", "3:v1:2024-05-03")
	assertRowCounts(t, c, snaps)
	assertNoOrphanDataFiles(t, c, dir)

	// The deletion is recorded once: the next publish drops the rewritten manifest.
	publishDayRows(t, c, `[{"id": 5, "name": "v1", "day": "2024-05-04"}]`, "2024-05-04")
	if n := len(manifestsOf(t, c)); n != 4 {
		t.Errorf("%d manifests after a fourth day, want one per day", n)
	}
}

// TestPartitionEvolutionKeepsHistory: a table published unpartitioned, with a whole-port
// snapshot holding several days in one file, is partitioned in place by the first
// publish naming PartitionBy. Its earlier snapshots read as before; the day's rows
// are replaced and the other days' rows of the old file kept, now in partitioned
// files; and the next days' publishes replace their day by its own files alone.
func TestPartitionEvolutionKeepsHistory(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	c := openTest(t, dir)
	whole := publish(t, c, contacts, baseSchema, `[{"id": 1, "name": "a", "day": "2024-05-01"}, {"id": 2, "name": "b", "day": "2024-05-02"},
		{"id": 3, "name": "c", "day": "2024-05-03"}]`, PublishRequest{Mode: Replace{}})
	daily := publish(t, c, contacts, baseSchema, `[{"id": 4, "name": "d", "day": "2024-05-04"}]`,
		PublishRequest{Mode: ReplacePartition{"day", "2024-05-04"}})
	if got := partitionFields(t, c); got != "" {
		t.Fatalf("partition spec %q before PartitionBy, want none", got)
	}

	publishDayRows(t, c, `[{"id": 2, "name": "b2", "day": "2024-05-02"}]`, "2024-05-02")
	if got := partitionFields(t, c); got != "day:identity(day)" {
		t.Fatalf("partition spec %q after the first publish with PartitionBy, want day:identity(day)", got)
	}
	wantRows(t, rowsOf(t, c, contacts, whole.ID), "1:a:2024-05-01", "2:b:2024-05-02", "3:c:2024-05-03")
	wantRows(t, rowsOf(t, c, contacts, daily.ID), "1:a:2024-05-01", "2:b:2024-05-02", "3:c:2024-05-03", "4:d:2024-05-04")
	wantRows(t, rowsOf(t, c, contacts, 0), "1:a:2024-05-01", "2:b2:2024-05-02", "3:c:2024-05-03", "4:d:2024-05-04")
	// The old file held the day among others: rewritten, its other days now in their
	// own partitions. The unpartitioned file of 2024-05-04 (one day) is left as it is.
	var unpartitioned []string
	for f, day := range filesByDay(t, c) {
		if day == "" {
			unpartitioned = append(unpartitioned, f)
		}
	}
	if len(unpartitioned) != 1 {
		t.Fatalf("unpartitioned files %v, want only 2024-05-04's, written before the evolution", unpartitioned)
	}

	// 2024-05-04's file, of that day alone though unpartitioned, is replaced whole.
	before := filesByDay(t, c)
	publishDayRows(t, c, `[{"id": 4, "name": "d2", "day": "2024-05-04"}]`, "2024-05-04")
	after := filesByDay(t, c)
	for f, day := range before {
		if _, kept := after[f]; kept == (f == unpartitioned[0]) {
			t.Errorf("file %s (%q): kept %v after publishing 2024-05-04", f, day, kept)
		}
	}
	wantRows(t, rowsOf(t, c, contacts, 0), "1:a:2024-05-01", "2:b2:2024-05-02", "3:c:2024-05-03", "4:d2:2024-05-04")
	snaps, _ := c.Snapshots(ctx, contacts)
	assertRowCounts(t, c, snaps)
	assertNoOrphanDataFiles(t, c, dir)
}

// TestScanPrunesPartitions: a reader's filter on the partition column plans the files
// of the days it names and no others.
func TestScanPrunesPartitions(t *testing.T) {
	ctx := context.Background()
	c := openTest(t, t.TempDir())
	for d := 1; d <= 4; d++ {
		day := fmt.Sprintf("2024-05-0%d", d)
		publishDayRows(t, c, fmt.Sprintf(`[{"id": %d, "name": "x", "day": %q}, {"id": %d, "name": "y", "day": %q}]`, d, day, 10+d, day), day)
	}
	tbl, err := c.load(ctx, "test", contacts)
	if err != nil {
		t.Fatal(err)
	}
	for filter, want := range map[iceberg.BooleanExpression][]string{
		iceberg.EqualTo(iceberg.Reference("day"), "2024-05-02"):                                                                  {"2024-05-02"},
		iceberg.GreaterThanEqual(iceberg.Reference("day"), "2024-05-03"):                                                         {"2024-05-03", "2024-05-04"},
		iceberg.NewAnd(iceberg.EqualTo(iceberg.Reference("day"), "2024-05-01"), iceberg.EqualTo(iceberg.Reference("name"), "x")): {"2024-05-01"},
	} {
		tasks, err := tbl.Scan(table.WithRowFilter(filter)).PlanFiles(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, task := range tasks {
			_, rest, _ := strings.Cut(task.File.FilePath(), "/day=")
			day, _, _ := strings.Cut(rest, "/")
			got = append(got, day)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("filter %s planned the files of %v, want %v", filter, got, want)
		}
	}
}

// TestDayPublishRefusesARowOfAnotherDay: the partitioned path checks rows as the
// unpartitioned one does, and leaves no file behind.
func TestDayPublishRefusesARowOfAnotherDay(t *testing.T) {
	dir := t.TempDir()
	c := openTest(t, dir)
	publishDayRows(t, c, `[{"id": 1, "name": "a", "day": "2024-05-01"}]`, "2024-05-01")
	_, err := c.Publish(context.Background(), contacts, reader(t, baseSchema, `[{"id": 2, "name": "b", "day": "2024-05-02"}, {"id": 3, "name": "c", "day": "2024-05-03"}]`),
		PublishRequest{Mode: ReplacePartition{"day", "2024-05-02"}, PartitionBy: "day"})
	if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "outside the partition") {
		t.Fatalf("err = %v, want Invalid naming the row outside the partition", err)
	}
	wantRows(t, rowsOf(t, c, contacts, 0), "1:a:2024-05-01")
	assertNoOrphanDataFiles(t, c, dir)
}

func TestPartitionByMustBeADateColumnOfTheData(t *testing.T) {
	c := openTest(t, t.TempDir())
	for col, want := range map[string]string{"when": `partition column "when" is not in the data`, "name": `partition column "name" is string`} {
		_, err := c.Publish(context.Background(), contacts, reader(t, baseSchema, `[{"id": 1, "name": "a", "day": "2024-05-01"}]`),
			PublishRequest{Mode: Replace{}, PartitionBy: col})
		if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("PartitionBy %q: err = %v, want Invalid saying %q", col, err, want)
		}
	}
}

// TestWholePortAndBranchPublishesOfAPartitionedTable: a whole-port publish and a
// publish to a branch still work on a partitioned table, and lay their files out by
// day.
func TestWholePortAndBranchPublishesOfAPartitionedTable(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	c := openTest(t, dir)
	publish(t, c, contacts, baseSchema, `[{"id": 1, "name": "a", "day": "2024-05-01"}, {"id": 2, "name": "b", "day": "2024-05-02"}]`,
		PublishRequest{Mode: Replace{}, PartitionBy: "day"})
	days := map[string]int{}
	for _, d := range filesByDay(t, c) {
		days[d]++
	}
	if !maps.Equal(days, map[string]int{"2024-05-01": 1, "2024-05-02": 1}) {
		t.Fatalf("files per day %v, want one in each day's partition", days)
	}
	publish(t, c, contacts, baseSchema, `[{"id": 3, "name": "c", "day": "2024-05-02"}]`,
		PublishRequest{Mode: ReplacePartition{"day", "2024-05-02"}, PartitionBy: "day", Branch: "preview"})
	wantRows(t, rowsOf(t, c, contacts, 0), "1:a:2024-05-01", "2:b:2024-05-02")
	b, ok, err := c.Branch(ctx, contacts, "preview")
	if err != nil || !ok {
		t.Fatalf("branch: %v %v", ok, err)
	}
	wantRows(t, rowsOf(t, c, contacts, b.Head.ID), "1:a:2024-05-01", "3:c:2024-05-02")
	assertNoOrphanDataFiles(t, c, dir, "preview")
}

// manifestReads counts the manifests (not manifest lists) opened through a
// countfs:// warehouse: the local filesystem under another scheme.
var manifestReads atomic.Int64

type countingFS struct{ icebergio.LocalFS }

func (countingFS) local(name string) string { return strings.TrimPrefix(name, "countfs://") }

func (f countingFS) Open(name string) (icebergio.File, error) {
	if base := path.Base(name); strings.HasSuffix(base, ".avro") && !strings.HasPrefix(base, "snap-") {
		manifestReads.Add(1)
	}
	return f.LocalFS.Open(f.local(name))
}
func (f countingFS) ReadFile(name string) ([]byte, error) { return f.LocalFS.ReadFile(f.local(name)) }
func (f countingFS) Create(name string) (icebergio.FileWriter, error) {
	return f.LocalFS.Create(f.local(name))
}
func (f countingFS) WriteFile(name string, p []byte) error {
	return f.LocalFS.WriteFile(f.local(name), p)
}
func (f countingFS) Remove(name string) error { return f.LocalFS.Remove(f.local(name)) }

var registerCountingFS sync.Once

// TestDayPublishReadsOnlyItsDaysManifests: publishing a day reads the manifests that
// may hold that day, found from the manifest list's partition summaries — none for a
// new day, its own for a day published before — however many days the table holds.
// iceberg-go's Overwrite would read every manifest of the table.
func TestDayPublishReadsOnlyItsDaysManifests(t *testing.T) {
	registerCountingFS.Do(func() {
		icebergio.Register("countfs", func(context.Context, *url.URL, map[string]string) (icebergio.IO, error) { return countingFS{}, nil })
	})
	dir := t.TempDir()
	c, err := Open(context.Background(), Options{CatalogURI: "sqlite://" + filepath.Join(dir, "catalog.db"), Warehouse: "countfs://" + dir})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const days = 8
	for d := 1; d <= days; d++ {
		day := fmt.Sprintf("2024-05-%02d", d)
		publishDayRows(t, c, fmt.Sprintf(`[{"id": %d, "name": "v1", "day": %q}]`, d, day), day)
	}
	for _, tc := range []struct {
		day  string
		want int64
	}{{"2024-05-03", 1}, {"2024-05-09", 0}, {"2024-05-03", 1}} {
		manifestReads.Store(0)
		publishDayRows(t, c, fmt.Sprintf(`[{"id": 99, "name": "v2", "day": %q}]`, tc.day), tc.day)
		if got := manifestReads.Load(); got != tc.want {
			t.Errorf("publishing %s read %d manifests of a table of %d days, want %d", tc.day, got, days, tc.want)
		}
	}
	rows := rowsOf(t, c, contacts, 0)
	if len(rows) != days+1 || !slices.Contains(rows, "99:v2:2024-05-03") || slices.Contains(rows, "3:v1:2024-05-03") {
		t.Errorf("rows %v: want the %d days with 2024-05-03 replaced and 2024-05-09 added", rows, days)
	}
}
