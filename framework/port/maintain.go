package port

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/apache/iceberg-go/table/compaction"

	"github.com/meshflow/meshflow/framework/errs"
)

// Table maintenance keeps a port's cost flat as its history grows: every publish adds
// a snapshot, a manifest and data files, which readers and the next publish plan over.
// iceberg-go v0.7 does the work — compaction planning and rewriting
// (table/compaction, ExecuteCompactionGroup, RewriteFiles), RewriteManifests, snapshot
// removal with its file clean-up (RemoveSnapshotsUpdate.PostCommit) and orphan
// planning (PlanOrphanFiles) — and this file decides what may go: which snapshots a
// port's readers, branches and consumers still need, and only files under the table's
// own location. Every commit goes through commit's reload-and-rebuild, so a publish
// landing meanwhile makes maintenance start again on it rather than undo it.

// PropMaintenance marks a snapshot maintenance made (a compaction): its rows are its
// parent's, so it carries its publish's properties (see snapshotOf).
const PropMaintenance = "meshflow.maintenance"

// Retention says which snapshots expiry keeps: every snapshot younger than MaxAge, and
// on main and on each branch at least the MinSnapshots newest publishes, whatever their
// age. Zero fields take DefaultRetention's.
type Retention struct {
	MaxAge       time.Duration
	MinSnapshots int
}

// DefaultRetention keeps 30 days of snapshots and at least the last 10 publishes.
var DefaultRetention = Retention{MaxAge: 30 * 24 * time.Hour, MinSnapshots: 10}

func (r Retention) orDefault() Retention {
	if r.MaxAge <= 0 {
		r.MaxAge = DefaultRetention.MaxAge
	}
	if r.MinSnapshots <= 0 {
		r.MinSnapshots = DefaultRetention.MinSnapshots
	}
	return r
}

// DefaultOrphanAge is how old an unreferenced file must be before it counts as an
// orphan: a publish writes its data files before it commits them, and a file younger
// than this may belong to one still in flight (Iceberg's own default, three days, far
// beyond any publish's length).
const DefaultOrphanAge = 72 * time.Hour

// MaintainRequest says what Maintain may do to a table.
type MaintainRequest struct {
	Retention Retention
	// Keep are snapshots something outside the table still reads, with who: the input
	// snapshots a consumer's current snapshot was computed from. Never expired.
	Keep map[int64]string
	// OrphanAge: files younger are never deleted as orphans (0 = DefaultOrphanAge).
	OrphanAge  time.Duration
	Compaction CompactOptions
	// Now is the clock retention counts from (zero = time.Now).
	Now time.Time
	// DryRun plans every step and changes nothing.
	DryRun bool
}

// Maintenance is what Maintain did to a table, or would do in a dry run.
type Maintenance struct {
	Table     string             `json:"table"`
	DryRun    bool               `json:"dry_run,omitempty"`
	Before    Stats              `json:"before"`
	After     Stats              `json:"after"`
	Compacted Compacted          `json:"compacted"`
	Manifests ManifestsRewritten `json:"manifests"`
	Expired   Expired            `json:"expired"`
	Orphans   Orphans            `json:"orphans"`
}

// Maintain compacts small data files, merges manifests, expires snapshots past their
// retention and deletes orphan files, in that order: the snapshots the first two make
// are the newest, and expiry and orphan deletion then see the table as they left it.
func (c *Catalog) Maintain(ctx context.Context, id TableID, req MaintainRequest) (Maintenance, error) {
	m := Maintenance{Table: id.String(), DryRun: req.DryRun}
	var err error
	if m.Before, err = c.Stats(ctx, id); err != nil {
		return m, err
	}
	req.Compaction.DryRun = req.DryRun
	if m.Compacted, err = c.Compact(ctx, id, req.Compaction); err != nil {
		return m, err
	}
	if m.Manifests, err = c.RewriteManifests(ctx, id, req.DryRun); err != nil {
		return m, err
	}
	if m.Expired, err = c.ExpireSnapshots(ctx, id, ExpireRequest{Retention: req.Retention, Keep: req.Keep, Now: req.Now, DryRun: req.DryRun}); err != nil {
		return m, err
	}
	if m.Orphans, err = c.DeleteOrphanFiles(ctx, id, req.OrphanAge, req.DryRun); err != nil {
		return m, err
	}
	m.After, err = c.Stats(ctx, id)
	return m, err
}

// Stats is the size of a table: its current snapshot's data files and manifests, and
// the snapshots its metadata keeps.
type Stats struct {
	Snapshot  int64 `json:"snapshot,omitempty"`
	DataFiles int   `json:"data_files"`
	DataBytes int64 `json:"data_bytes"`
	Manifests int   `json:"manifests"`
	Snapshots int   `json:"snapshots"`
}

// Stats returns the table's Stats; a missing table is errs.NotFound.
func (c *Catalog) Stats(ctx context.Context, id TableID) (Stats, error) {
	op := "port: stats of " + id.String()
	tbl, err := c.load(ctx, op, id)
	if err != nil {
		return Stats{}, err
	}
	st := Stats{Snapshots: len(tbl.Metadata().Snapshots())}
	cur := tbl.CurrentSnapshot()
	if cur == nil {
		return st, nil
	}
	st.Snapshot = cur.SnapshotID
	if cur.Summary != nil {
		// Iceberg keeps the totals in every snapshot's summary: no manifest is read.
		st.DataFiles, _ = strconv.Atoi(cur.Summary.Properties["total-data-files"])
		st.DataBytes, _ = strconv.ParseInt(cur.Summary.Properties["total-files-size"], 10, 64)
	}
	manifests, err := dataManifests(ctx, tbl, cur)
	if err != nil {
		return st, errs.E(errs.Transient, op, err)
	}
	st.Manifests = len(manifests)
	return st, nil
}

// Heads returns the head of every branch of the table by name ("" for main), as
// readers see them (snapshotOf); a table never published has none.
func (c *Catalog) Heads(ctx context.Context, id TableID) (map[string]Snapshot, error) {
	tbl, err := c.load(ctx, "port: heads of "+id.String(), id)
	if errs.Is(err, errs.NotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[string]Snapshot{}
	for name, r := range tbl.Metadata().Refs() {
		s := tbl.SnapshotByID(r.SnapshotID)
		if r.SnapshotRefType != table.BranchRef || s == nil {
			continue
		}
		if name == table.MainBranch {
			name = ""
		}
		out[name] = snapshotOf(tbl, s)
	}
	return out, nil
}

// dataManifests are the data manifests of snapshot s (delete manifests left out).
func dataManifests(ctx context.Context, tbl *table.Table, s *table.Snapshot) ([]iceberg.ManifestFile, error) {
	fsys, err := tbl.FS(ctx)
	if err != nil {
		return nil, err
	}
	all, err := s.Manifests(fsys)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(m iceberg.ManifestFile) bool { return m.ManifestContent() != iceberg.ManifestContentData }), nil
}

// CompactOptions tune Compact; zero values take the defaults.
type CompactOptions struct {
	// TargetFileSize is the size compacted files are written to; files under 75% of it
	// are small. 0 = the table's write.target-file-size-bytes (Iceberg's default 512 MiB).
	TargetFileSize int64
	// MinInputFiles: a partition's small files are rewritten only when there are at
	// least this many (0 = 5, Iceberg's default): rewriting two files saves little.
	MinInputFiles int
	// PartitionColumn is the column publishes replace one value at a time
	// (mesh.Product.PartitionBy), "" for a product published whole. A table not
	// partitioned by it is left uncompacted: a merged file would hold many days, and
	// each day's publish would then rewrite all of it.
	PartitionColumn string
	DryRun          bool
}

// Compacted is what Compact did (in a dry run: would do).
type Compacted struct {
	FilesBefore int    `json:"files_before"` // data files of the current snapshot
	Files       int    `json:"files"`        // small files rewritten
	Bytes       int64  `json:"bytes"`        // their size
	Groups      int    `json:"groups"`       // bins of files rewritten together, each within one partition
	FilesOut    int    `json:"files_out"`    // files written (a dry run: estimated)
	BytesOut    int64  `json:"bytes_out"`
	Snapshot    int64  `json:"snapshot,omitempty"` // the replace snapshot committed
	Skipped     string `json:"skipped,omitempty"`  // why nothing was compacted, when a reason beyond "no small files"
}

// Compact rewrites the small data files of main's current snapshot into files of the
// target size, partition by partition, as one replace snapshot: the rows stay the same,
// and the snapshot carries its publish's properties (snapshotOf). A publish that lands
// meanwhile makes it plan again on the new snapshot; the files a lost attempt wrote are
// deleted.
func (c *Catalog) Compact(ctx context.Context, id TableID, opts CompactOptions) (Compacted, error) {
	op := "port: compact " + id.String()
	tbl, err := c.load(ctx, op, id)
	if err != nil {
		return Compacted{}, err
	}
	res, groups, err := planCompaction(ctx, tbl, opts)
	if err != nil {
		return res, errs.E(errs.Internal, op, err)
	}
	if opts.DryRun || len(groups) == 0 {
		return res, nil
	}
	var written []iceberg.DataFile // by the attempt being built or committed
	staged := false                // the attempt was handed to the catalog
	committed, err := c.commit(ctx, op, id, tbl, func(ctx context.Context, tbl *table.Table, attempt int) (*table.Transaction, error) {
		removeDataFiles(ctx, tbl, written) // a lost race's files: nothing references them
		written, staged = nil, false
		if attempt > 0 {
			var perr error
			if res, groups, perr = planCompaction(ctx, tbl, opts); perr != nil {
				return nil, errs.E(errs.Internal, op, perr)
			}
		}
		txn := tbl.NewTransaction()
		if len(groups) == 0 {
			return txn, nil // the winner left nothing to compact
		}
		rw := txn.NewRewrite(iceberg.Properties{PropMaintenance: "compact"})
		res.FilesOut, res.BytesOut = 0, 0
		for _, g := range groups {
			gr, gerr := table.ExecuteCompactionGroup(ctx, tbl, table.CompactionTaskGroup{PartitionKey: g.PartitionKey, Tasks: g.Tasks, TotalSizeBytes: g.TotalSizeBytes},
				table.WithCompactionTargetFileSize(targetFileSize(tbl, opts)))
			written = append(written, gr.NewDataFiles...)
			if gerr != nil {
				return nil, errs.E(kindOf(gerr), op, gerr)
			}
			rw.ApplyResult(gr)
			res.FilesOut += len(gr.NewDataFiles)
			res.BytesOut += gr.BytesAfter
		}
		if cerr := rw.Commit(ctx); cerr != nil {
			return nil, errs.E(kindOf(cerr), op, cerr)
		}
		staged = true
		return txn, nil
	})
	if err != nil {
		// Files of an attempt never committed, or whose every attempt lost its race,
		// go; after a commit of unknown outcome they stay, since it may reference them.
		if !staged || errs.Is(err, errs.Conflict) {
			removeDataFiles(ctx, tbl, written)
		}
		return res, err
	}
	if len(groups) > 0 {
		res.Snapshot = committed.CurrentSnapshot().SnapshotID
	}
	return res, nil
}

// planCompaction plans the compaction of tbl's current snapshot with iceberg-go's
// bin-packing planner.
func planCompaction(ctx context.Context, tbl *table.Table, opts CompactOptions) (Compacted, []compaction.Group, error) {
	cur := tbl.CurrentSnapshot()
	if cur == nil {
		return Compacted{}, nil, nil
	}
	var res Compacted
	if cur.Summary != nil {
		res.FilesBefore, _ = strconv.Atoi(cur.Summary.Properties["total-data-files"])
	}
	if col := opts.PartitionColumn; col != "" {
		f, ok := tbl.Schema().FindFieldByName(col)
		spec := tbl.Spec()
		if !ok || len(spec.FieldsBySourceID(f.ID)) == 0 {
			res.Skipped = fmt.Sprintf("the table is not partitioned by %s, which its publishes replace one day at a time: a compacted file would hold many days, and each day's publish would rewrite it whole", col)
			return res, nil, nil
		}
	}
	target := targetFileSize(tbl, opts)
	cfg := compaction.DefaultConfig()
	cfg.TargetFileSizeBytes, cfg.MinFileSizeBytes, cfg.MaxFileSizeBytes = target, target*3/4, target*9/5
	if opts.MinInputFiles > 0 {
		cfg.MinInputFiles = uint(opts.MinInputFiles)
	}
	scan := tbl.Scan()
	defer scan.Close()
	tasks, err := scan.PlanFiles(ctx)
	if err != nil {
		return res, nil, err
	}
	plan, err := cfg.PlanCompaction(tasks)
	if err != nil {
		return res, nil, err
	}
	res.FilesBefore = plan.TotalInputFiles
	res.Groups, res.FilesOut = len(plan.Groups), plan.EstOutputFiles
	for _, g := range plan.Groups {
		res.Files += len(g.Tasks)
		res.Bytes += g.TotalSizeBytes
	}
	res.BytesOut = plan.EstOutputBytes
	return res, plan.Groups, nil
}

func targetFileSize(tbl *table.Table, opts CompactOptions) int64 {
	if opts.TargetFileSize > 0 {
		return opts.TargetFileSize
	}
	return tbl.Properties().GetInt64(table.WriteTargetFileSizeBytesKey, table.WriteTargetFileSizeBytesDefault)
}

// removeDataFiles deletes files a compaction wrote and never committed. Best effort: a
// file left behind is an orphan, which DeleteOrphanFiles reclaims.
func removeDataFiles(ctx context.Context, tbl *table.Table, files []iceberg.DataFile) {
	if len(files) == 0 {
		return
	}
	fsys, err := tbl.FS(ctx)
	if err != nil {
		return
	}
	for _, f := range files {
		_ = fsys.Remove(f.FilePath())
	}
}

// ManifestsRewritten is what RewriteManifests did (in a dry run: would do).
type ManifestsRewritten struct {
	Before   int   `json:"before"` // data manifests of the current snapshot
	After    int   `json:"after"`  // after the rewrite (a dry run: estimated)
	Snapshot int64 `json:"snapshot,omitempty"`
}

// RewriteManifests merges the data manifests of main's current snapshot into as few as
// their size allows (commit.manifest.target-size-bytes, 8 MiB by default): a planner
// reads every manifest of the snapshot, so each publish that adds one makes every read
// and the next publish slower. It is iceberg-go's RewriteManifests; the replace
// snapshot it commits carries no properties of its own, and reads as its publish's
// (snapshotOf).
func (c *Catalog) RewriteManifests(ctx context.Context, id TableID, dryRun bool) (ManifestsRewritten, error) {
	op := "port: rewrite manifests of " + id.String()
	tbl, err := c.load(ctx, op, id)
	if err != nil {
		return ManifestsRewritten{}, err
	}
	cur := tbl.CurrentSnapshot()
	if cur == nil {
		return ManifestsRewritten{}, nil
	}
	manifests, err := dataManifests(ctx, tbl, cur)
	if err != nil {
		return ManifestsRewritten{}, errs.E(errs.Transient, op, err)
	}
	res := ManifestsRewritten{Before: len(manifests), After: len(manifests)}
	if len(manifests) <= 1 {
		return res, nil
	}
	if dryRun {
		target := tbl.Properties().GetInt64(table.ManifestTargetSizeBytesKey, table.ManifestTargetSizeBytesDefault)
		var size int64
		for _, m := range manifests {
			size += m.Length()
		}
		res.After = max(1, int((size+target-1)/target))
		return res, nil
	}
	var rewrite *table.RewriteManifestsResult
	committed, err := c.commit(ctx, op, id, tbl, func(ctx context.Context, tbl *table.Table, _ int) (*table.Transaction, error) {
		txn := tbl.NewTransaction()
		if rewrite, err = txn.RewriteManifests(ctx); err != nil {
			return nil, errs.E(kindOf(err), op, err)
		}
		return txn, nil
	})
	if err != nil {
		return res, err
	}
	if rewrite.IsNoOp() {
		return res, nil
	}
	cur = committed.CurrentSnapshot()
	res.Snapshot = cur.SnapshotID
	if manifests, err = dataManifests(ctx, committed, cur); err != nil {
		return res, errs.E(errs.Transient, op, err)
	}
	res.After = len(manifests)
	return res, nil
}

// ExpireRequest says which snapshots ExpireSnapshots may expire.
type ExpireRequest struct {
	Retention Retention
	Keep      map[int64]string // see MaintainRequest.Keep
	Now       time.Time        // zero = time.Now
	DryRun    bool
}

// Expired is what ExpireSnapshots did (in a dry run: would do).
type Expired struct {
	Snapshots []int64 `json:"snapshots,omitempty"` // expired, oldest first
	Kept      int     `json:"kept"`                // snapshots the table keeps
	// KeptPastRetention are the snapshots older than the retention that stay, each
	// with what needs it (a branch, a consumer, a compaction's publish).
	KeptPastRetention []KeptSnapshot `json:"kept_past_retention,omitempty"`
	// Warning says the expired snapshots' files could not all be deleted: they are
	// orphans now, deleted by the next orphan clean-up.
	Warning string `json:"warning,omitempty"`
}

// KeptSnapshot is a snapshot past the retention that stays, and why.
type KeptSnapshot struct {
	ID  int64  `json:"id"`
	Why string `json:"why"`
}

// ExpireSnapshots removes the snapshots the retention no longer keeps and nothing
// needs (see expirable), then deletes the files only they referenced (iceberg-go's
// RemoveSnapshots clean-up). Time travel to an expired snapshot fails from then on.
func (c *Catalog) ExpireSnapshots(ctx context.Context, id TableID, req ExpireRequest) (Expired, error) {
	op := "port: expire snapshots of " + id.String()
	tbl, err := c.load(ctx, op, id)
	if err != nil {
		return Expired{}, err
	}
	if req.Now.IsZero() {
		req.Now = time.Now()
	}
	ret := req.Retention.orDefault()
	res := expirable(tbl.Metadata(), ret, req.Keep, req.Now)
	if req.DryRun || len(res.Snapshots) == 0 {
		return res, nil
	}
	base := tbl
	committed, err := c.commitUpdates(ctx, op, id, tbl, func(tbl *table.Table) ([]table.Requirement, []table.Update, error) {
		base, res = tbl, expirable(tbl.Metadata(), ret, req.Keep, req.Now)
		if len(res.Snapshots) == 0 {
			return nil, nil, nil
		}
		// Every ref must be where it was planned from: a publish meanwhile may have
		// moved one, and the plan is made again on it.
		reqs := []table.Requirement{table.AssertTableUUID(tbl.Metadata().TableUUID())}
		for name, r := range tbl.Metadata().Refs() {
			reqs = append(reqs, table.AssertRefSnapshotID(name, &r.SnapshotID))
		}
		return reqs, []table.Update{table.NewRemoveSnapshotsUpdate(res.Snapshots, false)}, nil
	})
	if err != nil || len(res.Snapshots) == 0 {
		return res, err
	}
	// iceberg-go's own clean-up of the removed snapshots' manifests, lists and data
	// files, run here rather than inside the commit so that a failed delete is not
	// mistaken for a failed commit: the snapshots are gone either way.
	if err := table.NewRemoveSnapshotsUpdate(res.Snapshots, true).PostCommit(ctx, base, committed); err != nil {
		res.Warning = fmt.Sprintf("the expired snapshots' files were not all deleted (%v): they are orphans now, and the next orphan clean-up deletes them", err)
	}
	return res, nil
}

// expirable decides which snapshots of md go. A snapshot stays when
//   - a ref points at it (main's current snapshot, a branch's head, a tag);
//   - it is within the retention: younger than MaxAge, or among the MinSnapshots
//     newest publishes of main or of a branch;
//   - a branch needs it: the branch's own snapshots down to the one of main it was
//     made from, and main's since, through which promote finds that one
//     (Branch.MainMoved);
//   - keep names it (a consumer's lineage);
//   - a replace snapshot that stays reads its properties from it (snapshotOf).
//
// Every other snapshot is expired, oldest first.
func expirable(md table.Metadata, ret Retention, keep map[int64]string, now time.Time) Expired {
	cutoff := now.Add(-ret.MaxAge).UnixMilli()
	lookup := md.SnapshotByID
	within := map[int64]bool{}
	for _, s := range md.Snapshots() {
		if s.TimestampMs >= cutoff {
			within[s.SnapshotID] = true
		}
	}
	refs := maps.Collect(md.Refs())
	for _, r := range refs {
		within[r.SnapshotID] = true
		if r.SnapshotRefType != table.BranchRef {
			continue
		}
		publishes := 0
		for _, s := range table.AncestorsOf(r.SnapshotID, lookup) {
			if s.TimestampMs < cutoff && publishes >= ret.MinSnapshots {
				break
			}
			within[s.SnapshotID] = true
			if !isReplace(&s) {
				publishes++
			}
		}
	}

	needed := map[int64]string{}
	need := func(id int64, why string) {
		if !within[id] && needed[id] == "" && lookup(id) != nil {
			needed[id] = why
		}
	}
	for _, id := range slices.Sorted(maps.Keys(keep)) {
		need(id, keep[id])
	}
	onMain := map[int64]bool{}
	if r, ok := refs[table.MainBranch]; ok {
		for _, s := range table.AncestorsOf(r.SnapshotID, lookup) {
			onMain[s.SnapshotID] = true
		}
	}
	for _, name := range slices.Sorted(maps.Keys(refs)) {
		r := refs[name]
		if name == table.MainBranch || r.SnapshotRefType != table.BranchRef {
			continue
		}
		for _, s := range table.AncestorsOf(r.SnapshotID, lookup) {
			if onMain[s.SnapshotID] {
				need(s.SnapshotID, "branch "+name+" was made from it")
				// Promote tells main moved by finding the fork in main's lineage, which
				// must stay whole down to it.
				for _, m := range table.AncestorsOf(refs[table.MainBranch].SnapshotID, lookup) {
					if m.SnapshotID == s.SnapshotID {
						break
					}
					need(m.SnapshotID, "main's history since branch "+name+" was made (promote or remove the branch to let it go)")
				}
				break
			}
			need(s.SnapshotID, "on branch "+name)
		}
	}
	kept := slices.Collect(maps.Keys(within))
	kept = append(kept, slices.Collect(maps.Keys(needed))...)
	slices.Sort(kept)
	for _, id := range kept {
		for s := lookup(id); s != nil && isReplace(s) && s.ParentSnapshotID != nil; {
			parent := *s.ParentSnapshotID
			need(parent, fmt.Sprintf("snapshot %d, a compaction or manifest rewrite, reads its publish's properties from it", id))
			s = lookup(parent)
		}
	}

	var res Expired
	var snaps []table.Snapshot
	for _, s := range md.Snapshots() {
		if !within[s.SnapshotID] && needed[s.SnapshotID] == "" {
			snaps = append(snaps, s)
		}
	}
	slices.SortFunc(snaps, func(a, b table.Snapshot) int { return cmp.Compare(a.TimestampMs, b.TimestampMs) })
	for _, s := range snaps {
		res.Snapshots = append(res.Snapshots, s.SnapshotID)
	}
	res.Kept = len(md.Snapshots()) - len(res.Snapshots)
	for _, id := range slices.Sorted(maps.Keys(needed)) {
		res.KeptPastRetention = append(res.KeptPastRetention, KeptSnapshot{ID: id, Why: needed[id]})
	}
	return res
}

func isReplace(s *table.Snapshot) bool {
	return s.Summary != nil && s.Summary.Operation == table.OpReplace
}

// snapshotOf is s as a port's readers see it. A replace snapshot — a compaction, a
// manifest rewrite, made here or by any engine — changes no row (Iceberg's definition
// of replace), so it carries the properties of the publish it was made from, the
// nearest ancestor that is not a replace: the run, checks, watermark, published time
// and content the catalog, freshness and unchanged-run detection read. Its own summary
// (totals, what it rewrote) is kept on top.
func snapshotOf(tbl *table.Table, s *table.Snapshot) Snapshot {
	out := toSnapshot(s)
	p := s
	for p != nil && isReplace(p) && p.ParentSnapshotID != nil {
		p = tbl.SnapshotByID(*p.ParentSnapshotID)
	}
	if p != nil && p != s && !isReplace(p) {
		inherited := toSnapshot(p).Properties
		maps.Copy(inherited, out.Properties)
		out.Properties = inherited
	}
	return out
}

// Orphans is what DeleteOrphanFiles did (in a dry run: would do).
type Orphans struct {
	Files     []OrphanFile  `json:"files,omitempty"`
	Bytes     int64         `json:"bytes"`
	Deleted   int           `json:"deleted"`
	OlderThan time.Duration `json:"older_than"`
}

// OrphanFile is a file in a table's location that no metadata references.
type OrphanFile struct {
	Path  string `json:"path"`
	Bytes int64  `json:"bytes"`
}

// DeleteOrphanFiles deletes the files under the table's location that no metadata of
// the table references — data files of a publish attempt that lost its commit and
// died before removing them, manifests of a lost rewrite, metadata files past the
// metadata log — once older than olderThan (0 = DefaultOrphanAge), so the files of a
// publish still in flight are never touched. iceberg-go's PlanOrphanFiles finds them
// (every snapshot's manifests, branches' too); a path outside the table's own
// location is never deleted, whatever it reports.
func (c *Catalog) DeleteOrphanFiles(ctx context.Context, id TableID, olderThan time.Duration, dryRun bool) (Orphans, error) {
	op := "port: delete orphan files of " + id.String()
	if olderThan <= 0 {
		olderThan = DefaultOrphanAge
	}
	res := Orphans{OlderThan: olderThan}
	tbl, err := c.load(ctx, op, id)
	if err != nil {
		return res, err
	}
	plan, err := tbl.PlanOrphanFiles(ctx, table.WithFilesOlderThan(olderThan))
	if err != nil {
		return res, errs.E(kindOfIO(err), op, err)
	}
	fsys, err := tbl.FS(ctx)
	if err != nil {
		return res, errs.E(errs.Transient, op, err)
	}
	root := strings.TrimSuffix(pathOf(tbl.Location()), "/") + "/"
	for _, f := range plan.OrphanFiles() {
		if !strings.HasPrefix(pathOf(f.Path), root) {
			continue
		}
		res.Files = append(res.Files, OrphanFile{Path: f.Path, Bytes: f.SizeBytes})
		res.Bytes += f.SizeBytes
		if dryRun {
			continue
		}
		if err := fsys.Remove(f.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return res, errs.E(kindOfIO(err), op, fmt.Errorf("delete %s: %w", f.Path, err))
		}
		res.Deleted++
	}
	return res, nil
}

// pathOf is a location without its file:// scheme, so a local table's location and
// the paths a directory walk reports compare alike.
func pathOf(loc string) string {
	if p, ok := strings.CutPrefix(loc, "file://"); ok {
		return p
	}
	return loc
}
