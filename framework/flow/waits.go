package flow

import (
	"context"
	"fmt"
	"time"

	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/source"
)

// landActivity is the activity type Temporal lists for a landing: the name of the
// (*Activities).Land method that Register registers.
const landActivity = "Land"

// LandingWait is a running landing that waits on its source's limits, as its Land
// activity's last heartbeat says.
type LandingWait struct {
	ActivityID string // the Land activity within its run
	source.Wait
}

// Text says what the landing waits for, until when and after how many waits, e.g.
// "waiting for the GitHub secondary rate limit until 14:03:10 (12 waits so far)". The
// time is in now's zone, with the date when it is not now's day.
func (w LandingWait) Text(now time.Time) string {
	until := w.Until.In(now.Location())
	layout := "15:04:05"
	if y, m, d := until.Date(); y != now.Year() || m != now.Month() || d != now.Day() {
		layout = "Jan 2 15:04:05"
	}
	reason := w.Reason
	if reason == "" {
		reason = "the source's limits"
	}
	waits := "1 wait so far"
	if w.Waits != 1 {
		waits = fmt.Sprintf("%d waits so far", w.Waits)
	}
	return fmt.Sprintf("waiting for %s until %s (%s)", reason, until.Format(layout), waits)
}

// LandingWaits returns the waits of a run's landings that wait on their source's
// limits now: pending Land activities whose last heartbeat carries a checkpoint with
// a wait that has not ended yet. runID "" is the id's latest run. A heartbeat reaches
// Temporal up to 80% of the heartbeat timeout late, so a wait can show a few seconds
// after it began, and one that ended is known by its time having passed.
func LandingWaits(ctx context.Context, c client.Client, workflowID, runID string) ([]LandingWait, error) {
	desc, err := c.DescribeWorkflowExecution(ctx, workflowID, runID)
	if err != nil {
		return nil, errs.E(errs.Transient, "landing waits of "+workflowID, err)
	}
	return pendingWaits(desc.GetPendingActivities(), time.Now()), nil
}

func pendingWaits(acts []*workflowpb.PendingActivityInfo, now time.Time) []LandingWait {
	var out []LandingWait
	for _, a := range acts {
		if a.GetActivityType().GetName() != landActivity || a.GetHeartbeatDetails() == nil {
			continue
		}
		// The worker encodes heartbeats with the default converter; a details payload
		// it cannot decode (an older checkpoint) just shows no wait.
		var cp lake.Checkpoint
		if err := converter.GetDefaultDataConverter().FromPayloads(a.GetHeartbeatDetails(), &cp); err != nil {
			continue
		}
		if cp.Wait == nil || !cp.Wait.Until.After(now) {
			continue
		}
		out = append(out, LandingWait{ActivityID: a.GetActivityId(), Wait: *cp.Wait})
	}
	return out
}
