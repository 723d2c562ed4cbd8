package lake

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
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
	ColRaw         = "_raw"          // the record exactly as the API sent it
)

// ColCursor is a column raw files written before the cursor moved to the manifest
// carried: the source cursor after each record's page, repeated on every row (a cursor
// of a few hundred kilobytes made a 25k-row file 365 MB). New files leave it out; the
// landing's cursor is Manifest.CursorEnd. Readers of raw files drop it, so old files
// and new ones read alike.
const ColCursor = "_cursor"

// LandRequest describes one landing of one stream.
type LandRequest struct {
	Stream    StreamRef
	RunID     string
	SyncStart time.Time
	Partition string
	// Keys are a keyed stream's keys for this sync (source.StreamSpec.Keys).
	Keys []source.Key
	// Attempt names this attempt of the landing in its files' keys
	// (run=<RunID>/part-<n>-a<Attempt>.parquet; "" = part-<n>.parquet). Every attempt
	// of one run's landing needs its own: an attempt given up on (its heartbeat came
	// too late) keeps writing until its next heartbeat is refused, while the next one
	// resumes from an older checkpoint and so writes files of the same numbers; with
	// the same keys the last close would win, and a manifest could name a file that
	// holds other pages. The flow passes the activity's id and attempt number, which
	// differ across retries and across the landings before and after a quota wait.
	Attempt string
	// Cursor to resume from; nil = from the beginning (a full refresh).
	Cursor json.RawMessage
	// Resume holds what an earlier attempt of this same run made durable (the files it
	// closed and the cursor after them): the landing continues from there instead of
	// starting over. It is the last checkpoint Progress reported, or the one a landing
	// stopped by an exhausted quota returned (LandResult.Checkpoint).
	Resume *Checkpoint
	// Progress is called after every page with what is durable so far (for heartbeats),
	// and at once when the read starts waiting on the source's limits (Checkpoint.Wait).
	// It may be called from the connector's goroutines.
	Progress func(Checkpoint)

	// Reader tunes the read. Its OnWait, if set, is called as well as Progress.
	Reader    *source.ReaderOptions
	BatchRows int   // rows per Arrow batch / Parquet row group (default 8192)
	FileRows  int64 // roll to a new file at the first page boundary past this (default 500k)
	// CheckpointEvery closes the open file at the first page boundary after it has been
	// open this long, so the durable checkpoint advances during a long landing and a
	// retried attempt (after a heartbeat timeout, a lost worker) re-reads at most about
	// this much (default DefaultCheckpointEvery; negative = only at FileRows).
	//
	// Time, not a number of pages: pages cost wildly different times (a 100-record list
	// page in 50 ms, a paced report page, a 60 s secondary-limit wait before the next),
	// and what a retry loses is reading time. A fast source still rolls files by
	// FileRows; a slow one makes at most one file per interval.
	CheckpointEvery time.Duration
	Now             func() time.Time // extraction clock, and the clock of CheckpointEvery (default time.Now)
	Alloc           memory.Allocator // default memory.DefaultAllocator
}

// DefaultCheckpointEvery is LandRequest.CheckpointEvery's default: a retried landing
// re-reads at most about two minutes, and a landing that takes hours writes a few dozen
// files an hour.
const DefaultCheckpointEvery = 2 * time.Minute

// Checkpoint is the durable progress of a landing. It travels in every heartbeat and,
// after a quota stop, in the workflow's history, both capped by Temporal at 2 MB a
// payload: so it carries one cursor, the latest, and per file only its key and rows.
// A cursor of a few kilobytes per file would pass the cap after some hours of files
// every two minutes.
type Checkpoint struct {
	Files  []DataFile      `json:"files"`
	Cursor json.RawMessage `json:"cursor,omitempty"` // after the last closed file
	Pages  int             `json:"pages"`
	Rows   int64           `json:"rows"` // rows read so far, including those not yet in a closed file
	// Wait is set while the read waits on the source's limits (see source.Wait); the
	// CLI shows it from the Land activity's last heartbeat.
	Wait *source.Wait `json:"wait,omitempty"`
	// Warnings are the pages' (source.Page.Warnings) so far, at most MaxWarnings: a
	// resumed attempt does not read those pages again, so they travel with the cursor.
	Warnings []string `json:"warnings,omitempty"`
}

// MaxWarnings bounds the warnings a landing keeps, so a checkpoint stays small
// whatever a source reports; the last one kept says how many more there were.
const MaxWarnings = 50

// addWarnings keeps ws after cp's warnings, up to MaxWarnings.
func (cp *Checkpoint) addWarnings(ws []string) {
	for _, w := range ws {
		switch n := len(cp.Warnings); {
		case n < MaxWarnings-1:
			cp.Warnings = append(cp.Warnings, w)
		case n == MaxWarnings-1:
			cp.Warnings = append(cp.Warnings, "and more warnings: this landing keeps the first "+fmt.Sprint(MaxWarnings-1))
		}
	}
}

// LandResult is what a landing committed.
type LandResult struct {
	ManifestKey string
	Manifest    Manifest
	Stats       source.Stats
	// Checkpoint is set only when Land fails with an exhausted quota (errs.Quota): the
	// open file was closed at the last complete page, and Checkpoint is everything made
	// durable, to pass as LandRequest.Resume of the same run once the quota has reset
	// (the error's Until), so the landing goes on from there instead of reading it all
	// again. Every other error discards the open file and leaves Checkpoint nil: the
	// last Progress checkpoint is then where a retry resumes.
	Checkpoint *Checkpoint
}

// Schema is the Arrow schema of a stream's raw files.
func Schema(fields []source.Field) *arrow.Schema {
	fs := make([]arrow.Field, 0, len(fields)+3)
	for _, f := range fields {
		md := arrow.NewMetadata([]string{"doc"}, []string{f.Doc})
		fs = append(fs, arrow.Field{Name: f.Name, Type: arrowType(f.Type), Nullable: true, Metadata: md})
	}
	fs = append(fs,
		arrow.Field{Name: ColExtractedAt, Type: tsType},
		arrow.Field{Name: ColRunID, Type: arrow.BinaryTypes.String},
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
//
// Files close at page boundaries (every FileRows rows and every CheckpointEvery), each
// advancing the checkpoint Progress reports; req.Resume continues from one. When the
// read stops on an exhausted quota, the open file is closed too and the error comes
// with LandResult.Checkpoint (see there).
func (l *Lake) Land(ctx context.Context, stream source.Stream, req LandRequest) (LandResult, error) {
	spec := stream.Spec()
	if d, ok := stream.(source.Describer); ok {
		// Its columns are the source's now; the cursor says what it landed before.
		from := req.Cursor
		if req.Resume != nil && len(req.Resume.Cursor) > 0 {
			from = req.Resume.Cursor
		}
		var err error
		if spec, err = d.Describe(ctx, from); err != nil {
			return LandResult{}, err
		}
	}
	if req.BatchRows <= 0 {
		req.BatchRows = 8192
	}
	if req.FileRows <= 0 {
		req.FileRows = 500_000
	}
	if req.CheckpointEvery == 0 {
		req.CheckpointEvery = DefaultCheckpointEvery
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
	if r := req.Resume; r != nil && (len(r.Files) > 0 || len(r.Cursor) > 0) {
		// A cursor without files is progress too: pages that held no records.
		cp = Checkpoint{Files: r.Files, Cursor: r.Cursor, Warnings: r.Warnings}
		for _, f := range cp.Files {
			cp.Rows += f.Rows
		}
	}
	w.cp = cp
	w.lastCursor = cp.Cursor

	stats, err := source.NewReader(stream, w.readerOptions()).Read(ctx, source.PageRequest{Cursor: cp.Cursor, SyncStart: req.SyncStart, Partition: req.Partition, Keys: req.Keys}, func(p source.Page) error {
		return w.page(ctx, p)
	})
	if err != nil {
		if !errs.Is(err, errs.Quota) {
			return LandResult{}, err
		}
		// The quota resets at a known time and the run waits for it: keep the complete
		// pages read so far. Should the close fail, the checkpoint is the last closed file.
		w.mu.Lock()
		_ = w.closeFile()
		kept := w.checkpoint()
		w.mu.Unlock()
		return LandResult{Stats: stats, Checkpoint: &kept}, err
	}
	if err := w.closeFile(); err != nil {
		return LandResult{}, err
	}
	m := Manifest{
		V: 1, Stream: req.Stream, RunID: req.RunID, Partition: req.Partition,
		Files: w.cp.Files, CursorStart: req.Cursor, CursorEnd: w.cp.Cursor,
		SyncStart: req.SyncStart.UTC(), CommittedAt: req.Now().UTC(),
		PrimaryKey: spec.PrimaryKey, CursorField: spec.CursorField, Deleted: spec.Deleted, ReadMode: spec.ReadMode, Fields: spec.Fields,
		Warnings: w.cp.Warnings,
	}
	for _, f := range m.Files {
		m.Rows += f.Rows
	}
	key, err := l.commit(ctx, &m)
	if err != nil {
		return LandResult{}, err
	}
	if a, ok := stream.(source.Acknowledger); ok {
		// Only now is the landing durable: the source may forget what it holds (a
		// replication slot advances). A failure costs nothing but WAL kept a while —
		// the next sync starts from this manifest's cursor and its Committed catches
		// up — so the landing stands, and the result says so.
		if err := a.Committed(ctx, m.CursorEnd); err != nil {
			m.Warnings = append(slices.Clip(m.Warnings), fmt.Sprintf("the source was not told the landing is committed (it keeps the changes until the next landing): %v", err))
		}
	}
	return LandResult{ManifestKey: key, Manifest: m, Stats: stats}, nil
}

// readerOptions are the caller's, with OnWait also recording the wait in the
// checkpoint and reporting it at once: a landing waiting on a rate limit then says so
// in its heartbeat instead of looking stuck until the next page.
func (w *landWriter) readerOptions() *source.ReaderOptions {
	var ro source.ReaderOptions
	if w.req.Reader != nil {
		ro = *w.req.Reader
	}
	callers := ro.OnWait
	ro.OnWait = func(wait source.Wait) {
		w.mu.Lock()
		w.cp.Wait = &wait
		cp := w.checkpoint()
		w.mu.Unlock()
		if w.req.Progress != nil {
			w.req.Progress(cp)
		}
		if callers != nil {
			callers(wait)
		}
	}
	return &ro
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

	// mu guards cp: OnWait may be called from a connector's goroutine.
	mu       sync.Mutex
	cp       Checkpoint
	bw       *blob.Writer
	cancel   context.CancelFunc
	fw       *pqarrow.FileWriter
	enc      *encoder // writes fw's batches
	b        *array.RecordBuilder
	key      string
	fileRows int64
	openedAt time.Time // when the open file was opened, by req.Now
	pageNo   int
	// lastCursor is the cursor after the newest page read.
	lastCursor json.RawMessage
	// pendingWarnings are the warnings of the pages read since the checkpoint.
	pendingWarnings []string
}

// page lands one page and reports the checkpoint after it.
func (w *landWriter) page(ctx context.Context, p source.Page) error {
	w.mu.Lock()
	err := w.landPage(ctx, p)
	cp := w.checkpoint()
	w.mu.Unlock()
	if err == nil && w.req.Progress != nil {
		w.req.Progress(cp)
	}
	return err
}

func (w *landWriter) landPage(ctx context.Context, p source.Page) error {
	w.pageNo++
	w.cp.Wait = nil // a page came: whatever the read waited for is over
	if len(p.Records) > 0 && w.fw == nil {
		if err := w.openFile(ctx); err != nil {
			return err
		}
	}
	extracted := arrow.Timestamp(w.req.Now().UTC().UnixMicro())
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
		w.b.Field(n + 2).(*array.StringBuilder).Append(string(rec))
		w.fileRows++
		w.cp.Rows++
		if w.b.Field(0).Len() >= w.req.BatchRows {
			if err := w.flush(); err != nil {
				return err
			}
		}
	}
	w.cp.Pages++
	// Like the cursor, a page's warnings are durable once the file holding its records
	// is: a resumed attempt reads those pages again and says them again.
	w.pendingWarnings = append(w.pendingWarnings, p.Warnings...)
	if len(p.Next) > 0 {
		w.pendingCursor(p.Next)
	}
	// Close only at a page boundary, so each closed file ends at a cursor we can resume from.
	if w.fw != nil && (w.fileRows >= w.req.FileRows || w.req.CheckpointEvery > 0 && w.req.Now().Sub(w.openedAt) >= w.req.CheckpointEvery) {
		if err := w.closeFile(); err != nil {
			return err
		}
	}
	return nil
}

// checkpoint is a copy of the durable progress, safe to hand to another goroutine.
func (w *landWriter) checkpoint() Checkpoint {
	cp := w.cp
	cp.Files = slices.Clone(cp.Files)
	return cp
}

// pendingCursor remembers the cursor reached; it becomes the checkpoint cursor when
// the file holding those records closes (or right away if no file is open).
func (w *landWriter) pendingCursor(c json.RawMessage) {
	w.lastCursor = c
	if w.fw == nil {
		w.cp.Cursor = c
		w.cp.addWarnings(w.pendingWarnings)
		w.pendingWarnings = nil
	}
}

func (w *landWriter) openFile(ctx context.Context) error {
	w.key = fileKey(w.req, len(w.cp.Files))
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
	w.openedAt = w.req.Now()
	return nil
}

// fileKey is where file n of the landing goes. Nothing parses these keys (the
// manifest lists its files), so keys without an attempt, from before, read alike.
func fileKey(req LandRequest, n int) string {
	name := fmt.Sprintf("part-%05d", n)
	if req.Attempt != "" {
		name += "-a" + sanitize(req.Attempt)
	}
	return fmt.Sprintf("%s/run=%s/%s.parquet", req.Stream.Prefix(), sanitize(req.RunID), name)
}

func (w *landWriter) flush() error {
	if w.b == nil || w.b.Field(0).Len() == 0 {
		return nil
	}
	// The next batch will be about as big as this one: reserving that up front spares
	// the builders growing their buffers by doubling and copying, batch after batch.
	data := make([]int, len(w.schema.Fields()))
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
	w.cp.Files = append(w.cp.Files, DataFile{Key: w.key, Rows: w.fileRows})
	w.cp.Cursor = w.lastCursor
	w.cp.addWarnings(w.pendingWarnings)
	w.pendingWarnings = nil
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
