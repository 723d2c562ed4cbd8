package flow

import (
	"context"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/meshflow/meshflow/framework/contract"
	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
	"github.com/meshflow/meshflow/framework/quality"
)

// A preview run (RunInput.Branch) publishes to an Iceberg branch of its port and
// reads its product inputs from the same branch where they have one; Promote makes
// the branch main. Main's readers — consumers, the catalog, mesh query — see nothing
// of a branch until then.

// branchTable names a port table on a branch ("" = main) as runs print it: table@branch.
func branchTable(id port.TableID, branch string) string {
	if branch == "" {
		return id.String()
	}
	return id.String() + "@" + branch
}

// branchRuns is where the run records of branch's runs are kept, apart from main's.
func branchRuns(branch string) string { return path.Join("branches", branch) }

// LatestBranchRun is the newest record of a run of the product on branch (ok false
// before its first).
func LatestBranchRun(ctx context.Context, l *lake.Lake, domain, product, branch string) (RunRecord, bool, error) {
	return latestRecord(ctx, l, path.Join(branchRuns(branch), "runs", domain, product)+"/")
}

// inputSnapshot is the snapshot a run on branch ("" = main) reads of a product input:
// the head of the input's branch of that name when it has one, else main's current.
func inputSnapshot(ctx context.Context, ports *port.Catalog, id port.TableID, branch string) (snap port.Snapshot, ok, onBranch bool, err error) {
	if branch != "" {
		b, ok, err := ports.Branch(ctx, id, branch)
		if err != nil || ok {
			return b.Head, ok, ok, err
		}
	}
	snap, ok, err = ports.Current(ctx, id)
	return snap, ok, false, err
}

// branchRead says which snapshot a run on branch read of input in.
func branchRead(in mesh.Input, id port.TableID, branch string, snap port.Snapshot, onBranch bool) string {
	if onBranch {
		return fmt.Sprintf("input %s: read its preview on branch %s (snapshot %d of %s)", in, branch, snap.ID, id)
	}
	return fmt.Sprintf("input %s: it has no branch %s, so this run read main (snapshot %d of %s)", in, branch, snap.ID, id)
}

// branchRestart says, when main moved since the branch was made, that the publish
// about to be made starts the branch again from main (port.PublishRequest.Branch).
func branchRestart(ctx context.Context, ports *port.Catalog, id port.TableID, branch string) (string, error) {
	b, ok, err := ports.Branch(ctx, id, branch)
	if err != nil || !ok || !b.MainMoved() {
		return "", err
	}
	return fmt.Sprintf("%s; this publish makes branch %s again from snapshot %d, leaving out what was published on it before (run those partitions on the branch again)",
		port.MainMovedMessage(id, b), branch, b.Main), nil
}

// Promoted is what Promote did.
type Promoted struct {
	Table  string
	Branch string
	// Snapshot is main's current snapshot now, the branch's head; Previous main's
	// before (0: none).
	Snapshot port.Snapshot
	Previous int64
	Kept     bool             // the branch was kept (--keep)
	Warned   []quality.Result // checks of the snapshot that warned
}

// Promote fast-forwards main of the product's port to the head of branch, once the
// preview is fit to be main: its checks passed (those recorded with the snapshot and
// the latest run on the branch), it makes no breaking change to main's contract, and
// main has not moved since the branch was made. The branch is then removed unless
// keep. Each refusal says why and what to do.
func Promote(ctx context.Context, ports *port.Catalog, l *lake.Lake, d mesh.Domain, p mesh.Product, branch string, keep bool) (Promoted, error) {
	ref := d.Name + "." + p.Name
	op := "promote " + ref
	if err := port.ValidateBranch(branch); err != nil {
		return Promoted{}, err
	}
	id := port.TableID{Domain: d.Name, Name: p.PortName()}
	b, ok, err := ports.Branch(ctx, id, branch)
	if err != nil {
		return Promoted{}, err
	}
	if !ok {
		return Promoted{}, errs.Errorf(errs.NotFound, op, "%s has no branch %s: `mesh run %s --branch %s` publishes a preview there first", id, branch, ref, branch)
	}
	rerun := fmt.Sprintf("mesh run %s --branch %s", ref, branch)
	if b.MainMoved() {
		return Promoted{}, errs.Errorf(errs.Conflict, op, "%s, so it cannot become main without losing main's newer rows: run the product on the branch again (%s) — it then starts from snapshot %d — check it (mesh diff %s --branch %s), and promote that",
			port.MainMovedMessage(id, b), rerun, b.Main, ref, branch)
	}
	checks, err := SnapshotChecks(b.Head)
	if err != nil {
		return Promoted{}, errs.E(errs.Internal, op, err)
	}
	if failed := quality.Blocking(checks); len(failed) > 0 {
		return Promoted{}, errs.Errorf(errs.Invalid, op, "snapshot %d on branch %s failed %s, so it cannot become main: fix it and run the product on the branch again (%s)",
			b.Head.ID, branch, describeChecks(failed), rerun)
	}
	if rec, ok, err := LatestBranchRun(ctx, l, d.Name, p.Name, branch); err != nil {
		return Promoted{}, err
	} else if ok && (rec.Status == StatusBlocked || rec.Status == StatusFailed) {
		why := "failed: " + rec.Error
		if failed := quality.Blocking(rec.Checks); len(failed) > 0 {
			why = "was blocked by " + describeChecks(failed)
		}
		return Promoted{}, errs.Errorf(errs.Invalid, op, "the latest run on branch %s (%s, %s) %s; the branch still holds snapshot %d from an earlier run, which is not what the product computes now: fix it and run the product on the branch again (%s)",
			branch, rec.WorkflowID, rec.FinishedAt.UTC().Format(time.RFC3339), why, b.Head.ID, rerun)
	}
	if err := promotableContract(ctx, ports, id, b, d, p); err != nil {
		return Promoted{}, err
	}
	snap, err := ports.FastForward(ctx, id, branch, keep)
	if err != nil {
		return Promoted{}, err
	}
	out := Promoted{Table: id.String(), Branch: branch, Snapshot: snap, Previous: b.Main, Kept: keep}
	for _, c := range checks {
		if c.Status == mesh.StatusWarn {
			out.Warned = append(out.Warned, c)
		}
	}
	return out, nil
}

// promotableContract refuses a branch whose contract breaks main's: main's consumers
// rely on it, and a breaking change needs a new major (a new table).
func promotableContract(ctx context.Context, ports *port.Catalog, id port.TableID, b port.Branch, d mesh.Domain, p mesh.Product) error {
	yaml := b.TableProperties[PropContract]
	if yaml == "" {
		return nil
	}
	next, err := contract.Parse([]byte(yaml))
	if err != nil {
		return errs.Errorf(errs.Internal, "promote "+id.String(), "the contract recorded on branch %s does not parse: %v", b.Name, err)
	}
	changes, _, err := ContractChanges(ctx, ports, id, next)
	if err != nil {
		return err
	}
	br := contract.Breaking(changes)
	if len(br) == 0 {
		return nil
	}
	msgs := make([]string, len(br))
	for i, c := range br {
		msgs[i] = c.Message
	}
	return errs.Errorf(errs.Invalid, "promote "+id.String(), "branch %s makes a breaking change to the contract of %s: %s; main's consumers rely on it: bump %s.%s to %d.0.0 (it then publishes a new table %s_v%d) and preview that on the branch",
		b.Name, id, strings.Join(msgs, "; "), d.Name, p.Name, p.Major()+1, p.Name, p.Major()+1)
}

// describeChecks names failed checks with their messages.
func describeChecks(failed []quality.Result) string {
	msgs := make([]string, len(failed))
	for i, r := range failed {
		msgs[i] = r.Name
		if r.Message != "" {
			msgs[i] += " (" + r.Message + ")"
		}
	}
	return "check(s) " + strings.Join(msgs, "; ")
}
