// Command mesh is the Meshflow command line: run the local mesh (demo, dev), list and
// inspect products, and run one product through Temporal.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
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
	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/workers/host"
)

const usage = `mesh — run and inspect the Meshflow data mesh

Usage:
  mesh demo [--lake DIR]               start Temporal, the sandbox and a worker; run every product once; print what was published; stop
  mesh dev  [--lake DIR]               the same stack, left running (Temporal UI on http://localhost:8233) until Ctrl-C
  mesh products [--json]               every product with version, rows, snapshot, quality and freshness
  mesh show <product> [--json]         one product: docs, schema, checks, freshness, snapshots, sample rows
  mesh run <product> [--full-refresh] [--partition DAY]
                                       run one product (or one day of a partitioned one) through Temporal and wait
  mesh backfill start <product> --from DAY --to DAY [--concurrency N] [--wait]
                                       run every day of a partitioned product, N at once, as one backfill workflow
  mesh backfill status <id> [--json]   every partition's state (pending, running, waiting for quota, succeeded, failed) and totals
  mesh backfill rerun-failed <id> [--dry-run] [--wait]
                                       a new backfill, linked to <id>, of only its failed, canceled or timed-out days
  mesh freshness [--fail-on warn|fail] every product's freshness against its SLO; non-zero exit at that level (for alerting)
  mesh serve [--addr HOST:PORT]        the web catalog: search, domain and product pages, JSON API under /api/
  mesh access add-token --name NAME --groups G1,G2 [--file FILE]
                                       a new token for a principal in those groups (printed once; the access file keeps its digest)
  mesh audit [--since DAY] [--json]    every read of a restricted product, allowed or denied: who, what, how, when
  mesh contract export <product> [-o FILE]  the port's data contract as ODCS v3.1.0 YAML
  mesh contract check [product...]     declared contracts vs the last published ones; non-zero on a breaking change
  mesh query "<SQL>" [--format table|csv|json|parquet] [-o FILE] [--max-rows N]
                                       read-only DuckDB SQL over the ports (domain.product_v1, ... AS OF <snapshot>|'<time>')
  mesh schedules apply                 one Temporal Schedule per product from its cadence (removes those of deleted products)
  mesh schedules list | pause <product> | unpause <product> [--note TEXT]
  mesh doctor [--timeout 10s]          check the configuration end to end: Temporal, namespace, search attributes,
                                       lake, catalog, each source's credentials; non-zero exit when a check fails

Products are named domain.product, or by product name alone when unambiguous.
Restricted products need a token: MESHFLOW_TOKEN for the mesh command (see README, Access control).
Configuration comes from the environment (see README): MESHFLOW_LAKE, MESHFLOW_TEMPORAL_ADDRESS, HUBSPOT_TOKEN, ...
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "mesh:", err)
		if errs.Is(err, errs.Invalid) && strings.HasPrefix(err.Error(), "usage") {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		return nil
	}
	cfg, err := host.ConfigFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	env := &env{cfg: cfg, mesh: domains.Mesh(), stdout: stdout, stderr: stderr}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "demo":
		return env.demo(ctx, rest, false)
	case "dev":
		return env.demo(ctx, rest, true)
	case "products":
		return env.products(ctx, rest)
	case "show":
		return env.show(ctx, rest)
	case "run":
		return env.runOne(ctx, rest)
	case "backfill":
		return env.backfill(ctx, rest)
	case "schedules":
		return env.schedules(ctx, rest)
	case "freshness":
		return env.freshness(ctx, rest)
	case "contract":
		return env.contractCmd(ctx, rest)
	case "query":
		return env.query(ctx, rest)
	case "serve":
		return env.serve(ctx, rest)
	case "access":
		return env.accessCmd(ctx, rest)
	case "audit":
		return env.audit(ctx, rest)
	case "doctor":
		return env.doctor(ctx, rest)
	}
	fmt.Fprint(stderr, usage)
	return errs.Errorf(errs.Invalid, "usage", "unknown command %q", cmd)
}

type env struct {
	cfg    host.Config
	mesh   mesh.Mesh
	stdout io.Writer
	stderr io.Writer
}

// newFlags returns a flag set that reports errors instead of exiting, with --lake.
func (e *env) newFlags(name string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("mesh "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	lakeDir := fs.String("lake", "", "lake directory or bucket URL (default $MESHFLOW_LAKE or ./.meshflow)")
	return fs, lakeDir
}

// parse parses flags that may come before or after positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, errs.E(errs.Invalid, "usage", err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// withLake applies a --lake flag to the configuration.
func (e *env) withLake(lakeDir string) error {
	if lakeDir == "" {
		return nil
	}
	env := func(k string) string {
		if k == "MESHFLOW_LAKE" {
			return lakeDir
		}
		if k == "MESHFLOW_CATALOG_URI" || k == "MESHFLOW_WAREHOUSE" {
			return "" // derived from the lake given on the command line
		}
		return os.Getenv(k)
	}
	cfg, err := host.ConfigFromEnv(env)
	if err != nil {
		return err
	}
	e.cfg = cfg
	return nil
}

func logger(w io.Writer, level string) zerolog.Logger {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil {
		lvl = zerolog.InfoLevel
	}
	return zerolog.New(zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05"}).Level(lvl).With().Timestamp().Logger()
}
