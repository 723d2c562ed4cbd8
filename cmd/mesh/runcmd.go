package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/workers/host"
)

func (e *env) runCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run <product> [--full-refresh] [--partition DAY]",
		Short: "run one product (or one day of a partitioned one) through Temporal and wait",
		Long: `Run one product through Temporal on its domain's task queue (a worker must poll it:
bin/mesh-worker or make dev) and print its progress until it ends.

Ctrl-C stops waiting, not the run: it goes on in Temporal, and mesh says how to follow it.`,
		Args:              nArgs(1, 1, "mesh run takes one product name, e.g. mesh run marketing.crm_contacts"),
		ValidArgsFunction: e.completeProducts(1, false),
	}
	full := cmd.Flags().Bool("full-refresh", false, "re-read every raw input from the beginning")
	partition := cmd.Flags().String("partition", "", "partition (day, YYYY-MM-DD) to run (\"\" = the whole product)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return e.runOne(cmd.Context(), args[0], flow.RunInput{Partition: *partition, FullRefresh: *full})
	}
	return cmd
}

func (e *env) runOne(ctx context.Context, name string, in flow.RunInput) error {
	d, p, err := e.mesh.Find(name)
	if err != nil {
		return err
	}
	c, err := host.Dial(e.cfg, logger(e.stderr, "warn"))
	if err != nil {
		return err
	}
	defer c.Close()
	run, err := flow.StartRun(ctx, c, d, p, in)
	if err != nil {
		return errs.Errorf(errs.Invalid, "run "+p.Name, "could not start: %v", err)
	}
	fmt.Fprintf(e.stdout, "started %s (run %s) on task queue %s\n", run.GetID(), run.GetRunID(), d.TaskQueue())
	res, err := waitWithProgress(ctx, c, run, e.stdout)
	if err != nil {
		return errs.Errorf(errs.Internal, "run "+p.Name, "%s", flow.Explain(err))
	}
	fmt.Fprintf(e.stdout, "published %s snapshot %d: %d rows, quality %s\n", res.Table, res.SnapshotID, res.Rows, res.Quality)
	return nil
}

// waitWithProgress polls the run's progress query and prints each change until it ends.
func waitWithProgress(ctx context.Context, c client.Client, run client.WorkflowRun, w io.Writer) (flow.RunResult, error) {
	done := make(chan error, 1)
	var res flow.RunResult
	go func() { done <- run.Get(ctx, &res) }()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	last := ""
	for {
		select {
		case err := <-done:
			if err != nil {
				fmt.Fprintf(w, "  failed\n")
				return res, err
			}
			fmt.Fprintf(w, "  done (landed %s, %d rows)\n", landedText(res.Landed), res.Rows)
			return res, nil
		case <-tick.C:
			v, err := c.QueryWorkflow(ctx, run.GetID(), run.GetRunID(), flow.ProgressQuery)
			if err != nil {
				continue // no worker has picked it up yet, or it already finished
			}
			var p flow.Progress
			if v.Get(&p) != nil {
				continue
			}
			if line := describe(p); line != last {
				fmt.Fprintf(w, "  %s\n", line)
				last = line
			}
		}
	}
}

func describe(p flow.Progress) string {
	s := p.Stage
	if len(p.Landed) > 0 {
		s += " (landed " + landedText(p.Landed) + ")"
	}
	if p.Rows > 0 {
		s += fmt.Sprintf(" model rows=%d", p.Rows)
	}
	if !p.Until.IsZero() {
		s += " until " + p.Until.UTC().Format(time.RFC3339)
	}
	return s
}
