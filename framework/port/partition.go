package port

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	icebergio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
	"github.com/google/uuid"

	"github.com/meshflow/meshflow/framework/errs"
)

// A port partitioned by a DATE column uses Iceberg's identity transform on it, not
// day(): the column already is the day, so both lay files out alike, but identity
// keeps the partition value the column's own (a reader's filter on the column maps to
// the partition exactly, inclusive and strict, with no transform for an engine to
// know), writes Hive-style paths (date=2024-05-01/), and is the one transform every
// engine prunes on.

// checkPartitionBy refuses a partition column the data lacks or that is not a DATE.
func checkPartitionBy(sc *iceberg.Schema, col string) error {
	if col == "" {
		return nil
	}
	f, ok := sc.FindFieldByName(col)
	if !ok {
		return fmt.Errorf("partition column %q is not in the data: publish it, or name one of the port's DATE columns in PartitionBy", col)
	}
	if _, ok := f.Type.(iceberg.DateType); !ok {
		return fmt.Errorf("partition column %q is %s; a port is partitioned by a DATE column (a day each)", col, f.Type)
	}
	return nil
}

// createPartitioned are the options that create a table partitioned by col (none
// for "").
func createPartitioned(sc *iceberg.Schema, col string) ([]catalog.CreateTableOpt, error) {
	if col == "" {
		return nil, nil
	}
	spec, err := iceberg.NewPartitionSpecOpts(iceberg.AddPartitionFieldByName(col, col, iceberg.IdentityTransform{}, sc, nil))
	if err != nil {
		return nil, fmt.Errorf("partition by %s: %w", col, err)
	}
	return []catalog.CreateTableOpt{catalog.WithPartitionSpec(&spec)}, nil
}

// evolveSpec adds identity(col) to the partition spec of tbl in txn when the spec
// lacks it: Iceberg's partition evolution. The files already written keep their spec
// and stay readable, as do the snapshots before; only files written from now on are
// partitioned. The column may be one txn has just added.
func evolveSpec(txn *table.Transaction, tbl *table.Table, col string) error {
	if col == "" {
		return nil
	}
	if f, ok := tbl.Schema().FindFieldByName(col); ok {
		if _, _, ok := identityField(tbl.Spec(), f.ID); ok {
			return nil
		}
	}
	if err := txn.UpdateSpec(true).AddIdentity(col).Commit(); err != nil {
		return fmt.Errorf("partition the table by %s: %w", col, err)
	}
	return nil
}

// identityField finds the identity partition field on source column id in spec and
// its position (the index of its summary in a manifest of that spec).
func identityField(spec iceberg.PartitionSpec, sourceID int) (iceberg.PartitionField, int, bool) {
	for i, f := range spec.Fields() {
		if _, ok := f.Transform.(iceberg.IdentityTransform); ok && f.SourceID() == sourceID {
			return f, i, true
		}
	}
	return iceberg.PartitionField{}, 0, false
}

// errDaySlowPath says a day's publish cannot be planned from the day's manifests alone
// (see planDay); Publish then overwrites by filter, which reads every manifest.
var errDaySlowPath = errors.New("the day cannot be replaced from its own manifests")

// publishDay publishes one day of a table partitioned by part.Column on main, reading
// and rewriting only the manifests whose partition range holds the day: iceberg-go's
// Overwrite (and every replace of its Transaction) reads every manifest of the table
// to find the files it deletes, so its cost grows with the table's history, while a
// day's files are found from the manifest list's partition summaries. The snapshot
// is built with iceberg-go's manifest and manifest-list writers and committed with the
// schema, partition spec and property changes of the same transaction.
//
// It returns errDaySlowPath, having read nothing from src, when the day's files are
// not whole files of the day (rows of several days in a file written before the
// table was partitioned, or delete files): those need iceberg-go's row-level rewrite.
func (c *Catalog) publishDay(ctx context.Context, op string, id TableID, tbl *table.Table, src array.RecordReader,
	want *iceberg.Schema, part ReplacePartition, tableProps map[string]string, snapProps iceberg.Properties) (*table.Table, error) {
	day, err := iceberg.NewLiteral(part.Value).To(iceberg.PrimitiveTypes.Date)
	if err != nil {
		return nil, errs.E(errs.Invalid, op, fmt.Errorf("partition %s=%q: %w", part.Column, part.Value, err))
	}
	d := &dayCommit{op: op, id: id, col: part.Column, day: day.(iceberg.DateLiteral).Value(), props: snapProps, cat: c}
	committed, err := c.retryStale(ctx, op, id, tbl, func(ctx context.Context, tbl *table.Table, attempt int) (func() (*table.Table, error), error) {
		return d.prepare(ctx, tbl, src, want, tableProps, attempt)
	})
	if err != nil && d.files != nil && (errs.Is(err, errs.Conflict) || errors.Is(err, errDaySlowPath)) {
		// Nothing committed them: they are garbage. After an unknown commit outcome
		// they stay, as the commit may have landed.
		removeFiles(ctx, tbl, dataPaths(d.files))
	}
	return committed, err
}

// dayCommit is one day's publish across its commit attempts. The data files are
// written once, on the first attempt: they do not depend on the table's state, so a
// lost commit race rebuilds only the manifests around them.
type dayCommit struct {
	op    string
	id    TableID
	col   string
	day   iceberg.Date
	props iceberg.Properties
	cat   *Catalog

	files   []iceberg.DataFile
	specID  int
	written []string // manifests and manifest lists of the attempt in flight
}

// prepare builds one attempt on tbl and returns what commits it.
func (d *dayCommit) prepare(ctx context.Context, tbl *table.Table, src array.RecordReader, want *iceberg.Schema,
	tableProps map[string]string, attempt int) (func() (*table.Table, error), error) {
	txn := tbl.NewTransaction()
	if err := evolveSchema(txn, tbl.Schema(), tbl.NameMapping(), want, false); err != nil {
		return nil, errs.E(errs.Invalid, d.op, err)
	}
	if err := setProperties(txn, tbl.Properties(), tableProps); err != nil {
		return nil, errs.E(errs.Internal, d.op, err)
	}
	if err := evolveSpec(txn, tbl, d.col); err != nil {
		return nil, errs.E(errs.Internal, d.op, err)
	}
	staged, err := txn.StagedTable()
	if err != nil {
		return nil, errs.E(errs.Internal, d.op, err)
	}
	if staged.NameMapping() == nil {
		// How a reader without field ids in the files (and WriteRecords, for the data
		// without them) matches columns by name; iceberg-go's own writes set it too.
		if err := setNameMapping(txn, staged.Schema()); err != nil {
			return nil, errs.E(errs.Internal, d.op, err)
		}
		if staged, err = txn.StagedTable(); err != nil {
			return nil, errs.E(errs.Internal, d.op, err)
		}
	}
	meta := staged.Metadata()
	if meta.Version() != 2 {
		// v1 manifests carry no sequence numbers and v3 ones row ids: left to iceberg-go.
		return nil, slowPath(d.op, attempt, fmt.Errorf("%w: the table is format v%d", errDaySlowPath, meta.Version()))
	}
	fs, err := staged.FS(ctx)
	if err != nil {
		return nil, errs.E(errs.Transient, d.op, err)
	}
	wfs, ok := fs.(icebergio.WriteFileIO)
	if !ok {
		return nil, errs.Errorf(errs.Internal, d.op, "the warehouse's IO cannot write files")
	}
	parent := meta.CurrentSnapshot()
	plan, err := planDay(fs, meta, parent, d.col, d.day)
	if err != nil {
		return nil, slowPath(d.op, attempt, err)
	}
	spec := meta.PartitionSpec()
	if d.files == nil {
		files, err := writeDataFiles(ctx, staged.Table, src)
		if err != nil {
			removeFiles(ctx, tbl, dataPaths(files))
			var de *dataError
			if errors.As(err, &de) {
				return nil, errs.E(errs.Invalid, d.op, de)
			}
			return nil, errs.E(kindOf(err), d.op, fmt.Errorf("write data files: %w", err))
		}
		d.files = files
		d.specID = spec.ID()
	} else if d.specID != spec.ID() {
		// The files were laid out under another spec: a concurrent partition evolution.
		return nil, errs.Errorf(errs.Conflict, d.op, "the table's partitioning changed while this publish was built; run it again")
	}

	d.written = nil
	snapID := newSnapshotID(meta)
	commitID := uuid.New()
	loc, err := staged.LocationProvider()
	if err != nil {
		return nil, errs.E(errs.Internal, d.op, err)
	}
	newPath := func(name string) string {
		p := loc.NewMetadataLocation(name)
		d.written = append(d.written, p)
		return p
	}
	fail := func(err error) (func() (*table.Table, error), error) {
		removeFiles(ctx, tbl, d.written)
		return nil, errs.E(errs.Internal, d.op, err)
	}
	sc := meta.CurrentSchema()
	var manifests []iceberg.ManifestFile
	if len(d.files) > 0 {
		added, err := writeManifest(wfs, newPath(fmt.Sprintf("%s-m0.avro", commitID)), spec, sc, snapID, func(w *iceberg.ManifestWriter) error {
			for _, df := range d.files {
				if err := w.Add(iceberg.NewManifestEntry(iceberg.EntryStatusADDED, &snapID, nil, nil, df)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fail(err)
		}
		manifests = append(manifests, added)
	}
	var removed []iceberg.DataFile
	for i, f := range plan.filtered {
		spec := meta.PartitionSpecByID(int(f.manifest.PartitionSpecID()))
		m, err := writeManifest(wfs, newPath(fmt.Sprintf("%s-m%d.avro", commitID, i+1)), *spec, sc, snapID, func(w *iceberg.ManifestWriter) error {
			for _, e := range f.kept {
				if err := w.Existing(e); err != nil {
					return err
				}
			}
			for _, e := range f.dropped {
				seq := e.SequenceNum()
				removed = append(removed, e.DataFile())
				if err := w.Delete(iceberg.NewManifestEntry(iceberg.EntryStatusDELETED, &snapID, &seq, e.FileSequenceNum(), e.DataFile())); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fail(err)
		}
		manifests = append(manifests, m)
	}
	manifests = append(manifests, plan.kept...)

	seq := meta.LastSequenceNumber() + 1
	var parentID *int64
	if parent != nil {
		parentID = &parent.SnapshotID
	}
	listPath := newPath(fmt.Sprintf("snap-%d-%d-%s.avro", snapID, attempt, commitID))
	if err := writeManifestList(wfs, listPath, snapID, parentID, seq, manifests); err != nil {
		return fail(err)
	}
	schemaID := sc.ID
	snap := table.Snapshot{
		SnapshotID: snapID, ParentSnapshotID: parentID, SequenceNumber: seq, TimestampMs: time.Now().UnixMilli(),
		ManifestList: listPath, Summary: daySummary(d.props, parent, d.files, removed), SchemaID: &schemaID,
	}

	tc, err := txn.TableCommit()
	if err != nil {
		return fail(err)
	}
	reqs := append(tc.Requirements, table.AssertTableUUID(meta.TableUUID()), table.AssertRefSnapshotID(table.MainBranch, parentID))
	mainRef, _ := ref(staged.Table, table.MainBranch)
	updates := append(tc.Updates, table.NewAddSnapshotUpdate(&snap), pointMain(mainRef, snapID))
	return func() (*table.Table, error) {
		// Onto the metadata this attempt built on, which the cache had parsed already.
		committed, handled, err := d.cat.commitOnto(ctx, d.id, tbl.Metadata(), tbl.MetadataLocation(), reqs, updates)
		if !handled {
			var newMeta table.Metadata
			var newLoc string
			if newMeta, newLoc, err = d.cat.cat.CommitTable(ctx, d.id.ident(), reqs, updates); err == nil {
				committed = table.New(d.id.ident(), newMeta, newLoc, staged.FS, d.cat.cat)
			}
		}
		if err != nil {
			if isStale(err) {
				// Nothing was written to the catalog: this attempt's manifests are garbage.
				removeFiles(ctx, tbl, d.written)
			}
			return nil, err
		}
		txn.MarkCommitted()
		return committed, nil
	}, nil
}

// slowPath is err for the first attempt, which has read no data yet and lets Publish
// take iceberg-go's path; a later attempt has written its files and cannot switch, so
// the table's change under it is a conflict the caller retries.
func slowPath(op string, attempt int, err error) error {
	switch {
	case attempt == 0 && errors.Is(err, errDaySlowPath):
		return err
	case errors.Is(err, errDaySlowPath):
		return errs.E(errs.Conflict, op, fmt.Errorf("the table changed under this publish: %w; run it again", err))
	}
	return errs.E(kindOf(err), op, err)
}

// dayPlan is what a day's publish keeps of the parent snapshot's manifests: those it
// carries over unread, and those holding the day's files, with the entries kept and
// dropped.
type dayPlan struct {
	kept     []iceberg.ManifestFile
	filtered []filteredManifest
}

type filteredManifest struct {
	manifest      iceberg.ManifestFile
	kept, dropped []iceberg.ManifestEntry
}

// planDay finds the files of day in the manifests of parent. A manifest of a spec
// partitioned by identity(col) whose partition summary leaves the day out is kept
// without being read; one that may hold it is read, and its files of the day dropped.
// A manifest of an earlier spec (written before the table was partitioned) is read,
// and a file in it whose column bounds are the day alone is dropped; one whose bounds
// straddle the day holds rows of other days too and is errDaySlowPath, as are delete
// files. Manifests with no live file left are dropped.
func planDay(fs icebergio.IO, meta table.Metadata, parent *table.Snapshot, col string, day iceberg.Date) (dayPlan, error) {
	var plan dayPlan
	if parent == nil {
		return plan, nil
	}
	source, ok := meta.CurrentSchema().FindFieldByName(col)
	if !ok {
		return plan, fmt.Errorf("no column %s", col)
	}
	manifests, err := parent.Manifests(fs)
	if err != nil {
		return plan, err
	}
	for _, m := range manifests {
		if m.ManifestContent() != iceberg.ManifestContentData {
			return plan, fmt.Errorf("%w: the table has delete files", errDaySlowPath)
		}
		if !m.HasAddedFiles() && !m.HasExistingFiles() {
			continue // only the files an earlier snapshot deleted
		}
		spec := meta.PartitionSpecByID(int(m.PartitionSpecID()))
		if spec == nil {
			return plan, fmt.Errorf("manifest %s has unknown partition spec %d", m.FilePath(), m.PartitionSpecID())
		}
		field, pos, partitioned := identityField(*spec, source.ID)
		if partitioned && pos < len(m.Partitions()) && !summaryHolds(m.Partitions()[pos], day) {
			plan.kept = append(plan.kept, m)
			continue
		}
		f := filteredManifest{manifest: m}
		entries, err := m.FetchEntries(fs, true)
		if err != nil {
			return plan, err
		}
		for _, e := range entries {
			df := e.DataFile()
			var ofDay bool
			if partitioned {
				ofDay = partitionIs(df.Partition()[field.FieldID], day)
			} else if ofDay, err = onlyDay(df, source.ID, day); err != nil {
				return plan, err
			}
			if ofDay {
				f.dropped = append(f.dropped, e)
			} else {
				f.kept = append(f.kept, e)
			}
		}
		switch {
		case len(f.dropped) == 0:
			plan.kept = append(plan.kept, m)
		default:
			plan.filtered = append(plan.filtered, f)
		}
	}
	return plan, nil
}

// summaryHolds reports whether a manifest's partition summary admits day.
func summaryHolds(s iceberg.FieldSummary, day iceberg.Date) bool {
	if s.LowerBound == nil || s.UpperBound == nil {
		return false // every value null (or no file): no day
	}
	lo, err1 := iceberg.LiteralFromBytes(iceberg.PrimitiveTypes.Date, *s.LowerBound)
	hi, err2 := iceberg.LiteralFromBytes(iceberg.PrimitiveTypes.Date, *s.UpperBound)
	if err1 != nil || err2 != nil {
		return true // unreadable bounds prune nothing
	}
	return lo.(iceberg.DateLiteral).Value() <= day && day <= hi.(iceberg.DateLiteral).Value()
}

// partitionIs reports whether a file's partition value is day.
func partitionIs(v any, day iceberg.Date) bool {
	switch v := v.(type) {
	case iceberg.Date:
		return v == day
	case int32:
		return iceberg.Date(v) == day
	case iceberg.DateLiteral:
		return v.Value() == day
	}
	return false
}

// onlyDay reports whether every row of a file written before the table was
// partitioned has day in the column: its bounds are the day and it has no null there.
// Bounds that hold the day among others, or none, are errDaySlowPath.
func onlyDay(df iceberg.DataFile, source int, day iceberg.Date) (bool, error) {
	lo, okLo := df.LowerBoundValues()[source]
	hi, okHi := df.UpperBoundValues()[source]
	if !okLo || !okHi {
		return false, fmt.Errorf("%w: file %s has no bounds for the partition column", errDaySlowPath, df.FilePath())
	}
	l, err1 := iceberg.LiteralFromBytes(iceberg.PrimitiveTypes.Date, lo)
	h, err2 := iceberg.LiteralFromBytes(iceberg.PrimitiveTypes.Date, hi)
	if err1 != nil || err2 != nil {
		return false, fmt.Errorf("%w: file %s has unreadable bounds for the partition column", errDaySlowPath, df.FilePath())
	}
	first, last := l.(iceberg.DateLiteral).Value(), h.(iceberg.DateLiteral).Value()
	switch {
	case day < first || day > last:
		return false, nil
	case first == last && df.NullValueCounts()[source] == 0:
		return true, nil
	}
	return false, fmt.Errorf("%w: file %s holds rows of several days (written before the table was partitioned)", errDaySlowPath, df.FilePath())
}

// writeDataFiles writes the rows of src as data files of tbl (laid out by its
// partition spec). On an error it returns the files written so far.
func writeDataFiles(ctx context.Context, tbl *table.Table, src array.RecordReader) ([]iceberg.DataFile, error) {
	// WriteRecords releases each batch it takes; the reader owns its own.
	retained := func(yield func(arrow.RecordBatch, error) bool) {
		for rec, err := range array.IterFromReader(src) {
			if rec != nil {
				rec.Retain()
			}
			if !yield(rec, err) {
				if rec != nil {
					rec.Release()
				}
				return
			}
		}
	}
	files := []iceberg.DataFile{}
	for df, err := range table.WriteRecords(ctx, tbl, src.Schema(), retained) {
		if err != nil {
			return files, err
		}
		files = append(files, df)
	}
	return files, nil
}

// writeManifest writes one manifest of spec at path through fill.
func writeManifest(fs icebergio.WriteFileIO, path string, spec iceberg.PartitionSpec, sc *iceberg.Schema, snapID int64,
	fill func(w *iceberg.ManifestWriter) error) (iceberg.ManifestFile, error) {
	out, err := fs.Create(path)
	if err != nil {
		return nil, err
	}
	counted := &countingWriter{w: out}
	mf, err := func() (iceberg.ManifestFile, error) {
		w, err := iceberg.NewManifestWriter(2, counted, spec, sc, snapID)
		if err != nil {
			return nil, err
		}
		if err := fill(w); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		return w.ToManifestFile(path, counted.n)
	}()
	if err := errors.Join(err, counted.Close()); err != nil {
		_ = fs.Remove(path)
		return nil, fmt.Errorf("write manifest %s: %w", path, err)
	}
	return mf, nil
}

// writeManifestList writes the manifest list of snapshot snapID at path.
func writeManifestList(fs icebergio.WriteFileIO, path string, snapID int64, parentID *int64, seq int64, manifests []iceberg.ManifestFile) error {
	out, err := fs.Create(path)
	if err != nil {
		return err
	}
	if err := errors.Join(iceberg.WriteManifestList(2, out, snapID, parentID, &seq, 0, manifests), out.Close()); err != nil {
		_ = fs.Remove(path)
		return fmt.Errorf("write manifest list %s: %w", path, err)
	}
	return nil
}

// setNameMapping stages the name mapping of sc as the table's.
func setNameMapping(txn *table.Transaction, sc *iceberg.Schema) error {
	b, err := json.Marshal(sc.NameMapping())
	if err != nil {
		return err
	}
	return txn.SetProperties(iceberg.Properties{table.DefaultNameMappingKey: string(b)})
}

// newSnapshotID is a positive id no snapshot of meta has.
func newSnapshotID(meta table.Metadata) int64 {
	for {
		id := rand.Int64N(math.MaxInt64-1) + 1
		if meta.SnapshotByID(id) == nil {
			return id
		}
	}
}

// daySummary is the snapshot summary of a day's publish: the publisher's properties
// and Iceberg's counts of what it added and removed, with the table's totals after it.
func daySummary(props iceberg.Properties, parent *table.Snapshot, added, removed []iceberg.DataFile) *table.Summary {
	out := maps.Clone(props)
	if out == nil {
		out = iceberg.Properties{}
	}
	var addedRows, addedSize, removedRows, removedSize int64
	for _, f := range added {
		addedRows += f.Count()
		addedSize += f.FileSizeBytes()
	}
	for _, f := range removed {
		removedRows += f.Count()
		removedSize += f.FileSizeBytes()
	}
	setPositive := func(k string, v int64) {
		if v > 0 {
			out[k] = strconv.FormatInt(v, 10)
		}
	}
	setPositive("added-data-files", int64(len(added)))
	setPositive("added-records", addedRows)
	setPositive("added-files-size", addedSize)
	setPositive("deleted-data-files", int64(len(removed)))
	setPositive("deleted-records", removedRows)
	setPositive("removed-files-size", removedSize)
	if len(added)+len(removed) > 0 {
		out["changed-partition-count"] = "1"
	}
	var prev iceberg.Properties
	if parent != nil && parent.Summary != nil {
		prev = parent.Summary.Properties
	}
	total := func(k string, delta int64) {
		out[k] = strconv.FormatInt(max(0, prev.GetInt64(k, 0)+delta), 10)
	}
	total("total-data-files", int64(len(added)-len(removed)))
	total("total-records", addedRows-removedRows)
	total("total-files-size", addedSize-removedSize)
	total("total-delete-files", 0)
	total("total-position-deletes", 0)
	total("total-equality-deletes", 0)
	op := table.OpAppend
	if len(removed) > 0 {
		op = table.OpOverwrite
	}
	return &table.Summary{Operation: op, Properties: out}
}
