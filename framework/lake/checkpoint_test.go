package lake

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/source"
)

// stepClock is a clock that moves only when a page is fetched.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *stepClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// scriptedStream is a fakeStream whose every fetch takes perPage on clock, and whose
// fetch number failAt (1-based) fails once with failWith, or reports a wait first.
type scriptedStream struct {
	fakeStream
	clock    *stepClock
	perPage  time.Duration
	fetches  int
	failAt   int
	failWith error
	waitAt   int
}

func (s *scriptedStream) NextPage(ctx context.Context, req source.PageRequest) (source.Page, error) {
	s.fetches++
	if s.clock != nil {
		s.clock.add(s.perPage)
	}
	if s.fetches == s.waitAt {
		source.ReportWait(ctx, "the fake API's rate limit", fixedNow().Add(time.Minute))
	}
	if s.fetches == s.failAt {
		return source.Page{}, s.failWith
	}
	return s.fakeStream.NextPage(ctx, req)
}

// landedIDs reads back every row of the manifest's files and counts each id.
func landedIDs(t *testing.T, l *Lake, m Manifest) map[string]int {
	t.Helper()
	ids := map[string]int{}
	for _, f := range m.Files {
		tbl := readParquet(t, l, f.Key)
		rr := array.NewTableReader(tbl, 0)
		for rr.Next() {
			col := rr.RecordBatch().Column(0).(*array.String)
			for i := range col.Len() {
				ids[col.Value(i)]++
			}
		}
		rr.Release()
		tbl.Release()
	}
	return ids
}

func checkEachOnce(t *testing.T, ids map[string]int, n int) {
	t.Helper()
	if len(ids) != n {
		t.Errorf("%d distinct records landed, want %d", len(ids), n)
	}
	for id, c := range ids {
		if c != 1 {
			t.Errorf("record %s landed %d times", id, c)
		}
	}
}

// TestLandCheckpointsByTime: a long landing whose files would roll only every 500k
// rows still advances its durable checkpoint every CheckpointEvery, so an attempt
// interrupted mid-way (a heartbeat timeout cancels it) resumes from its last Progress
// checkpoint: every record lands once, and only the pages read since that checkpoint
// are read again.
func TestLandCheckpointsByTime(t *testing.T) {
	const pages, perPage, every = 10, time.Minute, 3 * time.Minute
	l := openMem(t)
	ref := StreamRef{Domain: "marketing", Source: "fake", Stream: "contacts"}
	clock := &stepClock{t: fixedNow()}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var last Checkpoint
	st := &scriptedStream{fakeStream: fakeStream{n: pages * 100, size: 100}, clock: clock, perPage: perPage}
	_, err := l.Land(ctx, st, LandRequest{Stream: ref, RunID: "run-1", Now: clock.Now, CheckpointEvery: every,
		Progress: func(cp Checkpoint) {
			last = cp
			if cp.Pages == 7 {
				cancel() // the attempt is lost after its 7th page
			}
		}})
	if !errs.Is(err, errs.Canceled) {
		t.Fatalf("interrupted landing: %v, want canceled", err)
	}
	if len(last.Files) == 0 {
		t.Fatalf("after 7 pages of a minute each the checkpoint holds no file: a retry would start from page 1")
	}
	var durable int64
	for _, f := range last.Files {
		durable += f.Rows
	}
	reread := last.Pages - int(durable/100)
	if reread > int(every/perPage) {
		t.Errorf("%d pages read since the last checkpoint, want at most %d (CheckpointEvery)", reread, every/perPage)
	}

	resumed := &scriptedStream{fakeStream: fakeStream{n: pages * 100, size: 100}, clock: clock, perPage: perPage}
	res, err := l.Land(context.Background(), resumed, LandRequest{Stream: ref, RunID: "run-1", Now: clock.Now, CheckpointEvery: every, Resume: &last})
	if err != nil {
		t.Fatal(err)
	}
	if want := pages*100 - int(durable); res.Stats.Records != want {
		t.Errorf("the resumed attempt read %d records, want the %d after its checkpoint", res.Stats.Records, want)
	}
	checkEachOnce(t, landedIDs(t, l, res.Manifest), pages*100)
}

// TestLandQuotaStopKeepsWhatLanded: a read stopped by an exhausted quota closes the
// open file at the last complete page and hands back the checkpoint with the error;
// resuming from it after the reset reads only the rest.
func TestLandQuotaStopKeepsWhatLanded(t *testing.T) {
	l := openMem(t)
	ref := StreamRef{Domain: "marketing", Source: "fake", Stream: "web_traffic"}
	reset := fixedNow().Add(8 * time.Hour)
	quota := errs.Errorf(errs.Quota, "fake: report", "tokensPerDay exhausted")
	quota.Until = reset
	st := &scriptedStream{fakeStream: fakeStream{n: 1000, size: 100}, failAt: 4, failWith: quota}
	res, err := l.Land(context.Background(), st, LandRequest{Stream: ref, RunID: "run-1", Now: fixedNow})
	e, ok := errs.As(err)
	if !ok || e.Kind != errs.Quota || !e.Until.Equal(reset) {
		t.Fatalf("err = %v, want the quota error with its reset time", err)
	}
	cp := res.Checkpoint
	if cp == nil || len(cp.Files) != 1 || cp.Files[0].Rows != 300 || string(cp.Cursor) != `{"v":1,"off":300}` {
		t.Fatalf("checkpoint = %+v, want the 3 complete pages in one closed file", cp)
	}
	if _, ok, _ := l.LatestManifest(context.Background(), ref); ok {
		t.Fatal("a landing stopped by its quota committed a manifest")
	}

	res, err = l.Land(context.Background(), &fakeStream{n: 1000, size: 100}, LandRequest{Stream: ref, RunID: "run-1", Now: fixedNow, Resume: cp})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stats.Records != 700 || res.Checkpoint != nil {
		t.Errorf("after the reset: read %d records (want the 700 left), checkpoint %v", res.Stats.Records, res.Checkpoint)
	}
	checkEachOnce(t, landedIDs(t, l, res.Manifest), 1000)
}

// TestLandReportsWaits: a wait the read reports shows in a checkpoint reported at
// once, the caller's own OnWait hears it too, and the next page clears it.
func TestLandReportsWaits(t *testing.T) {
	l := openMem(t)
	ref := StreamRef{Domain: "marketing", Source: "fake", Stream: "contacts"}
	var got []Checkpoint
	var heard []source.Wait
	st := &scriptedStream{fakeStream: fakeStream{n: 500, size: 100}, waitAt: 3}
	_, err := l.Land(context.Background(), st, LandRequest{Stream: ref, RunID: "run-1", Now: fixedNow,
		Reader:   &source.ReaderOptions{OnWait: func(w source.Wait) { heard = append(heard, w) }},
		Progress: func(cp Checkpoint) { got = append(got, cp) }})
	if err != nil {
		t.Fatal(err)
	}
	waiting := slices.IndexFunc(got, func(cp Checkpoint) bool { return cp.Wait != nil })
	if waiting < 0 {
		t.Fatalf("no checkpoint reported the wait: %+v", got)
	}
	w := got[waiting].Wait
	if w.Reason != "the fake API's rate limit" || !w.Until.Equal(fixedNow().Add(time.Minute)) || w.Waits != 1 {
		t.Errorf("wait = %+v", w)
	}
	if got[waiting].Pages != 2 || waiting != 2 {
		t.Errorf("the wait was reported at checkpoint %d with %d pages, want right after page 2", waiting, got[waiting].Pages)
	}
	for _, cp := range got[waiting+1:] {
		if cp.Wait != nil {
			t.Errorf("checkpoint after page %d still waits: %+v", cp.Pages, cp.Wait)
		}
	}
	if len(heard) != 1 || heard[0] != *w {
		t.Errorf("the caller's OnWait heard %+v, want the one wait", heard)
	}
}
