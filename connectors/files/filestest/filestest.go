// Package filestest runs a domain's products over a files source's sandbox, in
// process: the framework's RunProduct workflow in Temporal's test environment with
// the real activities, a file lake, a SQLite catalog and the sandbox's bucket served
// over HTTP — for the tests of the domains that keep a files source.
package filestest

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	_ "gocloud.dev/blob/fileblob" // the test lake

	"github.com/meshflow/meshflow/dev/sandbox/bucket"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
	"github.com/meshflow/meshflow/framework/quality"
	"github.com/meshflow/meshflow/framework/source"
	"github.com/meshflow/meshflow/framework/transform"
)

// Mesh is one domain on a fresh lake and catalog, reading its files source's sandbox.
type Mesh struct {
	t       *testing.T
	domain  mesh.Domain
	acts    *flow.Activities
	ports   *port.Catalog
	sandbox source.Sandbox
	// Bucket is the sandbox's bucket: a test drops files into it.
	Bucket *bucket.API
	runs   int
}

// New starts the sandbox of conn (a source of d) with o and returns d reading it.
func New(t *testing.T, d mesh.Domain, conn source.Connector, o source.SandboxOptions) *Mesh {
	t.Helper()
	ctx := context.Background()
	sb, err := conn.Sandbox(o)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(sb)
	t.Cleanup(ts.Close)
	src, err := conn.Open(sb.Values(ts.URL))
	if err != nil {
		t.Fatal(err)
	}
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
	m := mesh.Mesh{Domains: []mesh.Domain{d}}
	acts := &flow.Activities{Mesh: m, Lake: l, Ports: ports, Sources: map[string]source.Source{conn.Name: src}, WorkDir: t.TempDir()}
	return &Mesh{t: t, domain: d, acts: acts, ports: ports, sandbox: sb, Bucket: sb.(*source.Imitation).API.(*bucket.API)}
}

// Change is the sandbox's change of about n files for the demo's second run.
func (m *Mesh) Change(n int) []string { return m.sandbox.(*source.Imitation).ChangeSome(n) }

// Run runs product through RunProduct and returns its result.
func (m *Mesh) Run(product string) flow.RunResult {
	m.t.Helper()
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := s.NewTestWorkflowEnvironment()
	m.runs++
	env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{&runNumber{n: m.runs}}})
	flow.Register(env, &flow.Workflows{Mesh: m.acts.Mesh}, m.acts, m.domain)
	env.ExecuteWorkflow(flow.RunProductWorkflow, flow.RunInput{Domain: m.domain.Name, Product: product})
	var res flow.RunResult
	if err := env.GetWorkflowError(); err != nil {
		m.t.Fatalf("run %s: %v", product, err)
	}
	if err := env.GetWorkflowResult(&res); err != nil {
		m.t.Fatal(err)
	}
	return res
}

// Query runs q over the current snapshot of the domain's port table, a view named
// port in q.
func (m *Mesh) Query(table, q string) *sql.Rows {
	m.t.Helper()
	ctx := context.Background()
	files, err := m.ports.LocalDataFiles(ctx, port.TableID{Domain: m.domain.Name, Name: table}, 0, m.t.TempDir())
	if err != nil {
		m.t.Fatal(err)
	}
	db, err := transform.Open(ctx, "", 0)
	if err != nil {
		m.t.Fatal(err)
	}
	m.t.Cleanup(func() { db.Close() })
	lits := make([]string, len(files))
	for i, f := range files {
		lits[i] = quality.Literal(f)
	}
	if _, err := db.Exec("CREATE VIEW port AS SELECT * FROM read_parquet([" + strings.Join(lits, ", ") + "])"); err != nil {
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
