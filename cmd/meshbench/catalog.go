package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/meshflow/meshflow/framework/catalog"
	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
)

// generatedMesh declares n products over up to 10 domains, the way the catalog's own
// benchmark does (framework/catalog/web_bench_test.go).
func generatedMesh(n int) mesh.Mesh {
	var m mesh.Mesh
	domains := min(10, n)
	for d := range domains {
		dom := mesh.Domain{Name: fmt.Sprintf("domain_%d", d), Owner: fmt.Sprintf("team-%d", d)}
		per := n / domains
		if d < n%domains {
			per++
		}
		for p := range per {
			dom.Products = append(dom.Products, mesh.Product{
				Name: fmt.Sprintf("product_%03d", p), Description: "A generated product. It exists to load the catalog.",
				Version: "1.0.0", Tags: []string{"bench"}, Cadence: "@daily", Classification: mesh.Internal,
				Schema:     []mesh.Column{{Name: "id", Type: mesh.String, Doc: "id", Required: true}},
				PrimaryKey: []string{"id"}, Inputs: []mesh.Input{mesh.Raw("src", "stream")}, Model: "SELECT 1 AS id",
				Freshness: mesh.Freshness{WarnAfter: time.Hour, FailAfter: 2 * time.Hour},
			})
		}
		m.Domains = append(m.Domains, dom)
	}
	return m
}

// catalogBench serves the generated products with the catalog's real Handler over
// HTTP and times requests to the home page, product pages and the search API, each
// request a different product or query, in a fixed order.
func catalogBench(ctx context.Context, o options, dir string, logf func(string, ...any)) ([]Row, error) {
	const op = "meshbench: catalog"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, errs.E(errs.Internal, op, err)
	}
	l, err := lake.Open(ctx, filepath.Join(dir, "lake"))
	if err != nil {
		return nil, err
	}
	defer l.Close()
	ports, err := port.Open(ctx, port.Options{CatalogURI: "sqlite://" + filepath.Join(dir, "catalog.db"), Warehouse: "file://" + filepath.Join(dir, "warehouse")})
	if err != nil {
		return nil, err
	}
	defer ports.Close()
	m := generatedMesh(o.products)
	// As mesh serve runs it: the listings read the status index; beside it, the same
	// catalog reading every product live, the way listings did before the index.
	cat := &catalog.Catalog{Mesh: m, Ports: ports, Lake: l}
	indexCtx, stopIndex := context.WithCancel(ctx)
	defer stopIndex()
	start := time.Now()
	cat.StartIndex(indexCtx, &catalog.StatusIndex{})
	logf("catalog: status index of %s products built in %s", count(o.products), elapsed(start))
	srv := httptest.NewServer(cat.Handler())
	defer srv.Close()
	live := httptest.NewServer((&catalog.Catalog{Mesh: m, Ports: ports, Lake: l}).Handler())
	defer live.Close()
	entries := m.Products()

	// The home page lists every product, so it is the slow one: a fifth of the
	// requests keep the run short and still give it a p99.
	pages := []struct {
		name     string
		requests int
		path     func(i int) string
		srv      *httptest.Server
		goalP99  time.Duration // 0: none
	}{
		{"catalog: product page", o.requests, func(i int) string {
			return "/products/" + entries[(i*7919)%len(entries)].Ref().String()
		}, srv, 0},
		{"catalog: search API", o.requests, func(i int) string {
			return fmt.Sprintf("/api/products?q=product_%03d", (i*31)%max(1, len(entries)/len(m.Domains)))
		}, srv, 0},
		{"catalog: home page (every product, status index)", o.requests, func(int) string { return "/" }, srv, 50 * time.Millisecond},
		{"catalog: home page (every product, read live: the peer)", max(5, o.requests/5), func(int) string { return "/" }, live, 0},
	}
	var rows []Row
	for _, pg := range pages {
		start := time.Now()
		size := fmt.Sprintf("%s products, %d req", count(o.products), pg.requests)
		lat := make([]time.Duration, 0, pg.requests)
		for i := range pg.requests {
			d, err := timeGet(ctx, pg.srv.Client(), pg.srv.URL+pg.path(i))
			if err != nil {
				return nil, errs.E(errs.Internal, op, err)
			}
			lat = append(lat, d)
		}
		p50, p99 := percentile(lat, 50), percentile(lat, 99)
		logf("%s: p50 %s, p99 %s (%s)", pg.name, p50, p99, elapsed(start))
		row := Row{Benchmark: pg.name, Size: size, Figures: figures(ms(p50), ms(p99)), Unit: "ms p50 · ms p99",
			Goal: none, Result: none, Values: []float64{ms(p50), ms(p99)}}
		if pg.goalP99 > 0 {
			row.Goal, row.Result = fmt.Sprintf("p99 %.0f ms / ≤ %.0f ms", ms(p99), ms(pg.goalP99)), verdict(p99 <= pg.goalP99)
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// timeGet is one request, body read to the end, that must answer 200.
func timeGet(ctx context.Context, c *http.Client, url string) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	d := time.Since(start)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s answered %s: %.200s", req.URL.Path, resp.Status, body)
	}
	return d, nil
}

// percentile is the nearest-rank percentile p of ds.
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := (p*len(s) + 99) / 100 // ceil(p/100 × n)
	return s[max(0, rank-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
