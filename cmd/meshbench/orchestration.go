package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/meshflow/meshflow/dev/sandbox"
	sbga "github.com/meshflow/meshflow/dev/sandbox/googleanalytics"
	"github.com/meshflow/meshflow/dev/stack"
	"github.com/meshflow/meshflow/domains"
	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/workers/host"
)

// backfilled is the product the orchestration benchmark backfills: partitioned by day,
// read from the GA4 sandbox.
const backfilled = "marketing.web_traffic"

// orchestrationBench runs a backfill of o.days days on the real dev server with a
// worker against the sandbox, and splits its wall time into activity time (from the
// children's histories) and what Temporal adds around it.
func orchestrationBench(ctx context.Context, o options, dir string, logf func(string, ...any)) ([]Row, error) {
	const op = "meshbench: orchestration"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, errs.E(errs.Internal, op, err)
	}
	start := time.Now()
	log := zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr}).Level(zerolog.WarnLevel)
	st, err := stack.Start(ctx, stack.Options{Log: log, Sandbox: sandboxOptions(o.days)})
	if err != nil {
		return nil, err
	}
	defer st.Stop()
	cfg, err := host.ConfigFromEnv(func(k string) string {
		switch k {
		case "MESHFLOW_LAKE":
			return filepath.Join(dir, "lake")
		case "MESHFLOW_LOG_LEVEL":
			return "warn"
		}
		return ""
	})
	if err != nil {
		return nil, err
	}
	cfg.WorkDir = filepath.Join(dir, "work")
	if err := os.MkdirAll(cfg.WorkDir, 0o755); err != nil {
		return nil, errs.E(errs.Internal, op, err)
	}
	cfg.Domains = []string{"marketing"}
	cfg, _ = st.SandboxConfig(cfg)
	stores, err := host.OpenStores(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer stores.Close()
	m, left, err := alone(domains.Mesh(), backfilled)
	if err != nil {
		return nil, err
	}
	d, p, err := m.Find(backfilled)
	if err != nil {
		return nil, err
	}
	if _, err := st.StartWorker(cfg, m, stores); err != nil {
		return nil, err
	}
	logf("orchestration: dev server, sandbox and worker up (%s); the worker hosts %s alone, without its consumers %s, so no publish of a day starts their runs",
		elapsed(start), backfilled, strings.Join(left, ", "))

	// Days that have settled in the sandbox: yesterday and before.
	to := time.Now().UTC().AddDate(0, 0, -1)
	from := to.AddDate(0, 0, -(o.days - 1))
	start = time.Now()
	run, err := flow.StartBackfill(ctx, st.Client, d, p, flow.BackfillInput{
		From: from.Format(time.DateOnly), To: to.Format(time.DateOnly), Concurrency: o.concurrency})
	if err != nil {
		return nil, err
	}
	stopProgress := progress(ctx, st.Client, run.GetID(), o.days, logf)
	status, err := flow.WaitBackfill(ctx, run)
	stopProgress()
	if err != nil {
		return nil, errs.Errorf(errs.Internal, op, "backfill %s: %s", run.GetID(), flow.Explain(err))
	}
	wall := time.Since(start)
	if got := status.Totals[flow.StateSucceeded]; got != o.days {
		for _, ps := range status.Partitions {
			if ps.State != flow.StateSucceeded {
				return nil, errs.Errorf(errs.Internal, op, "backfill %s: %d of %d days succeeded; %s is %s: %s", status.ID, got, o.days, ps.Partition, ps.State, ps.Error)
			}
		}
		return nil, errs.Errorf(errs.Internal, op, "backfill %s: %d of %d days succeeded", status.ID, got, o.days)
	}
	logf("orchestration: backfilled %d days in %s; reading the children's histories", o.days, wall.Round(100*time.Millisecond))

	var busy, inChild time.Duration
	byType := map[string]time.Duration{}
	perDay := map[string]childTiming{}
	for _, ps := range status.Partitions {
		t, err := childTimes(ctx, st.Client, ps.WorkflowID)
		if err != nil {
			return nil, err
		}
		perDay[ps.Partition] = t
		busy += t.activity
		inChild += t.wall - t.activity
		for k, v := range t.byType {
			byType[k] += v
		}
	}
	n := time.Duration(len(status.Partitions))
	logf("orchestration: activity time per day by type: %s", byTypeText(byType, n))
	// Days run oldest first, so a rise says a day costs more as the port grows.
	days := slices.Sorted(maps.Keys(perDay))
	tenth := max(1, len(days)/10)
	first, last := meanTiming(perDay, days[:tenth]), meanTiming(perDay, days[len(days)-tenth:])
	logf("orchestration: activity time per day, first tenth of the days run %.0f ms (%s), last tenth %.0f ms (%s)",
		ms(first.activity), byTypeText(first.byType, 1), ms(last.activity), byTypeText(last.byType, 1))
	growth := float64(last.activity) / float64(first.activity)
	slots := wall*time.Duration(o.concurrency) - busy
	overhead := ms(slots / n)
	size := fmt.Sprintf("%d days × concurrency %d", o.days, o.concurrency)
	return []Row{
		{Benchmark: "orchestration: backfill wall time (" + backfilled + " alone)", Size: size,
			Figures: figures(wall.Seconds()), Unit: "s", Goal: none, Result: none, Values: []float64{wall.Seconds()}},
		{Benchmark: "orchestration: activity time", Size: size,
			Figures: figures(busy.Seconds(), ms(busy/n)), Unit: "s in all · ms per day", Goal: none, Result: none,
			Values: []float64{busy.Seconds(), ms(busy / n)}},
		{Benchmark: "orchestration: activity time per day, first and last tenth", Size: size,
			Figures: figures(ms(first.activity), ms(last.activity)), Unit: "ms first tenth · ms last tenth",
			Goal: "last " + ratio(growth) + " / ≤ 1.25×", Result: verdict(growth <= 1.25),
			Values: []float64{ms(first.activity), ms(last.activity)}},
		{Benchmark: "orchestration: Temporal overhead per day", Size: size,
			Figures: figures(overhead, ms(inChild/n)), Unit: "ms (wall×conc − activity)/days · ms in each child",
			Goal: fmt.Sprintf("%.0f ms / ≤ 100 ms", overhead), Result: verdict(overhead <= 100), Values: []float64{overhead, ms(inChild / n)}},
	}, nil
}

// meanTiming is the mean activity time, and of each activity type, of the days named.
func meanTiming(perDay map[string]childTiming, days []string) childTiming {
	out := childTiming{byType: map[string]time.Duration{}}
	n := time.Duration(len(days))
	for _, d := range days {
		out.activity += perDay[d].activity / n
		for k, v := range perDay[d].byType {
			out.byType[k] += v / n
		}
	}
	return out
}

// byTypeText is "Check 120 ms, Land 60 ms, …": each type's time divided by n.
func byTypeText(byType map[string]time.Duration, n time.Duration) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(byType)) {
		parts = append(parts, fmt.Sprintf("%s %.0f ms", k, ms(byType[k]/n)))
	}
	return strings.Join(parts, ", ")
}

// alone is the mesh with the product name and nothing else, and the products that
// read it, directly or not, it leaves out. A day web_traffic publishes triggers its
// consumers (channel_daily's same day, revenue_engagement_weekly after the backfill):
// their runs would share the cores and the worker, so the figures would no longer be
// one product's.
func alone(m mesh.Mesh, name string) (mesh.Mesh, []string, error) {
	d, p, err := m.Find(name)
	if err != nil {
		return mesh.Mesh{}, nil, err
	}
	var left []string
	seen := map[mesh.Ref]bool{}
	next := []mesh.Ref{{Domain: d.Name, Product: p.Name}}
	for len(next) > 0 {
		r := next[0]
		next = next[1:]
		for _, c := range m.Consumers(r.Domain, r.Product) {
			if !seen[c] {
				seen[c] = true
				left = append(left, c.String())
				next = append(next, c)
			}
		}
	}
	d.Products = []mesh.Product{p}
	return mesh.Mesh{Domains: []mesh.Domain{d}}, left, nil
}

// progress logs how many days have ended every 30 seconds until stopped: a year of
// days takes minutes.
func progress(ctx context.Context, c client.Client, id string, days int, logf func(string, ...any)) (stop func()) {
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(30 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if s, err := flow.GetBackfillStatus(ctx, c, id); err == nil {
					logf("orchestration: %d of %d days succeeded, %d running", s.Totals[flow.StateSucceeded], days, s.Totals[flow.StateRunning])
				}
			}
		}
	}()
	return func() { close(done); <-exited }
}

// sandboxOptions are the stack's defaults with GA4's token quota lifted, so a year of
// days does not wait for the sandbox's hourly budget to refill, and history enough for
// every day backfilled.
func sandboxOptions(days int) *sandbox.Options {
	return &sandbox.Options{Unlimited: true, Settings: []any{
		sbga.Options{TokensPerHour: -1, TokensPerDay: -1, Days: max(365, days+1)},
	}}
}

// childTiming is one RunProduct child: its wall time, how much of it some activity
// was running (overlapping activities, the parallel landings, count once), and the
// time of each activity type.
type childTiming struct {
	wall, activity time.Duration
	byType         map[string]time.Duration
}

func childTimes(ctx context.Context, c client.Client, workflowID string) (childTiming, error) {
	it := c.GetWorkflowHistory(ctx, workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var first, last time.Time
	scheduled := map[int64]string{}  // ActivityTaskScheduled event id → activity type
	started := map[int64]time.Time{} // ActivityTaskStarted event id → when
	types := map[int64]string{}      // ActivityTaskStarted event id → activity type
	byType := map[string]time.Duration{}
	var spans [][2]time.Time
	// A local activity runs inside a workflow task and leaves only a marker, recorded
	// as the task completes, with the workflow time it ended at: it ran from the task's
	// start, or the end of the local activity before it in the same task, until then.
	var localFrom time.Time
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return childTiming{}, errs.Errorf(errs.Internal, "meshbench: orchestration", "history of %s: %v", workflowID, err)
		}
		at := ev.GetEventTime().AsTime()
		if first.IsZero() {
			first = at
		}
		last = at
		if id, from, ok := activityEnd(ev, started); ok {
			spans = append(spans, [2]time.Time{from, at})
			byType[types[id]] += at.Sub(from)
		}
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED:
			localFrom = at
		case enumspb.EVENT_TYPE_MARKER_RECORDED:
			if typ, end, ok := localActivityEnd(ev); ok && end.After(localFrom) {
				spans = append(spans, [2]time.Time{localFrom, end})
				byType[typ+" (local)"] += end.Sub(localFrom)
				localFrom = end
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			scheduled[ev.GetEventId()] = ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName()
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			started[ev.GetEventId()] = at
			types[ev.GetEventId()] = scheduled[ev.GetActivityTaskStartedEventAttributes().GetScheduledEventId()]
		}
	}
	return childTiming{wall: last.Sub(first), activity: union(spans), byType: byType}, nil
}

// activityEnd reports the started event and start of the activity attempt that ev
// ends, if it ends one.
func activityEnd(ev *historypb.HistoryEvent, started map[int64]time.Time) (int64, time.Time, bool) {
	var id int64
	switch ev.GetEventType() {
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
		id = ev.GetActivityTaskCompletedEventAttributes().GetStartedEventId()
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_FAILED:
		id = ev.GetActivityTaskFailedEventAttributes().GetStartedEventId()
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
		id = ev.GetActivityTaskTimedOutEventAttributes().GetStartedEventId()
	default:
		return 0, time.Time{}, false
	}
	t, ok := started[id]
	return id, t, ok
}

// localActivityEnd reads a local activity's marker: its type, and the workflow time
// it completed at (the SDK's marker data: ActivityType, ReplayTime).
func localActivityEnd(ev *historypb.HistoryEvent) (string, time.Time, bool) {
	m := ev.GetMarkerRecordedEventAttributes()
	if m.GetMarkerName() != "LocalActivity" {
		return "", time.Time{}, false
	}
	var data struct {
		ActivityType string
		ReplayTime   time.Time
	}
	if err := converter.GetDefaultDataConverter().FromPayloads(m.GetDetails()["data"], &data); err != nil || data.ReplayTime.IsZero() {
		return "", time.Time{}, false
	}
	return data.ActivityType, data.ReplayTime, true
}

// union is the total length covered by spans.
func union(spans [][2]time.Time) time.Duration {
	slices.SortFunc(spans, func(a, b [2]time.Time) int { return a[0].Compare(b[0]) })
	var total time.Duration
	var cur [2]time.Time
	for i, s := range spans {
		if i == 0 || s[0].After(cur[1]) {
			if i > 0 {
				total += cur[1].Sub(cur[0])
			}
			cur = s
			continue
		}
		if s[1].After(cur[1]) {
			cur[1] = s[1]
		}
	}
	if len(spans) > 0 {
		total += cur[1].Sub(cur[0])
	}
	return total
}
