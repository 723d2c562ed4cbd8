package catalog

import (
	"context"
	"net/http"
	"time"

	"github.com/meshflow/meshflow/framework/telemetry"
)

// timed records each request's latency by the route that served it
// (telemetry.CatalogRequest). It wraps the ServeMux itself, the only place the
// request carries the matched pattern afterwards.
func timed(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		mux.ServeHTTP(sw, r)
		telemetry.CatalogRequest(r.Context(), r.Pattern, r.Method, sw.code, time.Since(start))
	})
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ObserveFreshness publishes every published product's data lag as the gauge
// meshflow_freshness_lag_seconds, read at each scrape from the same status the pages
// show (the time since the product last published, or last computed the same rows).
// Call it once per process.
func (c *Catalog) ObserveFreshness() error {
	return telemetry.ObserveFreshness(func(ctx context.Context, yield func(telemetry.Freshness)) error {
		now := c.now()
		for _, e := range c.Mesh.Products() {
			st, _, err := c.status(ctx, e.Domain, e.Product) // live: a scrape right after a run sees it
			if err != nil {
				return err
			}
			if st.Freshness.PublishedAt == nil {
				continue
			}
			yield(telemetry.Freshness{Domain: e.Domain.Name, Product: e.Product.Name, Status: string(st.Freshness.Status), Lag: now.Sub(*st.Freshness.PublishedAt)})
		}
		return nil
	})
}
