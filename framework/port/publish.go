package port

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/scalar"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"

	"github.com/meshflow/meshflow/framework/errs"
)

// PublishRequest says what a publish replaces and what it records.
type PublishRequest struct {
	// Mode is Replace{}, ReplacePartition{…} or MergeByKey{…}. It is required: overwriting the whole
	// table must never be what a forgotten field means.
	Mode Mode
	// SnapshotProperties are stored in the snapshot summary (run id, partition, check
	// results, data watermark, published time…), opaque to this package.
	SnapshotProperties map[string]string
	// TableProperties are set on the table in the same commit (owner, description,
	// version…); properties not named are left as they are.
	TableProperties map[string]string
	// Branch, when set, publishes to that branch of the table (see Branch), never to
	// main: main's readers see nothing of it. The branch is made from main's current
	// snapshot on its first publish, and made again from it when main has moved
	// since (leaving the branch's earlier snapshots out), so it can always
	// fast-forward main after this publish. The TableProperties are kept in the
	// snapshot rather than set on the table; FastForward sets them. A nullable column
	// may be missing from the data: the preview of a removed column.
	Branch string
	// PartitionBy names the DATE column the table is partitioned by (Iceberg's
	// identity transform), so a day's publish touches only that day's files and
	// manifests and readers prune days on read. A table that exists unpartitioned is
	// partitioned in place on the first publish that names it (partition evolution):
	// its history stays readable, files written from then on are partitioned. ""
	// leaves the table's partitioning as it is.
	PartitionBy string
}

// Mode is how a publish replaces the table's rows: Replace, ReplacePartition or
// MergeByKey (merge.go).
type Mode interface{ mode() }

// Replace overwrites the whole table: the data is the product's full current state.
type Replace struct{}

// ReplacePartition overwrites only the rows where Column = Value, so re-running a
// partition (a retry, a backfill) replaces it and never duplicates it. Every published
// row must have Column = Value; a row outside the partition fails the publish, since
// a re-run would not replace it and it would be duplicated.
type ReplacePartition struct {
	Column string
	// Value is the partition value in its text form, parsed as the column's type:
	// "2024-05-01" for a date column, "42" for an integer one.
	Value string
}

func (Replace) mode()          {}
func (ReplacePartition) mode() {}

// Publish commits the rows of rdr to the port table as one snapshot, creating the
// namespace and table on the first publish and adding the columns the data has and
// the table lacks. A column the table has and the data lacks, or one whose type
// changed, is refused with errs.Invalid: that is a breaking change, a new major.
//
// Publish reads rdr to the end; the caller still owns (releases) it. Concurrent
// publishers to one table each land exactly once: one that loses the commit race
// rebuilds its commit on the winner's snapshot (a few times at most, then
// errs.Conflict).
func (c *Catalog) Publish(ctx context.Context, id TableID, rdr array.RecordReader, req PublishRequest) (Snapshot, error) {
	op := "port: publish " + id.String()
	if err := id.validate(); err != nil {
		return Snapshot{}, errs.E(errs.Invalid, op, err)
	}
	if rdr == nil {
		return Snapshot{}, errs.Errorf(errs.Invalid, op, "no record reader")
	}
	if m, ok := req.Mode.(MergeByKey); ok {
		return c.merge(ctx, op, id, rdr, req, m)
	}
	// Downcast ns timestamps: format v2 tables store microseconds.
	want, err := table.ArrowSchemaToIcebergWithFreshIDs(rdr.Schema(), true)
	if err != nil {
		return Snapshot{}, errs.E(errs.Invalid, op, fmt.Errorf("arrow schema: %w", err))
	}

	if err := checkPartitionBy(want, req.PartitionBy); err != nil {
		return Snapshot{}, errs.E(errs.Invalid, op, err)
	}
	createOpts, err := createPartitioned(want, req.PartitionBy)
	if err != nil {
		return Snapshot{}, errs.E(errs.Invalid, op, err)
	}

	var filter iceberg.BooleanExpression = iceberg.AlwaysTrue{}
	var part *ReplacePartition
	switch m := req.Mode.(type) {
	case Replace, *Replace:
	case ReplacePartition:
		part = &m
	case *ReplacePartition:
		part = m
	case nil:
		return Snapshot{}, errs.Errorf(errs.Invalid, op, "no publish mode (Replace or ReplacePartition)")
	default:
		return Snapshot{}, errs.Errorf(errs.Invalid, op, "unknown publish mode %T", m)
	}
	src, err := newCheckedReader(ctx, rdr, part)
	if err != nil {
		return Snapshot{}, errs.E(errs.Invalid, op, err)
	}
	defer src.Release()
	if part != nil {
		filter = iceberg.EqualTo(iceberg.Reference(part.Column), part.Value)
		// Binding parses the value as the column's type: a bad value fails here.
		if _, err := iceberg.BindExpr(want, filter, true); err != nil {
			return Snapshot{}, errs.E(errs.Invalid, op, fmt.Errorf("partition %s=%q: %w", part.Column, part.Value, err))
		}
	}

	tableProps, snapProps := req.TableProperties, iceberg.Properties(maps.Clone(req.SnapshotProperties))
	if req.Branch != "" {
		if err := ValidateBranch(req.Branch); err != nil {
			return Snapshot{}, err
		}
		if snapProps, err = branchProperties(snapProps, tableProps); err != nil {
			return Snapshot{}, errs.E(errs.Invalid, op, err)
		}
		tableProps = nil
	}
	tbl, err := c.ensureTable(ctx, op, id, want, tableProps, createOpts...)
	if err != nil {
		return Snapshot{}, err
	}
	if req.Branch != "" {
		if tbl, err = c.restartBranch(ctx, op, id, tbl, req.Branch); err != nil {
			return Snapshot{}, err
		}
	}
	if part != nil && req.Branch == "" && part.Column == req.PartitionBy {
		committed, err := c.publishDay(ctx, op, id, tbl, src, want, *part, tableProps, snapProps)
		if err == nil {
			return toSnapshot(committed.CurrentSnapshot()), nil
		}
		if !errors.Is(err, errDaySlowPath) {
			return Snapshot{}, err
		}
		// Rows of the day in files of several days: rewritten below, row by row.
	}

	// failed is the last attempt that lost a commit race. Its staged snapshot holds the
	// rows already written, so the next attempt re-reads them from there: the caller's
	// reader can be read only once, and buffering every publish in memory for a rare
	// retry would cost more than re-reading on the retry.
	var failed *table.Transaction
	committed, err := c.commit(ctx, op, id, tbl, func(ctx context.Context, tbl *table.Table, attempt int) (_ *table.Transaction, err error) {
		defer func() {
			if err != nil && failed != nil {
				// The failed attempt lost its race and this one cannot take over its
				// rows: its files are garbage.
				removeStagedFiles(ctx, failed, req.Branch)
				failed = nil
			}
		}()
		txn := tbl.NewTransaction()
		if req.Branch != "" {
			txn = tbl.NewTransactionOnBranch(req.Branch)
		}
		if err := evolveSchema(txn, tbl.Schema(), tbl.NameMapping(), want, req.Branch != ""); err != nil {
			return nil, errs.E(errs.Invalid, op, err)
		}
		if err := setProperties(txn, tbl.Properties(), tableProps); err != nil {
			return nil, errs.E(errs.Internal, op, err)
		}
		if err := evolveSpec(txn, tbl, req.PartitionBy); err != nil {
			return nil, errs.E(errs.Internal, op, err)
		}
		var data array.RecordReader = src
		done := func() {}
		if attempt > 0 {
			replay, closeScan, err := replayReader(ctx, failed, req.Branch, filter)
			if err != nil {
				return nil, errs.E(errs.Internal, op, fmt.Errorf("re-read rows of the failed attempt: %w", err))
			}
			data, done = replay, func() { replay.Release(); closeScan() }
		}
		err = txn.Overwrite(ctx, data, snapProps, table.WithOverwriteFilter(filter))
		done()
		if err != nil {
			var de *dataError
			if errors.As(err, &de) {
				return nil, errs.E(errs.Invalid, op, de)
			}
			return nil, errs.E(kindOf(err), op, err)
		}
		if failed != nil {
			// Its rows now live in this attempt's files.
			removeStagedFiles(ctx, failed, req.Branch)
		}
		failed = txn
		return txn, nil
	})
	if errs.Is(err, errs.Conflict) && failed != nil {
		// The last attempt lost its race too: nothing landed and its files are garbage.
		// After an unknown commit outcome the files stay: the commit may have landed.
		removeStagedFiles(ctx, failed, req.Branch)
	}
	if err != nil {
		return Snapshot{}, err
	}
	if part == nil && req.Branch == "" {
		// The delete files of earlier merges by key name rows no longer there. Best
		// effort: the rows are published; what is left only miscounts them.
		if cleaned, err := c.dropDeletes(ctx, op, id, committed); err == nil {
			committed = cleaned
		}
	}
	s := committed.CurrentSnapshot()
	if req.Branch != "" {
		s, _ = branchHead(committed, req.Branch)
	}
	if s == nil {
		return Snapshot{}, errs.Errorf(errs.Internal, op, "commit left no current snapshot")
	}
	return toSnapshot(s), nil
}

// ensureTable loads the table, creating its namespace and itself on first publish.
func (c *Catalog) ensureTable(ctx context.Context, op string, id TableID, sc *iceberg.Schema, props map[string]string, opts ...catalog.CreateTableOpt) (*table.Table, error) {
	tbl, err := c.loadTable(ctx, id)
	if err == nil {
		return tbl, nil
	}
	if kindOf(err) != errs.NotFound {
		return nil, errs.E(kindOf(err), op, err)
	}
	ns := table.Identifier{id.Domain}
	if err := c.cat.CreateNamespace(ctx, ns, nil); err != nil && !errors.Is(err, catalog.ErrNamespaceAlreadyExists) {
		// Another publisher may have created it between our check and insert.
		if ok, cerr := c.cat.CheckNamespaceExists(ctx, ns); cerr != nil || !ok {
			return nil, errs.E(kindOf(err), op, fmt.Errorf("create namespace %s: %w", id.Domain, err))
		}
	}
	p := iceberg.Properties(maps.Clone(props))
	if p == nil {
		p = iceberg.Properties{}
	}
	// commit rebuilds after a lost race itself; iceberg-go's in-commit replay (off by
	// default in v0.7.0, on in Java) is pinned off in case a later version turns it on
	// (see commit).
	p[table.CommitNumRetriesKey] = "0"
	tbl, err = c.cat.CreateTable(ctx, id.ident(), sc, append(opts, catalog.WithProperties(p))...)
	if err != nil {
		// Another publisher may have created it first; its table is as good as ours.
		if t, lerr := c.cat.LoadTable(ctx, id.ident()); lerr == nil {
			return t, nil
		}
		return nil, errs.E(kindOf(err), op, fmt.Errorf("create table: %w", err))
	}
	return tbl, nil
}

// evolveSchema adds the data's new top-level columns to the table, all on one
// UpdateSchema builder as iceberg-go needs (ARCHITECTURE, "Known traps"), and refuses
// breaking changes, naming every offending column. A publish to a branch may leave
// out a nullable column (a preview of its removal): the table keeps it for main.
func evolveSchema(txn *table.Transaction, cur *iceberg.Schema, nm iceberg.NameMapping, want *iceberg.Schema, branch bool) error {
	curByName := map[string]iceberg.NestedField{}
	for _, f := range cur.Fields() {
		curByName[f.Name] = f
	}
	wantByName := map[string]iceberg.NestedField{}
	for _, f := range want.Fields() {
		wantByName[f.Name] = f
	}
	var problems []string
	for _, f := range cur.Fields() {
		w, ok := wantByName[f.Name]
		switch {
		case !ok && branch && !f.Required:
		case !ok:
			problems = append(problems, fmt.Sprintf("column %q is missing from the data (removing a column is a breaking change)", f.Name))
		case !sameType(f.Type, w.Type):
			problems = append(problems, fmt.Sprintf("column %q changes type from %s to %s (a breaking change)", f.Name, f.Type, w.Type))
		case f.Required && !w.Required:
			problems = append(problems, fmt.Sprintf("column %q is required in the table but nullable in the data", f.Name))
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}

	var upd *table.UpdateSchema
	update := func() *table.UpdateSchema {
		if upd == nil {
			// Without the table's name mapping the builder leaves the stored mapping
			// (how engines read files without field ids) at the old columns.
			var opts []table.UpdateSchemaOption
			if nm != nil {
				opts = append(opts, table.WithNameMapping(nm))
			}
			upd = txn.UpdateSchema(true, false, opts...)
		}
		return upd
	}
	for _, w := range want.Fields() {
		f, ok := curByName[w.Name]
		switch {
		case !ok:
			// Optional: the rows already published have no value for it.
			update().AddColumn([]string{w.Name}, w.Type, w.Doc, false, nil)
		case w.Doc != "" && w.Doc != f.Doc:
			update().UpdateColumn([]string{w.Name}, table.ColumnUpdate{Doc: iceberg.Optional[string]{Val: w.Doc, Valid: true}})
		}
	}
	if upd == nil {
		return nil
	}
	return upd.Commit()
}

// sameType compares types ignoring field ids, which differ between the table and a
// schema converted from Arrow.
func sameType(a, b iceberg.Type) bool {
	switch at := a.(type) {
	case *iceberg.StructType:
		bt, ok := b.(*iceberg.StructType)
		if !ok || len(at.FieldList) != len(bt.FieldList) {
			return false
		}
		for i, f := range at.FieldList {
			g := bt.FieldList[i]
			if f.Name != g.Name || f.Required != g.Required || !sameType(f.Type, g.Type) {
				return false
			}
		}
		return true
	case *iceberg.ListType:
		bt, ok := b.(*iceberg.ListType)
		return ok && at.ElementRequired == bt.ElementRequired && sameType(at.Element, bt.Element)
	case *iceberg.MapType:
		bt, ok := b.(*iceberg.MapType)
		return ok && at.ValueRequired == bt.ValueRequired && sameType(at.KeyType, bt.KeyType) && sameType(at.ValueType, bt.ValueType)
	}
	return a.Equals(b)
}

// setProperties stages the properties that differ from the table's.
func setProperties(txn *table.Transaction, cur iceberg.Properties, want map[string]string) error {
	changed := iceberg.Properties{}
	for k, v := range want {
		if old, ok := cur[k]; !ok || old != v {
			changed[k] = v
		}
	}
	return txn.SetProperties(changed)
}

// dataError is a published row the table must not take.
type dataError struct{ msg string }

func (e *dataError) Error() string { return e.msg }

// checkedReader passes batches through, failing at the first row that breaks the
// publish: a null in a non-nullable column (iceberg-go v0.7.0 writes it into a
// required column without complaint) or, for ReplacePartition, a row outside the
// partition.
type checkedReader struct {
	array.RecordReader
	ctx      context.Context // for the compute kernel only; the reader lives one Publish
	required []int           // indices of non-nullable columns
	part     *ReplacePartition
	partCol  int
	partWant scalar.Scalar
	err      error
}

// newCheckedReader wraps rdr; part is nil for a whole-table publish.
func newCheckedReader(ctx context.Context, rdr array.RecordReader, part *ReplacePartition) (*checkedReader, error) {
	r := &checkedReader{RecordReader: rdr, ctx: ctx, part: part}
	for i, f := range rdr.Schema().Fields() {
		if !f.Nullable {
			r.required = append(r.required, i)
		}
	}
	if part != nil {
		if part.Column == "" || part.Value == "" {
			return nil, errors.New("ReplacePartition needs a column and a value")
		}
		idx := rdr.Schema().FieldIndices(part.Column)
		if len(idx) != 1 {
			return nil, fmt.Errorf("partition column %q is not in the data", part.Column)
		}
		want, err := scalar.ParseScalar(rdr.Schema().Field(idx[0]).Type, part.Value)
		if err != nil {
			return nil, fmt.Errorf("partition %s=%q: %w", part.Column, part.Value, err)
		}
		r.partCol, r.partWant = idx[0], want
	}
	rdr.Retain()
	return r, nil
}

func (r *checkedReader) Next() bool {
	if r.err != nil || !r.RecordReader.Next() {
		return false
	}
	if err := r.check(r.RecordReader.RecordBatch()); err != nil {
		r.err = err
		return false
	}
	return true
}

func (r *checkedReader) Err() error {
	if r.err != nil {
		return r.err
	}
	return r.RecordReader.Err()
}

func (r *checkedReader) check(rec arrow.RecordBatch) error {
	for _, i := range r.required {
		if rec.Column(i).NullN() > 0 {
			return &dataError{fmt.Sprintf("column %q is not nullable but has null values", rec.ColumnName(i))}
		}
	}
	if r.part == nil {
		return nil
	}
	col := rec.Column(r.partCol)
	// NewDatum retains what it wraps; the datums release it.
	lhs, rhs := compute.NewDatum(col), compute.NewDatum(r.partWant)
	defer lhs.Release()
	defer rhs.Release()
	res, err := compute.CallFunction(r.ctx, "equal", nil, lhs, rhs)
	if err != nil {
		return fmt.Errorf("check partition column %q: %w", r.part.Column, err)
	}
	defer res.Release()
	ad, ok := res.(*compute.ArrayDatum)
	if !ok {
		return fmt.Errorf("check partition column %q: unexpected result %s", r.part.Column, res.Kind())
	}
	eq := ad.MakeArray()
	defer eq.Release()
	b, ok := eq.(*array.Boolean)
	if !ok {
		return fmt.Errorf("check partition column %q: unexpected result type %s", r.part.Column, eq.DataType())
	}
	for i := range b.Len() {
		if b.IsNull(i) || !b.Value(i) {
			return &dataError{fmt.Sprintf("row with %s=%s is outside the partition %s=%s being replaced (a re-run would duplicate it)",
				r.part.Column, col.ValueStr(i), r.part.Column, r.part.Value)}
		}
	}
	return nil
}

// replayReader reads back the rows a failed attempt wrote under filter on branch ("" =
// main). The scan's
// schema carries that attempt's field ids; they are dropped so the rows are matched
// to the reloaded table's columns by name. The caller releases the reader and then
// calls closeScan.
func replayReader(ctx context.Context, failed *table.Transaction, branch string, filter iceberg.BooleanExpression) (rdr array.RecordReader, closeScan func(), err error) {
	_, head, err := stagedHead(failed, branch)
	if err != nil {
		return nil, nil, err
	}
	scan, err := failed.Scan(table.WithRowFilter(filter), table.WithSnapshotID(head.SnapshotID))
	if err != nil {
		return nil, nil, err
	}
	sc, recs, err := scan.ToArrowRecords(ctx)
	if err != nil {
		_ = scan.Close()
		return nil, nil, err
	}
	fields := sc.Fields()
	for i := range fields {
		fields[i].Metadata = arrow.Metadata{}
	}
	plain := arrow.NewSchema(fields, nil)
	seq := func(yield func(arrow.RecordBatch, error) bool) {
		for rec, err := range recs {
			if err != nil {
				yield(nil, err)
				return
			}
			out := array.NewRecordBatch(plain, rec.Columns(), rec.NumRows())
			rec.Release()
			if !yield(out, nil) {
				return
			}
		}
	}
	return array.ReaderFromIter(plain, seq), func() { _ = scan.Close() }, nil
}

// removeStagedFiles deletes the data files a transaction that never committed wrote.
// Best effort: a file left behind is unreferenced and only costs storage, which
// orphan-file cleanup reclaims.
func removeStagedFiles(ctx context.Context, txn *table.Transaction, branch string) {
	st, snap, err := stagedHead(txn, branch)
	if err != nil {
		return
	}
	fs, err := st.FS(ctx)
	if err != nil {
		return
	}
	manifests, err := snap.Manifests(fs)
	if err != nil {
		return
	}
	for _, mf := range manifests {
		if mf.ManifestContent() != iceberg.ManifestContentData || mf.SnapshotID() != snap.SnapshotID {
			continue
		}
		for e, err := range mf.Entries(fs, true) {
			if err != nil {
				break
			}
			if e.Status() == iceberg.EntryStatusADDED && e.SnapshotID() == snap.SnapshotID {
				_ = fs.Remove(e.DataFile().FilePath())
			}
		}
	}
}

// stagedHead is the snapshot a transaction staged on branch ("" = main), with its
// staged table.
func stagedHead(txn *table.Transaction, branch string) (*table.StagedTable, *table.Snapshot, error) {
	st, err := txn.StagedTable()
	if err != nil {
		return nil, nil, err
	}
	snap := st.CurrentSnapshot()
	if branch != "" {
		snap, _ = branchHead(st.Table, branch)
	}
	if snap == nil {
		return nil, nil, errors.New("the transaction staged no snapshot")
	}
	return st, snap, nil
}
