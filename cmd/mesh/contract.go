package main

import (
	"context"
	"os"

	"github.com/meshflow/meshflow/framework/contract"
	"github.com/meshflow/meshflow/framework/errs"
)

// contractCmd runs `mesh contract export <product> [-o FILE]`: the port's ODCS v3.1.0 contract.
func (e *env) contractCmd(ctx context.Context, args []string) error {
	fs, _ := e.newFlags("contract")
	outFile := fs.String("o", "", "write to this file instead of standard output")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 || pos[0] != "export" {
		return errs.Errorf(errs.Invalid, "usage", "mesh contract export <product> [-o FILE]")
	}
	d, p, err := e.mesh.Find(pos[1])
	if err != nil {
		return err
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
