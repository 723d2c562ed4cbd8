package lake

import (
	"context"
	"fmt"
	"io"
	"slices"
	"testing"

	"gocloud.dev/blob"
)

// TestManifestsReadEachManifestOnce: a stream's manifests are read from the bucket
// once per Lake (a reader that lists them again gets what it read before), new ones
// are read as they appear, and one deleted from the bucket is gone from the list.
func TestManifestsReadEachManifestOnce(t *testing.T) {
	ctx := context.Background()
	l := openMem(t)
	ref := StreamRef{Domain: "marketing", Source: "googleanalytics", Stream: "daily_report"}
	var keys []string
	for i := 1; i <= 3; i++ {
		m := Manifest{V: 1, Stream: ref, RunID: fmt.Sprintf("run-%d", i), Partition: fmt.Sprintf("2026-01-0%d", i), Rows: int64(i)}
		key, err := l.commit(ctx, &m)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, key)
	}
	first, err := l.Manifests(ctx, ref)
	if err != nil || len(first) != 3 {
		t.Fatalf("manifests %d, err %v; want 3", len(first), err)
	}
	// Bytes that are no manifest at all under the first key: a second read would fail.
	if err := l.Bucket.WriteAll(ctx, keys[0], []byte("not json"), nil); err != nil {
		t.Fatal(err)
	}
	again, err := l.Manifests(ctx, ref)
	if err != nil || len(again) != 3 || again[0].RunID != "run-1" {
		t.Fatalf("manifests listed again: %d, err %v; want the 3 read before, from the cache", len(again), err)
	}
	m := Manifest{V: 1, Stream: ref, RunID: "run-4", Partition: "2026-01-04", Rows: 4}
	if _, err := l.commit(ctx, &m); err != nil {
		t.Fatal(err)
	}
	if err := l.Bucket.Delete(ctx, keys[1]); err != nil {
		t.Fatal(err)
	}
	now, err := l.Manifests(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	var runs []string
	for _, m := range now {
		runs = append(runs, m.RunID)
	}
	if fmt.Sprint(runs) != "[run-1 run-3 run-4]" {
		t.Fatalf("manifests %v after a commit and a delete, want [run-1 run-3 run-4]", runs)
	}
}

// TestLocalListIsFileblobs: a file:// lake lists from its directories by name, and
// gets the keys fileblob's listing gives (less temp files), sorted, for a prefix that
// ends in a directory, one that ends inside a name, and one that matches nothing.
func TestLocalListIsFileblobs(t *testing.T) {
	ctx := context.Background()
	l, err := Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, k := range []string{
		"raw/d/s/t/_manifests/00000002-r2.json", "raw/d/s/t/_manifests/00000001-r1.json", "raw/d/s/t/_manifests/00000001.claim",
		"raw/d/s/t/run=r1/part-00000.parquet", "raw/d/s/tt/_manifests/00000001-x.json", "runs/d/p/1-a.json", "runs/d/p2/1-b.json",
	} {
		if err := l.Bucket.WriteAll(ctx, k, []byte("{}"), nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, prefix := range []string{"raw/d/s/t/_manifests/", "raw/d/s/t", "runs/d/p/", "runs/", "raw/none/", ""} {
		got, ok := l.listLocal(prefix)
		if !ok {
			t.Fatalf("%q: the local listing gave up", prefix)
		}
		var want []string
		it := l.Bucket.List(&blob.ListOptions{Prefix: prefix})
		for {
			obj, err := it.Next(ctx)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if !obj.IsDir {
				want = append(want, obj.Key)
			}
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("prefix %q: listed %v, fileblob lists %v", prefix, got, want)
		}
	}
}
