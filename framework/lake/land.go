package lake

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"gocloud.dev/blob"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/source"
)

// Metadata columns every raw file carries besides the stream's typed fields.
const (
	ColExtractedAt = "_extracted_at" // when the page was received (UTC)
	ColRunID       = "_run_id"       // the Temporal run that landed it
	ColCursor      = "_cursor"       // the source cursor after the record's page
	ColRaw         = "_raw"          // the record exactly as the API sent it
)

// LandRequest describes one landing of one stream.
type LandRequest struct {
	Stream    StreamRef
	RunID     string
	SyncStart time.Time
	Partition string
	// Cursor to resume from; nil = from the beginning (a full refresh).
	Cursor json.RawMessage
	// Resume holds the files an earlier attempt of this same run already closed; the
	// landing continues after them instead of starting over.
	Resume *Checkpoint
	// Progress is called after every page with what is durable so far (for heartbeats).
	Progress func(Checkpoint)

	Reader    *source.ReaderOptions
	BatchRows int              // rows per Arrow batch / Parquet row group (default 8192)
	FileRows  int64            // roll to a new file at the first page boundary past this (default 500k)
	Now       func() time.Time // extraction clock (default time.Now)
	Alloc     memory.Allocator // default memory.DefaultAllocator
}

// Checkpoint is the durable progress of a landing.
type Checkpoint struct {
	Files  []DataFile      `json:"files"`
	Cursor json.RawMessage `json:"cursor,omitempty"` // after the last closed file
	Pages  int             `json:"pages"`
	Rows   int64           `json:"rows"` // rows read so far, including those not yet in a closed file
}

// LandResult is what a landing committed.
type LandResult struct {
	ManifestKey string
	Manifest    Manifest
	Stats       source.Stats
}

// Schema is the Arrow schema of a stream's raw files.
func Schema(fields []source.Field) *arrow.Schema {
	fs := make([]arrow.Field, 0, len(fields)+4)
	for _, f := range fields {
		md := arrow.NewMetadata([]string{"doc"}, []string{f.Doc})
		fs = append(fs, arrow.Field{Name: f.Name, Type: arrowType(f.Type), Nullable: true, Metadata: md})
	}
	fs = append(fs,
		arrow.Field{Name: ColExtractedAt, Type: tsType},
		arrow.Field{Name: ColRunID, Type: arrow.BinaryTypes.String},
		arrow.Field{Name: ColCursor, Type: arrow.BinaryTypes.String, Nullable: true},
		arrow.Field{Name: ColRaw, Type: arrow.BinaryTypes.String},
	)
	return arrow.NewSchema(fs, nil)
}

// Timestamps are UTC stored without a zone, which DuckDB reads as a plain TIMESTAMP.
var tsType = &arrow.TimestampType{Unit: arrow.Microsecond}

func arrowType(t source.Type) arrow.DataType {
	switch t {
	case source.Int64:
		return arrow.PrimitiveTypes.Int64
	case source.Float64:
		return arrow.PrimitiveTypes.Float64
	case source.Bool:
		return arrow.FixedWidthTypes.Boolean
	case source.Timestamp:
		return tsType
	case source.Date:
		return arrow.FixedWidthTypes.Date32
	}
	return arrow.BinaryTypes.String
}

// Land reads the stream from req.Cursor and streams its pages into Parquet files in
// the bucket, a bounded batch at a time, then commits a manifest. Memory is bounded by
// one page plus three batches (one filling, one waiting, one being encoded), whatever
// the stream's length.
func (l *Lake) Land(ctx context.Context, stream source.Stream, req LandRequest) (LandResult, error) {
	spec := stream.Spec()
	if req.BatchRows <= 0 {
		req.BatchRows = 8192
	}
	if req.FileRows <= 0 {
		req.FileRows = 500_000
	}
	if req.Now == nil {
		req.Now = time.Now
	}
	if req.Alloc == nil {
		req.Alloc = memory.DefaultAllocator
	}
	op := fmt.Sprintf("land %s.%s", req.Stream.Source, req.Stream.Stream)
	w := &landWriter{lake: l, req: req, schema: Schema(spec.Fields), fields: spec.Fields, extract: source.NewExtractor(spec.Fields), op: op}
	defer w.abort()

	cp := Checkpoint{Cursor: req.Cursor}
	if req.Resume != nil && len(req.Resume.Files) > 0 {
		cp = Checkpoint{Files: req.Resume.Files, Cursor: req.Resume.Cursor}
		for _, f := range cp.Files {
			cp.Rows += f.Rows
		}
	}
	w.cp = cp
	w.lastCursor = cp.Cursor
	start := cp.Cursor

	stats, err := source.NewReader(stream, req.Reader).Read(ctx, source.PageRequest{Cursor: start, SyncStart: req.SyncStart, Partition: req.Partition}, func(p source.Page) error {
		return w.page(ctx, p)
	})
	if err != nil {
		return LandResult{}, err
	}
	if err := w.closeFile(); err != nil {
		return LandResult{}, err
	}
	m := Manifest{
		V: 1, Stream: req.Stream, RunID: req.RunID, Partition: req.Partition,
		Files: w.cp.Files, CursorStart: req.Cursor, CursorEnd: w.cp.Cursor,
		SyncStart: req.SyncStart.UTC(), CommittedAt: req.Now().UTC(),
		PrimaryKey: spec.PrimaryKey, CursorField: spec.CursorField, Fields: spec.Fields,
	}
	for _, f := range m.Files {
		m.Rows += f.Rows
	}
	key, err := l.commit(ctx, &m)
	if err != nil {
		return LandResult{}, err
	}
	return LandResult{ManifestKey: key, Manifest: m, Stats: stats}, nil
}

// landWriter owns the open Parquet file and the Arrow batch being filled.
type landWriter struct {
	lake    *Lake
	req     LandRequest
	schema  *arrow.Schema
	fields  []source.Field
	extract *source.Extractor
	vals    []any // the current record's values, reused
	op      string

	cp       Checkpoint
	bw       *blob.Writer
	cancel   context.CancelFunc
	fw       *pqarrow.FileWriter
	enc      *encoder // writes fw's batches
	b        *array.RecordBuilder
	key      string
	fileRows int64
	pageNo   int
	// lastCursor is the cursor after the newest page read.
	lastCursor json.RawMessage
}

func (w *landWriter) page(ctx context.Context, p source.Page) error {
	w.pageNo++
	if len(p.Records) > 0 && w.fw == nil {
		if err := w.openFile(ctx); err != nil {
			return err
		}
	}
	extracted := arrow.Timestamp(w.req.Now().UTC().UnixMicro())
	cursor := string(p.Next)
	n := len(w.fields)
	for i, rec := range p.Records {
		vals, err := w.extract.Extract(rec, w.vals)
		if err != nil {
			return errs.Errorf(errs.Invalid, w.op, "page %d record %d: %v (the source sent data the stream's schema cannot read; fix the connector's field types)", w.pageNo, i+1, err)
		}
		w.vals = vals
		for j, v := range vals {
			appendValue(w.b.Field(j), v)
		}
		w.b.Field(n).(*array.TimestampBuilder).Append(extracted)
		w.b.Field(n + 1).(*array.StringBuilder).Append(w.req.RunID)
		if cursor == "" {
			w.b.Field(n + 2).AppendNull()
		} else {
			w.b.Field(n + 2).(*array.StringBuilder).Append(cursor)
		}
		w.b.Field(n + 3).(*array.StringBuilder).Append(string(rec))
		w.fileRows++
		w.cp.Rows++
		if w.b.Field(0).Len() >= w.req.BatchRows {
			if err := w.flush(); err != nil {
				return err
			}
		}
	}
	w.cp.Pages++
	if len(p.Next) > 0 {
		w.pendingCursor(p.Next)
	}
	// Roll only at a page boundary, so each closed file ends at a cursor we can resume from.
	if w.fileRows >= w.req.FileRows {
		if err := w.closeFile(); err != nil {
			return err
		}
	}
	if w.req.Progress != nil {
		w.req.Progress(w.cp)
	}
	return nil
}

// pendingCursor remembers the cursor reached; it becomes the checkpoint cursor when
// the file holding those records closes (or right away if no file is open).
func (w *landWriter) pendingCursor(c json.RawMessage) {
	w.lastCursor = c
	if w.fw == nil {
		w.cp.Cursor = c
	}
}

func (w *landWriter) openFile(ctx context.Context) error {
	w.key = fmt.Sprintf("%s/run=%s/part-%05d.parquet", w.req.Stream.Prefix(), sanitize(w.req.RunID), len(w.cp.Files))
	// Cancelling the writer's context before Close discards the object (see abort).
	wctx, cancel := context.WithCancel(ctx)
	bw, err := w.lake.Bucket.NewWriter(wctx, w.key, &blob.WriterOptions{ContentType: "application/vnd.apache.parquet"})
	if err != nil {
		cancel()
		return errs.E(kindOf(err), w.op, err)
	}
	// _raw is unique per record: a dictionary for it is built only to be abandoned.
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Snappy), parquet.WithAllocator(w.req.Alloc),
		parquet.WithMaxRowGroupLength(int64(w.req.BatchRows)*8), parquet.WithDictionaryFor(ColRaw, false))
	fw, err := pqarrow.NewFileWriter(w.schema, bw, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema(), pqarrow.WithAllocator(w.req.Alloc)))
	if err != nil {
		cancel()
		bw.Close()
		return errs.E(errs.Internal, w.op, err)
	}
	w.bw, w.fw, w.cancel = bw, fw, cancel
	w.enc = startEncoder(fw)
	w.b = array.NewRecordBuilder(w.req.Alloc, w.schema)
	w.fileRows = 0
	return nil
}

func (w *landWriter) flush() error {
	if w.b == nil || w.b.Field(0).Len() == 0 {
		return nil
	}
	// The next batch will be about as big as this one: reserving that up front spares
	// the builders growing their buffers by doubling and copying, batch after batch.
	data := make([]int, len(w.fields)+4)
	for i := range data {
		if sb, ok := w.b.Field(i).(*array.StringBuilder); ok {
			data[i] = sb.DataLen()
		}
	}
	rec := w.b.NewRecordBatch()
	w.b.Reserve(w.req.BatchRows)
	for i, n := range data {
		if n > 0 {
			w.b.Field(i).(*array.StringBuilder).ReserveData(n + n/8)
		}
	}
	if err := w.enc.write(rec); err != nil {
		return errs.E(errs.Transient, w.op+": write "+w.key, err)
	}
	return nil
}

func (w *landWriter) closeFile() error {
	if w.fw == nil {
		return nil
	}
	if err := w.flush(); err != nil {
		return err
	}
	if err := w.enc.finish(); err != nil {
		return errs.E(errs.Transient, w.op+": write "+w.key, err)
	}
	fw, cancel := w.fw, w.cancel
	w.fw, w.bw, w.cancel, w.enc = nil, nil, nil, nil
	w.b.Release()
	w.b = nil
	err := fw.Close() // also closes the blob writer: the upload commits here
	cancel()
	if err != nil {
		return errs.E(errs.Transient, w.op+": write "+w.key, err)
	}
	w.cp.Files = append(w.cp.Files, DataFile{Key: w.key, Rows: w.fileRows, Cursor: w.lastCursor})
	w.cp.Cursor = w.lastCursor
	return nil
}

// abort discards a half-written file: a blob.Writer whose context is never closed
// successfully leaves nothing behind, and files without a manifest are never read.
func (w *landWriter) abort() {
	if w.cancel != nil {
		w.cancel() // first, so the encoder's writes to the discarded file fail fast
	}
	if w.enc != nil {
		w.enc.finish() // the file is discarded: its error no longer matters
		w.enc = nil
	}
	if w.b != nil {
		w.b.Release()
		w.b = nil
	}
	if w.bw != nil {
		w.cancel()
		w.bw.Close()
		w.bw = nil
	}
}

func appendValue(b array.Builder, v any) {
	if v == nil {
		b.AppendNull()
		return
	}
	switch b := b.(type) {
	case *array.StringBuilder:
		b.Append(v.(string))
	case *array.Int64Builder:
		b.Append(v.(int64))
	case *array.Float64Builder:
		b.Append(v.(float64))
	case *array.BooleanBuilder:
		b.Append(v.(bool))
	case *array.TimestampBuilder:
		b.Append(arrow.Timestamp(v.(time.Time).UnixMicro()))
	case *array.Date32Builder:
		b.Append(arrow.Date32FromTime(v.(time.Time)))
	default:
		b.AppendNull()
	}
}
