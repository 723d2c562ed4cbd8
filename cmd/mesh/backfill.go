package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/workers/host"
)

const backfillUsage = `usage: mesh backfill start <product> --from YYYY-MM-DD --to YYYY-MM-DD [--concurrency N] [--wait]
       mesh backfill status <id> [--json]
       mesh backfill rerun-failed <id> [--concurrency N] [--dry-run] [--wait]`

func (e *env) backfill(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errs.Errorf(errs.Invalid, "usage", "%s", backfillUsage)
	}
	switch args[0] {
	case "start":
		return e.backfillStart(ctx, args[1:])
	case "status":
		return e.backfillStatus(ctx, args[1:])
	case "rerun-failed":
		return e.backfillRerun(ctx, args[1:])
	}
	return errs.Errorf(errs.Invalid, "usage", "unknown backfill command %q\n%s", args[0], backfillUsage)
}

func (e *env) backfillStart(ctx context.Context, args []string) error {
	fs, _ := e.newFlags("backfill start")
	from := fs.String("from", "", "first day, YYYY-MM-DD")
	to := fs.String("to", "", "last day, YYYY-MM-DD (inclusive)")
	conc := fs.Int("concurrency", flow.DefaultBackfillConcurrency, "partitions run at once")
	wait := fs.Bool("wait", false, "show progress until the backfill ends")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *from == "" || *to == "" {
		return errs.Errorf(errs.Invalid, "usage", "%s", backfillUsage)
	}
	if *conc < 1 {
		return errs.Errorf(errs.Invalid, "usage", "--concurrency must be at least 1")
	}
	d, p, err := e.mesh.Find(pos[0])
	if err != nil {
		return err
	}
	// Refuse bad input here, with the reason, rather than as a failed workflow.
	if p.PartitionBy == "" {
		return errs.Errorf(errs.Invalid, "backfill "+p.Name, "%s.%s is not partitioned: only products with PartitionBy can be backfilled by day", d.Name, p.Name)
	}
	if _, err := flow.Days(*from, *to); err != nil {
		return errs.E(errs.Invalid, "usage", err)
	}
	c, err := host.Dial(e.cfg, logger(e.stderr, "warn"))
	if err != nil {
		return err
	}
	defer c.Close()
	run, err := flow.StartBackfill(ctx, c, d, p, flow.BackfillInput{From: *from, To: *to, Concurrency: *conc})
	if err != nil {
		return errs.Errorf(errs.Invalid, "backfill "+p.Name, "could not start: %v", err)
	}
	fmt.Fprintf(e.stdout, "started %s on task queue %s\n", run.GetID(), d.TaskQueue())
	if !*wait {
		fmt.Fprintf(e.stdout, "follow it with: mesh backfill status %s\n", run.GetID())
		return nil
	}
	return e.waitBackfill(ctx, c, run)
}

func (e *env) backfillStatus(ctx context.Context, args []string) error {
	fs, _ := e.newFlags("backfill status")
	asJSON := fs.Bool("json", false, "print the status as JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errs.Errorf(errs.Invalid, "usage", "%s", backfillUsage)
	}
	c, err := host.Dial(e.cfg, logger(e.stderr, "warn"))
	if err != nil {
		return err
	}
	defer c.Close()
	st, err := flow.GetBackfillStatus(ctx, c, pos[0])
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	printBackfill(e.stdout, st)
	return nil
}

func (e *env) backfillRerun(ctx context.Context, args []string) error {
	fs, _ := e.newFlags("backfill rerun-failed")
	conc := fs.Int("concurrency", flow.DefaultBackfillConcurrency, "partitions run at once")
	dry := fs.Bool("dry-run", false, "list the partitions it would run, start nothing")
	wait := fs.Bool("wait", false, "show progress until the rerun ends")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errs.Errorf(errs.Invalid, "usage", "%s", backfillUsage)
	}
	c, err := host.Dial(e.cfg, logger(e.stderr, "warn"))
	if err != nil {
		return err
	}
	defer c.Close()
	if *dry {
		st, err := flow.GetBackfillStatus(ctx, c, pos[0])
		if err != nil {
			return err
		}
		printRerunPlan(e.stdout, st)
		return nil
	}
	run, parts, err := flow.RerunFailed(ctx, c, e.mesh, pos[0], *conc)
	if err != nil {
		return err
	}
	if run == nil {
		fmt.Fprintf(e.stdout, "%s has no failed, canceled or timed-out partitions: nothing to rerun\n", pos[0])
		return nil
	}
	fmt.Fprintf(e.stdout, "started %s rerunning %d partition(s): %s\n", run.GetID(), len(parts), strings.Join(parts, " "))
	if !*wait {
		return nil
	}
	return e.waitBackfill(ctx, c, run)
}

// printRerunPlan lists what rerun-failed would run, and why each is in the list.
func printRerunPlan(w io.Writer, st flow.BackfillStatus) {
	failed := flow.FailedPartitions(st)
	if len(failed) == 0 {
		fmt.Fprintf(w, "%s has no failed, canceled or timed-out partitions: nothing to rerun\n", st.ID)
		return
	}
	fmt.Fprintf(w, "rerun-failed would run %d partition(s) of %s.%s:\n", len(failed), st.Domain, st.Product)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, ps := range st.Partitions {
		if slices.Contains(failed, ps.Partition) {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", ps.Partition, ps.State, ps.Error)
		}
	}
	tw.Flush()
}

// waitBackfill prints the totals whenever they change, then the final table.
func (e *env) waitBackfill(ctx context.Context, c client.Client, run client.WorkflowRun) error {
	done := make(chan error, 1)
	var final flow.BackfillStatus
	go func() { done <- run.Get(ctx, &final) }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last := ""
	for {
		select {
		case err := <-done:
			if err != nil {
				return errs.Errorf(errs.Internal, "backfill", "%s", flow.Explain(err))
			}
			printBackfill(e.stdout, final)
			if n := len(flow.FailedPartitions(final)); n > 0 {
				fmt.Fprintf(e.stdout, "%d partition(s) did not succeed: mesh backfill rerun-failed %s\n", n, final.ID)
			}
			return nil
		case <-tick.C:
			st, err := flow.GetBackfillStatus(ctx, c, run.GetID())
			if err != nil {
				continue // no worker has picked it up yet
			}
			if line := totalsText(st.Totals); line != last {
				fmt.Fprintf(e.stdout, "  %s\n", line)
				last = line
			}
		}
	}
}

// stateOrder is how states read best: what is left, what is going on, how it ended.
var stateOrder = []string{flow.StatePending, flow.StateRunning, flow.StateWaitingForQuota, flow.StateSucceeded, flow.StateFailed, flow.StateCanceled, flow.StateTimedOut}

func totalsText(totals map[string]int) string {
	var parts []string
	for _, s := range stateOrder {
		if n := totals[s]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", s, n))
		}
	}
	return strings.Join(parts, ", ")
}

func printBackfill(w io.Writer, st flow.BackfillStatus) {
	fmt.Fprintf(w, "%s  %s.%s  %s..%s\n", st.ID, st.Domain, st.Product, st.From, st.To)
	if st.RerunOf != "" {
		fmt.Fprintf(w, "rerun of %s\n", st.RerunOf)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PARTITION\tSTATE\tROWS\tWORKFLOW\tDETAIL")
	for _, ps := range st.Partitions {
		detail := ps.Error
		if !ps.Until.IsZero() {
			detail = "until " + ps.Until.UTC().Format(time.RFC3339)
		}
		rows := ""
		if ps.State == flow.StateSucceeded {
			rows = fmt.Sprint(ps.Rows)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", ps.Partition, ps.State, rows, ps.WorkflowID, detail)
	}
	tw.Flush()
	state := "running"
	if st.Done {
		state = "done"
	}
	fmt.Fprintf(w, "%s: %d partition(s): %s\n", state, len(st.Partitions), totalsText(st.Totals))
}
