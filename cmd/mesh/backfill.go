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

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/query"
)

func (e *env) backfillCmd() *cobra.Command {
	return group("backfill", "run every day of a partitioned product as one backfill workflow; follow it; rerun its failed days",
		e.backfillStartCmd(), e.backfillStatusCmd(), e.backfillRerunCmd())
}

func (e *env) backfillStartCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "start <product> --from DAY --to DAY [--concurrency N] [--wait]",
		Short: "run every day of a partitioned product, N at once, as one backfill workflow",
		Long: `Start one Backfill workflow that runs the product once per day from --from to --to
(inclusive, YYYY-MM-DD, no later than today in UTC), at most --concurrency days at once.

With --wait it shows progress until the backfill ends and exits 1 when any day failed,
was canceled or timed out, naming those days and the rerun-failed command.`,
		Args:              nArgs(1, 1, "mesh backfill start takes one product name, e.g. mesh backfill start marketing.web_traffic --from 2026-10-01 --to 2026-10-31"),
		ValidArgsFunction: e.completeProducts(1, true),
	}
	from := cmd.Flags().String("from", "", "first day, YYYY-MM-DD")
	to := cmd.Flags().String("to", "", "last day, YYYY-MM-DD (inclusive)")
	conc := cmd.Flags().Int("concurrency", flow.DefaultBackfillConcurrency, "partitions run at once")
	wait := cmd.Flags().Bool("wait", false, "show progress until the backfill ends; exit 1 when any day did not succeed")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if *from == "" || *to == "" {
			return usagef("--from and --to are required: mesh backfill start <product> --from YYYY-MM-DD --to YYYY-MM-DD")
		}
		if *conc < 1 {
			return usagef("--concurrency must be at least 1")
		}
		return e.backfillStart(cmd.Context(), args[0], flow.BackfillInput{From: *from, To: *to, Concurrency: *conc}, *wait)
	}
	return cmd
}

func (e *env) backfillStart(ctx context.Context, name string, in flow.BackfillInput, wait bool) error {
	d, p, err := e.mesh.Find(name)
	if err != nil {
		return err
	}
	// Refuse bad input here, with the reason, rather than as a failed workflow.
	if p.PartitionBy == "" {
		return errs.Errorf(errs.Invalid, "backfill "+p.Name, "%s.%s is not partitioned: only products with PartitionBy can be backfilled by day", d.Name, p.Name)
	}
	days, err := flow.Days(in.From, in.To)
	if err != nil {
		return usagef("%v", err)
	}
	if err := flow.RefuseFutureDays(days, time.Now()); err != nil {
		return errs.E(errs.Invalid, "backfill "+d.Name+"."+p.Name, err)
	}
	c, err := e.dialTemporal()
	if err != nil {
		return err
	}
	defer c.Close()
	run, err := flow.StartBackfill(ctx, c, d, p, in)
	if err != nil {
		return startFailed("backfill "+d.Name+"."+p.Name, err)
	}
	fmt.Fprintf(e.stdout, "started %s on task queue %s\n", run.GetID(), d.TaskQueue())
	e.warnIfNoWorker(ctx, c, d)
	if !wait {
		fmt.Fprintf(e.stdout, "follow it with: mesh backfill status %s\n", run.GetID())
		return nil
	}
	return e.waitBackfill(ctx, c, run)
}

func (e *env) backfillStatusCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status <id> [--json]",
		Short: "every partition's state (pending, running, waiting for quota, succeeded, failed) and totals",
		Args:  nArgs(1, 1, "mesh backfill status takes the backfill's id, e.g. mesh backfill status backfill/marketing.web_traffic/2026-10-01..2026-10-31"),
	}
	asJSON := cmd.Flags().Bool("json", false, "print the status as JSON")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return e.backfillStatus(cmd.Context(), args[0], *asJSON)
	}
	return cmd
}

func (e *env) backfillStatus(ctx context.Context, id string, asJSON bool) error {
	c, err := e.dialTemporal()
	if err != nil {
		return err
	}
	defer c.Close()
	st, err := flow.GetBackfillStatus(ctx, c, id)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	// A running day whose landing waits on its source's limits says what for.
	waits := map[string]string{}
	for _, ps := range st.Partitions {
		if ps.State == flow.StateRunning {
			if text := waitsText(ctx, c, ps.WorkflowID, ""); text != "" {
				waits[ps.Partition] = text
			}
		}
	}
	printBackfill(e.stdout, st, waits)
	return nil
}

func (e *env) backfillRerunCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rerun-failed <id> [--concurrency N] [--dry-run] [--wait]",
		Short: "a new backfill, linked to <id>, of only its failed, canceled or timed-out days",
		Long: `Start a new backfill, linked to <id>, of only the days of <id> that failed, were canceled
or timed out. With --wait it exits 1 when any of them fails again.`,
		Args: nArgs(1, 1, "mesh backfill rerun-failed takes the backfill's id, e.g. mesh backfill rerun-failed backfill/marketing.web_traffic/2026-10-01..2026-10-31"),
	}
	conc := cmd.Flags().Int("concurrency", flow.DefaultBackfillConcurrency, "partitions run at once")
	dry := cmd.Flags().Bool("dry-run", false, "list the partitions it would run, start nothing")
	wait := cmd.Flags().Bool("wait", false, "show progress until the rerun ends; exit 1 when any day did not succeed")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if *conc < 1 {
			return usagef("--concurrency must be at least 1")
		}
		return e.backfillRerun(cmd.Context(), args[0], *conc, *dry, *wait)
	}
	return cmd
}

func (e *env) backfillRerun(ctx context.Context, id string, conc int, dry, wait bool) error {
	c, err := e.dialTemporal()
	if err != nil {
		return err
	}
	defer c.Close()
	if dry {
		st, err := flow.GetBackfillStatus(ctx, c, id)
		if err != nil {
			return err
		}
		printRerunPlan(e.stdout, st)
		return nil
	}
	run, parts, err := flow.RerunFailed(ctx, c, e.mesh, id, conc)
	if err != nil {
		return err
	}
	if run == nil {
		fmt.Fprintf(e.stdout, "%s has no failed, canceled or timed-out partitions: nothing to rerun\n", id)
		return nil
	}
	fmt.Fprintf(e.stdout, "started %s rerunning %d partition(s): %s\n", run.GetID(), len(parts), strings.Join(parts, " "))
	if !wait {
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
	printPartitions(w, st, failed)
}

// printPartitions lists the named partitions of st with their state and error.
func printPartitions(w io.Writer, st flow.BackfillStatus, names []string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, ps := range st.Partitions {
		if slices.Contains(names, ps.Partition) {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", ps.Partition, ps.State, query.Printable(ps.Error))
		}
	}
	tw.Flush()
}

// waitBackfill prints the totals whenever they change, then the final table. A
// backfill with a day that did not succeed is a failure (exit 1) naming those days;
// Ctrl-C stops the waiting, not the backfill.
func (e *env) waitBackfill(ctx context.Context, c client.Client, run client.WorkflowRun) error {
	op := "backfill " + run.GetID()
	type outcome struct {
		st  flow.BackfillStatus
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		st, err := flow.WaitBackfill(ctx, run)
		done <- outcome{st, err}
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last := ""
	for {
		select {
		case <-ctx.Done():
			return e.interrupted(op, run, "its days:   mesh backfill status "+run.GetID())
		case o := <-done:
			if ctx.Err() != nil {
				return e.interrupted(op, run, "its days:   mesh backfill status "+run.GetID())
			}
			if o.err != nil {
				return errs.Errorf(errs.Internal, op, "%s", flow.Explain(o.err))
			}
			printBackfill(e.stdout, o.st, nil)
			return backfillFailures(e.stdout, o.st)
		case <-tick.C:
			qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			st, err := flow.GetBackfillStatus(qctx, c, run.GetID())
			cancel()
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

// backfillFailures lists the days of a finished backfill that failed, were canceled
// or timed out, with their errors and the command that reruns them, and returns the
// error that makes mesh exit 1; nil when every day succeeded.
func backfillFailures(w io.Writer, st flow.BackfillStatus) error {
	failed := flow.FailedPartitions(st)
	if len(failed) == 0 {
		return nil
	}
	fmt.Fprintf(w, "\n%d of %d day(s) did not succeed:\n", len(failed), len(st.Partitions))
	printPartitions(w, st, failed)
	fmt.Fprintf(w, "rerun them with: mesh backfill rerun-failed %s\n", st.ID)
	return errs.Errorf(errs.Internal, "backfill "+st.ID, "%d of %d day(s) did not succeed: %s; rerun them with: mesh backfill rerun-failed %s",
		len(failed), len(st.Partitions), strings.Join(failed, ", "), st.ID)
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

// printBackfill prints a backfill's days as a table; detail, when it has a day, says
// what that day is doing instead of its error or quota wait.
func printBackfill(w io.Writer, st flow.BackfillStatus, detail map[string]string) {
	fmt.Fprintf(w, "%s  %s.%s  %s..%s\n", st.ID, st.Domain, st.Product, st.From, st.To)
	if st.RerunOf != "" {
		fmt.Fprintf(w, "rerun of %s\n", st.RerunOf)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PARTITION\tSTATE\tROWS\tWORKFLOW\tDETAIL")
	for _, ps := range st.Partitions {
		text := ps.Error
		if !ps.Until.IsZero() {
			text = "until " + ps.Until.UTC().Format(time.RFC3339)
		}
		if d, ok := detail[ps.Partition]; ok {
			text = d
		}
		rows := ""
		if ps.State == flow.StateSucceeded {
			rows = fmt.Sprint(ps.Rows)
		}
		// An error may quote what a source answered: never send its escapes to the terminal.
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", ps.Partition, ps.State, rows, ps.WorkflowID, query.Printable(text))
	}
	tw.Flush()
	state := "running"
	if st.Done {
		state = "done"
	}
	fmt.Fprintf(w, "%s: %d partition(s): %s\n", state, len(st.Partitions), totalsText(st.Totals))
}
