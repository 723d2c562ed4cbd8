package flow

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
)

// TestKeepAliveHeartbeatsWithTheLatestDetails: heartbeats go out on a timer while the
// activity works, each with the newest details (a retried Land resumes from them), and
// stop when the activity does.
func TestKeepAliveHeartbeatsWithTheLatestDetails(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	record := func(d ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(d) != 1 {
			t.Errorf("heartbeat with details %v, want one value", d)
			return
		}
		seen = append(seen, d[0].(string))
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(seen) }
	// waitFor lets the ticker beat until n heartbeats have been seen, or fails.
	waitFor := func(n int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for count() < n {
			if time.Now().After(deadline) {
				t.Fatalf("%d heartbeats after 5 s, want %d", count(), n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	h := startHeartbeat(context.Background(), record, 2*time.Millisecond, "resumed")
	waitFor(4)
	h.update("page 1")
	waitFor(count() + 3)
	h.stop()
	after := count()

	mu.Lock()
	got := append([]string(nil), seen...)
	mu.Unlock()
	if got[0] != "resumed" || got[len(got)-1] != "page 1" {
		t.Fatalf("heartbeat details %v: want the starting details first and the latest last", got)
	}
	for i := 1; i < len(got); i++ {
		if got[i] == "resumed" && got[i-1] == "page 1" {
			t.Fatalf("heartbeat details %v went back to older details", got)
		}
	}
	// stop waited for the ticker's goroutine: nothing beats after it.
	h.update("late")
	if count() != after+1 {
		t.Fatalf("%d heartbeats after stop and one update, want 1", count()-after)
	}

	// An activity whose context ends stops its ticker too.
	ctx, cancel := context.WithCancel(context.Background())
	h = startHeartbeat(ctx, record, time.Millisecond, "x")
	cancel()
	<-h.done
}

// TestEveryActivityHasAHeartbeatTimeout: every activity of a run tells the server to
// give its attempt up within heartbeatTimeout of its worker's last sign of life, so a
// killed worker delays a run by that much, not by the activity's StartToCloseTimeout.
// (The run's bookkeeping runs as local activities, in the workflow's own task: see
// TestRunBookkeepingIsLocal.)
func TestEveryActivityHasAHeartbeatTimeout(t *testing.T) {
	env, a := newEnv(t)
	got := map[string]time.Duration{}
	env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		got[info.ActivityType.Name] = info.HeartbeatTimeout
	})
	env.OnActivity(a.Land, mock.Anything, mock.Anything).Return(LandOutput{Rows: 10}, nil)
	env.OnActivity(a.Transform, mock.Anything, mock.Anything).Return(TransformOutput{StagingKey: "staging/x", Rows: 7}, nil)
	env.OnActivity(a.Check, mock.Anything, mock.Anything).Return(CheckOutput{Results: passing, Status: "pass"}, nil)
	env.OnActivity(a.Publish, mock.Anything, mock.Anything).Return(PublishOutput{SnapshotID: 42, Rows: 7}, nil)
	env.OnActivity(a.RecordRun, mock.Anything, mock.Anything).Return(nil)
	env.ExecuteWorkflow(RunProductWorkflow, RunInput{Domain: "marketing", Product: "crm_contacts"})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"Land", "Transform", "Check", "Publish"} {
		if d, ok := got[name]; !ok || d != heartbeatTimeout {
			t.Errorf("%s ran with heartbeat timeout %v (started: %v), want %v", name, d, ok, heartbeatTimeout)
		}
	}
}

// TestRunBookkeepingIsLocal: a run's record and announcement run as local activities
// (no round trip through the server each), the record with what the run did.
func TestRunBookkeepingIsLocal(t *testing.T) {
	env, a := newEnv(t)
	var local, remote []string
	env.SetOnLocalActivityStartedListener(func(info *activity.Info, _ context.Context, _ []any) {
		local = append(local, info.ActivityType.Name)
	})
	env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		remote = append(remote, info.ActivityType.Name)
	})
	env.OnActivity(a.Land, mock.Anything, mock.Anything).Return(LandOutput{Rows: 10}, nil)
	env.OnActivity(a.Transform, mock.Anything, mock.Anything).Return(TransformOutput{StagingKey: "staging/x", Rows: 7}, nil)
	env.OnActivity(a.Check, mock.Anything, mock.Anything).Return(CheckOutput{Results: passing, Status: "pass"}, nil)
	env.OnActivity(a.Publish, mock.Anything, mock.Anything).Return(PublishOutput{SnapshotID: 42, Rows: 7}, nil)
	var rec RunRecord
	env.OnActivity(a.RecordRun, mock.Anything, mock.Anything).Return(func(_ context.Context, r RunRecord) error { rec = r; return nil })
	var ann Announcement
	env.OnActivity(a.Announce, mock.Anything, mock.Anything).Return(func(_ context.Context, in Announcement) error { ann = in; return nil })
	env.ExecuteWorkflow(RunProductWorkflow, RunInput{Domain: "marketing", Product: "crm_contacts"})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"RecordRun", "Announce"} {
		if !slices.Contains(local, name) || slices.Contains(remote, name) {
			t.Errorf("%s: local activities %v, activities %v; want it local only", name, local, remote)
		}
	}
	if rec.Status != StatusPublished || rec.SnapshotID != 42 || rec.Rows != 7 {
		t.Errorf("run record %+v, want published snapshot 42 of 7 rows", rec)
	}
	if ann.Ended.Status != StatusPublished || ann.Ended.SnapshotID != 42 || ann.Run == nil || ann.Run.Status != StatusPublished {
		t.Errorf("announcement %+v, want the published snapshot 42", ann)
	}
}
