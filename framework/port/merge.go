package port

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/iceberg-go"
	icebergio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
	"github.com/google/uuid"

	"github.com/meshflow/meshflow/framework/errs"
)

// MergeByKey replaces the rows of some keys instead of the whole table: every row of
// the table whose key — the values of Columns — is one of Keys is removed, and the
// published rows are added, in one snapshot. A key of Keys without a published row is
// thereby deleted. Every published row's key must be one of Keys: a row of another
// key would sit beside that key's rows, and a re-run would add it again.
//
// The removed rows are not rewritten away: the snapshot adds a position-delete file
// (Iceberg's merge-on-read, format v2) naming them, so a merge costs what it writes
// and a read of the key columns, not a rewrite of the files it touches. Readers apply
// the deletes (iceberg-go, Spark, Trino, PyIceberg, DuckDB's iceberg extension do;
// LocalScan gives the files to apply them by hand); compacting the table folds them
// into its data files.
type MergeByKey struct {
	// Columns are the key: columns of the table, a part of its primary key or all of it.
	Columns []string
	// Keys has one row per key whose rows are replaced, its columns named as Columns.
	// Publish reads it to the end; the caller still releases it.
	Keys array.RecordReader
	// Located, when it is of the table's current snapshot, says where the rows of Keys
	// are (Locate), so the merge does not read the key columns again. Of any other
	// snapshot — a publish or a compaction came between — it is ignored.
	Located *Located
}

func (MergeByKey) mode() {}

// Located is where the rows of some keys are in one snapshot of a table: the
// positions of the rows, per data file. Its rows are those no earlier delete removed.
type Located struct {
	Snapshot int64
	// Positions are the rows' ordinal positions (from 0) in each data file, by the
	// file's location, ascending.
	Positions map[string][]int64
}

// Rows is how many rows were found.
func (l Located) Rows() int64 {
	var n int64
	for _, p := range l.Positions {
		n += int64(len(p))
	}
	return n
}

// errNothingToMerge: the merge neither adds nor removes a row, so it commits nothing.
var errNothingToMerge = errors.New("nothing to merge")

// Locate finds the rows of the current snapshot of a table whose key columns hold one
// of the keys rdr reads (a column per key column, named as the table's). A table not
// published yet holds none. Rows an earlier merge deleted are not found again.
func (c *Catalog) Locate(ctx context.Context, id TableID, columns []string, rdr array.RecordReader) (Located, error) {
	op := "port: locate keys in " + id.String()
	ks, err := readKeySet(rdr, columns)
	if err != nil {
		return Located{}, errs.E(errs.Invalid, op, err)
	}
	tbl, err := c.load(ctx, op, id)
	if errs.Is(err, errs.NotFound) {
		return Located{}, nil
	}
	if err != nil {
		return Located{}, err
	}
	loc, err := locate(ctx, tbl, ks)
	if err != nil {
		return Located{}, errs.E(errs.KindOf(err), op, err)
	}
	return loc, nil
}

// merge is Publish with MergeByKey.
func (c *Catalog) merge(ctx context.Context, op string, id TableID, rdr array.RecordReader, req PublishRequest, m MergeByKey) (Snapshot, error) {
	if req.Branch != "" {
		return Snapshot{}, errs.Errorf(errs.Invalid, op, "a merge by key publishes to main only (branch %s): a preview publishes the whole table", req.Branch)
	}
	if len(m.Columns) == 0 || m.Keys == nil {
		return Snapshot{}, errs.Errorf(errs.Invalid, op, "MergeByKey needs its key columns and the keys it replaces")
	}
	if _, err := columnIndices(rdr.Schema(), m.Columns); err != nil {
		return Snapshot{}, errs.E(errs.Invalid, op, fmt.Errorf("the published rows cannot be merged by key: %w", err))
	}
	ks, err := readKeySet(m.Keys, m.Columns)
	if err != nil {
		return Snapshot{}, errs.E(errs.Invalid, op, err)
	}
	want, err := table.ArrowSchemaToIcebergWithFreshIDs(rdr.Schema(), true)
	if err != nil {
		return Snapshot{}, errs.E(errs.Invalid, op, fmt.Errorf("arrow schema: %w", err))
	}
	src, err := newCheckedReader(ctx, rdr, nil)
	if err != nil {
		return Snapshot{}, errs.E(errs.Invalid, op, err)
	}
	defer src.Release()
	data := &keyedReader{RecordReader: src, keys: ks, columns: m.Columns}
	tbl, err := c.ensureTable(ctx, op, id, want, req.TableProperties)
	if err != nil {
		return Snapshot{}, err
	}
	snapProps := iceberg.Properties(maps.Clone(req.SnapshotProperties))

	// The published rows are written once, by the first attempt: they do not depend on
	// the snapshot they are merged into, while the deletes do, so each attempt that
	// lost a commit race locates the keys again on the new snapshot and writes its
	// own delete file.
	var written []iceberg.DataFile
	var writtenIDs map[string]int
	var deletes []string // delete files of attempts that did not commit
	committed, err := c.commit(ctx, op, id, tbl, func(ctx context.Context, tbl *table.Table, attempt int) (*table.Transaction, error) {
		txn := tbl.NewTransaction()
		if err := evolveSchema(txn, tbl.Schema(), tbl.NameMapping(), want, false); err != nil {
			return nil, errs.E(errs.Invalid, op, err)
		}
		if err := setProperties(txn, tbl.Properties(), req.TableProperties); err != nil {
			return nil, errs.E(errs.Internal, op, err)
		}
		staged, err := txn.StagedTable()
		if err != nil {
			return nil, errs.E(errs.Internal, op, err)
		}
		if attempt == 0 {
			if written, err = writeRows(ctx, staged.Table, data); err != nil {
				var de *dataError
				if errors.As(err, &de) {
					return nil, errs.E(errs.Invalid, op, de)
				}
				return nil, errs.E(kindOf(err), op, err)
			}
			writtenIDs = fieldIDs(staged.Schema(), rdr.Schema())
		} else if !maps.Equal(writtenIDs, fieldIDs(staged.Schema(), rdr.Schema())) {
			// Another publisher changed the columns the rows were written with.
			return nil, errs.Errorf(errs.Conflict, op, "the table's columns changed while this merge was committed: run it again")
		}
		loc := Located{}
		if m.Located != nil && tbl.CurrentSnapshot() != nil && m.Located.Snapshot == tbl.CurrentSnapshot().SnapshotID {
			loc = *m.Located
		} else if loc, err = locate(ctx, tbl, ks); err != nil {
			return nil, errs.E(errs.KindOf(err), op, err)
		}
		if len(written) == 0 && len(loc.Positions) == 0 {
			return nil, errNothingToMerge
		}
		rd := txn.NewRowDelta(snapProps).AddRows(written...)
		if len(loc.Positions) > 0 {
			del, err := writePositionDeletes(ctx, tbl, loc)
			if err != nil {
				return nil, errs.E(errs.KindOf(err), op, err)
			}
			deletes = append(deletes, del.FilePath())
			rd.AddDeletes(del)
		}
		if err := rd.Commit(ctx); err != nil {
			return nil, errs.E(kindOf(err), op, err)
		}
		return txn, nil
	})
	var fresh *table.Table
	if committed != nil {
		fresh = committed
		// The last delete file is the committed one; the others are garbage.
		deletes = deletes[:max(len(deletes)-1, 0)]
	}
	if errors.Is(err, errNothingToMerge) {
		err = nil
		if fresh, err = c.load(ctx, op, id); err == nil {
			removeFiles(ctx, fresh, dataPaths(written))
		}
	} else if errs.Is(err, errs.Conflict) || errs.Is(err, errs.Invalid) {
		// Nothing landed: every file this merge wrote is garbage. After an unknown
		// commit outcome they stay, since the commit may have landed.
		removeFiles(ctx, tbl, append(deletes, dataPaths(written)...))
		deletes = nil
	}
	if fresh != nil {
		removeFiles(ctx, fresh, deletes)
	}
	if err != nil {
		return Snapshot{}, err
	}
	s := fresh.CurrentSnapshot()
	if s == nil {
		return Snapshot{}, errs.Errorf(errs.Internal, op, "merge left no current snapshot")
	}
	return toSnapshot(s), nil
}

// keyedReader fails at the first published row whose key is not one of the keys the
// merge replaces.
type keyedReader struct {
	array.RecordReader
	keys    *keySet
	columns []string
	err     error
}

func (r *keyedReader) Next() bool {
	if r.err != nil || !r.RecordReader.Next() {
		return false
	}
	rec := r.RecordReader.RecordBatch()
	idx, err := columnIndices(rec.Schema(), r.columns)
	if err != nil {
		r.err = err
		return false
	}
	cols := make([]arrow.Array, len(idx))
	for i, j := range idx {
		cols[i] = rec.Column(j)
	}
	var buf strings.Builder
	for row := range int(rec.NumRows()) {
		ok, err := r.keys.has(&buf, cols, row)
		if err != nil {
			r.err = err
			return false
		}
		if !ok {
			vals := make([]string, len(cols))
			for i, c := range cols {
				vals[i] = r.columns[i] + "=" + c.ValueStr(row)
			}
			r.err = &dataError{fmt.Sprintf("row with %s is not one of the keys the merge replaces (a re-run would duplicate it)", strings.Join(vals, ", "))}
			return false
		}
	}
	return true
}

func (r *keyedReader) Err() error {
	if r.err != nil {
		return r.err
	}
	return r.RecordReader.Err()
}

// writeRows writes the published rows as data files of tbl (the transaction's staged
// table, so a column the merge adds has its id).
func writeRows(ctx context.Context, tbl *table.Table, rdr array.RecordReader) ([]iceberg.DataFile, error) {
	var out []iceberg.DataFile
	records := func(yield func(arrow.RecordBatch, error) bool) {
		for rdr.Next() {
			rec := rdr.RecordBatch()
			rec.Retain() // WriteRecords releases what it is given
			if !yield(rec, nil) {
				return
			}
		}
		if err := rdr.Err(); err != nil {
			yield(nil, err)
		}
	}
	var empty []string
	for df, err := range table.WriteRecords(ctx, tbl, rdr.Schema(), records) {
		if err != nil {
			removeFiles(ctx, tbl, append(empty, dataPaths(out)...))
			return nil, err
		}
		if df.Count() == 0 {
			// An empty batch still makes a file; a snapshot has no use for it.
			empty = append(empty, df.FilePath())
			continue
		}
		out = append(out, df)
	}
	removeFiles(ctx, tbl, empty)
	return out, nil
}

// fieldIDs are the table's field ids of the published columns.
func fieldIDs(sc *iceberg.Schema, data *arrow.Schema) map[string]int {
	out := map[string]int{}
	for _, f := range data.Fields() {
		if nf, ok := sc.FindFieldByName(f.Name); ok {
			out[f.Name] = nf.ID
		}
	}
	return out
}

// locate reads the key columns of the current snapshot's data files that may hold a
// key of ks and returns the positions of the rows that do, leaving out the rows its
// position deletes already removed.
func locate(ctx context.Context, tbl *table.Table, ks *keySet) (Located, error) {
	cur := tbl.CurrentSnapshot()
	if cur == nil || len(ks.keys) == 0 {
		return Located{}, nil
	}
	loc := Located{Snapshot: cur.SnapshotID, Positions: map[string][]int64{}}
	ids := make([]int, len(ks.columns))
	for i, c := range ks.columns {
		f, ok := tbl.Schema().FindFieldByName(c)
		if !ok {
			return Located{}, errs.Errorf(errs.Invalid, "", "the table has no key column %q", c)
		}
		ids[i] = f.ID
	}
	scan, err := scanAt(tbl, cur.SnapshotID, table.WithRowFilter(ks.filter()))
	if err != nil {
		return Located{}, err
	}
	defer scan.Close()
	tasks, err := scan.PlanFiles(ctx)
	if err != nil {
		return Located{}, errs.E(kindOf(err), "", err)
	}
	fsys, err := tbl.FS(ctx)
	if err != nil {
		return Located{}, errs.E(errs.Transient, "", err)
	}
	dels := deletedPositions{fsys: fsys, read: map[string]map[string][]int64{}}
	done := map[string]bool{}
	for _, t := range tasks {
		path := t.File.FilePath()
		if done[path] {
			continue // a file planned in several splits is read once
		}
		done[path] = true
		if len(t.EqualityDeleteFiles) > 0 || len(t.DeletionVectorFiles) > 0 {
			return Located{}, errs.Errorf(errs.Invalid, "", "data file %s has equality deletes or deletion vectors, which a merge by key does not read: compact the table first", path)
		}
		gone, err := dels.of(path, t.DeleteFiles)
		if err != nil {
			return Located{}, err
		}
		pos, err := matchingRows(ctx, fsys, path, ids, ks, gone)
		if err != nil {
			return Located{}, err
		}
		if len(pos) > 0 {
			loc.Positions[path] = pos
		}
	}
	return loc, nil
}

// matchingRows reads the key columns (by field id) of one data file and returns the
// positions of its rows whose key is in ks, skipping the positions in gone (sorted).
func matchingRows(ctx context.Context, fsys icebergio.IO, path string, ids []int, ks *keySet, gone []int64) ([]int64, error) {
	f, err := fsys.Open(path)
	if err != nil {
		return nil, errs.E(kindOfIO(err), "", fmt.Errorf("open data file %s: %w", path, err))
	}
	defer f.Close()
	pf, err := file.NewParquetReader(f)
	if err != nil {
		return nil, errs.E(errs.Internal, "", fmt.Errorf("read data file %s: %w", path, err))
	}
	defer pf.Close()
	leaves := make([]int, len(ids))
	sc := pf.MetaData().Schema
	for i, id := range ids {
		leaves[i] = -1
		for j := range sc.NumColumns() {
			if int(sc.Column(j).SchemaNode().FieldID()) == id {
				leaves[i] = j
			}
		}
		if leaves[i] < 0 {
			return nil, nil // written before the key column existed: none of its rows has a key
		}
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 64 * 1024}, memory.DefaultAllocator)
	if err != nil {
		return nil, errs.E(errs.Internal, "", err)
	}
	rr, err := fr.GetRecordReader(ctx, leaves, nil)
	if err != nil {
		return nil, errs.E(errs.Internal, "", err)
	}
	defer rr.Release()
	var out []int64
	var buf strings.Builder
	var pos int64
	for rr.Next() {
		rec := rr.RecordBatch()
		cols := rec.Columns()
		for row := range int(rec.NumRows()) {
			for len(gone) > 0 && gone[0] < pos {
				gone = gone[1:]
			}
			if len(gone) == 0 || gone[0] != pos {
				ok, err := ks.has(&buf, cols, row)
				if err != nil {
					return nil, errs.E(errs.Invalid, "", err)
				}
				if ok {
					out = append(out, pos)
				}
			}
			pos++
		}
	}
	if err := rr.Err(); err != nil && !errors.Is(err, io.EOF) {
		return nil, errs.E(errs.Internal, "", fmt.Errorf("read data file %s: %w", path, err))
	}
	return out, nil
}

// deletedPositions reads position-delete files once each and answers which positions
// of a data file they delete.
type deletedPositions struct {
	fsys icebergio.IO
	read map[string]map[string][]int64 // delete file → data file → positions
}

func (d *deletedPositions) of(dataFile string, deleteFiles []iceberg.DataFile) ([]int64, error) {
	var out []int64
	for _, df := range deleteFiles {
		byFile, ok := d.read[df.FilePath()]
		if !ok {
			var err error
			if byFile, err = readPositionDeletes(d.fsys, df.FilePath()); err != nil {
				return nil, err
			}
			d.read[df.FilePath()] = byFile
		}
		out = append(out, byFile[dataFile]...)
	}
	slices.Sort(out)
	return out, nil
}

func readPositionDeletes(fsys icebergio.IO, path string) (map[string][]int64, error) {
	f, err := fsys.Open(path)
	if err != nil {
		return nil, errs.E(kindOfIO(err), "", fmt.Errorf("open delete file %s: %w", path, err))
	}
	defer f.Close()
	pf, err := file.NewParquetReader(f)
	if err != nil {
		return nil, errs.E(errs.Internal, "", fmt.Errorf("read delete file %s: %w", path, err))
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 64 * 1024}, memory.DefaultAllocator)
	if err != nil {
		return nil, errs.E(errs.Internal, "", err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		return nil, errs.E(errs.Internal, "", fmt.Errorf("read delete file %s: %w", path, err))
	}
	defer tbl.Release()
	idx, err := columnIndices(tbl.Schema(), []string{"file_path", "pos"})
	if err != nil {
		return nil, errs.E(errs.Invalid, "", fmt.Errorf("delete file %s: %w", path, err))
	}
	out := map[string][]int64{}
	paths, positions := tbl.Column(idx[0]).Data(), tbl.Column(idx[1]).Data()
	for i, chunk := range paths.Chunks() {
		ps, ok1 := chunk.(*array.String)
		pos, ok2 := positions.Chunk(i).(*array.Int64)
		if !ok1 || !ok2 {
			return nil, errs.Errorf(errs.Invalid, "", "delete file %s: file_path and pos are %s and %s, not string and long", path, chunk.DataType(), positions.Chunk(i).DataType())
		}
		for j := range ps.Len() {
			out[ps.Value(j)] = append(out[ps.Value(j)], pos.Value(j))
		}
	}
	return out, nil
}

// writePositionDeletes writes one position-delete file naming the located rows, sorted
// by file and position as the Iceberg spec asks. The data files of one merge share
// the table's current partition spec (a product merged by key is not partitioned).
func writePositionDeletes(ctx context.Context, tbl *table.Table, loc Located) (iceberg.DataFile, error) {
	fsys, err := tbl.FS(ctx)
	if err != nil {
		return nil, errs.E(errs.Transient, "", err)
	}
	wfs, ok := fsys.(icebergio.WriteFileIO)
	if !ok {
		return nil, errs.Errorf(errs.Internal, "", "the warehouse of %s cannot be written", tbl.Location())
	}
	if !tbl.Spec().IsUnpartitioned() {
		return nil, errs.Errorf(errs.Invalid, "", "table %s is partitioned: a merge by key writes unpartitioned deletes", tbl.Location())
	}
	lp, err := tbl.LocationProvider()
	if err != nil {
		return nil, errs.E(errs.Internal, "", err)
	}
	path := lp.NewDataLocation(fmt.Sprintf("%s-deletes.parquet", uuid.NewString()))

	sc := table.PositionalDeleteArrowSchema
	paths := array.NewStringBuilder(memory.DefaultAllocator)
	defer paths.Release()
	positions := array.NewInt64Builder(memory.DefaultAllocator)
	defer positions.Release()
	for _, f := range slices.Sorted(maps.Keys(loc.Positions)) {
		for _, p := range loc.Positions[f] {
			paths.Append(f)
			positions.Append(p)
		}
	}
	cols := []arrow.Array{paths.NewArray(), positions.NewArray()}
	defer cols[0].Release()
	defer cols[1].Release()
	rec := array.NewRecordBatch(sc, cols, int64(cols[0].Len()))
	defer rec.Release()

	out, err := wfs.Create(path)
	if err != nil {
		return nil, errs.E(kindOfIO(err), "", fmt.Errorf("create delete file %s: %w", path, err))
	}
	counted := &countingWriter{w: out}
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Snappy), parquet.WithStats(true))
	w, err := pqarrow.NewFileWriter(sc, counted, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		out.Close()
		return nil, errs.E(errs.Internal, "", err)
	}
	if err := w.Write(rec); err != nil {
		w.Close()
		return nil, errs.E(errs.Internal, "", fmt.Errorf("write delete file %s: %w", path, err))
	}
	// Close closes out too.
	if err := w.Close(); err != nil {
		return nil, errs.E(errs.Transient, "", fmt.Errorf("write delete file %s: %w", path, err))
	}
	meta, err := w.FileMetadata()
	if err != nil {
		return nil, errs.E(errs.Internal, "", err)
	}
	// Exact bounds of file_path let readers tell which data files the deletes apply
	// to; the default truncates them to 16 characters, all of the table's location.
	statsProps := iceberg.Properties{table.MetricsModeColumnConfPrefix + ".file_path": "full"}
	df, err := table.DataFileFromMetadata(table.DataFileArgs{
		Schema: iceberg.PositionalDeleteSchema, Spec: tbl.Spec(), Format: iceberg.ParquetFile, Metadata: meta,
		FilePath: path, FileSize: counted.n, Content: iceberg.EntryContentPosDeletes, Properties: statsProps,
		FormatVersion: tbl.Metadata().Version(),
	})
	if err != nil {
		removeFiles(ctx, tbl, []string{path})
		return nil, errs.E(errs.Internal, "", fmt.Errorf("describe delete file %s: %w", path, err))
	}
	return df, nil
}

type countingWriter struct {
	w io.WriteCloser
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func (c *countingWriter) Close() error { return c.w.Close() }

func dataPaths(files []iceberg.DataFile) []string {
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = f.FilePath()
	}
	return out
}

// removeFiles deletes files a merge wrote and no snapshot references. Best effort: a
// file left behind only costs storage, which orphan-file cleanup reclaims.
func removeFiles(ctx context.Context, tbl *table.Table, paths []string) {
	if len(paths) == 0 {
		return
	}
	fsys, err := tbl.FS(ctx)
	if err != nil {
		return
	}
	for _, p := range paths {
		_ = fsys.Remove(p)
	}
}
