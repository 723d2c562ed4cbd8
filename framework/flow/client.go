package flow

import (
	"context"
	"errors"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
)

// Search attribute keys, typed.
var (
	KeyDomain    = temporal.NewSearchAttributeKeyKeyword(AttrDomain)
	KeyProduct   = temporal.NewSearchAttributeKeyKeyword(AttrProduct)
	KeyPartition = temporal.NewSearchAttributeKeyKeyword(AttrPartition)
	KeyBackfill  = temporal.NewSearchAttributeKeyKeyword(AttrBackfill)
	KeyTrigger   = temporal.NewSearchAttributeKeyKeyword(AttrTrigger)
)

// WorkflowID is the deterministic, readable id of a product run: <domain>.<product>/<partition>,
// with "current" for an unpartitioned run.
func WorkflowID(domain, product, partition string) string {
	if partition == "" {
		partition = "current"
	}
	return domain + "." + product + "/" + partition
}

// StartRun starts RunProduct on the product's domain queue. Re-running a finished id is
// allowed; starting one that is still running is refused by Temporal.
func StartRun(ctx context.Context, c client.Client, d mesh.Domain, p mesh.Product, in RunInput) (client.WorkflowRun, error) {
	in.Domain, in.Product = d.Name, p.Name
	// The workflow refuses it too; refusing here says why without a failed run.
	if err := p.ValidatePartition(in.Partition); err != nil {
		return nil, err
	}
	if in.TriggerKind == "" {
		in.TriggerKind = TriggerManual
	}
	attrs := []temporal.SearchAttributeUpdate{KeyDomain.ValueSet(d.Name), KeyProduct.ValueSet(p.Name), KeyTrigger.ValueSet(in.TriggerKind)}
	if in.Partition != "" {
		attrs = append(attrs, KeyPartition.ValueSet(in.Partition))
	}
	id := WorkflowID(d.Name, p.Name, in.Partition)
	if in.Branch != "" {
		if err := port.ValidateBranch(in.Branch); err != nil {
			return nil, err
		}
		// A preview runs beside the product's main run, not instead of it.
		id += "@" + in.Branch
	}
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                d.TaskQueue(),
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		// Without it the SDK hands back the run already going on, and the caller would
		// believe it started one with its own options (a full refresh, say).
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes:                    temporal.NewSearchAttributes(attrs...),
	}, RunProductWorkflow, in)
	return run, alreadyRunning(ctx, c, "run "+d.Name+"."+p.Name, id, err)
}

// alreadyRunning turns Temporal's "already started" into a conflict that names the
// running run and what to do; other errors pass through.
func alreadyRunning(ctx context.Context, c client.Client, op, id string, err error) error {
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if !errors.As(err, &started) {
		return err
	}
	since := ""
	if desc, derr := c.DescribeWorkflowExecution(ctx, id, started.RunId); derr == nil {
		if t := desc.GetWorkflowExecutionInfo().GetStartTime(); t != nil {
			since = ", started " + t.AsTime().UTC().Format(time.RFC3339)
		}
	}
	return errs.Errorf(errs.Conflict, op, "%s is already running (run %s%s): nothing new was started; wait for it (temporal workflow show -w %s), or cancel it (temporal workflow cancel -w %s) and start again",
		id, started.RunId, since, id, id)
}

// Register puts the workflows and activities on a domain's worker: the framework's,
// then the domain's own (mesh.Domain.Register).
func Register(w worker.Registry, wf *Workflows, acts *Activities, d mesh.Domain) {
	w.RegisterWorkflowWithOptions(wf.RunProduct, workflow.RegisterOptions{Name: RunProductWorkflow})
	w.RegisterWorkflowWithOptions(wf.Backfill, workflow.RegisterOptions{Name: BackfillWorkflow})
	w.RegisterWorkflowWithOptions(wf.TriggerProduct, workflow.RegisterOptions{Name: TriggerWorkflow})
	w.RegisterWorkflowWithOptions(wf.MaintainTable, workflow.RegisterOptions{Name: MaintainWorkflow})
	w.RegisterWorkflowWithOptions(wf.MaintainStream, workflow.RegisterOptions{Name: MaintainStreamWorkflow})
	w.RegisterActivity(acts)
	if d.Register != nil {
		d.Register(domainRegistry{Registry: w, acts: acts})
	}
}

// domainRegistry is what a domain's Register receives: its worker, and the
// framework's activities for its own to build on (Framework).
type domainRegistry struct {
	worker.Registry
	acts *Activities
}

// Framework returns the framework's activities on the worker a domain registers on —
// their lake, port catalog and connectors — for the domain's own activities to use,
// and its workflows to call by method ((*Activities).Publish, …).
func Framework(r mesh.Registry) (*Activities, bool) {
	dr, ok := r.(domainRegistry)
	return dr.acts, ok
}

// Explain returns the message of the innermost application error in err — the one an
// activity or workflow raised — without the layers Temporal wraps around it.
func Explain(err error) string {
	if err == nil {
		return ""
	}
	msg := err.Error()
	for err != nil {
		var app *temporal.ApplicationError
		if !errors.As(err, &app) {
			break
		}
		msg = app.Message()
		err = app.Unwrap()
	}
	return msg
}
