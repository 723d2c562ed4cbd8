package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// After a run on the dev server, mesh serve's /metrics (the process's Prometheus
// endpoint, which a worker serves at MESHFLOW_METRICS_ADDR) has the landing's rows,
// bytes and requests, the run's outcome and duration, its checks, the product's
// freshness lag, the catalog's request latency and the Temporal SDK's own metrics.
// Counters are compared before and after: the process's other tests count too.
func TestMetricsAfterARun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	st := devStack(t, ctx)
	devWorker(t, ctx, st)
	base, _ := serveMesh(t, "serve", "--addr", "127.0.0.1:0")
	before := scrape(t, base)

	mustRun(t, ctx, "run", "marketing.crm_companies")
	// Read to its end: the page's last bytes leave after the catalog has timed it.
	resp, err := http.Get(base + "/products/marketing.crm_companies")
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("product page: %d %v", resp.StatusCode, err)
	}
	after := scrape(t, base)

	landing := map[string]string{"domain": "marketing", "source": "hubspot", "stream": "companies"}
	run := map[string]string{"domain": "marketing", "product": "crm_companies", "outcome": "published"}
	for _, c := range []struct {
		name   string
		labels map[string]string
		min    float64
	}{
		{"meshflow_landed_rows_total", landing, 1},
		{"meshflow_landed_bytes_total", landing, 1},
		{"meshflow_source_requests_total", landing, 1},
		{"meshflow_runs_total", run, 1},
		{"meshflow_run_duration_seconds", run, 1}, // its count
		{"meshflow_checks_total", map[string]string{"domain": "marketing", "product": "crm_companies", "check": "unique_company_id", "status": "pass"}, 1},
		{"meshflow_catalog_request_duration_seconds", map[string]string{"route": "GET /products/{name}", "method": "GET", "code": "200"}, 1},
	} {
		got := value(after, c.name, c.labels) - value(before, c.name, c.labels)
		if got < c.min || c.name == "meshflow_runs_total" && got != 1 {
			t.Errorf("%s%v rose by %v, want at least %v", c.name, c.labels, got, c.min)
		}
	}
	lag := value(after, "meshflow_freshness_lag_seconds", map[string]string{"domain": "marketing", "product": "crm_companies", "status": "pass"})
	if lag <= 0 || lag > 600 {
		t.Errorf("meshflow_freshness_lag_seconds of crm_companies = %v, want the seconds since its publish", lag)
	}
	// The SDK's own, from the worker's client: the run's workflow completed.
	wf := map[string]string{"workflow_type": "RunProduct", "task_queue": "meshflow.marketing"}
	if got := value(after, "temporal_workflow_completed", wf) - value(before, "temporal_workflow_completed", wf); got < 1 {
		t.Errorf("temporal_workflow_completed%v rose by %v, want at least 1: %v", wf, got, after["temporal_workflow_completed"])
	}
}

// scrape reads base/metrics in the Prometheus text format.
func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, b)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(string(b)))
	if err != nil {
		t.Fatalf("GET /metrics is not the Prometheus text format: %v\n%s", err, b)
	}
	return fams
}

// value is the sum over the series of name whose labels include want: a counter's or
// gauge's value, a histogram's count.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f, ok := fams[name]
	if !ok {
		return 0
	}
	var sum float64
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			match = match && have[k] == v
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum
}
