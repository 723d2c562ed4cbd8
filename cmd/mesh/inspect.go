package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshflow/meshflow/framework/catalog"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/query"
	"github.com/meshflow/meshflow/workers/host"
)

func (e *env) openCatalog(ctx context.Context) (*catalog.Catalog, func(), error) {
	stores, err := host.OpenStores(ctx, e.cfg)
	if err != nil {
		return nil, nil, err
	}
	// MESHFLOW_TEMPORAL_UI_URL, when set, links a table's last maintenance to its workflow.
	return &catalog.Catalog{Mesh: e.mesh, Ports: stores.Ports, Lake: stores.Lake, TemporalUI: e.cfg.Alerts.TemporalUI, Namespace: e.cfg.Namespace}, func() { stores.Close() }, nil
}

func (e *env) productsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "products [--json]",
		Short: "every product with version, rows, snapshot, quality and freshness",
		Args:  noArgs,
	}
	asJSON := cmd.Flags().Bool("json", false, "print JSON")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error { return e.products(cmd.Context(), *asJSON) }
	return cmd
}

func (e *env) products(ctx context.Context, asJSON bool) error {
	list, err := e.listProducts(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(e.stdout, list)
	}
	printStatusTable(e.stdout, list)
	return nil
}

// listProducts is every product's status as the caller (MESHFLOW_TOKEN) may see it: a
// restricted product's run error only with a token in its groups, audited. An access
// file that does not load withholds those errors, and says why, rather than failing
// the list: mesh freshness --fail-on must keep alerting.
func (e *env) listProducts(ctx context.Context) ([]catalog.Status, error) {
	cat, closeFn, err := e.openCatalog(ctx)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	if guarded, err := e.guard(ctx, cat); err != nil {
		fmt.Fprintf(e.stderr, "mesh: %s; restricted products' run errors are withheld\n", query.Printable(err.Error()))
	} else {
		ctx = guarded
	}
	return cat.List(ctx)
}

func printStatusTable(w io.Writer, list []catalog.Status) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PRODUCT\tVERSION\tROWS\tSNAPSHOT\tQUALITY\tFRESHNESS\tPUBLISHED\tLAST RUN\tOWNER")
	for _, s := range list {
		published, snap := "never", "-"
		if s.PublishedAt != nil {
			published = s.PublishedAt.Local().Format("2006-01-02 15:04:05")
			snap = fmt.Sprint(s.Snapshot)
		}
		fmt.Fprintf(tw, "%s.%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Domain, s.Name, s.Version, s.Rows, snap, s.Quality.Status, s.Freshness.Status, published, lastRun(s.LastRun), s.Owner)
	}
	tw.Flush()
	printProblems(w, list)
}

// lastRun is the LAST RUN cell: the newest run's outcome and when it finished.
func lastRun(r *catalog.LastRun) string {
	if r == nil {
		return "-"
	}
	return r.Status + " " + r.FinishedAt.Local().Format("2006-01-02 15:04")
}

// printProblems follows a table of products with one line for each whose newest run
// failed or was blocked: a table cell has no room for why, and what is still served.
// The why is a run's error, which can quote source values: its control characters are
// shown, never sent.
func printProblems(w io.Writer, list []catalog.Status) {
	sep := "\n"
	for _, s := range list {
		if s.Problem != "" {
			fmt.Fprintf(w, "%s%s.%s: %s\n", sep, s.Domain, s.Name, query.Printable(s.Problem))
			sep = ""
		}
	}
}

func (e *env) showCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:               "show <product> [--json]",
		Short:             "one product: docs, schema, checks, freshness, snapshots, sample rows",
		Args:              nArgs(1, 1, "mesh show takes one product name, e.g. mesh show marketing.crm_contacts"),
		ValidArgsFunction: e.completeProducts(1, false),
	}
	asJSON := cmd.Flags().Bool("json", false, "print JSON")
	sample := cmd.Flags().Int("sample", 5, "sample rows to show")
	cmd.RunE = func(cmd *cobra.Command, args []string) error { return e.show(cmd.Context(), args[0], *asJSON, *sample) }
	return cmd
}

func (e *env) show(ctx context.Context, name string, asJSON bool, sample int) error {
	ctx, cat, closeFn, err := e.callersCatalog(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	d, err := cat.Show(ctx, name, sample)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(e.stdout, d)
	}
	printDetail(e.stdout, d)
	return nil
}

func printDetail(w io.Writer, d catalog.Detail) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("%s.%s  v%s  (%s)\n", d.Domain, d.Name, d.Version, d.Table)
	if d.Problem != "" {
		p("\n%s: %s\n\n", strings.ToUpper(d.LastRun.Status), query.Printable(d.Problem))
	}
	p("%s\n\n", d.FullDesc)
	p("Owner:          %s", d.Owner)
	if d.Contact != "" {
		p(" <%s>", d.Contact)
	}
	p("\nClassification: %s\nRuns:           %s\nPrimary key:    %s\n", d.Classification, d.Trigger, strings.Join(d.PrimaryKey, ", "))
	if len(d.AllowedGroups) > 0 {
		p("Readable by:    the groups %s (reads are audited: mesh audit)\n", strings.Join(d.AllowedGroups, ", "))
	}
	if len(d.UseCases) > 0 {
		p("Use cases:\n")
		for _, u := range d.UseCases {
			p("  - %s\n", u)
		}
	}
	p("Inputs:         %s\n", orNone(d.Inputs))
	for _, port := range slices.Sorted(maps.Keys(d.InputsRead)) {
		p("                read %s at snapshot %d\n", port, d.InputsRead[port])
	}
	for _, in := range d.RawInputs {
		if in.ReadMode != "" {
			p("                %s is read by %s\n", in.Name, in.ReadMode)
		}
	}
	p("Consumers:      %s\n", orNone(d.Consumers))

	p("\nFreshness: %s", d.Freshness.Status)
	switch {
	case d.Freshness.CheckedAt != nil:
		p(" — unchanged since %s, checked %s (%s ago)", d.PublishedAt.UTC().Format(time.RFC3339), d.Freshness.CheckedAt.UTC().Format(time.RFC3339), d.Freshness.Age)
	case d.Freshness.PublishedAt != nil:
		p(" — published %s (%s ago)", d.Freshness.PublishedAt.UTC().Format(time.RFC3339), d.Freshness.Age)
	default:
		p(" — never published")
	}
	if d.Freshness.DataTime != nil {
		p(", data up to %s", d.Freshness.DataTime.UTC().Format(time.RFC3339))
	}
	p("\n  SLO: warn after %s, fail after %s since the last publish\n", d.Freshness.WarnAfter, d.Freshness.FailAfter)
	if d.Freshness.Reason != "" {
		p("  %s\n", query.Printable(d.Freshness.Reason))
	}
	for _, in := range d.Freshness.Inputs {
		p("  input %s: %s — %s\n", in.Name, in.Status, query.Printable(in.Reason))
	}
	for _, v := range d.Legacy {
		state := "still published until " + v.Sunset
		if !v.Publishing {
			state = "sunset on " + v.Sunset + ", no longer updated"
		}
		p("  deprecated port %s (v%s): %s; move to %s: %s\n", v.Table, v.Version, state, v.Successor, v.Migration)
	}
	if r := d.LastRun; r != nil {
		p("Last run:  %s at %s (%s)\n", r.Status, r.FinishedAt.UTC().Format(time.RFC3339), r.WorkflowID)
		if r.Trigger != "" {
			p("  started by %s\n", query.Printable(r.Trigger))
		}
		if r.Incremental != "" {
			p("  %s\n", query.Printable(r.Incremental))
		}
		for _, w := range r.Warnings {
			p("  warning: %s\n", query.Printable(w))
		}
	}

	p("\nSchema:\n")
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	for _, c := range d.Schema {
		req := ""
		if c.Required {
			req = "required"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", c.Name, c.Type, req, c.Doc)
	}
	tw.Flush()

	p("\nChecks (quality %s):\n", d.Quality.Status)
	tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	for _, c := range d.Checks {
		last, failing, msg := "not run", "", ""
		if c.Last != nil {
			// A check's message can quote the offending values.
			last, msg = string(c.Last.Status), query.Printable(c.Last.Message)
			if c.Last.Status != mesh.StatusPass {
				failing = fmt.Sprintf("%d offending", c.Last.Failing)
			}
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", c.Name, c.Severity, last, failing, msg)
	}
	tw.Flush()
	for _, f := range d.FailingRows {
		p("\nOffending rows of %s (%s: %s; all the run kept: mesh check-rows %s.%s %s):\n", f.Check, f.Status, query.Printable(f.Message), d.Domain, d.Name, f.Check)
		_ = writeFailingRows(w, f, failingRowsShown, "  ")
	}

	p("\nSnapshots (newest first):\n")
	if len(d.Snapshots) == 0 {
		p("  none\n")
	}
	for _, s := range d.Snapshots {
		p("  %d  %s  %-9s rows=%d run=%s\n", s.ID, s.Timestamp.UTC().Format(time.RFC3339), s.Operation, s.Rows, s.Properties["meshflow.run-id"])
	}
	if len(d.Sample.Rows) > 0 {
		p("\nSample rows:\n")
		tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "  %s\n", strings.Join(d.Sample.Columns, "\t"))
		for _, r := range d.Sample.Rows {
			for i := range r {
				// Source data may hold terminal escapes: show them, never send them.
				r[i] = query.Printable(r[i])
				if rs := []rune(r[i]); len(rs) > 40 {
					r[i] = string(rs[:37]) + "..."
				}
			}
			fmt.Fprintf(tw, "  %s\n", strings.Join(r, "\t"))
		}
		tw.Flush()
		if len(d.Sample.Masked) > 0 {
			p("  %s masked: personal data, shown with the MESHFLOW_TOKEN of a principal who may read a restricted port.\n", strings.Join(d.Sample.Masked, ", "))
		}
	}
}

// failingRowsShown is how many offending rows of each failing check mesh show prints;
// mesh check-rows prints all the run kept.
const failingRowsShown = 5

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
