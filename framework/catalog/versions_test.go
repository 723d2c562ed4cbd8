package catalog

import (
	"context"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
	"github.com/meshflow/meshflow/framework/port/porttest"
	"github.com/meshflow/meshflow/framework/quality"
)

// chainMesh is up → down, with down at 2.0.0 and its 1.x table kept until a sunset.
func chainMesh() mesh.Mesh {
	base := func(name string, in mesh.Input) mesh.Product {
		return mesh.Product{Name: name, Version: "1.0.0", Description: name + ".", Inputs: []mesh.Input{in}, Model: "SELECT 1",
			Schema: []mesh.Column{{Name: "id", Type: mesh.Int64, Doc: "id"}}, PrimaryKey: []string{"id"}, Classification: mesh.Internal,
			Freshness: mesh.Freshness{WarnAfter: 26 * time.Hour, FailAfter: 50 * time.Hour}, Cadence: "@daily"}
	}
	up := base("up", mesh.Raw("src", "things"))
	down := base("down", mesh.FromProduct("sales", "up"))
	down.Version = "2.0.0"
	down.Legacy = []mesh.Legacy{{Version: "1.2.0", Sunset: "2026-12-31", Model: "SELECT 1", Migration: "use down_v2",
		Schema: []mesh.Column{{Name: "id", Type: mesh.Int64, Doc: "id"}}}}
	return mesh.Mesh{Domains: []mesh.Domain{{Name: "sales", Owner: "team", Products: []mesh.Product{up, down}}}}
}

func publishAt(t *testing.T, ports *port.Catalog, id port.TableID, version string, at time.Time) {
	t.Helper()
	sc := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}}, nil)
	porttest.PublishJSON(t, ports, id, sc, `[{"id": 1}, {"id": 2}]`, port.PublishRequest{Mode: port.Replace{},
		SnapshotProperties: map[string]string{flow.PropPublishedAt: at.Format(time.RFC3339), flow.PropVersion: version}})
}

func TestFreshnessFollowsInputsAndLegacyMajorsShow(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l, ports := testStoresIn(t, dir)
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	publishAt(t, ports, port.PortTable("sales", "up", 1), "1.0.0", now.Add(-72*time.Hour)) // stale
	publishAt(t, ports, port.PortTable("sales", "down", 2), "2.0.0", now.Add(-time.Hour))  // fresh on its own
	publishAt(t, ports, port.PortTable("sales", "down", 1), "1.2.0", now.Add(-time.Hour))
	c := &Catalog{Mesh: chainMesh(), Ports: ports, Lake: l, Now: func() time.Time { return now }}

	det, err := c.Show(ctx, "sales.down", 0)
	if err != nil {
		t.Fatal(err)
	}
	f := det.Freshness
	if f.Status != mesh.StatusFail || len(f.Inputs) != 1 || f.Inputs[0].Name != "sales.up" || !strings.Contains(f.Reason, "input sales.up is fail") {
		t.Fatalf("freshness of a product reading a stale input = %+v", f)
	}
	if len(det.Legacy) != 1 {
		t.Fatalf("legacy = %+v", det.Legacy)
	}
	v1 := det.Legacy[0]
	if v1.Table != "sales.down_v1" || v1.Version != "1.2.0" || !v1.Publishing || v1.Successor != "sales.down_v2" || v1.Rows != 2 || v1.Sunset != "2026-12-31" {
		t.Fatalf("legacy v1 = %+v", v1)
	}

	srv := httptest.NewServer(c.Handler())
	defer srv.Close()
	_, page := get(t, srv.URL+"/products/sales.down")
	for _, want := range []string{"mesh query", "FROM sales.down_v2 LIMIT 10", "sales.down_v1", "still published until 2026-12-31", "use down_v2", "input sales.up is fail", "sales.down_v2"} {
		if !strings.Contains(page, want) {
			t.Errorf("product page lacks %q", want)
		}
	}
	_, home := get(t, srv.URL+"/")
	if !strings.Contains(home, "v1.2.0 deprecated, until 2026-12-31") {
		t.Errorf("home page does not show the deprecated major:\n%.2000s", home)
	}

	// Past the sunset day the old table is shown as no longer updated.
	c.Now = func() time.Time { return time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC) }
	det, err = c.Show(ctx, "sales.down", 0)
	if err != nil {
		t.Fatal(err)
	}
	if det.Legacy[0].Publishing {
		t.Fatal("a legacy major past its sunset is still shown as publishing")
	}
}

func TestCheckHistoryFromRecentRuns(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l, ports := testStoresIn(t, dir)
	start := time.Date(2026, 11, 1, 5, 0, 0, 0, time.UTC)
	outcomes := []mesh.Status{mesh.StatusPass, mesh.StatusFail, mesh.StatusWarn} // oldest first
	for i, st := range outcomes {
		at := start.AddDate(0, 0, i)
		rec := flow.RunRecord{Domain: "sales", Product: "up", RunID: "run" + string(rune('a'+i)), Status: "published", FinishedAt: at,
			Checks: []quality.Result{{Name: "unique_id", Status: st}}}
		if err := l.PutJSON(ctx, flow.RunRecordKey("sales", "up", at, rec.RunID), rec); err != nil {
			t.Fatal(err)
		}
	}
	c := &Catalog{Mesh: chainMesh(), Ports: ports, Lake: l}
	det, err := c.Show(ctx, "sales.up", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range det.Checks {
		if ch.Name != "unique_id" {
			continue
		}
		if want := []mesh.Status{mesh.StatusWarn, mesh.StatusFail, mesh.StatusPass}; !slices.Equal(ch.History, want) {
			t.Fatalf("history = %v, want %v (newest first)", ch.History, want)
		}
		return
	}
	t.Fatal("no unique_id check on the page")
}
