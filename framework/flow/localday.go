package flow

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// localDayChange is the change that runs a day's landing and its Produce as local
// activities: the day's run then completes in one or two workflow tasks instead of
// three, and no activity task waits in a queue. In a backfill of hundreds of days
// those round trips cost about twice the days' own work. It is safe for a day because
// a day is small and both steps may run again without harm — Land returns the landing
// an earlier run of it committed, and Publish (in Produce) the snapshot, see
// mayHaveRunBefore — which is all a lost workflow task can cause. A local activity
// sends no heartbeats, so a day that takes longer than localDayLimit runs its step
// again as an activity, with heartbeats and its own timeouts. Runs of a whole product
// keep activities: their steps can take an hour. Histories from before replay the
// day's steps as activities.
const localDayChange = "local-day"

// localDayLimit bounds a day's step run locally; past it the step runs as an activity.
var localDayLimit = 5 * time.Minute

// localDay says whether this run's landing and Produce run as local activities: a
// day's run (a partition), in a history that knows the change.
func localDay(ctx workflow.Context, in RunInput) bool {
	if in.Partition == "" {
		return false
	}
	return workflow.GetVersion(ctx, localDayChange, workflow.DefaultVersion, 1) != workflow.DefaultVersion
}

// dayStep runs the activity name as one step of a run: with opts, or when local as a
// local activity that, when it runs out of time, is run again as the activity. Any
// other error of the local attempt is the step's: it was retried as the activity's
// would have been. key tells apart the steps of one name a run may run at once (a
// landing per stream).
func dayStep(ctx workflow.Context, local bool, opts func(workflow.Context) workflow.Context, name, key string, in, out any) error {
	if !local {
		return workflow.ExecuteActivity(opts(ctx), name, in).Get(ctx, out)
	}
	err := workflow.ExecuteLocalActivity(localDayOptions(ctx), name, in).Get(ctx, out)
	var timeout *temporal.TimeoutError
	if !errors.As(err, &timeout) {
		return err
	}
	workflow.GetLogger(ctx).Info("a day's step ran out of a local activity's time; running it as an activity", "step", name, "limit", localDayLimit)
	// Its id says so: the local attempt may have committed before it was stopped.
	actx := opts(ctx)
	ao := workflow.GetActivityOptions(actx)
	ao.ActivityID = fmt.Sprintf("%s%s%s-%d", name, afterLocal, key, workflow.Now(ctx).UnixMilli())
	return workflow.ExecuteActivity(workflow.WithActivityOptions(actx, ao), name, in).Get(ctx, out)
}

// afterLocal is in the activity id of a day's step run as an activity after its local
// attempt ran out of time (dayStep).
const afterLocal = "-after-local-"

// localDayOptions retry a day's local step as its activity would be (a lost commit
// race or a source's hiccup is worth another attempt) within localDayLimit.
func localDayOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		ScheduleToCloseTimeout: localDayLimit,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute, MaximumAttempts: 5, NonRetryableErrorTypes: nonRetryable},
	})
}

// mayHaveRunBefore says whether an earlier attempt of this activity may have done its
// work and been lost before reporting it: a retry; any local activity — its attempt
// count starts at 1 again in the workflow task that replaces a lost one; and a day's
// step run as an activity after its local attempt ran out of time.
func mayHaveRunBefore(ctx context.Context) bool {
	info := activity.GetInfo(ctx)
	return info.Attempt > 1 || info.IsLocalActivity || strings.Contains(info.ActivityID, afterLocal)
}
