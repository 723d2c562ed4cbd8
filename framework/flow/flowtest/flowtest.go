// Package flowtest runs products in process for a domain's tests: the framework's
// RunProduct workflow (and the domains' own workflows) in Temporal's test
// environment with the real activities, over a file lake and a SQLite catalog, the
// sources reading their sandboxes over real HTTP. End-to-end tests on the dev
// server live in dev/stack; this is the fast path a domain's package tests take.
package flowtest

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	_ "gocloud.dev/blob/fileblob" // the test lake

	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
	"github.com/meshflow/meshflow/framework/source"
	"github.com/meshflow/meshflow/framework/transform"
)

// Mesh is some domains on a fresh lake and catalog, their sources those given.
type Mesh struct {
	t *testing.T
	// Acts are the framework's activities, as a worker builds them.
	Acts *flow.Activities
	// Ports is the catalog the runs publish to.
	Ports *port.Catalog
	runs  int
}

// New returns the domains reading sources (by connector name).
func New(t *testing.T, domains []mesh.Domain, sources map[string]source.Source) *Mesh {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	l, err := lake.Open(ctx, "file://"+filepath.Join(dir, "lake"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	ports, err := port.Open(ctx, port.Options{CatalogURI: "sqlite://" + filepath.Join(dir, "catalog.db"), Warehouse: "file://" + filepath.Join(dir, "warehouse")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ports.Close() })
	acts := &flow.Activities{Mesh: mesh.Mesh{Domains: domains}, Lake: l, Ports: ports, Sources: sources, WorkDir: t.TempDir()}
	return &Mesh{t: t, Acts: acts, Ports: ports}
}

// Execute runs a workflow of domain's worker — the framework's and the domain's own,
// registered as a worker registers them — to its end, into result.
func (m *Mesh) Execute(domain, workflowName string, input, result any) error {
	m.t.Helper()
	d, ok := m.domain(domain)
	if !ok {
		m.t.Fatalf("no domain %s in the test mesh", domain)
	}
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := s.NewTestWorkflowEnvironment()
	m.runs++
	// The real activities run inside the test environment's workflow task (DuckDB,
	// Parquet): on a loaded 2-core machine a task can outlast the 1 s deadlock
	// detector without any deadlock, so it waits a minute here.
	env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{&runNumber{n: m.runs}}, DeadlockDetectionTimeout: time.Minute})
	flow.Register(env, &flow.Workflows{Mesh: m.Acts.Mesh}, m.Acts, d)
	env.ExecuteWorkflow(workflowName, input)
	if err := env.GetWorkflowError(); err != nil {
		return err
	}
	return env.GetWorkflowResult(result)
}

func (m *Mesh) domain(name string) (mesh.Domain, bool) {
	for _, d := range m.Acts.Mesh.Domains {
		if d.Name == name {
			return d, true
		}
	}
	return mesh.Domain{}, false
}

// Run runs domain.product through RunProduct and returns its result; a failed run
// fails the test.
func (m *Mesh) Run(domain, product string) flow.RunResult {
	m.t.Helper()
	var res flow.RunResult
	if err := m.Execute(domain, flow.RunProductWorkflow, flow.RunInput{Domain: domain, Product: product}, &res); err != nil {
		m.t.Fatalf("run %s.%s: %v", domain, product, err)
	}
	return res
}

// Land runs the Land activity alone for one stream, as run runID (each landing its
// own, as Temporal gives each run its own).
func (m *Mesh) Land(domain, src, stream, runID string) flow.LandOutput {
	m.t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(m.Acts)
	v, err := env.ExecuteActivity(m.Acts.Land, flow.LandInput{Domain: domain, Source: src, Stream: stream, RunID: runID, SyncStart: time.Now()})
	if err != nil {
		m.t.Fatalf("land %s.%s: %v", src, stream, err)
	}
	var out flow.LandOutput
	if err := v.Get(&out); err != nil {
		m.t.Fatal(err)
	}
	return out
}

// Query runs q over the current snapshot of a port table (domain, table as the
// catalog names it: product_v<major>), a view named port in q.
func (m *Mesh) Query(domain, table, q string) *sql.Rows {
	m.t.Helper()
	return m.QueryAt(domain, table, 0, q)
}

// QueryAt is Query over snapshot snapshot of the port (0 = main's current), e.g. the
// head of a branch a preview run published.
func (m *Mesh) QueryAt(domain, table string, snapshot int64, q string) *sql.Rows {
	m.t.Helper()
	ctx := context.Background()
	// A port an incremental product merged into has delete files: the view applies them.
	files, err := m.Ports.LocalScan(ctx, port.TableID{Domain: domain, Name: table}, snapshot, m.t.TempDir())
	if err != nil {
		m.t.Fatal(err)
	}
	db, err := transform.Open(ctx, "", 0)
	if err != nil {
		m.t.Fatal(err)
	}
	m.t.Cleanup(func() { db.Close() })
	in := transform.PortInput{Domain: domain, Product: table, Files: files.Data, Locations: files.Locations, Deletes: files.PositionDeletes}
	if _, err := db.Exec("CREATE VIEW port AS " + transform.PortRows(in)); err != nil {
		m.t.Fatal(err)
	}
	rows, err := db.Query(q)
	if err != nil {
		m.t.Fatal(err)
	}
	return rows
}

// runNumber tells the landings of a Mesh's runs apart. Every test environment gives
// its workflow the run id "default-test-run-id" and numbers its activities from the
// start, so a second run's landing would write the files of the first's.
type runNumber struct {
	interceptor.WorkerInterceptorBase
	n int
}

func (r *runNumber) InterceptActivity(_ context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	return &numberedLanding{ActivityInboundInterceptorBase: interceptor.ActivityInboundInterceptorBase{Next: next}, n: r.n}
}

type numberedLanding struct {
	interceptor.ActivityInboundInterceptorBase
	n int
}

func (l *numberedLanding) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	for i, a := range in.Args {
		if li, ok := a.(flow.LandInput); ok {
			li.RunID = fmt.Sprintf("%s-%d", li.RunID, l.n)
			in.Args[i] = li
		}
	}
	return l.Next.ExecuteActivity(ctx, in)
}
