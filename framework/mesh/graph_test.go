package mesh

import (
	"strings"
	"testing"

	"github.com/meshflow/meshflow/framework/errs"
)

// Products reading each other in a cycle are refused when the mesh is declared, with
// the cycle named; without one, Levels orders every product after what it reads.
func TestValidateRefusesACycle(t *testing.T) {
	m := selectMesh()
	levels, err := m.Levels()
	if err != nil || len(levels) < 2 || len(levels[0]) == 0 {
		t.Fatalf("levels %v, %v", levels, err)
	}
	n := 0
	for _, l := range levels {
		n += len(l)
	}
	if n != len(m.Products()) {
		t.Fatalf("levels %v hold %d products, want all %d", levels, n, len(m.Products()))
	}
	at := map[Ref]int{}
	for i, l := range levels {
		for _, r := range l {
			at[r] = i
		}
	}
	for _, e := range m.Products() {
		for _, in := range e.Product.Inputs {
			if !in.IsRaw() && at[Ref{in.Domain, in.Product}] >= at[e.Ref()] {
				t.Errorf("%s is at level %d, not after its input %s", e.Ref(), at[e.Ref()], in)
			}
		}
	}
	m.Domains[0].Products[1].Inputs = []Input{FromProduct("identity", "report")} // companies reads report, which reads companies
	err = m.Validate()
	if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "cycle (") || !strings.Contains(err.Error(), "marketing.companies") || !strings.Contains(err.Error(), "identity.report") {
		t.Fatalf("Validate over a cycle: %v", err)
	}
}
