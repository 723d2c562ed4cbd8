// Package filestest runs a domain's products over its files source's sandbox, in
// process (framework/flow/flowtest), the sandbox's bucket served over HTTP — for the
// tests of the domains that keep a files source.
package filestest

import (
	"database/sql"
	"net/http/httptest"
	"testing"

	"github.com/meshflow/meshflow/dev/sandbox/bucket"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/flow/flowtest"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/source"
)

// Mesh is one domain on a fresh lake and catalog, reading its files source's sandbox.
type Mesh struct {
	*flowtest.Mesh
	domain  string
	sandbox *source.Imitation
	// Bucket is the sandbox's bucket: a test drops files into it.
	Bucket *bucket.API
}

// New starts the sandbox of conn (a source of d) with o and returns d reading it.
func New(t *testing.T, d mesh.Domain, conn source.Connector, o source.SandboxOptions) *Mesh {
	t.Helper()
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
	im := sb.(*source.Imitation)
	return &Mesh{Mesh: flowtest.New(t, []mesh.Domain{d}, map[string]source.Source{conn.Name: src}), domain: d.Name, sandbox: im, Bucket: im.API.(*bucket.API)}
}

// Change is the sandbox's change of about n files for the demo's second run.
func (m *Mesh) Change(n int) []string { return m.sandbox.ChangeSome(n) }

// Run runs one of the domain's products through RunProduct.
func (m *Mesh) Run(product string) flow.RunResult { return m.Mesh.Run(m.domain, product) }

// Query runs q over the current snapshot of one of the domain's port tables, a view
// named port in q.
func (m *Mesh) Query(table, q string) *sql.Rows { return m.Mesh.Query(m.domain, table, q) }
