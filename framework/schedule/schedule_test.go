package schedule_test

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/meshflow/meshflow/dev/stack"
	"github.com/meshflow/meshflow/domains"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/schedule"
)

// TestApply runs against the real dev server: schedules are server state.
func TestApply(t *testing.T) {
	if testing.Short() {
		t.Skip("needs bin/temporal")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	st, err := stack.Start(ctx, stack.Options{NoSandbox: true, Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Stop() })
	m := domains.Mesh()
	var want []string
	for _, e := range m.Products() {
		want = append(want, schedule.ID(e.Domain.Name, e.Product.Name))
	}
	slices.Sort(want)

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

	// A product that no longer exists loses its schedule.
	gone := m.Domains[0].Name + "." + m.Domains[0].Products[0].Name
	smaller := mesh.Mesh{Domains: slices.Clone(m.Domains)}
	smaller.Domains[0].Products = smaller.Domains[0].Products[1:]
	res, err = schedule.Apply(ctx, st.Client, smaller)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Deleted, []string{schedule.Prefix + gone}) {
		t.Fatalf("apply without %s deleted %v", gone, res.Deleted)
	}
	waitFor(t, ctx, st, slices.DeleteFunc(slices.Clone(want), func(id string) bool { return id == schedule.Prefix+gone }))

	d, p := smaller.Domains[0].Name, smaller.Domains[0].Products[0].Name
	if err := schedule.Pause(ctx, st.Client, d, p, "maintenance"); err != nil {
		t.Fatal(err)
	}
	if paused, err := schedule.Paused(ctx, st.Client, d, p); err != nil || !paused {
		t.Fatalf("after pause: paused=%v err=%v", paused, err)
	}
	if err := schedule.Unpause(ctx, st.Client, d, p, "done"); err != nil {
		t.Fatal(err)
	}
	if paused, err := schedule.Paused(ctx, st.Client, d, p); err != nil || paused {
		t.Fatalf("after unpause: paused=%v err=%v", paused, err)
	}
	if err := schedule.Pause(ctx, st.Client, "nope", "nothing", ""); err == nil {
		t.Fatal("pausing a schedule that does not exist succeeded")
	}
}

// waitFor waits until the schedule list (eventually consistent) is exactly want.
func waitFor(t *testing.T, ctx context.Context, st *stack.Stack, want []string) {
	t.Helper()
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
