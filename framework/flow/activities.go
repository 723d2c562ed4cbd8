package flow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/rs/zerolog"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"gocloud.dev/gcerrors"

	"github.com/meshflow/meshflow/framework/alert"
	"github.com/meshflow/meshflow/framework/contract"
	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/lineage"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
	"github.com/meshflow/meshflow/framework/quality"
	"github.com/meshflow/meshflow/framework/source"
	"github.com/meshflow/meshflow/framework/telemetry"
	"github.com/meshflow/meshflow/framework/transform"
)

// Activities are the steps of a product run. They hold their dependencies, so tests can
// swap them; one value serves every domain a worker hosts.
type Activities struct {
	Mesh    mesh.Mesh
	Lake    *lake.Lake
	Ports   *port.Catalog
	Sources map[string]source.Source // configured connectors by name
	WorkDir string                   // local scratch space for DuckDB
	Log     zerolog.Logger
	Reader  *source.ReaderOptions // paging/retry tuning (nil = defaults)
	// Declared, when set, gives the declarations a run starts from instead of Mesh: the
	// models as saved in a checkout (mesh dev), so an edit needs no rebuild. A run
	// records what it started from (ResolvePlan), so it never sees a later edit.
	Declared func() mesh.Mesh
	// Client signals the trigger workflows of the products a run's publish starts
	// (Announce) and asks which inputs are running (InputsBusy). nil = nobody is told.
	Client client.Client
	// Alerts tells owners what broke and what recovered; nil sends nothing.
	Alerts *alert.Notifier
	// Lineage tells an OpenLineage receiver what each run read and wrote; nil sends nothing.
	Lineage *lineage.Sender

	// declarations caches the run declarations read or written in Lake, by key: a key
	// names its content, so an entry never goes stale.
	declarations sync.Map // key → Declaration
}

// Land reads one raw stream from its cursor into the lake and commits a manifest. A
// retried attempt resumes after the files the previous attempt closed (heartbeat details).
func (a *Activities) Land(ctx context.Context, in LandInput) (LandOutput, error) {
	src, ok := a.Sources[in.Source]
	if !ok {
		return LandOutput{}, toTemporal(ctx, errs.Errorf(errs.Invalid, "land "+in.Source, "no %s connector is configured on this worker: set its credentials (see README) and restart the worker", in.Source))
	}
	stream, ok := source.Lookup(src, in.Stream)
	if !ok {
		return LandOutput{}, toTemporal(ctx, errs.Errorf(errs.Invalid, "land "+in.Source, "connector %s has no stream %q", in.Source, in.Stream))
	}
	ref := lake.StreamRef{Domain: in.Domain, Source: in.Source, Stream: in.Stream}
	info := activity.GetInfo(ctx)
	if mayHaveRunBefore(ctx) {
		// An earlier attempt may have committed and been lost before reporting it:
		// landing again would commit the run's rows a second time.
		if key, m, ok, err := a.Lake.CommittedBy(ctx, ref, in.RunID, in.Partition); err != nil {
			return LandOutput{}, toTemporal(ctx, err)
		} else if ok {
			a.Log.Warn().Str("stream", ref.String()).Str("manifest", key).Str("run_id", in.RunID).Int32("attempt", info.Attempt).
				Msg("an earlier attempt committed this run's landing and was lost before reporting it; returning that manifest")
			return LandOutput{ManifestKey: key, Rows: m.Rows, Files: len(m.Files), Warnings: m.Warnings}, nil
		}
	}
	var cursor json.RawMessage
	var keys []source.Key
	if spec := stream.Spec(); spec.Keys != nil {
		// A keyed stream asks about this sync's keys from the first: its cursor only
		// says how far a landing got through them (see keys).
		var err error
		if keys, err = a.keys(ctx, ref, spec); err != nil {
			return LandOutput{}, toTemporal(ctx, err)
		}
	} else if !in.FullRefresh {
		c, err := a.Lake.Cursor(ctx, ref)
		if err != nil {
			return LandOutput{}, toTemporal(ctx, err)
		}
		cursor = c
	}
	// A retried attempt resumes from its predecessor's last heartbeat; the first attempt
	// after a quota wait from where the stopped landing got to.
	resume := in.Resume
	if activity.HasHeartbeatDetails(ctx) {
		var cp lake.Checkpoint
		if err := activity.GetHeartbeatDetails(ctx, &cp); err == nil {
			resume = &cp
		}
	}
	// Heartbeats carry the checkpoint the next attempt resumes from, and keep going
	// between pages: a slow page or a long rate-limit wait is not a dead worker.
	var details []any
	if resume != nil {
		details = []any{*resume}
	}
	hb := keepAlive(ctx, heartbeatEvery, details...)
	defer hb.stop()
	log := a.Log.With().Str("domain", in.Domain).Str("source", in.Source).Str("stream", in.Stream).Str("run_id", in.RunID).Logger()
	res, err := a.Lake.Land(ctx, stream, lake.LandRequest{
		Stream: ref, RunID: in.RunID, SyncStart: in.SyncStart, Partition: in.Partition, Keys: keys, Cursor: cursor, Resume: resume,
		// The activity id tells the landings before and after a quota wait apart, the
		// attempt number the retries of one (see lake.LandRequest.Attempt).
		Attempt:  fmt.Sprintf("%s-%d", info.ActivityID, info.Attempt),
		Reader:   a.Reader,
		Progress: func(cp lake.Checkpoint) { hb.update(cp) },
	})
	a.landed(ctx, in, res, err)
	if err != nil {
		log.Error().Err(err).Msg("landing failed")
		if res.Checkpoint != nil {
			// Stopped by an exhausted quota: the workflow resumes from here after the wait.
			return LandOutput{}, toTemporal(ctx, err, *res.Checkpoint)
		}
		return LandOutput{}, toTemporal(ctx, err)
	}
	log.Info().Int64("rows", res.Manifest.Rows).Int("pages", res.Stats.Pages).Int("retries", res.Stats.Retries).Str("manifest", res.ManifestKey).Msg("landed")
	return LandOutput{ManifestKey: res.ManifestKey, Rows: res.Manifest.Rows, Files: len(res.Manifest.Files), Pages: res.Stats.Pages, Retries: res.Stats.Retries,
		Warnings: res.Manifest.Warnings}, nil
}

// landed records a landing's metrics (telemetry.Landed): its rows and the bytes of its
// files when it committed, and the requests it sent either way.
func (a *Activities) landed(ctx context.Context, in LandInput, res lake.LandResult, err error) {
	l := telemetry.Landing{Domain: in.Domain, Source: in.Source, Stream: in.Stream,
		Requests: res.Stats.Pages + res.Stats.Retries, RateLimited: res.Stats.RateLimited, Retries: res.Stats.Retries, Waited: res.Stats.Waited}
	if err == nil {
		l.Rows = res.Manifest.Rows
		for _, f := range res.Manifest.Files {
			// A size that cannot be read only leaves the byte count short.
			if attrs, aerr := a.Lake.Bucket.Attributes(ctx, f.Key); aerr == nil {
				l.Bytes += attrs.Size
			}
		}
	}
	telemetry.Landed(ctx, l)
}

// keys lists a keyed stream's keys for this landing: its query over the current
// snapshots of the ports it names and the stream's own committed landings (so it can
// leave out what it has asked about lately). Every attempt of a run computes the same
// list unless a port it reads was published in between; the stream's cursor names the
// last key done, so a resumed attempt goes on after it.
func (a *Activities) keys(ctx context.Context, ref lake.StreamRef, spec source.StreamSpec) ([]source.Key, error) {
	scratch, err := os.MkdirTemp(a.WorkDir, "keys-")
	if err != nil {
		return nil, errs.E(errs.Internal, "keys", err)
	}
	defer os.RemoveAll(scratch)
	name := ref.Source + "." + ref.Stream
	req := transform.KeysRequest{Name: name, SQL: spec.Keys.SQL, TempDir: filepath.Join(scratch, "spill")}
	own, err := a.rawInput(ctx, ref.Domain, mesh.Raw(ref.Source, ref.Stream), "", scratch)
	switch {
	case errs.Is(err, errs.NotFound): // its first landing: nothing asked yet
		own = transform.RawInput{Source: ref.Source, Stream: ref.Stream, PrimaryKey: spec.PrimaryKey, CursorField: spec.CursorField, Deleted: spec.Deleted, Fields: spec.Fields}
	case err != nil:
		return nil, err
	}
	req.Raw = []transform.RawInput{own}
	for _, input := range spec.Keys.Inputs {
		d, p, err := a.Mesh.Find(input)
		if err != nil {
			return nil, errs.Errorf(errs.Invalid, "keys of "+name, "its keys read %s, which is not declared: %v", input, err)
		}
		id := port.TableID{Domain: d.Name, Name: p.PortName()}
		snap, ok, err := a.Ports.Current(ctx, id)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, errs.Errorf(errs.NotFound, "keys of "+name, "its keys read %s, which has never been published: run %s first", id, input)
		}
		files, err := a.Ports.LocalScan(ctx, id, snap.ID, filepath.Join(scratch, "ports"))
		if err != nil {
			return nil, err
		}
		req.Ports = append(req.Ports, transform.PortInput{Domain: d.Name, Product: p.Name, Files: files.Data, Locations: files.Locations, Deletes: files.PositionDeletes})
	}
	return transform.Keys(ctx, req)
}

// DiscardStaged deletes the model output a failed run staged. It deletes only keys
// under staging/, and a key already gone is no error.
func (a *Activities) DiscardStaged(ctx context.Context, key string) error {
	if !strings.HasPrefix(key, "staging/") || strings.Contains(key, "..") {
		return toTemporal(ctx, errs.Errorf(errs.Invalid, "discard staged output", "%q is not a staging key", key))
	}
	keys := []string{key}
	if dir, name := path.Split(key); name == "model.parquet" {
		for _, beside := range stagedBeside { // an incremental run's replaced keys, and where they are
			keys = append(keys, dir+beside)
		}
	}
	for _, k := range keys {
		if err := a.Lake.Bucket.Delete(ctx, k); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
			return toTemporal(ctx, errs.E(errs.Transient, "discard staged output "+k, err))
		}
	}
	return nil
}

// StagingKey is where a run's model output waits for its checks and publish.
func StagingKey(domain, portName, runID string) string {
	return path.Join("staging", domain, portName, runID, "model.parquet")
}

// product resolves the product an activity works on, at the major version asked for.
func (a *Activities) product(domain, product string, major int) (mesh.Domain, mesh.Product, error) {
	d, p, err := a.Mesh.Find(domain + "." + product)
	if err != nil {
		return d, p, err
	}
	v, ok := p.AtMajor(major)
	if !ok {
		return d, p, errs.Errorf(errs.NotFound, "find product", "%s.%s declares no major version %d (current %s; legacy ones are listed in Product.Legacy)", domain, product, major, p.Version)
	}
	return d, v, nil
}

// Transform runs the product's model over every committed landing of its raw inputs
// (for a partition run, only that partition's landings of a RawSamePartition input) and
// the current snapshots of the ports it reads, and stages the result.
func (a *Activities) Transform(ctx context.Context, in TransformInput) (TransformOutput, error) {
	defer keepAlive(ctx, heartbeatEvery).stop()
	d, p, decl, err := a.declaration(ctx, in.Decl, in.Domain, in.Product, in.Major)
	if err != nil {
		return TransformOutput{}, toTemporal(ctx, err)
	}
	scratch, err := os.MkdirTemp(a.WorkDir, "transform-")
	if err != nil {
		return TransformOutput{}, toTemporal(ctx, errs.E(errs.Internal, "transform", err))
	}
	defer os.RemoveAll(scratch)

	req, inputs, warnings, err := transformRequest(ctx, a, d, p, decl, in.Partition, in.Branch, scratch)
	if err != nil {
		return TransformOutput{}, toTemporal(ctx, err)
	}
	// An incremental product's current major computes what changed since its last
	// publish, when it can (prepareIncremental says why not).
	var inc *IncrementalRun
	if p.Incremental != nil && in.Major == 0 && in.Partition == "" {
		if inc, err = a.prepareIncremental(ctx, d, p, decl, &req, inputs, in, scratch); err != nil {
			return TransformOutput{}, toTemporal(ctx, err)
		}
	}
	key := StagingKey(d.Name, p.PortName(), in.RunID)
	keysKey := KeysStagingKey(d.Name, p.PortName(), in.RunID)
	req.Output = filepath.Join(scratch, "model.parquet")
	if root := a.Lake.LocalRoot(); root != "" {
		req.Output = filepath.Join(root, filepath.FromSlash(key))
		if err := os.MkdirAll(filepath.Dir(req.Output), 0o755); err != nil {
			return TransformOutput{}, toTemporal(ctx, errs.E(errs.Internal, "transform", err))
		}
		if inc != nil {
			req.Incremental.KeysOutput = filepath.Join(root, filepath.FromSlash(keysKey))
		}
	}
	res, err := transform.Run(ctx, req)
	if err != nil {
		return TransformOutput{}, toTemporal(ctx, err)
	}
	if a.Lake.LocalRoot() == "" {
		if err := a.Lake.Upload(ctx, req.Output, key); err != nil {
			return TransformOutput{}, toTemporal(ctx, err)
		}
	}
	if inc != nil {
		if res.Incremental == nil {
			return TransformOutput{}, toTemporal(ctx, errs.Errorf(errs.Internal, "transform "+p.Name, "the incremental run said nothing of what it computed"))
		}
		if err := finishIncremental(inc, p, decl, req, res.Incremental, inputs); err != nil {
			return TransformOutput{}, toTemporal(ctx, err)
		}
		if inc.Merge {
			inc.KeysKey = keysKey
			if a.Lake.LocalRoot() == "" {
				if err := a.Lake.Upload(ctx, req.Incremental.KeysOutput, keysKey); err != nil {
					return TransformOutput{}, toTemporal(ctx, err)
				}
			}
			if inc.Keys > 0 {
				if err := a.locateKeys(ctx, d, p, inc, req.Incremental.KeysOutput, scratch, in.RunID); err != nil {
					return TransformOutput{}, toTemporal(ctx, err)
				}
			}
		}
		a.Log.Info().Str("product", d.Name+"."+p.Name).Str("incremental", inc.Text()).Msg("transformed")
	}
	return TransformOutput{StagingKey: key, Rows: res.Rows, Watermark: res.Watermark, Inputs: inputs, RowsHash: res.RowsHash, Warnings: warnings,
		Incremental: inc}, nil
}

// TransformRequest gathers what the model of p reads, as Transform does: every
// committed landing of its raw inputs (for a partition, only that partition's landings
// of a RawSamePartition input) and the current snapshot of each port it reads (the
// table decl recorded; a zero Declaration reads the declared one), local under scratch.
// It also returns the snapshot read of each port and a warning per input whose latest
// run failed. mesh diff --proposed runs a model over the same inputs outside a run. (A
// function, not a method: every exported method of Activities is an activity.)
func TransformRequest(ctx context.Context, a *Activities, d mesh.Domain, p mesh.Product, decl Declaration, partition, scratch string) (transform.Request, map[string]int64, []string, error) {
	return transformRequest(ctx, a, d, p, decl, partition, "", scratch)
}

// transformRequest is TransformRequest reading each product input from branch where
// the input has one (a preview run), and saying which it read.
func transformRequest(ctx context.Context, a *Activities, d mesh.Domain, p mesh.Product, decl Declaration, partition, branch, scratch string) (transform.Request, map[string]int64, []string, error) {
	req := transform.Request{Product: p, TempDir: filepath.Join(scratch, "spill"), Partition: partition}
	inputs := map[string]int64{} // port → snapshot id read
	var warnings []string
	for _, src := range p.Inputs {
		if src.IsRaw() {
			raw, err := a.rawInput(ctx, d.Name, src, partition, scratch)
			if err != nil {
				return transform.Request{}, nil, nil, err
			}
			req.Raw = append(req.Raw, raw)
			continue
		}
		up, err := a.upstream(decl, src)
		if err != nil {
			return transform.Request{}, nil, nil, err
		}
		id := port.TableID{Domain: src.Domain, Name: up.Table}
		snap, ok, onBranch, err := inputSnapshot(ctx, a.Ports, id, branch)
		if err != nil {
			return transform.Request{}, nil, nil, err
		}
		if !ok {
			return transform.Request{}, nil, nil, errs.Errorf(errs.NotFound, "read input "+src.String(), "%s has never been published: run %s first", id, src)
		}
		if branch != "" {
			warnings = append(warnings, branchRead(src, id, branch, snap, onBranch))
		}
		if warning := a.latestRunFailed(ctx, src, snap); warning != "" && !onBranch {
			warnings = append(warnings, warning)
		}
		if partition != "" && up.PartitionBy != "" {
			// A day of this product needs the same day of a partitioned input: without it
			// the day would publish silently incomplete, so it fails with the reason and
			// rerun-failed picks it up once the input's day is fixed.
			read := ""
			if onBranch {
				read = branch
			}
			snaps, err := snapshotsIfAny(ctx, a.Ports, id, read)
			if err != nil {
				return transform.Request{}, nil, nil, err
			}
			if !PartitionPublished(snaps, partition) {
				return transform.Request{}, nil, nil, errs.Errorf(errs.NotFound, "read input "+src.String(),
					"input %s has no published partition %s (its run failed or has not run): run or rerun that day of %s, then rerun this one", id, partition, src)
			}
		}
		// Read the snapshot just looked up, so the lineage recorded is exactly what was read.
		// An object-store warehouse's files are copied into scratch: DuckDB reads local files.
		// A port an incremental product merged into has delete files the view applies.
		files, err := a.Ports.LocalScan(ctx, id, snap.ID, filepath.Join(scratch, "ports"))
		if err != nil {
			return transform.Request{}, nil, nil, err
		}
		req.Ports = append(req.Ports, transform.PortInput{Domain: src.Domain, Product: src.Product, Files: files.Data, Locations: files.Locations, Deletes: files.PositionDeletes})
		inputs[id.String()] = snap.ID
	}
	return req, inputs, warnings, nil
}

func (a *Activities) rawInput(ctx context.Context, domain string, src mesh.Input, partition, scratch string) (transform.RawInput, error) {
	ref := lake.StreamRef{Domain: domain, Source: src.Source, Stream: src.Stream}
	ms, err := a.Lake.Manifests(ctx, ref)
	if err != nil {
		return transform.RawInput{}, err
	}
	if len(ms) == 0 {
		return transform.RawInput{}, errs.Errorf(errs.NotFound, "read raw "+ref.String(), "nothing has landed yet")
	}
	if src.SamePartition && partition != "" {
		ms = samePartition(ms, partition)
		if len(ms) == 0 {
			return transform.RawInput{}, errs.Errorf(errs.NotFound, "read raw "+ref.String(), "nothing has landed for partition %s: run that partition (it lands first)", partition)
		}
	}
	var keys []string
	var seqs, fileSeqs []int
	for _, m := range ms {
		seqs = append(seqs, m.Seq)
		for _, f := range m.Files {
			keys, fileSeqs = append(keys, f.Key), append(fileSeqs, m.Seq)
		}
	}
	files, err := a.Lake.LocalFiles(ctx, keys, filepath.Join(scratch, "raw"))
	if err != nil {
		return transform.RawInput{}, err
	}
	last := ms[len(ms)-1]
	fields := last.Fields
	// The connector's spec may declare fields its older landings lack; they read as
	// NULL there (see transform), so a model may use them at once.
	if s, ok := a.Sources[src.Source]; ok {
		if st, ok := source.Lookup(s, src.Stream); ok {
			fields = st.Spec().Fields
		}
	}
	return transform.RawInput{Source: src.Source, Stream: src.Stream, Files: files, PrimaryKey: last.PrimaryKey, CursorField: last.CursorField, Deleted: last.Deleted, Fields: fields,
		Seqs: seqs, FileSeqs: fileSeqs}, nil
}

// samePartition keeps the landings of the partition and the unpartitioned ones (a
// whole-stream sync may hold any partition's rows), in their order.
func samePartition(ms []lake.Manifest, partition string) []lake.Manifest {
	var out []lake.Manifest
	for _, m := range ms {
		if m.Partition == partition || m.Partition == "" {
			out = append(out, m)
		}
	}
	return out
}

// PartitionPublished reports whether any snapshot published the given partition: a
// run of that partition, or a whole-port run, which covers every day.
func PartitionPublished(snaps []port.Snapshot, partition string) bool {
	for _, s := range snaps {
		if p := s.Properties[PropPartition]; p == partition || p == "" {
			return true
		}
	}
	return false
}

// localStaged returns a local path of a staged model file (a copy when the lake is
// not local) and a function that removes the copy.
func (a *Activities) localStaged(ctx context.Context, key string) (string, func(), error) {
	scratch, err := os.MkdirTemp(a.WorkDir, "staged-")
	if err != nil {
		return "", nil, errs.E(errs.Internal, "read "+key, err)
	}
	files, err := a.Lake.LocalFiles(ctx, []string{key}, scratch)
	if err != nil {
		os.RemoveAll(scratch)
		return "", nil, err
	}
	return files[0], func() { os.RemoveAll(scratch) }, nil
}

// Check runs the product's checks on the staged model and keeps, with the run, a
// sample of the rows each failing or warning check objects to (keepFailingRows).
func (a *Activities) Check(ctx context.Context, in CheckInput) (CheckOutput, error) {
	defer keepAlive(ctx, heartbeatEvery).stop()
	d, p, _, err := a.declaration(ctx, in.Decl, in.Domain, in.Product, in.Major)
	if err != nil {
		return CheckOutput{}, toTemporal(ctx, err)
	}
	staged, cleanup, err := a.localStaged(ctx, in.StagingKey)
	if err != nil {
		return CheckOutput{}, toTemporal(ctx, err)
	}
	defer cleanup()
	var results []quality.Result
	if inc := in.Incremental; inc != nil && inc.Merge && p.Incremental != nil {
		results, err = a.checkMerged(ctx, d, p, staged, *inc, in.Now)
	} else {
		results, err = transform.CheckStaged(ctx, staged, p.AllChecks(), in.Now)
	}
	if err != nil {
		return CheckOutput{}, toTemporal(ctx, err)
	}
	if err := a.keepFailingRows(ctx, in, d, p, staged, results); err != nil {
		return CheckOutput{}, toTemporal(ctx, err)
	}
	return CheckOutput{Results: results, Status: string(quality.Summary(results))}, nil
}

// Snapshot and table property keys Meshflow writes on its ports.
const (
	PropRunID       = "meshflow.run-id"
	PropPartition   = "meshflow.partition"
	PropChecks      = "meshflow.checks"
	PropQuality     = "meshflow.quality"
	PropWatermark   = "meshflow.watermark"
	PropPublishedAt = "meshflow.published-at"
	PropVersion     = "meshflow.version"
	PropInputs      = "meshflow.inputs"    // JSON {"domain.port_vN": snapshot id} of the ports read
	PropContract    = "meshflow.contract"  // the ODCS contract (YAML) of the last publish
	PropSunset      = "meshflow.sunset"    // a legacy major's last day of publishing
	PropSuccessor   = "meshflow.successor" // the table that replaces a legacy major
	// PropContent identifies what a snapshot published — its rows (of its partition)
	// and the declaration they were published under — so a run with the same content
	// adds no snapshot.
	PropContent = "meshflow.content"
)

// publishedContent identifies what a publish would record: the rows, the declaration
// they are published under, and each check's outcome — a check that starts to warn on
// the same rows is news, and a snapshot is where the catalog reads quality from.
func publishedContent(rowsHash string, tableProps map[string]string, results []quality.Result) string {
	outcomes := make([]string, len(results))
	for i, r := range results {
		outcomes[i] = r.Name + "=" + string(r.Status)
	}
	return contentHash([]any{rowsHash, tableProps, outcomes})
}

// holdsContent finds the snapshot that already holds content for partition ("" = the
// whole port). For the whole port that is the current snapshot, if it recorded the
// same content. For a day it is the newest snapshot that wrote that day: a newer
// snapshot of another day leaves the day's rows as they were, while a newer
// whole-port one may have changed them, so it ends the search. On a branch ("" =
// main) it is the branch's head, unless main moved since the branch was made: the
// publish then makes the branch again from main, so it must not be skipped.
func holdsContent(ctx context.Context, ports *port.Catalog, id port.TableID, branch, partition, content string) (port.Snapshot, bool, error) {
	cur, ok, err := ports.Current(ctx, id)
	if branch != "" {
		var b port.Branch
		b, ok, err = ports.Branch(ctx, id, branch)
		cur, ok = b.Head, ok && !b.MainMoved()
	}
	if err != nil || !ok {
		return port.Snapshot{}, false, err
	}
	if partition == "" {
		return cur, cur.Properties[PropPartition] == "" && cur.Properties[PropContent] == content, nil
	}
	snaps, err := snapshotsIfAny(ctx, ports, id, branch)
	if err != nil {
		return port.Snapshot{}, false, err
	}
	for _, s := range snaps {
		switch s.Properties[PropPartition] {
		case partition:
			// The current snapshot is returned: its row count is the table's, not the day's.
			return cur, s.Properties[PropContent] == content, nil
		case "":
			return port.Snapshot{}, false, nil
		}
	}
	return port.Snapshot{}, false, nil
}

// upstream is the table a product input is read from: as the run's plan recorded it,
// or for a run from before plans, as this worker declares it.
func (a *Activities) upstream(decl Declaration, in mesh.Input) (UpstreamPort, error) {
	if up, ok := decl.Upstream[in.String()]; ok {
		return up, nil
	}
	_, p, err := a.Mesh.Find(in.String())
	if err != nil {
		return UpstreamPort{}, err
	}
	return UpstreamPort{Table: p.PortName(), PartitionBy: p.PartitionBy}, nil
}

// latestRunFailed says, when the latest run of input in failed or was blocked after
// the snapshot the run reads was published, that this run reads that earlier
// snapshot. A product always runs on its inputs' current snapshots — the data their
// owners stand behind — and says so rather than skipping (see README, "When an input
// failed").
func (a *Activities) latestRunFailed(ctx context.Context, in mesh.Input, snap port.Snapshot) string {
	rec, ok, err := LatestRun(ctx, a.Lake, in.Domain, in.Product)
	if err != nil || !ok || (rec.Status != StatusFailed && rec.Status != StatusBlocked) {
		return ""
	}
	return fmt.Sprintf("input %s: its latest run %s at %s (%s), so this run read its previous snapshot %d",
		in, rec.Status, rec.FinishedAt.UTC().Format(time.RFC3339), rec.WorkflowID, snap.ID)
}

// LatestRun is the newest run record of a product (ok false before its first run).
func LatestRun(ctx context.Context, l *lake.Lake, domain, product string) (RunRecord, bool, error) {
	return latestRecord(ctx, l, path.Join("runs", domain, product)+"/")
}

// latestRecord is the newest run record under prefix.
func latestRecord(ctx context.Context, l *lake.Lake, prefix string) (RunRecord, bool, error) {
	return latestJSON[RunRecord](ctx, l, prefix)
}

// checkContract compares the product's contract with the one its table was last
// published under. A breaking change within the same major version is refused: the
// consumers of this table rely on it. On a branch it is a preview, and only said
// (promote refuses it). It returns the contract to store and what to say.
func checkContract(ctx context.Context, ports *port.Catalog, id port.TableID, d mesh.Domain, p mesh.Product, branch string) ([]byte, []string, error) {
	next := contract.Export(d, p)
	b, err := next.YAML()
	if err != nil {
		return nil, nil, errs.E(errs.Internal, "export contract", err)
	}
	changes, _, err := ContractChanges(ctx, ports, id, next)
	if err != nil {
		return nil, nil, err
	}
	if br := contract.Breaking(changes); len(br) > 0 {
		msgs := make([]string, len(br))
		for i, c := range br {
			msgs[i] = c.Message
		}
		bump := fmt.Sprintf("bump %s.%s to %d.0.0 (it then publishes a new table %s_v%d) or make the change compatible", d.Name, p.Name, p.Major()+1, p.Name, p.Major()+1)
		if branch != "" {
			return b, []string{fmt.Sprintf("branch %s previews a breaking change to the contract of %s: %s; main refuses it, and so does mesh promote: %s",
				branch, id, strings.Join(msgs, "; "), bump)}, nil
		}
		return nil, nil, errs.Errorf(errs.Invalid, "publish "+id.String(),
			"breaking change to the contract of %s without a major version bump: %s; %s", id, strings.Join(msgs, "; "), bump)
	}
	return b, nil, nil
}

// ContractChanges compares next with the contract the table was last published under;
// published is false when there is none yet (never published, or before contracts
// were stored).
func ContractChanges(ctx context.Context, ports *port.Catalog, id port.TableID, next contract.Contract) (changes []contract.Change, published bool, err error) {
	props, err := ports.TableProperties(ctx, id)
	if errs.Is(err, errs.NotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	prev := props[PropContract]
	if prev == "" {
		return nil, false, nil
	}
	old, err := contract.Parse([]byte(prev))
	if err != nil {
		return nil, true, errs.Errorf(errs.Internal, "read contract of "+id.String(), "the stored contract does not parse: %v", err)
	}
	return contract.Compare(old, next), true, nil
}

// SnapshotChecks are the check results a publish recorded with its snapshot
// (PropChecks); none for a snapshot no product run published.
func SnapshotChecks(s port.Snapshot) ([]quality.Result, error) {
	js := s.Properties[PropChecks]
	if js == "" {
		return nil, nil
	}
	var rs []quality.Result
	if err := json.Unmarshal([]byte(js), &rs); err != nil {
		return nil, fmt.Errorf("the checks recorded with snapshot %d do not parse: %w", s.ID, err)
	}
	return rs, nil
}

// Publish commits the staged model as a new snapshot of the product's port.
func (a *Activities) Publish(ctx context.Context, in PublishInput) (PublishOutput, error) {
	defer keepAlive(ctx, heartbeatEvery).stop()
	d, p, decl, err := a.declaration(ctx, in.Decl, in.Domain, in.Product, in.Major)
	if err != nil {
		return PublishOutput{}, toTemporal(ctx, err)
	}
	if err := p.ValidatePartition(in.Partition); err != nil {
		return PublishOutput{}, toTemporal(ctx, err)
	}
	id := port.TableID{Domain: d.Name, Name: p.PortName()}
	if mayHaveRunBefore(ctx) {
		if snap, ok, err := publishedBy(ctx, a.Ports, id, in.Branch, in.RunID, in.Partition); err != nil {
			return PublishOutput{}, toTemporal(ctx, err)
		} else if ok {
			a.Log.Warn().Str("table", id.String()).Int64("snapshot", snap.ID).Str("run_id", in.RunID).Int32("attempt", activity.GetInfo(ctx).Attempt).
				Msg("an earlier attempt published this run's snapshot and was lost before reporting it; returning that snapshot")
			return PublishOutput{Table: branchTable(id, in.Branch), SnapshotID: snap.ID, Rows: snap.Rows}, nil
		}
	}
	contractYAML, warnings, err := checkContract(ctx, a.Ports, id, d, p, in.Branch)
	if err != nil {
		return PublishOutput{}, toTemporal(ctx, err)
	}
	tableProps := TableProperties(d, p)
	tableProps[PropContract] = string(contractYAML)
	checks, _ := json.Marshal(in.Results)
	props := map[string]string{
		PropRunID: in.RunID, PropPartition: in.Partition, PropChecks: string(checks),
		PropQuality: string(quality.Summary(in.Results)), PropPublishedAt: in.PublishedAt.UTC().Format(time.RFC3339),
		PropVersion: p.Version,
	}
	inc := in.Incremental
	merge := inc != nil && inc.Merge && p.Incremental != nil
	if inc != nil && inc.State != "" {
		props[PropIncremental] = inc.State
	}
	if merge {
		// The changes were found against the current snapshot's publish: merged onto
		// another one, they would leave the port as no full run computes it.
		cur, ok, err := a.Ports.Current(ctx, id)
		if err != nil {
			return PublishOutput{}, toTemporal(ctx, err)
		}
		if !ok || cur.Properties[PropRunID] != inc.BaseRunID {
			return PublishOutput{}, toTemporal(ctx, errs.Errorf(errs.Invalid, "publish "+id.String(),
				"%s was published by another run (snapshot %d) since this run found its changes against snapshot %d: nothing was merged; run %s.%s again",
				id, cur.ID, inc.BaseSnapshot, d.Name, p.Name))
		}
		if inc.Keys == 0 {
			_ = a.DiscardStaged(ctx, in.StagingKey)
			a.Log.Info().Str("table", id.String()).Int64("snapshot", cur.ID).Msg("unchanged: no record of the incremental input changed")
			return PublishOutput{Table: id.String(), SnapshotID: cur.ID, Rows: cur.Rows, Unchanged: true, Warnings: warnings}, nil
		}
	}
	// Decided before the staged file is read, so a retry of an unchanged publish whose
	// first attempt deleted it decides the same way. A merge's rows are some keys' of
	// the port, not its content.
	if in.RowsHash != "" && !merge {
		content := in.RowsHash
		if inc != nil {
			// A port published before the product was incremental has the same rows
			// but no state to go on from: the first incremental run records it.
			content += " incremental " + incrementalDecl(p, decl)
		}
		props[PropContent] = publishedContent(content, tableProps, in.Results)
		if snap, ok, err := holdsContent(ctx, a.Ports, id, in.Branch, in.Partition, props[PropContent]); err != nil {
			return PublishOutput{}, toTemporal(ctx, err)
		} else if ok {
			_ = a.Lake.Bucket.Delete(ctx, in.StagingKey)
			a.Log.Info().Str("table", branchTable(id, in.Branch)).Int64("snapshot", snap.ID).Str("partition", in.Partition).Msg("unchanged: the current snapshot already holds these rows")
			return PublishOutput{Table: branchTable(id, in.Branch), SnapshotID: snap.ID, Rows: snap.Rows, Unchanged: true, Warnings: warnings}, nil
		}
	}
	staged, cleanup, err := a.localStaged(ctx, in.StagingKey)
	if err != nil {
		return PublishOutput{}, toTemporal(ctx, err)
	}
	defer cleanup()
	rdr, closeFn, err := openStaged(ctx, staged, p)
	if err != nil {
		return PublishOutput{}, toTemporal(ctx, err)
	}
	defer closeFn()
	if !in.Watermark.IsZero() {
		props[PropWatermark] = in.Watermark.UTC().Format(time.RFC3339)
	}
	if len(in.Inputs) > 0 {
		b, _ := json.Marshal(in.Inputs)
		props[PropInputs] = string(b)
	}
	// The model computes the product's whole current state, or one day of it: a day
	// replaces only its own rows, so re-running it (a retry, a backfill) never duplicates.
	var mode port.Mode = port.Replace{}
	if in.Partition != "" {
		mode = port.ReplacePartition{Column: p.PartitionBy, Value: in.Partition}
	}
	if merge {
		// The rows replace those of the changed keys, and a key without a row is
		// deleted: the port as a full run would compute it, at the cost of the changes.
		keysPath, cleanupKeys, err := a.localStaged(ctx, inc.KeysKey)
		if err != nil {
			return PublishOutput{}, toTemporal(ctx, err)
		}
		defer cleanupKeys()
		keys, closeKeys, err := openStaged(ctx, keysPath, p)
		if err != nil {
			return PublishOutput{}, toTemporal(ctx, err)
		}
		defer closeKeys()
		loc, err := a.located(ctx, inc)
		if err != nil {
			return PublishOutput{}, toTemporal(ctx, err)
		}
		cols, _ := p.Incremental.Columns()
		mode = port.MergeByKey{Columns: cols, Keys: keys, Located: loc}
	}
	if in.Branch != "" {
		w, err := branchRestart(ctx, a.Ports, id, in.Branch)
		if err != nil {
			return PublishOutput{}, toTemporal(ctx, err)
		}
		if w != "" {
			warnings = append(warnings, w)
		}
	}
	snap, err := a.Ports.Publish(ctx, id, rdr, port.PublishRequest{
		Mode:               mode,
		SnapshotProperties: props,
		TableProperties:    tableProps,
		Branch:             in.Branch,
		// The port is partitioned by the product's days, so a day's publish costs the
		// same however long the port's history.
		PartitionBy: p.PartitionBy,
	})
	if err != nil {
		return PublishOutput{}, toTemporal(ctx, err)
	}
	// The staged files have done their job; a failed delete only leaves garbage.
	_ = a.DiscardStaged(ctx, in.StagingKey)
	a.Log.Info().Str("table", branchTable(id, in.Branch)).Int64("snapshot", snap.ID).Int64("rows", snap.Rows).Bool("merged", merge).Msg("published")
	return PublishOutput{Table: branchTable(id, in.Branch), SnapshotID: snap.ID, Rows: snap.Rows, Warnings: warnings}, nil
}

// TableProperties are the product's declarations copied onto its table, so a consumer
// reading the table with another engine still sees who owns it and what it means.
func TableProperties(d mesh.Domain, p mesh.Product) map[string]string {
	props := map[string]string{
		"meshflow.domain": d.Name, "meshflow.product": p.Name, "meshflow.owner": p.EffectiveOwner(d),
		"meshflow.description": p.Description, PropVersion: p.Version, "meshflow.classification": string(p.Classification),
		"meshflow.cadence": p.Cadence,
	}
	if dep := p.Deprecation; dep != nil {
		props[PropSunset], props[PropSuccessor] = dep.Sunset, dep.Successor
	}
	return props
}

// openStaged reads a staged Parquet file as Arrow, with the declared column docs attached.
func openStaged(ctx context.Context, path string, p mesh.Product) (array.RecordReader, func(), error) {
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		return nil, nil, errs.E(errs.Internal, "open staged model", err)
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 64 * 1024}, memory.DefaultAllocator)
	if err != nil {
		pf.Close()
		return nil, nil, errs.E(errs.Internal, "open staged model", err)
	}
	rr, err := fr.GetRecordReader(ctx, nil, nil)
	if err != nil {
		pf.Close()
		return nil, nil, errs.E(errs.Internal, "open staged model", err)
	}
	fields := rr.Schema().Fields()
	for i, f := range fields {
		if c, ok := p.Column(f.Name); ok {
			fields[i].Metadata = arrow.NewMetadata([]string{"doc"}, []string{c.Doc})
			fields[i].Nullable = !c.Required
		}
	}
	docd := &relabeled{RecordReader: rr, schema: arrow.NewSchema(fields, nil)}
	return docd, func() { rr.Release(); pf.Close() }, nil
}

// relabeled presents a reader's batches under an equivalent schema with field docs.
type relabeled struct {
	pqarrow.RecordReader
	schema *arrow.Schema
	cur    arrow.RecordBatch
}

func (r *relabeled) Schema() *arrow.Schema { return r.schema }

func (r *relabeled) Next() bool {
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	if !r.RecordReader.Next() {
		return false
	}
	in := r.RecordReader.RecordBatch()
	r.cur = array.NewRecordBatch(r.schema, in.Columns(), in.NumRows())
	return true
}

func (r *relabeled) RecordBatch() arrow.RecordBatch { return r.cur }
func (r *relabeled) Record() arrow.RecordBatch      { return r.cur }

// RecordRun keeps the run's outcome in the lake for the catalog.
func (a *Activities) RecordRun(ctx context.Context, rec RunRecord) error {
	defer keepAlive(ctx, heartbeatEvery).stop()
	if activity.GetInfo(ctx).Attempt == 1 { // a retried record is one run, counted once
		checks := make([]telemetry.Check, len(rec.Checks))
		for i, c := range rec.Checks {
			checks[i] = telemetry.Check{Name: c.Name, Status: string(c.Status)}
		}
		telemetry.RunEnded(ctx, rec.Domain, rec.Product, rec.Status, rec.FinishedAt.Sub(rec.StartedAt), checks)
	}
	key := RunRecordKey(rec.Domain, rec.Product, rec.FinishedAt, rec.RunID)
	if rec.Branch != "" {
		// A preview's record is kept apart: the catalog shows main's runs.
		key = path.Join(branchRuns(rec.Branch), key)
	}
	return toTemporal(ctx, a.Lake.PutJSON(ctx, key, rec))
}

// RunRecordKey orders a product's run records by finish time.
func RunRecordKey(domain, product string, finished time.Time, runID string) string {
	return path.Join("runs", domain, product, strconv.FormatInt(finished.UTC().UnixMilli(), 10)+"-"+runID+".json")
}

// toTemporal maps an error's kind, once, to a Temporal application error: its type is
// the kind, and kinds that retrying cannot fix are non-retryable. An exhausted quota's
// details are its reset time, the checkpoint to resume from and the limit's name: what
// the workflow needs to wait for it, say so, and go on after. An attempt whose
// context ended is final only when the workflow asked for the cancel: then the SDK
// reports it canceled. Any other end — a heartbeat the server no longer accepted, a
// stopping worker — is an interruption, retried from the attempt's last checkpoint.
func toTemporal(ctx context.Context, err error, resume ...lake.Checkpoint) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		if temporal.IsCanceledError(context.Cause(ctx)) {
			return ctx.Err()
		}
		return temporal.NewApplicationErrorWithOptions(fmt.Sprintf("%v (the attempt was interrupted: %v; it is retried from its last checkpoint)", err, context.Cause(ctx)),
			ErrTypeInterrupted, temporal.ApplicationErrorOptions{})
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return err
	}
	kind := errs.KindOf(err)
	opts := temporal.ApplicationErrorOptions{NonRetryable: !errs.Retryable(err), Cause: nil}
	typ := kind.String()
	if e, ok := errs.As(err); ok && kind == errs.Quota {
		typ = ErrTypeQuotaExhausted
		opts.NonRetryable = true // the workflow waits on a durable timer instead
		var cp lake.Checkpoint
		if len(resume) > 0 {
			cp = resume[0]
		}
		// In UTC: JSON keeps an offset to the minute, so a zone with odd seconds would
		// move the reset time.
		opts.Details = []any{e.Until.UTC(), cp, e.Limit}
	}
	return temporal.NewApplicationErrorWithOptions(err.Error(), typ, opts)
}
