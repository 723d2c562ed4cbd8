package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshflow/meshflow/framework/access"
	"github.com/meshflow/meshflow/framework/catalog"
	"github.com/meshflow/meshflow/framework/catalog/icebergrest"
	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/telemetry"
)

func (e *env) serveCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve [--addr HOST:PORT] [--public-url URL]",
		Short: "the web catalog: search, domain and product pages, JSON API under /api/",
		Long: `The web catalog: search, domain and product pages, JSON API under /api/, and
the Iceberg REST catalog under /iceberg (read-only; DuckDB, Spark, Trino and
PyIceberg attach to http://HOST:PORT/iceberg, warehouse meshflow).

It reloads the access file when it changes (a revoked token stops working within
--access-reload), and bounds what clients can hold: connections beyond --max-conns
wait until one closes, one client's beyond --max-conns-per-client are closed at once,
and idle or slow ones are closed after the timeouts.`,
		Args: noArgs,
	}
	// workers/host's compose test reads this default: keep it a literal.
	addr := cmd.Flags().String("addr", "127.0.0.1:8090", "address to listen on")
	var o serveOptions
	d := catalog.DefaultServerOptions
	cmd.Flags().StringVar(&o.publicURL, "public-url", "", "where browsers reach the catalog, e.g. https://catalog.example.com behind a TLS proxy (https makes the sign-in cookie Secure)")
	cmd.Flags().DurationVar(&o.server.ReadHeaderTimeout, "read-header-timeout", d.ReadHeaderTimeout, "close a connection that has not sent a request's headers by then")
	cmd.Flags().DurationVar(&o.server.ReadTimeout, "read-timeout", d.ReadTimeout, "longest time to read a whole request")
	cmd.Flags().DurationVar(&o.server.WriteTimeout, "write-timeout", d.WriteTimeout, "longest time to handle a request and write its answer")
	cmd.Flags().DurationVar(&o.server.IdleTimeout, "idle-timeout", d.IdleTimeout, "close a keep-alive connection idle this long")
	cmd.Flags().IntVar(&o.server.MaxConns, "max-conns", d.MaxConns, "connections served at once; more wait until one closes")
	cmd.Flags().IntVar(&o.server.MaxConnsPerClient, "max-conns-per-client", d.MaxConnsPerClient, "connections one client address (IPv4, or IPv6 /64) may hold; more are closed at once (behind a proxy, set it to --max-conns)")
	cmd.Flags().DurationVar(&o.reload, "access-reload", 2*time.Second, "how often the access file is checked for changes")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error { return e.serve(cmd.Context(), *addr, o) }
	return cmd
}

type serveOptions struct {
	publicURL string
	server    catalog.ServerOptions
	reload    time.Duration
}

// sessionSweep is how often mesh serve removes expired and revoked sessions that no
// browser came back with.
const sessionSweep = time.Hour

// serve runs the web catalog until interrupted.
func (e *env) serve(ctx context.Context, addr string, o serveOptions) error {
	if err := checkPublicURL(o.publicURL); err != nil {
		return err
	}
	if o.reload <= 0 {
		return usagef("--access-reload %s: give a positive interval, e.g. 2s", o.reload)
	}
	cat, closeFn, err := e.openCatalog(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	if _, err := e.guard(ctx, cat); err != nil {
		return err
	}
	cat.PublicURL = o.publicURL
	// The listings read every product's status from an index kept current in the
	// background (a thousand products in one page without a thousand reads).
	cat.StartIndex(ctx, &catalog.StatusIndex{})
	// Refused reads are folded per caller, product and minute; allowed ones are
	// written as they happen.
	audit := access.NewThrottle(cat.Audit)
	cat.Audit = audit
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return errs.Errorf(errs.Invalid, "serve", "listen on %s: %v: pick a free address with --addr", addr, err)
	}
	var background sync.WaitGroup
	defer background.Wait()
	ctx, stop := context.WithCancel(ctx) // a failed Serve stops the background work too
	defer stop()
	logf := func(format string, args ...any) {
		fmt.Fprintf(e.stderr, time.Now().Format("15:04:05")+" "+format+"\n", args...)
	}
	background.Go(func() {
		audit.Run(ctx, func(err error) { logf("audit: %v (kept for the next write)", err) })
	})
	background.Go(func() {
		cat.Access.Watch(ctx, o.reload, func(err error) {
			if err != nil {
				logf("access: %v; the previous access file stays in force until it is fixed", err)
				return
			}
			logf("%s", describeAccess(cat.Access))
			if n, err := cat.SweepSessions(ctx); err == nil && n > 0 {
				logf("access: ended %d session(s) of revoked tokens", n)
			}
		})
	})
	background.Go(func() {
		t := time.NewTicker(sessionSweep)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if _, err := cat.SweepSessions(ctx); err != nil {
				logf("sessions: %v", err)
			}
		}
	})
	fmt.Fprintln(e.stdout, describeAccess(cat.Access))
	s := o.server
	fmt.Fprintf(e.stdout, "limits:   %d connections at once, %d per client; timeouts: headers %s, request %s, answer %s, idle %s\n",
		s.MaxConns, s.MaxConnsPerClient, s.ReadHeaderTimeout, s.ReadTimeout, s.WriteTimeout, s.IdleTimeout)
	fmt.Fprintf(e.stdout, "iceberg:  REST catalog at http://%s%s, warehouse %s\n", ln.Addr(), icebergrest.MountPath, icebergrest.Warehouse)
	fmt.Fprintf(e.stdout, "catalog on http://%s (JSON under /api/products); Ctrl-C stops it\n", ln.Addr())
	mux, err := e.serveMux(cat)
	if err != nil {
		return err
	}
	if err := cat.ObserveFreshness(); err != nil {
		return errs.E(errs.Internal, "serve: metrics", err)
	}
	fmt.Fprintf(e.stdout, "metrics:  Prometheus at http://%s/metrics\n", ln.Addr())
	return catalog.Serve(ctx, ln, mux, o.server)
}

// serveMux is the web catalog with the Iceberg REST catalog beside it under
// /iceberg, over the same access policy and audit log, and the process's metrics
// (Prometheus) under /metrics.
func (e *env) serveMux(cat *catalog.Catalog) (http.Handler, error) {
	rest := icebergrest.New(cat, &icebergrest.Options{Storage: icebergrest.S3Storage(e.cfg.Warehouse, e.cfg.S3.Endpoint, e.cfg.S3.Region)})
	metrics, err := telemetry.Handler()
	if err != nil {
		return nil, errs.E(errs.Internal, "serve: metrics", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", cat.Handler())
	mux.Handle(icebergrest.MountPath+"/", http.StripPrefix(icebergrest.MountPath, rest.Handler()))
	mux.Handle("GET /metrics", metrics)
	return mux, nil
}

// checkPublicURL accepts "" or an absolute http(s) URL.
func checkPublicURL(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usagef("--public-url %q: give the URL browsers use, e.g. https://catalog.example.com", raw)
	}
	return nil
}
