package lake

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// TestConcurrentCommitsTakeDistinctSeqs: landings of one stream committing at the same
// moment each get a sequence number of their own, on a file:// and a mem:// bucket, so
// "the newest manifest holds the cursor" names one manifest. The file:// lake is opened
// twice, as two workers on one machine would.
func TestConcurrentCommitsTakeDistinctSeqs(t *testing.T) {
	for name, open := range map[string]func(t *testing.T) [2]*Lake{
		"mem": func(t *testing.T) [2]*Lake { l := openMem(t); return [2]*Lake{l, l} },
		"file": func(t *testing.T) [2]*Lake {
			dir := t.TempDir()
			return [2]*Lake{openDir(t, dir), openDir(t, dir)}
		},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			lakes := open(t)
			l := lakes[0]
			ref := StreamRef{Domain: "marketing", Source: "hubspot", Stream: "contacts"}
			const landings = 24
			start := make(chan struct{})
			var wg sync.WaitGroup
			errc := make(chan error, landings)
			for i := range landings {
				wg.Add(1)
				go func() {
					defer wg.Done()
					m := Manifest{V: 1, Stream: ref, RunID: fmt.Sprintf("run-%02d", i)}
					<-start
					if _, err := lakes[i%2].commit(ctx, &m); err != nil {
						errc <- err
					}
				}()
			}
			close(start)
			wg.Wait()
			close(errc)
			for err := range errc {
				t.Fatal(err)
			}
			all, err := l.Manifests(ctx, ref)
			if err != nil {
				t.Fatal(err)
			}
			seqs := map[int]string{}
			for _, m := range all {
				if other, dup := seqs[m.Seq]; dup {
					t.Errorf("runs %s and %s both committed seq %d", other, m.RunID, m.Seq)
				}
				seqs[m.Seq] = m.RunID
			}
			if len(all) != landings {
				t.Errorf("%d manifests, want %d", len(all), landings)
			}
		})
	}
}

func openDir(t *testing.T, dir string) *Lake {
	t.Helper()
	l, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// TestCommitAfterOldManifests: a lake whose manifests were written before claims
// existed (no claim files) gets the next number after its newest manifest, and reads
// back old and new manifests in order.
func TestCommitAfterOldManifests(t *testing.T) {
	ctx := context.Background()
	l := openMem(t)
	ref := StreamRef{Domain: "marketing", Source: "hubspot", Stream: "contacts"}
	for seq := 1; seq <= 2; seq++ {
		old := Manifest{V: 1, Stream: ref, Seq: seq, RunID: fmt.Sprintf("old-%d", seq), CursorEnd: []byte(fmt.Sprintf(`{"n":%d}`, seq))}
		if err := l.PutJSON(ctx, manifestKey(ref, seq, old.RunID), old); err != nil {
			t.Fatal(err)
		}
	}
	m := Manifest{V: 1, Stream: ref, RunID: "new", CursorEnd: []byte(`{"n":3}`)}
	key, err := l.commit(ctx, &m)
	if err != nil {
		t.Fatal(err)
	}
	if m.Seq != 3 || !strings.HasSuffix(key, "00000003-new.json") {
		t.Fatalf("committed seq %d at %s, want 3", m.Seq, key)
	}
	all, err := l.Manifests(ctx, ref)
	if err != nil || len(all) != 3 || all[2].RunID != "new" {
		t.Fatalf("manifests %+v, %v", all, err)
	}
	if c, err := l.Cursor(ctx, ref); err != nil || string(c) != `{"n":3}` {
		t.Fatalf("cursor %s, %v", c, err)
	}
}
