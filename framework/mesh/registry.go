package mesh

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/meshflow/meshflow/framework/errs"
)

// Mesh is every domain the platform runs: the one explicit registry, built in
// domains/registry.go.
type Mesh struct {
	Domains []Domain
}

// Domain returns the named domain.
func (m Mesh) Domain(name string) (Domain, bool) {
	for _, d := range m.Domains {
		if d.Name == name {
			return d, true
		}
	}
	return Domain{}, false
}

// Ref is a product's full name.
type Ref struct{ Domain, Product string }

func (r Ref) String() string { return r.Domain + "." + r.Product }

// Find resolves "domain.product" or a bare product name (when unambiguous).
func (m Mesh) Find(name string) (Domain, Product, error) {
	var matches []Ref
	want := name
	wantDomain := ""
	if i := strings.IndexByte(name, '.'); i >= 0 {
		wantDomain, want = name[:i], name[i+1:]
	}
	var d0 Domain
	var p0 Product
	for _, d := range m.Domains {
		if wantDomain != "" && d.Name != wantDomain {
			continue
		}
		for _, p := range d.Products {
			if p.Name == want {
				matches = append(matches, Ref{d.Name, p.Name})
				d0, p0 = d, p
			}
		}
	}
	switch len(matches) {
	case 1:
		return d0, p0, nil
	case 0:
		return Domain{}, Product{}, errs.Errorf(errs.NotFound, "find product", "no product %q: `mesh products` lists them", name)
	}
	return Domain{}, Product{}, errs.Errorf(errs.Invalid, "find product", "%q is ambiguous (%v): name it as domain.product", name, matches)
}

// Entry is a product with its domain.
type Entry struct {
	Domain  Domain
	Product Product
}

// Ref is the entry's full name.
func (e Entry) Ref() Ref { return Ref{e.Domain.Name, e.Product.Name} }

// Products returns every product with its domain, sorted by domain then name.
func (m Mesh) Products() []Entry {
	var out []Entry
	for _, d := range m.Domains {
		for _, p := range d.Products {
			out = append(out, Entry{d, p})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Domain.Name != out[j].Domain.Name {
			return out[i].Domain.Name < out[j].Domain.Name
		}
		return out[i].Product.Name < out[j].Product.Name
	})
	return out
}

// Consumers returns the products that read p.
func (m Mesh) Consumers(domain, product string) []Ref {
	var out []Ref
	for _, d := range m.Domains {
		for _, p := range d.Products {
			for _, in := range p.Inputs {
				if !in.IsRaw() && in.Domain == domain && in.Product == product {
					out = append(out, Ref{d.Name, p.Name})
				}
			}
		}
	}
	return out
}

// TaggedColumn is a column of a product's port carrying a tag.
type TaggedColumn struct {
	Ref
	Column Column
}

// Tagged returns where each column tag appears across the mesh, by tag, in the order
// of Products and then of each schema: "every port with e-mail addresses".
func (m Mesh) Tagged() map[string][]TaggedColumn {
	out := map[string][]TaggedColumn{}
	for _, e := range m.Products() {
		for _, c := range e.Product.Schema {
			for _, t := range c.Tags {
				out[t] = append(out[t], TaggedColumn{Ref{e.Domain.Name, e.Product.Name}, c})
			}
		}
	}
	return out
}

// Validate checks every domain and that product inputs name products that exist,
// without cycles.
func (m Mesh) Validate() error {
	var problems []error
	seen := map[string]bool{}
	for _, d := range m.Domains {
		if seen[d.Name] {
			problems = append(problems, fmt.Errorf("domain %s is registered twice", d.Name))
		}
		seen[d.Name] = true
		if err := d.Validate(); err != nil {
			problems = append(problems, err)
		}
	}
	for _, d := range m.Domains {
		for _, p := range d.Products {
			for _, in := range p.Inputs {
				if in.IsRaw() {
					continue
				}
				_, up, err := m.Find(in.Domain + "." + in.Product)
				if err != nil {
					problems = append(problems, fmt.Errorf("product %s.%s reads %s, which is not declared", d.Name, p.Name, in))
					continue
				}
				// Restricted rows must not leak through lineage into a port anyone may read.
				if up.Classification == Restricted && p.Classification != Restricted {
					problems = append(problems, fmt.Errorf("product %s.%s reads restricted %s but is %s: classify it mesh.Restricted with AllowedGroups among %v",
						d.Name, p.Name, in, p.Classification, up.AllowedGroups))
				}
			}
		}
	}
	// A cycle would leave its products waiting for each other for ever.
	if _, err := m.Levels(); err != nil {
		problems = append(problems, err)
	}
	if len(problems) > 0 {
		return errs.E(errs.Invalid, "validate mesh", errors.Join(problems...))
	}
	return nil
}
