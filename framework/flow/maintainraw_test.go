package flow_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/flow/flowtest"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
	"github.com/meshflow/meshflow/framework/source"
)

// MaintainStream on the test environment with the real activities: six runs of an
// incremental orders land six small landings of till.sales; the maintenance supersedes
// the five oldest with one (the newest holds the cursor), the next run reads the same
// records and publishes the same rows, and past the retention the superseded landings
// the last publish recorded reading stay until orders publishes again.
func TestMaintainStream(t *testing.T) {
	ctx := context.Background()
	declared := shop(ordersModel)
	declared.Domains[0].Products[0].Incremental = mesh.IncrementalOn(mesh.Raw("till", "sales"), map[string]string{"id": "id"})
	m := flowtest.New(t, declared.Domains, map[string]source.Source{"till": till{}})
	ref := lake.StreamRef{Domain: "shop", Source: "till", Stream: "sales"}
	orders := port.TableID{Domain: "shop", Name: ordersTable}
	for range 6 {
		if _, err := run(m, "orders", ""); err != nil {
			t.Fatal(err)
		}
	}
	rows := func() string {
		tbl, err := m.Ports.ReadAll(ctx, orders, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer tbl.Release()
		return tableText(t, tbl)
	}
	before := rows()
	cursor, err := m.Acts.Lake.Cursor(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}

	var res flow.MaintainStreamResult
	if err := m.Execute("shop", flow.MaintainStreamWorkflow, flow.MaintainStreamInput{Domain: "shop", Source: "till", Stream: "sales"}, &res); err != nil {
		t.Fatal(err)
	}
	if res.Stream != "shop/till.sales" || res.Compacted.Landings != 6 || len(res.Compacted.Groups) != 1 ||
		!slices.Equal(res.Compacted.Groups[0].Supersedes, []int{1, 2, 3, 4, 5}) || res.Compacted.Groups[0].Rows != 10 {
		t.Fatalf("maintenance = %+v", res)
	}
	if res.Expired.Waiting != 5 || len(res.Expired.Landings) != 0 {
		t.Fatalf("expired within the retention: %+v", res.Expired)
	}
	ms, err := m.Acts.Lake.Manifests(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].Seq != 7 || ms[1].Seq != 6 {
		t.Fatalf("landings read after the maintenance: %+v", ms)
	}
	if got, _ := m.Acts.Lake.Cursor(ctx, ref); string(got) != string(cursor) {
		t.Fatalf("cursor moved: %s → %s", cursor, got)
	}

	// The landings the last publish recorded reading (1-6) are needed by orders: past
	// the retention they stay, with the reason; the rest of the stream reads as before.
	keep, err := flow.RawKeep(ctx, m.Acts.Mesh, m.Ports, ref)
	if err != nil {
		t.Fatal(err)
	}
	if len(keep) != 6 || !strings.Contains(keep[3], "shop.orders_v1's snapshot ") {
		t.Fatalf("kept for orders: %v", keep)
	}
	exp, err := m.Acts.Lake.ExpireSuperseded(ctx, ref, lake.ExpireRequest{Keep: keep, Now: time.Now().Add(8 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if len(exp.Landings) != 0 || len(exp.Kept) != 5 {
		t.Fatalf("expiry while orders needs them: %+v", exp)
	}

	// orders runs again over the compacted landing: the same rows, and now it records
	// reading 6 and 7 (the compaction), so 1-5 may go.
	if _, err := run(m, "orders", ""); err != nil {
		t.Fatal(err)
	}
	if after := rows(); after != before {
		t.Fatalf("orders after compaction:\n%s\nbefore:\n%s", after, before)
	}
	if keep, err = flow.RawKeep(ctx, m.Acts.Mesh, m.Ports, ref); err != nil {
		t.Fatal(err)
	}
	for seq := range keep {
		if seq < 6 {
			t.Fatalf("orders still needs superseded landing %d: %v", seq, keep)
		}
	}
	exp, err = m.Acts.Lake.ExpireSuperseded(ctx, ref, lake.ExpireRequest{Keep: keep, Now: time.Now().Add(8 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(exp.Landings, []int{1, 2, 3, 4, 5}) || exp.Files != 5 {
		t.Fatalf("expiry once orders moved on: %+v", exp)
	}
	if _, err := run(m, "orders", ""); err != nil {
		t.Fatal(err)
	}
	if after := rows(); after != before {
		t.Fatalf("orders after expiry:\n%s\nbefore:\n%s", after, before)
	}
}

// tableText is the table's rows as sorted lines of values: its row set, as text.
func tableText(t *testing.T, tbl arrow.Table) string {
	t.Helper()
	tr := array.NewTableReader(tbl, 1024)
	defer tr.Release()
	var lines []string
	for tr.Next() {
		rec := tr.RecordBatch()
		for r := range int(rec.NumRows()) {
			vals := make([]string, rec.NumCols())
			for c := range vals {
				vals[c] = rec.Column(c).ValueStr(r)
			}
			lines = append(lines, strings.Join(vals, "|"))
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}
