package flow

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/meshflow/meshflow/framework/quality"
)

// produceDay is the change that has a day's run (a partition) compute, check and
// publish in one activity, Produce, instead of three. A day of a partitioned product
// is small and there are many (a backfill runs hundreds): the round trips through the
// server between its steps cost about as much as the steps. Repeating a day's
// transform when a retry of its publish needs it costs little, while a whole
// product's transform can take an hour: its steps stay apart, each retried alone.
// Histories from before replay a day's steps as three activities.
const produceDay = "produce-day"

// produceActivity is the registered name of Produce.
const produceActivity = "Produce"

// ProduceInput is a day's transform, and what its checks and publish need besides
// what the transform returns.
type ProduceInput struct {
	Transform   TransformInput
	Now         time.Time // the checks' now (CheckInput.Now)
	PublishedAt time.Time // PublishInput.PublishedAt
}

// ProduceOutput is what each step returned. Published is false when an Error check
// failed: nothing was published, and the staged model is left for the workflow to
// discard, as after a Check activity.
type ProduceOutput struct {
	Transform TransformOutput
	Check     CheckOutput
	Published bool
	Publish   PublishOutput
}

// Produce runs Transform, Check and, unless an Error check failed, Publish, as the
// workflow would run them one after the other. A retried attempt starts over from
// the transform; Publish finds the snapshot an earlier attempt committed, so a day is
// never published twice. A step's error says which step failed.
func (a *Activities) Produce(ctx context.Context, in ProduceInput) (ProduceOutput, error) {
	defer keepAlive(ctx, heartbeatEvery).stop()
	var out ProduceOutput
	t := in.Transform
	tr, err := a.Transform(ctx, t)
	if err != nil {
		return out, inStep(ctx, "transform", err)
	}
	out.Transform = tr
	ch, err := a.Check(ctx, CheckInput{Domain: t.Domain, Product: t.Product, StagingKey: tr.StagingKey, Now: in.Now, Major: t.Major, Decl: t.Decl,
		RunID: t.RunID, Partition: t.Partition, Incremental: tr.Incremental})
	if err != nil {
		return out, inStep(ctx, "check", err)
	}
	out.Check = ch
	if len(quality.Blocking(ch.Results)) > 0 {
		return out, nil
	}
	pub, err := a.Publish(ctx, PublishInput{
		Domain: t.Domain, Product: t.Product, RunID: t.RunID, Partition: t.Partition, StagingKey: tr.StagingKey,
		Results: ch.Results, Watermark: tr.Watermark, PublishedAt: in.PublishedAt, Inputs: tr.Inputs, Major: t.Major, Decl: t.Decl, RowsHash: tr.RowsHash,
		Branch: t.Branch, Incremental: tr.Incremental,
	})
	if err != nil {
		return out, inStep(ctx, "publish", err)
	}
	out.Published, out.Publish = true, pub
	return out, nil
}

// inStep prefixes a step's error with the step, keeping its type, whether it may be
// retried and its details, as the workflow's stepError says it for a step of its own.
// A canceled attempt's error is returned as it is, so the SDK reports the cancel.
func inStep(ctx context.Context, step string, err error) error {
	if ctx.Err() != nil && temporal.IsCanceledError(context.Cause(ctx)) {
		return err
	}
	msg := step + ": " + Explain(err)
	var app *temporal.ApplicationError
	if !errors.As(err, &app) {
		return temporal.NewApplicationError(msg, "internal")
	}
	return temporal.NewApplicationErrorWithOptions(msg, app.Type(), temporal.ApplicationErrorOptions{NonRetryable: app.NonRetryable()})
}

// produceOptions: a day's steps together, retried like a publish (a lost commit race
// is worth another attempt) within a transform's time.
func produceOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Hour,
		HeartbeatTimeout:    heartbeatTimeout,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumAttempts: 5, NonRetryableErrorTypes: nonRetryable},
	})
}
