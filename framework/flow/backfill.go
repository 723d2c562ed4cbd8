package flow

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/meshflow/meshflow/framework/alert"
	"github.com/meshflow/meshflow/framework/mesh"
)

// Backfill workflow and query names.
const (
	BackfillWorkflow    = "Backfill"
	BackfillStatusQuery = "backfill-status"
)

// Partition states a backfill reports. Pending, running, succeeded and failed are
// recorded by the workflow; waiting for quota is read from the running child's progress
// by GetBackfillStatus; canceled and timed out are how a child can end besides failing.
const (
	StatePending         = "pending"
	StateRunning         = "running"
	StateWaitingForQuota = "waiting for quota"
	StateSucceeded       = "succeeded"
	StateFailed          = "failed"
	StateCanceled        = "canceled"
	StateTimedOut        = "timed out"
)

// DefaultBackfillConcurrency is how many partitions run at once when the input says 0.
const DefaultBackfillConcurrency = 4

// defaultContinueAfter bounds the partitions one workflow run finishes before it
// continues as new: each child adds a handful of events, so a few hundred would push a
// multi-year backfill past Temporal's history limits.
const defaultContinueAfter = 100

// BackfillInput asks for one run of a partitioned product per day.
type BackfillInput struct {
	Domain, Product string
	From, To        string // first and last day, YYYY-MM-DD, inclusive
	// Partitions, when set, are the days to run instead of From..To (a rerun of the
	// failed ones).
	Partitions  []string `json:",omitempty"`
	Concurrency int      // children at once; 0 = DefaultBackfillConcurrency
	RerunOf     string   `json:",omitempty"` // the backfill whose failures this one reruns
	// ContinueAfter is how many partitions one workflow run finishes before it
	// continues as new (0 = 100). Tests set it small.
	ContinueAfter int `json:",omitempty"`
	// Finished carries the partitions that ended in earlier runs of this backfill
	// across continue-as-new; callers leave it empty.
	Finished []PartitionState `json:",omitempty"`
	// Target carries what the first run resolved across continue-as-new; callers
	// leave it nil.
	Target *BackfillTarget `json:",omitempty"`
}

// PartitionState is one day of a backfill.
type PartitionState struct {
	Partition  string
	State      string
	Error      string    `json:",omitempty"` // why it failed: the innermost application error
	Until      time.Time `json:",omitzero"`  // when a quota wait ends
	WorkflowID string    // the child run: <domain>.<product>/<partition>
	Rows       int64     `json:",omitempty"` // rows published, once it succeeded
}

// BackfillStatus is what the backfill-status query and the finished workflow return.
type BackfillStatus struct {
	ID              string
	Domain, Product string
	From, To        string
	RerunOf         string `json:",omitempty"`
	Partitions      []PartitionState
	Totals          map[string]int // partitions per state
	Done            bool           // every partition has ended
}

// BackfillID is the deterministic id of a backfill: backfill/<domain>.<product>/<from>..<to>.
func BackfillID(domain, product, from, to string) string {
	return "backfill/" + domain + "." + product + "/" + from + ".." + to
}

// Days lists the days from..to inclusive, validated as YYYY-MM-DD.
func Days(from, to string) ([]string, error) {
	f, err := time.Parse(mesh.PartitionLayout, from)
	if err != nil {
		return nil, fmt.Errorf("from %q is not a day in the form YYYY-MM-DD", from)
	}
	t, err := time.Parse(mesh.PartitionLayout, to)
	if err != nil {
		return nil, fmt.Errorf("to %q is not a day in the form YYYY-MM-DD", to)
	}
	if t.Before(f) {
		return nil, fmt.Errorf("to %s is before from %s", to, from)
	}
	var out []string
	for d := f; !d.After(t); d = d.AddDate(0, 0, 1) {
		out = append(out, d.Format(mesh.PartitionLayout))
	}
	return out, nil
}

// partitions returns the days the backfill covers, sorted and without duplicates.
func (in BackfillInput) partitions() ([]string, error) {
	if len(in.Partitions) == 0 {
		return Days(in.From, in.To)
	}
	out := slices.Clone(in.Partitions)
	slices.Sort(out)
	out = slices.Compact(out)
	for _, p := range out {
		if _, err := time.Parse(mesh.PartitionLayout, p); err != nil {
			return nil, fmt.Errorf("partition %q is not a day in the form YYYY-MM-DD", p)
		}
	}
	return out, nil
}

// Backfill runs RunProduct once per day partition as child workflows on the domain's
// queue, at most Concurrency at once. A failed partition does not fail the backfill:
// it completes with a status listing every partition's outcome, and rerun-failed
// starts a new backfill with only those. Every ContinueAfter finished partitions it
// continues as new, carrying the outcomes, so its history stays small however long
// the range.
func (w *Workflows) Backfill(ctx workflow.Context, in BackfillInput) (BackfillStatus, error) {
	invalid := func(err error) (BackfillStatus, error) {
		return BackfillStatus{}, temporal.NewNonRetryableApplicationError(err.Error(), "invalid", nil)
	}
	versioned := workflow.GetVersion(ctx, planVersion, workflow.DefaultVersion, 1) != workflow.DefaultVersion
	var tgt BackfillTarget
	switch {
	case versioned && in.Target != nil:
		tgt = *in.Target // resolved by this backfill's first run, before continuing as new
	case versioned:
		var a *Activities
		if err := workflow.ExecuteLocalActivity(planOptions(ctx), a.ResolveBackfill, in).Get(ctx, &tgt); err != nil {
			return BackfillStatus{}, err
		}
	default:
		var err error
		if tgt, err = resolveBackfill(w.Mesh, in); err != nil {
			return invalid(err)
		}
	}
	days, err := in.partitions()
	if err != nil {
		return invalid(err)
	}
	if versioned && len(in.Finished) == 0 {
		if err := RefuseFutureDays(days, workflow.Now(ctx)); err != nil {
			return invalid(err)
		}
	}
	conc := in.Concurrency
	if conc <= 0 {
		conc = DefaultBackfillConcurrency
	}
	limit := in.ContinueAfter
	if limit <= 0 {
		limit = defaultContinueAfter
	}

	id := workflow.GetInfo(ctx).WorkflowExecution.ID
	st := BackfillStatus{ID: id, Domain: tgt.Domain, Product: tgt.Product, From: days[0], To: days[len(days)-1], RerunOf: in.RerunOf}
	finished := map[string]PartitionState{}
	for _, f := range in.Finished {
		finished[f.Partition] = f
	}
	st.Partitions = make([]PartitionState, len(days))
	var todo []int // indexes of partitions still to run, in day order
	for i, day := range days {
		if f, ok := finished[day]; ok {
			st.Partitions[i] = f
			continue
		}
		st.Partitions[i] = PartitionState{Partition: day, State: StatePending, WorkflowID: WorkflowID(tgt.Domain, tgt.Product, day)}
		todo = append(todo, i)
	}
	if err := workflow.SetQueryHandler(ctx, BackfillStatusQuery, func() (BackfillStatus, error) {
		return st.withTotals(), nil
	}); err != nil {
		return BackfillStatus{}, err
	}

	// Children outlive nothing: canceling the backfill cancels them; a continue-as-new
	// happens only once they have all ended.
	childCtx := func(day string) workflow.Context {
		return workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID:            WorkflowID(tgt.Domain, tgt.Product, day),
			TaskQueue:             tgt.TaskQueue,
			WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
			ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_REQUEST_CANCEL,
			TypedSearchAttributes: temporal.NewSearchAttributes(
				KeyDomain.ValueSet(tgt.Domain), KeyProduct.ValueSet(tgt.Product), KeyPartition.ValueSet(day), KeyBackfill.ValueSet(id),
				KeyTrigger.ValueSet(TriggerBackfill)),
		})
	}

	// One selector and a counter keep at most conc children in flight; the order of
	// starts and of recorded outcomes is the order of the selector's callbacks, which
	// replay reproduces.
	sel := workflow.NewSelector(ctx)
	running, ended, next := 0, 0, 0
	for {
		for running < conc && next < len(todo) && ended+running < limit {
			i := todo[next]
			next++
			day := st.Partitions[i].Partition
			st.Partitions[i].State = StateRunning
			run := RunInput{Domain: tgt.Domain, Product: tgt.Product, Partition: day, TriggerKind: TriggerBackfill, Trigger: TriggerBackfill + " " + id}
			if len(tgt.Plan.Majors) > 0 {
				run.Plan = &tgt.Plan // every day runs the plan the backfill started with
			}
			fut := workflow.ExecuteChildWorkflow(childCtx(day), RunProductWorkflow, run)
			running++
			sel.AddFuture(fut, func(f workflow.Future) {
				running--
				ended++
				var res RunResult
				err := f.Get(ctx, &res)
				st.Partitions[i].State, st.Partitions[i].Error = outcome(err)
				st.Partitions[i].Rows = res.Rows
			})
		}
		if running == 0 {
			break
		}
		sel.Select(ctx)
	}

	if next < len(todo) {
		carry := in
		carry.Partitions, carry.Finished = days, nil
		if versioned {
			carry.Target = &tgt
		}
		for _, ps := range st.Partitions {
			if ps.State != StatePending {
				carry.Finished = append(carry.Finished, ps)
			}
		}
		workflow.GetLogger(ctx).Info("continuing as new", "finished", len(carry.Finished), "of", len(days))
		return BackfillStatus{}, workflow.NewContinueAsNewError(ctx, BackfillWorkflow, carry)
	}
	st.Done = true
	st = st.withTotals()
	announceBackfill(ctx, st)
	// A backfill with failed days ends failed, naming them, so the Temporal UI never
	// shows a green Completed over days that did not publish; its details carry the
	// whole status for `mesh backfill status` and rerun-failed.
	if failed := FailedPartitions(st); len(failed) > 0 && versioned {
		return st, temporal.NewNonRetryableApplicationError(partialMessage(st, failed), ErrTypeBackfillPartlyFailed, nil, st)
	}
	return st, nil
}

// ErrTypeBackfillPartlyFailed is the error type of a backfill that finished with
// failed, canceled or timed-out days; its details hold the BackfillStatus.
const ErrTypeBackfillPartlyFailed = "backfill partly failed"

func partialMessage(st BackfillStatus, failed []string) string {
	const show = 10
	var parts []string
	for _, ps := range st.Partitions {
		if len(parts) == show {
			parts = append(parts, fmt.Sprintf("and %d more", len(failed)-show))
			break
		}
		if slices.Contains(failed, ps.Partition) {
			parts = append(parts, ps.Partition+" ("+ps.State+")")
		}
	}
	return fmt.Sprintf("%d of %d day(s) did not succeed: %s; the other days published. Rerun them with: mesh backfill rerun-failed %s",
		len(failed), len(st.Partitions), strings.Join(parts, ", "), st.ID)
}

// BackfillTarget is what a backfill resolves once, at its start: the product it runs,
// the queue its days run on, and the plan every day runs, so a deploy during a long
// backfill never splits its days between two declarations (say, two majors).
type BackfillTarget struct {
	Domain, Product, TaskQueue string
	Plan                       Plan
}

// ResolveBackfill checks that the backfill's product exists and is partitioned, from
// this worker's declarations. It runs as a local activity, so its answer is in the
// history and a replay never reads declarations.
func (a *Activities) ResolveBackfill(ctx context.Context, in BackfillInput) (BackfillTarget, error) {
	tgt, err := resolveBackfill(a.Mesh, in)
	if err != nil {
		return BackfillTarget{}, temporal.NewNonRetryableApplicationError(err.Error(), "invalid", nil)
	}
	if tgt.Plan, err = a.ResolvePlan(ctx, RunInput{Domain: tgt.Domain, Product: tgt.Product}); err != nil {
		return BackfillTarget{}, err
	}
	return tgt, nil
}

func resolveBackfill(m mesh.Mesh, in BackfillInput) (BackfillTarget, error) {
	d, p, err := m.Find(in.Domain + "." + in.Product)
	if err != nil {
		return BackfillTarget{}, err
	}
	if p.PartitionBy == "" {
		return BackfillTarget{}, fmt.Errorf("%s.%s is not partitioned: a backfill runs day partitions; declare PartitionBy (a DATE column) on it", d.Name, p.Name)
	}
	return BackfillTarget{Domain: d.Name, Product: p.Name, TaskQueue: d.TaskQueue()}, nil
}

// RefuseFutureDays refuses days after today (UTC): their data does not exist yet, and
// a run of one would publish an empty day as if it were complete.
func RefuseFutureDays(days []string, now time.Time) error {
	today := now.UTC().Format(mesh.PartitionLayout)
	var future []string
	for _, d := range days {
		if d > today {
			future = append(future, d)
		}
	}
	if len(future) == 0 {
		return nil
	}
	return fmt.Errorf("%d day(s) are after today (%s UTC), from %s: their data does not exist yet; end the range at %s or earlier",
		len(future), today, future[0], today)
}

// outcome classifies how a child run ended.
func outcome(err error) (state, msg string) {
	if err == nil {
		return StateSucceeded, ""
	}
	var canceled *temporal.CanceledError
	var timeout *temporal.TimeoutError
	switch {
	case errors.As(err, &canceled):
		return StateCanceled, "canceled"
	case errors.As(err, &timeout):
		return StateTimedOut, Explain(err)
	}
	return StateFailed, Explain(err)
}

func (st BackfillStatus) withTotals() BackfillStatus {
	st.Totals = map[string]int{}
	for _, p := range st.Partitions {
		st.Totals[p.State]++
	}
	return st
}

// FailedPartitions are the partitions of a backfill that failed, were canceled or
// timed out — the ones rerun-failed runs again — in day order.
func FailedPartitions(st BackfillStatus) []string {
	var out []string
	for _, p := range st.Partitions {
		switch p.State {
		case StateFailed, StateCanceled, StateTimedOut:
			out = append(out, p.Partition)
		}
	}
	return out
}

// RerunInput is the backfill that reruns st's failed partitions, linked to it by
// RerunOf; ok is false when nothing failed.
func RerunInput(st BackfillStatus, concurrency int) (in BackfillInput, ok bool) {
	failed := FailedPartitions(st)
	if len(failed) == 0 {
		return BackfillInput{}, false
	}
	return BackfillInput{Domain: st.Domain, Product: st.Product, From: failed[0], To: failed[len(failed)-1],
		Partitions: failed, Concurrency: concurrency, RerunOf: st.ID}, true
}

// RerunID is the id of the n-th rerun (n ≥ 1) of the backfill id: a rerun of a rerun
// counts on from the original, so backfill/x/a..b/rerun-2 follows backfill/x/a..b/rerun-1.
func RerunID(id string, n int) string {
	return rerunBase(id) + fmt.Sprintf("/rerun-%d", n)
}

// rerunNumber is n of an id ending in /rerun-n, or 0.
func rerunNumber(id string) int {
	var n int
	if i := strings.LastIndex(id, "/rerun-"); i >= 0 {
		if _, err := fmt.Sscanf(id[i+len("/rerun-"):], "%d", &n); err == nil {
			return n
		}
	}
	return 0
}

func rerunBase(id string) string {
	if rerunNumber(id) > 0 {
		return id[:strings.LastIndex(id, "/rerun-")]
	}
	return id
}

// announceBackfill tells the products the backfilled one triggers that it no longer
// runs (its days announced themselves as they ended), and the alerts how it ended.
func announceBackfill(ctx workflow.Context, st BackfillStatus) {
	if workflow.GetVersion(ctx, "announce", workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return
	}
	info := workflow.GetInfo(ctx)
	now := workflow.Now(ctx)
	_ = workflow.ExecuteActivity(announceOptions(ctx), (*Activities).Announce, Announcement{
		Ended:    InputEnded{Input: st.Domain + "." + st.Product, Status: statusBackfillEnded, WorkflowID: st.ID, RunID: info.WorkflowExecution.RunID, At: now},
		Backfill: &alert.Backfill{ID: st.ID, Domain: st.Domain, Product: st.Product, Days: len(st.Partitions), Failed: FailedPartitions(st), RerunOf: st.RerunOf, At: now},
	}).Get(ctx, nil)
}
