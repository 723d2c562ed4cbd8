package flow_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/flow/flowtest"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
	"github.com/meshflow/meshflow/framework/source"
)

// TestPartitionedProductPublishesAPartitionedPort: the days a product partitioned by a
// DATE column publishes land in that day's partition of its port (Iceberg identity
// partitioning on the column, Hive-style day=… directories), so a day's publish and a
// reader's filter on the day touch that day's files alone.
func TestPartitionedProductPublishesAPartitionedPort(t *testing.T) {
	daily := mesh.Product{Name: "daily_sales", Version: "1.0.0", Description: "Sales per day.", Inputs: []mesh.Input{mesh.Raw("till", "sales")},
		Model: "SELECT id, amount, d AS day FROM till.sales, (VALUES (DATE '2026-05-01'), (DATE '2026-05-02')) AS days(d)",
		Schema: []mesh.Column{{Name: "id", Type: mesh.String, Doc: "sale"}, {Name: "amount", Type: mesh.Int64, Doc: "amount"},
			{Name: "day", Type: mesh.Date, Required: true, Doc: "day"}},
		PrimaryKey: []string{"id", "day"}, Classification: mesh.Internal, Cadence: "@daily", PartitionBy: "day",
		Freshness: mesh.Freshness{WarnAfter: 48 * time.Hour, FailAfter: 96 * time.Hour}}
	m := flowtest.New(t, []mesh.Domain{{Name: "shop", Owner: "team", Products: []mesh.Product{daily}}}, map[string]source.Source{"till": till{}})
	for _, day := range []string{"2026-05-01", "2026-05-02"} {
		var res flow.RunResult
		if err := m.Execute("shop", flow.RunProductWorkflow, flow.RunInput{Domain: "shop", Product: "daily_sales", Partition: day}, &res); err != nil {
			t.Fatalf("run %s: %v", day, err)
		}
	}
	files, err := m.Ports.DataFiles(context.Background(), port.TableID{Domain: "shop", Name: "daily_sales_v1"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	perDay := map[string]int{}
	for _, f := range files {
		_, rest, ok := strings.Cut(f, "/day=")
		if !ok {
			t.Errorf("data file %s is in no day's partition", f)
			continue
		}
		day, _, _ := strings.Cut(rest, "/")
		perDay[day]++
	}
	if perDay["2026-05-01"] != 1 || perDay["2026-05-02"] != 1 || len(perDay) != 2 {
		t.Errorf("data files per day %v, want one in each day's partition", perDay)
	}
}
