// Package schedule keeps one Temporal Schedule per product, derived from the product's
// declared cadence: `mesh schedules apply` makes Temporal match the declarations
// (create, update, and remove the schedules of products that no longer exist).
package schedule

import (
	"context"
	"errors"
	"sort"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/mesh"
)

// Prefix marks the schedules Meshflow owns; Apply never touches any other.
const Prefix = "meshflow/"

// CatchupWindow is how far back missed runs are caught up after downtime: a product
// run is a full current-state run, so one catch-up run is enough (overlaps are skipped).
const CatchupWindow = 24 * time.Hour

// ID is the schedule id of a product.
func ID(domain, product string) string { return Prefix + domain + "." + product }

// Result says what Apply changed.
type Result struct {
	Created, Updated, Deleted []string
}

// Apply creates or updates one schedule per product of m and deletes Meshflow
// schedules whose product is gone. Applying twice changes nothing the second time but
// the update of each schedule to the same spec.
func Apply(ctx context.Context, c client.Client, m mesh.Mesh) (Result, error) {
	sc := c.ScheduleClient()
	want := map[string]mesh.Entry{}
	for _, e := range m.Products() {
		want[ID(e.Domain.Name, e.Product.Name)] = e
	}
	existing, err := List(ctx, c)
	if err != nil {
		return Result{}, err
	}
	have := map[string]bool{}
	for _, s := range existing {
		have[s.ID] = true
	}
	var res Result
	ids := make([]string, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		e := want[id]
		spec, action := specFor(e), actionFor(e)
		if have[id] {
			h := sc.GetHandle(ctx, id)
			err := h.Update(ctx, client.ScheduleUpdateOptions{DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
				s := in.Description.Schedule
				s.Spec, s.Action = &spec, action
				return &client.ScheduleUpdate{Schedule: &s}, nil
			}})
			if err != nil {
				return res, errs.E(errs.Transient, "update schedule "+id, err)
			}
			res.Updated = append(res.Updated, id)
			continue
		}
		_, err := sc.Create(ctx, client.ScheduleOptions{
			ID: id, Spec: spec, Action: action,
			Overlap:       enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
			CatchupWindow: CatchupWindow,
			Note:          "managed by `mesh schedules apply` from the product's cadence " + e.Product.Cadence,
		})
		var exists *serviceerror.WorkflowExecutionAlreadyStarted
		if errors.As(err, &exists) || errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
			res.Updated = append(res.Updated, id) // created concurrently: it matches already
			continue
		}
		if err != nil {
			return res, errs.E(errs.Transient, "create schedule "+id, err)
		}
		res.Created = append(res.Created, id)
	}
	for _, s := range existing {
		if _, ok := want[s.ID]; ok {
			continue
		}
		if err := sc.GetHandle(ctx, s.ID).Delete(ctx); err != nil {
			var nf *serviceerror.NotFound
			if !errors.As(err, &nf) {
				return res, errs.E(errs.Transient, "delete schedule "+s.ID, err)
			}
		}
		res.Deleted = append(res.Deleted, s.ID)
	}
	return res, nil
}

func specFor(e mesh.Entry) client.ScheduleSpec {
	// Cron in UTC: the mesh's one time zone.
	return client.ScheduleSpec{CronExpressions: []string{e.Product.Cadence}, TimeZoneName: "UTC"}
}

func actionFor(e mesh.Entry) *client.ScheduleWorkflowAction {
	return &client.ScheduleWorkflowAction{
		ID:        flow.WorkflowID(e.Domain.Name, e.Product.Name, ""),
		Workflow:  flow.RunProductWorkflow,
		Args:      []any{flow.RunInput{Domain: e.Domain.Name, Product: e.Product.Name}},
		TaskQueue: e.Domain.TaskQueue(),
		TypedSearchAttributes: temporal.NewSearchAttributes(
			flow.KeyDomain.ValueSet(e.Domain.Name), flow.KeyProduct.ValueSet(e.Product.Name)),
	}
}

// Entry is one Meshflow schedule as Temporal lists it.
type Entry struct {
	ID     string      `json:"id"`
	Cron   []string    `json:"cron"`
	Paused bool        `json:"paused"`
	Note   string      `json:"note,omitempty"`
	Next   []time.Time `json:"next,omitempty"`
}

// List returns Meshflow's schedules, sorted by id.
func List(ctx context.Context, c client.Client) ([]Entry, error) {
	it, err := c.ScheduleClient().List(ctx, client.ScheduleListOptions{PageSize: 500})
	if err != nil {
		return nil, errs.E(errs.Transient, "list schedules", err)
	}
	var out []Entry
	for it.HasNext() {
		s, err := it.Next()
		if err != nil {
			return nil, errs.E(errs.Transient, "list schedules", err)
		}
		if !strings.HasPrefix(s.ID, Prefix) {
			continue
		}
		e := Entry{ID: s.ID, Paused: s.Paused, Note: s.Note, Next: s.NextActionTimes}
		if s.Spec != nil {
			e.Cron = s.Spec.CronExpressions
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Pause stops a product's schedule from starting runs, with a note saying why.
func Pause(ctx context.Context, c client.Client, domain, product, note string) error {
	if err := c.ScheduleClient().GetHandle(ctx, ID(domain, product)).Pause(ctx, client.SchedulePauseOptions{Note: note}); err != nil {
		return notFound(err, domain, product)
	}
	return nil
}

// Unpause lets a product's schedule start runs again.
func Unpause(ctx context.Context, c client.Client, domain, product, note string) error {
	if err := c.ScheduleClient().GetHandle(ctx, ID(domain, product)).Unpause(ctx, client.ScheduleUnpauseOptions{Note: note}); err != nil {
		return notFound(err, domain, product)
	}
	return nil
}

// Paused reports whether a product's schedule is paused.
func Paused(ctx context.Context, c client.Client, domain, product string) (bool, error) {
	d, err := c.ScheduleClient().GetHandle(ctx, ID(domain, product)).Describe(ctx)
	if err != nil {
		return false, notFound(err, domain, product)
	}
	return d.Schedule.State.Paused, nil
}

func notFound(err error, domain, product string) error {
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return errs.Errorf(errs.NotFound, "schedule "+domain+"."+product, "no schedule: run `mesh schedules apply` first")
	}
	return errs.E(errs.Transient, "schedule "+domain+"."+product, err)
}
