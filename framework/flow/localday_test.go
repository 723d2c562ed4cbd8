package flow

import (
	"context"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

// TestDayStepOutgrowsALocalActivity: a day's step that runs out of a local
// activity's time runs again as an activity, with that activity's options, and its
// result is the step's; a step that fits is run locally only. Each attempt knows an
// earlier one may have committed (mayHaveRunBefore).
func TestDayStepOutgrowsALocalActivity(t *testing.T) {
	defer func(was time.Duration) { localDayLimit = was }(localDayLimit)
	localDayLimit = 300 * time.Millisecond
	for _, tc := range []struct {
		name      string
		fitsLocal bool
		want      string
	}{{"fits", true, "local"}, {"outgrows", false, "activity"}} {
		t.Run(tc.name, func(t *testing.T) {
			var s testsuite.WorkflowTestSuite
			env := s.NewTestWorkflowEnvironment()
			var attempts []string
			var knowsItMayHaveRun []bool // each attempt's mayHaveRunBefore
			env.RegisterActivityWithOptions(func(ctx context.Context, in string) (string, error) {
				local := activity.GetInfo(ctx).IsLocalActivity
				knowsItMayHaveRun = append(knowsItMayHaveRun, mayHaveRunBefore(ctx))
				if local {
					attempts = append(attempts, "local")
				} else {
					attempts = append(attempts, "activity")
				}
				if local && !tc.fitsLocal {
					<-ctx.Done() // until the local activity's time runs out
					return "", ctx.Err()
				}
				if local {
					return "local", nil
				}
				return "activity", nil
			}, activity.RegisterOptions{Name: "Step"})
			env.ExecuteWorkflow(func(ctx workflow.Context) (string, error) {
				var out string
				err := dayStep(ctx, true, shortOptions, "Step", "s.x", "day", &out)
				return out, err
			})
			if err := env.GetWorkflowError(); err != nil {
				t.Fatal(err)
			}
			var got string
			if err := env.GetWorkflowResult(&got); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("the step's result came from %q (attempts %v), want %q", got, attempts, tc.want)
			}
			if last := attempts[len(attempts)-1]; last != tc.want {
				t.Errorf("attempts %v, want the last one %q", attempts, tc.want)
			}
			// Every attempt may follow one that committed and was lost: a local one,
			// and the activity after a local attempt ran out of time.
			for i, knows := range knowsItMayHaveRun {
				if !knows {
					t.Errorf("attempt %d (%s) does not know an earlier one may have committed", i+1, attempts[i])
				}
			}
		})
	}
}
