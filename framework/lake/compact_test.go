package lake_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	_ "gocloud.dev/blob/fileblob"

	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/source"
	"github.com/meshflow/meshflow/framework/transform"
)

// things is a stream whose one page is the records given, its cursor the landing's number.
type things struct {
	n       int
	records []string
}

var thingFields = []source.Field{
	{Name: "id", Type: source.String, Path: []string{"id"}, Doc: "id"},
	{Name: "name", Type: source.String, Path: []string{"name"}, Doc: "name"},
	{Name: "deleted", Type: source.Bool, Path: []string{"deleted"}, Doc: "tombstone"},
	{Name: "updated_at", Type: source.Timestamp, Path: []string{"updatedAt"}, Doc: "updated"},
}

func (s things) Spec() source.StreamSpec {
	return source.StreamSpec{Name: "things", Fields: thingFields, PrimaryKey: []string{"id"}, CursorField: "updated_at", Deleted: "deleted"}
}

func (s things) NextPage(context.Context, source.PageRequest) (source.Page, error) {
	p := source.Page{Next: json.RawMessage(fmt.Sprintf(`{"v":1,"landing":%d}`, s.n)), Done: true}
	for _, r := range s.records {
		p.Records = append(p.Records, json.RawMessage(r))
	}
	return p, nil
}

func thing(id, name string, minute int, deleted bool) string {
	return fmt.Sprintf(`{"id":%q,"name":%q,"deleted":%t,"updatedAt":"2026-03-01T10:%02d:00Z"}`, id, name, deleted, minute)
}

var ref = lake.StreamRef{Domain: "shop", Source: "src", Stream: "things"}

// land commits landing n of things: a new thing, and every third landing an update
// of an older one, every fifth a deletion.
func land(t *testing.T, l *lake.Lake, n int) {
	t.Helper()
	recs := []string{thing(fmt.Sprint(n), fmt.Sprintf("thing %d", n), n, false)}
	if n%3 == 0 {
		recs = append(recs, thing(fmt.Sprint(n-2), fmt.Sprintf("thing %d renamed", n-2), n, false))
	}
	if n%5 == 0 {
		recs = append(recs, thing(fmt.Sprint(n-4), "", n, true))
	}
	if _, err := l.Land(context.Background(), things{n, recs}, lake.LandRequest{Stream: ref, RunID: fmt.Sprintf("run-%02d", n), SyncStart: time.Now()}); err != nil {
		t.Fatal(err)
	}
}

// rowSets are the row-set hashes of the stream's two views as a model reads them
// (transform's <source>.<stream>_history and <source>.<stream>), over the landings
// Manifests gives, as a run's raw input is read.
func rowSets(t *testing.T, l *lake.Lake) (history, current string) {
	t.Helper()
	ctx := context.Background()
	ms, err := l.Manifests(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, m := range ms {
		for _, f := range m.Files {
			keys = append(keys, f.Key)
		}
	}
	files, err := l.LocalFiles(ctx, keys, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	last := ms[len(ms)-1]
	raw := transform.RawInput{Source: "src", Stream: "things", Files: files, PrimaryKey: last.PrimaryKey, CursorField: last.CursorField, Deleted: last.Deleted, Fields: last.Fields}
	schema := []mesh.Column{{Name: "id", Type: mesh.String}, {Name: "name", Type: mesh.String}, {Name: "deleted", Type: mesh.Bool}, {Name: "updated_at", Type: mesh.Timestamp},
		{Name: lake.ColExtractedAt, Type: mesh.Timestamp}, {Name: lake.ColRunID, Type: mesh.String}, {Name: lake.ColRaw, Type: mesh.String}}
	hash := func(view string) string {
		p := mesh.Product{Name: "p", Model: "SELECT id, name, deleted, updated_at, _extracted_at, _run_id, _raw FROM src." + view, Schema: schema, PrimaryKey: []string{"id"}}
		res, err := transform.Run(ctx, transform.Request{Product: p, Raw: []transform.RawInput{raw}, Output: filepath.Join(t.TempDir(), "out.parquet"), TempDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		return res.RowsHash
	}
	return hash("things_history"), hash("things")
}

func seqs(t *testing.T, l *lake.Lake) []int {
	t.Helper()
	ms, err := l.Manifests(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, m := range ms {
		out = append(out, m.Seq)
	}
	return out
}

func cursor(t *testing.T, l *lake.Lake) string {
	t.Helper()
	c, err := l.Cursor(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	return string(c)
}

func exists(t *testing.T, l *lake.Lake, key string) bool {
	t.Helper()
	ok, err := l.Bucket.Exists(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// dirLake opens a lake in a directory of the test's, closed when it ends.
func dirLake(t *testing.T) (*lake.Lake, string) {
	t.Helper()
	dir := t.TempDir()
	l, err := lake.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, dir
}

// Compacting a stream's small landings into one that supersedes them leaves what
// readers see exactly as it was (the row sets of both raw views, the cursor), leaves
// the newest landing alone, and expiring the superseded landings past the retention
// keeps the ones a product still needs, and the compaction that supersedes them.
func TestCompactStreamReadsTheSameRecords(t *testing.T) {
	ctx := context.Background()
	l, dir := dirLake(t)
	for n := 1; n <= 8; n++ {
		land(t, l, n)
	}
	history, current := rowSets(t, l)
	before, err := l.Manifests(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	cur := cursor(t, l)

	plan, err := l.CompactStream(ctx, ref, lake.CompactOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Groups) != 1 || !slices.Equal(plan.Groups[0].Supersedes, []int{1, 2, 3, 4, 5, 6, 7}) || plan.Groups[0].Seq != 0 || plan.Landings != 8 {
		t.Fatalf("dry run plan = %+v, want landings 1-7 in one (the newest, 8, holds the cursor)", plan)
	}
	if got := seqs(t, l); !slices.Equal(got, []int{1, 2, 3, 4, 5, 6, 7, 8}) {
		t.Fatalf("a dry run changed the landings: %v", got)
	}

	res, err := l.CompactStream(ctx, ref, lake.CompactOptions{RunID: "maintain-1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Groups) != 1 || res.Groups[0].Seq != 9 || res.Groups[0].Rows != plan.Groups[0].Rows || len(res.Skipped) > 0 {
		t.Fatalf("compaction = %+v", res)
	}
	if got := seqs(t, l); !slices.Equal(got, []int{9, 8}) {
		t.Fatalf("landings read after compaction = %v, want the compaction (9) where 1-7 were, then 8", got)
	}
	if h, c := rowSets(t, l); h != history || c != current {
		t.Fatalf("row sets after compaction: history %s → %s, current %s → %s", history, h, current, c)
	}
	if got := cursor(t, l); got != cur {
		t.Fatalf("the cursor moved with the compaction: %s → %s", cur, got)
	}

	// Landings go on after it: the newest is still the cursor, and read.
	for n := 10; n <= 15; n++ {
		land(t, l, n)
	}
	history, current = rowSets(t, l)
	if got := cursor(t, l); got != `{"v":1,"landing":15}` {
		t.Fatalf("cursor after landing 15 = %s", got)
	}

	// Superseded landings stay within the retention (a reader may have listed them).
	exp, err := l.ExpireSuperseded(ctx, ref, lake.ExpireRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(exp.Landings) != 0 || exp.Waiting != 7 {
		t.Fatalf("expiry within the retention = %+v", exp)
	}

	// A second compaction takes the first one's landing too; then, past the retention,
	// landing 3 stays for a product, and with it the compaction that superseded it
	// (without which 3 would be read again beside its copy).
	res, err = l.CompactStream(ctx, ref, lake.CompactOptions{RunID: "maintain-2"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Groups) != 1 || !slices.Equal(res.Groups[0].Supersedes, []int{9, 8, 10, 11, 12, 13, 14}) {
		t.Fatalf("second compaction = %+v", res)
	}
	if h, c := rowSets(t, l); h != history || c != current {
		t.Fatalf("row sets after the second compaction: history %s → %s, current %s → %s", history, h, current, c)
	}
	keep := map[int]string{3: "shop.p_v1 snapshot 42 read it"}
	later := time.Now().Add(8 * 24 * time.Hour)
	dry, err := l.ExpireSuperseded(ctx, ref, lake.ExpireRequest{Keep: keep, Now: later, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	exp, err = l.ExpireSuperseded(ctx, ref, lake.ExpireRequest{Keep: keep, Now: later})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{1, 2, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14}; !slices.Equal(exp.Landings, want) || !slices.Equal(dry.Landings, want) || exp.Files != 12 || dry.Files != 12 {
		t.Fatalf("expired %+v (dry run %+v), want landings %v", exp, dry, want)
	}
	if len(exp.Kept) != 2 || exp.Kept[0] != (lake.KeptLanding{Seq: 3, Why: keep[3]}) || exp.Kept[1].Seq != 9 {
		t.Fatalf("kept = %+v, want 3 for the product and 9 for 3", exp.Kept)
	}
	if h, c := rowSets(t, l); h != history || c != current {
		t.Fatalf("row sets after expiry: history %s → %s, current %s → %s", history, h, current, c)
	}
	for _, m := range before {
		if want := m.Seq == 3; exists(t, l, m.Files[0].Key) != want {
			t.Errorf("landing %d's file exists: %v, want %v", m.Seq, !want, want)
		}
	}
	if got := cursor(t, l); got != `{"v":1,"landing":15}` {
		t.Fatalf("cursor after expiry = %s", got)
	}
	entries, err := os.ReadDir(filepath.Join(dir, filepath.FromSlash(ref.Prefix()), "_manifests"))
	if err != nil {
		t.Fatal(err)
	}
	var jsons int
	for _, e := range entries {
		if filepath.Ext(e.Name()) == ".json" {
			jsons++
		}
	}
	if jsons != 4 { // 3 (kept), 9 (its compaction), 15 (the cursor), 16 (the second compaction)
		t.Errorf("%d manifests left, want 4", jsons)
	}
}

// A file under a stream's run= folders that no manifest lists — an attempt that wrote
// it and never committed — is deleted by the expiry once older than the orphan age,
// never before (a landing in flight has not committed its files yet), and never a file
// a manifest lists, however old.
func TestExpireDeletesOldOrphanFilesOnly(t *testing.T) {
	ctx := context.Background()
	l, dir := dirLake(t)
	land(t, l, 1)
	ms, err := l.Manifests(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	committed := ms[0].Files[0].Key
	orphan := ref.Prefix() + "/run=killed/part-00000-a1-1.parquet"
	young := ref.Prefix() + "/run=in-flight/part-00000-a1-1.parquet"
	now := time.Now()
	for key, age := range map[string]time.Duration{orphan: lake.RawOrphanAge + time.Hour, young: time.Hour, committed: 10 * lake.RawOrphanAge} {
		p := filepath.Join(dir, filepath.FromSlash(key))
		if key != committed {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte("half a parquet file"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chtimes(p, now.Add(-age), now.Add(-age)); err != nil {
			t.Fatal(err)
		}
	}

	dry, err := l.ExpireSuperseded(ctx, ref, lake.ExpireRequest{Now: now, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if dry.Orphans != 1 || dry.OrphanBytes != int64(len("half a parquet file")) || !exists(t, l, orphan) {
		t.Fatalf("dry run: %d orphans (%d bytes), orphan still there: %v; want the one old orphan, left in place", dry.Orphans, dry.OrphanBytes, exists(t, l, orphan))
	}
	res, err := l.ExpireSuperseded(ctx, ref, lake.ExpireRequest{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if res.Orphans != 1 || exists(t, l, orphan) {
		t.Errorf("expiry deleted %d orphans; the old orphan is still there: %v", res.Orphans, exists(t, l, orphan))
	}
	if !exists(t, l, young) || !exists(t, l, committed) {
		t.Errorf("after expiry: the young orphan is there: %v, the committed file: %v; want both", exists(t, l, young), exists(t, l, committed))
	}
	if got := seqs(t, l); !slices.Equal(got, []int{1}) {
		t.Errorf("landings after expiry = %v, want [1]", got)
	}
}
