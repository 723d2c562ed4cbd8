package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/meshflow/meshflow/framework/access"
	"github.com/meshflow/meshflow/framework/catalog"
	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/mesh"
)

// guard gives the catalog the access policy and the audit log in its lake, and puts
// the caller (MESHFLOW_TOKEN) into the returned context, so restricted products are
// read under the same rules as in the web catalog.
func (e *env) guard(ctx context.Context, cat *catalog.Catalog) (context.Context, error) {
	pol, err := access.Load(e.cfg.AccessFile)
	if err != nil {
		return ctx, err
	}
	cat.Access, cat.Audit = pol, access.NewLog(cat.Lake)
	// An unknown token is not fatal here: public and internal products stay readable,
	// and a restricted one says the token is not recognised.
	pr, _ := pol.Authenticate(e.cfg.Token)
	return access.NewContext(ctx, access.Caller{Principal: pr, Path: access.PathCLI}), nil
}

// authorizeCLI checks the caller (MESHFLOW_TOKEN) against one product's access rules
// and audits the read, for commands that read a port outside the catalog.
func (e *env) authorizeCLI(ctx context.Context, d mesh.Domain, p mesh.Product, what access.What) error {
	cat, closeFn, err := e.openCatalog(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	pol, err := access.Load(e.cfg.AccessFile)
	if err != nil {
		return err
	}
	pr, _ := pol.Authenticate(e.cfg.Token)
	return pol.Authorize(ctx, access.NewLog(cat.Lake), access.Read{Principal: pr, Domain: d, Product: p, What: what, Path: access.PathCLI})
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

const accessUsage = "mesh access add-token --name NAME --groups GROUP[,GROUP...] [--file FILE]"

// accessCmd manages the access file.
func (e *env) accessCmd(_ context.Context, args []string) error {
	if len(args) == 0 || args[0] != "add-token" {
		return errs.Errorf(errs.Invalid, "usage", "%s", accessUsage)
	}
	fs, lakeDir := e.newFlags("access add-token")
	name := fs.String("name", "", "the principal's name, e.g. sales-analyst")
	groups := fs.String("groups", "", "comma-separated groups, e.g. sales,finance")
	file := fs.String("file", "", "access file (default $MESHFLOW_ACCESS_FILE or <lake>/access.yaml)")
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) > 0 || *name == "" || *groups == "" {
		return errs.Errorf(errs.Invalid, "usage", "%s", accessUsage)
	}
	if err := e.withLake(*lakeDir); err != nil {
		return err
	}
	path := *file
	if path == "" {
		path = e.cfg.AccessFile
	}
	var gs []string
	for _, g := range strings.Split(*groups, ",") {
		if g = strings.TrimSpace(g); g != "" {
			gs = append(gs, g)
		}
	}
	token, err := access.AddToken(path, *name, gs)
	if err != nil {
		return err
	}
	// The token alone goes to stdout, so TOKEN=$(mesh access add-token ...) works; it
	// is printed this once and kept nowhere.
	fmt.Fprintln(e.stdout, token)
	fmt.Fprintf(e.stderr, "added %s (groups %s) to %s; only its SHA-256 digest is kept, so save the token above now.\n"+
		"Use it with MESHFLOW_TOKEN=<token> mesh show <product>, or `Authorization: Bearer <token>` / the /login page of mesh serve (restart it to load the new principal).\n",
		*name, strings.Join(gs, ", "), path)
	return nil
}

// audit prints the audit log of reads of restricted products.
func (e *env) audit(ctx context.Context, args []string) error {
	fs, lakeDir := e.newFlags("audit")
	since := fs.String("since", "", "first day to show, YYYY-MM-DD (UTC; default: all)")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return errs.Errorf(errs.Invalid, "usage", "mesh audit [--since YYYY-MM-DD] [--json]")
	}
	var from time.Time
	if *since != "" {
		if from, err = time.Parse("2006-01-02", *since); err != nil {
			return errs.Errorf(errs.Invalid, "usage", "--since %q is not a day: use YYYY-MM-DD", *since)
		}
	}
	if err := e.withLake(*lakeDir); err != nil {
		return err
	}
	l, err := lake.Open(ctx, e.cfg.Lake)
	if err != nil {
		return err
	}
	defer l.Close()
	events, err := access.NewLog(l).Events(ctx, from)
	if err != nil {
		return err
	}
	if *asJSON {
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
	fmt.Fprintln(tw, "TIME (UTC)\tPRINCIPAL\tPRODUCT\tPORT\tWHAT\tPATH\tDECISION\tREASON")
	for _, ev := range events {
		decision := "denied"
		if ev.Allowed {
			decision = "allowed"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ev.Time.UTC().Format("2006-01-02 15:04:05"), ev.Principal, ev.Product, ev.Port, ev.What, ev.Path, decision, ev.Reason)
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
