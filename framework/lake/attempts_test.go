package lake

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/source"
)

// TestAttemptsOfOneLandingWriteDistinctFiles: attempt 2 of a landing resumes from an
// older checkpoint of attempt 1 (its heartbeats reached the server late) while
// attempt 1 keeps writing until its next heartbeat is refused. Both write files of
// the same numbers after the checkpoint; whichever closes last must not replace the
// other's, so attempt 2's manifest reads back every record once. Attempt 1's late
// files close after attempt 2 committed, and hold other pages (their boundaries,
// which fall by time in a real landing, differ).
func TestAttemptsOfOneLandingWriteDistinctFiles(t *testing.T) {
	ctx := context.Background()
	l := openMem(t)
	ref := StreamRef{Domain: "marketing", Source: "fake", Stream: "contacts"}
	var older Checkpoint
	_, err := l.Land(ctx, &fakeStream{n: 1000, size: 100, failAt: 750}, LandRequest{Stream: ref, RunID: "run-1", Attempt: "7-1", Now: fixedNow, FileRows: 200,
		Progress: func(cp Checkpoint) {
			if len(cp.Files) == 1 && older.Files == nil {
				older = cp
			}
		}})
	if err == nil || len(older.Files) != 1 {
		t.Fatalf("attempt 1: %v, checkpoint %+v; want it to fail after a checkpoint of one file", err, older)
	}

	second, err := l.Land(ctx, &fakeStream{n: 1000, size: 100}, LandRequest{Stream: ref, RunID: "run-1", Attempt: "7-2", Now: fixedNow, FileRows: 200, Resume: &older})
	if err != nil {
		t.Fatal(err)
	}
	// Attempt 1, still running, goes on from the same checkpoint and closes its files.
	_, err = l.Land(ctx, &fakeStream{n: 1000, size: 100, failAt: 950}, LandRequest{Stream: ref, RunID: "run-1", Attempt: "7-1", Now: fixedNow, FileRows: 100, Resume: &older})
	if err == nil {
		t.Fatal("the late attempt 1 committed")
	}

	m := second.Manifest
	for _, f := range m.Files {
		tbl := readParquet(t, l, f.Key)
		if tbl.NumRows() != f.Rows {
			t.Errorf("%s holds %d rows, the manifest says %d: another attempt replaced it", f.Key, tbl.NumRows(), f.Rows)
		}
		tbl.Release()
	}
	checkEachOnce(t, landedIDs(t, l, m), 1000)
	if k := m.Files[len(m.Files)-1].Key; !strings.HasSuffix(k, "/run=run-1/part-00004-a7-2.parquet") {
		t.Errorf("attempt 2's last file is %s, want its number and attempt in the key", k)
	}
}

// TestFileKeysWithoutAnAttempt: a landing that names no attempt (one run, one
// attempt: meshbench) keeps the keys landings had before attempts were named.
func TestFileKeysWithoutAnAttempt(t *testing.T) {
	req := LandRequest{Stream: StreamRef{Domain: "d", Source: "s", Stream: "x"}, RunID: "d.p/current/r1"}
	if got, want := fileKey(req, 3), "raw/d/s/x/run=d.p_current_r1/part-00003.parquet"; got != want {
		t.Errorf("fileKey = %s, want %s", got, want)
	}
}

// TestCommittedByFindsTheRunsManifest: a retried Land finds the manifest its own run
// committed for its partition, and only that one; it reads no other run's manifest
// (one that is not a v1 manifest does not stop it), and a run whose id merely ends
// like another's is not mistaken for it.
func TestCommittedByFindsTheRunsManifest(t *testing.T) {
	ctx := context.Background()
	l := openMem(t)
	ref := StreamRef{Domain: "marketing", Source: "fake", Stream: "contacts"}
	if _, _, ok, err := l.CommittedBy(ctx, ref, "run-1", "2026-05-01"); ok || err != nil {
		t.Fatalf("before any landing: %v %v", ok, err)
	}
	commit := func(runID, partition string, rows int64) string {
		t.Helper()
		key, err := l.commit(ctx, &Manifest{V: 1, Stream: ref, RunID: runID, Partition: partition, Rows: rows})
		if err != nil {
			t.Fatal(err)
		}
		return key
	}
	commit("x-run-1", "2026-05-01", 1)
	mine := commit("run-1", "2026-05-01", 2)
	commit("run-1", "2026-05-02", 3)
	commit("run-2", "2026-05-01", 4)
	if err := l.Bucket.WriteAll(ctx, manifestKey(ref, 9, "run-3"), []byte(`{"v":2}`), nil); err != nil {
		t.Fatal(err)
	}

	key, m, ok, err := l.CommittedBy(ctx, ref, "run-1", "2026-05-01")
	if err != nil || !ok || key != mine || m.Rows != 2 || m.RunID != "run-1" {
		t.Fatalf("CommittedBy(run-1) = %s %+v %v %v, want %s", key, m, ok, err, mine)
	}
	for _, tc := range [][2]string{{"run-1", ""}, {"run-1", "2026-05-03"}, {"run-9", "2026-05-01"}, {"un-1", "2026-05-01"}} {
		if key, _, ok, err := l.CommittedBy(ctx, ref, tc[0], tc[1]); ok || err != nil {
			t.Errorf("CommittedBy(%s, %q) = %s, %v; want none", tc[0], tc[1], key, err)
		}
	}
	if _, _, _, err := l.CommittedBy(ctx, ref, "run-3", ""); !errs.Is(err, errs.Invalid) {
		t.Errorf("CommittedBy of a run whose manifest is not v1: %v, want Invalid", err)
	}
}

// bigCursorStream is a fakeStream whose cursors are as large as a connector's can be
// (a GA4 report cursor holding its dimension filters, a Pendo cursor of many ids).
type bigCursorStream struct {
	fakeStream
	pad string
}

func (s *bigCursorStream) NextPage(ctx context.Context, req source.PageRequest) (source.Page, error) {
	p, err := s.fakeStream.NextPage(ctx, req)
	if err == nil {
		p.Next = json.RawMessage(strings.TrimSuffix(string(p.Next), "}") + `,"pad":"` + s.pad + `"}`)
	}
	return p, err
}

// TestCheckpointSizeDoesNotGrowWithCursors: heartbeats and a quota stop's LandInput
// (in the workflow's history) carry the checkpoint, and Temporal refuses payloads over
// 2 MB. After many files with 8 KB cursors the checkpoint holds one cursor and a small
// entry per file, not a cursor per file; so does the manifest (twice: start and end).
func TestCheckpointSizeDoesNotGrowWithCursors(t *testing.T) {
	const files, cursorSize, perFile = 60, 8 << 10, 160
	l := openMem(t)
	ref := StreamRef{Domain: "marketing", Source: "fake", Stream: "contacts"}
	st := &bigCursorStream{fakeStream: fakeStream{n: files * 100, size: 100}, pad: strings.Repeat("x", cursorSize)}
	var largest, lastFiles int
	res, err := l.Land(context.Background(), st, LandRequest{Stream: ref, RunID: "marketing.crm_contacts/current/019a6b2c", Attempt: "12-3", Now: fixedNow, FileRows: 100,
		Progress: func(cp Checkpoint) {
			b, _ := json.Marshal(cp)
			largest, lastFiles = max(largest, len(b)), len(cp.Files)
		}})
	if err != nil {
		t.Fatal(err)
	}
	if lastFiles != files {
		t.Fatalf("the last checkpoint holds %d files, want %d", lastFiles, files)
	}
	if bound := cursorSize + 256 + files*perFile; largest > bound {
		t.Errorf("a checkpoint of %d files with %d-byte cursors is %d bytes, want at most %d (one cursor and %d bytes a file)", files, cursorSize, largest, bound, perFile)
	}
	b, _ := json.Marshal(res.Manifest)
	if bound := 2*cursorSize + 4<<10 + files*perFile; len(b) > bound {
		t.Errorf("the manifest of %d files is %d bytes, want at most %d", files, len(b), bound)
	}
}
