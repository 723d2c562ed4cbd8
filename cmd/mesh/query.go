package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshflow/meshflow/framework/access"
	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
	"github.com/meshflow/meshflow/framework/query"
	"github.com/meshflow/meshflow/workers/host"
)

// tableMaxRows is how many rows the table format shows unless --max-rows says otherwise:
// a table is read by a person; csv, json and parquet get every row.
const tableMaxRows = 1000

// queryOptions are mesh query's flags.
type queryOptions struct {
	format, outFile string
	maxRows         int
}

func (e *env) queryCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   `query "<SQL>" [--format table|csv|json|parquet] [-o FILE] [--max-rows N]`,
		Short: "read-only DuckDB SQL over the ports (domain.product_v1, ... AS OF <snapshot>|'<time>')",
		Args:  nArgs(1, 1, `mesh query takes the SQL as one quoted argument, e.g. mesh query "SELECT * FROM marketing.crm_companies_v1 LIMIT 10"`),
	}
	var o queryOptions
	cmd.Flags().StringVar(&o.format, "format", "table", "output format: table, csv, json or parquet")
	cmd.Flags().StringVarP(&o.outFile, "output", "o", "", "write the result to this file instead of standard output (required for parquet)")
	cmd.Flags().IntVar(&o.maxRows, "max-rows", -1, fmt.Sprintf("stop after N rows, 0 = all (default %d for the table, all for the other formats)", tableMaxRows))
	cmd.RunE = func(cmd *cobra.Command, args []string) error { return e.query(cmd.Context(), args[0], o) }
	return cmd
}

// query runs `mesh query "<SQL>"`: read-only DuckDB SQL over the published ports.
func (e *env) query(ctx context.Context, sql string, o queryOptions) error {
	switch {
	case o.format != "table" && o.format != "csv" && o.format != "json" && o.format != "parquet":
		return usagef("unknown --format %q: use table, csv, json or parquet", o.format)
	case o.format == "parquet" && o.outFile == "":
		return usagef("--format parquet writes a file: name it with -o FILE")
	case o.maxRows < -1:
		return usagef("--max-rows %d: give a number of rows, or 0 for all", o.maxRows)
	}
	limit := o.maxRows
	if limit < 0 {
		limit = 0
		if o.format == "table" {
			limit = tableMaxRows
		}
	}
	stores, err := host.OpenStores(ctx, e.cfg)
	if err != nil {
		return err
	}
	defer stores.Close()
	// Every port the SQL names is checked against its classification and allowed
	// groups before anything of it is read, and restricted reads are audited, as in the
	// web catalog; the caller is MESHFLOW_TOKEN.
	pol, err := access.Load(e.cfg.AccessFile)
	if err != nil {
		return err
	}
	audit := access.NewLog(stores.Lake)
	caller, _ := pol.Authenticate(e.cfg.Token)
	req := query.Request{
		SQL: sql, Mesh: e.mesh, Ports: stores.Ports, ScratchDir: e.cfg.WorkDir, MaxRows: limit,
		Authorize: func(ctx context.Context, en mesh.Entry, _ port.TableID) error {
			return pol.Authorize(ctx, audit, access.Read{Principal: caller, Domain: en.Domain, Product: en.Product,
				What: access.Query, Path: access.PathQuery})
		},
	}
	if o.format == "parquet" {
		req.Parquet = o.outFile
	}
	res, err := query.Run(ctx, req)
	if err != nil {
		return err
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
