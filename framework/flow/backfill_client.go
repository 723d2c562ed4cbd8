package flow

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/mesh"
)

// maxReruns bounds the search for a free rerun id.
const maxReruns = 1000

// StartBackfill starts a backfill of a partitioned product on its domain's queue, with
// id BackfillID (or the next free RerunID of in.RerunOf). Like a run, a finished
// backfill id may start again; a live one is refused.
func StartBackfill(ctx context.Context, c client.Client, d mesh.Domain, p mesh.Product, in BackfillInput) (client.WorkflowRun, error) {
	op := "backfill " + d.Name + "." + p.Name
	in.Domain, in.Product, in.Finished = d.Name, p.Name, nil
	if p.PartitionBy == "" {
		return nil, errs.Errorf(errs.Invalid, op, "%s.%s is not partitioned: a backfill runs day partitions; declare PartitionBy (a DATE column) on it", d.Name, p.Name)
	}
	days, err := in.partitions()
	if err != nil {
		return nil, errs.E(errs.Invalid, op, err)
	}
	if in.From == "" || in.To == "" {
		in.From, in.To = days[0], days[len(days)-1]
	}
	if err := RefuseFutureDays(days, time.Now()); err != nil {
		return nil, errs.E(errs.Invalid, op, err)
	}
	opts := func(id string, reuse enumspb.WorkflowIdReusePolicy) client.StartWorkflowOptions {
		return client.StartWorkflowOptions{
			ID:                       id,
			TaskQueue:                d.TaskQueue(),
			WorkflowIDReusePolicy:    reuse,
			WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
			// A live backfill of the same days is refused, never joined (see StartRun).
			WorkflowExecutionErrorWhenAlreadyStarted: true,
			TypedSearchAttributes: temporal.NewSearchAttributes(
				KeyDomain.ValueSet(d.Name), KeyProduct.ValueSet(p.Name), KeyBackfill.ValueSet(id)),
		}
	}
	if in.RerunOf == "" {
		id := BackfillID(d.Name, p.Name, in.From, in.To)
		run, err := c.ExecuteWorkflow(ctx, opts(id, enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE), BackfillWorkflow, in)
		return run, alreadyRunning(ctx, c, op, id, err)
	}
	// Each rerun keeps its own id, so the status of every earlier one stays readable:
	// take the first number after the rerun's own that no workflow has used.
	for n := rerunNumber(in.RerunOf) + 1; n <= rerunNumber(in.RerunOf)+maxReruns; n++ {
		run, err := c.ExecuteWorkflow(ctx, opts(RerunID(in.RerunOf, n), enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE), BackfillWorkflow, in)
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		if errors.As(err, &started) {
			continue
		}
		return run, err
	}
	return nil, errs.Errorf(errs.Conflict, op, "%s has been rerun %d times already", in.RerunOf, maxReruns)
}

// GetBackfillStatus returns a backfill's status: the result of a completed backfill,
// else its backfill-status query (served by a worker of the domain). Running
// partitions whose child is waiting out a quota are shown so, with the wait's end.
func GetBackfillStatus(ctx context.Context, c client.Client, id string) (BackfillStatus, error) {
	op := "backfill status " + id
	desc, err := c.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return BackfillStatus{}, errs.Errorf(errs.NotFound, op, "no backfill %s: ids look like backfill/<domain>.<product>/<from>..<to>", id)
		}
		return BackfillStatus{}, errs.E(errs.Transient, op, err)
	}
	var st BackfillStatus
	switch desc.GetWorkflowExecutionInfo().GetStatus() {
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, enumspb.WORKFLOW_EXECUTION_STATUS_FAILED:
		err := c.GetWorkflow(ctx, id, "").Get(ctx, &st)
		if st, err = BackfillOutcome(err, st); err != nil {
			return BackfillStatus{}, errs.E(errs.Internal, op, errors.New(Explain(err)))
		}
		return st, nil
	}
	v, err := c.QueryWorkflow(ctx, id, "", BackfillStatusQuery)
	if err != nil {
		return BackfillStatus{}, errs.E(errs.Transient, op, errors.New(Explain(err)+" (is a worker for the domain running?)"))
	}
	if err := v.Get(&st); err != nil {
		return BackfillStatus{}, errs.E(errs.Internal, op, err)
	}
	for i, ps := range st.Partitions {
		if ps.State != StateRunning {
			continue
		}
		// Best effort: a child not yet picked up by a worker simply stays "running".
		pv, err := c.QueryWorkflow(ctx, ps.WorkflowID, "", ProgressQuery)
		var pr Progress
		if err != nil || pv.Get(&pr) != nil {
			continue
		}
		if pr.Stage == "waiting for quota" {
			st.Partitions[i].State, st.Partitions[i].Until = StateWaitingForQuota, pr.Until
		}
	}
	return st.withTotals(), nil
}

// WaitBackfill waits for a backfill to end and returns its final status, whether every
// day succeeded or some did not (FailedPartitions says which); err is set only when
// the backfill itself could not finish (refused, canceled, terminated).
func WaitBackfill(ctx context.Context, run client.WorkflowRun) (BackfillStatus, error) {
	var st BackfillStatus
	err := run.Get(ctx, &st)
	return BackfillOutcome(err, st)
}

// BackfillOutcome reads a finished backfill's status from its result (st, when err is
// nil) or from the error of a backfill with failed days, which carries the status.
func BackfillOutcome(err error, st BackfillStatus) (BackfillStatus, error) {
	if err == nil {
		return st, nil
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.Type() == ErrTypeBackfillPartlyFailed {
		var partial BackfillStatus
		if derr := app.Details(&partial); derr == nil {
			return partial, nil
		}
	}
	return BackfillStatus{}, err
}

// RerunFailed starts a backfill of only the failed, canceled or timed-out partitions
// of backfill id, linked to it by RerunOf. It returns the partitions it runs; with
// none, it starts nothing and returns a nil run.
func RerunFailed(ctx context.Context, c client.Client, m mesh.Mesh, id string, concurrency int) (client.WorkflowRun, []string, error) {
	st, err := GetBackfillStatus(ctx, c, id)
	if err != nil {
		return nil, nil, err
	}
	// Partitions of a live backfill may still fail after the rerun started, and would
	// then be missed by it: rerun what a finished backfill left.
	if !st.Done {
		return nil, nil, errs.Errorf(errs.Conflict, "rerun-failed "+id, "%s is still running (%s): wait for it to finish, or look with --dry-run", id, totalsLine(st.Totals))
	}
	in, ok := RerunInput(st, concurrency)
	if !ok {
		return nil, nil, nil
	}
	d, p, err := m.Find(st.Domain + "." + st.Product)
	if err != nil {
		return nil, nil, err
	}
	run, err := StartBackfill(ctx, c, d, p, in)
	return run, in.Partitions, err
}

func totalsLine(totals map[string]int) string {
	keys := slices.Sorted(maps.Keys(totals))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, totals[k])
	}
	return strings.Join(parts, ", ")
}
