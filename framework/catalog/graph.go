package catalog

import (
	"cmp"
	"context"
	"fmt"
	"html"
	"html/template"
	"net/http"
	"slices"
	"strings"

	"github.com/meshflow/meshflow/framework/mesh"
)

// The mesh graph: every product with what it reads and what reads it, drawn on the
// server as SVG (no JavaScript). GET /graph draws the whole mesh: the raw source
// streams in the first column, then each product in the column of its longest path
// from a source (mesh.Levels), in one horizontal band per domain. A product's page
// draws its neighbourhood the same way, a few hops up and down, centred on it.

// GraphNode is a product or a raw source stream in a drawing of the mesh.
type GraphNode struct {
	// ID is "domain.product", or "domain/source.stream" for a stream (each domain
	// lands its own copy of a stream).
	ID     string `json:"id"`
	Kind   string `json:"kind"` // "product" or "source"
	Domain string `json:"domain"`
	Name   string `json:"name"` // the product's name, or source.stream
	// Column is where the drawing puts the node, left to right: on /graph 0 holds the
	// source streams and each product sits one past the deepest product it reads.
	Column int `json:"column"`
	// State is a product's freshness in words: fresh, late, stale (freshness pass,
	// warn, fail) or unknown (never published).
	State     string      `json:"state,omitempty"`
	Freshness mesh.Status `json:"freshness,omitempty"`
	Quality   mesh.Status `json:"quality,omitempty"`
	LastRun   string      `json:"last_run,omitempty"` // the newest run's status
	// RunFailed: the newest run failed, a check blocked it or it waits for an input
	// whose run failed (LastRun.Failed); the drawing outlines the node red.
	RunFailed bool `json:"run_failed,omitempty"`
	Focus     bool `json:"focus,omitempty"` // the product whose page this is

	// Where the drawing puts it, and what it says.
	X, Y, W, H   int    `json:"-"`
	Label, Title string `json:"-"`
	Fill, Stroke string `json:"-"`
	StrokeWidth  string `json:"-"`
}

// Href is the node's page: the product's, or for a stream its domain's.
func (n GraphNode) Href() string {
	if n.Kind == "source" {
		return "/domains/" + n.Domain
	}
	return "/products/" + n.ID
}

// TextX, TextY and StateX place the node's label and state word.
func (n GraphNode) TextX() int  { return n.X + 8 }
func (n GraphNode) TextY() int  { return n.Y + n.H/2 + 4 }
func (n GraphNode) StateX() int { return n.X + n.W - 6 }

// GraphEdge is "To reads From".
type GraphEdge struct {
	From string `json:"from"`
	To   string `json:"to"`
	Path string `json:"-"` // the SVG path of its curve
}

// GraphBand is a domain's horizontal band in the drawing.
type GraphBand struct {
	Domain        string
	Y, H          int
	LabelY, Width int
}

// GraphColumn is a column's heading in the drawing.
type GraphColumn struct {
	X     int
	Label string
}

// Graph is a drawing of (part of) the mesh: its nodes and edges, sorted, with their
// places in an SVG of Width × Height.
type Graph struct {
	Nodes []GraphNode `json:"nodes"`
	Edges []GraphEdge `json:"edges"`

	Bands         []GraphBand   `json:"-"`
	Columns       []GraphColumn `json:"-"`
	Width, Height int           `json:"-"`
	Title         string        `json:"-"` // the SVG's accessible name
}

// States are the legend's entries, in order.
func (Graph) States() []GraphNode {
	var out []GraphNode
	for _, s := range []string{"fresh", "late", "stale", "unknown"} {
		n := GraphNode{Kind: "product", State: s}
		n.Fill, n.Stroke, n.StrokeWidth = nodeColours(n)
		out = append(out, n)
	}
	return out
}

// Drawing sizes, in SVG user units (px at 1:1).
const (
	graphMargin   = 12
	graphColW     = 296 // a column: a node and the gap its edges cross
	graphNodeW    = 246
	graphProductH = 26
	graphSourceH  = 20
	graphGap      = 8  // between nodes of a column
	graphBandHead = 22 // a band's domain label above its nodes
	graphBandGap  = 10
	graphHeadH    = 24 // the column headings
	// Characters of a label before it is cut with … (the full name is in its tooltip):
	// a product's leaves room for its state.
	graphLabelMax, graphSourceLabelMax = 25, 34
)

// Graph draws the whole mesh, each product coloured by the state the listings show
// (Search: the status index when the catalog keeps one), as the caller may see it.
func (c *Catalog) Graph(r *http.Request) (Graph, error) {
	levels, err := c.Mesh.Levels()
	if err != nil {
		return Graph{}, err
	}
	list, err := c.Search(r, Filter{})
	if err != nil {
		return Graph{}, err
	}
	states := make(map[string]Status, len(list))
	for _, s := range list {
		states[s.Domain+"."+s.Name] = s
	}
	entries := make(map[mesh.Ref]mesh.Entry, len(list))
	for _, d := range c.Mesh.Domains {
		for _, p := range d.Products {
			entries[mesh.Ref{Domain: d.Name, Product: p.Name}] = mesh.Entry{Domain: d, Product: p}
		}
	}
	g := newGraphBuilder()
	for i, refs := range levels {
		for _, ref := range refs {
			e := entries[ref]
			g.product(e, i+1, states)
			for _, in := range e.Product.Inputs {
				if in.IsRaw() {
					g.source(ref.Domain, in, 0)
					g.edge(sourceID(ref.Domain, in), ref.String())
				} else if _, ok := entries[mesh.Ref{Domain: in.Domain, Product: in.Product}]; ok {
					g.edge(in.String(), ref.String())
				}
			}
		}
	}
	out := g.layout(func(col int) string {
		if col == 0 {
			return "source streams"
		}
		return fmt.Sprintf("depth %d", col)
	})
	out.Title = fmt.Sprintf("The mesh: %d products in %d domains, what each reads and what reads it", len(entries), len(c.Mesh.Domains))
	return out, nil
}

// lineageHops is how far up and down a product's page draws its lineage.
const lineageHops = 3

// Lineage draws a product's neighbourhood: the products and source streams it reads
// up to hops away, and those reading it up to hops away, each coloured by its state
// as a listing shows it to the caller in ctx: from the status index when the catalog
// keeps one, else reading those products' status only.
func (c *Catalog) Lineage(ctx context.Context, name string, hops int) (Graph, error) {
	return c.lineage(ctx, name, hops, nil)
}

// lineage is Lineage, with the product's own status when the caller has it (its
// page, redacted for the caller there): read again, it would count as a listing.
func (c *Catalog) lineage(ctx context.Context, name string, hops int, self *Status) (Graph, error) {
	d, p, err := c.Mesh.Find(name)
	if err != nil {
		return Graph{}, err
	}
	focus := mesh.Ref{Domain: d.Name, Product: p.Name}
	entries := map[mesh.Ref]mesh.Entry{}
	inputs, readers := map[mesh.Ref][]mesh.Ref{}, map[mesh.Ref][]mesh.Ref{}
	for _, e := range c.Mesh.Products() {
		entries[e.Ref()] = e
	}
	for _, e := range c.Mesh.Products() {
		for _, in := range e.Product.Inputs {
			up := mesh.Ref{Domain: in.Domain, Product: in.Product}
			if _, ok := entries[up]; in.IsRaw() || !ok || slices.Contains(inputs[e.Ref()], up) {
				continue
			}
			inputs[e.Ref()] = append(inputs[e.Ref()], up)
			readers[up] = append(readers[up], e.Ref())
		}
	}
	up, down := within(focus, inputs, hops), within(focus, readers, hops)
	// Columns: upstream nodes at minus their longest path to the product inside the
	// drawing, downstream ones at their longest path from it, so every edge points right.
	col := map[mesh.Ref]int{focus: 0}
	var height func(ref mesh.Ref, next map[mesh.Ref][]mesh.Ref, in, memo map[mesh.Ref]int) int
	height = func(ref mesh.Ref, next map[mesh.Ref][]mesh.Ref, in, memo map[mesh.Ref]int) int {
		if ref == focus {
			return 0
		}
		if h, ok := memo[ref]; ok {
			return h
		}
		h := 0
		for _, n := range next[ref] {
			if _, ok := in[n]; ok || n == focus {
				h = max(h, height(n, next, in, memo)+1)
			}
		}
		memo[ref] = h
		return h
	}
	upMemo, downMemo := map[mesh.Ref]int{}, map[mesh.Ref]int{}
	for ref := range up {
		col[ref] = -height(ref, readers, up, upMemo)
	}
	for ref := range down {
		col[ref] = height(ref, inputs, down, downMemo)
	}
	states := map[string]Status{}
	for ref := range col {
		e := entries[ref]
		if ref == focus && self != nil {
			states[ref.String()] = *self
			continue
		}
		st, err := c.listingStatus(ctx, e.Domain, e.Product)
		if err != nil {
			return Graph{}, err
		}
		c.listed(ctx, e.Domain, e.Product, &st)
		states[ref.String()] = st
	}
	g := newGraphBuilder()
	for _, ref := range slices.SortedFunc(mapKeys(col), compareRefs) {
		e := entries[ref]
		g.product(e, col[ref], states)
		if ref == focus {
			g.nodes[ref.String()].Focus = true
		}
		for _, in := range e.Product.Inputs {
			if in.IsRaw() {
				// A stream is drawn for the product and those upstream of it within reach.
				if _, ok := up[ref]; ref == focus || ok && up[ref] < hops {
					g.source(ref.Domain, in, col[ref]-1)
					g.edge(sourceID(ref.Domain, in), ref.String())
				}
			} else if _, ok := col[mesh.Ref{Domain: in.Domain, Product: in.Product}]; ok {
				g.edge(in.String(), ref.String())
			}
		}
	}
	out := g.layout(func(c int) string {
		switch {
		case c == 0:
			return "this product"
		case c == -1:
			return "reads (1 hop up)"
		case c < 0:
			return fmt.Sprintf("%d hops up", -c)
		case c == 1:
			return "read by (1 hop down)"
		}
		return fmt.Sprintf("%d hops down", c)
	})
	out.Title = fmt.Sprintf("Lineage of %s: what it reads and what reads it, up to %d hops each way", focus, hops)
	return out, nil
}

// within returns the products reachable from ref through next in 1..hops steps,
// each with its fewest steps.
func within(ref mesh.Ref, next map[mesh.Ref][]mesh.Ref, hops int) map[mesh.Ref]int {
	dist := map[mesh.Ref]int{}
	frontier := []mesh.Ref{ref}
	for step := 1; step <= hops && len(frontier) > 0; step++ {
		var more []mesh.Ref
		for _, r := range frontier {
			for _, n := range next[r] {
				if _, seen := dist[n]; !seen && n != ref {
					dist[n] = step
					more = append(more, n)
				}
			}
		}
		frontier = more
	}
	return dist
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func compareRefs(a, b mesh.Ref) int {
	return cmp.Or(cmp.Compare(a.Domain, b.Domain), cmp.Compare(a.Product, b.Product))
}

func sourceID(domain string, in mesh.Input) string { return domain + "/" + in.String() }

// graphBuilder collects nodes and edges once each.
type graphBuilder struct {
	nodes map[string]*GraphNode
	edges map[GraphEdge]bool
}

func newGraphBuilder() *graphBuilder {
	return &graphBuilder{nodes: map[string]*GraphNode{}, edges: map[GraphEdge]bool{}}
}

func (g *graphBuilder) product(e mesh.Entry, col int, states map[string]Status) {
	ref := e.Ref().String()
	n := &GraphNode{ID: ref, Kind: "product", Domain: e.Domain.Name, Name: e.Product.Name, Column: col, State: "unknown", Freshness: mesh.StatusUnknown}
	st, ok := states[ref]
	if ok {
		n.Freshness, n.Quality = st.Freshness.Status, st.Quality.Status
		n.State = stateWord(st.Freshness.Status)
		if st.LastRun != nil {
			n.LastRun = st.LastRun.Status
		}
		n.RunFailed = st.LastRun.Failed()
	}
	title := []string{ref + ": " + n.State}
	switch {
	case !ok:
	case st.Freshness.PublishedAt == nil:
		title[0] += ", never published"
	default:
		title[0] += fmt.Sprintf(", published %s (late after %s, stale after %s)", st.Freshness.PublishedAt.UTC().Format(timeFormat), st.Freshness.WarnAfter, st.Freshness.FailAfter)
	}
	if n.Quality != "" {
		title = append(title, "quality "+string(n.Quality))
	}
	if n.LastRun != "" {
		title = append(title, "last run "+n.LastRun)
	} else if ok {
		title = append(title, "no run yet")
	}
	n.Title = strings.Join(title, "; ")
	g.nodes[ref] = n
}

func (g *graphBuilder) source(domain string, in mesh.Input, col int) {
	id := sourceID(domain, in)
	if n, ok := g.nodes[id]; ok {
		n.Column = min(n.Column, col)
		return
	}
	g.nodes[id] = &GraphNode{ID: id, Kind: "source", Domain: domain, Name: in.String(), Column: col,
		Title: "source stream " + in.String() + ", landed by the " + domain + " domain"}
}

func (g *graphBuilder) edge(from, to string) { g.edges[GraphEdge{From: from, To: to}] = true }

// stateWord names a freshness status as the graph's legend does.
func stateWord(s mesh.Status) string {
	switch s {
	case mesh.StatusPass:
		return "fresh"
	case mesh.StatusWarn:
		return "late"
	case mesh.StatusFail:
		return "stale"
	}
	return "unknown"
}

// nodeColours are a node's fill, outline and outline width: the fill says its
// freshness, a red thick outline a failed or blocked run.
func nodeColours(n GraphNode) (fill, stroke, width string) {
	if n.Kind == "source" {
		return "#ffffff", "#9aa4b2", "1"
	}
	fill = map[string]string{"fresh": "#c8ebd2", "late": "#ffe2a8", "stale": "#f7c1bc"}[n.State]
	if fill == "" {
		fill = "#e5e7eb"
	}
	stroke, width = "#6b7280", "1"
	if n.Focus {
		stroke, width = "#1d2330", "2.5"
	}
	if n.RunFailed {
		stroke, width = "#c62828", "3"
	}
	return fill, stroke, width
}

// layout places the nodes: one column per Column, one band per domain (sorted), in
// a band's column the nodes ordered by where what they read sits (then by name), so
// that edges cross less; and draws each edge as a curve from the right side of what
// is read to the left side of its reader.
func (g *graphBuilder) layout(heading func(col int) string) Graph {
	var out Graph
	if len(g.nodes) == 0 {
		out.Width, out.Height = 2*graphMargin+graphNodeW, graphHeadH+2*graphMargin
		return out
	}
	minCol, maxCol := 0, 0
	first := true
	domains := map[string]bool{}
	for _, n := range g.nodes {
		if first {
			minCol, maxCol, first = n.Column, n.Column, false
		}
		minCol, maxCol = min(minCol, n.Column), max(maxCol, n.Column)
		domains[n.Domain] = true
	}
	// What each node reads, for the ordering.
	preds := map[string][]string{}
	for e := range g.edges {
		preds[e.To] = append(preds[e.To], e.From)
	}
	// cells[domain][column] are a band's nodes in a column.
	cells := map[string]map[int][]*GraphNode{}
	for _, n := range g.nodes {
		if cells[n.Domain] == nil {
			cells[n.Domain] = map[int][]*GraphNode{}
		}
		cells[n.Domain][n.Column] = append(cells[n.Domain][n.Column], n)
	}
	bandH := func(ns []*GraphNode) int {
		h := 0
		for _, n := range ns {
			h += nodeHeight(n) + graphGap
		}
		return h
	}
	width := 2*graphMargin + (maxCol-minCol)*graphColW + graphNodeW
	y := graphMargin + graphHeadH
	centre := map[string]float64{} // placed nodes' vertical centres
	names := slices.Sorted(mapKeys(domains))
	tops := map[string]int{}
	for _, d := range names {
		h := 0
		for _, ns := range cells[d] {
			h = max(h, bandH(ns))
		}
		out.Bands = append(out.Bands, GraphBand{Domain: d, Y: y, H: graphBandHead + h, LabelY: y + 15, Width: width - 2*graphMargin + 8})
		tops[d] = y + graphBandHead
		y += graphBandHead + h + graphBandGap
	}
	for col := minCol; col <= maxCol; col++ {
		for _, d := range names {
			ns := cells[d][col]
			key := func(n *GraphNode) float64 {
				sum, k := 0.0, 0
				for _, p := range preds[n.ID] {
					if c, ok := centre[p]; ok {
						sum, k = sum+c, k+1
					}
				}
				if k == 0 {
					return -1
				}
				return sum / float64(k)
			}
			keys := map[*GraphNode]float64{}
			for _, n := range ns {
				keys[n] = key(n)
			}
			slices.SortFunc(ns, func(a, b *GraphNode) int {
				return cmp.Or(cmp.Compare(keys[a], keys[b]), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Name, b.Name))
			})
			ny := tops[d]
			for _, n := range ns {
				n.X, n.Y, n.W, n.H = graphMargin+(n.Column-minCol)*graphColW, ny, graphNodeW, nodeHeight(n)
				ny += n.H + graphGap
				centre[n.ID] = float64(n.Y) + float64(n.H)/2
				n.Label = n.Name
				limit := graphLabelMax
				if n.Kind == "source" {
					limit = graphSourceLabelMax
				}
				if r := []rune(n.Label); len(r) > limit {
					n.Label = string(r[:limit-1]) + "…"
				}
				n.Fill, n.Stroke, n.StrokeWidth = nodeColours(*n)
			}
		}
		out.Columns = append(out.Columns, GraphColumn{X: graphMargin + (col-minCol)*graphColW, Label: heading(col)})
	}
	placed := make([]*GraphNode, 0, len(g.nodes))
	for _, n := range g.nodes {
		placed = append(placed, n)
	}
	slices.SortFunc(placed, func(a, b *GraphNode) int {
		return cmp.Or(cmp.Compare(a.Column, b.Column), cmp.Compare(a.Y, b.Y), cmp.Compare(a.ID, b.ID))
	})
	out.Nodes = make([]GraphNode, len(placed))
	for i, n := range placed {
		out.Nodes[i] = *n
	}
	for e := range g.edges {
		from, to := g.nodes[e.From], g.nodes[e.To]
		x1, y1 := from.X+from.W, from.Y+from.H/2
		x2, y2 := to.X, to.Y+to.H/2
		dx := max((x2-x1)/2, 24)
		e.Path = fmt.Sprintf("M%d %dC%d %d %d %d %d %d", x1, y1, x1+dx, y1, x2-dx, y2, x2-2, y2)
		out.Edges = append(out.Edges, e)
	}
	slices.SortFunc(out.Edges, func(a, b GraphEdge) int { return cmp.Or(cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To)) })
	out.Width, out.Height = width, y-graphBandGap+graphMargin
	return out
}

func nodeHeight(n *GraphNode) int {
	if n.Kind == "source" {
		return graphSourceH
	}
	return graphProductH
}

// graphPage serves GET /graph.
func (c *Catalog) graphPage(w http.ResponseWriter, r *http.Request) {
	g, err := c.Graph(r)
	if err != nil {
		fail(w, err)
		return
	}
	render(w, "graph.html", g)
}

// apiGraph serves GET /api/graph: the nodes and edges as JSON.
func (c *Catalog) apiGraph(w http.ResponseWriter, r *http.Request) {
	g, err := c.Graph(r)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, g)
}

// drawLineage sets a shown product's Lineage; a product not found has none, and a
// lineage that cannot be read leaves the page its one-hop lists.
func (c *Catalog) drawLineage(ctx context.Context, det *Detail) {
	if det.Name == "" {
		return
	}
	if g, err := c.lineage(ctx, det.Domain+"."+det.Name, lineageHops, &det.Status); err == nil {
		det.Lineage = &g
	}
}

// SVG is the drawing, written directly rather than through html/template: a
// thousand products' nodes and edges took the template 30 ms a page. Every text and
// attribute value is HTML-escaped.
func (g Graph) SVG() template.HTML {
	var b strings.Builder
	b.Grow(1024 + 600*len(g.Nodes) + 150*len(g.Edges))
	esc := html.EscapeString
	fmt.Fprintf(&b, `<svg class="meshgraph" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" style="max-width:100%%;height:auto;background:#fff" aria-labelledby="graph-title" font-family="system-ui,sans-serif" font-size="12">`+"\n", g.Width, g.Height, g.Width, g.Height)
	fmt.Fprintf(&b, `<title id="graph-title">%s</title>`+"\n", esc(g.Title))
	b.WriteString(`<defs><marker id="graph-arrow" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="7" markerHeight="7" orient="auto"><path d="M0 0L8 4L0 8z" fill="#7b8494"/></marker></defs>` + "\n")
	for _, c := range g.Columns {
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#4b5563" font-weight="600">%s</text>`+"\n", c.X, graphMargin+12, esc(c.Label))
	}
	for _, d := range g.Bands {
		fmt.Fprintf(&b, `<g class="band"><rect x="6" y="%d" width="%d" height="%d" rx="6" fill="#f3f5f8" stroke="#e3e6ea"/><a href="/domains/%s"><text x="14" y="%d" fill="#1d2330" font-weight="700">%s</text></a></g>`+"\n",
			d.Y, d.Width, d.H, esc(d.Domain), d.LabelY, esc(d.Domain))
	}
	b.WriteString(`<g class="edges" fill="none" stroke="#7b8494" stroke-width="1.2" marker-end="url(#graph-arrow)">` + "\n")
	for _, e := range g.Edges {
		fmt.Fprintf(&b, `<path d="%s"><title>%s reads %s</title></path>`+"\n", e.Path, esc(e.To), esc(e.From))
	}
	b.WriteString("</g>\n")
	for _, n := range g.Nodes {
		class := "node " + n.Kind + " " + n.State
		if n.RunFailed {
			class += " run-failed"
		}
		if n.Focus {
			class += " focus"
		}
		title := esc(n.Title)
		fmt.Fprintf(&b, `<a class="%s" href="%s" aria-label="%s"><title>%s</title>`, strings.TrimSpace(class), esc(n.Href()), title, title)
		rx, extra, text := "5", "", ""
		if n.Kind == "source" {
			rx, extra, text = "10", ` stroke-dasharray="4 3"`, ` font-size="11" fill-opacity=".8"`
		}
		if n.Focus {
			text = ` font-weight="700"`
		}
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" rx="%s" fill="%s" stroke="%s" stroke-width="%s"%s/>`, n.X, n.Y, n.W, n.H, rx, n.Fill, n.Stroke, n.StrokeWidth, extra)
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#1d2330"%s>%s</text>`, n.TextX(), n.TextY(), text, esc(n.Label))
		if n.Kind == "product" {
			word := n.State
			if n.RunFailed {
				word = n.LastRun
			}
			fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" font-size="10" fill="#4b5563">%s</text>`, n.StateX(), n.TextY(), esc(word))
		}
		b.WriteString("</a>\n")
	}
	b.WriteString("</svg>")
	return template.HTML(b.String())
}
