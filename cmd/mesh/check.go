package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshflow/meshflow/connectors"
	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/transform"
)

func (e *env) checkCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "check [domain|product...] [--json]",
		Short: "compile every model and check against its declared inputs and schema, in seconds; exits 1 on a problem",
		Long: `Compile every model against empty inputs typed as their connectors' streams and the
upstream products' schemas declare them, and compare what it selects with its declared
schema: syntax errors, unknown columns, inputs or raw streams, a model reading a table its
product does not list, missing or extra columns, types that do not fit, TIMESTAMPTZ
outputs; compile every check's SQL; find model files no product uses. One problem per
line, each naming the file and line and the fix. Nothing runs: no Temporal, no lake.
Run in the repository, it reads the model files as saved under domains/ (no rebuild);
a change to a Go declaration needs one. ` + "`go test ./domains/...`" + ` runs the same check.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return e.check(cmd.Context(), args, asJSON) },
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the problems as JSON")
	return cmd
}

// check runs transform.CheckMesh over the mesh (or the named domains and products).
func (e *env) check(ctx context.Context, names []string, asJSON bool) error {
	start := time.Now()
	// In the repository the saved files are checked, not the ones this binary was
	// built with: no rebuild between an edit and its check.
	m, notes := e.mesh.FromDisk(".")
	for _, n := range notes {
		fmt.Fprintln(e.stderr, "note:", n)
	}
	problems, err := transform.CheckMesh(ctx, m, connectors.Of(m))
	if err != nil {
		return err
	}
	keep, err := e.checkScope(names)
	if err != nil {
		return err
	}
	shown := problems[:0]
	for _, p := range problems {
		if keep(p) {
			p.File = repoPath(p.Domain, p.File, m)
			shown = append(shown, p)
		}
	}
	products := 0
	for _, d := range m.Domains {
		products += len(d.Products)
	}
	if asJSON {
		out := make([]map[string]any, len(shown))
		for i, p := range shown {
			out[i] = map[string]any{"domain": p.Domain, "product": p.Product, "file": p.File, "line": p.Line, "message": p.Message}
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else {
		for _, p := range shown {
			fmt.Fprintln(e.stdout, p)
		}
	}
	if len(shown) > 0 {
		return errs.Errorf(errs.Invalid, "check", "%d problem(s) in the declarations above: fix each as it says, then run mesh check again", len(shown))
	}
	if !asJSON {
		fmt.Fprintf(e.stdout, "ok: %d products in %d domains compile and match their schemas (%s)\n", products, len(m.Domains), time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// checkScope keeps the problems of the named domains and products (all when none is
// named); a name that is neither is a usage error.
func (e *env) checkScope(names []string) (func(transform.Problem) bool, error) {
	if len(names) == 0 {
		return func(transform.Problem) bool { return true }, nil
	}
	domains, products := map[string]bool{}, map[string]bool{}
	for _, n := range names {
		if _, ok := e.mesh.Domain(n); ok {
			domains[n] = true
			continue
		}
		d, p, err := e.mesh.Find(n)
		if err != nil {
			return nil, usagef("%s is neither a domain nor a product: name a domain (%s) or a product (mesh products lists them)", n, domainNames(e.mesh))
		}
		products[d.Name+"."+p.Name] = true
	}
	return func(p transform.Problem) bool {
		return domains[p.Domain] || products[p.Domain+"."+p.Product]
	}, nil
}

func domainNames(m mesh.Mesh) string {
	out := make([]string, len(m.Domains))
	for i, d := range m.Domains {
		out[i] = d.Name
	}
	return strings.Join(out, ", ")
}

// repoPath turns a domain's file (models/x.sql) into its path from the working
// directory when that is the repository, so an editor jumps to it: the domain folder
// under domains/ holding the same file. Otherwise the file stays as the domain names it.
func repoPath(domain, file string, m mesh.Mesh) string {
	if file == "" {
		return ""
	}
	d, ok := m.Domain(domain)
	if !ok || d.Files == nil {
		return file
	}
	want, err := fs.ReadFile(d.Files, file)
	if err != nil {
		return file
	}
	dirs, _ := filepath.Glob(filepath.Join("domains", "*"))
	for _, dir := range dirs {
		if got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(file))); err == nil && string(got) == string(want) {
			return filepath.ToSlash(filepath.Join(dir, file))
		}
	}
	return file
}
