package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/meshflow/meshflow/framework/access"
	"github.com/meshflow/meshflow/framework/contract"
	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
)

// contractCmd runs `mesh contract export <product> [-o FILE]`: the port's ODCS v3.1.0 contract.
func (e *env) contractCmd(ctx context.Context, args []string) error {
	fs, _ := e.newFlags("contract")
	outFile := fs.String("o", "", "write to this file instead of standard output")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) >= 1 && pos[0] == "check" {
		return e.contractCheck(ctx, pos[1:])
	}
	if len(pos) != 2 || pos[0] != "export" {
		return errs.Errorf(errs.Invalid, "usage", "mesh contract export <product> [-o FILE] | mesh contract check [product...]")
	}
	d, p, err := e.mesh.Find(pos[1])
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
	if *outFile == "" {
		_, err = e.stdout.Write(b)
		return err
	}
	if err := os.WriteFile(*outFile, b, 0o644); err != nil {
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
