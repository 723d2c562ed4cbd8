package schedule_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/meshflow/meshflow/dev/stack"
	"github.com/meshflow/meshflow/domains"
	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/schedule"
)

// TestApply runs against the real dev server: schedules are server state.
func TestApply(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	st := devServer(t, ctx)
	m := domains.Mesh()
	want := wantIDs(m)
	if len(want) == 2*len(m.Products()) {
		t.Fatal("every product has a schedule: none is run by its inputs")
	}

	res, err := schedule.Apply(ctx, st.Client, m)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Created, want) {
		t.Fatalf("first apply created %v, want %v", res.Created, want)
	}
	waitFor(t, ctx, st, want)

	res, err = schedule.Apply(ctx, st.Client, m)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Created) != 0 || len(res.Deleted) != 0 || !slices.Equal(res.Updated, want) {
		t.Fatalf("second apply = %+v, want every schedule updated and none created", res)
	}
	waitFor(t, ctx, st, want)

	// A product that no longer exists loses its schedule (one nothing reads: the
	// mesh without it must still be valid).
	smaller := mesh.Mesh{Domains: slices.Clone(m.Domains)}
	d0 := &smaller.Domains[0]
	i := slices.IndexFunc(d0.Products, func(p mesh.Product) bool { return len(m.Consumers(d0.Name, p.Name)) == 0 })
	gone := d0.Name + "." + d0.Products[i].Name
	d0.Products = slices.Delete(slices.Clone(d0.Products), i, i+1)
	res, err = schedule.Apply(ctx, st.Client, smaller)
	if err != nil {
		t.Fatal(err)
	}
	goneIDs := slices.DeleteFunc(wantIDs(m), func(id string) bool { return slices.Contains(wantIDs(smaller), id) })
	slices.Sort(goneIDs) // as List sorts them
	if !slices.Contains(goneIDs, schedule.Prefix+"maintain/"+d0.Name+"."+m.Domains[0].Products[i].PortName()) {
		t.Fatalf("%s's table maintenance is not among the schedules that go with it: %v", gone, goneIDs)
	}
	if !slices.Equal(res.Deleted, goneIDs) {
		t.Fatalf("apply without %s deleted %v, want %v", gone, res.Deleted, goneIDs)
	}
	waitFor(t, ctx, st, wantIDs(smaller))

	// A table's maintenance schedule starts MaintainTable on its domain's queue, for
	// that table's major, saying the schedule started it.
	d1, p1 := smaller.Domains[0], smaller.Domains[0].Products[0]
	desc, err := st.Client.ScheduleClient().GetHandle(ctx, schedule.MaintainID(d1.Name, p1.PortName())).Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	act, ok := desc.Schedule.Action.(*client.ScheduleWorkflowAction)
	if !ok {
		t.Fatalf("maintenance schedule action = %T", desc.Schedule.Action)
	}
	var in flow.MaintainInput
	if len(act.Args) != 1 || converter.GetDefaultDataConverter().FromPayload(act.Args[0].(*commonpb.Payload), &in) != nil {
		t.Fatalf("maintenance schedule args = %v", act.Args)
	}
	if act.Workflow != flow.MaintainWorkflow || act.ID != "maintain/"+d1.Name+"."+p1.PortName() || act.TaskQueue != d1.TaskQueue() ||
		in != (flow.MaintainInput{Domain: d1.Name, Product: p1.Name, Major: p1.Major(), Trigger: flow.TriggerSchedule}) {
		t.Errorf("maintenance schedule starts %s %s on %s with %+v", act.Workflow, act.ID, act.TaskQueue, in)
	}
	if cron := desc.Schedule.Spec.CronExpressions; len(desc.Schedule.Spec.Calendars)+len(cron) == 0 {
		t.Errorf("maintenance schedule has no spec: %+v", desc.Schedule.Spec)
	}

	// Pausing a product pauses its runs and its tables' maintenance, and nothing else.
	var cadenced mesh.Entry
	for _, e := range smaller.Products() {
		if e.Product.Scheduled() {
			cadenced = e
			break
		}
	}
	d, p := cadenced.Domain.Name, cadenced.Product.Name
	wantPaused := []string{schedule.ID(d, p), schedule.MaintainID(d, cadenced.Product.PortName())}
	paused := func() []string {
		t.Helper()
		var out []string
		for _, id := range wantIDs(smaller) {
			on, err := schedule.Paused(ctx, st.Client, id)
			if err != nil {
				t.Fatal(err)
			}
			if on {
				out = append(out, id)
			}
		}
		slices.Sort(out)
		return out
	}
	ids, err := schedule.Pause(ctx, st.Client, smaller, d, p, "maintenance")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ids)
	if got := paused(); !slices.Equal(ids, wantPaused) || !slices.Equal(got, wantPaused) {
		t.Fatalf("pause %s.%s said it paused %v, and %v are paused; want %v", d, p, ids, got, wantPaused)
	}
	if _, err := schedule.Unpause(ctx, st.Client, smaller, d, p, "done"); err != nil {
		t.Fatal(err)
	}
	if got := paused(); len(got) > 0 {
		t.Fatalf("after unpause %v are paused", got)
	}
	if _, err := schedule.Pause(ctx, st.Client, smaller, "nope", "nothing", ""); err == nil {
		t.Fatal("pausing the schedules of a product that does not exist succeeded")
	}
}

// Apply validates every declaration before it touches Temporal, and when Temporal
// refuses one schedule it names the product, the field and what was applied before.
func TestApplyValidatesFirstAndSaysWhatTemporalRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	st := devServer(t, ctx)
	m := domains.Mesh()
	var entries []mesh.Entry
	for _, e := range m.Products() {
		if e.Product.Scheduled() {
			entries = append(entries, e)
		}
	}
	first, third := entries[0], entries[2]
	exists := func(e mesh.Entry) bool {
		_, err := schedule.Paused(ctx, st.Client, schedule.ID(e.Domain.Name, e.Product.Name))
		if err != nil && !errs.Is(err, errs.NotFound) {
			t.Fatal(err)
		}
		return err == nil
	}

	// A bad cadence anywhere: nothing is sent.
	bad := withCadence(m, third, "0 25 * * *")
	res, err := schedule.Apply(ctx, st.Client, bad)
	if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "product "+third.Ref().String()) || !strings.Contains(err.Error(), `hour field "25"`) {
		t.Fatalf("apply with a bad cadence: %v", err)
	}
	if len(res.Created)+len(res.Updated)+len(res.Deleted) > 0 || exists(first) {
		t.Fatalf("apply with a bad cadence changed %+v", res)
	}

	// Temporal refuses the third product's schedule: the first two are created, and
	// the error says which product, which field and what was already done.
	refuse := refusing{Client: st.Client, id: schedule.ID(third.Domain.Name, third.Product.Name)}
	res, err = schedule.Apply(ctx, refuse, m)
	done := []string{schedule.ID(first.Domain.Name, first.Product.Name), schedule.ID(entries[1].Domain.Name, entries[1].Product.Name)}
	if !slices.Equal(res.Created, done) {
		t.Fatalf("created %v before the refusal, want %v", res.Created, done)
	}
	for _, want := range []string{
		"Temporal would not create the schedule of product " + third.Ref().String(),
		fmt.Sprintf("refusing its Cadence %q (cron, in UTC)", third.Product.Cadence),
		"invalid cron expression",
		"already applied: created " + strings.Join(done, ", ") + "; updated none; deleted none",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal does not say %q:\n%v", want, err)
		}
	}
	if !errs.Is(err, errs.Invalid) || !exists(first) || exists(third) {
		t.Errorf("after the refusal: %v, first exists %v, third exists %v", err, exists(first), exists(third))
	}
}

// wantIDs are the schedules m needs, as Apply creates them: the runs of each product
// on a cadence, then each port table's maintenance (no product here has a legacy
// major) and each raw stream's.
func wantIDs(m mesh.Mesh) []string {
	var runs, maint []string
	for _, e := range m.Products() {
		if e.Product.Scheduled() { // the others run when their inputs publish
			runs = append(runs, schedule.Prefix+e.Domain.Name+"."+e.Product.Name)
		}
		maint = append(maint, schedule.Prefix+"maintain/"+e.Domain.Name+"."+e.Product.Name+fmt.Sprintf("_v%d", e.Product.Major()))
		for _, in := range e.Product.Inputs {
			if id := schedule.Prefix + "maintain/" + e.Domain.Name + ".raw." + in.Source + "." + in.Stream; in.IsRaw() && !slices.Contains(maint, id) {
				maint = append(maint, id)
			}
		}
	}
	slices.Sort(runs)
	slices.Sort(maint)
	return append(runs, maint...)
}

// devServer starts the dev server (schedules are server state), without the sandbox.
func devServer(t *testing.T, ctx context.Context) *stack.Stack {
	t.Helper()
	if testing.Short() {
		t.Skip("needs bin/temporal")
	}
	st, err := stack.Start(ctx, stack.Options{NoSandbox: true, Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Stop() })
	return st
}

// withCadence is m with e's cadence replaced.
func withCadence(m mesh.Mesh, e mesh.Entry, cadence string) mesh.Mesh {
	out := mesh.Mesh{Domains: slices.Clone(m.Domains)}
	for i, d := range out.Domains {
		if d.Name != e.Domain.Name {
			continue
		}
		out.Domains[i].Products = slices.Clone(d.Products)
		for j, p := range d.Products {
			if p.Name == e.Product.Name {
				out.Domains[i].Products[j].Cadence = cadence
			}
		}
	}
	return out
}

// refusing is a real client whose server refuses to create one schedule, as Temporal
// refuses a spec it cannot parse.
type refusing struct {
	client.Client
	id string
}

func (r refusing) ScheduleClient() client.ScheduleClient {
	return refusingSchedules{ScheduleClient: r.Client.ScheduleClient(), id: r.id}
}

type refusingSchedules struct {
	client.ScheduleClient
	id string
}

func (r refusingSchedules) Create(ctx context.Context, o client.ScheduleOptions) (client.ScheduleHandle, error) {
	if o.ID == r.id {
		return nil, serviceerror.NewInvalidArgument("Invalid schedule spec: invalid cron expression")
	}
	return r.ScheduleClient.Create(ctx, o)
}

// waitFor waits until the schedule list (eventually consistent) is exactly want.
func waitFor(t *testing.T, ctx context.Context, st *stack.Stack, want []string) {
	t.Helper()
	want = slices.Sorted(slices.Values(want)) // as List sorts them
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := schedule.List(ctx, st.Client)
		if err != nil {
			t.Fatal(err)
		}
		ids := make([]string, len(got))
		for i, e := range got {
			ids[i] = e.ID
		}
		if slices.Equal(ids, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("schedules = %v, want %v", ids, want)
		}
		time.Sleep(200 * time.Millisecond) // polling an eventually consistent list, with a deadline
	}
}

func TestMain(m *testing.M) {
	if os.Getenv("MESHFLOW_TEMPORAL_BIN") == "" {
		if p, err := stack.FindTemporal(); err == nil {
			os.Setenv("MESHFLOW_TEMPORAL_BIN", p)
		}
	}
	os.Exit(m.Run())
}

// Derive gives each port table still published a nightly maintenance schedule: the
// current major and a legacy major before its sunset, not one past it (maintenance
// leaves that as its consumers last read it).
func TestDeriveMaintainsEveryPublishedTable(t *testing.T) {
	m := domains.Mesh()
	m.Domains = slices.Clone(m.Domains)
	d := &m.Domains[0]
	d.Products = slices.Clone(d.Products)
	p := &d.Products[0]
	p.Version = "3.0.0"
	p.Legacy = []mesh.Legacy{{Version: "1.0.0", Sunset: "2026-01-31"}, {Version: "2.1.0", Sunset: "2026-03-31"}}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

	var got []schedule.Wanted
	for _, w := range schedule.Derive(m, now) {
		if w.Entry.Ref() == (mesh.Ref{Domain: d.Name, Product: p.Name}) && w.Table != "" {
			got = append(got, w)
		}
	}
	if len(got) != 2 {
		t.Fatalf("maintenance schedules of %s.%s: %+v, want v3 and v2", d.Name, p.Name, got)
	}
	for i, major := range []int{2, 3} { // sorted by id
		w := got[i]
		table := fmt.Sprintf("%s_v%d", p.Name, major)
		in := w.Action.Args[0].(flow.MaintainInput)
		if w.ID != schedule.MaintainID(d.Name, table) || w.Table != d.Name+"."+table || w.Cron != schedule.MaintainCadence ||
			w.Action.ID != flow.MaintainID(d.Name, table) || w.Action.Workflow != flow.MaintainWorkflow || w.Action.TaskQueue != d.TaskQueue() ||
			in != (flow.MaintainInput{Domain: d.Name, Product: p.Name, Major: major, Trigger: flow.TriggerSchedule}) {
			t.Errorf("maintenance schedule of %s: %+v, action %+v", table, w, w.Action)
		}
	}
	// Each raw stream a product reads is maintained too, once, on its domain's queue.
	var raw mesh.Input
	for _, e := range m.Products() {
		for _, in := range e.Product.Inputs {
			if in.IsRaw() && e.Domain.Name == d.Name && raw.Source == "" {
				raw = in
			}
		}
	}
	var streams []schedule.Wanted
	for _, w := range schedule.Derive(m, now) {
		if w.Stream == d.Name+"/"+raw.Source+"."+raw.Stream {
			streams = append(streams, w)
		}
	}
	if len(streams) != 1 || streams[0].ID != schedule.Prefix+"maintain/"+d.Name+".raw."+raw.Source+"."+raw.Stream || streams[0].Action.Workflow != flow.MaintainStreamWorkflow ||
		streams[0].Action.TaskQueue != d.TaskQueue() || streams[0].Action.Args[0] != (flow.MaintainStreamInput{Domain: d.Name, Source: raw.Source, Stream: raw.Stream, Trigger: flow.TriggerSchedule}) {
		t.Errorf("maintenance schedules of raw stream %s/%s: %+v", d.Name, raw, streams)
	}
	if ids := schedule.Derive(m, now.AddDate(0, 1, 0)); slices.ContainsFunc(ids, func(w schedule.Wanted) bool { return strings.HasSuffix(w.ID, "."+p.Name+"_v2") }) {
		t.Error("a legacy major past its sunset still gets a maintenance schedule")
	}
}
