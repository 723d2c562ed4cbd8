package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/query"
	"github.com/meshflow/meshflow/workers/host"
)

func (e *env) runCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run <product|selector>... [--full-refresh] [--partition DAY] [--dry-run] [--branch NAME]",
		Short: "run products (one, or a selection in dependency order) through Temporal and wait",
		Long: `Run one product through Temporal on its domain's task queue (a worker must poll it:
bin/mesh-worker or make dev) and print its progress until it ends.

Select several as dbt does; each selector adds to the selection:
  product+            it and everything downstream of it
  +product            it and everything upstream of it
  +product+           both
  domain:marketing    every product of the domain (+ before or after works here too)
  tag:crm             every product tagged crm
They run in dependency order, each on its own domain's task queue, as many at once as
have their selected inputs done. When one fails or is blocked by a failing check, the
products downstream of it are skipped; mesh names them, prints the mesh run that runs
only those again, and exits 1. --dry-run prints the plan and starts nothing.

Ctrl-C stops waiting, not the runs: they go on in Temporal, and mesh says how to follow them.`,
		Args:              nArgs(1, -1, "mesh run takes a product name or selectors, e.g. mesh run marketing.crm_contacts or mesh run crm_companies+ tag:finance"),
		ValidArgsFunction: e.completeProducts(-1, false),
	}
	full := cmd.Flags().Bool("full-refresh", false, "re-read every raw input from the beginning, and compute an incremental product whole")
	partition := cmd.Flags().String("partition", "", "partition (day, YYYY-MM-DD) to run (\"\" = the whole product); with a selection, of its partitioned products")
	dry := cmd.Flags().Bool("dry-run", false, "print the plan (levels, task queues, why each product is selected) and start nothing")
	branch := cmd.Flags().String("branch", "", "a preview: publish to this Iceberg branch of each port, never to main, reading inputs from the branch where they have one (mesh promote makes it main)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		in := flow.RunInput{Partition: *partition, FullRefresh: *full, Branch: *branch}
		sel, err := e.mesh.Select(args...)
		if err != nil {
			return selectionUsage(err)
		}
		if len(args) == 1 && isPlainName(args[0]) && !*dry {
			return e.runOne(cmd.Context(), args[0], in)
		}
		return e.runSelection(cmd.Context(), sel, in, *dry)
	}
	return cmd
}

func (e *env) runOne(ctx context.Context, name string, in flow.RunInput) error {
	d, p, c, err := e.productOnTemporal(name)
	if err != nil {
		return err
	}
	defer c.Close()
	return e.runProduct(ctx, c, d, p, in)
}

// runProduct starts one product's run and prints its progress and result until it
// ends; a failed run's error keeps Temporal's beneath (runFailed).
func (e *env) runProduct(ctx context.Context, c client.Client, d mesh.Domain, p mesh.Product, in flow.RunInput) error {
	op := "run " + d.Name + "." + p.Name
	run, err := flow.StartRun(ctx, c, d, p, in)
	if err != nil {
		return startFailed(op, err)
	}
	fmt.Fprintf(e.stdout, "started %s (run %s) on task queue %s\n", run.GetID(), run.GetRunID(), d.TaskQueue())
	e.warnIfNoWorker(ctx, c, d)
	res, err := waitWithProgress(ctx, c, run, e.stdout)
	if ctx.Err() != nil {
		return e.interrupted(op, run)
	}
	if err != nil {
		return errs.E(errs.Internal, op, runFailed{err})
	}
	printRunResult(e.stdout, res)
	return nil
}

// runFailed is a failed run's error as the activity or workflow that raised it put it
// (flow.Explain), with Temporal's error beneath, which says, say, a quality gate.
type runFailed struct{ err error }

func (f runFailed) Error() string { return flow.Explain(f.err) }
func (f runFailed) Unwrap() error { return f.err }

// printRunResult says what a finished run did: published a snapshot, or found the
// rows unchanged; and what it read that on-call should know.
func printRunResult(w io.Writer, res flow.RunResult) {
	if res.Unchanged {
		fmt.Fprintf(w, "unchanged %s: the same %d rows as snapshot %d, which stays current (freshness refreshed), quality %s\n", res.Table, res.Rows, res.SnapshotID, res.Quality)
	} else {
		fmt.Fprintf(w, "published %s snapshot %d: %d rows, quality %s\n", res.Table, res.SnapshotID, res.Rows, res.Quality)
	}
	if res.Incremental != "" {
		// An incremental product's rows are the changed keys' when it merged.
		fmt.Fprintf(w, "  %s\n", query.Printable(res.Incremental))
	}
	for _, l := range res.Legacy {
		fmt.Fprintf(w, "  legacy %s: %s", l.Table, l.Status)
		if l.SnapshotID != 0 {
			fmt.Fprintf(w, " snapshot %d", l.SnapshotID)
		}
		fmt.Fprintln(w)
	}
	for _, warning := range res.Warnings {
		fmt.Fprintf(w, "  warning: %s\n", query.Printable(warning))
	}
}

// startFailed is the error of a run or backfill that did not start. The flow's own
// errors already say what and why (a conflict names the run going on); anything else
// is Temporal's.
func startFailed(op string, err error) error {
	if _, ok := errs.As(err); ok {
		return err
	}
	return errs.Errorf(errs.Transient, op, "could not start: %v", err)
}

// warnIfNoWorker says at once when no worker polls the domain's queue, rather than
// leaving the run silent. It goes on waiting, as Temporal does: the run is durable in
// Temporal and starts as soon as a worker polls the queue, so starting one (in another
// terminal) is all it takes, and Ctrl-C leaves the run there.
func (e *env) warnIfNoWorker(ctx context.Context, c client.Client, d mesh.Domain) {
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ids, err := host.Pollers(qctx, c, d.TaskQueue())
	if err != nil || len(ids) > 0 {
		return // unknown is not "none": say nothing rather than something false
	}
	fmt.Fprintf(e.stdout, "  no worker polls task queue %s: %s; the run waits until one does (Ctrl-C leaves it waiting in Temporal)\n",
		d.TaskQueue(), host.NoWorkerHint(d.Name))
}

// interrupted says that Ctrl-C stopped the waiting, not the workflow, and how to
// follow it; the error makes mesh exit 130.
func (e *env) interrupted(op string, run client.WorkflowRun, also ...string) error {
	id, ns, addr := run.GetID(), e.cfg.Namespace, e.cfg.TemporalAddress
	fmt.Fprintf(e.stdout, "\ninterrupted: %s goes on in Temporal; Ctrl-C only stopped this command from waiting for it.\n", id)
	fmt.Fprintf(e.stdout, "  follow it:  temporal workflow show --address %s --namespace %s -w %s\n", addr, ns, id)
	for _, line := range also {
		fmt.Fprintf(e.stdout, "  %s\n", line)
	}
	fmt.Fprintf(e.stdout, "  in the UI:  %s/namespaces/%s/workflows/%s/%s/history\n", temporalUI(addr), ns, url.PathEscape(id), run.GetRunID())
	fmt.Fprintf(e.stdout, "  cancel it:  temporal workflow cancel --address %s --namespace %s -w %s\n", addr, ns, id)
	return errs.Errorf(errs.Canceled, op, "interrupted; %s goes on in Temporal", id)
}

// temporalUI is where the Temporal UI of a frontend address is: known for the one
// `make dev` runs, a placeholder otherwise.
func temporalUI(addr string) string {
	if h, p, err := net.SplitHostPort(addr); err == nil && p == "7233" && (h == "localhost" || h == "127.0.0.1") {
		return "http://localhost:8233"
	}
	return "<your Temporal UI>"
}

// waitWithProgress polls the run's progress query and prints each change until it
// ends, or until ctx does (Ctrl-C): then it returns no result and ctx's error, and the
// run goes on.
func waitWithProgress(ctx context.Context, c client.Client, run client.WorkflowRun, w io.Writer) (flow.RunResult, error) {
	type outcome struct {
		res flow.RunResult
		err error
	}
	// Get writes into a result of its own, handed over only through the channel: after
	// Ctrl-C it may still be writing while this returns.
	done := make(chan outcome, 1)
	go func() {
		var res flow.RunResult
		err := run.Get(ctx, &res)
		done <- outcome{res, err}
	}()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	last := ""
	var lastWaits time.Time
	for {
		select {
		case <-ctx.Done():
			return flow.RunResult{}, ctx.Err()
		case o := <-done:
			if ctx.Err() != nil {
				return flow.RunResult{}, ctx.Err()
			}
			if o.err != nil {
				fmt.Fprintf(w, "  failed\n")
				return o.res, o.err
			}
			fmt.Fprintf(w, "  done (landed %s, %d rows)\n", landedText(o.res.Landed), o.res.Rows)
			return o.res, nil
		case <-tick.C:
			// A query waits for a worker to answer it; without one it must not hold up Ctrl-C or the end.
			qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			v, err := c.QueryWorkflow(qctx, run.GetID(), run.GetRunID(), flow.ProgressQuery)
			cancel()
			if err != nil {
				continue // no worker has picked it up yet, or it already finished
			}
			var p flow.Progress
			if v.Get(&p) != nil {
				continue
			}
			line := describe(p)
			// A landing that waits on its source's limits says so, and until when,
			// rather than "landing" for minutes; asked once a second.
			if p.Stage == "landing" && time.Since(lastWaits) >= time.Second {
				lastWaits = time.Now()
				if waits := waitsText(ctx, c, run.GetID(), run.GetRunID()); waits != "" {
					line = "landing: " + waits
				}
			}
			if line != last {
				fmt.Fprintf(w, "  %s\n", line)
				last = line
			}
		}
	}
}

// waitsText says what the run's landings wait for, "" when none waits (or Temporal
// does not answer in time).
func waitsText(ctx context.Context, c client.Client, workflowID, runID string) string {
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	waits, err := flow.LandingWaits(qctx, c, workflowID, runID)
	if err != nil {
		return ""
	}
	now := time.Now()
	var texts []string
	for _, w := range waits {
		if t := w.Text(now); !slices.Contains(texts, t) {
			texts = append(texts, t)
		}
	}
	return strings.Join(texts, "; ")
}

func describe(p flow.Progress) string {
	s := p.Stage
	if len(p.Landed) > 0 {
		s += " (landed " + landedText(p.Landed) + ")"
	}
	if p.Rows > 0 {
		s += fmt.Sprintf(" model rows=%d", p.Rows)
	}
	if p.Waiting != "" {
		s += " (" + p.Waiting + ")"
	}
	if !p.Until.IsZero() {
		s += " until " + p.Until.UTC().Format(time.RFC3339)
	}
	return s
}
