package query

import (
	"context"
	"slices"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/port"
)

// branchDiffSnapshots resolves the snapshots of a diff of a branch with main: To is
// the branch's head (or one of its snapshots), From main's current snapshot (or any
// of main's or the branch's).
func branchDiffSnapshots(ctx context.Context, req DiffRequest, id port.TableID) (from, to port.Snapshot, err error) {
	ref := req.Product.Ref()
	b, ok, err := req.Ports.Branch(ctx, id, req.Branch)
	if err != nil {
		return from, to, err
	}
	if !ok {
		return from, to, errs.Errorf(errs.NotFound, dop, "%s has no branch %s: `mesh run %s --branch %s` publishes a preview there", id, req.Branch, ref, req.Branch)
	}
	onBranch, err := req.Ports.BranchSnapshots(ctx, id, req.Branch)
	if err != nil {
		return from, to, err
	}
	onMain, err := req.Ports.Snapshots(ctx, id)
	if err != nil {
		return from, to, err
	}
	find := func(which string, snapID int64, snaps []port.Snapshot, where string) (port.Snapshot, error) {
		if at := slices.IndexFunc(snaps, func(s port.Snapshot) bool { return s.ID == snapID }); at >= 0 {
			return snaps[at], nil
		}
		return port.Snapshot{}, errs.Errorf(errs.NotFound, dop, "%s has no snapshot %d (%s) %s: its recent ones are %s", id, snapID, which, where, recent(snaps))
	}
	to = b.Head
	if req.To != 0 {
		if to, err = find("--to", req.To, onBranch, "on branch "+req.Branch); err != nil {
			return from, to, err
		}
	}
	switch {
	case req.From != 0:
		from, err = find("--from", req.From, append(onMain, onBranch...), "on main or branch "+req.Branch)
		return from, to, err
	case len(onMain) == 0:
		return from, to, errs.Errorf(errs.NotFound, dop, "main of %s has no snapshot yet, so every row of branch %s is new: `mesh query --branch %s` shows them", id, req.Branch, req.Branch)
	}
	return onMain[0], to, nil
}
