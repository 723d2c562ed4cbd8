package hubspot

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	_ "gocloud.dev/blob/memblob"

	"github.com/meshflow/meshflow/dev/sandbox"
	sbhubspot "github.com/meshflow/meshflow/dev/sandbox/hubspot"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/source"
)

// Bounds on a cursor's size. A cursor that remembers nothing is a few dozen bytes;
// one that remembers all it may is about 30 bytes a version (these ids are short).
const (
	smallCursor      = 512
	rememberingBound = maxRemembered*32 + smallCursor
)

// pageLog is a stream that keeps every page it served, to resume from each cursor.
type pageLog struct {
	source.Stream
	pages []source.Page
}

func (p *pageLog) NextPage(ctx context.Context, req source.PageRequest) (source.Page, error) {
	page, err := p.Stream.NextPage(ctx, req)
	if err == nil {
		p.pages = append(p.pages, page)
	}
	return page, err
}

// land lands contacts through lake.Land, as the Land activity does, and returns the
// manifest, the pages the connector served and the ids the raw files hold.
func land(t *testing.T, l *lake.Lake, f *fixture, cursor json.RawMessage, syncStart time.Time) (lake.Manifest, []source.Page, map[string]int) {
	t.Helper()
	st := &pageLog{Stream: f.stream("contacts")}
	ref := lake.StreamRef{Domain: "marketing", Source: "hubspot", Stream: "contacts"}
	res, err := l.Land(t.Context(), st, lake.LandRequest{Stream: ref, RunID: "run-" + syncStart.Format("150405"), SyncStart: syncStart, Cursor: cursor, Reader: fastReader})
	if err != nil {
		t.Fatal(err)
	}
	return res.Manifest, st.pages, landedIDs(t, l, res.Manifest)
}

func landedIDs(t *testing.T, l *lake.Lake, m lake.Manifest) map[string]int {
	t.Helper()
	ids := map[string]int{}
	for _, df := range m.Files {
		b, err := l.Bucket.ReadAll(t.Context(), df.Key)
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
		tbl, err := fr.ReadTable(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		tr := array.NewTableReader(tbl, 0)
		for tr.Next() {
			col := tr.RecordBatch().Column(0).(*array.String) // the first field is id
			for i := range col.Len() {
				ids[col.Value(i)]++
			}
		}
		tr.Release()
		tbl.Release()
	}
	return ids
}

// checkOnce fails unless got holds exactly the ids of want, each once.
func checkOnce(t *testing.T, what string, got map[string]int, want []string) {
	t.Helper()
	for id, n := range got {
		if n != 1 {
			t.Errorf("%s: contact %s landed %d times", what, id, n)
		}
	}
	if have := slices.Sorted(maps.Keys(got)); !slices.Equal(have, slices.Sorted(slices.Values(want))) {
		t.Errorf("%s: %d contacts landed, want %d", what, len(have), len(want))
	}
}

// checkCursors fails on a page cursor above bound bytes.
func checkCursors(t *testing.T, what string, pages []source.Page, bound int) {
	t.Helper()
	largest := 0
	for _, p := range pages {
		largest = max(largest, len(p.Next))
	}
	if largest > bound || largest == 0 {
		t.Errorf("%s: the largest cursor is %d bytes, want at most %d", what, largest, bound)
	}
}

// checkResumes resumes the sync from every page's cursor: the pages before it and
// the rest read from it hold every record of the sync once.
func checkResumes(t *testing.T, f *fixture, pages []source.Page, syncStart time.Time, want []string) {
	t.Helper()
	checkResumesFrom(t, f, pages, syncStart, want, func(c json.RawMessage) json.RawMessage { return c })
}

// checkResumesFrom is checkResumes from each cursor as convert rewrites it.
func checkResumesFrom(t *testing.T, f *fixture, pages []source.Page, syncStart time.Time, want []string, convert func(json.RawMessage) json.RawMessage) {
	t.Helper()
	before := map[string]int{}
	for i, p := range pages[:len(pages)-1] {
		for _, r := range p.Records {
			before[recordID(t, r)]++
		}
		rest, _, err := source.ReadAll(t.Context(), f.stream("contacts"), source.PageRequest{Cursor: convert(p.Next), SyncStart: syncStart}, fastReader)
		if err != nil {
			t.Fatalf("resume after page %d: %v", i+1, err)
		}
		got := maps.Clone(before)
		for _, r := range rest {
			got[recordID(t, r)]++
		}
		checkOnce(t, "resumed after page "+strconv.Itoa(i+1), got, want)
		if t.Failed() {
			return
		}
	}
}

// TestBulkTimestampLandsOnce: half the contacts share one lastmodifieddate, the newest
// of all (a month-end bulk update): a full refresh and an incremental sync after another
// bulk update land every contact once through the sandbox's HTTP API, every cursor stays
// a few hundred bytes, and the sync resumes from each of them.
func TestBulkTimestampLandsOnce(t *testing.T) {
	f := newFixture(t, sbhubspot.Options{Contacts: 3000, Companies: 100, Deals: 100, BulkContacts: 1500, SearchCap: 200}, Config{}, nil)
	hs := sandbox.Get[*sbhubspot.API](f.sb)
	l, err := lake.Open(t.Context(), "mem://")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	start := f.clock.Now()
	m, pages, got := land(t, l, f, nil, start)
	// Ids come from the sandbox: as many distinct ones as it holds contacts is all of them.
	all := slices.Sorted(maps.Keys(got))
	if want := hs.Count("contacts") + hs.Archived("contacts"); len(all) != want {
		t.Fatalf("full refresh: %d contacts landed, want %d", len(all), want)
	}
	checkOnce(t, "full refresh", got, all)
	checkCursors(t, "full refresh", pages, smallCursor)
	checkResumes(t, f, pages, start, all)

	// Another batch job rewrites 1,200 contacts at one instant, six times the search
	// cap; the next sync starts after the lookback has passed it.
	f.clock.Add(time.Hour)
	touched := hs.Touch("contacts", 1200)
	start = f.clock.Add(defaultLookback + time.Minute)
	_, pages, got = land(t, l, f, m.CursorEnd, start)
	checkOnce(t, "incremental", got, touched)
	checkCursors(t, "incremental", pages, smallCursor)
	checkResumes(t, f, pages, start, touched)
}

// TestBulkUpdateJustBeforeASync: 1,200 contacts rewritten a minute before a sync
// began would all come back in the next window (the search index may lag), so the
// cursor would have to remember them all. It remembers maxRemembered and leaves the
// rest to the next sync, which lands them once; no cursor grows past the bound.
func TestBulkUpdateJustBeforeASync(t *testing.T) {
	f := newFixture(t, sbhubspot.Options{Contacts: 1500, Companies: 50, Deals: 50, SearchCap: 200}, Config{}, nil)
	l, err := lake.Open(t.Context(), "mem://")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	m, _, _ := land(t, l, f, nil, f.clock.Now())

	f.clock.Add(time.Hour)
	touched := sandbox.Get[*sbhubspot.API](f.sb).Touch("contacts", 1200)
	first := f.clock.Add(time.Minute)
	m, pages, got := land(t, l, f, m.CursorEnd, first)
	if len(got) != maxRemembered {
		t.Errorf("the sync a minute after the bulk update landed %d contacts, want the %d it can remember", len(got), maxRemembered)
	}
	checkCursors(t, "a minute after", pages, rememberingBound)
	checkResumes(t, f, pages, first, slices.Sorted(maps.Keys(got)))

	// This sync still carries what the last one remembered, and ends remembering nothing.
	m, pages, later := land(t, l, f, m.CursorEnd, f.clock.Add(defaultLookback+time.Minute))
	checkCursors(t, "after the lookback", pages, rememberingBound)
	if len(m.CursorEnd) > smallCursor {
		t.Errorf("the sync after the lookback ends at a cursor of %d bytes, want at most %d", len(m.CursorEnd), smallCursor)
	}
	for id, n := range later {
		got[id] += n
	}
	checkOnce(t, "both syncs", got, touched)
	if _, _, again := land(t, l, f, m.CursorEnd, f.clock.Add(time.Minute)); len(again) != 0 {
		t.Errorf("a third sync landed %d contacts again", len(again))
	}
}

// TestV1CursorsResume: a sync stopped mid-way by a build writing v1 cursors resumes
// from any of them, every record once; v1 windows included their lower bound.
func TestV1CursorsResume(t *testing.T) {
	f := newFixture(t, sbhubspot.Options{SearchCap: 40}, Config{PageSize: 25}, nil)
	toV1 := func(raw json.RawMessage) json.RawMessage {
		var c cursor
		if err := json.Unmarshal(raw, &c); err != nil {
			t.Fatal(err)
		}
		c.V, c.Max = 1, c.Until
		if c.Since > 0 {
			c.Since++ // v1: [since, until]
		}
		if c.Phase == phaseIdle {
			c.Mark += defaultLookback.Milliseconds() + 1 // v1: the next window began at mark − lookback
		}
		return c.encode()
	}
	contacts := &pageLog{Stream: f.stream("contacts")}
	start := f.clock.Now()
	full, idle, _ := readAll(t, contacts, nil, start)
	checkResumesFrom(t, f, contacts.pages, start, ids(full), toV1)

	f.clock.Add(time.Hour)
	// Archive may pick a contact just touched: it then lands once, archived.
	changed := slices.Compact(slices.Sorted(slices.Values(append(sandbox.Get[*sbhubspot.API](f.sb).Touch("contacts", 60), sandbox.Get[*sbhubspot.API](f.sb).Archive("contacts", 3)...))))
	start = f.clock.Add(time.Minute)
	contacts.pages = nil
	got, _, _ := readAll(t, contacts, toV1(idle), start)
	checkOnce(t, "from a v1 idle cursor", countIDs(got), changed)
	checkResumesFrom(t, f, contacts.pages, start, changed, toV1)

	// A v1 idle cursor whose window began exactly at the seeded bulk update's instant.
	bulk := sandbox.Get[*sbhubspot.API](f.sb).BulkUpdatedAt()
	var want []string
	for id, raw := range full {
		var m meta
		json.Unmarshal(raw, &m)
		if v := m.version("lastmodifieddate"); v >= bulk.UnixMilli() && !slices.Contains(changed, id) {
			want = append(want, id)
		}
	}
	want = append(want, changed...)
	v1 := cursor{V: 1, Phase: phaseIdle, Mark: bulk.Add(defaultLookback).UnixMilli()}.encode()
	got, _, _ = readAll(t, f.stream("contacts"), v1, start)
	checkOnce(t, "from the bulk update's instant", countIDs(got), want)
}

func countIDs(m map[string]json.RawMessage) map[string]int {
	out := map[string]int{}
	for id := range m {
		out[id]++
	}
	return out
}
