package flow_test

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/flow/flowtest"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
	"github.com/meshflow/meshflow/framework/source"
)

// till is a source whose one stream, sales, lands the same two sales every time.
type till struct{}

func (till) Name() string                { return "till" }
func (till) Streams() []source.Stream    { return []source.Stream{sales{}} }
func (till) Check(context.Context) error { return nil }
func (sales) Spec() source.StreamSpec    { return salesSpec }
func (sales) NextPage(context.Context, source.PageRequest) (source.Page, error) {
	return source.Page{Records: []json.RawMessage{[]byte(`{"id": "a", "amount": 10}`), []byte(`{"id": "b", "amount": 20}`)},
		Next: json.RawMessage(`{"v":1}`), Done: true}, nil
}

type sales struct{}

var salesSpec = source.StreamSpec{Name: "sales", PrimaryKey: []string{"id"}, Fields: []source.Field{
	{Name: "id", Type: source.String, Path: []string{"id"}}, {Name: "amount", Type: source.Int64, Path: []string{"amount"}}}}

// shop declares orders (from the till's sales) and totals (from orders), with orders'
// model given.
func shop(ordersModel string, ordersChecks ...mesh.Check) mesh.Mesh {
	product := func(name, model string, inputs []mesh.Input, cols ...mesh.Column) mesh.Product {
		return mesh.Product{Name: name, Version: "1.0.0", Description: name + ".", Inputs: inputs, Model: model, Schema: cols,
			PrimaryKey: []string{cols[0].Name}, Classification: mesh.Internal, Cadence: "@daily",
			Freshness: mesh.Freshness{WarnAfter: time.Hour, FailAfter: 2 * time.Hour}}
	}
	orders := product("orders", ordersModel, []mesh.Input{mesh.Raw("till", "sales")},
		mesh.Column{Name: "id", Type: mesh.String, Doc: "sale"}, mesh.Column{Name: "amount", Type: mesh.Int64, Doc: "amount"})
	orders.Checks = ordersChecks
	totals := product("totals", "SELECT 'all' AS scope, sum(amount)::BIGINT AS total FROM shop.orders", []mesh.Input{mesh.FromProduct("shop", "orders")},
		mesh.Column{Name: "scope", Type: mesh.String, Doc: "scope"}, mesh.Column{Name: "total", Type: mesh.Int64, Doc: "total"})
	return mesh.Mesh{Domains: []mesh.Domain{{Name: "shop", Owner: "team", Products: []mesh.Product{orders, totals}}}}
}

const (
	ordersModel   = "SELECT id, amount FROM till.sales"
	previewModel  = "SELECT id, amount * 2 AS amount FROM till.sales" // the change previewed
	ordersTable   = "orders_v1"
	totalsTable   = "totals_v1"
	previewBranch = "preview"
)

// run runs product on branch ("" = main) through RunProduct with the real activities.
func run(m *flowtest.Mesh, product, branch string) (flow.RunResult, error) {
	var res flow.RunResult
	err := m.Execute("shop", flow.RunProductWorkflow, flow.RunInput{Domain: "shop", Product: product, Branch: branch}, &res)
	return res, err
}

func mustRun(t *testing.T, m *flowtest.Mesh, product, branch string) flow.RunResult {
	t.Helper()
	res, err := run(m, product, branch)
	if err != nil {
		t.Fatalf("run %s on %q: %v", product, branch, err)
	}
	return res
}

// sum is the sum of column col of a snapshot of a shop port (0 = main's current).
func sum(t *testing.T, m *flowtest.Mesh, table, col string, snapshot int64) int64 {
	t.Helper()
	rows := m.QueryAt("shop", table, snapshot, "SELECT sum("+col+")::BIGINT FROM port")
	defer rows.Close()
	var n int64
	for rows.Next() {
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

func branchHead(t *testing.T, m *flowtest.Mesh, table, branch string) port.Snapshot {
	t.Helper()
	b, ok, err := m.Ports.Branch(context.Background(), port.TableID{Domain: "shop", Name: table}, branch)
	if err != nil || !ok {
		t.Fatalf("branch %s of %s: %v %v", branch, table, ok, err)
	}
	return b.Head
}

func current(t *testing.T, m *flowtest.Mesh, table string) int64 {
	t.Helper()
	s, _, err := m.Ports.Current(context.Background(), port.TableID{Domain: "shop", Name: table})
	if err != nil {
		t.Fatal(err)
	}
	return s.ID
}

func hasWarning(res flow.RunResult, want string) bool {
	return slices.ContainsFunc(res.Warnings, func(w string) bool { return strings.Contains(w, want) })
}

// A preview run publishes to a branch and main's readers see nothing of it; a
// downstream product run on the same branch reads it; a blocked run leaves the branch
// as it was and Promote refuses, naming the check; when main moved Promote refuses
// naming both snapshots, a run on the branch makes it again from main, and Promote
// then makes it main.
func TestPreviewOnABranch(t *testing.T) {
	ctx := context.Background()
	m := flowtest.New(t, shop(ordersModel).Domains, map[string]source.Source{"till": till{}})
	mainOrders := mustRun(t, m, "orders", "")
	mainTotals := mustRun(t, m, "totals", "")
	if sum(t, m, totalsTable, "total", 0) != 30 {
		t.Fatal("main's totals are not 30")
	}

	// Saved with a changed model, orders runs on the branch.
	m.Acts.Mesh = shop(previewModel)
	preview := mustRun(t, m, "orders", previewBranch)
	if preview.Table != "shop.orders_v1@preview" || preview.Branch != previewBranch || preview.SnapshotID == mainOrders.SnapshotID {
		t.Fatalf("preview run = %+v", preview)
	}
	if current(t, m, ordersTable) != mainOrders.SnapshotID || sum(t, m, ordersTable, "amount", 0) != 30 {
		t.Fatal("the preview run changed main's orders")
	}
	if head := branchHead(t, m, ordersTable, previewBranch); head.ID != preview.SnapshotID || sum(t, m, ordersTable, "amount", head.ID) != 60 {
		t.Fatalf("branch head %d, want the preview's %d with its rows doubled", head.ID, preview.SnapshotID)
	}
	if rec, ok, err := flow.LatestRun(ctx, m.Acts.Lake, "shop", "orders"); err != nil || !ok || rec.Branch != "" || rec.SnapshotID != mainOrders.SnapshotID {
		t.Fatalf("main's latest run record = %+v %v %v, want main's run", rec, ok, err)
	}
	if rec, ok, err := flow.LatestBranchRun(ctx, m.Acts.Lake, "shop", "orders", previewBranch); err != nil || !ok || rec.Branch != previewBranch || rec.Status != flow.StatusPublished {
		t.Fatalf("the branch's latest run record = %+v %v %v", rec, ok, err)
	}

	// Downstream on the same branch reads the preview, and says so; on a branch
	// orders lacks, it reads main, and says that.
	totals := mustRun(t, m, "totals", previewBranch)
	if !hasWarning(totals, "input shop.orders: read its preview on branch preview (snapshot "+strconv.FormatInt(preview.SnapshotID, 10)) || sum(t, m, totalsTable, "total", totals.SnapshotID) != 60 {
		t.Fatalf("totals on the branch: %+v", totals)
	}
	if current(t, m, totalsTable) != mainTotals.SnapshotID || sum(t, m, totalsTable, "total", 0) != 30 {
		t.Fatal("the preview of totals changed main's")
	}
	other := mustRun(t, m, "totals", "other")
	if !hasWarning(other, "it has no branch other, so this run read main (snapshot "+strconv.FormatInt(mainOrders.SnapshotID, 10)) || sum(t, m, totalsTable, "total", other.SnapshotID) != 30 {
		t.Fatalf("totals on a branch orders lacks: %+v", other)
	}

	// A failing check blocks the preview: the branch stays, and promote refuses.
	m.Acts.Mesh = shop(previewModel+" UNION ALL SELECT 'c', 5", mesh.RowCount(0, 2))
	_, err := run(m, "orders", previewBranch)
	if err == nil || !strings.Contains(err.Error(), "row_count") || !strings.Contains(err.Error(), "branch preview of shop.orders_v1 stays as it was") {
		t.Fatalf("a blocked preview: %v", err)
	}
	if head := branchHead(t, m, ordersTable, previewBranch); head.ID != preview.SnapshotID {
		t.Fatalf("a blocked run moved the branch to %d", head.ID)
	}
	d, p, _ := m.Acts.Mesh.Find("shop.orders")
	_, err = flow.Promote(ctx, m.Ports, m.Acts.Lake, d, p, previewBranch, false)
	if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "was blocked by check(s) row_count") || !strings.Contains(err.Error(), "mesh run shop.orders --branch preview") {
		t.Fatalf("promote after a blocked run: %v", err)
	}

	// Main moves (its model drops a sale): promote refuses, naming both snapshots.
	m.Acts.Mesh = shop(ordersModel + " WHERE id = 'a'")
	moved := mustRun(t, m, "orders", "").SnapshotID
	m.Acts.Mesh = shop(previewModel)
	_, err = flow.Promote(ctx, m.Ports, m.Acts.Lake, d, p, previewBranch, false)
	for _, want := range []string{"made from snapshot " + strconv.FormatInt(mainOrders.SnapshotID, 10), "main is now at snapshot " + strconv.FormatInt(moved, 10), "mesh run shop.orders --branch preview"} {
		if !errs.Is(err, errs.Conflict) || !strings.Contains(err.Error(), want) {
			t.Fatalf("promote after main moved: %v; want a conflict saying %q", err, want)
		}
	}

	// Run on the branch again: it starts from main's new snapshot, and promotes.
	again := mustRun(t, m, "orders", previewBranch)
	if again.Unchanged || !hasWarning(again, "this publish makes branch preview again from snapshot "+strconv.FormatInt(moved, 10)) {
		t.Fatalf("the run on the branch after main moved: %+v", again)
	}
	promoted, err := flow.Promote(ctx, m.Ports, m.Acts.Lake, d, p, previewBranch, false)
	if err != nil || promoted.Snapshot.ID != again.SnapshotID || promoted.Previous != moved {
		t.Fatalf("promote = %+v, %v", promoted, err)
	}
	if current(t, m, ordersTable) != again.SnapshotID || sum(t, m, ordersTable, "amount", 0) != 60 {
		t.Fatal("main is not the promoted preview")
	}
	if _, ok, _ := m.Ports.Branch(ctx, port.TableID{Domain: "shop", Name: ordersTable}, previewBranch); ok {
		t.Fatal("the promoted branch was kept")
	}
	if _, err := flow.Promote(ctx, m.Ports, m.Acts.Lake, d, p, previewBranch, false); !errs.Is(err, errs.NotFound) || !strings.Contains(err.Error(), "mesh run shop.orders --branch preview") {
		t.Fatalf("promote of a branch that is gone: %v", err)
	}
}

// A branch may preview a breaking change, saying so; main refuses it, and so does
// Promote.
func TestBreakingChangeOnlyOnABranch(t *testing.T) {
	ctx := context.Background()
	m := flowtest.New(t, shop(ordersModel).Domains, map[string]source.Source{"till": till{}})
	mustRun(t, m, "orders", "")
	// amount is removed: a breaking change of orders_v1.
	narrow := shop("SELECT id FROM till.sales")
	narrow.Domains[0].Products[0].Schema = narrow.Domains[0].Products[0].Schema[:1]
	m.Acts.Mesh = narrow
	if _, err := run(m, "orders", ""); err == nil || !strings.Contains(err.Error(), "breaking change to the contract of shop.orders_v1 without a major version bump: field amount was removed") {
		t.Fatalf("main took a breaking change: %v", err)
	}
	res := mustRun(t, m, "orders", previewBranch)
	if !hasWarning(res, "branch preview previews a breaking change to the contract of shop.orders_v1: field amount was removed (or renamed); main refuses it, and so does mesh promote: bump shop.orders to 2.0.0") {
		t.Fatalf("the preview of a breaking change does not say so: %+v", res.Warnings)
	}
	d, p, _ := narrow.Find("shop.orders")
	if _, err := flow.Promote(ctx, m.Ports, m.Acts.Lake, d, p, previewBranch, false); !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "branch preview makes a breaking change to the contract of shop.orders_v1: field amount was removed") {
		t.Fatalf("promote of a breaking change: %v", err)
	}
}
