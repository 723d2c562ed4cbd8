package lake

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/source"
)

// ackStream is a fakeStream whose spec is described when the landing starts and
// which records when it is told a landing is committed, and what the lake held then.
type ackStream struct {
	fakeStream
	lake        *Lake
	ref         StreamRef
	describedAt json.RawMessage
	committed   []json.RawMessage
	manifestAt  []bool // whether the manifest was in the lake when Committed came
	fail        error  // Committed's answer
}

func (a *ackStream) Describe(_ context.Context, cursor json.RawMessage) (source.StreamSpec, error) {
	a.describedAt = cursor
	sp := a.Spec()
	sp.Fields = append(slices.Clip(sp.Fields), source.Field{Name: "deleted", Type: source.Bool, Path: []string{"deleted"}})
	sp.Deleted = "deleted"
	return sp, nil
}

func (a *ackStream) Committed(ctx context.Context, cursor json.RawMessage) error {
	a.committed = append(a.committed, cursor)
	_, ok, _ := a.lake.LatestManifest(ctx, a.ref)
	a.manifestAt = append(a.manifestAt, ok)
	return a.fail
}

// TestLandAcknowledgesOnlyAfterTheManifest: a stream that keeps its own position (a
// replication slot) hears the landing's end cursor once the manifest is written,
// never before and never for a failed landing; its described spec (the Deleted flag
// included) is the manifest's; a failed acknowledgement leaves the landing committed
// and says so in the result's warnings.
func TestLandAcknowledgesOnlyAfterTheManifest(t *testing.T) {
	ctx := context.Background()
	l := openMem(t)
	ref := StreamRef{Domain: "platform", Source: "fake", Stream: "contacts"}

	bad := &ackStream{fakeStream: fakeStream{n: 300, size: 100, failAt: 150}, lake: l, ref: ref}
	if _, err := l.Land(ctx, bad, LandRequest{Stream: ref, RunID: "run-0", Now: fixedNow}); err == nil {
		t.Fatal("a malformed page landed")
	}
	if len(bad.committed) != 0 {
		t.Fatalf("a failed landing acknowledged %s", bad.committed)
	}

	st := &ackStream{fakeStream: fakeStream{n: 300, size: 100}, lake: l, ref: ref}
	res, err := l.Land(ctx, st, LandRequest{Stream: ref, RunID: "run-1", Now: fixedNow, Cursor: json.RawMessage(`{"v":1,"off":0}`)})
	if err != nil {
		t.Fatal(err)
	}
	if string(st.describedAt) != `{"v":1,"off":0}` {
		t.Errorf("described at %s, want the landing's start cursor", st.describedAt)
	}
	if len(st.committed) != 1 || string(st.committed[0]) != string(res.Manifest.CursorEnd) || !st.manifestAt[0] {
		t.Fatalf("committed %s (manifest there: %v), want once with %s after the manifest", st.committed, st.manifestAt, res.Manifest.CursorEnd)
	}
	if res.Manifest.Deleted != "deleted" || res.Manifest.Fields[len(res.Manifest.Fields)-1].Name != "deleted" {
		t.Errorf("manifest deleted=%q fields=%v, want the described spec", res.Manifest.Deleted, res.Manifest.Fields)
	}

	st.fail = errs.E(errs.Transient, "advance slot", errors.New("connection reset"))
	res, err = l.Land(ctx, st, LandRequest{Stream: ref, RunID: "run-2", Now: fixedNow})
	if err != nil {
		t.Fatalf("a failed acknowledgement failed the committed landing: %v", err)
	}
	if len(res.Manifest.Warnings) != 1 || !strings.Contains(res.Manifest.Warnings[0], "connection reset") {
		t.Fatalf("warnings %q, want the failed acknowledgement", res.Manifest.Warnings)
	}
}
