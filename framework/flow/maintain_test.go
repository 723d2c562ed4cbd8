package flow_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/flow/flowtest"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
	"github.com/meshflow/meshflow/framework/source"
)

// maintain runs MaintainTable in Temporal's test environment with the real
// activities, the workflow clock at now.
func maintain(t *testing.T, m *flowtest.Mesh, product string, now time.Time) (flow.MaintainResult, error) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(now)
	env.SetWorkerOptions(worker.Options{DeadlockDetectionTimeout: time.Minute})
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: flow.MaintainID("shop", product+"_v1")})
	flow.Register(env, &flow.Workflows{Mesh: m.Acts.Mesh}, m.Acts, m.Acts.Mesh.Domains[0])
	env.ExecuteWorkflow(flow.MaintainWorkflow, flow.MaintainInput{Domain: "shop", Product: product})
	var res flow.MaintainResult
	if err := env.GetWorkflowError(); err != nil {
		return res, err
	}
	return res, env.GetWorkflowResult(&res)
}

// publishSale adds one sale to orders as its own data file, as a day's publish of a
// partitioned product adds its day.
func publishSale(t *testing.T, m *flowtest.Mesh, id string) port.Snapshot {
	t.Helper()
	sc := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.BinaryTypes.String, Nullable: true}, {Name: "amount", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	rec, _, err := array.RecordFromJSON(memory.DefaultAllocator, sc, strings.NewReader(fmt.Sprintf(`[{"id": %q, "amount": 1}]`, id)))
	if err != nil {
		t.Fatal(err)
	}
	rdr, err := array.NewRecordReader(sc, []arrow.RecordBatch{rec})
	rec.Release()
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Release()
	s, err := m.Ports.Publish(context.Background(), port.TableID{Domain: "shop", Name: ordersTable}, rdr,
		port.PublishRequest{Mode: port.ReplacePartition{Column: "id", Value: id}, SnapshotProperties: map[string]string{flow.PropRunID: "sale-" + id}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// MaintainTable on the test environment: it compacts orders' small files, merges its
// manifests, expires what its declared retention lets go but keeps the snapshot
// totals was computed from, and records what it did for the catalog.
func TestMaintainTable(t *testing.T) {
	ctx := context.Background()
	declared := shop(ordersModel)
	declared.Domains[0].Products[0].Retention = mesh.Retention{MaxAge: time.Hour, MinSnapshots: 2}
	m := flowtest.New(t, declared.Domains, map[string]source.Source{"till": till{}})

	if res, err := maintain(t, m, "totals", time.Now()); err != nil || res.Skipped != "never published" {
		t.Fatalf("maintaining a table never published = %+v, %v", res, err)
	}

	orders := mustRun(t, m, "orders", "")
	totals := mustRun(t, m, "totals", "")
	var sales []port.Snapshot
	for i := range 6 {
		sales = append(sales, publishSale(t, m, fmt.Sprintf("s%d", i)))
	}
	rowsBefore := sum(t, m, ordersTable, "amount", 0)

	res, err := maintain(t, m, "orders", time.Now().Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("orders_v1: data files %d → %d, manifests %d → %d, snapshots %d → %d",
		res.Before.DataFiles, res.After.DataFiles, res.Before.Manifests, res.After.Manifests, res.Before.Snapshots, res.After.Snapshots)
	if res.Table != "shop.orders_v1" || res.Before.DataFiles != 7 || res.After.DataFiles != 1 || res.After.Manifests != 1 {
		t.Fatalf("maintenance = %+v", res)
	}
	if got := sum(t, m, ordersTable, "amount", 0); got != rowsBefore {
		t.Fatalf("amount after maintenance %d, before %d", got, rowsBefore)
	}
	// Kept: the two maintenance snapshots, the last two publishes, and the run's
	// snapshot totals read; the four sales between are expired.
	var want []int64
	for _, s := range sales[:4] {
		want = append(want, s.ID)
	}
	if !slices.Equal(res.Expired.Snapshots, want) || res.After.Snapshots != 5 {
		t.Fatalf("expired %v, want %v; %d left", res.Expired.Snapshots, want, res.After.Snapshots)
	}
	if len(res.Expired.KeptPastRetention) != 1 || res.Expired.KeptPastRetention[0].ID != orders.SnapshotID ||
		!strings.Contains(res.Expired.KeptPastRetention[0].Why, fmt.Sprintf("read by shop.totals_v1: its snapshot %d", totals.SnapshotID)) {
		t.Fatalf("kept past retention %+v, want orders' run snapshot %d, which totals read", res.Expired.KeptPastRetention, orders.SnapshotID)
	}
	rec, ok, err := flow.LatestMaintenance(ctx, m.Acts.Lake, "shop.orders_v1")
	if err != nil || !ok || rec.Status != flow.StatusMaintained || rec.After != res.After || rec.WorkflowID != flow.MaintainID("shop", "orders_v1") {
		t.Fatalf("maintenance record = %+v %v %v", rec, ok, err)
	}
}

func TestMaintainedMajors(t *testing.T) {
	p := shop(ordersModel).Domains[0].Products[0]
	p.Version = "3.0.0"
	p.Legacy = []mesh.Legacy{{Version: "2.1.0", Sunset: "2026-12-31"}, {Version: "1.0.0", Sunset: "2026-01-31"}}
	maintained, frozen := flow.MaintainedMajors(p, time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC))
	names := func(ps []mesh.Product) (out []string) {
		for _, p := range ps {
			out = append(out, p.PortName())
		}
		return out
	}
	if !slices.Equal(names(maintained), []string{"orders_v3", "orders_v2"}) || !slices.Equal(names(frozen), []string{"orders_v1"}) {
		t.Fatalf("maintained %v, frozen %v", names(maintained), names(frozen))
	}
}
