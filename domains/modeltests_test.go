package domains

import (
	"testing"

	"github.com/meshflow/meshflow/connectors"
	"github.com/meshflow/meshflow/framework/transform"
)

// Every model unit test a product declares (Product.Tests) returns its expected rows —
// what `mesh test` runs, failing here in the domain team's `go test ./domains/...`
// with the same diff, one subtest per test: -run 'TestModelTests/engineering.delivery_metrics'.
func TestModelTests(t *testing.T) {
	m := Mesh()
	tr, err := transform.NewTester(t.Context(), transform.Declare(m, connectors.Of(m)))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	for _, d := range m.Domains {
		for _, p := range d.Products {
			if len(p.Tests) == 0 {
				continue
			}
			t.Run(d.Name+"."+p.Name, func(t *testing.T) {
				for _, mt := range p.Tests {
					t.Run(mt.Name, func(t *testing.T) {
						r := tr.Run(t.Context(), d, p, mt)
						if r.Err != nil {
							t.Fatal(r.Err)
						}
						if r.Diff != "" {
							t.Errorf("%s\n%s", mt.Doc, r.Diff)
						}
					})
				}
			})
		}
	}
}
