package stack_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/meshflow/meshflow/dev/sandbox"
	sbga "github.com/meshflow/meshflow/dev/sandbox/googleanalytics"
	"github.com/meshflow/meshflow/dev/stack"
	"github.com/meshflow/meshflow/domains"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/port"
)

// TestMalformedPageFailsOnlyItsDay backfills five days of web_traffic while GA4 serves
// one day of one property with a row whose sessions are "n/a". That day fails, with an
// error naming the source, the stream, the page and the field; nothing of it is landed
// or published; the other four days publish as usual.
func TestMalformedPageFailsOnlyItsDay(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: needs bin/temporal")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	st := startStack(t, ctx, stack.Options{Log: testLog(t, zerolog.ErrorLevel)})
	m := domains.Mesh()
	d, p, err := m.Find("marketing.web_traffic")
	if err != nil {
		t.Fatal(err)
	}
	traffic := port.TableID{Domain: d.Name, Name: p.PortName()}
	cfg, stores := openLake(t, ctx, st, t.TempDir())
	stop := startWorker(t, st, cfg, m, stores)
	defer stop()

	day := func(back int) string { return time.Now().UTC().AddDate(0, 0, -back).Format(time.DateOnly) }
	from, to, bad := day(8), day(4), day(6)
	ga := sandbox.Get[*sbga.API](st.Sandbox)
	// The second property's report is the second page of a day's landing.
	ga.MalformDay(ga.Properties()[1], bad)
	t.Cleanup(ga.ClearFailures)

	s := backfill(t, ctx, st, d, p, from, to)
	if s.Totals[flow.StateSucceeded] != 4 || s.Totals[flow.StateFailed] != 1 {
		t.Fatalf("backfill with one malformed day: %v, want 4 succeeded and 1 failed", s.Totals)
	}
	for _, ps := range s.Partitions {
		if ps.Partition != bad {
			if ps.State != flow.StateSucceeded {
				t.Errorf("%s %s (%s): a malformed day must not fail the others", ps.Partition, ps.State, ps.Error)
			}
			continue
		}
		if ps.State != flow.StateFailed {
			t.Fatalf("the malformed day %s is %s", bad, ps.State)
		}
		t.Logf("%s failed: %s", bad, ps.Error)
		for _, want := range []string{"googleanalytics", "daily_report", "page 2", "field sessions", `"n/a"`} {
			if !strings.Contains(ps.Error, want) {
				t.Errorf("the error of %s does not name %s: %s", bad, want, ps.Error)
			}
		}
	}

	snaps, err := stores.Ports.Snapshots(ctx, traffic)
	if err != nil {
		t.Fatal(err)
	}
	var published []string
	for _, sn := range snaps {
		published = append(published, sn.Properties[flow.PropPartition])
	}
	slices.Sort(published)
	want := []string{day(8), day(7), day(5), day(4)}
	slices.Sort(want)
	if !slices.Equal(published, want) {
		t.Errorf("snapshots published partitions %v, want exactly %v", published, want)
	}
	dates := uniq(columnValues(t, stores, traffic, "date"))
	if !slices.Equal(dates, want) {
		t.Errorf("web_traffic holds the days %v, want %v", dates, want)
	}
	ms, err := stores.Lake.Manifests(ctx, lake.StreamRef{Domain: d.Name, Source: "googleanalytics", Stream: "daily_report"})
	if err != nil {
		t.Fatal(err)
	}
	for _, man := range ms {
		if man.Partition == bad {
			t.Errorf("a landing of the malformed day was committed: %+v", man)
		}
	}
	if len(ms) != 4 {
		t.Errorf("%d landings committed, want one per good day", len(ms))
	}
}
