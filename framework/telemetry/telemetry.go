// Package telemetry is the mesh's metrics, in OpenTelemetry, read by Prometheus.
//
// Every process (a worker, mesh serve, mesh dev) installs one meter provider with
// Handler, whose Prometheus exporter answers GET /metrics; the rest of the framework
// records through the functions below, which are no-ops until a provider is installed
// (OpenTelemetry's global provider forwards instruments made before it is set). The
// names, units and labels are the README's table "Metrics"; keep them in step.
//
// Labels are bounded by the declarations: domain, product, source, stream, check and
// route come from the mesh and the catalog's routes, outcome and status from short
// fixed sets. Nothing from the data, and no run id, becomes a label.
package telemetry

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// scope names the instrumentation scope of the mesh's own instruments.
const scope = "github.com/meshflow/meshflow"

var (
	setup   sync.Once
	handler http.Handler
	setErr  error
)

// Handler installs the process's meter provider on its first call and returns the
// handler of the Prometheus text exposition of every metric the process records:
// the mesh's, the Temporal SDK's (through the client's MetricsHandler) and Go's
// runtime. Later calls return the same handler.
func Handler() (http.Handler, error) {
	setup.Do(func() {
		reg := prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo())
		if err != nil {
			setErr = err
			return
		}
		otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp)))
		handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	})
	return handler, setErr
}

// instruments are made once, from the global provider: they forward to the provider
// Handler installs, whenever it does.
var inst = sync.OnceValue(func() instruments {
	m := otel.Meter(scope)
	var in instruments
	in.rowsLanded, _ = m.Int64Counter("meshflow_landed_rows", metric.WithUnit("{row}"),
		metric.WithDescription("Rows landed in the lake, by domain, source and stream."))
	in.bytesLanded, _ = m.Int64Counter("meshflow_landed", metric.WithUnit("By"),
		metric.WithDescription("Bytes of Parquet landed in the lake, by domain, source and stream."))
	in.requests, _ = m.Int64Counter("meshflow_source_requests", metric.WithUnit("{request}"),
		metric.WithDescription("Page requests sent to a source, retries included, by source and stream."))
	in.rateLimited, _ = m.Int64Counter("meshflow_source_rate_limited", metric.WithUnit("{response}"),
		metric.WithDescription("Answers of a source that said slow down (HTTP 429 or its own rate-limit error), by source and stream."))
	in.retries, _ = m.Int64Counter("meshflow_source_retries", metric.WithUnit("{request}"),
		metric.WithDescription("Page requests sent again after an error or a rate limit, by source and stream."))
	in.sourceWait, _ = m.Float64Counter("meshflow_source_wait", metric.WithUnit("s"),
		metric.WithDescription("Time a landing waited on a source's limits and backoffs in its activity, by source and stream."))
	in.runs, _ = m.Int64Counter("meshflow_runs", metric.WithUnit("{run}"),
		metric.WithDescription("Product runs that ended, by domain, product and outcome (the run record's status)."))
	in.runDuration, _ = m.Float64Histogram("meshflow_run_duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of product runs, start to end, by domain, product and outcome."),
		metric.WithExplicitBucketBoundaries(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 4*3600))
	in.checks, _ = m.Int64Counter("meshflow_checks", metric.WithUnit("{check}"),
		metric.WithDescription("Check results of product runs, by domain, product, check and status (pass, warn, fail)."))
	in.catalogLatency, _ = m.Float64Histogram("meshflow_catalog_request_duration", metric.WithUnit("s"),
		metric.WithDescription("Catalog HTTP requests, by route pattern, method and status code."),
		metric.WithExplicitBucketBoundaries(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
	return in
})

type instruments struct {
	rowsLanded, bytesLanded, requests, rateLimited, retries, runs, checks metric.Int64Counter
	sourceWait                                                            metric.Float64Counter
	runDuration, catalogLatency                                           metric.Float64Histogram
}

// Landing is what one landing of a stream did, for Landed.
type Landing struct {
	Domain, Source, Stream string
	Rows, Bytes            int64
	Requests, RateLimited  int
	Retries                int
	Waited                 time.Duration
}

// Landed records a landing, or what a failed one sent (Rows and Bytes 0).
func Landed(ctx context.Context, l Landing) {
	in := inst()
	attrs := metric.WithAttributeSet(attribute.NewSet(attribute.String("domain", l.Domain), attribute.String("source", l.Source), attribute.String("stream", l.Stream)))
	in.rowsLanded.Add(ctx, l.Rows, attrs)
	in.bytesLanded.Add(ctx, l.Bytes, attrs)
	in.requests.Add(ctx, int64(l.Requests), attrs)
	in.rateLimited.Add(ctx, int64(l.RateLimited), attrs)
	in.retries.Add(ctx, int64(l.Retries), attrs)
	in.sourceWait.Add(ctx, l.Waited.Seconds(), attrs)
}

// Check is one check's result in a run.
type Check struct{ Name, Status string }

// RunEnded records a product run's end: its outcome (published, unchanged, failed,
// blocked, …), how long it took and its checks' results.
func RunEnded(ctx context.Context, domain, product, outcome string, took time.Duration, checks []Check) {
	in := inst()
	dp := []attribute.KeyValue{attribute.String("domain", domain), attribute.String("product", product)}
	attrs := metric.WithAttributeSet(attribute.NewSet(append(dp, attribute.String("outcome", outcome))...))
	in.runs.Add(ctx, 1, attrs)
	in.runDuration.Record(ctx, took.Seconds(), attrs)
	for _, c := range checks {
		in.checks.Add(ctx, 1, metric.WithAttributeSet(attribute.NewSet(append(dp, attribute.String("check", c.Name), attribute.String("status", c.Status))...)))
	}
}

// QuotaWait is the name of the histogram of a run's waits for an exhausted source
// quota (seconds, by domain, source and stream). The workflow records it through its
// Temporal metrics handler, which a replay does not record again.
const QuotaWait = "meshflow_quota_wait"

// CatalogRequest records one catalog request: the route's pattern ("GET
// /products/{name}", "" when none matched), its method and status code.
func CatalogRequest(ctx context.Context, route, method string, code int, took time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	inst().catalogLatency.Record(ctx, took.Seconds(), metric.WithAttributeSet(attribute.NewSet(
		attribute.String("route", route), attribute.String("method", method), attribute.Int("code", code))))
}

// Freshness is one product's data lag, for ObserveFreshness: how long ago it last
// published (the catalog's freshness age), and its freshness state.
type Freshness struct {
	Domain, Product, Status string
	Lag                     time.Duration
}

// freshness is the callback of the freshness gauge registered last.
var freshness struct {
	sync.Mutex
	reg metric.Registration
}

// ObserveFreshness registers a gauge, meshflow_freshness_lag_seconds by domain,
// product and status, read from each at every scrape (products never published are
// left out: they have no lag). The catalog registers it; a later call replaces the
// earlier callback, so a process observes one catalog once.
func ObserveFreshness(each func(ctx context.Context, yield func(Freshness)) error) error {
	freshness.Lock()
	defer freshness.Unlock()
	if freshness.reg != nil {
		_ = freshness.reg.Unregister()
		freshness.reg = nil
	}
	m := otel.Meter(scope)
	g, err := m.Float64ObservableGauge("meshflow_freshness_lag", metric.WithUnit("s"),
		metric.WithDescription("Time since each product last published (its data lag as the catalog judges freshness), by domain, product and freshness status."))
	if err != nil {
		return err
	}
	freshness.reg, err = m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		return each(ctx, func(f Freshness) {
			o.ObserveFloat64(g, f.Lag.Seconds(), metric.WithAttributeSet(attribute.NewSet(
				attribute.String("domain", f.Domain), attribute.String("product", f.Product), attribute.String("status", f.Status))))
		})
	}, g)
	return err
}
