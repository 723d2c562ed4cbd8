package access

import (
	"context"
	"testing"
	"time"

	"github.com/meshflow/meshflow/framework/lake"
)

// A flood of refused reads writes a bounded number of audit objects whose counts add
// up, and an allowed read right after is written at once and served.
func TestThrottleFoldsRefusedReads(t *testing.T) {
	ctx := context.Background()
	l, err := lake.Open(ctx, "mem://")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	p := testPolicy(t)
	sales, _ := p.Authenticate(salesToken)
	unknown, _ := p.Authenticate("mf_guess")
	log := NewLog(l)
	th := NewThrottle(log)
	// 10,000 refusals over three and a half minutes (four minutes touched), from two callers on two products.
	now := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	th.now = func() time.Time { return now }
	ledger := deals
	ledger.Name = "ledger"
	const n = 10_000
	for i := range n {
		now = now.Add(21 * time.Millisecond)
		who, prod := Principal{}, deals
		if i%3 == 0 {
			who = unknown
		}
		if i%2 == 0 {
			prod = ledger
		}
		if err := p.Authorize(ctx, th, Read{Principal: who, Domain: marketing, Product: prod, What: Sample, Path: PathAPI}); !IsUnauthenticated(err) {
			t.Fatalf("read %d: %v", i, err)
		}
	}
	if err := p.Authorize(ctx, th, Read{Principal: sales, Domain: marketing, Product: deals, What: Sample, Path: PathPage}); err != nil {
		t.Fatalf("allowed read after the flood: %v", err)
	}
	// The allowed read is in the log before anything is flushed.
	events, err := log.Events(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if last := events[len(events)-1]; !last.Allowed || last.Principal != "sales-analyst" || last.Reads() != 1 {
		t.Fatalf("newest record before the flush: %+v", last)
	}

	if err := th.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	events, err = log.Events(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	// 2 callers × 2 products × 4 minutes touched, each at most an immediate record and
	// a folded one; plus the allowed read.
	if max := 2*2*4*2 + 1; len(events) > max {
		t.Fatalf("%d audit objects for %d refused reads, want at most %d", len(events), n, max)
	}
	var refused int64
	byKind := map[string]int64{}
	for _, e := range events {
		if e.Allowed {
			continue
		}
		refused += e.Reads()
		byKind[e.Principal+" "+e.Product+" "+e.Reason] += e.Reads()
		if e.Reads() > 1 && (e.Until.Before(e.Time) || e.Until.Sub(e.Time) >= time.Minute) {
			t.Errorf("folded record spans %v to %v", e.Time, e.Until)
		}
	}
	if refused != n {
		t.Fatalf("the records count %d refused reads, want %d", refused, n)
	}
	want := map[string]int64{
		"(unrecognised token) marketing.ledger unrecognised token":    1667,
		"(unrecognised token) marketing.crm_deals unrecognised token": 1667,
		"(anonymous) marketing.ledger no token":                       3333,
		"(anonymous) marketing.crm_deals no token":                    3333,
	}
	for k, v := range want {
		if byKind[k] != v {
			t.Errorf("%s: %d refused reads recorded, want %d", k, byKind[k], v)
		}
	}
}

// The rate limit holds a caller cycling through many products to its burst of
// immediate records; the rest of each minute's refusals are folded.
func TestThrottleLimitsImmediateRecordsPerCaller(t *testing.T) {
	ctx := context.Background()
	rec := &recorder{}
	th := NewThrottle(rec)
	now := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	th.now = func() time.Time { return now }
	const products = 50
	for i := range products {
		ev := Event{Principal: "(anonymous)", Product: "marketing.p" + string(rune('a'+i)), Reason: "no token"}
		if err := th.Record(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if len(rec.events) != defaultRefusalBurst {
		t.Fatalf("%d immediate records, want the burst %d", len(rec.events), defaultRefusalBurst)
	}
	// The minute ends: the next refusal writes the folded ones first.
	now = now.Add(time.Minute)
	if err := th.Record(ctx, Event{Principal: "(anonymous)", Product: "marketing.pa", Reason: "no token"}); err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, e := range rec.events {
		total += e.Reads()
	}
	if len(rec.events) != products+1 || total != products+1 {
		t.Fatalf("%d records for %d refusals, want %d", len(rec.events), total, products+1)
	}

	// A record that cannot be written is kept and written by the next flush.
	now = now.Add(time.Second)
	for range 3 {
		th.Record(ctx, Event{Principal: "(anonymous)", Product: "marketing.pa", Reason: "no token"})
	}
	rec.fail = context.DeadlineExceeded
	if err := th.Flush(ctx); err == nil {
		t.Fatal("flush into a failing log reported no error")
	}
	rec.fail = nil
	if err := th.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if last := rec.events[len(rec.events)-1]; last.Reads() != 3 {
		t.Fatalf("kept record = %+v", last)
	}
}
