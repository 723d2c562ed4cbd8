package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshflow/meshflow/framework/access"
	"github.com/meshflow/meshflow/framework/catalog"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/mesh"
)

// guard gives the catalog the access policy and the audit log in its lake, and puts
// the caller (MESHFLOW_TOKEN) into the returned context, so restricted products are
// read under the same rules as in the web catalog.
func (e *env) guard(ctx context.Context, cat *catalog.Catalog) (context.Context, error) {
	pol, pr, err := e.tokenCaller()
	if err != nil {
		return ctx, err
	}
	cat.Access, cat.Audit = pol, access.NewLog(cat.Lake)
	return access.NewContext(ctx, access.Caller{Principal: pr, Path: access.PathCLI}), nil
}

// tokenCaller loads the access file and returns it with the principal MESHFLOW_TOKEN
// belongs to. An unknown token is not fatal: public and internal products stay
// readable, and a restricted one says the token is not recognised.
func (e *env) tokenCaller() (*access.Policy, access.Principal, error) {
	pol, err := access.Load(e.cfg.AccessFile)
	if err != nil {
		return nil, access.Principal{}, err
	}
	pr, _ := pol.Authenticate(e.cfg.Token)
	return pol, pr, nil
}

// authorizeCLI checks the caller (MESHFLOW_TOKEN) against one product's access rules
// and audits the read, for commands that read a port outside the catalog.
func (e *env) authorizeCLI(ctx context.Context, d mesh.Domain, p mesh.Product, what access.What) error {
	ctx, cat, closeFn, err := e.callersCatalog(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	return cat.Access.Authorize(ctx, cat.Audit, access.Read{Principal: access.FromContext(ctx).Principal, Domain: d, Product: p, What: what, Path: access.PathCLI})
}

// callersCatalog opens the catalog as the caller (MESHFLOW_TOKEN) sees it: restricted
// products are shown, and their reads audited, by the caller's groups. Call the
// returned function when done.
func (e *env) callersCatalog(ctx context.Context) (context.Context, *catalog.Catalog, func(), error) {
	cat, closeFn, err := e.openCatalog(ctx)
	if err != nil {
		return ctx, nil, nil, err
	}
	if ctx, err = e.guard(ctx, cat); err != nil {
		closeFn()
		return ctx, nil, nil, err
	}
	return ctx, cat, closeFn, nil
}

// describeAccess is one line on where the policy comes from, for mesh serve.
func describeAccess(p *access.Policy) string {
	switch {
	case p.File() == "":
		return "access:   no access file (set MESHFLOW_ACCESS_FILE): restricted products are readable by nobody"
	case !p.Configured():
		return fmt.Sprintf("access:   no file at %s: restricted products are readable by nobody (`mesh access add-token` creates it)", p.File())
	}
	return fmt.Sprintf("access:   %d principal(s) from %s; reads of restricted products are audited under audit/ in the lake", len(p.Principals()), p.File())
}

func (e *env) accessCmd() *cobra.Command {
	return group("access", "manage who may read restricted products", e.addTokenCmd(), e.listTokensCmd(), e.revokeCmd())
}

// fileFlag is --file of the access commands.
func fileFlag(cmd *cobra.Command) *string {
	return cmd.Flags().String("file", "", "access file (default $MESHFLOW_ACCESS_FILE or <lake>/access.yaml)")
}

// accessFile is the file an access command edits: --file, else the configured one.
func (e *env) accessFile(file string) string {
	if file != "" {
		return file
	}
	return e.cfg.AccessFile
}

func (e *env) listTokensCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list [--file FILE] [--json]",
		Short: "the principals that have a token, and their groups (never the tokens or their digests)",
		Args:  noArgs,
	}
	file := fileFlag(cmd)
	asJSON := cmd.Flags().Bool("json", false, "print JSON")
	cmd.RunE = func(*cobra.Command, []string) error { return e.listTokens(e.accessFile(*file), *asJSON) }
	return cmd
}

func (e *env) listTokens(path string, asJSON bool) error {
	pol, err := access.Load(path)
	if err != nil {
		return err
	}
	list := pol.List()
	if asJSON {
		if list == nil {
			list = []access.Principal{}
		}
		return writeJSON(e.stdout, list)
	}
	if !pol.Configured() {
		fmt.Fprintln(e.stdout, describeAccess(pol))
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PRINCIPAL\tGROUPS")
	for _, pr := range list {
		fmt.Fprintf(tw, "%s\t%s\n", pr.Name, strings.Join(pr.Groups, ", "))
	}
	tw.Flush()
	fmt.Fprintf(e.stderr, "%d principal(s) in %s\n", len(list), path)
	return nil
}

func (e *env) revokeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "revoke <principal> [--file FILE]",
		Short: "remove a principal and its token; a running mesh serve refuses it within seconds and ends its sessions",
		Args:  nArgs(1, 1, "mesh access revoke takes one principal name: mesh access list shows them"),
	}
	file := fileFlag(cmd)
	cmd.RunE = func(_ *cobra.Command, args []string) error {
		path := e.accessFile(*file)
		if err := access.Revoke(path, args[0]); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "revoked %s: removed from %s. The mesh command refuses its token from now on, and a running\n"+
			"mesh serve within its --access-reload interval (2s by default), ending its sign-in sessions.\n", args[0], path)
		return nil
	}
	return cmd
}

func (e *env) addTokenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "add-token --name NAME --groups G1,G2 [--file FILE]",
		Short: "a new token for a principal in those groups (printed once; the access file keeps its digest)",
		Args:  noArgs,
	}
	name := cmd.Flags().String("name", "", "the principal's name, e.g. sales-analyst")
	groups := cmd.Flags().String("groups", "", "comma-separated groups, e.g. sales,finance")
	file := fileFlag(cmd)
	cmd.RunE = func(*cobra.Command, []string) error {
		if *name == "" || *groups == "" {
			return usagef("--name and --groups are required: mesh access add-token --name NAME --groups GROUP[,GROUP...] [--file FILE]")
		}
		return e.addToken(*name, *groups, e.accessFile(*file))
	}
	return cmd
}

// addToken adds a principal to the access file and prints its new token.
func (e *env) addToken(name, groups, path string) error {
	var gs []string
	for _, g := range strings.Split(groups, ",") {
		if g = strings.TrimSpace(g); g != "" {
			gs = append(gs, g)
		}
	}
	token, err := access.AddToken(path, name, gs)
	if err != nil {
		return err
	}
	// The token alone goes to stdout, so TOKEN=$(mesh access add-token ...) works; it
	// is printed this once and kept nowhere.
	fmt.Fprintln(e.stdout, token)
	fmt.Fprintf(e.stderr, "added %s (groups %s) to %s; only its SHA-256 digest is kept, so save the token above now.\n"+
		"Use it with MESHFLOW_TOKEN=<token> mesh show <product>, or `Authorization: Bearer <token>` / the /login page of mesh serve (which loads the new principal within seconds).\n",
		name, strings.Join(gs, ", "), path)
	return nil
}

func (e *env) auditCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit [--since DAY] [--json]",
		Short: "every read of a restricted product, allowed or denied: who, what, how, when",
		Args:  noArgs,
	}
	since := cmd.Flags().String("since", "", "first day to show, YYYY-MM-DD (UTC; default: all)")
	asJSON := cmd.Flags().Bool("json", false, "print JSON")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		var from time.Time
		if *since != "" {
			var err error
			if from, err = time.Parse("2006-01-02", *since); err != nil {
				return usagef("--since %q is not a day: use YYYY-MM-DD", *since)
			}
		}
		return e.audit(cmd.Context(), from, *asJSON)
	}
	return cmd
}

// audit prints the audit log of reads of restricted products.
func (e *env) audit(ctx context.Context, from time.Time, asJSON bool) error {
	l, err := lake.Open(ctx, e.cfg.Lake)
	if err != nil {
		return err
	}
	defer l.Close()
	events, err := access.NewLog(l).Events(ctx, from)
	if err != nil {
		return err
	}
	if asJSON {
		if events == nil {
			events = []access.Event{}
		}
		return writeJSON(e.stdout, events)
	}
	printAudit(e.stdout, events)
	return nil
}

func printAudit(w io.Writer, events []access.Event) {
	if len(events) == 0 {
		fmt.Fprintln(w, "no reads of restricted products recorded")
		return
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME (UTC)\tPRINCIPAL\tPRODUCT\tPORT\tWHAT\tPATH\tDECISION\tREADS\tREASON")
	for _, ev := range events {
		decision := "denied"
		if ev.Allowed {
			decision = "allowed"
		}
		// A folded record of refusals says how many, and until when.
		reads := fmt.Sprint(ev.Reads())
		if ev.Reads() > 1 {
			reads += " until " + ev.Until.UTC().Format("15:04:05")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ev.Time.UTC().Format("2006-01-02 15:04:05"), ev.Principal, ev.Product, ev.Port, ev.What, ev.Path, decision, reads, ev.Reason)
	}
	tw.Flush()
}

// demoAccess makes the restricted demo product readable: with a local lake and no
// access file yet, it creates one with a principal in group sales and prints its token
// once. Nothing is done when the file exists, so a second demo keeps the first token.
func (e *env) demoAccess(out io.Writer) error {
	// Only the lake's own file: one named by MESHFLOW_ACCESS_FILE is the operator's.
	if strings.Contains(e.cfg.Lake, "://") || e.cfg.AccessFile != filepath.Join(e.cfg.Lake, "access.yaml") {
		return nil
	}
	if pol, err := access.Load(e.cfg.AccessFile); err != nil || pol.Configured() {
		return err
	}
	token, err := access.AddToken(e.cfg.AccessFile, "demo-analyst", []string{"sales"})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\naccess:   marketing.crm_deals is restricted to the groups sales and finance. Created %s with the principal\n"+
		"          demo-analyst (group sales); its token is shown only now:\n"+
		"            MESHFLOW_TOKEN=%s ./bin/mesh show marketing.crm_deals --lake %s\n"+
		"          (`mesh audit` lists every read of it)\n", e.cfg.AccessFile, token, e.cfg.Lake)
	return nil
}
