// Package schedule keeps the Temporal Schedules derived from the mesh: one per product
// run on its declared cadence, and one nightly table maintenance per port table
// (flow.MaintainTable). `mesh schedules apply` makes Temporal match the declarations
// (create, update, and remove the schedules of products and tables that no longer exist).
package schedule

import (
	"context"
	"errors"
	"fmt"
	"slices"
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

// MaintainID is the schedule id of a port table's maintenance:
// meshflow/maintain/<domain>.<table>, after the workflow it starts (flow.MaintainID).
func MaintainID(domain, table string) string { return Prefix + flow.MaintainID(domain, table) }

// MaintainCadence is when every port table is maintained (cron, in TimeZone): nightly,
// outside the hours products are usually scheduled (on the hour, mornings), so
// compaction and expiry rarely meet a publish; when they do, the commit retries on the
// published table (port's commit loop) rather than failing either side.
const MaintainCadence = "17 2 * * *"

// TimeZone is the zone every schedule's cron runs in: the mesh's one time zone.
const TimeZone = "UTC"

// Result says what Apply changed.
type Result struct {
	Created, Updated, Deleted []string
}

// String lists what was changed, e.g. "created meshflow/a, meshflow/b; updated none; deleted none".
func (r Result) String() string {
	list := func(ids []string) string {
		if len(ids) == 0 {
			return "none"
		}
		return strings.Join(ids, ", ")
	}
	return "created " + list(r.Created) + "; updated " + list(r.Updated) + "; deleted " + list(r.Deleted)
}

// Validate checks everything Apply would send Temporal before anything is sent: every
// declaration of m (names, and each cadence field by field) and the schedules' time
// zone. Its error names the product and field, and the fix.
func Validate(m mesh.Mesh) error {
	if err := m.Validate(); err != nil {
		return err
	}
	if _, err := time.LoadLocation(TimeZone); err != nil {
		return errs.Errorf(errs.Invalid, "schedules apply", "the schedules' time zone %s is not in this machine's time zone database: %v", TimeZone, err)
	}
	return nil
}

// Apply creates or updates one schedule per product of m and deletes Meshflow
// schedules whose product is gone, once Validate passed. Applying twice changes
// nothing the second time but the update of each schedule to the same spec. When
// Temporal refuses a schedule, Apply stops there: its error names the product, the
// field Temporal refused and what had already been applied (also in the Result).
func Apply(ctx context.Context, c client.Client, m mesh.Mesh) (Result, error) {
	if err := Validate(m); err != nil {
		return Result{}, err
	}
	sc := c.ScheduleClient()
	wanted := Derive(m, time.Now())
	want := map[string]bool{}
	for _, w := range wanted {
		want[w.ID] = true
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
	for _, w := range wanted {
		id, spec, action := w.ID, w.spec(), w.Action
		if have[id] {
			h := sc.GetHandle(ctx, id)
			err := h.Update(ctx, client.ScheduleUpdateOptions{DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
				s := in.Description.Schedule
				s.Spec, s.Action = &spec, action
				return &client.ScheduleUpdate{Schedule: &s}, nil
			}})
			if err != nil {
				return res, refused(res, "update", id, &w, err)
			}
			res.Updated = append(res.Updated, id)
			continue
		}
		_, err := sc.Create(ctx, client.ScheduleOptions{
			ID: id, Spec: spec, Action: action,
			Overlap:       enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
			CatchupWindow: CatchupWindow,
			Note:          w.Note,
		})
		var exists *serviceerror.WorkflowExecutionAlreadyStarted
		if errors.As(err, &exists) || errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
			res.Updated = append(res.Updated, id) // created concurrently: it matches already
			continue
		}
		if err != nil {
			return res, refused(res, "create", id, &w, err)
		}
		res.Created = append(res.Created, id)
	}
	for _, s := range existing {
		if want[s.ID] {
			continue
		}
		if err := sc.GetHandle(ctx, s.ID).Delete(ctx); err != nil {
			var nf *serviceerror.NotFound
			if !errors.As(err, &nf) {
				return res, refused(res, "delete", s.ID, nil, err)
			}
		}
		res.Deleted = append(res.Deleted, s.ID)
	}
	return res, nil
}

// refused is the error of a schedule Temporal would not create, update or delete (w
// is what it was derived from; nil for a schedule whose product is gone): which
// product or table, which of its fields Temporal named, Temporal's own words, and
// what Apply had done before.
func refused(done Result, verb, id string, w *Wanted, err error) error {
	what := id + " (its product is no longer declared)"
	field := ""
	if w != nil {
		e := w.Entry
		what = "product " + e.Ref().String() + " (" + id + ")"
		cadence := fmt.Sprintf("its Cadence %q (cron, in %s)", e.Product.Cadence, TimeZone)
		if w.Table != "" || w.Stream != "" {
			what = "the maintenance of table " + w.Table + " of product " + e.Ref().String() + " (" + id + ")"
			if w.Stream != "" {
				what = "the maintenance of raw stream " + w.Stream + " (" + id + ")"
			}
			cadence = fmt.Sprintf("the maintenance cadence %q (schedule.MaintainCadence, cron, in %s)", w.Cron, TimeZone)
		}
		msg := strings.ToLower(err.Error())
		switch {
		case strings.Contains(msg, "search attribute"):
			field = "its search attributes " + flow.AttrDomain + ", " + flow.AttrProduct + " and " + flow.AttrTrigger + " (`mesh doctor` checks they exist)"
		case strings.Contains(msg, "time zone") || strings.Contains(msg, "timezone"):
			field = "its time zone " + TimeZone
		case strings.Contains(msg, "cron") || strings.Contains(msg, "calendar") || strings.Contains(msg, "spec"):
			field = cadence
		case strings.Contains(msg, "task queue"):
			field = "its task queue " + e.Domain.TaskQueue()
		}
	}
	if field != "" {
		field = ", refusing " + field
	}
	kind := errs.Transient
	var invalid *serviceerror.InvalidArgument
	if errors.As(err, &invalid) {
		kind = errs.Invalid
	}
	return errs.Errorf(kind, "schedules apply", "Temporal would not %s the schedule of %s%s: %v; already applied: %s; nothing after it was applied: fix it and run `mesh schedules apply` again (it is idempotent)",
		verb, what, field, err, done)
}

// Wanted is one schedule the mesh asks for: a product's runs on its cadence, or the
// nightly maintenance of one of its port tables.
type Wanted struct {
	ID     string
	Entry  mesh.Entry // the product
	Table  string     // the port table maintained (domain.table); "" for a product's runs
	Stream string     // the raw stream maintained (domain/source.stream), its Entry the domain alone
	Cron   string
	Action *client.ScheduleWorkflowAction
	Note   string
}

func (w Wanted) spec() client.ScheduleSpec {
	return client.ScheduleSpec{CronExpressions: []string{w.Cron}, TimeZoneName: TimeZone}
}

// Derive derives every schedule of m at now: first the runs of each product on a
// cadence (the others run when their inputs publish), then the maintenance of each
// port table still published (flow.MaintainedMajors: the current major and the legacy
// ones before their sunset) and of each raw stream a product reads (flow.MaintainStream),
// each part sorted by id.
func Derive(m mesh.Mesh, now time.Time) []Wanted {
	var runs, maint []Wanted
	for _, e := range m.Products() {
		if e.Product.Scheduled() {
			runs = append(runs, Wanted{ID: ID(e.Domain.Name, e.Product.Name), Entry: e, Cron: e.Product.Cadence, Action: actionFor(e),
				Note: "managed by `mesh schedules apply` from the product's cadence " + e.Product.Cadence})
		}
		maintained, _ := flow.MaintainedMajors(e.Product, now)
		for _, v := range maintained {
			table := e.Domain.Name + "." + v.PortName()
			maint = append(maint, Wanted{ID: MaintainID(e.Domain.Name, v.PortName()), Entry: e, Table: table, Cron: MaintainCadence, Action: maintainActionFor(e.Domain, v),
				Note: "managed by `mesh schedules apply`: nightly table maintenance of " + table + " (mesh maintain " + e.Ref().String() + " runs it now)"})
		}
	}
	for _, ref := range flow.RawStreams(m.Products()) {
		d, _ := m.Domain(ref.Domain)
		maint = append(maint, Wanted{ID: Prefix + flow.MaintainStreamID(ref), Entry: mesh.Entry{Domain: d}, Stream: ref.String(), Cron: MaintainCadence,
			Action: &client.ScheduleWorkflowAction{
				ID:        flow.MaintainStreamID(ref),
				Workflow:  flow.MaintainStreamWorkflow,
				Args:      []any{flow.MaintainStreamInput{Domain: ref.Domain, Source: ref.Source, Stream: ref.Stream, Trigger: flow.TriggerSchedule}},
				TaskQueue: d.TaskQueue(),
				TypedSearchAttributes: temporal.NewSearchAttributes(
					flow.KeyDomain.ValueSet(d.Name), flow.KeyTrigger.ValueSet(flow.TriggerSchedule)),
			},
			Note: "managed by `mesh schedules apply`: nightly compaction and expiry of raw stream " + ref.String()})
	}
	byID := func(a, b Wanted) int { return strings.Compare(a.ID, b.ID) }
	slices.SortFunc(runs, byID)
	slices.SortFunc(maint, byID)
	return append(runs, maint...)
}

// maintainActionFor starts MaintainTable for major v of a product of d, as
// flow.StartMaintain does, with the trigger "schedule".
func maintainActionFor(d mesh.Domain, v mesh.Product) *client.ScheduleWorkflowAction {
	return &client.ScheduleWorkflowAction{
		ID:        flow.MaintainID(d.Name, v.PortName()),
		Workflow:  flow.MaintainWorkflow,
		Args:      []any{flow.MaintainInput{Domain: d.Name, Product: v.Name, Major: v.Major(), Trigger: flow.TriggerSchedule}},
		TaskQueue: d.TaskQueue(),
		TypedSearchAttributes: temporal.NewSearchAttributes(
			flow.KeyDomain.ValueSet(d.Name), flow.KeyProduct.ValueSet(v.Name), flow.KeyTrigger.ValueSet(flow.TriggerSchedule)),
	}
}

func actionFor(e mesh.Entry) *client.ScheduleWorkflowAction {
	return &client.ScheduleWorkflowAction{
		ID:       flow.WorkflowID(e.Domain.Name, e.Product.Name, ""),
		Workflow: flow.RunProductWorkflow,
		Args: []any{flow.RunInput{Domain: e.Domain.Name, Product: e.Product.Name, TriggerKind: flow.TriggerSchedule,
			Trigger: flow.TriggerSchedule + " " + ID(e.Domain.Name, e.Product.Name) + " (" + e.Product.Cadence + ")"}},
		TaskQueue: e.Domain.TaskQueue(),
		TypedSearchAttributes: temporal.NewSearchAttributes(
			flow.KeyDomain.ValueSet(e.Domain.Name), flow.KeyProduct.ValueSet(e.Product.Name), flow.KeyTrigger.ValueSet(flow.TriggerSchedule)),
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

// Of are the schedules that act on a product of m at now: its runs' (a product on a
// cadence; one run by its inputs has none) and the maintenance of each of its port
// tables (Derive).
func Of(m mesh.Mesh, domain, product string, now time.Time) []Wanted {
	var out []Wanted
	for _, w := range Derive(m, now) {
		if w.Stream == "" && w.Entry.Domain.Name == domain && w.Entry.Product.Name == product {
			out = append(out, w)
		}
	}
	return out
}

// Pause stops every schedule of a product (Of) from starting anything — its runs and
// its tables' maintenance, whose snapshot expiry on-call wants held while they look
// into the product too — with a note saying why. It returns the ids it paused; one
// that does not exist is an error naming it, after the others are paused.
func Pause(ctx context.Context, c client.Client, m mesh.Mesh, domain, product, note string) ([]string, error) {
	return setPaused(ctx, c, m, domain, product, func(h client.ScheduleHandle) error {
		return h.Pause(ctx, client.SchedulePauseOptions{Note: note})
	})
}

// Unpause lets every schedule of a product start runs and maintenance again.
func Unpause(ctx context.Context, c client.Client, m mesh.Mesh, domain, product, note string) ([]string, error) {
	return setPaused(ctx, c, m, domain, product, func(h client.ScheduleHandle) error {
		return h.Unpause(ctx, client.ScheduleUnpauseOptions{Note: note})
	})
}

func setPaused(ctx context.Context, c client.Client, m mesh.Mesh, domain, product string, set func(client.ScheduleHandle) error) ([]string, error) {
	ws := Of(m, domain, product, time.Now())
	if len(ws) == 0 {
		return nil, errs.Errorf(errs.NotFound, "schedules of "+domain+"."+product, "the mesh declares no product %s.%s with a schedule", domain, product)
	}
	var done, missing []string
	for _, w := range ws {
		err := set(c.ScheduleClient().GetHandle(ctx, w.ID))
		var nf *serviceerror.NotFound
		switch {
		case errors.As(err, &nf):
			missing = append(missing, w.ID)
		case err != nil:
			return done, errs.E(errs.Transient, "schedule "+w.ID, err)
		default:
			done = append(done, w.ID)
		}
	}
	if len(missing) > 0 {
		return done, errs.Errorf(errs.NotFound, "schedules of "+domain+"."+product, "no schedule %s: run `mesh schedules apply` first (done: %s)",
			strings.Join(missing, ", "), orNone(done))
	}
	return done, nil
}

func orNone(ids []string) string {
	if len(ids) == 0 {
		return "none"
	}
	return strings.Join(ids, ", ")
}

// Paused reports whether the schedule id is paused.
func Paused(ctx context.Context, c client.Client, id string) (bool, error) {
	d, err := c.ScheduleClient().GetHandle(ctx, id).Describe(ctx)
	if err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return false, errs.Errorf(errs.NotFound, "schedule "+id, "no schedule %s: run `mesh schedules apply` first", id)
		}
		return false, errs.E(errs.Transient, "schedule "+id, err)
	}
	return d.Schedule.State.Paused, nil
}
