package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

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

// query runs `mesh query "<SQL>"`: read-only DuckDB SQL over the published ports.
func (e *env) query(ctx context.Context, args []string) error {
	fs, lakeDir := e.newFlags("query")
	format := fs.String("format", "table", "output format: table, csv, json or parquet")
	outFile := fs.String("o", "", "write the result to this file instead of standard output (required for parquet)")
	maxRows := fs.Int("max-rows", -1, fmt.Sprintf("stop after N rows, 0 = all (default %d for the table, all for the other formats)", tableMaxRows))
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) != 1:
		return errs.Errorf(errs.Invalid, "usage", `mesh query takes the SQL as one quoted argument, e.g. mesh query "SELECT * FROM marketing.crm_companies_v1 LIMIT 10"`)
	case *format != "table" && *format != "csv" && *format != "json" && *format != "parquet":
		return errs.Errorf(errs.Invalid, "usage", "unknown --format %q: use table, csv, json or parquet", *format)
	case *format == "parquet" && *outFile == "":
		return errs.Errorf(errs.Invalid, "usage", "--format parquet writes a file: name it with -o FILE")
	case *maxRows < -1:
		return errs.Errorf(errs.Invalid, "usage", "--max-rows %d: give a number of rows, or 0 for all", *maxRows)
	}
	limit := *maxRows
	if limit < 0 {
		limit = 0
		if *format == "table" {
			limit = tableMaxRows
		}
	}
	if err := e.withLake(*lakeDir); err != nil {
		return err
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
		SQL: pos[0], Mesh: e.mesh, Ports: stores.Ports, ScratchDir: e.cfg.WorkDir, MaxRows: limit,
		Authorize: func(ctx context.Context, en mesh.Entry, _ port.TableID) error {
			return pol.Authorize(ctx, audit, access.Read{Principal: caller, Domain: en.Domain, Product: en.Product,
				What: access.Query, Path: access.PathQuery})
		},
	}
	if *format == "parquet" {
		req.Parquet = *outFile
	}
	res, err := query.Run(ctx, req)
	if err != nil {
		return err
	}
	if *format == "parquet" {
		fmt.Fprintf(e.stdout, "wrote %d rows to %s\n", res.Written, *outFile)
		if limit > 0 && res.Written == int64(limit) {
			fmt.Fprintf(e.stderr, "mesh query: stopped at --max-rows %d; there may be more (--max-rows 0 writes all)\n", limit)
		}
		return nil
	}
	if *outFile == "" {
		return e.writeResult(e.stdout, res, *format)
	}
	f, err := os.Create(*outFile)
	if err != nil {
		return errs.E(errs.Invalid, "query: write result", err)
	}
	err = e.writeResult(f, res, *format)
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
