package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/meshflow/meshflow/domains"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
	"github.com/meshflow/meshflow/framework/port/porttest"
)

// graphFixture serves the catalog of domains.Mesh() over an empty lake and catalog,
// and can publish a product's port and record a run for it.
type graphFixture struct {
	srv   *httptest.Server
	cat   *Catalog
	ports *port.Catalog
	lake  *lake.Lake
}

func newGraphFixture(t *testing.T) *graphFixture {
	t.Helper()
	l, ports := testStoresIn(t, t.TempDir())
	cat := &Catalog{Mesh: domains.Mesh(), Ports: ports, Lake: l}
	srv := httptest.NewServer(cat.Handler())
	t.Cleanup(srv.Close)
	return &graphFixture{srv: srv, cat: cat, ports: ports, lake: l}
}

// publish publishes one row to a product's port as published at the given time.
func (f *graphFixture) publish(t *testing.T, name string, at time.Time) {
	t.Helper()
	d, p, err := f.cat.Mesh.Find(name)
	if err != nil {
		t.Fatal(err)
	}
	sc := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.BinaryTypes.String}}, nil)
	porttest.PublishJSON(t, f.ports, port.TableID{Domain: d.Name, Name: p.PortName()}, sc, `[{"id": "a"}]`, port.PublishRequest{Mode: port.Replace{},
		SnapshotProperties: map[string]string{flow.PropPublishedAt: at.UTC().Format(time.RFC3339), flow.PropVersion: p.Version}})
}

// run records a product's newest run with the given status.
func (f *graphFixture) run(t *testing.T, domain, product, status string) {
	t.Helper()
	now := time.Now().UTC()
	r := flow.RunRecord{Domain: domain, Product: product, WorkflowID: domain + "." + product + "/current", RunID: "r1", Status: status,
		Error: "transform: the model failed", StartedAt: now, FinishedAt: now}
	if err := f.lake.PutJSON(context.Background(), fmt.Sprintf("runs/%s/%s/%d-r1.json", domain, product, now.UnixMilli()), r); err != nil {
		t.Fatal(err)
	}
}

// nodeOf returns the SVG link drawing a node: <a … href="href" …>…</a>.
func nodeOf(t *testing.T, page, href string) string {
	t.Helper()
	m := regexp.MustCompile(`<a class="node [^"]*" href="` + regexp.QuoteMeta(href) + `"[^>]*>.*?</a>`).FindString(page)
	if m == "" {
		t.Fatalf("no node linking to %s in:\n%.3000s", href, page)
	}
	return m
}

func TestGraphPageDrawsEveryProductAndWhatItReads(t *testing.T) {
	f := newGraphFixture(t)
	code, page := get(t, f.srv.URL+"/graph")
	if code != 200 || !strings.Contains(page, `<svg class="meshgraph"`) || !regexp.MustCompile(`viewBox="0 0 \d+ \d+"`).MatchString(page) {
		t.Fatalf("graph page %d:\n%.2000s", code, page)
	}
	for _, e := range domains.Mesh().Products() {
		n := nodeOf(t, page, "/products/"+e.Ref().String())
		if !strings.Contains(n, "<title>"+e.Ref().String()+": unknown, never published") {
			t.Errorf("node of %s has no tooltip saying its state: %s", e.Ref(), n)
		}
	}
	for _, want := range []string{
		`<title>engineering.delivery_metrics reads engineering.jira_issues</title>`,
		`<title>metrics.delivery_quarterly reads engineering.delivery_metrics</title>`,
		`<title>marketing.crm_contacts reads marketing/hubspot.contacts</title>`, // a raw stream, as its own node
		`>hubspot.contacts</text>`,
		`<a href="/domains/engineering"><text`, // the domain's band label
		`aria-label="legend"`, `href="/graph"`, // the legend, the header's link
	} {
		if !strings.Contains(page, want) {
			t.Errorf("graph page lacks %s", want)
		}
	}
	if _, again := get(t, f.srv.URL+"/graph"); again != page {
		t.Error("the graph page differs between two requests of the same mesh")
	}

	// The JSON: sources in column 0, each product past every product it reads.
	code, body := get(t, f.srv.URL+"/api/graph")
	var g struct {
		Nodes []GraphNode `json:"nodes"`
		Edges []GraphEdge `json:"edges"`
	}
	if err := json.Unmarshal([]byte(body), &g); err != nil || code != 200 {
		t.Fatalf("/api/graph %d: %v %.500s", code, err, body)
	}
	col := map[string]int{}
	products := 0
	for _, n := range g.Nodes {
		col[n.ID] = n.Column
		if n.Kind == "source" && n.Column != 0 {
			t.Errorf("source stream %s in column %d, want 0", n.ID, n.Column)
		}
		if n.Kind == "product" {
			products++
		}
	}
	if products != len(domains.Mesh().Products()) {
		t.Errorf("/api/graph has %d products, the mesh %d", products, len(domains.Mesh().Products()))
	}
	for _, e := range g.Edges {
		if col[e.From] >= col[e.To] {
			t.Errorf("edge %s → %s goes from column %d to %d", e.From, e.To, col[e.From], col[e.To])
		}
	}
	if a, b, c := col["engineering.jira_issues"], col["engineering.delivery_metrics"], col["metrics.delivery_quarterly"]; !(0 < a && a < b && b < c) {
		t.Errorf("columns jira_issues %d, delivery_metrics %d, delivery_quarterly %d: want increasing past the sources", a, b, c)
	}
}

func TestGraphColoursEachProductByItsState(t *testing.T) {
	f := newGraphFixture(t)
	now := time.Now()
	f.publish(t, "engineering.jira_issues", now)                       // fresh
	f.publish(t, "marketing.crm_companies", now.Add(-30*24*time.Hour)) // stale
	f.run(t, "engineering", "delivery_metrics", flow.StatusFailed)     // never published, its run failed
	_, page := get(t, f.srv.URL+"/graph")

	fresh := nodeOf(t, page, "/products/engineering.jira_issues")
	if !strings.Contains(fresh, `class="node product fresh"`) || !strings.Contains(fresh, `fill="#c8ebd2"`) || !strings.Contains(fresh, "<title>engineering.jira_issues: fresh, published ") ||
		!strings.Contains(fresh, ">fresh</text>") {
		t.Errorf("the published product is not drawn fresh: %s", fresh)
	}
	stale := nodeOf(t, page, "/products/marketing.crm_companies")
	if !strings.Contains(stale, `class="node product stale"`) || !strings.Contains(stale, `fill="#f7c1bc"`) {
		t.Errorf("the product published 30 days ago is not drawn stale: %s", stale)
	}
	failed := nodeOf(t, page, "/products/engineering.delivery_metrics")
	if !strings.Contains(failed, "run-failed") || !strings.Contains(failed, `stroke="#c62828" stroke-width="3"`) || !strings.Contains(failed, "last run failed") ||
		!strings.Contains(failed, ">failed</text>") {
		t.Errorf("the product whose run failed is not outlined red: %s", failed)
	}
	if _, again := get(t, f.srv.URL+"/graph"); again != page {
		t.Error("the graph page of published products differs between two requests")
	}
	if other := nodeOf(t, page, "/products/engineering.github_commits"); strings.Contains(other, "#c62828") || !strings.Contains(other, `fill="#e5e7eb"`) {
		t.Errorf("an unpublished product without runs is not drawn grey: %s", other)
	}
}

func TestProductPageShowsLineageSeveralHopsDeep(t *testing.T) {
	f := newGraphFixture(t)
	f.publish(t, "engineering.jira_issues", time.Now())
	_, page := get(t, f.srv.URL+"/products/metrics.delivery_quarterly")
	_, lineage, ok := strings.Cut(page, "<h2>Lineage</h2>")
	if !ok {
		t.Fatalf("no lineage on the product page:\n%.2000s", page)
	}
	lineage, _, _ = strings.Cut(lineage, "<h2>")
	focus := nodeOf(t, lineage, "/products/metrics.delivery_quarterly")
	if !strings.Contains(focus, " focus") || !strings.Contains(focus, `font-weight="700"`) {
		t.Errorf("the product itself is not marked in its lineage: %s", focus)
	}
	nodeOf(t, lineage, "/products/engineering.delivery_metrics")
	if n := nodeOf(t, lineage, "/products/engineering.jira_issues"); !strings.Contains(n, `fill="#c8ebd2"`) { // 2 hops up, coloured fresh
		t.Errorf("jira_issues, 2 hops up, is not drawn fresh: %s", n)
	}
	for _, want := range []string{">2 hops up</text>", ">reads (1 hop up)</text>", ">this product</text>", ">jira.issues</text>",
		`<title>engineering.delivery_metrics reads engineering.jira_issues</title>`} {
		if !strings.Contains(lineage, want) {
			t.Errorf("lineage lacks %s:\n%s", want, lineage)
		}
	}

	// The same from the other end: two hops down.
	g, err := f.cat.Lineage(context.Background(), "engineering.jira_issues", lineageHops)
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for _, n := range g.Nodes {
		col[n.ID] = n.Column
	}
	if col["engineering.jira_issues"] != 0 || col["engineering.delivery_metrics"] != 1 || col["metrics.delivery_quarterly"] != 2 || col["engineering/jira.issues"] != -1 {
		t.Errorf("jira_issues' lineage columns: %v", col)
	}
	if _, ok := col["marketing.crm_contacts"]; ok {
		t.Errorf("an unrelated product is in jira_issues' lineage: %v", col)
	}
	_, again := get(t, f.srv.URL+"/products/metrics.delivery_quarterly")
	if _, l2, _ := strings.Cut(again, "<h2>Lineage</h2>"); !strings.HasPrefix(l2, lineage) {
		t.Errorf("the lineage differs between two requests:\n%s\n%s", lineage, l2)
	}
}

// BenchmarkGraphPage draws the graph of 1,000 declared products (unpublished: the
// cost measured is the catalog's listing plus the drawing, per request).
func BenchmarkGraphPage(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	l, ports := testStoresIn(b, dir)
	m := thousand()
	// A chain inside each domain, so that the drawing has product edges and depth.
	for d := range m.Domains {
		for p := 1; p < len(m.Domains[d].Products); p += 2 {
			prev := m.Domains[d].Products[p-1].Name
			m.Domains[d].Products[p].Inputs = append(m.Domains[d].Products[p].Inputs, mesh.FromProduct(m.Domains[d].Name, prev))
		}
	}
	live := &Catalog{Mesh: m, Ports: ports, Lake: l}
	indexed := &Catalog{Mesh: m, Ports: ports, Lake: l}
	indexCtx, stop := context.WithCancel(ctx)
	defer stop()
	indexed.StartIndex(indexCtx, &StatusIndex{Every: time.Hour})
	for _, cat := range []struct {
		name string
		c    *Catalog
	}{{"index", indexed}, {"live", live}} {
		h := cat.c.Handler()
		for _, path := range []string{"/graph", "/api/graph"} {
			b.Run(cat.name+path, func(b *testing.B) {
				for b.Loop() {
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
					if rec.Code != 200 {
						b.Fatalf("%s: %d %.500s", path, rec.Code, rec.Body.String())
					}
				}
			})
		}
	}
}

// The graph shows a restricted product's state to anyone, as the home page does, but
// nothing its data or run errors quote.
func TestGraphShowsRestrictedProductsWithoutTheirData(t *testing.T) {
	f := newAccessFixture(t)
	// leads reads the restricted deals: its page draws deals in its lineage.
	leads := &f.cat.Mesh.Domains[0].Products[1]
	leads.Inputs = append(leads.Inputs, mesh.FromProduct("sales", "deals"))
	for _, path := range []string{"/graph", "/api/graph", "/products/sales.leads"} {
		resp, body := f.do(t, "GET", path, "", nil, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %.500s", path, resp.StatusCode, body)
		}
		noSecrets(t, path, body)
	}
	_, page := f.do(t, "GET", "/graph", "", nil, nil)
	if n := nodeOf(t, page, "/products/sales.deals"); !strings.Contains(n, "run-failed") || !strings.Contains(n, "last run failed") {
		t.Errorf("the restricted product's failed run is not drawn: %s", n)
	}
	_, page = f.do(t, "GET", "/products/sales.leads", "", nil, nil)
	_, lineage, _ := strings.Cut(page, "<h2>Lineage</h2>")
	if n := nodeOf(t, lineage, "/products/sales.deals"); !strings.Contains(n, "run-failed") || !strings.Contains(lineage, "<title>sales.leads reads sales.deals</title>") {
		t.Errorf("leads' lineage does not draw the restricted deals it reads, with its failed run: %s", n)
	}
}
