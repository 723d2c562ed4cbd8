package flow

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/quality"
)

// Error types of application errors the workflow and activities raise.
const (
	ErrTypeQuotaExhausted = "quota exhausted"
	ErrTypeQualityGate    = "quality gate"
)

// maxQuotaWaits bounds how many times one landing waits out an exhausted quota.
const maxQuotaWaits = 5

// Workflows holds the mesh declarations the workflows read. Declarations are code, so
// reading them inside a workflow is deterministic.
type Workflows struct {
	Mesh mesh.Mesh
}

// RunProduct lands the product's raw inputs (in parallel), runs its model, checks the
// result and publishes a new snapshot of its port unless an Error check failed. A run
// that fails at any step leaves the port's current snapshot as it was.
func (w *Workflows) RunProduct(ctx workflow.Context, in RunInput) (RunResult, error) {
	info := workflow.GetInfo(ctx)
	started := workflow.Now(ctx)
	d, p, err := w.Mesh.Find(in.Domain + "." + in.Product)
	if err != nil {
		return RunResult{}, temporal.NewNonRetryableApplicationError(err.Error(), "invalid", nil)
	}
	// Refused before anything lands: a day of an unpartitioned product would publish
	// the whole product as if it were that day.
	if err := p.ValidatePartition(in.Partition); err != nil {
		return RunResult{}, temporal.NewNonRetryableApplicationError(err.Error(), "invalid", nil)
	}
	progress := Progress{Stage: "landing", Landed: map[string]int64{}}
	if err := workflow.SetQueryHandler(ctx, ProgressQuery, func() (Progress, error) { return progress, nil }); err != nil {
		return RunResult{}, err
	}
	rec := RunRecord{Domain: d.Name, Product: p.Name, WorkflowID: info.WorkflowExecution.ID, RunID: info.WorkflowExecution.RunID,
		Partition: in.Partition, StartedAt: started, Landed: progress.Landed}
	logger := workflow.GetLogger(ctx)

	fail := func(status string, err error) (RunResult, error) {
		progress.Stage, progress.Error = "failed", err.Error()
		rec.Status, rec.Error, rec.FinishedAt = status, err.Error(), workflow.Now(ctx)
		// Best effort: the run's own error is what matters to the caller.
		_ = workflow.ExecuteActivity(recordOptions(ctx), (*Activities).RecordRun, rec).Get(ctx, nil)
		return RunResult{}, err
	}

	// Land every raw input in parallel; each waits out its own quota.
	syncStart := started
	var landings []workflow.Future
	var names []string
	for _, src := range p.Inputs {
		if !src.IsRaw() {
			continue
		}
		li := LandInput{Domain: d.Name, Source: src.Source, Stream: src.Stream, RunID: info.WorkflowExecution.RunID,
			SyncStart: syncStart, Partition: in.Partition, FullRefresh: in.FullRefresh}
		name := src.String()
		names = append(names, name)
		fut, set := workflow.NewFuture(ctx)
		workflow.Go(ctx, func(ctx workflow.Context) {
			out, err := landWithQuotaWaits(ctx, li, &progress)
			if err == nil {
				progress.Landed[name] = out.Rows
			}
			set.Set(out, err)
		})
		landings = append(landings, fut)
	}
	var landErrs []error
	for i, f := range landings {
		if err := f.Get(ctx, nil); err != nil {
			landErrs = append(landErrs, fmt.Errorf("land %s: %w", names[i], err))
		}
	}
	if len(landErrs) > 0 {
		return fail("failed", errors.Join(landErrs...))
	}

	progress.Stage = "transforming"
	// From here on a failed run discards what it staged: nothing will ever publish it.
	staged := StagingKey(d.Name, p.PortName(), rec.RunID)
	failStaged := func(status string, err error) (RunResult, error) {
		discardStaged(ctx, staged)
		return fail(status, err)
	}
	var tr TransformOutput
	if err := workflow.ExecuteActivity(transformOptions(ctx), (*Activities).Transform, TransformInput{Domain: d.Name, Product: p.Name, RunID: rec.RunID, Partition: in.Partition}).Get(ctx, &tr); err != nil {
		return failStaged("failed", fmt.Errorf("transform: %w", err))
	}
	progress.Rows = tr.Rows
	rec.Rows, rec.Watermark = tr.Rows, tr.Watermark

	progress.Stage = "checking"
	var ch CheckOutput
	if err := workflow.ExecuteActivity(shortOptions(ctx), (*Activities).Check, CheckInput{Domain: d.Name, Product: p.Name, StagingKey: tr.StagingKey, Now: workflow.Now(ctx)}).Get(ctx, &ch); err != nil {
		return failStaged("failed", fmt.Errorf("check: %w", err))
	}
	rec.Checks = ch.Results
	if blocking := quality.Blocking(ch.Results); len(blocking) > 0 {
		msgs := make([]string, len(blocking))
		for i, b := range blocking {
			msgs[i] = fmt.Sprintf("%s (%s)", b.Name, b.Message)
		}
		err := temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"quality gate: %d error check(s) failed: %s; nothing was published and the previous snapshot of %s.%s stays current",
			len(blocking), strings.Join(msgs, "; "), d.Name, p.PortName()), ErrTypeQualityGate, nil)
		logger.Warn("quality gate blocked the publish", "product", p.Name, "failed", len(blocking))
		return failStaged("blocked", err)
	}

	progress.Stage = "publishing"
	publishedAt := workflow.Now(ctx)
	var pub PublishOutput
	if err := workflow.ExecuteActivity(shortOptions(ctx), (*Activities).Publish, PublishInput{
		Domain: d.Name, Product: p.Name, RunID: rec.RunID, Partition: in.Partition, StagingKey: tr.StagingKey,
		Results: ch.Results, Watermark: tr.Watermark, PublishedAt: publishedAt, Inputs: tr.Inputs,
	}).Get(ctx, &pub); err != nil {
		return failStaged("failed", fmt.Errorf("publish: %w", err))
	}
	rec.Status, rec.SnapshotID = "published", pub.SnapshotID

	// Legacy majors publish from the same landing until their sunset, so their
	// consumers keep getting fresh data while they move to the new table.
	var legacyErrs []error
	for _, v := range p.Majors()[1:] {
		if !v.PublishesOn(workflow.Now(ctx)) {
			continue
		}
		if in.Partition != "" && v.PartitionBy == "" {
			continue // validated away; defensive
		}
		progress.Stage = "publishing " + v.PortName()
		lr := publishLegacy(ctx, d, v, rec.RunID, in.Partition)
		rec.Legacy = append(rec.Legacy, lr)
		if lr.Error != "" {
			legacyErrs = append(legacyErrs, fmt.Errorf("legacy table %s.%s: %s", d.Name, lr.Table, lr.Error))
		}
	}
	rec.FinishedAt = workflow.Now(ctx)
	if len(legacyErrs) > 0 {
		rec.Error = errors.Join(legacyErrs...).Error()
	}
	_ = workflow.ExecuteActivity(recordOptions(ctx), (*Activities).RecordRun, rec).Get(ctx, nil)
	if len(legacyErrs) > 0 {
		progress.Stage, progress.Error = "failed", rec.Error
		return RunResult{}, fmt.Errorf("published %s.%s (snapshot %d), but not every legacy major: %w", d.Name, p.PortName(), pub.SnapshotID, errors.Join(legacyErrs...))
	}
	progress.Stage = "done"
	return RunResult{Domain: d.Name, Product: p.Name, Table: pub.Table, SnapshotID: pub.SnapshotID, Rows: tr.Rows,
		Landed: progress.Landed, Quality: ch.Status, Watermark: tr.Watermark, PublishedAt: publishedAt, Legacy: rec.Legacy}, nil
}

// publishLegacy computes, checks and publishes one legacy major of a product from the
// raw data the run has just landed. Its failure never touches the current major.
func publishLegacy(ctx workflow.Context, d mesh.Domain, v mesh.Product, runID, partition string) LegacyRun {
	lr := LegacyRun{Table: v.PortName()}
	failed := func(status string, err error) LegacyRun {
		discardStaged(ctx, StagingKey(d.Name, v.PortName(), runID))
		lr.Status, lr.Error = status, err.Error()
		return lr
	}
	major := v.Major()
	var tr TransformOutput
	if err := workflow.ExecuteActivity(transformOptions(ctx), (*Activities).Transform, TransformInput{Domain: d.Name, Product: v.Name, RunID: runID, Partition: partition, Major: major}).Get(ctx, &tr); err != nil {
		return failed("failed", fmt.Errorf("transform: %w", err))
	}
	var ch CheckOutput
	if err := workflow.ExecuteActivity(shortOptions(ctx), (*Activities).Check, CheckInput{Domain: d.Name, Product: v.Name, StagingKey: tr.StagingKey, Now: workflow.Now(ctx), Major: major}).Get(ctx, &ch); err != nil {
		return failed("failed", fmt.Errorf("check: %w", err))
	}
	if blocking := quality.Blocking(ch.Results); len(blocking) > 0 {
		names := make([]string, len(blocking))
		for i, b := range blocking {
			names[i] = b.Name
		}
		return failed("blocked", fmt.Errorf("quality gate: %s failed; its previous snapshot stays current", strings.Join(names, ", ")))
	}
	var pub PublishOutput
	if err := workflow.ExecuteActivity(shortOptions(ctx), (*Activities).Publish, PublishInput{
		Domain: d.Name, Product: v.Name, RunID: runID, Partition: partition, StagingKey: tr.StagingKey,
		Results: ch.Results, Watermark: tr.Watermark, PublishedAt: workflow.Now(ctx), Inputs: tr.Inputs, Major: major,
	}).Get(ctx, &pub); err != nil {
		return failed("failed", fmt.Errorf("publish: %w", err))
	}
	lr.Status, lr.SnapshotID, lr.Rows = "published", pub.SnapshotID, pub.Rows
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
// quota with a reset time, sleeps on a durable timer until then and tries again.
func landWithQuotaWaits(ctx workflow.Context, in LandInput, progress *Progress) (LandOutput, error) {
	var out LandOutput
	for waits := 0; ; waits++ {
		err := workflow.ExecuteActivity(landOptions(ctx), (*Activities).Land, in).Get(ctx, &out)
		if err == nil {
			return out, nil
		}
		var app *temporal.ApplicationError
		if !errors.As(err, &app) || app.Type() != ErrTypeQuotaExhausted || waits >= maxQuotaWaits {
			return out, err
		}
		var until time.Time
		if derr := app.Details(&until); derr != nil || until.IsZero() {
			return out, err
		}
		wait := until.Sub(workflow.Now(ctx))
		if wait > 0 {
			progress.Stage, progress.Until = "waiting for quota", until
			workflow.GetLogger(ctx).Info("quota exhausted; waiting", "source", in.Source, "until", until)
			if err := workflow.Sleep(ctx, wait); err != nil {
				return out, err
			}
			progress.Stage, progress.Until = "landing", time.Time{}
		}
	}
}

var nonRetryable = []string{"invalid", "permission", "not found", ErrTypeQuotaExhausted, "canceled"}

// Every activity heartbeats (see keepAlive): a worker killed mid-activity costs its
// run heartbeatTimeout, not the activity's StartToCloseTimeout.

func landOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Hour,
		HeartbeatTimeout:    heartbeatTimeout,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 5 * time.Second, BackoffCoefficient: 2, MaximumInterval: 5 * time.Minute, MaximumAttempts: 5, NonRetryableErrorTypes: nonRetryable},
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
