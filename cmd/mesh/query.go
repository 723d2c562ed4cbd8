package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/meshflow/meshflow/framework/access"
	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
	"github.com/meshflow/meshflow/framework/query"
)

// tableMaxRows is how many rows the table format shows unless --max-rows says otherwise:
// a table is read by a person; csv, json and parquet get every row.
const tableMaxRows = 1000

// queryOptions are mesh query's flags.
type queryOptions struct {
	format, outFile string
	maxRows         int // -1: tableMaxRows for the table, all for the other formats
	memoryLimit     string
	timeout         time.Duration
	branch          string // --branch: read previews published on this branch
}

// Defaults of mesh query's limits: a query reading more than its ports' worth of
// memory, or running for minutes, is more likely a mistake (a cross join) than the
// intent, and must not take the machine it shares with a worker down with it.
const (
	defaultQueryMemory  = "2GB"
	defaultQueryTimeout = 5 * time.Minute
)

func (e *env) queryCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   `query "<SQL>" [--format table|csv|json|parquet] [-o FILE] [--max-rows N] [--memory-limit 2GB] [--timeout 5m] [--branch NAME]`,
		Short: "read-only DuckDB SQL over the ports (domain.product_v1, ... AS OF <snapshot>|'<time>')",
		Long: `Run one read-only DuckDB query over the published ports, named domain.product_vMAJOR
(AS OF <snapshot id> or AS OF '<time>' after a port reads an older snapshot). With --branch
NAME each port that has a branch of that name (a preview: mesh run <product> --branch NAME)
is read there, the others on main.

The table shows control characters in the data as escapes (\x1b, \n, \t); csv, json and
parquet keep every value exact. DuckDB may use --memory-limit of memory (spilling what it
can to MESHFLOW_WORKDIR) and the query is interrupted after --timeout.`,
		Args: nArgs(1, 1, `mesh query takes the SQL as one quoted argument, e.g. mesh query "SELECT * FROM marketing.crm_companies_v1 LIMIT 10"`),
	}
	var o queryOptions
	cmd.Flags().StringVar(&o.format, "format", "table", "output format: table, csv, json or parquet")
	cmd.Flags().StringVarP(&o.outFile, "output", "o", "", "write the result to this file instead of standard output (required for parquet)")
	cmd.Flags().IntVar(&o.maxRows, "max-rows", 0, fmt.Sprintf("stop after N rows, 0 = all (default %d for the table, all for the other formats)", tableMaxRows))
	cmd.Flags().StringVar(&o.memoryLimit, "memory-limit", defaultQueryMemory, "DuckDB's memory_limit, e.g. 512MB, 8GB, 1.5GiB (0 = DuckDB's default, 80% of the RAM)")
	cmd.Flags().DurationVar(&o.timeout, "timeout", defaultQueryTimeout, "interrupt the query after this long, e.g. 30s, 1h (0 = never)")
	cmd.Flags().StringVar(&o.branch, "branch", "", "read each port's preview on this branch where it has one (main where not)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		switch {
		case !cmd.Flags().Changed("max-rows"):
			o.maxRows = -1 // by format
		case o.maxRows < 0:
			return usagef("--max-rows %d: give a number of rows, or 0 for all", o.maxRows)
		}
		return e.query(cmd.Context(), args[0], o)
	}
	return cmd
}

// query runs `mesh query "<SQL>"`: read-only DuckDB SQL over the published ports.
func (e *env) query(ctx context.Context, sql string, o queryOptions) error {
	switch {
	case o.format != "table" && o.format != "csv" && o.format != "json" && o.format != "parquet":
		return usagef("unknown --format %q: use table, csv, json or parquet", o.format)
	case o.format == "parquet" && o.outFile == "":
		return usagef("--format parquet writes a file: name it with -o FILE")
	case o.timeout < 0:
		return usagef("--timeout %s: give a duration such as 30s or 10m, or 0 for none", o.timeout)
	}
	if o.branch != "" {
		if err := port.ValidateBranch(o.branch); err != nil {
			return err
		}
	}
	memoryMB, err := megabytes(o.memoryLimit)
	if err != nil {
		return err
	}
	limit := o.maxRows
	if limit < 0 {
		limit = 0
		if o.format == "table" {
			limit = tableMaxRows
		}
	}
	// Every port the SQL names is checked before anything of it is read.
	stores, allow, err := e.portReader(ctx, access.PathQuery)
	if err != nil {
		return err
	}
	defer stores.Close()
	req := query.Request{
		MemoryMB: memoryMB, Timeout: o.timeout,
		SQL: sql, Mesh: e.mesh, Ports: stores.Ports, ScratchDir: e.cfg.WorkDir, MaxRows: limit, Branch: o.branch,
		Authorize: func(ctx context.Context, en mesh.Entry, _ port.TableID) error { return allow(ctx, en) },
	}
	if o.format == "parquet" {
		req.Parquet = o.outFile
	}
	res, err := query.Run(ctx, req)
	if err != nil {
		return limitHint(err, o)
	}
	for _, r := range res.Read {
		if o.branch != "" && r.Branch == "" && r.AsOf == "" {
			fmt.Fprintf(e.stderr, "mesh query: %s has no branch %s: read main\n", r.Table, o.branch)
		}
	}
	if o.format == "parquet" {
		fmt.Fprintf(e.stdout, "wrote %d rows to %s\n", res.Written, o.outFile)
		if limit > 0 && res.Written == int64(limit) {
			fmt.Fprintf(e.stderr, "mesh query: stopped at --max-rows %d; there may be more (--max-rows 0 writes all)\n", limit)
		}
		return nil
	}
	if o.outFile == "" {
		return e.writeResult(e.stdout, res, o.format)
	}
	f, err := os.Create(o.outFile)
	if err != nil {
		return errs.E(errs.Invalid, "query: write result", err)
	}
	err = e.writeResult(f, res, o.format)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = errs.E(errs.Internal, "query: write result", cerr)
	}
	return err
}

func (e *env) writeResult(w io.Writer, res *query.Result, format string) error {
	var err error
	switch format {
	case "csv":
		err = res.WriteCSV(w)
	case "json":
		err = res.WriteJSON(w)
	default:
		err = res.WriteTable(w)
		if err == nil {
			for _, r := range res.Read {
				at := ""
				if r.AsOf != "" {
					at = " (AS OF " + r.AsOf + ")"
				}
				if r.Branch != "" {
					at = " on branch " + r.Branch
				}
				fmt.Fprintf(w, "read %s at snapshot %d of %s%s\n", r.Table, r.Snapshot.ID, r.Snapshot.Timestamp.UTC().Format(time.RFC3339), at)
			}
		}
	}
	if err != nil {
		return errs.E(errs.Internal, "query: write result", err)
	}
	if res.Truncated {
		fmt.Fprintf(e.stderr, "mesh query: showing the first %d rows; --max-rows 0 returns all\n", len(res.Rows))
	}
	return nil
}

// megabytes reads a --memory-limit as DuckDB spells sizes (MB = 1000², MiB = 1024²).
func megabytes(limit string) (int, error) {
	if strings.TrimSpace(limit) == "0" {
		return 0, nil
	}
	b, err := humanize.ParseBytes(limit)
	if err != nil || b < 1_000_000 {
		return 0, usagef("--memory-limit %q: give a size of at least 1MB, such as 512MB or 8GB (or 0 for DuckDB's default)", limit)
	}
	return int(min(b/1_000_000, math.MaxInt32)), nil
}

// limitHint names the flag to raise when a query ran into one of its limits.
func limitHint(err error, o queryOptions) error {
	msg := err.Error()
	if e, ok := errs.As(err); ok && e.Err != nil {
		msg = e.Err.Error() // without the "query:" it is re-wrapped in
	}
	switch {
	case errors.Is(err, query.ErrMemoryLimit):
		return errs.Errorf(errs.Invalid, "query", "%s: raise --memory-limit (now %s), or make the query read less (filter, aggregate, or select fewer columns)", msg, o.memoryLimit)
	case errors.Is(err, query.ErrTimeout):
		return errs.Errorf(errs.Invalid, "query", "%s: raise --timeout (now %s; 0 = none), or make the query read less", msg, o.timeout)
	}
	return err
}
