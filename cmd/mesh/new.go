package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/meshflow/meshflow/connectors"
	"github.com/meshflow/meshflow/dev/scaffold"
	"github.com/meshflow/meshflow/framework/errs"
)

func (e *env) newCmd() *cobra.Command {
	g := group("new", "scaffold a domain, a product or a source, wired in and valid at once (then edit it)",
		e.newDomainCmd(), e.newProductCmd(), e.newSourceCmd())
	g.PersistentFlags().StringVar(&e.repoDir, "dir", ".", "a directory inside the repository checkout to scaffold into")
	return g
}

func (e *env) newDomainCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "domain <name> [--owner TEAM] [--contact WHERE]",
		Short: "a new domain: domains/<name>/domain.go, its line in domains/registry.go, its worker in docker-compose.yml",
		Args:  nArgs(1, 1, "mesh new domain takes the domain's name, e.g. mesh new domain customer_success"),
	}
	owner := cmd.Flags().String("owner", "", "the owning team (default <name>-team)")
	contact := cmd.Flags().String("contact", "", "where consumers ask questions (default #<name>-data)")
	cmd.RunE = func(_ *cobra.Command, args []string) error {
		r, err := scaffold.FindRepo(e.repoDir)
		if err != nil {
			return err
		}
		files, err := r.NewDomain(scaffold.DomainOptions{Name: args[0], Owner: *owner, Contact: *contact})
		if err != nil {
			return err
		}
		e.scaffolded(files, "its products: mesh new product "+args[0]+".NAME --input DOMAIN.PRODUCT")
		return nil
	}
	return cmd
}

func (e *env) newProductCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "product <domain>.<name> --input <domain>.<product>|<source>.<stream>",
		Short: "a new product reading another product or a raw stream: its model, its declaration, its place in the domain",
		Long: `Scaffold a product of an existing domain: models/<name>.sql selects every column of its input,
<name>.go declares them (types and docs copied, key, classification, a row-count check, a daily
cadence) and the domain's Products lists it. It is valid and runs at once; then describe it, narrow
the model to what the product promises, and keep the schema in step (go test ./domains/... checks).`,
		Args:              nArgs(1, 1, "mesh new product takes the product's name, e.g. mesh new product customer_success.account_health --input marketing.crm_companies"),
		ValidArgsFunction: cobra.NoFileCompletions,
	}
	input := cmd.Flags().String("input", "", "what it reads: another product (domain.product) or a source's raw stream (source.stream)")
	cmd.RunE = func(_ *cobra.Command, args []string) error {
		domain, name, ok := strings.Cut(args[0], ".")
		if !ok || domain == "" || name == "" {
			return usagef("name the product as domain.name, e.g. customer_success.account_health")
		}
		if *input == "" {
			return usagef("--input is required: the product it reads, e.g. --input marketing.crm_companies")
		}
		in, err := e.scaffoldInput(*input)
		if err != nil {
			return err
		}
		r, err := scaffold.FindRepo(e.repoDir)
		if err != nil {
			return err
		}
		files, err := r.NewProduct(domain, name, in)
		if err != nil {
			return err
		}
		e.scaffolded(files, "mesh run "+args[0]+" (after make build, with a worker: make dev)")
		return nil
	}
	return cmd
}

func (e *env) newSourceCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "source <domain>.<name>",
		Short: "a new source the domain alone reads: a spec, its registration with a sandbox, a conformance test, and a product reading it",
		Long: `Scaffold a source kept in a domain's own folder (mesh.Domain.Sources): sources/<name>.yaml, a
declarative REST spec (connectors/rest/SPEC.md) with a token, one stream and page-number paging;
<name>_source.go registering it with the generic stub API (dev/sandbox/stub) as its sandbox;
<name>_source_test.go running the connector conformance suite against that sandbox; and a
product <name>_items reading the stream. All of it passes go test at once and runs in make demo;
then point the spec at the real API and give it a sandbox imitating that API.`,
		Args: nArgs(1, 1, "mesh new source takes the domain and the source's name, e.g. mesh new source customer_success.zendesk"),
	}
	cmd.RunE = func(_ *cobra.Command, args []string) error {
		domain, name, ok := strings.Cut(args[0], ".")
		if !ok || domain == "" || name == "" {
			return usagef("name the source as domain.name, e.g. customer_success.zendesk")
		}
		r, err := scaffold.FindRepo(e.repoDir)
		if err != nil {
			return err
		}
		files, err := r.NewSource(domain, name)
		if err != nil {
			return err
		}
		e.scaffolded(files, "make demo (the source reads its stub sandbox), then point sources/"+name+".yaml at the real API")
		return nil
	}
	return cmd
}

// scaffoldInput is what a new product reads: another product, or a raw stream of a
// registered connector (a domain's own included).
func (e *env) scaffoldInput(name string) (scaffold.Input, error) {
	if in, err := scaffold.ProductInput(e.mesh, name); err == nil {
		return in, nil
	}
	src, stream, _ := strings.Cut(name, ".")
	for _, c := range connectors.Of(e.mesh) {
		if c.Name != src {
			continue
		}
		for _, s := range c.Streams {
			if s.Name == stream {
				return scaffold.StreamInput(c.Name, s), nil
			}
		}
	}
	return scaffold.Input{}, errs.Errorf(errs.Invalid, "new product", "--input %s is neither a product (mesh products lists them) nor a source's stream (the README's Configuration lists the sources)", name)
}

// scaffolded lists what was written and what comes next.
func (e *env) scaffolded(files []string, next string) {
	for _, f := range files {
		fmt.Fprintf(e.stdout, "  %s\n", f)
	}
	fmt.Fprintf(e.stdout, "valid now: go test ./domains/... passes. Next: fill in the TODOs, then %s\n", next)
}
