package flow

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// localDayChange is the change that runs a day's landing and its Produce as local
// activities: the day's run then completes in one or two workflow tasks instead of
// three, and no activity task waits in a queue. In a backfill of hundreds of days
// those round trips cost about twice the days' own work. It is safe for a day because
// a day is small and both steps may run again without harm — a landing advances its
// cursor only after its files are durable, and Produce finds the snapshot an earlier
// attempt committed — which is all a lost workflow task can cause. A local activity
// sends no heartbeats, so a day that takes longer than localDayLimit runs its step
// again as an activity, with heartbeats and its own timeouts. Runs of a whole product
// keep activities: their steps can take an hour. Histories from before replay the
// day's steps as activities.
const localDayChange = "local-day"

// localDayLimit bounds a day's step run locally; past it the step runs as an activity.
var localDayLimit = 5 * time.Minute

// produceActivity is the registered name of Produce.
const produceActivity = "Produce"

// localDay says whether this run's landing and Produce run as local activities: a
// day's run (a partition), in a history that knows the change.
func localDay(ctx workflow.Context, in RunInput) bool {
	if in.Partition == "" {
		return false
	}
	return workflow.GetVersion(ctx, localDayChange, workflow.DefaultVersion, 1) != workflow.DefaultVersion
}

// dayStep runs one step of a run: as an activity with opts, or when local as a local
// activity of the same name that, when it runs out of time, is run again as that
// activity. Any other error of the local attempt is the step's: it was retried as the
// activity's would have been.
func dayStep(ctx workflow.Context, local bool, opts func(workflow.Context) workflow.Context, activityFn any, name string, in, out any) error {
	if !local {
		return workflow.ExecuteActivity(opts(ctx), activityFn, in).Get(ctx, out)
	}
	err := workflow.ExecuteLocalActivity(localDayOptions(ctx), name, in).Get(ctx, out)
	var timeout *temporal.TimeoutError
	if !errors.As(err, &timeout) {
		return err
	}
	workflow.GetLogger(ctx).Info("a day's step ran out of a local activity's time; running it as an activity", "step", name, "limit", localDayLimit)
	return workflow.ExecuteActivity(opts(ctx), activityFn, in).Get(ctx, out)
}

// localDayOptions retry a day's local step as its activity would be (a lost commit
// race or a source's hiccup is worth another attempt) within localDayLimit.
func localDayOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		ScheduleToCloseTimeout: localDayLimit,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute, MaximumAttempts: 5, NonRetryableErrorTypes: nonRetryable},
	})
}

// mayHaveRunBefore says whether an earlier attempt of this activity may have done its
// work and been lost before reporting it: a retry, or any local activity — its attempt
// count starts at 1 again in the workflow task that replaces a lost one.
func mayHaveRunBefore(ctx context.Context) bool {
	info := activity.GetInfo(ctx)
	return info.Attempt > 1 || info.IsLocalActivity
}
