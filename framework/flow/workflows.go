package flow

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/quality"
	"github.com/meshflow/meshflow/framework/telemetry"
)

// Error types of application errors the workflow and activities raise.
const (
	ErrTypeQuotaExhausted = "quota exhausted"
	ErrTypeQualityGate    = "quality gate"
	// ErrTypeInterrupted: an activity attempt stopped without the workflow asking (a
	// late heartbeat, a stopping worker); it is retried from its last checkpoint.
	ErrTypeInterrupted = "interrupted"
)

// Statuses of a run record.
const (
	StatusPublished = "published" // a new snapshot
	StatusUnchanged = "unchanged" // the same rows as the current snapshot: no new snapshot, freshness refreshed
	StatusBlocked   = "blocked"   // an Error check failed; nothing published
	StatusFailed    = "failed"
)

// maxQuotaWaits bounds how many times one landing waits out an exhausted quota.
const maxQuotaWaits = 5

// Workflows are the workflow functions a domain's worker registers. Mesh is read
// only to replay runs started before plans existed (see legacyPlan): a run resolves
// its plan once, at its start, and decides from it alone, so a deploy that changes a
// declaration never changes a run in flight.
type Workflows struct {
	Mesh mesh.Mesh
}

// RunProduct lands the product's raw inputs (in parallel), runs its model, checks the
// result and publishes a new snapshot of its port unless an Error check failed. A run
// that fails at any step leaves the port's current snapshot as it was.
func (w *Workflows) RunProduct(ctx workflow.Context, in RunInput) (RunResult, error) {
	info := workflow.GetInfo(ctx)
	started := workflow.Now(ctx)
	plan, err := runPlan(ctx, w.Mesh, in)
	if err != nil {
		return RunResult{}, err
	}
	current := plan.Majors[0]
	progress := Progress{Stage: "landing", Landed: map[string]int64{}}
	if err := workflow.SetQueryHandler(ctx, ProgressQuery, func() (Progress, error) { return progress, nil }); err != nil {
		return RunResult{}, err
	}
	rec := RunRecord{Domain: plan.Domain, Product: plan.Product, WorkflowID: info.WorkflowExecution.ID, RunID: info.WorkflowExecution.RunID,
		Partition: in.Partition, StartedAt: started, Landed: progress.Landed, Version: plan.Version, Branch: in.Branch, Trigger: in.Trigger}
	if rec.Trigger == "" {
		rec.Trigger = in.TriggerKind
	}
	// However the run ends, it tells the OpenLineage receiver (when one is configured).
	endLineage := startLineage(ctx, plan, rec)
	defer func() { endLineage(rec) }()
	logger := workflow.GetLogger(ctx)
	var quotaWaited time.Duration // summed by the landings (workflow goroutines take turns)

	fail := func(status string, err error) (RunResult, error) {
		progress.Stage, progress.Error = "failed", err.Error()
		rec.Status, rec.Error, rec.FinishedAt = status, err.Error(), workflow.Now(ctx)
		// Best effort: the run's own error is what matters to the caller.
		finishRun(ctx, rec, quotaWaited, in.CallerRuns)
		return RunResult{}, err
	}

	// Land every raw input in parallel; each waits out its own quota.
	local := localDay(ctx, in)
	syncStart := started
	var landings []workflow.Future
	var names []string
	for _, src := range plan.Raw {
		li := LandInput{Domain: plan.Domain, Source: src.Source, Stream: src.Stream, RunID: info.WorkflowExecution.RunID,
			SyncStart: syncStart, Partition: in.Partition, FullRefresh: in.FullRefresh}
		name := src.String()
		names = append(names, name)
		fut, set := workflow.NewFuture(ctx)
		workflow.Go(ctx, func(ctx workflow.Context) {
			out, err := landWithQuotaWaits(ctx, local, li, &progress, &quotaWaited)
			if err == nil {
				progress.Landed[name] = out.Rows
			}
			set.Set(out, err)
		})
		landings = append(landings, fut)
	}
	var landErrs []error
	var landWarnings []string // in the plan's order of inputs, whichever landing ended first
	for i, f := range landings {
		var out LandOutput
		if err := f.Get(ctx, &out); err != nil {
			landErrs = append(landErrs, stepError{"land " + names[i], err})
		}
		for _, w := range out.Warnings {
			landWarnings = append(landWarnings, "land "+names[i]+": "+w)
		}
	}
	if len(landErrs) > 0 {
		return fail(StatusFailed, errors.Join(landErrs...))
	}

	progress.Stage = "transforming"
	// From here on a failed run discards what it staged: nothing will ever publish it.
	staged := StagingKey(plan.Domain, current.Table, rec.RunID)
	failStaged := func(status string, err error) (RunResult, error) {
		discardStaged(ctx, staged)
		return fail(status, err)
	}
	var tr TransformOutput
	var ch CheckOutput
	var pub PublishOutput
	var publishedAt time.Time
	transformIn := TransformInput{Domain: plan.Domain, Product: plan.Product, RunID: rec.RunID, Partition: in.Partition, Decl: current.Decl, Branch: in.Branch,
		FullRefresh: in.FullRefresh}
	// A day's run computes, checks and publishes in one activity (see produceDay).
	produced := in.Partition != "" && workflow.GetVersion(ctx, produceDay, workflow.DefaultVersion, 1) != workflow.DefaultVersion
	if produced {
		publishedAt = workflow.Now(ctx)
		var out ProduceOutput
		if err := dayStep(ctx, local, produceOptions, produceActivity, "", ProduceInput{Transform: transformIn, Now: publishedAt, PublishedAt: publishedAt}, &out); err != nil {
			return failStaged(StatusFailed, stepError{"", err})
		}
		tr, ch, pub = out.Transform, out.Check, out.Publish
	} else if err := workflow.ExecuteActivity(transformOptions(ctx), (*Activities).Transform, transformIn).Get(ctx, &tr); err != nil {
		return failStaged(StatusFailed, stepError{"transform", err})
	}
	progress.Rows = tr.Rows
	// What the landings left out comes first: it is why the rows may be fewer.
	tr.Warnings = append(landWarnings, tr.Warnings...)
	rec.Rows, rec.Watermark, rec.Warnings = tr.Rows, tr.Watermark, tr.Warnings
	rec.Incremental = tr.Incremental.Text()

	progress.Stage = "checking"
	if !produced {
		if err := workflow.ExecuteActivity(shortOptions(ctx), (*Activities).Check, CheckInput{Domain: plan.Domain, Product: plan.Product, StagingKey: tr.StagingKey, Now: workflow.Now(ctx), Decl: current.Decl,
			RunID: rec.RunID, Partition: in.Partition, Incremental: tr.Incremental}).Get(ctx, &ch); err != nil {
			return failStaged(StatusFailed, stepError{"check", err})
		}
	}
	rec.Checks = ch.Results
	if blocking := quality.Blocking(ch.Results); len(blocking) > 0 {
		msgs := make([]string, len(blocking))
		for i, b := range blocking {
			msgs[i] = fmt.Sprintf("%s (%s)", b.Name, b.Message)
		}
		kept := fmt.Sprintf("the previous snapshot of %s.%s stays current", plan.Domain, current.Table)
		if in.Branch != "" {
			kept = fmt.Sprintf("branch %s of %s.%s stays as it was", in.Branch, plan.Domain, current.Table)
		}
		err := temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"quality gate: %d error check(s) failed: %s; nothing was published and %s",
			len(blocking), strings.Join(msgs, "; "), kept), ErrTypeQualityGate, nil)
		logger.Warn("quality gate blocked the publish", "product", plan.Product, "failed", len(blocking))
		return failStaged(StatusBlocked, err)
	}

	progress.Stage = "publishing"
	if !produced {
		publishedAt = workflow.Now(ctx)
		if err := workflow.ExecuteActivity(shortOptions(ctx), (*Activities).Publish, PublishInput{
			Domain: plan.Domain, Product: plan.Product, RunID: rec.RunID, Partition: in.Partition, StagingKey: tr.StagingKey,
			Results: ch.Results, Watermark: tr.Watermark, PublishedAt: publishedAt, Inputs: tr.Inputs, Decl: current.Decl, RowsHash: tr.RowsHash,
			Branch: in.Branch, Incremental: tr.Incremental,
		}).Get(ctx, &pub); err != nil {
			return failStaged(StatusFailed, stepError{"publish", err})
		}
	}
	tr.Warnings = append(tr.Warnings, pub.Warnings...)
	rec.Warnings = tr.Warnings
	rec.Status, rec.SnapshotID = StatusPublished, pub.SnapshotID
	if pub.Unchanged {
		rec.Status = StatusUnchanged
	}

	// Legacy majors publish from the same landing until their sunset, so their
	// consumers keep getting fresh data while they move to the new table.
	var legacyErrs []error
	for _, v := range plan.Majors[1:] {
		if !v.PublishesOn(workflow.Now(ctx)) {
			continue
		}
		if in.Partition != "" && v.PartitionBy == "" {
			continue // validated away; defensive
		}
		if in.Branch != "" {
			tr.Warnings = append(tr.Warnings, fmt.Sprintf("legacy table %s.%s is not published on branch %s: a preview is of the current major", plan.Domain, v.Table, in.Branch))
			rec.Warnings = tr.Warnings
			continue
		}
		progress.Stage = "publishing " + v.Table
		lr := publishLegacy(ctx, plan, v, rec.RunID, in.Partition)
		rec.Legacy = append(rec.Legacy, lr)
		if lr.Error != "" {
			legacyErrs = append(legacyErrs, fmt.Errorf("legacy table %s.%s: %s", plan.Domain, lr.Table, lr.Error))
		}
	}
	rec.FinishedAt = workflow.Now(ctx)
	if len(legacyErrs) > 0 {
		rec.Error = errors.Join(legacyErrs...).Error()
	}
	finishRun(ctx, rec, quotaWaited, in.CallerRuns)
	if len(legacyErrs) > 0 {
		progress.Stage, progress.Error = "failed", rec.Error
		return RunResult{}, fmt.Errorf("published %s.%s (snapshot %d), but not every legacy major: %w", plan.Domain, current.Table, pub.SnapshotID, errors.Join(legacyErrs...))
	}
	progress.Stage = "done"
	return RunResult{Domain: plan.Domain, Product: plan.Product, Table: pub.Table, SnapshotID: pub.SnapshotID, Rows: tr.Rows,
		Landed: progress.Landed, Quality: ch.Status, Watermark: tr.Watermark, PublishedAt: publishedAt, Legacy: rec.Legacy,
		Unchanged: pub.Unchanged, Warnings: tr.Warnings, Branch: in.Branch, Incremental: rec.Incremental}, nil
}

// stepError is a run's step that failed. Its text is the step and the innermost
// message (no "activity error (type: …, scheduledEventID: …)" layers), which is what the
// run's failure, a backfill's day and the run record say; it unwraps to the whole
// error, so a cancel or a timeout is still recognised as one.
type stepError struct {
	step string
	err  error
}

func (e stepError) Error() string {
	if e.step == "" {
		return Explain(e.err) // Produce names the step in its error
	}
	return e.step + ": " + Explain(e.err)
}
func (e stepError) Unwrap() error { return e.err }

// runPlan resolves the run's plan once, at its start, through the ResolvePlan local
// activity, whose result the history keeps. Runs started before plans existed replay
// through legacyPlan.
func runPlan(ctx workflow.Context, m mesh.Mesh, in RunInput) (Plan, error) {
	if workflow.GetVersion(ctx, planVersion, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		plan, err := legacyPlan(m, in)
		if err != nil {
			return Plan{}, temporal.NewNonRetryableApplicationError(err.Error(), "invalid", nil)
		}
		return plan, nil
	}
	if in.Plan != nil {
		return *in.Plan, nil
	}
	var a *Activities
	var plan Plan
	err := workflow.ExecuteLocalActivity(planOptions(ctx), a.ResolvePlan, in).Get(ctx, &plan)
	return plan, err
}

// publishLegacy computes, checks and publishes one legacy major of a product from the
// raw data the run has just landed. Its failure never touches the current major.
func publishLegacy(ctx workflow.Context, plan Plan, v PlannedMajor, runID, partition string) LegacyRun {
	lr := LegacyRun{Table: v.Table}
	failed := func(status string, err error) LegacyRun {
		discardStaged(ctx, StagingKey(plan.Domain, v.Table, runID))
		lr.Status, lr.Error = status, err.Error()
		return lr
	}
	var tr TransformOutput
	if err := workflow.ExecuteActivity(transformOptions(ctx), (*Activities).Transform, TransformInput{Domain: plan.Domain, Product: plan.Product, RunID: runID, Partition: partition, Major: v.Major, Decl: v.Decl}).Get(ctx, &tr); err != nil {
		return failed(StatusFailed, stepError{"transform", err})
	}
	var ch CheckOutput
	if err := workflow.ExecuteActivity(shortOptions(ctx), (*Activities).Check, CheckInput{Domain: plan.Domain, Product: plan.Product, StagingKey: tr.StagingKey, Now: workflow.Now(ctx), Major: v.Major, Decl: v.Decl}).Get(ctx, &ch); err != nil {
		return failed(StatusFailed, stepError{"check", err})
	}
	if blocking := quality.Blocking(ch.Results); len(blocking) > 0 {
		names := make([]string, len(blocking))
		for i, b := range blocking {
			names[i] = b.Name
		}
		return failed(StatusBlocked, fmt.Errorf("quality gate: %s failed; its previous snapshot stays current", strings.Join(names, ", ")))
	}
	var pub PublishOutput
	if err := workflow.ExecuteActivity(shortOptions(ctx), (*Activities).Publish, PublishInput{
		Domain: plan.Domain, Product: plan.Product, RunID: runID, Partition: partition, StagingKey: tr.StagingKey,
		Results: ch.Results, Watermark: tr.Watermark, PublishedAt: workflow.Now(ctx), Inputs: tr.Inputs, Major: v.Major, Decl: v.Decl, RowsHash: tr.RowsHash,
	}).Get(ctx, &pub); err != nil {
		return failed(StatusFailed, stepError{"publish", err})
	}
	lr.Status, lr.SnapshotID, lr.Rows = StatusPublished, pub.SnapshotID, pub.Rows
	if pub.Unchanged {
		lr.Status = StatusUnchanged
	}
	return lr
}

// discardStaged deletes a failed run's staged model output, best effort: a file left
// behind is garbage, never data (only Publish reads it, and only for its own run).
func discardStaged(ctx workflow.Context, key string) {
	// Histories of runs that failed before this step existed replay without it.
	if workflow.GetVersion(ctx, "discard-staged", workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return
	}
	_ = workflow.ExecuteActivity(recordOptions(ctx), (*Activities).DiscardStaged, key).Get(ctx, nil)
}

// landWithQuotaWaits runs the Land activity and, when the source reports an exhausted
// quota with a reset time, sleeps on a durable timer until then and tries again from
// what the stopped landing had already made durable.
func landWithQuotaWaits(ctx workflow.Context, local bool, in LandInput, progress *Progress, waited *time.Duration) (LandOutput, error) {
	var out LandOutput
	for waits := 0; ; waits++ {
		err := dayStep(ctx, local, landOptions, landActivity, in.Source+"."+in.Stream, in, &out)
		if err == nil {
			return out, nil
		}
		var app *temporal.ApplicationError
		if !errors.As(err, &app) || app.Type() != ErrTypeQuotaExhausted || waits >= maxQuotaWaits {
			return out, err
		}
		// Details: the reset time, the stopped landing's checkpoint and the limit's name
		// (older activities sent fewer; missing ones stay zero).
		var until time.Time
		var resume lake.Checkpoint
		var limit string
		if derr := app.Details(&until, &resume, &limit); derr != nil {
			// A local activity's error keeps its details as values, which must be read
			// exactly as many as were sent: the reset time alone, then.
			if app.Details(&until) != nil {
				return out, err
			}
		}
		if until.IsZero() {
			return out, err
		}
		if len(resume.Files) > 0 || len(resume.Cursor) > 0 {
			in.Resume = &resume
		}
		wait := until.Sub(workflow.Now(ctx))
		if wait > 0 {
			progress.Stage, progress.Until, progress.Waiting = "waiting for quota", until, limit
			workflow.GetLogger(ctx).Info("quota exhausted; waiting", "source", in.Source, "limit", limit, "until", until)
			if err := workflow.Sleep(ctx, wait); err != nil {
				return out, err
			}
			*waited += wait
			workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"domain": in.Domain, "source": in.Source, "stream": in.Stream}).
				Timer(telemetry.QuotaWait).Record(wait)
			progress.Stage, progress.Until, progress.Waiting = "landing", time.Time{}, ""
		}
	}
}

var nonRetryable = []string{"invalid", "permission", "not found", ErrTypeQuotaExhausted}

// Every activity heartbeats (see keepAlive): a worker killed mid-activity costs its
// run heartbeatTimeout, not the activity's StartToCloseTimeout.

// landOptions let a landing run as long as the source's limits make it (a first sync
// paced by the vendor can take hours): the heartbeat, not a fixed deadline, says
// whether it is alive, and a retried attempt resumes from its last checkpoint.
func landOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: maxLanding,
		HeartbeatTimeout:    heartbeatTimeout,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 5 * time.Second, BackoffCoefficient: 2, MaximumInterval: 5 * time.Minute, MaximumAttempts: 5, NonRetryableErrorTypes: nonRetryable},
	})
}

// maxLanding only bounds a landing whose heartbeats keep coming while it makes no
// progress at all (a bug, not a slow source).
const maxLanding = 7 * 24 * time.Hour

// planOptions run ResolvePlan: declarations are in memory, and one small object is
// written to the lake.
func planOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		ScheduleToCloseTimeout: 2 * time.Minute,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 5, NonRetryableErrorTypes: nonRetryable},
	})
}

func transformOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Hour,
		HeartbeatTimeout:    heartbeatTimeout,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 5 * time.Second, MaximumAttempts: 3, NonRetryableErrorTypes: nonRetryable},
	})
}

func shortOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 15 * time.Minute,
		HeartbeatTimeout:    heartbeatTimeout,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 5, NonRetryableErrorTypes: nonRetryable},
	})
}

func recordOptions(ctx workflow.Context) workflow.Context {
	// A run record must be written even when the workflow context was canceled.
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		HeartbeatTimeout:    heartbeatTimeout,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 3},
	})
}
