package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/query"
)

// isPlainName is a selector that names one product and nothing around it: mesh run
// runs it as it always has.
func isPlainName(selector string) bool { return !strings.ContainsAny(selector, "+:,") }

// selectionUsage makes a selector that selects nothing (mesh.Select's "select"
// errors) a usage error; any other error stays as it is.
func selectionUsage(err error) error {
	if e, ok := errs.As(err); ok && e.Op == "select" {
		return usagef("%v", e.Err)
	}
	return err
}

// runSelection runs what selectors select, or with dry prints the plan and starts
// nothing (no Temporal needed).
func (e *env) runSelection(ctx context.Context, sel mesh.Selection, in flow.RunInput, dry bool) error {
	if err := checkPartition(sel, in.Partition); err != nil {
		return err
	}
	if dry {
		printPlan(e.stdout, sel, in)
		return nil
	}
	c, err := e.dialTemporal()
	if err != nil {
		return err
	}
	defer c.Close()
	all := sel.All()
	fmt.Fprintf(e.stdout, "mesh run %s: %s in %s, each on its domain's task queue\n",
		strings.Join(sel.Selectors, " "), plural(len(all), "product"), plural(len(sel.Levels), "level"))
	// The selection runs its products itself, in order: their inputs' ends must not
	// start them a second time through their triggers.
	var downstream []string
	for _, s := range all {
		in.CallerRuns = append(in.CallerRuns, s.Ref().String())
	}
	for _, s := range all {
		for _, t := range e.mesh.TriggeredBy(s.Ref()) {
			if r := t.Ref().String(); !slices.Contains(in.CallerRuns, r) && !slices.Contains(downstream, r) {
				downstream = append(downstream, r)
			}
		}
	}
	outcomes := runInOrder(ctx, sel, in, e.stdout, e.selectedRunner(c))
	if len(downstream) > 0 {
		fmt.Fprintf(e.stdout, "downstream, run by their inputs' publishes (or waiting, named, while one failed): %s (workflows trigger/<product> in the Temporal UI, runs with MeshTrigger = 'inputs')\n",
			strings.Join(downstream, ", "))
	}
	return finish(ctx, e.stdout, sel, in, outcomes)
}

// selectedRunner runs one selected product as mesh run runs one, its lines going to w.
func (e *env) selectedRunner(c client.Client) runFunc {
	return func(ctx context.Context, s mesh.Selected, in flow.RunInput, w io.Writer) error {
		to := *e
		to.stdout = w
		return to.runProduct(ctx, c, s.Domain, s.Product, in)
	}
}

// checkPartition refuses a --partition that no selected product can run, or that is
// not a day, before anything starts.
func checkPartition(sel mesh.Selection, partition string) error {
	if partition == "" {
		return nil
	}
	for _, s := range sel.All() {
		if s.Product.PartitionBy != "" {
			return s.Product.ValidatePartition(partition)
		}
	}
	return usagef("--partition %s: none of the selected products is partitioned; run them without it", partition)
}

// inputFor is what one selected product runs: --partition only where the product is
// partitioned (the others run whole), and whether its partition was skipped.
func inputFor(s mesh.Selected, in flow.RunInput) (flow.RunInput, bool) {
	if in.Partition != "" && s.Product.PartitionBy == "" {
		in.Partition = ""
		return in, true
	}
	return in, false
}

// printPlan says what mesh run would run: the levels in order, each product with its
// task queue, why it is selected, what it waits for and what it reads as published.
func printPlan(w io.Writer, sel mesh.Selection, in flow.RunInput) {
	all := sel.All()
	fmt.Fprintf(w, "mesh run %s would run %s in %s (--dry-run: nothing started)\n",
		strings.Join(sel.Selectors, " "), plural(len(all), "product"), plural(len(sel.Levels), "level"))
	where := map[mesh.Ref]string{}
	nameWidth, whereWidth := 0, 0
	for _, s := range all {
		run, skipped := inputFor(s, in)
		where[s.Ref()] = "queue " + s.Domain.TaskQueue()
		switch {
		case run.Partition != "":
			where[s.Ref()] += ", partition " + run.Partition
		case skipped:
			where[s.Ref()] += ", whole (not partitioned)"
		}
		nameWidth, whereWidth = max(nameWidth, len(s.Ref().String())), max(whereWidth, len(where[s.Ref()]))
	}
	for i, level := range sel.Levels {
		if i == 0 {
			fmt.Fprintf(w, "level 1 (reads no selected product):\n")
		} else {
			fmt.Fprintf(w, "level %d (after level %d):\n", i+1, i)
		}
		for _, s := range level {
			fmt.Fprintf(w, "  %-*s  %-*s  %s\n", nameWidth, s.Ref(), whereWidth, where[s.Ref()], strings.Join(s.Why, "; "))
			var also []string
			if len(s.After) > 0 {
				also = append(also, "waits for "+refList(s.After))
			}
			if len(s.Reads) > 0 {
				also = append(also, "reads "+refList(s.Reads)+" as published (not selected)")
			}
			if len(also) > 0 {
				fmt.Fprintf(w, "  %-*s  %s\n", nameWidth, "", strings.Join(also, "; "))
			}
		}
	}
}

// runFunc runs one selected product to its end, printing its progress to w; an error
// says why it did not succeed.
type runFunc func(ctx context.Context, s mesh.Selected, in flow.RunInput, w io.Writer) error

// outcome is how one selected product's part ended.
type outcome struct {
	state  string // succeeded, failed, blocked, skipped, interrupted or not started
	reason string // why it failed, was blocked or skipped
	// cause is, for a product that failed or was blocked, what it says of itself to
	// the products skipped for it ("marketing.crm_companies failed"), handed on down.
	cause string
}

const (
	succeeded   = "succeeded"
	failed      = "failed"
	blocked     = "blocked"
	skipped     = "skipped"
	interrupted = "interrupted"
	notStarted  = "not started"
)

// runInOrder runs every selected product once the products it waits for have
// succeeded, as many at once as are ready; one whose wait ended otherwise is skipped,
// saying which and why. Each line a product's run prints goes to out prefixed with
// the product. Ctrl-C (ctx) stops the waiting: runs going on are left in Temporal,
// products not started yet stay so.
func runInOrder(ctx context.Context, sel mesh.Selection, in flow.RunInput, out io.Writer, run runFunc) map[mesh.Ref]outcome {
	all := sel.All()
	width := 0
	for _, s := range all {
		width = max(width, len(s.Ref().String()))
	}
	var outMu, mu sync.Mutex // out; outcomes
	outcomes := map[mesh.Ref]outcome{}
	done := map[mesh.Ref]chan struct{}{}
	for _, s := range all {
		done[s.Ref()] = make(chan struct{})
	}
	var wg sync.WaitGroup
	for _, s := range all {
		wg.Go(func() {
			ref := s.Ref()
			w := &linePrefixer{out: out, mu: &outMu, prefix: fmt.Sprintf("%-*s | ", width, ref)}
			o := func() outcome {
				for _, up := range s.After {
					select {
					case <-done[up]:
					case <-ctx.Done():
						return outcome{state: notStarted}
					}
					mu.Lock()
					upo := outcomes[up]
					mu.Unlock()
					switch upo.state {
					case succeeded:
						continue
					case notStarted, interrupted:
						return outcome{state: notStarted}
					case skipped:
						return outcome{skipped, fmt.Sprintf("its input %s was skipped: %s", up, upo.cause), upo.cause}
					}
					return outcome{skipped, "its input " + upo.cause, upo.cause}
				}
				if ctx.Err() != nil {
					return outcome{state: notStarted}
				}
				runIn, partitionSkipped := inputFor(s, in)
				if partitionSkipped {
					fmt.Fprintf(w, "not partitioned: runs whole (--partition %s applies to partitioned products)\n", in.Partition)
				}
				return outcomeOf(ctx, ref, run(ctx, s, runIn, w))
			}()
			switch o.state {
			case skipped, failed, blocked:
				fmt.Fprintf(w, "%s: %s\n", o.state, o.reason)
			}
			w.Flush()
			mu.Lock()
			outcomes[ref] = o
			mu.Unlock()
			close(done[ref])
		})
	}
	wg.Wait()
	return outcomes
}

// outcomeOf is how ref's run ended, from its error.
func outcomeOf(ctx context.Context, ref mesh.Ref, err error) outcome {
	var app *temporal.ApplicationError
	switch {
	case err == nil:
		return outcome{state: succeeded}
	case ctx.Err() != nil || errs.Is(err, errs.Canceled):
		return outcome{state: interrupted}
	case errors.As(err, &app) && app.Type() == flow.ErrTypeQualityGate:
		return outcome{blocked, query.Printable(app.Message()), fmt.Sprintf("%s was blocked by a failing check", ref)}
	}
	// The product is named in front of the reason already.
	if e, ok := errs.As(err); ok && e.Err != nil {
		err = e.Err
	}
	return outcome{failed, query.Printable(err.Error()), ref.String() + " failed"}
}

// finish says how the selection went: nothing more when every product succeeded;
// otherwise which failed, were blocked or skipped and why, and the command that runs
// only those again (exit 1), or, after Ctrl-C, which never started (exit 130).
func finish(ctx context.Context, w io.Writer, sel mesh.Selection, in flow.RunInput, outcomes map[mesh.Ref]outcome) error {
	all := sel.All()
	var again, notRun []string
	counts := map[string]int{}
	for _, s := range all {
		o := outcomes[s.Ref()]
		counts[o.state]++
		switch o.state {
		case failed, blocked, skipped:
			again = append(again, s.Ref().String())
		case notStarted:
			notRun = append(notRun, s.Ref().String())
		}
	}
	if counts[interrupted]+counts[notStarted] > 0 || ctx.Err() != nil {
		fmt.Fprintf(w, "\ninterrupted: %d run(s) go on in Temporal (how to follow each is above)", counts[interrupted])
		if len(notRun) > 0 {
			fmt.Fprintf(w, "; not started: %s — start them with: %s", strings.Join(notRun, ", "), rerunCommand(notRun, in))
		}
		fmt.Fprintln(w)
		return errs.Errorf(errs.Canceled, "run "+strings.Join(sel.Selectors, " "), "interrupted; %d run(s) go on in Temporal", counts[interrupted])
	}
	if len(again) == 0 {
		fmt.Fprintf(w, "\nall %s succeeded\n", plural(len(all), "product"))
		return nil
	}
	var summary []string
	for _, state := range []string{failed, blocked, skipped} {
		if counts[state] > 0 {
			summary = append(summary, fmt.Sprintf("%d %s", counts[state], state))
		}
	}
	fmt.Fprintf(w, "\n%d of %s did not succeed (%s):\n", len(again), plural(len(all), "product"), strings.Join(summary, ", "))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, s := range all {
		if o := outcomes[s.Ref()]; o.state == failed || o.state == blocked || o.state == skipped {
			reason, _, _ := strings.Cut(o.reason, "\n") // the run's own lines above have the rest
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", s.Ref(), o.state, reason)
		}
	}
	tw.Flush()
	rerun := rerunCommand(again, in)
	fmt.Fprintf(w, "rerun only those with: %s\n", rerun)
	var named []string
	for _, state := range []string{failed, blocked, skipped} {
		var refs []string
		for _, s := range all {
			if outcomes[s.Ref()].state == state {
				refs = append(refs, s.Ref().String())
			}
		}
		if len(refs) > 0 {
			named = append(named, state+" "+strings.Join(refs, ", "))
		}
	}
	return errs.Errorf(errs.Internal, "run "+strings.Join(sel.Selectors, " "), "%d of %s did not succeed (%s); rerun only those with: %s",
		len(again), plural(len(all), "product"), strings.Join(named, "; "), rerun)
}

// rerunCommand is the mesh run that runs refs (in dependency order) again with the
// same flags.
func rerunCommand(refs []string, in flow.RunInput) string {
	cmd := "mesh run " + strings.Join(refs, " ")
	if in.FullRefresh {
		cmd += " --full-refresh"
	}
	if in.Partition != "" {
		cmd += " --partition " + in.Partition
	}
	if in.Branch != "" {
		cmd += " --branch " + in.Branch
	}
	return cmd
}

func refList(refs []mesh.Ref) string {
	names := make([]string, len(refs))
	for i, r := range refs {
		names[i] = r.String()
	}
	return strings.Join(names, ", ")
}

func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// linePrefixer writes whole lines to out, each after prefix, so that the lines of
// products running at once interleave but never break into each other.
type linePrefixer struct {
	out     io.Writer
	mu      *sync.Mutex
	prefix  string
	partial []byte
}

func (l *linePrefixer) Write(p []byte) (int, error) {
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		l.writeLine(l.partial[:i])
		l.partial = l.partial[i+1:]
	}
}

// Flush writes what is left of a line that never ended.
func (l *linePrefixer) Flush() {
	if len(l.partial) > 0 {
		l.writeLine(l.partial)
		l.partial = nil
	}
}

func (l *linePrefixer) writeLine(line []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(bytes.TrimSpace(line)) == 0 {
		fmt.Fprintln(l.out) // a blank line needs no name
		return
	}
	fmt.Fprintf(l.out, "%s%s\n", l.prefix, line)
}
