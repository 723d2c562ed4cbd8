package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/query"
)

// freshness prints every product's freshness and, with --fail-on, exits non-zero when
// any product is at or past that level — for alerting from cron or CI. A product that
// was never published counts as failing: nobody can use it.
func (e *env) freshnessCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "freshness [--fail-on warn|fail] [--json]",
		Short: "every product's freshness against its SLO; exits 1 at the --fail-on level (for alerting)",
		Args:  noArgs,
	}
	failOn := cmd.Flags().String("fail-on", "", "exit 1 when a product is at this level or worse: warn or fail")
	asJSON := cmd.Flags().Bool("json", false, "print JSON")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error { return e.freshness(cmd.Context(), *failOn, *asJSON) }
	return cmd
}

func (e *env) freshness(ctx context.Context, failOn string, asJSON bool) error {
	rank := map[mesh.Status]int{mesh.StatusPass: 0, mesh.StatusWarn: 1, mesh.StatusFail: 2, mesh.StatusUnknown: 2}
	threshold := 3 // never
	switch failOn {
	case "":
	case "warn":
		threshold = 1
	case "fail":
		threshold = 2
	default:
		return usagef("--fail-on %q: use warn or fail", failOn)
	}
	list, err := e.listProducts(ctx)
	if err != nil {
		return err
	}
	var bad []string
	for _, s := range list {
		if rank[s.Freshness.Status] >= threshold {
			bad = append(bad, s.Domain+"."+s.Name)
		}
	}
	if asJSON {
		if err := writeJSON(e.stdout, list); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "PRODUCT\tFRESHNESS\tPUBLISHED\tAGE\tWARN AFTER\tFAIL AFTER\tDATA UP TO\tLAST RUN\tWHY")
		for _, s := range list {
			published, data := "never", "-"
			if s.Freshness.PublishedAt != nil {
				published = s.Freshness.PublishedAt.UTC().Format("2006-01-02 15:04")
			}
			if s.Freshness.CheckedAt != nil {
				// A run found the same rows: the data is as old as the snapshot, and known current.
				published = "unchanged since " + s.PublishedAt.UTC().Format("2006-01-02 15:04") + ", checked " + published
			}
			if s.Freshness.DataTime != nil {
				data = s.Freshness.DataTime.UTC().Format("2006-01-02 15:04")
			}
			fmt.Fprintf(tw, "%s.%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Domain, s.Name, s.Freshness.Status, published, s.Freshness.Age, s.Freshness.WarnAfter, s.Freshness.FailAfter, data, lastRun(s.LastRun), query.Printable(s.Freshness.Reason))
		}
		tw.Flush()
		printProblems(e.stdout, list)
	}
	if len(bad) > 0 {
		return errs.Errorf(errs.Internal, "freshness", "%d product(s) at %s or worse: %s", len(bad), failOn, strings.Join(bad, ", "))
	}
	return nil
}
