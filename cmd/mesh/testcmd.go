package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshflow/meshflow/connectors"
	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/transform"
)

func (e *env) testCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "test [domain|product...]",
		Short: "run the products' model unit tests in embedded DuckDB, in milliseconds each; exits 1 on a failure",
		Long: `Run the unit tests products declare next to their models (Product.Tests): each fills
the product's inputs with the rows it gives, runs the model as a run does and compares its
rows with the expected ones, order ignored. One line per test (ok or FAIL, and how long it
took); under a failure, the expected rows the model did not return (-) and those it
returned unexpectedly (+). Nothing runs but DuckDB: no Temporal, no lake. Run in the
repository, it reads the model and test files as saved under domains/ (no rebuild); a
change to a Go declaration needs one. ` + "`go test ./domains/...`" + ` runs the same tests.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return e.test(cmd.Context(), args) },
	}
}

// test runs the model tests of the mesh (or of the named domains and products).
func (e *env) test(ctx context.Context, names []string) error {
	start := time.Now()
	keep, err := e.checkScope(names)
	if err != nil {
		return err
	}
	// In the repository the saved models and test files are tested, not the ones this
	// binary was built with.
	m, notes := e.mesh.FromDisk(".")
	for _, n := range notes {
		fmt.Fprintln(e.stderr, "note:", n)
	}
	tr, err := transform.NewTester(ctx, transform.Declare(m, connectors.Of(m)))
	if err != nil {
		return err
	}
	defer tr.Close()
	ran, failed, products := 0, 0, 0
	for _, d := range m.Domains {
		for _, p := range d.Products {
			if len(p.Tests) == 0 || !keep(transform.Problem{Domain: d.Name, Product: p.Name}) {
				continue
			}
			products++
			for _, t := range p.Tests {
				r := tr.Run(ctx, d, p, t)
				ran++
				status := "ok  "
				if r.Failed() {
					status = "FAIL"
					failed++
				}
				fmt.Fprintf(e.stdout, "%s %s (%s)\n", status, r.Name(), r.Elapsed.Round(time.Millisecond))
				if !r.Failed() {
					continue
				}
				if r.Doc != "" {
					fmt.Fprint(e.stdout, indent(r.Doc))
				}
				if r.Err != nil {
					fmt.Fprint(e.stdout, indent(r.Err.Error()))
				}
				if r.Diff != "" {
					fmt.Fprint(e.stdout, indent(r.Diff))
				}
			}
		}
	}
	if failed > 0 {
		return errs.Errorf(errs.Invalid, "test", "%d of %d model tests failed: fix the model or the expected rows, then run mesh test again", failed, ran)
	}
	if ran == 0 {
		fmt.Fprintln(e.stdout, "no model tests: no product here declares any (Product.Tests; see README, \"Adding a product\")")
		return nil
	}
	fmt.Fprintf(e.stdout, "ok: %d model tests of %d products passed (%s)\n", ran, products, time.Since(start).Round(time.Millisecond))
	return nil
}

// indent sets text off under its test's line.
func indent(text string) string {
	return "    " + strings.ReplaceAll(strings.TrimSuffix(text, "\n"), "\n", "\n    ") + "\n"
}
