// Command mesh-worker hosts the domains it is given (MESHFLOW_DOMAINS, default all):
// one Temporal worker per domain task queue. It only reads its configuration, dials,
// registers and runs; everything else lives in workers/host and the framework.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/rs/zerolog"
	// The catalog on PostgreSQL (MESHFLOW_CATALOG_URI=postgres://…) and the lake on S3.
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/memblob"
	_ "gocloud.dev/blob/s3blob"

	"github.com/meshflow/meshflow/domains"
	"github.com/meshflow/meshflow/workers/host"
)

func main() {
	domainsFlag := flag.String("domains", "", "comma-separated domains to host (default $MESHFLOW_DOMAINS, or all)")
	flag.Parse()
	log := zerolog.New(os.Stderr).With().Timestamp().Str("service", "mesh-worker").Logger()
	if err := run(*domainsFlag, log); err != nil {
		log.Error().Err(err).Msg("worker stopped")
		os.Exit(1)
	}
}

func run(domainsFlag string, log zerolog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := host.ConfigFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	if domainsFlag != "" {
		cfg.Domains = strings.Split(domainsFlag, ",")
	}
	if lvl, err := zerolog.ParseLevel(cfg.LogLevel); err == nil {
		log = log.Level(lvl)
	}
	log.Info().Str("config", cfg.String()).Msg("starting")
	if cfg.MetricsAddr != "" {
		stopMetrics, err := host.ServeMetrics(ctx, cfg.MetricsAddr, log)
		if err != nil {
			return err
		}
		defer stopMetrics()
	}
	stores, err := host.OpenStores(ctx, cfg)
	if err != nil {
		return err
	}
	defer stores.Close()
	c, err := host.Dial(cfg, log)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := host.Run(ctx, cfg, domains.Mesh(), c, stores, log); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	return nil
}
