package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/meshflow/meshflow/framework/catalog"
	"github.com/meshflow/meshflow/framework/query"
)

func (e *env) checkRowsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "check-rows <product> <check> [--run RUNID] [--json]",
		Short: "the offending rows a failing or warning check kept with its run, and the SQL that finds them all",
		Long: `check-rows prints the sample of offending rows (at most 100, in primary-key order) that the
newest run to check the product kept for one of its checks, and the mesh query command that finds
every offending row in the port's current snapshot. A blocked run's rows were never published: the
SQL then reads the snapshot still served. It fails, naming the product's checks, for a check the
product does not declare, and says so when the check passed in that run.`,
		Args:              nArgs(2, 2, "mesh check-rows takes a product and one of its checks, e.g. mesh check-rows marketing.crm_contacts email_has_at_sign"),
		ValidArgsFunction: e.completeProductThenCheck,
	}
	asJSON := cmd.Flags().Bool("json", false, "print JSON")
	run := cmd.Flags().String("run", "", "a run id or workflow id (default: the newest run that ran the checks)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return e.checkRows(cmd.Context(), args[0], args[1], *run, *asJSON)
	}
	return cmd
}

func (e *env) checkRows(ctx context.Context, product, check, run string, asJSON bool) error {
	ctx, cat, closeFn, err := e.callersCatalog(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	f, err := cat.CheckRows(ctx, product, check, run)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(e.stdout, f)
	}
	d, p, _ := e.mesh.Find(product)
	fmt.Fprintf(e.stdout, "%s.%s: %s %s in run %s (%s, %s %s)", d.Name, p.Name, f.Check, f.Status, f.RunID, f.WorkflowID, f.RunStatus, f.FinishedAt.UTC().Format("2006-01-02 15:04 UTC"))
	if f.Message != "" {
		fmt.Fprintf(e.stdout, ": %s", query.Printable(f.Message))
	}
	fmt.Fprintln(e.stdout)
	return writeFailingRows(e.stdout, f, len(f.Rows), "")
}

// writeFailingRows prints the first n rows a check kept as a table, then how to find
// them all; every line starts with indent.
func writeFailingRows(w io.Writer, f catalog.FailingRows, n int, indent string) error {
	var b bytes.Buffer
	switch {
	case f.SampleError != "":
		fmt.Fprintf(&b, "The run kept no rows: %s\n", f.SampleError)
	case len(f.Columns) == 0:
		fmt.Fprintf(&b, "A %s check judges the whole table, so no row offends it alone.\n", f.Kind)
	default:
		res := query.Result{Truncated: f.More || n < len(f.Rows)}
		for _, c := range f.Columns {
			res.Columns = append(res.Columns, query.Column{Name: c.Name, Type: c.Type})
		}
		for _, r := range f.Rows[:min(n, len(f.Rows))] {
			row := make([]any, len(r))
			for i, v := range r {
				if v != nil {
					row[i] = *v
				}
			}
			res.Rows = append(res.Rows, row)
		}
		if err := res.WriteTable(&b); err != nil {
			return err
		}
		if len(f.Masked) > 0 {
			fmt.Fprintf(&b, "%s masked: personal data, shown with the MESHFLOW_TOKEN of a principal who may read a restricted port.\n", strings.Join(f.Masked, ", "))
		}
	}
	if f.Command != "" {
		fmt.Fprintf(&b, "Every one (%s):\n  %s\n", f.Note, f.Command)
	}
	for _, line := range strings.SplitAfter(b.String(), "\n") {
		if line != "" {
			if _, err := io.WriteString(w, indent+line); err != nil {
				return err
			}
		}
	}
	return nil
}

// completeProductThenCheck completes a product, then one of its checks.
func (e *env) completeProductThenCheck(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) == 0 {
		return e.completeProducts(1, false)(cmd, args, toComplete)
	}
	_, p, err := e.mesh.Find(args[0])
	if len(args) > 1 || err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []cobra.Completion
	for _, c := range p.AllChecks() {
		if strings.HasPrefix(c.Name, toComplete) {
			out = append(out, c.Name)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
