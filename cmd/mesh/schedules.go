package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/schedule"
	"github.com/meshflow/meshflow/workers/host"
)

// schedules runs `mesh schedules apply|list|pause <product>|unpause <product>`.
func (e *env) schedules(ctx context.Context, args []string) error {
	fs, _ := e.newFlags("schedules")
	note := fs.String("note", "", "why (pause/unpause): shown in the Temporal UI")
	asJSON := fs.Bool("json", false, "print JSON (list)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return errs.Errorf(errs.Invalid, "usage", "mesh schedules apply | list | pause <product> | unpause <product>")
	}
	c, err := host.Dial(e.cfg, logger(e.stderr, "warn"))
	if err != nil {
		return err
	}
	defer c.Close()
	switch pos[0] {
	case "apply":
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
		return nil
	case "list":
		list, err := schedule.List(ctx, c)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(e.stdout, list)
		}
		// Temporal stores cron specs as calendars; the declared cadence is what people wrote.
		cadence := map[string]string{}
		for _, en := range e.mesh.Products() {
			cadence[schedule.ID(en.Domain.Name, en.Product.Name)] = en.Product.Cadence
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
		return tw.Flush()
	case "pause", "unpause":
		if len(pos) != 2 {
			return errs.Errorf(errs.Invalid, "usage", "mesh schedules %s <product>", pos[0])
		}
		d, p, err := e.mesh.Find(pos[1])
		if err != nil {
			return err
		}
		if pos[0] == "pause" {
			err = schedule.Pause(ctx, c, d.Name, p.Name, *note)
		} else {
			err = schedule.Unpause(ctx, c, d.Name, p.Name, *note)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%sd %s\n", pos[0], schedule.ID(d.Name, p.Name))
		return nil
	}
	return errs.Errorf(errs.Invalid, "usage", "unknown schedules command %q: apply, list, pause or unpause", pos[0])
}
