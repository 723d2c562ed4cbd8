package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/meshflow/meshflow/framework/access"
	"github.com/meshflow/meshflow/framework/contract"
	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
)

func (e *env) contractCmd() *cobra.Command {
	export := &cobra.Command{
		Use:               "export <product> [-o FILE]",
		Short:             "the port's data contract as ODCS v3.1.0 YAML",
		Args:              nArgs(1, 1, "mesh contract export takes one product name, e.g. mesh contract export marketing.crm_contacts"),
		ValidArgsFunction: e.completeProducts(1, false),
	}
	outFile := export.Flags().StringP("output", "o", "", "write to this file instead of standard output")
	export.RunE = func(cmd *cobra.Command, args []string) error {
		return e.contractExport(cmd.Context(), args[0], *outFile)
	}
	check := &cobra.Command{
		Use:   "check [product...]",
		Short: "declared contracts vs the last published ones; exits 1 on a breaking change",
		Long: `Compare each product's declared contract (every product, or those named) with the one its
table was last published under, and exit 1 on a breaking change within the same major
version: what a publish would refuse, found in a domain repository's CI instead.`,
		Args:              cobra.ArbitraryArgs,
		ValidArgsFunction: e.completeProducts(-1, false),
		RunE:              func(cmd *cobra.Command, args []string) error { return e.contractCheck(cmd.Context(), args) },
	}
	return group("contract", "export a port's data contract; check declared contracts against published ones", export, check)
}

// contractExport prints the port's ODCS v3.1.0 contract, or writes it to outFile.
func (e *env) contractExport(ctx context.Context, name, outFile string) error {
	d, p, err := e.mesh.Find(name)
	if err != nil {
		return err
	}
	if p.Classification == mesh.Restricted {
		// A restricted port's schema is restricted too: the same rule and audit as mesh show.
		if err := e.authorizeCLI(ctx, d, p, access.Export); err != nil {
			return err
		}
	}
	b, err := contract.Export(d, p).YAML()
	if err != nil {
		return errs.E(errs.Internal, "contract export", err)
	}
	if outFile == "" {
		_, err = e.stdout.Write(b)
		return err
	}
	if err := os.WriteFile(outFile, b, 0o644); err != nil {
		return errs.E(errs.Invalid, "contract export", err)
	}
	return nil
}

// contractCheck compares each product's declared contract with the one its table was
// last published under and fails on a breaking change within the same major version —
// what a publish would refuse, found in a domain repository's CI instead.
func (e *env) contractCheck(ctx context.Context, names []string) error {
	cat, closeFn, err := e.openCatalog(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	entries := e.mesh.Products()
	if len(names) > 0 {
		entries = nil
		for _, n := range names {
			d, p, err := e.mesh.Find(n)
			if err != nil {
				return err
			}
			entries = append(entries, mesh.Entry{Domain: d, Product: p})
		}
	}
	var broken []string
	for _, en := range entries {
		id := port.TableID{Domain: en.Domain.Name, Name: en.Product.PortName()}
		changes, published, err := flow.ContractChanges(ctx, cat.Ports, id, contract.Export(en.Domain, en.Product))
		if err != nil {
			return err
		}
		status := "compatible"
		switch {
		case !published:
			status = "no published contract yet"
		case len(changes) == 0:
			status = "unchanged"
		}
		if len(contract.Breaking(changes)) > 0 {
			status = "BREAKING"
			broken = append(broken, id.String())
		}
		fmt.Fprintf(e.stdout, "%-42s %s\n", id, status)
		for _, c := range changes {
			kind := "compatible"
			if c.Breaking {
				kind = "breaking"
			}
			fmt.Fprintf(e.stdout, "    %-10s %s\n", kind, c.Message)
		}
	}
	if len(broken) > 0 {
		return errs.Errorf(errs.Invalid, "contract check", "breaking changes without a major version bump in %s: bump the major version (a new table) or make the change compatible", strings.Join(broken, ", "))
	}
	return nil
}
