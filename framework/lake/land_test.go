package lake

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	_ "gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/memblob"

	"github.com/meshflow/meshflow/framework/errs"
)

var fixedNow = func() time.Time { return time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC) }

func openMem(t *testing.T) *Lake {
	t.Helper()
	l, err := Open(context.Background(), "mem://")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func readParquet(t *testing.T, l *Lake, key string) arrow.Table {
	t.Helper()
	b, err := l.Bucket.ReadAll(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	rdr, err := file.NewParquetReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

func TestLandReadsBackWhatTheSourceSent(t *testing.T) {
	ctx := context.Background()
	l := openMem(t)
	ref := StreamRef{Domain: "marketing", Source: "fake", Stream: "contacts"}
	// 2,500 records in pages of 100, rolling files every 1,000 rows: three files.
	res, err := l.Land(ctx, &fakeStream{n: 2500, size: 100}, LandRequest{Stream: ref, RunID: "run-1", SyncStart: fixedNow(), Now: fixedNow, BatchRows: 300, FileRows: 1000})
	if err != nil {
		t.Fatal(err)
	}
	m := res.Manifest
	if m.Rows != 2500 || len(m.Files) != 3 || m.Seq != 1 {
		t.Fatalf("manifest rows=%d files=%d seq=%d, want 2500 rows in 3 files, seq 1", m.Rows, len(m.Files), m.Seq)
	}
	// The cursor lives in the manifest (the landing's end), never in a column repeated
	// on every row.
	var names []string
	for _, f := range readParquet(t, l, m.Files[0].Key).Schema().Fields() {
		names = append(names, f.Name)
	}
	if want := []string{"id", "email", "score", "amount", "active", "updated_at", ColExtractedAt, ColRunID, ColRaw}; !slices.Equal(names, want) {
		t.Fatalf("raw file columns %v, want %v", names, want)
	}
	if m.Rows != 2500 || len(m.Files) != 3 || m.Seq != 1 {
		t.Fatalf("manifest rows=%d files=%d seq=%d, want 2500 rows in 3 files, seq 1", m.Rows, len(m.Files), m.Seq)
	}
	if string(m.CursorEnd) != `{"v":1,"off":2500}` {
		t.Fatalf("cursor end = %s", m.CursorEnd)
	}
	i := 0
	for _, f := range m.Files {
		tbl := readParquet(t, l, f.Key)
		if tbl.NumRows() != f.Rows {
			t.Fatalf("%s has %d rows, manifest says %d", f.Key, tbl.NumRows(), f.Rows)
		}
		rr := array.NewTableReader(tbl, 0)
		for rr.Next() {
			rec := rr.RecordBatch()
			ids := rec.Column(0).(*array.String)
			scores := rec.Column(2).(*array.Int64)
			amounts := rec.Column(3).(*array.Float64)
			updated := rec.Column(5).(*array.Timestamp)
			raw := rec.Column(int(rec.NumCols()) - 1).(*array.String)
			runs := rec.Column(int(rec.NumCols()) - 2).(*array.String)
			for r := 0; r < int(rec.NumRows()); r++ {
				want := fakeRecord(i)
				if raw.Value(r) != string(want) {
					t.Fatalf("row %d raw = %s, want %s", i, raw.Value(r), want)
				}
				var rec struct{ ID string }
				_ = json.Unmarshal(want, &rec)
				if ids.Value(r) != rec.ID || scores.Value(r) != int64(i*3) || amounts.Value(r) != float64(i)+0.5 || runs.Value(r) != "run-1" {
					t.Fatalf("row %d typed values wrong: id=%s score=%d amount=%v", i, ids.Value(r), scores.Value(r), amounts.Value(r))
				}
				wantTS := time.Date(2024, 3, 2, 9, 15, i%60, 120e6, time.UTC).UnixMicro()
				if int64(updated.Value(r)) != wantTS {
					t.Fatalf("row %d updated_at = %d, want %d", i, updated.Value(r), wantTS)
				}
				i++
			}
		}
		rr.Release()
		tbl.Release()
	}
	if i != 2500 {
		t.Fatalf("read back %d rows", i)
	}

	// The cursor is the newest manifest's end, and the next landing continues from it.
	c, err := l.Cursor(ctx, ref)
	if err != nil || string(c) != `{"v":1,"off":2500}` {
		t.Fatalf("cursor = %s, %v", c, err)
	}
	res2, err := l.Land(ctx, &fakeStream{n: 2600, size: 100}, LandRequest{Stream: ref, RunID: "run-2", Cursor: c, SyncStart: fixedNow(), Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	if res2.Manifest.Rows != 100 || res2.Manifest.Seq != 2 {
		t.Fatalf("incremental landing rows=%d seq=%d, want 100 rows, seq 2", res2.Manifest.Rows, res2.Manifest.Seq)
	}
}

func TestLandMalformedRecordCommitsNothing(t *testing.T) {
	ctx := context.Background()
	l := openMem(t)
	ref := StreamRef{Domain: "marketing", Source: "fake", Stream: "contacts"}
	res, err := l.Land(ctx, &fakeStream{n: 500, size: 100, failAt: 250}, LandRequest{Stream: ref, RunID: "run-1", Now: fixedNow})
	if !errs.Is(err, errs.Invalid) {
		t.Fatalf("err = %v, want an Invalid error", err)
	}
	if res.Checkpoint != nil {
		t.Errorf("a malformed record kept a checkpoint %+v; only a quota stop keeps the open file", res.Checkpoint)
	}
	for _, want := range []string{"fake.contacts", "page 3", "record 51", "field score", "not-a-number"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if _, ok, _ := l.LatestManifest(ctx, ref); ok {
		t.Fatal("a failed landing committed a manifest")
	}
	if c, _ := l.Cursor(ctx, ref); c != nil {
		t.Fatalf("cursor advanced to %s after a failed landing", c)
	}
}

func TestLandResumesAfterClosedFiles(t *testing.T) {
	ctx := context.Background()
	l := openMem(t)
	ref := StreamRef{Domain: "marketing", Source: "fake", Stream: "contacts"}
	var last Checkpoint
	_, err := l.Land(ctx, &fakeStream{n: 1000, size: 100, failAt: 750}, LandRequest{Stream: ref, RunID: "run-1", Now: fixedNow, FileRows: 200, Progress: func(c Checkpoint) { last = c }})
	if err == nil {
		t.Fatal("want the first attempt to fail")
	}
	if len(last.Files) != 3 || string(last.Cursor) != `{"v":1,"off":600}` {
		t.Fatalf("checkpoint = %d files at %s, want 3 files at offset 600", len(last.Files), last.Cursor)
	}
	res, err := l.Land(ctx, &fakeStream{n: 1000, size: 100}, LandRequest{Stream: ref, RunID: "run-1", Now: fixedNow, FileRows: 200, Resume: &last})
	if err != nil {
		t.Fatal(err)
	}
	if res.Manifest.Rows != 1000 || len(res.Manifest.Files) != 5 {
		t.Fatalf("resumed landing rows=%d files=%d, want 1000 rows in 5 files", res.Manifest.Rows, len(res.Manifest.Files))
	}
	if res.Stats.Records != 400 {
		t.Fatalf("resumed landing re-read %d records, want only the 400 after the checkpoint", res.Stats.Records)
	}
}
