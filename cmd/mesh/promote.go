package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/query"
	"github.com/meshflow/meshflow/workers/host"
)

func (e *env) promoteCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "promote <product> --branch NAME [--keep] [--json]",
		Short: "make a preview branch main: fast-forward the product's port to the branch once its checks passed",
		Long: `Make the preview a run published on a branch (mesh run <product> --branch NAME) what
consumers read: main of the product's port is fast-forwarded to the branch's snapshot, with
the table properties (version, contract...) it was published under, and the branch is
removed (--keep keeps it).

It refuses, saying why and what to do, when a check of the branch's snapshot or its latest
run on the branch failed, when the branch changes the contract in a way that breaks main's
consumers (that needs a new major), and when main moved since the branch was made (run the
product on the branch again: it then starts from main's snapshot). mesh diff <product>
--branch NAME shows what promoting would change.`,
		Args:              nArgs(1, 1, "mesh promote takes one product name, e.g. mesh promote marketing.crm_companies --branch preview"),
		ValidArgsFunction: e.completeProducts(1, false),
	}
	branch := cmd.Flags().String("branch", "", "the preview branch to make main (required)")
	keep := cmd.Flags().Bool("keep", false, "keep the branch after promoting it")
	asJSON := cmd.Flags().Bool("json", false, "print JSON")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if *branch == "" {
			return usagef("--branch names the preview branch to make main, e.g. mesh promote %s --branch preview", args[0])
		}
		return e.promote(cmd.Context(), args[0], *branch, *keep, *asJSON)
	}
	return cmd
}

// promote runs `mesh promote <product> --branch NAME`.
func (e *env) promote(ctx context.Context, name, branch string, keep, asJSON bool) error {
	d, p, err := e.mesh.Find(name)
	if err != nil {
		return err
	}
	stores, err := host.OpenStores(ctx, e.cfg)
	if err != nil {
		return err
	}
	defer stores.Close()
	res, err := flow.Promote(ctx, stores.Ports, stores.Lake, d, p, branch, keep)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(e.stdout, struct {
			Table    string `json:"table"`
			Branch   string `json:"branch"`
			Snapshot int64  `json:"snapshot"`
			Previous int64  `json:"previous,omitempty"`
			Rows     int64  `json:"rows"`
			Kept     bool   `json:"kept"`
		}{res.Table, res.Branch, res.Snapshot.ID, res.Previous, res.Snapshot.Rows, res.Kept})
	}
	was := "no snapshot"
	if res.Previous != 0 {
		was = fmt.Sprintf("snapshot %d", res.Previous)
	}
	fmt.Fprintf(e.stdout, "promoted branch %s of %s: main moved from %s to snapshot %d (%d rows, quality %s)\n",
		res.Branch, res.Table, was, res.Snapshot.ID, res.Snapshot.Rows, res.Snapshot.Properties[flow.PropQuality])
	for _, c := range res.Warned {
		fmt.Fprintf(e.stdout, "  warning: check %s warned: %s\n", c.Name, query.Printable(c.Message))
	}
	if res.Kept {
		fmt.Fprintf(e.stdout, "  branch %s kept (--keep)\n", res.Branch)
	} else {
		fmt.Fprintf(e.stdout, "  branch %s removed\n", res.Branch)
	}
	return nil
}
