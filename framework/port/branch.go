package port

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/meshflow/meshflow/framework/errs"
)

// Branch is a named line of snapshots beside main — an Iceberg branch ref — where a
// preview is published (PublishRequest.Branch) without changing what main's readers
// see, until FastForward makes its head main's current snapshot.
type Branch struct {
	Name string
	Head Snapshot // the branch's newest snapshot
	// Fork is the snapshot of main the branch was made from, Main main's current
	// snapshot now (0: main had, or has, none).
	Fork, Main int64
	// TableProperties are what the branch's last publish would have set on the table
	// (PublishRequest.TableProperties); FastForward sets them.
	TableProperties map[string]string
}

// MainMoved reports whether main has moved since the branch was made: main's current
// snapshot is not in the branch, so main cannot be fast-forwarded to it.
func (b Branch) MainMoved() bool { return b.Main != b.Fork }

// branchTableProperties is the snapshot property a branch publish keeps its table
// properties in: set on the table, they would change what main's readers see.
const branchTableProperties = "meshflow.branch.table-properties"

var branchName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// ValidateBranch refuses a name that cannot be a preview branch: "main" is the port
// itself, and a name becomes part of workflow ids and lake keys.
func ValidateBranch(name string) error {
	switch {
	case name == table.MainBranch:
		return errs.Errorf(errs.Invalid, "port: branch", `branch "main" is the port itself: name a preview branch, e.g. preview-churn`)
	case !branchName.MatchString(name):
		return errs.Errorf(errs.Invalid, "port: branch", "branch name %q: use up to 100 letters, digits, '-', '_' and '.', starting with a letter or digit (e.g. preview-churn)", name)
	}
	return nil
}

// Branch returns the table's branch name; false when the table or the branch does
// not exist.
func (c *Catalog) Branch(ctx context.Context, id TableID, name string) (Branch, bool, error) {
	tbl, err := c.load(ctx, "port: branch "+name+" of "+id.String(), id)
	if errs.Is(err, errs.NotFound) {
		return Branch{}, false, nil
	}
	if err != nil {
		return Branch{}, false, err
	}
	b, ok := branchOf(tbl, name)
	return b, ok, nil
}

// BranchSnapshots lists the snapshots of branch name, newest first: its own, then
// those of main it was made from. A missing table or branch is errs.NotFound.
func (c *Catalog) BranchSnapshots(ctx context.Context, id TableID, name string) ([]Snapshot, error) {
	op := "port: snapshots of branch " + name + " of " + id.String()
	tbl, err := c.load(ctx, op, id)
	if err != nil {
		return nil, err
	}
	head, ok := branchHead(tbl, name)
	if !ok {
		return nil, errs.Errorf(errs.NotFound, op, "%s has no branch %q", id, name)
	}
	return lineage(tbl, head), nil
}

// FastForward makes the head of branch name main's current snapshot, so main's
// readers see the preview from then on, and sets the table properties the branch
// recorded, in one commit; the branch is removed in it too unless keep. It refuses
// (errs.Conflict) when main moved since the branch was made: main would lose its own
// newer snapshots.
func (c *Catalog) FastForward(ctx context.Context, id TableID, name string, keep bool) (Snapshot, error) {
	op := "port: fast-forward main of " + id.String() + " to branch " + name
	tbl, err := c.load(ctx, op, id)
	if err != nil {
		return Snapshot{}, err
	}
	b, ok := branchOf(tbl, name)
	if !ok {
		return Snapshot{}, errs.Errorf(errs.NotFound, op, "%s has no branch %q", id, name)
	}
	if b.MainMoved() {
		return Snapshot{}, errs.Errorf(errs.Conflict, op, "%s", MainMovedMessage(id, b))
	}
	meta := tbl.Metadata()
	mainRef, hasMain := ref(tbl, table.MainBranch)
	reqs := []table.Requirement{
		table.AssertTableUUID(meta.TableUUID()),
		table.AssertRefSnapshotID(name, &b.Head.ID),
		table.AssertRefSnapshotID(table.MainBranch, nil),
	}
	if hasMain {
		reqs[2] = table.AssertRefSnapshotID(table.MainBranch, &mainRef.SnapshotID)
	}
	var updates []table.Update
	if !hasMain || mainRef.SnapshotID != b.Head.ID {
		updates = append(updates, pointMain(mainRef, b.Head.ID))
	}
	changed := iceberg.Properties{}
	for k, v := range b.TableProperties {
		if old, ok := tbl.Properties()[k]; !ok || old != v {
			changed[k] = v
		}
	}
	if len(changed) > 0 {
		updates = append(updates, table.NewSetPropertiesUpdate(changed))
	}
	if !keep {
		updates = append(updates, table.NewRemoveSnapshotRefUpdate(name))
	}
	if len(updates) > 0 {
		if _, _, err := c.cat.CommitTable(ctx, id.ident(), reqs, updates); err != nil {
			if isStale(err) {
				return Snapshot{}, errs.E(errs.Conflict, op, fmt.Errorf("the table changed while main was fast-forwarded (another publish or promote): try again: %w", err))
			}
			return Snapshot{}, errs.E(kindOf(err), op, err)
		}
	}
	return b.Head, nil
}

// MainMovedMessage says why branch b cannot fast-forward main: which snapshot it was
// made from and where main is now.
func MainMovedMessage(id TableID, b Branch) string {
	made := fmt.Sprintf("from snapshot %d", b.Fork)
	if b.Fork == 0 {
		made = "when main had no snapshot"
	}
	return fmt.Sprintf("main of %s moved since branch %s was made: the branch was made %s, and main is now at snapshot %d, which the branch does not contain",
		id, b.Name, made, b.Main)
}

// restartBranch removes branch name when main moved since it was made, so the
// publish about to be built on it starts it again from main's current snapshot and
// it can fast-forward main again. It returns the table to build on.
func (c *Catalog) restartBranch(ctx context.Context, op string, id TableID, tbl *table.Table, name string) (*table.Table, error) {
	b, ok := branchOf(tbl, name)
	if !ok || !b.MainMoved() {
		return tbl, nil
	}
	reqs := []table.Requirement{table.AssertTableUUID(tbl.Metadata().TableUUID()), table.AssertRefSnapshotID(name, &b.Head.ID)}
	if _, _, err := c.cat.CommitTable(ctx, id.ident(), reqs, []table.Update{table.NewRemoveSnapshotRefUpdate(name)}); err != nil && !isStale(err) {
		return nil, errs.E(kindOf(err), op, fmt.Errorf("make branch %s again from main: %w", name, err))
	}
	// A stale remove means another publisher moved the branch first: the publish
	// builds on what it left, as on any branch head.
	fresh, err := c.cat.LoadTable(ctx, id.ident())
	if err != nil {
		return nil, errs.E(kindOf(err), op, err)
	}
	return fresh, nil
}

// pointMain is the update that makes snapID main's head, main (the zero ref when the
// table has no main yet) keeping its own retention settings.
func pointMain(main table.SnapshotRef, snapID int64) table.Update {
	var maxRefAge, maxSnapshotAge int64
	var minSnapshots int
	if main.MaxRefAgeMs != nil {
		maxRefAge = *main.MaxRefAgeMs
	}
	if main.MaxSnapshotAgeMs != nil {
		maxSnapshotAge = *main.MaxSnapshotAgeMs
	}
	if main.MinSnapshotsToKeep != nil {
		minSnapshots = *main.MinSnapshotsToKeep
	}
	return table.NewSetSnapshotRefUpdate(table.MainBranch, snapID, table.BranchRef, maxRefAge, maxSnapshotAge, minSnapshots)
}

// ref finds a ref of the table by name.
func ref(tbl *table.Table, name string) (table.SnapshotRef, bool) {
	for n, r := range tbl.Metadata().Refs() {
		if n == name {
			return r, true
		}
	}
	return table.SnapshotRef{}, false
}

// branchHead is the head snapshot of the branch name; false for a tag or no ref.
func branchHead(tbl *table.Table, name string) (*table.Snapshot, bool) {
	r, ok := ref(tbl, name)
	if !ok || r.SnapshotRefType != table.BranchRef {
		return nil, false
	}
	s := tbl.SnapshotByID(r.SnapshotID)
	return s, s != nil
}

func branchOf(tbl *table.Table, name string) (Branch, bool) {
	head, ok := branchHead(tbl, name)
	if !ok {
		return Branch{}, false
	}
	b := Branch{Name: name, Head: snapshotOf(tbl, head)}
	onMain := map[int64]bool{}
	if cur := tbl.CurrentSnapshot(); cur != nil {
		b.Main = cur.SnapshotID
		for _, s := range lineage(tbl, cur) {
			onMain[s.ID] = true
		}
	}
	for _, s := range lineage(tbl, head) {
		if onMain[s.ID] {
			b.Fork = s.ID
			break
		}
	}
	if js := b.Head.Properties[branchTableProperties]; js != "" {
		_ = json.Unmarshal([]byte(js), &b.TableProperties) // written by Publish; unreadable means none
	}
	return b, true
}

// lineage is head and its ancestors, newest first.
func lineage(tbl *table.Table, head *table.Snapshot) []Snapshot {
	ancestors := table.AncestorsOf(head.SnapshotID, tbl.SnapshotByID)
	out := make([]Snapshot, len(ancestors))
	for i := range ancestors {
		out[i] = snapshotOf(tbl, &ancestors[i])
	}
	return out
}

// branchProperties returns the snapshot properties of a publish to a branch: the
// table properties it does not set on the table ride along.
func branchProperties(snapProps iceberg.Properties, tableProps map[string]string) (iceberg.Properties, error) {
	out := maps.Clone(snapProps)
	if out == nil {
		out = iceberg.Properties{}
	}
	if len(tableProps) > 0 {
		b, err := json.Marshal(tableProps)
		if err != nil {
			return nil, err
		}
		out[branchTableProperties] = string(b)
	}
	return out, nil
}
