package lineage_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	_ "gocloud.dev/blob/fileblob"

	"github.com/meshflow/meshflow/dev/stack"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/lineage"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
	"github.com/meshflow/meshflow/framework/source"
)

const apiKey = "openlineage-key-e2e"

// ordersSource is a connector "shop_api" with one stream, "orders", of three orders.
type ordersSource struct{}

func (ordersSource) Name() string                    { return "shop_api" }
func (s ordersSource) Streams() []source.Stream      { return []source.Stream{s} }
func (ordersSource) Check(ctx context.Context) error { return nil }
func (ordersSource) Spec() source.StreamSpec {
	return source.StreamSpec{Name: "orders", PrimaryKey: []string{"id"}, Fields: []source.Field{
		{Name: "id", Type: source.String, Path: []string{"id"}, Doc: "order id"},
		{Name: "customer", Type: source.String, Path: []string{"customer"}, Doc: "who ordered"},
		{Name: "amount", Type: source.Int64, Path: []string{"amount"}, Doc: "cents"},
	}}
}
func (ordersSource) NextPage(context.Context, source.PageRequest) (source.Page, error) {
	return source.Page{Done: true, Next: json.RawMessage(`{"v":1}`), Records: []json.RawMessage{
		json.RawMessage(`{"id":"o1","customer":"ada","amount":1200}`),
		json.RawMessage(`{"id":"o2","customer":"bob","amount":800}`),
		json.RawMessage(`{"id":"o3","customer":"ada","amount":300}`),
	}}, nil
}

// shop: orders from the raw stream, totals per customer from the orders port, and a
// product whose model names a column nobody has (its runs fail).
func shop() mesh.Domain {
	product := func(name, model string, in mesh.Input, schema ...mesh.Column) mesh.Product {
		return mesh.Product{Name: name, Version: "1.0.0", Description: "The shop's " + name + ".", Inputs: []mesh.Input{in}, Model: model,
			Schema: schema, PrimaryKey: []string{schema[0].Name}, Classification: mesh.Internal, Cadence: "@daily",
			Freshness: mesh.Freshness{WarnAfter: time.Hour, FailAfter: 2 * time.Hour}}
	}
	return mesh.Domain{Name: "shop", Owner: "shop-team", Products: []mesh.Product{
		product("orders", "SELECT id, customer, amount FROM shop_api.orders", mesh.Raw("shop_api", "orders"),
			mesh.Column{Name: "id", Type: mesh.String, Doc: "order"}, mesh.Column{Name: "customer", Type: mesh.String, Doc: "who"},
			mesh.Column{Name: "amount", Type: mesh.Int64, Doc: "cents"}),
		product("customer_totals", "SELECT customer, sum(amount)::BIGINT AS total FROM shop.orders GROUP BY customer", mesh.FromProduct("shop", "orders"),
			mesh.Column{Name: "customer", Type: mesh.String, Doc: "who"}, mesh.Column{Name: "total", Type: mesh.Int64, Doc: "cents"}),
		product("broken", "SELECT id, no_such_column FROM shop_api.orders", mesh.Raw("shop_api", "orders"),
			mesh.Column{Name: "id", Type: mesh.String, Doc: "order"}),
	}}
}

// received is one event as the receiver got it.
type received struct {
	Type  lineage.EventType
	RunID string
	Job   string
	Body  []byte
}

// receiver is a Marquez-compatible endpoint (POST /api/v1/lineage) that checks the
// API key and keeps every event. It listens on addr when started, and can stop
// (down: nothing listens) and start again on the same address.
type receiver struct {
	t    *testing.T
	addr string
	mu   sync.Mutex
	got  []received
	srv  *http.Server
}

func newReceiver(t *testing.T) *receiver {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // down until start
	return &receiver{t: t, addr: addr}
}

func (r *receiver) url() string { return "http://" + r.addr }

func (r *receiver) start() {
	ln, err := net.Listen("tcp", r.addr)
	if err != nil {
		r.t.Fatalf("the receiver cannot listen on %s again: %v", r.addr, err)
	}
	r.srv = &http.Server{Handler: r}
	go r.srv.Serve(ln)
	r.t.Cleanup(func() { r.srv.Close() })
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost || req.URL.Path != lineage.Endpoint {
		r.t.Errorf("unexpected request %s %s", req.Method, req.URL.Path)
		http.NotFound(w, req)
		return
	}
	if got := req.Header.Get("Authorization"); got != "Bearer "+apiKey {
		r.t.Errorf("Authorization %q, want the API key as a Bearer token", got)
	}
	body, _ := io.ReadAll(req.Body)
	var ev struct {
		EventType lineage.EventType
		Run       struct{ RunID string }
		Job       struct{ Name string }
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		r.t.Errorf("event %s: %v", body, err)
	}
	r.mu.Lock()
	r.got = append(r.got, received{ev.EventType, ev.Run.RunID, ev.Job.Name, body})
	r.mu.Unlock()
	w.WriteHeader(http.StatusCreated) // as Marquez answers
}

// of returns the events received for run id, in order.
func (r *receiver) of(runID string) []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []received
	for _, g := range r.got {
		if g.RunID == runID {
			out = append(out, g)
		}
	}
	return out
}

// TestRunEventsReachTheReceiverOnTheDevServer runs real product runs on the Temporal
// dev server with a worker as workers/host builds it: a run whose receiver is down
// publishes all the same, and the receiver gets its START then COMPLETE once each when
// it is back; a run reading another product's port and a failing run send START then
// COMPLETE, and START then FAIL. Every event validates against the OpenLineage schemas.
func TestRunEventsReachTheReceiverOnTheDevServer(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: needs bin/temporal")
	}
	spec := loadSpec(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	st, err := stack.Start(ctx, stack.Options{NoSandbox: true, Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Stop() })
	dir := t.TempDir()
	l, err := lake.Open(ctx, "file://"+filepath.Join(dir, "lake"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	warehouse := "file://" + filepath.Join(dir, "warehouse")
	ports, err := port.Open(ctx, port.Options{CatalogURI: "sqlite://" + filepath.Join(dir, "catalog.db"), Warehouse: warehouse})
	if err != nil {
		t.Fatal(err)
	}
	defer ports.Close()

	rcv := newReceiver(t)
	sender := lineage.New(st.Client, lineage.Config{URL: rcv.url(), APIKey: apiKey, Warehouse: warehouse,
		// A receiver that is down is retried every 50–200 ms here, not 10 s–5 min.
		RetryInterval: 50 * time.Millisecond, RetryMaxInterval: 200 * time.Millisecond}, nil)
	d := shop()
	m := mesh.Mesh{Domains: []mesh.Domain{d}}
	acts := &flow.Activities{Mesh: m, Lake: l, Ports: ports, Sources: map[string]source.Source{"shop_api": ordersSource{}},
		// No Client: a publish triggers no other run here, so each run is the test's.
		WorkDir: t.TempDir(), Lineage: sender}
	w := worker.New(st.Client, d.TaskQueue(), worker.Options{})
	flow.Register(w, &flow.Workflows{Mesh: m}, acts, d)
	lineage.Register(w, sender)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	// run runs a product to its end and returns its OpenLineage run id.
	run := func(product string, wantErr bool) string {
		t.Helper()
		r, err := st.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: flow.WorkflowID("shop", product, ""), TaskQueue: d.TaskQueue()},
			flow.RunProductWorkflow, flow.RunInput{Domain: "shop", Product: product})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Get(ctx, nil); (err != nil) != wantErr {
			t.Fatalf("run %s: %v", product, err)
		}
		return lineage.RunID(r.GetID(), r.GetRunID())
	}
	// events waits for the run's lineage workflow to end, then returns what the
	// receiver got for it.
	events := func(runID string) []received {
		t.Helper()
		if err := st.Client.GetWorkflow(ctx, lineage.WorkflowID(runID), "").Get(ctx, nil); err != nil {
			t.Fatalf("lineage workflow of %s: %v", runID, err)
		}
		return rcv.of(runID)
	}
	check := func(what string, got []received, want ...lineage.EventType) {
		t.Helper()
		var types []lineage.EventType
		for _, g := range got {
			types = append(types, g.Type)
			for _, u := range spec.validate(t, g.Body) {
				if !slices.Contains(notInSharedSpec, u) {
					t.Errorf("%s: facet %s has no schema in the shared spec data", what, u)
				}
			}
		}
		if !slices.Equal(types, want) {
			t.Fatalf("%s: the receiver got %v, want %v once each", what, types, want)
		}
	}

	// The receiver is down: the run publishes all the same, and its events wait.
	orders := run("orders", false)
	waitForRetries(ctx, t, st.Client, lineage.WorkflowID(orders))
	if got := rcv.of(orders); len(got) != 0 {
		t.Fatalf("a receiver that is down got %v", got)
	}
	rcv.start()
	got := events(orders)
	check("orders, receiver down at first", got, lineage.Start, lineage.Complete)
	var complete lineage.RunEvent
	if err := json.Unmarshal(got[1].Body, &complete); err != nil {
		t.Fatal(err)
	}
	if complete.Job.Name != "shop.orders" || complete.Job.Namespace != lineage.DefaultNamespace {
		t.Errorf("job %+v", complete.Job)
	}
	in := complete.Inputs[0]
	lakeURL, _, _ := strings.Cut(l.URL, "?")
	if in.Name != "raw/shop/shop_api/orders" || in.Namespace != lakeURL || in.InputFacets.InputStatistics.RowCount != 3 {
		t.Errorf("input %s %s, statistics %+v; want the raw stream in the lake, 3 rows landed", in.Namespace, in.Name, in.InputFacets.InputStatistics)
	}
	out := complete.Outputs[0]
	if out.Name != "shop.orders_v1" || out.Namespace != warehouse || out.OutputFacets.OutputStatistics.RowCount != 3 || out.Facets.Version == nil {
		t.Errorf("output %s %s, facets %+v %+v; want the port with 3 rows and its snapshot", out.Namespace, out.Name, out.OutputFacets, out.Facets)
	}
	var mapped []string
	for c := range out.Facets.ColumnLineage.Fields {
		mapped = append(mapped, c)
	}
	slices.Sort(mapped)
	if !slices.Equal(mapped, []string{"amount", "customer", "id"}) {
		t.Errorf("column lineage of %v, want every column (each named as a column of the one raw input)", mapped)
	}

	// A late duplicate of a sent event (a retried hand-over) is not sent again: the
	// run's lineage workflow, closed, does not start again.
	before, err := st.Client.DescribeWorkflowExecution(ctx, lineage.WorkflowID(orders), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := sender.Emit(ctx, d.TaskQueue(), complete); err != nil {
		t.Fatalf("emit again: %v", err)
	}
	after, err := st.Client.DescribeWorkflowExecution(ctx, lineage.WorkflowID(orders), "")
	if err != nil {
		t.Fatal(err)
	}
	if b, a := before.GetWorkflowExecutionInfo(), after.GetWorkflowExecutionInfo(); a.GetExecution().GetRunId() != b.GetExecution().GetRunId() ||
		a.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		t.Errorf("after a late duplicate the lineage workflow is run %s (%s), was %s: it started again", a.GetExecution().GetRunId(), a.GetStatus(), b.GetExecution().GetRunId())
	}

	// A product reading the orders port; its total is computed, its customer mapped.
	ordersVersion := out.Facets.Version.DatasetVersion
	totals := run("customer_totals", false)
	got = events(totals)
	check("customer_totals", got, lineage.Start, lineage.Complete)
	complete = lineage.RunEvent{}
	if err := json.Unmarshal(got[1].Body, &complete); err != nil {
		t.Fatal(err)
	}
	if in := complete.Inputs[0]; in.Name != "shop.orders_v1" || in.Namespace != warehouse || in.Facets.Version == nil ||
		in.Facets.Version.DatasetVersion != ordersVersion || in.InputFacets == nil || in.InputFacets.InputStatistics.RowCount != 3 {
		t.Errorf("input %s %s, facets %+v %+v; want the orders port at the snapshot the orders run published (%s), 3 rows", in.Namespace, in.Name, in.Facets, in.InputFacets, ordersVersion)
	}
	cl := complete.Outputs[0].Facets.ColumnLineage.Fields
	if f := cl["customer"].InputFields; len(f) != 1 || f[0].Name != "shop.orders_v1" || f[0].Field != "customer" || len(cl) != 1 {
		t.Errorf("column lineage %+v, want customer from shop.orders_v1 alone", cl)
	}

	// A run that fails: START, then FAIL with the reason.
	broken := run("broken", true)
	got = events(broken)
	check("broken", got, lineage.Start, lineage.Fail)
	var fail lineage.RunEvent
	if err := json.Unmarshal(got[1].Body, &fail); err != nil {
		t.Fatal(err)
	}
	if fail.Run.Facets == nil || !strings.Contains(fail.Run.Facets.ErrorMessage.Message, "no_such_column") {
		t.Errorf("FAIL run facets %+v, want the transform's error", fail.Run.Facets)
	}

	if got := rcv.of(orders); len(got) != 2 {
		t.Errorf("after a late duplicate, the receiver has %d events of the orders run, want 2", len(got))
	}
	rcv.mu.Lock()
	total := len(rcv.got)
	rcv.mu.Unlock()
	if total != 6 {
		t.Errorf("the receiver got %d events, want 6: two of each of the three runs", total)
	}
}

// waitForRetries waits until workflow id's delivery has failed at least twice (the
// receiver is down), as the server reports its pending activity.
func waitForRetries(ctx context.Context, t *testing.T, c client.Client, id string) {
	t.Helper()
	for {
		desc, err := c.DescribeWorkflowExecution(ctx, id, "")
		if err == nil {
			for _, pa := range desc.GetPendingActivities() {
				if pa.GetAttempt() >= 3 {
					return
				}
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the lineage workflow %s never retried a delivery: %v", id, err)
		case <-time.After(50 * time.Millisecond): // polling the server's state, not synchronising
		}
	}
}
