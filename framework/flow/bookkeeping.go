package flow

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// localBookkeeping is the change that runs a run's bookkeeping at its end — its run
// record and its announcement — as local activities. Each was a round trip through
// the server of its own (a workflow task to schedule it, an activity task to run it,
// one more to go on), which for a day of a backfill cost about as much as the day's
// work. Both are short and idempotent — the record's key names the run, and trigger
// workflows and alerts count an announcement once — so running one again after a lost
// workflow task is harmless, which is all a local activity risks. Histories from
// before replay them as activities.
const localBookkeeping = "local-bookkeeping"

// finishRun records the run and announces its end.
func finishRun(ctx workflow.Context, rec RunRecord, quotaWaited time.Duration, callerRuns []string) {
	if workflow.GetVersion(ctx, localBookkeeping, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		_ = workflow.ExecuteActivity(recordOptions(ctx), (*Activities).RecordRun, rec).Get(ctx, nil)
		announce(ctx, rec, quotaWaited, callerRuns)
		return
	}
	var a *Activities // the worker's registered Activities run it
	// Best effort, as before: the run's own outcome is what matters to its caller.
	_ = workflow.ExecuteLocalActivity(localRecordOptions(ctx), a.RecordRun, rec).Get(ctx, nil)
	if rec.Branch != "" {
		return // a preview on a branch triggers nothing and alerts nobody
	}
	_ = workflow.ExecuteLocalActivity(localAnnounceOptions(ctx), a.Announce, runAnnouncement(rec, quotaWaited, callerRuns)).Get(ctx, nil)
}

// localRecordOptions are recordOptions for the local activity: written even when the
// run was canceled.
func localRecordOptions(ctx workflow.Context) workflow.Context {
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	return workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		ScheduleToCloseTimeout: 5 * time.Minute,
		StartToCloseTimeout:    time.Minute,
		RetryPolicy:            &temporal.RetryPolicy{MaximumAttempts: 3},
	})
}

// localAnnounceOptions are announceOptions for the local activity: announced even
// when the run was canceled, retried for as long (its consumers wait for it).
func localAnnounceOptions(ctx workflow.Context) workflow.Context {
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	return workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		ScheduleToCloseTimeout: 30 * time.Minute,
		StartToCloseTimeout:    time.Minute,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute, MaximumAttempts: 30},
	})
}
