package main

import (
	"context"
	"io"
	"testing"

	"go.temporal.io/sdk/client"

	"github.com/meshflow/meshflow/framework/flow"
)

// lateRun is a run whose Get writes its result as the wait is given up: what the SDK
// may do with a result that arrives as the caller's context ends.
type lateRun struct {
	client.WorkflowRun
	wrote chan struct{}
}

func (r lateRun) GetID() string    { return "marketing.crm_contacts/current" }
func (r lateRun) GetRunID() string { return "run-1" }

func (r lateRun) Get(ctx context.Context, v any) error {
	defer close(r.wrote)
	<-ctx.Done()
	*v.(*flow.RunResult) = flow.RunResult{Rows: 42}
	return ctx.Err()
}

// Ctrl-C returns at once with no result, while the run's Get may still be writing its
// own: under -race the two must not share memory.
func TestWaitInterruptedReturnsNoResult(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // Ctrl-C before the run ends
	run := lateRun{wrote: make(chan struct{})}
	res, err := waitWithProgress(ctx, nil, run, io.Discard)
	<-run.wrote
	if err != context.Canceled || res.Rows != 0 {
		t.Fatalf("interrupted wait = %+v, %v; want no result and the context's error", res, err)
	}
}
