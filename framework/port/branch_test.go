package port

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/meshflow/meshflow/framework/errs"
)

func ids(snaps []Snapshot) []int64 {
	out := make([]int64, len(snaps))
	for i, s := range snaps {
		out[i] = s.ID
	}
	return out
}

// A publish to a branch leaves main as it was — its current snapshot, its history,
// its rows and its table properties — and the branch is read by its own head.
func TestPublishToBranchLeavesMainAsItWas(t *testing.T) {
	ctx := context.Background()
	c := openTest(t, t.TempDir())
	main := publish(t, c, contacts, baseSchema, `[{"id": 1, "name": "Ada", "day": "2024-05-01"}, {"id": 2, "name": "Bob", "day": "2024-05-02"}]`,
		PublishRequest{Mode: Replace{}, TableProperties: map[string]string{"version": "1.0.0"}})

	first := publish(t, c, contacts, baseSchema, `[{"id": 2, "name": "Bobby", "day": "2024-05-02"}]`,
		PublishRequest{Mode: ReplacePartition{"day", "2024-05-02"}, Branch: "preview", TableProperties: map[string]string{"version": "1.1.0"},
			SnapshotProperties: map[string]string{"run": "b1"}})
	// A second publish to the branch builds on the first: previews of two days add up.
	head := publish(t, c, contacts, baseSchema, `[{"id": 3, "name": "Cy", "day": "2024-05-03"}]`,
		PublishRequest{Mode: ReplacePartition{"day", "2024-05-03"}, Branch: "preview", TableProperties: map[string]string{"version": "1.1.0"}})

	if cur, ok, err := c.Current(ctx, contacts); err != nil || !ok || cur.ID != main.ID {
		t.Fatalf("main's current snapshot = %d %v %v, want %d", cur.ID, ok, err, main.ID)
	}
	if snaps, err := c.Snapshots(ctx, contacts); err != nil || !slices.Equal(ids(snaps), []int64{main.ID}) {
		t.Fatalf("main's snapshots = %v %v, want only %d", ids(snaps), err, main.ID)
	}
	wantRows(t, rowsOf(t, c, contacts, 0), "1:Ada:2024-05-01", "2:Bob:2024-05-02")
	if props, err := c.TableProperties(ctx, contacts); err != nil || props["version"] != "1.0.0" {
		t.Fatalf("table version = %q (%v), want main's 1.0.0", props["version"], err)
	}

	b, ok, err := c.Branch(ctx, contacts, "preview")
	if err != nil || !ok {
		t.Fatalf("branch: %v %v", ok, err)
	}
	if b.Head.ID != head.ID || b.Fork != main.ID || b.Main != main.ID || b.MainMoved() || b.TableProperties["version"] != "1.1.0" || b.Head.Properties[branchTableProperties] == "" {
		t.Fatalf("branch = %+v; want head %d made from main's %d", b, head.ID, main.ID)
	}
	wantRows(t, rowsOf(t, c, contacts, b.Head.ID), "1:Ada:2024-05-01", "2:Bobby:2024-05-02", "3:Cy:2024-05-03")
	if snaps, err := c.BranchSnapshots(ctx, contacts, "preview"); err != nil || !slices.Equal(ids(snaps), []int64{head.ID, first.ID, main.ID}) {
		t.Fatalf("branch snapshots = %v %v, want %d, %d, %d", ids(snaps), err, head.ID, first.ID, main.ID)
	}
	if _, ok, err := c.Branch(ctx, contacts, "other"); ok || err != nil {
		t.Fatalf("an unknown branch: %v %v", ok, err)
	}
	if _, ok, err := c.Branch(ctx, TableID{Domain: "crm", Name: "none_v1"}, "preview"); ok || err != nil {
		t.Fatalf("the branch of a table that does not exist: %v %v", ok, err)
	}
	if _, err := c.BranchSnapshots(ctx, contacts, "other"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("snapshots of an unknown branch: %v", err)
	}
}

// The first publish of a product may be to a branch: the table exists, main has no
// snapshot, and fast-forwarding gives main its first.
func TestFirstPublishToABranch(t *testing.T) {
	ctx := context.Background()
	c := openTest(t, t.TempDir())
	head := publish(t, c, contacts, baseSchema, `[{"id": 1, "name": "Ada", "day": "2024-05-01"}]`,
		PublishRequest{Mode: Replace{}, Branch: "preview", TableProperties: map[string]string{"owner": "crm"}})
	if _, ok, err := c.Current(ctx, contacts); ok || err != nil {
		t.Fatalf("main has a snapshot after a publish to a branch: %v %v", ok, err)
	}
	if snaps, err := c.Snapshots(ctx, contacts); err != nil || len(snaps) != 0 {
		t.Fatalf("main's snapshots = %v %v, want none", ids(snaps), err)
	}
	if props, _ := c.TableProperties(ctx, contacts); props["owner"] != "" {
		t.Fatalf("the branch set the table's owner: %v", props)
	}
	got, err := c.FastForward(ctx, contacts, "preview", false)
	if err != nil || got.ID != head.ID {
		t.Fatalf("fast-forward = %d %v, want %d", got.ID, err, head.ID)
	}
	if cur, ok, _ := c.Current(ctx, contacts); !ok || cur.ID != head.ID {
		t.Fatalf("main = %d %v, want %d", cur.ID, ok, head.ID)
	}
	if props, _ := c.TableProperties(ctx, contacts); props["owner"] != "crm" {
		t.Fatalf("the branch's table properties were not set: %v", props)
	}
}

// FastForward makes the branch's head main's current snapshot, sets the table
// properties the branch recorded and removes the branch (or keeps it).
func TestFastForward(t *testing.T) {
	for _, keep := range []bool{false, true} {
		ctx := context.Background()
		c := openTest(t, t.TempDir())
		main := publish(t, c, contacts, baseSchema, `[{"id": 1, "name": "Ada", "day": "2024-05-01"}]`,
			PublishRequest{Mode: Replace{}, TableProperties: map[string]string{"version": "1.0.0", "owner": "crm"}})
		head := publish(t, c, contacts, baseSchema, `[{"id": 1, "name": "Ada Lovelace", "day": "2024-05-01"}]`,
			PublishRequest{Mode: Replace{}, Branch: "preview", TableProperties: map[string]string{"version": "1.1.0", "owner": "crm"}})

		got, err := c.FastForward(ctx, contacts, "preview", keep)
		if err != nil || got.ID != head.ID {
			t.Fatalf("keep=%v: fast-forward = %d %v, want %d", keep, got.ID, err, head.ID)
		}
		if cur, _, _ := c.Current(ctx, contacts); cur.ID != head.ID {
			t.Fatalf("keep=%v: main = %d, want the branch's head %d", keep, cur.ID, head.ID)
		}
		wantRows(t, rowsOf(t, c, contacts, 0), "1:Ada Lovelace:2024-05-01")
		if snaps, _ := c.Snapshots(ctx, contacts); !slices.Equal(ids(snaps), []int64{head.ID, main.ID}) {
			t.Fatalf("keep=%v: main's snapshots = %v, want %d, %d", keep, ids(snaps), head.ID, main.ID)
		}
		if props, _ := c.TableProperties(ctx, contacts); props["version"] != "1.1.0" || props["owner"] != "crm" {
			t.Fatalf("keep=%v: table properties = %v", keep, props)
		}
		b, ok, err := c.Branch(ctx, contacts, "preview")
		if err != nil || ok != keep {
			t.Fatalf("keep=%v: the branch is there: %v (%v)", keep, ok, err)
		}
		if keep && (b.MainMoved() || b.Fork != head.ID) {
			t.Fatalf("a kept branch = %+v, want it on main's new head", b)
		}
	}
}

// When main moved since the branch was made, FastForward refuses and names both
// snapshots; the next publish to the branch makes it again from main, and then it
// fast-forwards.
func TestFastForwardRefusedWhenMainMoved(t *testing.T) {
	ctx := context.Background()
	c := openTest(t, t.TempDir())
	fork := publish(t, c, contacts, baseSchema, `[{"id": 1, "name": "Ada", "day": "2024-05-01"}]`, PublishRequest{Mode: Replace{}})
	old := publish(t, c, contacts, baseSchema, `[{"id": 2, "name": "Bob", "day": "2024-05-02"}]`,
		PublishRequest{Mode: ReplacePartition{"day", "2024-05-02"}, Branch: "preview"})
	moved := publish(t, c, contacts, baseSchema, `[{"id": 3, "name": "Cy", "day": "2024-05-03"}]`, PublishRequest{Mode: ReplacePartition{"day", "2024-05-03"}})

	b, _, _ := c.Branch(ctx, contacts, "preview")
	if !b.MainMoved() || b.Fork != fork.ID || b.Main != moved.ID {
		t.Fatalf("branch = %+v; want made from %d with main at %d", b, fork.ID, moved.ID)
	}
	_, err := c.FastForward(ctx, contacts, "preview", false)
	if !errs.Is(err, errs.Conflict) {
		t.Fatalf("fast-forward after main moved: %v, want a conflict", err)
	}
	for _, want := range []string{"made from snapshot " + itoa(fork.ID), "main is now at snapshot " + itoa(moved.ID)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if cur, _, _ := c.Current(ctx, contacts); cur.ID != moved.ID {
		t.Fatalf("a refused fast-forward moved main to %d", cur.ID)
	}
	if _, ok, _ := c.Branch(ctx, contacts, "preview"); !ok {
		t.Fatal("a refused fast-forward removed the branch")
	}

	again := publish(t, c, contacts, baseSchema, `[{"id": 2, "name": "Bobby", "day": "2024-05-02"}]`,
		PublishRequest{Mode: ReplacePartition{"day", "2024-05-02"}, Branch: "preview"})
	b, _, _ = c.Branch(ctx, contacts, "preview")
	if b.MainMoved() || b.Fork != moved.ID || again.ParentID != moved.ID {
		t.Fatalf("branch after a new publish = %+v (parent %d), want it made again from %d", b, again.ParentID, moved.ID)
	}
	if snaps, _ := c.BranchSnapshots(ctx, contacts, "preview"); slices.Contains(ids(snaps), old.ID) {
		t.Fatalf("the branch made again still holds its earlier snapshot %d: %v", old.ID, ids(snaps))
	}
	wantRows(t, rowsOf(t, c, contacts, again.ID), "1:Ada:2024-05-01", "2:Bobby:2024-05-02", "3:Cy:2024-05-03")
	if _, err := c.FastForward(ctx, contacts, "preview", false); err != nil {
		t.Fatalf("fast-forward after the branch was made again: %v", err)
	}
	wantRows(t, rowsOf(t, c, contacts, 0), "1:Ada:2024-05-01", "2:Bobby:2024-05-02", "3:Cy:2024-05-03")
	if _, err := c.FastForward(ctx, contacts, "preview", false); !errs.Is(err, errs.NotFound) {
		t.Fatalf("fast-forward of a removed branch: %v", err)
	}
}

// A branch may preview the removal of a nullable column; main refuses it, and main's
// rows keep the column.
func TestBranchMayLeaveOutANullableColumn(t *testing.T) {
	c := openTest(t, t.TempDir())
	publish(t, c, contacts, baseSchema, `[{"id": 1, "name": "Ada", "day": "2024-05-01"}]`, PublishRequest{Mode: Replace{}})
	narrow := arrow.NewSchema([]arrow.Field{field("id", arrow.PrimitiveTypes.Int64, ""), field("day", arrow.FixedWidthTypes.Date32, "")}, nil)
	if _, err := c.Publish(context.Background(), contacts, reader(t, narrow, `[{"id": 2, "day": "2024-05-02"}]`), PublishRequest{Mode: Replace{}}); !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), `column "name" is missing`) {
		t.Fatalf("main took a publish without a column: %v", err)
	}
	head := publish(t, c, contacts, narrow, `[{"id": 2, "day": "2024-05-02"}]`, PublishRequest{Mode: Replace{}, Branch: "preview"})
	files, err := c.DataFiles(context.Background(), contacts, head.ID)
	if err != nil || len(files) != 1 {
		t.Fatalf("branch files = %v %v", files, err)
	}
	wantRows(t, rowsOf(t, c, contacts, 0), "1:Ada:2024-05-01")
}

func TestValidateBranch(t *testing.T) {
	for _, name := range []string{"preview", "feat-1.2_x", "A"} {
		if err := ValidateBranch(name); err != nil {
			t.Errorf("%q: %v", name, err)
		}
	}
	for name, want := range map[string]string{"main": "is the port itself", "": "branch name", "a/b": "letters, digits", "-x": "starting with", strings.Repeat("x", 101): "up to 100"} {
		if err := ValidateBranch(name); !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want it refused saying %q", name, err, want)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
