// Command sandbox serves the imitation SaaS APIs of dev/sandbox on a local port:
// the sandbox of every registered connector (connectors.Of the mesh's domains).
//
//	sandbox --addr 127.0.0.1:8280 --seed 1 --fault-429 0.1 --fault-5xx 0.05
//
// When listening it prints exactly one line to stdout, the root URL (e.g.
// http://127.0.0.1:8280), so a parent process started with --addr 127.0.0.1:0
// can read the port it got; each vendor's base URL is that root followed by its
// path (HubSpot's /hubspot, GA4's /ga4, Crunchbase's /crunchbase/api/v4), which the
// log line lists. Each vendor registers its own flags (--hubspot-contacts,
// --github-orgs, the credentials it accepts, …; see -h); --ga4-key-file writes a
// service-account key file whose token_uri points at root/ga4/token, for
// GA4_CREDENTIALS_FILE. --secrets-dir DIR sets every credential the vendors accept
// from DIR's files, as `mesh compose-env` writes them for docker-compose.yml (one
// file per secret variable, e.g. DIR/hubspot_token), so no flag names a source
// there. Logs go to stderr. SIGINT or SIGTERM shuts it down cleanly.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/meshflow/meshflow/connectors"
	"github.com/meshflow/meshflow/dev/sandbox"
	"github.com/meshflow/meshflow/domains"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "sandbox:", err)
		}
		stop()
		os.Exit(2)
	}
}

// run serves until ctx ends. It writes the root URL as one line to stdout and
// logs to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8280", "listen address; port 0 picks a free port")
	seed := fs.Int64("seed", 1, "seed of the generated data and of fault decisions")
	var f sandbox.Faults
	fs.Float64Var(&f.RateLimited, "fault-429", 0, "share of API requests answered 429 (0..1)")
	fs.Float64Var(&f.ServerError, "fault-5xx", 0, "share of API requests answered 5xx (0..1)")
	fs.Float64Var(&f.Slow, "fault-slow", 0, "share of API requests answered after --slow-delay (0..1)")
	fs.Float64Var(&f.Truncate, "fault-truncate", 0, "share of API responses cut off mid-body (0..1)")
	fs.DurationVar(&f.SlowDelay, "slow-delay", 2*time.Second, "delay of slow responses")
	fs.DurationVar(&f.RetryAfter, "retry-after", 0, "Retry-After sent on injected 429s (0 = none)")
	conns := connectors.Of(domains.Mesh())
	flags := sandbox.RegisterFlags(fs, conns)
	level := fs.String("log-level", "info", "log level (debug logs every request)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	settings, err := flags.Settings()
	if err != nil {
		return err
	}
	lvl, err := zerolog.ParseLevel(*level)
	if err != nil {
		return err
	}
	log := zerolog.New(stderr).Level(lvl).With().Timestamp().Str("component", "sandbox").Logger()

	srv, err := sandbox.Open(&sandbox.Options{Seed: *seed, Faults: f, Connectors: conns, Settings: settings, Logger: &log})
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	root := "http://" + ln.Addr().String()
	if err := srv.Serving(root); err != nil {
		ln.Close()
		return err
	}
	hsrv := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		// In-flight requests see ctx, so slow faults end at once on shutdown.
		BaseContext: func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() { errc <- hsrv.Serve(ln) }()

	fmt.Fprintln(stdout, root)
	ev := log.Info().Str("url", root)
	values := srv.Values(root)
	for _, name := range slices.Sorted(maps.Keys(values)) {
		for k, v := range values[name] {
			if strings.HasSuffix(k, "_BASE_URL") {
				ev = ev.Str(name, v) // what the connector's base URL variable is set to
			}
		}
	}
	ev.Int64("seed", *seed).Interface("faults", f).Msg("sandbox listening")

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info().Msg("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hsrv.Shutdown(shutCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
