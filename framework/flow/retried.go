package flow

import (
	"context"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/port"
)

// publishedBy finds the snapshot run runID published of partition ("" = the whole
// port) on branch ("" = main). A Publish attempt whose worker died between the commit and reporting it
// leaves that snapshot behind; the retry returns it instead of publishing again,
// which would find the staged file deleted, or add a second snapshot of the same rows.
func publishedBy(ctx context.Context, ports *port.Catalog, id port.TableID, branch, runID, partition string) (port.Snapshot, bool, error) {
	snaps, err := snapshotsIfAny(ctx, ports, id, branch)
	if err != nil {
		return port.Snapshot{}, false, err
	}
	for _, s := range snaps {
		if s.Properties[PropRunID] == runID && s.Properties[PropPartition] == partition {
			return s, true, nil
		}
	}
	return port.Snapshot{}, false, nil
}

// snapshotsIfAny lists the snapshots of main or of branch, newest first; none when the
// table or the branch does not exist yet.
func snapshotsIfAny(ctx context.Context, ports *port.Catalog, id port.TableID, branch string) ([]port.Snapshot, error) {
	var snaps []port.Snapshot
	var err error
	if branch == "" {
		snaps, err = ports.Snapshots(ctx, id)
	} else {
		snaps, err = ports.BranchSnapshots(ctx, id, branch)
	}
	if errs.Is(err, errs.NotFound) {
		return nil, nil
	}
	return snaps, err
}
