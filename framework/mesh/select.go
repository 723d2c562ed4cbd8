package mesh

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/agnivade/levenshtein"

	"github.com/meshflow/meshflow/framework/errs"
)

// Selection is what a list of selectors picks, as dbt users write them:
//
//	crm_companies          the product (domain.product, or its name when unambiguous)
//	crm_companies+         it and every product downstream of it
//	+crm_contacts          it and every product upstream of it
//	+crm_contacts+         both
//	domain:marketing       every product of the domain
//	tag:crm                every product tagged crm
//
// The + operators apply to domain: and tag: too; several selectors select their union.
// Products come in levels: a product's level is one past the deepest selected product
// it reads, so a level needs only the levels before it, and a level's products may run
// at once.
type Selection struct {
	Selectors []string
	Levels    [][]Selected
}

// Selected is one selected product: why it is selected, and what it waits for.
type Selected struct {
	Entry
	// Why says, per selector that picked it, how: "named (crm_contacts)",
	// "downstream of marketing.crm_companies (crm_companies+)", "tagged crm (tag:crm)".
	Why []string
	// After are the selected products it reads, directly or through products left
	// out of the selection: it may run only once they have.
	After []Ref
	// Reads are the products it reads that are not selected: it reads them as they
	// are published.
	Reads []Ref
}

// All is every selected product in dependency order (level by level, each sorted).
func (s Selection) All() []Selected {
	var out []Selected
	for _, l := range s.Levels {
		out = append(out, l...)
	}
	return out
}

// graph is the mesh's product-to-product edges, both ways.
type graph struct {
	m       Mesh
	entries map[Ref]Entry
	order   []Ref         // every product, sorted
	inputs  map[Ref][]Ref // the products each reads, in declaration order
	readers map[Ref][]Ref // the products that read each, sorted
}

func newGraph(m Mesh) graph {
	g := graph{m: m, entries: map[Ref]Entry{}, inputs: map[Ref][]Ref{}, readers: map[Ref][]Ref{}}
	for _, e := range m.Products() {
		g.entries[e.Ref()] = e
		g.order = append(g.order, e.Ref())
	}
	for _, ref := range g.order {
		for _, in := range g.entries[ref].Product.Inputs {
			up := Ref{in.Domain, in.Product}
			// An input naming no product is Validate's to report; a repeated one is one edge.
			if _, ok := g.entries[up]; in.IsRaw() || !ok || slices.Contains(g.inputs[ref], up) {
				continue
			}
			g.inputs[ref] = append(g.inputs[ref], up)
			g.readers[up] = append(g.readers[up], ref)
		}
	}
	return g
}

// Select resolves selectors (see Selection). A selector that matches nothing is an
// error (op "select") naming the closest product, domain or tag; so is one whose form
// is unknown. Products that read each other in a cycle are one too (op "order products").
func (m Mesh) Select(selectors ...string) (Selection, error) {
	if len(selectors) == 0 {
		return Selection{}, errs.Errorf(errs.Invalid, "select", "no selector: name a product, or select with product+, +product, domain:NAME or tag:NAME")
	}
	g := newGraph(m)
	why := map[Ref][]string{}
	add := func(ref Ref, reason string) {
		if !slices.Contains(why[ref], reason) {
			why[ref] = append(why[ref], reason)
		}
	}
	for _, sel := range selectors {
		seeds, how, up, down, err := g.parse(sel)
		if err != nil {
			return Selection{}, err
		}
		for _, s := range seeds {
			add(s, how+" ("+sel+")")
		}
		if up {
			g.walk(seeds, g.inputs, func(ref, from Ref) { add(ref, "upstream of "+from.String()+" ("+sel+")") })
		}
		if down {
			g.walk(seeds, g.readers, func(ref, from Ref) { add(ref, "downstream of "+from.String()+" ("+sel+")") })
		}
	}
	after := map[Ref][]Ref{}
	for ref := range why {
		after[ref] = g.selectedUpstreams(ref, why)
	}
	levels, err := levelsOf(g.order, after)
	if err != nil {
		return Selection{}, err
	}
	out := Selection{Selectors: selectors, Levels: make([][]Selected, len(levels))}
	for i, refs := range levels {
		for _, ref := range refs {
			s := Selected{Entry: g.entries[ref], Why: why[ref], After: after[ref]}
			for _, up := range g.inputs[ref] {
				if _, picked := why[up]; !picked {
					s.Reads = append(s.Reads, up)
				}
			}
			out.Levels[i] = append(out.Levels[i], s)
		}
	}
	return out, nil
}

// parse reads one selector: the products it names before any + applies, how they are
// named, and which ways + reaches from them.
func (g graph) parse(sel string) (seeds []Ref, how string, up, down bool, err error) {
	core := strings.TrimSpace(sel)
	core, up = strings.CutPrefix(core, "+")
	core, down = strings.CutSuffix(core, "+")
	fail := func(format string, args ...any) ([]Ref, string, bool, bool, error) {
		return nil, "", false, false, errs.Errorf(errs.Invalid, "select", "selector %q: "+format, append([]any{sel}, args...)...)
	}
	switch {
	case core == "":
		return fail("it names nothing: write a product, domain:NAME or tag:NAME, with + before (upstream) or after (downstream)")
	case strings.Contains(core, ","):
		return fail("intersections (a,b) are not supported: selectors separated by spaces select their union")
	case strings.Contains(core, "+"):
		return fail("+ goes only before a name (it and everything upstream) or after it (it and everything downstream): +NAME, NAME+ or +NAME+")
	}
	method, value, hasMethod := strings.Cut(core, ":")
	switch {
	case !hasMethod:
		d, p, ferr := g.m.Find(core)
		if ferr != nil {
			if errs.Is(ferr, errs.NotFound) {
				return fail("%s", g.noProduct(core))
			}
			return fail("%v", errors.Unwrap(ferr))
		}
		return []Ref{{d.Name, p.Name}}, "named", up, down, nil
	case method == "domain":
		for _, ref := range g.order {
			if ref.Domain == value {
				seeds = append(seeds, ref)
			}
		}
		if len(seeds) == 0 {
			return fail("no domain %q has products%s", value, didYouMean("domain:", value, g.domains()))
		}
		return seeds, "in domain " + value, up, down, nil
	case method == "tag":
		for _, ref := range g.order {
			if slices.Contains(g.entries[ref].Product.Tags, value) {
				seeds = append(seeds, ref)
			}
		}
		if len(seeds) == 0 {
			return fail("no product is tagged %q%s", value, didYouMean("tag:", value, g.tags()))
		}
		return seeds, "tagged " + value, up, down, nil
	}
	return fail("unknown method %q: select with a product name, domain:NAME or tag:NAME", method+":")
}

// noProduct says that no product is called name, and what the user may have meant:
// a domain or tag of that name, or the closest product.
func (g graph) noProduct(name string) string {
	msg := fmt.Sprintf("no product is called %q", name)
	switch {
	case slices.Contains(g.domains(), name):
		return msg + fmt.Sprintf("; %s is a domain: select it with domain:%s", name, name)
	case slices.Contains(g.tags(), name):
		return msg + fmt.Sprintf("; %s is a tag: select it with tag:%s", name, name)
	}
	var names []string
	for _, ref := range g.order {
		names = append(names, ref.String())
	}
	// A bare name is compared with the products' bare names, and suggested in full.
	if !strings.Contains(name, ".") {
		best := closest(name, productNames(g.order))
		if best != "" {
			for _, ref := range g.order {
				if ref.Product == best {
					return msg + fmt.Sprintf(": did you mean %s? (`mesh products` lists them)", ref)
				}
			}
		}
	} else if best := closest(name, names); best != "" {
		return msg + fmt.Sprintf(": did you mean %s? (`mesh products` lists them)", best)
	}
	return msg + ": `mesh products` lists them"
}

func productNames(refs []Ref) []string {
	var out []string
	for _, r := range refs {
		out = append(out, r.Product)
	}
	return out
}

func (g graph) domains() []string {
	var out []string
	for _, d := range g.m.Domains {
		out = append(out, d.Name)
	}
	slices.Sort(out)
	return out
}

func (g graph) tags() []string {
	var out []string
	for _, ref := range g.order {
		out = append(out, g.entries[ref].Product.Tags...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// didYouMean suggests the closest of known, or lists them all when none is close.
func didYouMean(prefix, value string, known []string) string {
	if best := closest(value, known); best != "" {
		return fmt.Sprintf(": did you mean %s%s?", prefix, best)
	}
	return fmt.Sprintf(": there are %s%s", prefix, strings.Join(known, ", "+prefix))
}

// closest is the known name nearest to name by edit distance, "" when even the nearest
// differs in more than a third of its letters (two edits are forgiven, but never as
// many as name has letters: "x" is not a typo of "bi").
func closest(name string, known []string) string {
	best, bestD := "", min(max(2, len(name)/3), len(name)-1)+1
	for _, k := range known {
		if d := levenshtein.ComputeDistance(name, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// walk visits every product reachable from seeds along next, once, in breadth-first
// order, with the seed it was reached from.
func (g graph) walk(seeds []Ref, next map[Ref][]Ref, visit func(ref, from Ref)) {
	seen := map[Ref]bool{}
	type step struct{ ref, from Ref }
	var queue []step
	for _, s := range seeds {
		seen[s] = true
		queue = append(queue, step{s, s})
	}
	for len(queue) > 0 {
		st := queue[0]
		queue = queue[1:]
		for _, n := range next[st.ref] {
			if !seen[n] {
				seen[n] = true
				visit(n, st.from)
				queue = append(queue, step{n, st.from})
			}
		}
	}
}

// selectedUpstreams are the selected products ref waits for: those it reads, and,
// through the products it reads that are not selected, the selected ones they read —
// as dbt keeps an order across the models a selection leaves out.
func (g graph) selectedUpstreams(ref Ref, selected map[Ref][]string) []Ref {
	var out []Ref
	seen := map[Ref]bool{ref: true}
	var visit func(r Ref)
	visit = func(r Ref) {
		for _, up := range g.inputs[r] {
			if seen[up] {
				continue
			}
			seen[up] = true
			if _, picked := selected[up]; picked {
				out = append(out, up)
			} else {
				visit(up)
			}
		}
	}
	visit(ref)
	return out
}

// levelsOf puts the products of after (each with the products it waits for) in
// levels: each one past the deepest product it waits for, each level in the order of
// order. Products that wait for each other in a cycle cannot be ordered; Validate
// should have refused them, and this names them.
func levelsOf(order []Ref, after map[Ref][]Ref) ([][]Ref, error) {
	depth := map[Ref]int{}
	const visiting = -1
	var path []Ref
	var visit func(ref Ref) error
	visit = func(ref Ref) error {
		switch d, ok := depth[ref]; {
		case ok && d == visiting:
			cycle := append(slices.Clone(path[slices.Index(path, ref):]), ref)
			names := make([]string, len(cycle))
			for j, r := range cycle {
				names[j] = r.String()
			}
			return errs.Errorf(errs.Invalid, "order products", "products read each other in a cycle (%s): no order runs them", strings.Join(names, " → "))
		case ok:
			return nil
		}
		depth[ref] = visiting
		path = append(path, ref)
		level := 0
		for _, up := range after[ref] {
			if err := visit(up); err != nil {
				return err
			}
			level = max(level, depth[up]+1)
		}
		path = path[:len(path)-1]
		depth[ref] = level
		return nil
	}
	var levels [][]Ref
	for _, ref := range order {
		if _, picked := after[ref]; !picked {
			continue
		}
		if err := visit(ref); err != nil {
			return nil, err
		}
		for len(levels) <= depth[ref] {
			levels = append(levels, nil)
		}
		levels[depth[ref]] = append(levels[depth[ref]], ref)
	}
	return levels, nil
}
