package host

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/telemetry"
)

// ServeMetrics serves the process's Prometheus metrics (telemetry.Handler) at GET
// /metrics on addr (MESHFLOW_METRICS_ADDR) until ctx ends or stop is called.
func ServeMetrics(ctx context.Context, addr string, log zerolog.Logger) (stop func(), err error) {
	h, err := telemetry.Handler()
	if err != nil {
		return nil, errs.E(errs.Internal, "metrics", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, errs.Errorf(errs.Invalid, "metrics", "MESHFLOW_METRICS_ADDR=%s: %v: give a free host:port such as :9464, or unset it", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("metrics endpoint stopped")
		}
	}()
	log.Info().Str("addr", ln.Addr().String()).Msg("serving Prometheus metrics at /metrics")
	stopped := context.AfterFunc(ctx, func() { _ = srv.Close() })
	return func() { stopped(); _ = srv.Close() }, nil
}
