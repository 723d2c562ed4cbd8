package flow

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
	"github.com/meshflow/meshflow/framework/quality"
	"github.com/meshflow/meshflow/framework/transform"
)

// PropIncremental holds, on every snapshot an incremental product (mesh.Incremental)
// publishes, what its rows were computed from (IncrementalState as JSON): the next
// run compares its inputs with it to find what changed.
const PropIncremental = "meshflow.incremental"

// IncrementalState is what an incremental product's publish read: the next run merges
// only the records changed since, or computes everything when it cannot tell.
type IncrementalState struct {
	V int `json:"v"`
	// Decl identifies what the rows depend on in the declaration (model, schema,
	// inputs, key): a change computes everything.
	Decl string `json:"decl"`
	// Raw are the landings read of each raw input (source.stream), as sequence number
	// ranges "1-4,6": a landing committed late under a lower number is still new.
	Raw map[string]string `json:"raw,omitempty"`
	// Seen are the marks of the incremental raw input's rows read (transform.Marks).
	Seen transform.Marks `json:"seen,omitzero"`
	// Lookups are the states of the other raw inputs read (transform.LookupState).
	Lookups map[string]string `json:"lookups,omitempty"`
	// Inputs are the snapshots read of each product input, by port table.
	Inputs map[string]int64 `json:"inputs,omitempty"`
}

// IncrementalRun is what the transform of an incremental product computed: the rows
// of some keys, to merge into the port by key, or the whole port, and why. Only
// references cross to the publish: the replaced keys are a staged file.
type IncrementalRun struct {
	Input string // the incremental input, source.stream or domain.product
	// Merge: the staged rows replace the rows of the keys in KeysKey. Otherwise they
	// are the whole port, and Why says why.
	Merge bool
	Why   string `json:",omitempty"`
	Keys  int64  `json:",omitempty"` // how many keys the rows replace
	// KeysKey is the staging key of the replaced keys (a Parquet file, a column per
	// port key column).
	KeysKey string `json:",omitempty"`
	// LocatedKey is the staging key of where the keys' rows are in the snapshot
	// BaseSnapshot (JSON: data file location → positions), found by the transform, so
	// the publish need not read the key columns of the whole port again.
	LocatedKey string `json:",omitempty"`
	// BaseRunID is the run whose publish (the port's current snapshot) the changes
	// were found against: a merge onto any other publish is refused.
	BaseRunID    string `json:",omitempty"`
	BaseSnapshot int64  `json:",omitempty"`
	// NewOnly: no new version could be a late arrival (transform.IncrementalResult).
	NewOnly bool `json:",omitempty"`
	// State is the IncrementalState (JSON) the publish records.
	State string
}

// Text says what the run computed, for the run's output and record.
func (r *IncrementalRun) Text() string {
	if r == nil {
		return ""
	}
	if r.Merge {
		return fmt.Sprintf("incremental: merged %d changed key%s of %s since snapshot %d", r.Keys, plural(r.Keys), r.Input, r.BaseSnapshot)
	}
	return "incremental: computed everything: " + r.Why
}

func plural(n int64) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// KeysStagingKey is where a run's replaced keys wait for its publish, beside its model.
func KeysStagingKey(domain, portName, runID string) string {
	return path.Join("staging", domain, portName, runID, "keys.parquet")
}

// stagedBeside are the files a run stages beside its model (StagingKey): an
// incremental run's replaced keys and where their rows are.
var stagedBeside = []string{"keys.parquet", "located.json"}

// locateKeys finds where the rows of the replaced keys are in the snapshot the changes
// were found against, and stages it for the publish (IncrementalRun.LocatedKey).
func (a *Activities) locateKeys(ctx context.Context, d mesh.Domain, p mesh.Product, inc *IncrementalRun, keys, scratch, runID string) error {
	id := port.TableID{Domain: d.Name, Name: p.PortName()}
	files, err := a.Ports.LocalScan(ctx, id, inc.BaseSnapshot, filepath.Join(scratch, "located"))
	if err != nil {
		return err
	}
	cols, _ := p.Incremental.Columns()
	in := transform.PortInput{Domain: d.Name, Product: p.Name, Files: files.Data, Locations: files.Locations, Deletes: files.PositionDeletes}
	pos, err := transform.Locate(ctx, in, keys, cols, filepath.Join(scratch, "spill"))
	if err != nil {
		return err
	}
	key := path.Join("staging", d.Name, p.PortName(), runID, "located.json")
	if err := a.Lake.PutJSON(ctx, key, pos); err != nil {
		return err
	}
	inc.LocatedKey = key
	return nil
}

// located reads what locateKeys staged: nil when nothing was.
func (a *Activities) located(ctx context.Context, inc *IncrementalRun) (*port.Located, error) {
	if inc.LocatedKey == "" {
		return nil, nil
	}
	var pos map[string][]int64
	if err := a.Lake.GetJSON(ctx, inc.LocatedKey, &pos); err != nil {
		return nil, err
	}
	return &port.Located{Snapshot: inc.BaseSnapshot, Positions: pos}, nil
}

// incrementalDecl identifies the parts of a declaration an incremental product's rows
// depend on: a change to any of them computes everything. Docs, checks and owners do
// not change a row.
func incrementalDecl(p mesh.Product, decl Declaration) string {
	cols := make([]string, len(p.Schema))
	for i, c := range p.Schema {
		cols[i] = c.Name + " " + string(c.Type)
	}
	return contentHash([]any{p.Model, cols, p.Inputs, p.PrimaryKey, p.Incremental, decl.Upstream})
}

// prepareIncremental decides, before an incremental product's model runs, what the
// run may compute from: the changes since its last publish (req.Incremental.Changes)
// or everything (Changes nil, and why). inputs are the snapshots req reads.
func (a *Activities) prepareIncremental(ctx context.Context, d mesh.Domain, p mesh.Product, decl Declaration, req *transform.Request,
	inputs map[string]int64, in TransformInput, scratch string) (*IncrementalRun, error) {
	inc := p.Incremental
	run := &IncrementalRun{Input: inc.Input.String()}
	req.Incremental = &transform.Incremental{KeysOutput: filepath.Join(scratch, "keys.parquet"), Lookups: map[string]transform.Lookup{}}
	full := func(why string) (*IncrementalRun, error) {
		run.Why = why
		req.Incremental.Changes = nil
		return run, nil
	}
	// The lookups are compared whatever the run computes: their states are recorded.
	id := port.TableID{Domain: d.Name, Name: p.PortName()}
	var prev IncrementalState
	var whyFull string
	cur, ok, err := a.Ports.Current(ctx, id)
	switch {
	case err != nil:
		return nil, err
	case in.Branch != "":
		whyFull = fmt.Sprintf("a preview on branch %s publishes the whole table", in.Branch)
	case in.FullRefresh:
		whyFull = "--full-refresh"
	case !ok:
		whyFull = fmt.Sprintf("the first run (%s has no snapshot yet)", id)
	case cur.Properties[PropIncremental] == "":
		whyFull = fmt.Sprintf("snapshot %d of %s recorded no incremental state (published before the product was incremental)", cur.ID, id)
	default:
		if err := json.Unmarshal([]byte(cur.Properties[PropIncremental]), &prev); err != nil || prev.V != 1 {
			whyFull = fmt.Sprintf("snapshot %d of %s holds an incremental state this worker does not read", cur.ID, id)
		} else if prev.Decl != incrementalDecl(p, decl) {
			whyFull = "the declaration (model, schema, inputs or key) changed since the last publish"
		}
	}
	for _, raw := range req.Raw {
		name := raw.Source + "." + raw.Stream
		if inc.Input == mesh.Raw(raw.Source, raw.Stream) {
			continue
		}
		read, seen := parseSeqs(prev.Raw[name])
		landed := !seen
		read, _, err := a.readSince(ctx, d.Name, raw, read)
		if err != nil {
			return nil, err
		}
		for _, s := range raw.Seqs {
			if !read[s] {
				landed = true
			}
		}
		req.Incremental.Lookups[name] = transform.Lookup{Seen: prev.Lookups[name], Landed: landed}
	}
	if whyFull != "" {
		return full(whyFull)
	}
	var incTable port.TableID // the incremental input's port, when it is a product
	if !inc.Input.IsRaw() {
		up, err := a.upstream(decl, inc.Input)
		if err != nil {
			return nil, err
		}
		incTable = port.TableID{Domain: inc.Input.Domain, Name: up.Table}
	}
	// Another product input that published since computes everything: the rows of
	// every record may depend on it.
	for _, tbl := range slices.Sorted(maps.Keys(inputs)) {
		if tbl == incTable.String() {
			continue
		}
		if was, ok := prev.Inputs[tbl]; !ok || was != inputs[tbl] {
			return full(fmt.Sprintf("input %s is at snapshot %d, the last publish read %s", tbl, inputs[tbl], snapshotText(was, ok)))
		}
	}
	ch := &transform.Changes{}
	if inc.Input.IsRaw() {
		name := inc.Input.String()
		var raw *transform.RawInput
		for i := range req.Raw {
			if req.Raw[i].Source == inc.Input.Source && req.Raw[i].Stream == inc.Input.Stream {
				raw = &req.Raw[i]
			}
		}
		if raw == nil {
			return nil, errs.Errorf(errs.Internal, "transform "+p.Name, "incremental input %s is not among the raw inputs read", name)
		}
		read, ok := parseSeqs(prev.Raw[name])
		if !ok {
			return full(fmt.Sprintf("the last publish recorded no landings of %s", name))
		}
		read, gone, err := a.readSince(ctx, d.Name, *raw, read)
		if err != nil {
			return nil, err
		}
		if gone != 0 {
			return full(fmt.Sprintf("landing %d of %s, which the last publish read, is gone", gone, name))
		}
		for i, f := range raw.Files {
			if !read[raw.FileSeqs[i]] {
				ch.NewFiles = append(ch.NewFiles, f)
			}
		}
		ch.Seen = prev.Seen
	} else {
		tbl := incTable
		was, ok := prev.Inputs[tbl.String()]
		if !ok {
			return full(fmt.Sprintf("the last publish recorded no snapshot of %s", tbl))
		}
		for _, now := range req.Ports {
			if was == inputs[tbl.String()] && now.Domain == inc.Input.Domain && now.Product == inc.Input.Product {
				// The snapshot read last time is the current one: the same files, which
				// the transform sees have not changed without comparing their rows.
				same := now
				ch.Previous = &same
			}
		}
		if ch.Previous == nil {
			files, err := a.Ports.LocalScan(ctx, tbl, was, filepath.Join(scratch, "previous"))
			if errs.Is(err, errs.NotFound) {
				return full(fmt.Sprintf("snapshot %d of %s, which the last publish read, is expired", was, tbl))
			}
			if err != nil {
				return nil, err
			}
			ch.Previous = &transform.PortInput{Domain: inc.Input.Domain, Product: inc.Input.Product, Files: files.Data, Locations: files.Locations, Deletes: files.PositionDeletes}
		}
	}
	req.Incremental.Changes = ch
	run.BaseRunID, run.BaseSnapshot = cur.Properties[PropRunID], cur.ID
	return run, nil
}

// readSince extends read, the landings of raw the last publish read, with the
// compactions of raw (lake.Manifest.Supersedes) that hold only landings it read: their
// records were read, under other numbers. gone is a landing read that no landing read
// now holds (0 = none): deleted without a compaction holding its records.
func (a *Activities) readSince(ctx context.Context, domain string, raw transform.RawInput, read map[int]bool) (map[int]bool, int, error) {
	ms, err := a.Lake.Manifests(ctx, lake.StreamRef{Domain: domain, Source: raw.Source, Stream: raw.Stream})
	if err != nil {
		return nil, 0, err
	}
	out := maps.Clone(read)
	held := map[int]bool{} // landings the live ones are or hold
	for _, m := range ms {
		held[m.Seq] = true
		all := len(m.Supersedes) > 0
		for _, s := range m.Supersedes {
			held[s] = true
			all = all && read[s]
		}
		if all {
			out[m.Seq] = true
		}
	}
	for _, s := range slices.Sorted(maps.Keys(read)) {
		if !held[s] {
			return out, s, nil
		}
	}
	return out, 0, nil
}

// finishIncremental completes run from what the model computed, and the state the
// publish records.
func finishIncremental(run *IncrementalRun, p mesh.Product, decl Declaration, req transform.Request, res *transform.IncrementalResult, inputs map[string]int64) error {
	st := IncrementalState{V: 1, Decl: incrementalDecl(p, decl), Raw: map[string]string{}, Seen: res.Seen, Lookups: res.Lookups, Inputs: inputs}
	for _, raw := range req.Raw {
		st.Raw[raw.Source+"."+raw.Stream] = lake.SeqRanges(raw.Seqs)
	}
	b, err := json.Marshal(st)
	if err != nil {
		return errs.E(errs.Internal, "record the incremental state", err)
	}
	run.State = string(b)
	run.Merge, run.Keys, run.NewOnly = res.Merge, res.Keys, res.NewOnly
	if !res.Merge {
		if run.Why == "" {
			run.Why = res.Why
		}
		run.BaseRunID, run.BaseSnapshot = "", 0
	}
	return nil
}

func snapshotText(id int64, ok bool) string {
	if !ok {
		return "none"
	}
	return strconv.FormatInt(id, 10)
}

// parseSeqs reads lake.SeqRanges; ok is false for "" (nothing recorded) or text it cannot read.
func parseSeqs(text string) (map[int]bool, bool) {
	out := map[int]bool{}
	if text == "" {
		return out, false
	}
	for _, part := range strings.Split(text, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return map[int]bool{}, false
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return map[int]bool{}, false
			}
		}
		for n := a; n <= b; n++ {
			out[n] = true
		}
	}
	return out, true
}

// checkMerged runs an incremental merge's checks where transform's Merged.Plan puts
// them: on the changed rows, from the merge's counts, or on what the merge would leave
// in the port — read only for the last, so a product whose checks pass and judge each
// row by itself runs them at the cost of its changes.
func (a *Activities) checkMerged(ctx context.Context, d mesh.Domain, p mesh.Product, staged string, inc IncrementalRun, now time.Time) ([]quality.Result, error) {
	cols, _ := p.Incremental.Columns()
	id := port.TableID{Domain: d.Name, Name: p.PortName()}
	m := transform.Merged{Port: transform.PortInput{Domain: d.Name, Product: p.Name}, Staged: staged, KeyColumns: cols}
	if err := a.mergeBase(ctx, id, &inc, &m); err != nil {
		return nil, err
	}
	plan, err := m.Plan(ctx, p.AllChecks())
	if err != nil {
		return nil, err
	}
	if !plan.ReadsPort() {
		return transform.CheckMerged(ctx, m, plan, now)
	}
	scratch, err := os.MkdirTemp(a.WorkDir, "check-")
	if err != nil {
		return nil, errs.E(errs.Internal, "check "+p.Name, err)
	}
	defer os.RemoveAll(scratch)
	files, err := a.Ports.LocalScan(ctx, id, inc.BaseSnapshot, filepath.Join(scratch, "port"))
	if err != nil {
		return nil, err
	}
	keys, err := a.Lake.LocalFiles(ctx, []string{inc.KeysKey}, filepath.Join(scratch, "keys"))
	if err != nil {
		return nil, err
	}
	m.Port.Files, m.Port.Locations, m.Port.Deletes = files.Data, files.Locations, files.PositionDeletes
	m.Keys = keys[0]
	return transform.CheckMerged(ctx, m, plan, now)
}

// mergeBase fills in what the snapshot the changes were found against says about the
// merge's checks: its rows and how many of them the changed keys replace (Counts;
// unknown without rows located — IncrementalRun.LocatedKey — or a row total in its
// summary), and the SQL checks it passed with no offending row (PortPassed).
func (a *Activities) mergeBase(ctx context.Context, id port.TableID, inc *IncrementalRun, m *transform.Merged) error {
	snaps, err := a.Ports.Snapshots(ctx, id)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(snaps, func(s port.Snapshot) bool { return s.ID == inc.BaseSnapshot })
	if i < 0 {
		return nil
	}
	base := snaps[i]
	// Checks that do not parse pass nothing on: every SQL check then reads the port.
	results, _ := SnapshotChecks(base)
	for _, r := range results {
		if r.Kind == string(mesh.KindSQL) && r.Status == mesh.StatusPass && r.Failing == 0 && r.SQLHash != "" {
			if m.PortPassed == nil {
				m.PortPassed = map[string]string{}
			}
			m.PortPassed[r.Name] = r.SQLHash
		}
	}
	loc, err := a.located(ctx, inc)
	if err != nil || loc == nil || base.Properties["total-records"] == "" {
		return err
	}
	m.Counts = &transform.MergeCounts{PortRows: base.Rows, Replaced: loc.Rows()}
	return nil
}
