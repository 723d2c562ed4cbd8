package catalog

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/meshflow/meshflow/framework/mesh"
)

// thousand declares 1,000 products over 10 domains.
func thousand() mesh.Mesh {
	var m mesh.Mesh
	for d := 0; d < 10; d++ {
		dom := mesh.Domain{Name: fmt.Sprintf("domain_%d", d), Owner: fmt.Sprintf("team-%d", d)}
		for p := 0; p < 100; p++ {
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

// BenchmarkCatalogPages serves the home page, a search and a product page with 1,000
// declared products (unpublished: the cost measured is the catalog's, per request).
func BenchmarkCatalogPages(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	l, ports := testStoresIn(b, dir)
	h := (&Catalog{Mesh: thousand(), Ports: ports, Lake: l}).Handler()
	indexed := &Catalog{Mesh: thousand(), Ports: ports, Lake: l}
	indexCtx, stop := context.WithCancel(ctx)
	defer stop()
	indexed.StartIndex(indexCtx, &StatusIndex{Every: time.Hour})
	b.Run("home with the status index", func(b *testing.B) {
		ih := indexed.Handler()
		for b.Loop() {
			rec := httptest.NewRecorder()
			ih.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
			if rec.Code != 200 {
				b.Fatalf("/: %d", rec.Code)
			}
		}
	})
	for _, path := range []string{"/", "/api/products?q=product_042", "/products/domain_3.product_017"} {
		b.Run(path, func(b *testing.B) {
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
				if rec.Code != 200 {
					b.Fatalf("%s: %d %s", path, rec.Code, rec.Body.String())
				}
			}
		})
	}
}
