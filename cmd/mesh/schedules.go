package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshflow/meshflow/framework/schedule"
)

func (e *env) schedulesCmd() *cobra.Command {
	apply := &cobra.Command{
		Use:   "apply",
		Short: "one Temporal Schedule per product from its cadence, and a nightly maintenance per port table (removes those of deleted products)",
		Long: `Make Temporal hold one Schedule per product run on its declared cadence (cron, in UTC),
and one per port table and per raw stream a product reads that starts its maintenance every
night (maintain/<domain>.<table>, maintain/<domain>.raw.<source>.<stream>, as mesh maintain
does, at ` + schedule.MaintainCadence + ` UTC): create the missing ones, update the others, delete
those of products, tables and streams no longer declared.
Every declaration is validated first, so a bad cadence changes nothing; when Temporal
refuses a schedule, mesh names the product and field and what it had already applied.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return e.schedulesApply(cmd.Context()) },
	}
	list := &cobra.Command{
		Use:   "list [--json]",
		Short: "every schedule: cadence, paused, next run",
		Args:  noArgs,
	}
	asJSON := list.Flags().Bool("json", false, "print JSON")
	list.RunE = func(cmd *cobra.Command, _ []string) error { return e.schedulesList(cmd.Context(), *asJSON) }
	return group("schedules", "Temporal Schedules from the products' cadences: apply, list, pause, unpause",
		apply, list, e.pauseCmd("pause"), e.pauseCmd("unpause"))
}

// pauseCmd is `mesh schedules pause` or `unpause`.
func (e *env) pauseCmd(verb string) *cobra.Command {
	cmd := &cobra.Command{
		Use:               verb + " <product> [--note TEXT]",
		Short:             verb + " a product's schedules: its runs' and its tables' maintenance",
		Args:              nArgs(1, 1, fmt.Sprintf("mesh schedules %s takes one product name, e.g. mesh schedules %s marketing.web_traffic", verb, verb)),
		ValidArgsFunction: e.completeProducts(1, false),
	}
	note := cmd.Flags().String("note", "", "why: shown in the Temporal UI")
	cmd.RunE = func(cmd *cobra.Command, args []string) error { return e.pause(cmd.Context(), verb, args[0], *note) }
	return cmd
}

func (e *env) schedulesApply(ctx context.Context) error {
	// Every declaration is checked before Temporal is even dialed.
	if err := schedule.Validate(e.mesh); err != nil {
		return err
	}
	c, err := e.dialTemporal()
	if err != nil {
		return err
	}
	defer c.Close()
	res, err := schedule.Apply(ctx, c, e.mesh)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "created %d, updated %d, deleted %d schedules\n", len(res.Created), len(res.Updated), len(res.Deleted))
	for _, id := range res.Created {
		fmt.Fprintf(e.stdout, "  + %s\n", id)
	}
	for _, id := range res.Deleted {
		fmt.Fprintf(e.stdout, "  - %s\n", id)
	}
	var byInputs []string
	for _, en := range e.mesh.Products() {
		if en.Product.OnInputs() {
			byInputs = append(byInputs, en.Ref().String())
		}
	}
	if len(byInputs) > 0 {
		fmt.Fprintf(e.stdout, "no schedule for %d products run when their inputs publish: %s\n", len(byInputs), strings.Join(byInputs, ", "))
	}
	return nil
}

func (e *env) schedulesList(ctx context.Context, asJSON bool) error {
	c, err := e.dialTemporal()
	if err != nil {
		return err
	}
	defer c.Close()
	list, err := schedule.List(ctx, c)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(e.stdout, list)
	}
	// Temporal stores cron specs as calendars; the declared cadence is what people wrote.
	cadence := map[string]string{}
	for _, w := range schedule.Derive(e.mesh, time.Now()) {
		cadence[w.ID] = w.Cron
		switch {
		case w.Table != "":
			cadence[w.ID] += " (maintain " + w.Table + ")"
		case w.Stream != "":
			cadence[w.ID] += " (maintain raw " + w.Stream + ")"
		}
	}
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SCHEDULE\tCADENCE (UTC)\tPAUSED\tNEXT RUN")
	for _, s := range list {
		next := "-"
		if len(s.Next) > 0 {
			next = s.Next[0].UTC().Format("2006-01-02 15:04")
		}
		c := cadence[s.ID]
		if c == "" {
			c = strings.Join(s.Cron, " ") + " (product no longer declared)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%v\t%s\n", s.ID, c, s.Paused, next)
	}
	for _, en := range e.mesh.Products() {
		if en.Product.OnInputs() {
			fmt.Fprintf(tw, "(none: %s)\t%s\t-\t-\n", en.Ref(), en.Product.TriggerText())
		}
	}
	return tw.Flush()
}

func (e *env) pause(ctx context.Context, verb, name, note string) error {
	d, p, c, err := e.productOnTemporal(name)
	if err != nil {
		return err
	}
	defer c.Close()
	set := schedule.Pause
	if verb == "unpause" {
		set = schedule.Unpause
	}
	ids, err := set(ctx, c, e.mesh, d.Name, p.Name, note)
	for _, id := range ids {
		fmt.Fprintf(e.stdout, "%sd %s\n", verb, id)
	}
	return err
}
