package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshflow/meshflow/framework/access"
	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
	"github.com/meshflow/meshflow/framework/query"
	"github.com/meshflow/meshflow/framework/transform"
	"github.com/meshflow/meshflow/workers/host"
)

// diffOptions are mesh diff's flags.
type diffOptions struct {
	from, to    int64
	model       string // --model FILE.sql
	proposed    bool   // --proposed: the declared model
	limit       int
	asJSON      bool
	memoryLimit string
	branch      string // --branch: a preview branch, compared with main
}

func (e *env) diffCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "diff <product> [--from SNAPSHOT] [--to SNAPSHOT] [--model FILE.sql | --proposed | --branch NAME] [--limit N] [--json]",
		Short: "rows added, removed and changed per primary key between two snapshots, or by a model before it publishes",
		Long: `Compare two snapshots of a product's port row by row, matched on its primary key: the rows
added, removed and changed (naming the columns that differ, with examples before and after),
and the columns added, removed or retyped.

With no flags it compares the current snapshot with the one before it: what the last run
changed. --from and --to name snapshots (mesh show lists them).

--model FILE.sql runs that SQL in place of the product's model, --proposed runs the declared
model, locally in DuckDB over the inputs a run would read now (every committed landing of its
raw inputs, the current snapshots of the ports it reads), and compares the result with the
current snapshot (or --from): nothing is published.

--branch NAME compares the preview a run published on that branch (mesh run <product>
--branch NAME) with main's current snapshot: what mesh promote would change.

A restricted product needs MESHFLOW_TOKEN in one of its groups (and, with --model or
--proposed, in those of every restricted port the model reads); each read is audited.`,
		Args:              nArgs(1, 1, "mesh diff takes one product name, e.g. mesh diff marketing.crm_contacts"),
		ValidArgsFunction: e.completeProducts(1, false),
	}
	var o diffOptions
	cmd.Flags().Int64Var(&o.from, "from", 0, "the older snapshot id (default: the one before --to; with --model or --proposed, the current one)")
	cmd.Flags().Int64Var(&o.to, "to", 0, "the newer snapshot id (default: the current one)")
	cmd.Flags().StringVar(&o.model, "model", "", "compare the output of this model SQL file, run locally and never published, with the current snapshot")
	cmd.Flags().BoolVar(&o.proposed, "proposed", false, "compare the output of the product's declared model, run locally and never published, with the current snapshot")
	cmd.Flags().IntVar(&o.limit, "limit", 5, "example rows shown of each kind (added, removed, changed); 0 = counts only")
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "print JSON")
	cmd.Flags().StringVar(&o.branch, "branch", "", "compare the head of this preview branch with main's current snapshot")
	cmd.Flags().StringVar(&o.memoryLimit, "memory-limit", defaultQueryMemory, "DuckDB's memory_limit, e.g. 512MB, 8GB (0 = DuckDB's default, 80% of the RAM)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		switch {
		case o.limit < 0:
			return usagef("--limit %d: give a number of example rows, or 0 for counts only", o.limit)
		case o.model != "" && o.proposed:
			return usagef("--model and --proposed both name a model to run: give one")
		case (o.model != "" || o.proposed) && o.branch != "":
			return usagef("--branch compares a published preview with main; --model and --proposed compare a model's output with main: give one")
		case (o.model != "" || o.proposed) && o.to != 0:
			return usagef("--to names a published snapshot; with --model or --proposed the model's output is the newer side (compare it with an older snapshot through --from)")
		}
		return e.diff(cmd.Context(), args[0], o)
	}
	return cmd
}

// diff runs `mesh diff <product>`.
func (e *env) diff(ctx context.Context, name string, o diffOptions) error {
	d, p, err := e.mesh.Find(name)
	if err != nil {
		return err
	}
	memoryMB, err := megabytes(o.memoryLimit)
	if err != nil {
		return err
	}
	model := ""
	switch {
	case o.model != "":
		sql, err := os.ReadFile(o.model)
		if err != nil {
			return errs.Errorf(errs.Invalid, "diff", "read --model: %v", err)
		}
		p.Model, model = string(sql), o.model
	case o.proposed:
		model = "the declared model"
	}
	stores, allow, err := e.portReader(ctx, access.PathCLI)
	if err != nil {
		return err
	}
	defer stores.Close()
	req := query.DiffRequest{
		Product: mesh.Entry{Domain: d, Product: p}, Ports: stores.Ports, From: o.from, To: o.to, Branch: o.branch,
		Examples: o.limit, ScratchDir: e.cfg.WorkDir, MemoryMB: memoryMB,
		Authorize: func(ctx context.Context, en mesh.Entry, _ port.TableID) error { return allow(ctx, en) },
	}
	var proposed *proposal
	if model != "" {
		// Asked before the model runs: its output shows the port's values, and a model
		// given in a file could select any column of the ports it reads.
		if err := e.authorizeModel(ctx, allow, req.Product); err != nil {
			return err
		}
		req.Authorize = nil // just asked
		if proposed, err = e.runModel(ctx, stores, req.Product, memoryMB); err != nil {
			return err
		}
		defer os.RemoveAll(proposed.dir)
		proposed.model = model
		req.Proposed = proposed.output
	}
	res, err := query.Diff(ctx, req)
	if err != nil {
		return err
	}
	if o.asJSON {
		out := struct {
			*query.DiffResult
			Model      string           `json:"model,omitempty"`
			InputsRead map[string]int64 `json:"inputs_read,omitempty"`
			Warnings   []string         `json:"warnings,omitempty"`
			Branch     string           `json:"branch,omitempty"`
		}{DiffResult: res, Branch: o.branch}
		out.Warnings = res.Warnings
		if proposed != nil {
			out.Model, out.InputsRead = proposed.model, proposed.inputs
			out.Warnings = append(out.Warnings, proposed.warnings...)
		}
		return writeJSON(e.stdout, out)
	}
	if o.branch != "" {
		fmt.Fprintf(e.stdout, "branch %s compared with main (what mesh promote would change)\n", o.branch)
	}
	return printDiff(e.stdout, res, proposed)
}

// portReader opens the stores for a command that reads ports' rows, with allow, which
// checks the caller (MESHFLOW_TOKEN) against a product's classification and groups as
// the web catalog does, restricted reads audited in the lake with path.
func (e *env) portReader(ctx context.Context, path access.Path) (*host.Stores, func(context.Context, mesh.Entry) error, error) {
	pol, caller, err := e.tokenCaller()
	if err != nil {
		return nil, nil, err
	}
	stores, err := host.OpenStores(ctx, e.cfg)
	if err != nil {
		return nil, nil, err
	}
	audit := access.NewLog(stores.Lake)
	allow := func(ctx context.Context, en mesh.Entry) error {
		return pol.Authorize(ctx, audit, access.Read{Principal: caller, Domain: en.Domain, Product: en.Product, What: access.Query, Path: path})
	}
	return stores, allow, nil
}

// authorizeModel asks about the product and every port its model reads.
func (e *env) authorizeModel(ctx context.Context, allow func(context.Context, mesh.Entry) error, en mesh.Entry) error {
	if err := allow(ctx, en); err != nil {
		return err
	}
	for _, in := range en.Product.Inputs {
		if in.IsRaw() {
			continue
		}
		d, p, err := e.mesh.Find(in.String())
		if err != nil {
			return err
		}
		if err := allow(ctx, mesh.Entry{Domain: d, Product: p}); err != nil {
			return err
		}
	}
	return nil
}

// proposal is a model's output, run locally and never published.
type proposal struct {
	dir, output string
	model       string           // what ran: the file, or the declared model
	inputs      map[string]int64 // the snapshot read of each port
	warnings    []string
}

// runModel runs the product's model (as given) over what a run would read now, as the
// Transform activity gathers it, into a Parquet file in a scratch directory the
// caller removes.
func (e *env) runModel(ctx context.Context, stores *host.Stores, en mesh.Entry, memoryMB int) (*proposal, error) {
	sources, err := host.Sources(e.cfg) // their specs type fields the landings may lack
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(e.cfg.WorkDir, "mesh-diff-model-")
	if err != nil {
		return nil, errs.Errorf(errs.Invalid, "diff", "make a scratch directory: %v: set MESHFLOW_WORKDIR to a writable directory", err)
	}
	acts := &flow.Activities{Mesh: e.mesh, Lake: stores.Lake, Ports: stores.Ports, Sources: sources, WorkDir: dir}
	req, inputs, warnings, err := flow.TransformRequest(ctx, acts, en.Domain, en.Product, flow.Declaration{}, "", dir)
	if err == nil {
		req.Output, req.MemoryMB = filepath.Join(dir, "model.parquet"), memoryMB
		_, err = transform.Run(ctx, req)
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &proposal{dir: dir, output: req.Output, inputs: inputs, warnings: warnings}, nil
}

func printDiff(w io.Writer, d *query.DiffResult, proposed *proposal) error {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	newer := describeSide(d.To)
	if proposed != nil {
		newer = fmt.Sprintf("%s, run locally, not published (%d rows)", proposed.model, d.To.Rows)
	}
	p("%s: %s → %s\n", d.Table, describeSide(d.From), newer)
	if proposed != nil {
		for _, port := range slices.Sorted(maps.Keys(proposed.inputs)) {
			p("  read %s at snapshot %d\n", port, proposed.inputs[port])
		}
		for _, warning := range proposed.warnings {
			p("  warning: %s\n", query.Printable(warning))
		}
	}
	p("key: %s\n", strings.Join(d.PrimaryKey, ", "))
	for _, warning := range d.Warnings {
		p("warning: %s\n", warning)
	}

	p("\nschema: ")
	if len(d.Schema) == 0 {
		p("unchanged\n")
	} else {
		p("%d column(s) changed\n", len(d.Schema))
	}
	for _, c := range d.Schema {
		switch c.Change {
		case "added":
			p("  + %s %s\n", c.Column, c.After)
		case "removed":
			p("  - %s %s\n", c.Column, c.Before)
		default:
			p("  ~ %s %s → %s\n", c.Column, c.Before, c.After)
		}
	}

	p("\nrows: %d added, %d removed, %d changed, %d unchanged\n", d.Added, d.Removed, d.Changed, d.Unchanged)
	if len(d.ChangedColumns) > 0 {
		cols := make([]string, len(d.ChangedColumns))
		for i, c := range d.ChangedColumns {
			cols[i] = fmt.Sprintf("%s (%d)", c.Column, c.Rows)
		}
		p("changed columns: %s\n", strings.Join(cols, ", "))
	}
	for _, ex := range []struct {
		what  string
		count int64
		rows  query.Rows
	}{{"added", d.Added, d.AddedRows}, {"removed", d.Removed, d.RemovedRows}, {"changed", d.Changed, d.ChangedRows}} {
		if ex.count == 0 || ex.rows.Result == nil {
			continue
		}
		shown := exampleKeys(ex.rows, len(d.PrimaryKey))
		p("\n%s (%s):\n", ex.what, ofTotal(shown, ex.count))
		if err := writeIndented(w, ex.rows); err != nil {
			return err
		}
	}
	return nil
}

// describeSide is a snapshot as the header names it.
func describeSide(s query.DiffSide) string {
	at := ""
	if s.Published != nil {
		at = ", published " + s.Published.UTC().Format(time.DateTime) + " UTC"
	}
	return fmt.Sprintf("snapshot %d (%d rows%s)", s.Snapshot, s.Rows, at)
}

// exampleKeys counts the distinct keys among example rows (a changed row shows a line
// per differing column).
func exampleKeys(rows query.Rows, keyColumns int) int {
	seen := map[string]bool{}
	for _, r := range rows.Rows {
		seen[fmt.Sprintf("%#v", r[:keyColumns])] = true
	}
	return len(seen)
}

func ofTotal(shown int, total int64) string {
	if int64(shown) == total {
		return fmt.Sprint(total)
	}
	return fmt.Sprintf("first %d of %d, by key; --limit shows more", shown, total)
}

// writeIndented writes example rows as mesh query's table, indented, without its row
// count (the heading says how many).
func writeIndented(w io.Writer, rows query.Rows) error {
	var b bytes.Buffer
	if err := rows.WriteTable(&b); err != nil {
		return errs.E(errs.Internal, "diff: write examples", err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	for _, l := range lines[:len(lines)-1] {
		if _, err := fmt.Fprintf(w, "  %s\n", l); err != nil {
			return err
		}
	}
	return nil
}
