package stack_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
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
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
	"github.com/meshflow/meshflow/workers/host"
)

// TestBackfillRerunFailedEqualsACleanBackfill backfills five days of web_traffic twice
// on the real dev server: once cleanly, once with the sandbox failing two chosen days.
// rerun-failed then runs exactly those two days, and the port ends up holding the same
// rows as the clean backfill's (compared by a hash of the row set).
func TestBackfillRerunFailedEqualsACleanBackfill(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: needs bin/temporal")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	st := startStack(t, ctx, stack.Options{Log: testLog(t, zerolog.WarnLevel)})
	m := domains.Mesh()
	d, p, err := m.Find("marketing.web_traffic")
	if err != nil {
		t.Fatal(err)
	}
	// Days old enough that GA4's numbers have settled: both backfills see the same data.
	day := func(back int) string { return time.Now().UTC().AddDate(0, 0, -back).Format(time.DateOnly) }
	from, to := day(8), day(4)
	traffic := port.TableID{Domain: d.Name, Name: p.PortName()}

	cfg, clean := openLake(t, ctx, st, t.TempDir())
	stop := startWorker(t, st, cfg, m, clean)
	if s := backfill(t, ctx, st, d, p, from, to); s.Totals[flow.StateSucceeded] != 5 {
		t.Fatalf("clean backfill: %v", s.Totals)
	}
	want := rowSetHash(t, clean, traffic)
	// The backfill's days ran their consumers (marketing.channel_daily, partitioned the
	// same way, and metrics.revenue_engagement_weekly): let them end on this lake.
	waitTriggers(t, ctx, st, "marketing.channel_daily", "metrics.revenue_engagement_weekly")
	stop()

	// channel_daily shows what a downstream backfill does with days its input failed.
	_, consumer, err := m.Find("marketing.channel_daily")
	if err != nil {
		t.Fatal(err)
	}
	cfg, faulty := openLake(t, ctx, st, t.TempDir())
	stop = startWorker(t, st, cfg, m, faulty)
	defer stop()
	failing := []string{day(7), day(5)}
	sandbox.Get[*sbga.API](st.Sandbox).FailDays(failing...)
	first := backfill(t, ctx, st, d, p, from, to)
	if first.Totals[flow.StateSucceeded] != 3 || first.Totals[flow.StateFailed] != 2 {
		t.Fatalf("backfill with two failing days: %v", first.Totals)
	}
	failed := flow.FailedPartitions(first)
	for _, ps := range first.Partitions {
		if ps.State == flow.StateFailed && !strings.Contains(ps.Error, "FailDays") {
			t.Errorf("%s failed with %q, want the sandbox's error", ps.Partition, ps.Error)
		}
	}
	slices.Sort(failed)
	slices.Sort(failing)
	if !slices.Equal(failed, failing) {
		t.Fatalf("failed partitions %v, want %v", failed, failing)
	}

	// Downstream, the days whose input failed fail too, saying why; the others publish.
	waitTriggers(t, ctx, st, "marketing.channel_daily", "metrics.revenue_engagement_weekly")
	down := backfill(t, ctx, st, d, consumer, from, to)
	if down.Totals[flow.StateSucceeded] != 3 || down.Totals[flow.StateFailed] != 2 {
		t.Fatalf("downstream backfill: %v", down.Totals)
	}
	for _, ps := range down.Partitions {
		if ps.State == flow.StateFailed && !strings.Contains(ps.Error, "no published partition "+ps.Partition) {
			t.Errorf("downstream %s failed with %q, want the missing input partition named", ps.Partition, ps.Error)
		}
	}

	sandbox.Get[*sbga.API](st.Sandbox).ClearFailures()
	run, parts, err := flow.RerunFailed(ctx, st.Client, m, first.ID, 2)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(parts)
	if !slices.Equal(parts, failing) {
		t.Fatalf("rerun-failed chose %v, want exactly %v", parts, failing)
	}
	rerun, err := flow.WaitBackfill(ctx, run)
	if err != nil {
		t.Fatal(err)
	}
	if len(rerun.Partitions) != 2 || rerun.Totals[flow.StateSucceeded] != 2 || rerun.RerunOf != first.ID {
		t.Fatalf("rerun = %+v, want the 2 failed days succeeded, linked to %s", rerun, first.ID)
	}
	if got := rowSetHash(t, faulty, traffic); got != want {
		t.Fatalf("after rerun-failed the port's row set hash is %s, a clean backfill's is %s", got, want)
	}
}

// waitTriggers waits for the trigger workflows of the named products (started by the
// runs that just ended) to end, and with them the runs they started.
func waitTriggers(t *testing.T, ctx context.Context, st *stack.Stack, products ...string) {
	t.Helper()
	for _, name := range products {
		dom, prod, _ := strings.Cut(name, ".")
		if err := st.Client.GetWorkflow(ctx, flow.TriggerWorkflowID(dom, prod), "").Get(ctx, nil); err != nil {
			t.Fatalf("trigger of %s: %v", name, err)
		}
	}
}

func backfill(t *testing.T, ctx context.Context, st *stack.Stack, d mesh.Domain, p mesh.Product, from, to string) flow.BackfillStatus {
	t.Helper()
	run, err := flow.StartBackfill(ctx, st.Client, d, p, flow.BackfillInput{From: from, To: to, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	s, err := flow.WaitBackfill(ctx, run)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// rowSetHash hashes the port's rows (every column but pulled_at, which records when a
// row was read, not what it says), independent of row order.
func rowSetHash(t *testing.T, stores *host.Stores, id port.TableID) string {
	t.Helper()
	var cols [][]string
	for c := 0; c < 8; c++ { // property_id … conversion_rate
		cols = append(cols, readColumn(t, stores, id, c))
	}
	rows := make([]string, len(cols[0]))
	for i := range rows {
		var b strings.Builder
		for _, col := range cols {
			b.WriteString(col[i])
			b.WriteByte('\x1f')
		}
		rows[i] = b.String()
	}
	if len(rows) == 0 {
		t.Fatal("the port is empty")
	}
	slices.Sort(rows)
	h := sha256.New()
	for _, r := range rows {
		h.Write([]byte(r + "\n"))
	}
	return hex.EncodeToString(h.Sum(nil))
}
