package lake

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/meshflow/meshflow/framework/errs"
)

// Raw landings are compacted by superseding, never by rewriting: the rows of many
// small landings of a stream are copied, as they are, into one new landing whose
// manifest names the landings it supersedes (Manifest.Supersedes). Readers
// (Manifests) leave superseded landings out and read the new one instead, so they
// see the same records; the superseded files stay until ExpireSuperseded deletes
// them past a retention, so a reader that listed the manifests before the compaction
// still finds every file it read. The stream's newest landing is never compacted: its
// manifest holds the stream's cursor.

// CompactOptions tunes CompactStream; zero fields take the defaults.
type CompactOptions struct {
	// SmallBytes: a landing whose files total less is small (default 32 MB).
	SmallBytes int64
	// TargetBytes: a compacted landing holds up to about this much (default 256 MB).
	TargetBytes int64
	// MinLandings: small landings are compacted only when at least this many go into
	// one (default 5): superseding two saves little.
	MinLandings int
	// RunID names the compaction's files and manifest (the maintenance workflow's run).
	RunID  string
	DryRun bool
	Now    func() time.Time // default time.Now
}

// Defaults of CompactOptions.
const (
	DefaultSmallBytes  = 32 << 20
	DefaultTargetBytes = 256 << 20
	DefaultMinLandings = 5
)

func (o CompactOptions) withDefaults() CompactOptions {
	if o.SmallBytes <= 0 {
		o.SmallBytes = DefaultSmallBytes
	}
	if o.TargetBytes <= 0 {
		o.TargetBytes = DefaultTargetBytes
	}
	if o.MinLandings <= 0 {
		o.MinLandings = DefaultMinLandings
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// StreamCompacted is what a compaction did to a stream (or in a dry run would do).
type StreamCompacted struct {
	Stream   string `json:"stream"`
	DryRun   bool   `json:"dry_run,omitempty"`
	Landings int    `json:"landings"` // landings readers read before
	Files    int    `json:"files"`    // their data files
	Bytes    int64  `json:"bytes"`
	// Groups are the compacted landings, each superseding small landings of one
	// partition whose files share one schema.
	Groups []CompactedLanding `json:"groups,omitempty"`
	// Skipped says why a group planned was not compacted (its files' schemas differ).
	Skipped []string `json:"skipped,omitempty"`
}

// CompactedLanding is one landing written by a compaction.
type CompactedLanding struct {
	Partition  string `json:"partition,omitempty"`
	Supersedes []int  `json:"supersedes"` // the landings it replaces, by sequence number
	Files      int    `json:"files"`      // their data files
	Bytes      int64  `json:"bytes"`
	Rows       int64  `json:"rows"`
	Seq        int    `json:"seq,omitempty"` // the new landing's (0 in a dry run)
	BytesOut   int64  `json:"bytes_out,omitempty"`
}

// keyed is a manifest with its key.
type keyed struct {
	key string
	m   Manifest
}

// allManifests returns every manifest of the stream with its key, superseded ones
// included, oldest first.
func (l *Lake) allManifests(ctx context.Context, s StreamRef) ([]keyed, error) {
	keys, err := l.List(ctx, s.manifestPrefix())
	if err != nil {
		return nil, err
	}
	var out []keyed
	for _, k := range keys {
		if !strings.HasSuffix(k, ".json") {
			continue
		}
		m, err := l.readManifest(ctx, k)
		if err != nil {
			return nil, err
		}
		out = append(out, keyed{k, m})
	}
	return out, nil
}

// superseded maps each superseded landing's sequence number to the compaction that
// superseded it first.
func superseded(all []keyed) map[int]Manifest {
	out := map[int]Manifest{}
	for _, k := range all {
		for _, seq := range k.m.Supersedes {
			if prev, ok := out[seq]; !ok || k.m.CommittedAt.Before(prev.CommittedAt) {
				out[seq] = k.m
			}
		}
	}
	return out
}

// live are the manifests readers read: every one no compaction superseded, in the
// order of their records' landing (a compaction where its newest landing was).
func live(all []keyed) []Manifest {
	gone := superseded(all)
	var out []Manifest
	for _, k := range all {
		if _, ok := gone[k.m.Seq]; !ok {
			out = append(out, k.m)
		}
	}
	slices.SortStableFunc(out, func(a, b Manifest) int { return position(a) - position(b) })
	return out
}

// position is where a landing's records sit among the stream's: a compaction's are
// its newest superseded landing's.
func position(m Manifest) int {
	if len(m.Supersedes) > 0 {
		return slices.Max(m.Supersedes)
	}
	return m.Seq
}

// cursorHolder is the stream's newest landing that is not a compaction: its
// CursorEnd is the stream's cursor. ok false before the first landing.
func cursorHolder(all []keyed) (Manifest, bool) {
	for i := len(all) - 1; i >= 0; i-- {
		if len(all[i].m.Supersedes) == 0 {
			return all[i].m, true
		}
	}
	return Manifest{}, false
}

// CompactStream supersedes the stream's small landings with fewer, larger ones: per
// partition, the small landings (SmallBytes) in the order they landed, packed up to
// TargetBytes, each pack of at least MinLandings whose files share one schema copied
// row for row into one new landing. The stream's newest landing is left alone (it
// holds the cursor), and so is every landing a pack does not take.
func (l *Lake) CompactStream(ctx context.Context, s StreamRef, o CompactOptions) (StreamCompacted, error) {
	o = o.withDefaults()
	op := "compact " + s.String()
	res := StreamCompacted{Stream: s.String(), DryRun: o.DryRun}
	all, err := l.allManifests(ctx, s)
	if err != nil {
		return res, err
	}
	holder, ok := cursorHolder(all)
	if !ok {
		return res, nil
	}
	type sized struct {
		m     Manifest
		bytes int64
	}
	byPartition := map[string][]sized{}
	var partitions []string
	for _, m := range live(all) {
		res.Landings++
		res.Files += len(m.Files)
		var n int64
		for _, f := range m.Files {
			a, err := l.Bucket.Attributes(ctx, f.Key)
			if err != nil {
				return res, errs.E(kindOf(err), op+": size of "+f.Key, err)
			}
			n += a.Size
		}
		res.Bytes += n
		if m.Seq == holder.Seq || n >= o.SmallBytes {
			continue
		}
		if _, ok := byPartition[m.Partition]; !ok {
			partitions = append(partitions, m.Partition)
		}
		byPartition[m.Partition] = append(byPartition[m.Partition], sized{m, n})
	}
	slices.Sort(partitions)
	for _, p := range partitions {
		var packs [][]sized
		var cur []sized
		var curBytes int64
		for _, c := range byPartition[p] {
			if len(cur) > 0 && curBytes+c.bytes > o.TargetBytes {
				packs, cur, curBytes = append(packs, cur), nil, 0
			}
			cur, curBytes = append(cur, c), curBytes+c.bytes
		}
		packs = append(packs, cur)
		for _, pack := range packs {
			if len(pack) < o.MinLandings {
				continue
			}
			g := CompactedLanding{Partition: p}
			ms := make([]Manifest, len(pack))
			for i, c := range pack {
				ms[i] = c.m
				g.Supersedes = append(g.Supersedes, c.m.Seq)
				g.Files += len(c.m.Files)
				g.Bytes += c.bytes
				g.Rows += c.m.Rows
			}
			if o.DryRun {
				res.Groups = append(res.Groups, g)
				continue
			}
			why, err := l.supersede(ctx, s, ms, o, &g)
			if err != nil {
				return res, err
			}
			if why != "" {
				res.Skipped = append(res.Skipped, why)
				continue
			}
			res.Groups = append(res.Groups, g)
		}
	}
	return res, nil
}

// supersede copies the rows of ms, in order, into one new file and commits it as a
// landing superseding them. It leaves them as they are, saying why, when their files'
// columns differ: rows read through one schema are the only copy known to be exact.
func (l *Lake) supersede(ctx context.Context, s StreamRef, ms []Manifest, o CompactOptions, g *CompactedLanding) (string, error) {
	op := "compact " + s.String()
	runID := o.RunID
	if runID == "" {
		runID = "compact-" + o.Now().UTC().Format("20060102T150405Z")
	}
	key := fmt.Sprintf("%s/run=%s/compacted-%08d-%08d.parquet", s.Prefix(), sanitize(runID), g.Supersedes[0], g.Supersedes[len(g.Supersedes)-1])
	var schema *arrow.Schema
	var tables []arrow.Table
	defer func() {
		for _, t := range tables {
			t.Release()
		}
	}()
	for _, m := range ms {
		for _, f := range m.Files {
			b, err := l.Bucket.ReadAll(ctx, f.Key)
			if err != nil {
				return "", errs.E(kindOf(err), op+": read "+f.Key, err)
			}
			pf, err := file.NewParquetReader(bytes.NewReader(b))
			if err != nil {
				return "", errs.E(errs.Internal, op+": read "+f.Key, err)
			}
			fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
			if err != nil {
				return "", errs.E(errs.Internal, op+": read "+f.Key, err)
			}
			t, err := fr.ReadTable(ctx)
			if err != nil {
				return "", errs.E(errs.Internal, op+": read "+f.Key, err)
			}
			tables = append(tables, t)
			if schema == nil {
				schema = t.Schema()
			} else if !sameColumns(schema, t.Schema()) {
				return fmt.Sprintf("landings %s of %s: left as they are, their files' columns differ (%s has %s, %s has %s)", SeqRanges(g.Supersedes), s,
					ms[0].Files[0].Key, columnsText(schema), f.Key, columnsText(t.Schema())), nil
			}
		}
	}
	if schema == nil {
		return fmt.Sprintf("landings %s of %s: left as they are, they hold no files", SeqRanges(g.Supersedes), s), nil
	}
	n, err := l.writeTables(ctx, key, schema, tables)
	if err != nil {
		return "", errs.E(errs.Transient, op+": write "+key, err)
	}
	newest := ms[len(ms)-1]
	m := newest
	m.RunID, m.Supersedes = runID, g.Supersedes
	m.Files = []DataFile{{Key: key, Rows: g.Rows}}
	m.Rows = g.Rows
	m.CursorStart, m.SyncStart = ms[0].CursorStart, ms[0].SyncStart
	m.CommittedAt = o.Now().UTC()
	m.Warnings = nil
	for _, x := range ms {
		m.Warnings = append(m.Warnings, x.Warnings...)
	}
	if _, err := l.commit(ctx, &m); err != nil {
		return "", err
	}
	g.Seq, g.BytesOut = m.Seq, n
	return "", nil
}

// writeTables writes the tables' rows, in order, to one Parquet file at key, through
// schema (theirs, less field metadata such as docs), and returns its size.
func (l *Lake) writeTables(ctx context.Context, key string, schema *arrow.Schema, tables []arrow.Table) (int64, error) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	bw, err := l.Bucket.NewWriter(wctx, key, &blob.WriterOptions{ContentType: "application/vnd.apache.parquet"})
	if err != nil {
		return 0, err
	}
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Snappy), parquet.WithMaxRowGroupLength(64*1024), parquet.WithDictionaryFor(ColRaw, false))
	fw, err := pqarrow.NewFileWriter(schema, bw, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		cancel() // discards the object
		bw.Close()
		return 0, err
	}
	write := func() error {
		for _, t := range tables {
			tr := array.NewTableReader(t, 64*1024)
			for tr.Next() {
				rec := tr.RecordBatch()
				out := array.NewRecordBatch(schema, rec.Columns(), rec.NumRows())
				err := fw.WriteBuffered(out)
				out.Release()
				if err != nil {
					tr.Release()
					return err
				}
			}
			err := tr.Err()
			tr.Release()
			if err != nil {
				return err
			}
		}
		return nil
	}
	if err := write(); err != nil {
		cancel()
		fw.Close()
		return 0, err
	}
	if err := fw.Close(); err != nil { // closes the blob writer: the upload commits here
		return 0, err
	}
	a, err := l.Bucket.Attributes(ctx, key)
	if err != nil {
		return 0, err
	}
	return a.Size, nil
}

// sameColumns reports whether two schemas have the same columns (names, types,
// nullability) in the same order, whatever their docs.
func sameColumns(a, b *arrow.Schema) bool {
	return columnsText(a) == columnsText(b)
}

func columnsText(s *arrow.Schema) string {
	parts := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		parts[i] = fmt.Sprintf("%s %s", f.Name, f.Type)
		if !f.Nullable {
			parts[i] += " not null"
		}
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// SeqRanges writes landing sequence numbers as ranges, sorted, each once: 1-4,6.
func SeqRanges(seqs []int) string {
	s := slices.Compact(slices.Sorted(slices.Values(seqs)))
	var parts []string
	for i := 0; i < len(s); {
		j := i
		for j+1 < len(s) && s[j+1] == s[j]+1 {
			j++
		}
		if i == j {
			parts = append(parts, fmt.Sprint(s[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", s[i], s[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// ExpireRequest says which superseded landings ExpireSuperseded may delete.
type ExpireRequest struct {
	// Retention: a superseded landing stays this long after the compaction that
	// superseded it (default DefaultRawRetention), for readers that listed it before.
	Retention time.Duration
	// Keep names the landings something still needs, by sequence number, and why (a
	// product's last publish recorded reading it); they stay whatever their age.
	Keep   map[int]string
	Now    time.Time // zero = time.Now
	DryRun bool
	// OrphanAge: a file no manifest lists is deleted once this old (default
	// RawOrphanAge).
	OrphanAge time.Duration
}

// DefaultRawRetention is how long superseded raw landings stay.
const DefaultRawRetention = 7 * 24 * time.Hour

// RawOrphanAge is how old a raw file no manifest lists must be before it is deleted:
// files an attempt wrote and never committed (a killed worker, a failed landing or
// compaction). A landing in flight writes its files before it commits them, and one
// can take a week (its heartbeats keep it alive) and then wait out a few quota resets,
// so only a file twice that old is surely no landing's any more.
const RawOrphanAge = 14 * 24 * time.Hour

// RawExpired is what ExpireSuperseded deleted (or in a dry run would delete).
type RawExpired struct {
	Stream    string        `json:"stream"`
	DryRun    bool          `json:"dry_run,omitempty"`
	Landings  []int         `json:"landings,omitempty"` // deleted superseded landings
	Files     int           `json:"files"`
	Bytes     int64         `json:"bytes"`
	Retention time.Duration `json:"retention"`
	// Kept are superseded landings past the retention kept, and why.
	Kept []KeptLanding `json:"kept,omitempty"`
	// Waiting counts superseded landings still within the retention.
	Waiting int `json:"waiting,omitempty"`
	// Orphans are the files under the stream's run= folders no manifest lists, older
	// than the orphan age, deleted (or in a dry run that would be), and their bytes.
	Orphans     int           `json:"orphans,omitempty"`
	OrphanBytes int64         `json:"orphan_bytes,omitempty"`
	OrphanAge   time.Duration `json:"orphan_age"`
}

// KeptLanding is a superseded landing kept past the retention.
type KeptLanding struct {
	Seq int    `json:"seq"`
	Why string `json:"why"`
}

// ExpireSuperseded deletes the files and manifests of the stream's superseded
// landings once their compaction is older than the retention — never one Keep names,
// never the landing that holds the stream's cursor. Files first, then the manifest: a
// deletion cut short leaves a superseded manifest that nothing reads and the next
// expiry finishes. It also deletes the stream's orphan files (deleteOrphans).
func (l *Lake) ExpireSuperseded(ctx context.Context, s StreamRef, req ExpireRequest) (RawExpired, error) {
	if req.Retention <= 0 {
		req.Retention = DefaultRawRetention
	}
	if req.Now.IsZero() {
		req.Now = time.Now()
	}
	if req.OrphanAge <= 0 {
		req.OrphanAge = RawOrphanAge
	}
	op := "expire superseded landings of " + s.String()
	res := RawExpired{Stream: s.String(), DryRun: req.DryRun, Retention: req.Retention, OrphanAge: req.OrphanAge}
	all, err := l.allManifests(ctx, s)
	if err != nil {
		return res, err
	}
	// Orphans first, against every manifest there is now, superseded ones included:
	// the expiry below deletes files only with their manifest.
	if err := l.deleteOrphans(ctx, s, all, req, &res); err != nil {
		return res, err
	}
	holder, _ := cursorHolder(all)
	gone := superseded(all)
	present := map[int]bool{}
	for _, k := range all {
		present[k.m.Seq] = true
	}
	for _, k := range all { // oldest first: what a compaction superseded comes before it
		by, ok := gone[k.m.Seq]
		if !ok {
			continue
		}
		var still []int // landings this (superseded) compaction superseded, still there
		for _, seq := range k.m.Supersedes {
			if present[seq] {
				still = append(still, seq)
			}
		}
		switch {
		case len(still) > 0:
			// Its manifest is what keeps them superseded: without it they would be read again.
			res.Kept = append(res.Kept, KeptLanding{k.m.Seq, "the landings it superseded (" + SeqRanges(still) + ") are kept"})
			continue
		case k.m.Seq == holder.Seq:
			res.Kept = append(res.Kept, KeptLanding{k.m.Seq, "it holds the stream's cursor"})
			continue
		case req.Keep[k.m.Seq] != "":
			if req.Now.Sub(by.CommittedAt) >= req.Retention {
				res.Kept = append(res.Kept, KeptLanding{k.m.Seq, req.Keep[k.m.Seq]})
			} else {
				res.Waiting++
			}
			continue
		case req.Now.Sub(by.CommittedAt) < req.Retention:
			res.Waiting++
			continue
		}
		res.Landings = append(res.Landings, k.m.Seq)
		delete(present, k.m.Seq)
		for _, f := range k.m.Files {
			a, err := l.Bucket.Attributes(ctx, f.Key)
			if gcerrors.Code(err) == gcerrors.NotFound {
				continue // an expiry cut short deleted it already
			}
			if err != nil {
				return res, errs.E(kindOf(err), op, err)
			}
			res.Files++
			res.Bytes += a.Size
			if req.DryRun {
				continue
			}
			if err := l.Bucket.Delete(ctx, f.Key); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
				return res, errs.E(kindOf(err), op+": delete "+f.Key, err)
			}
		}
		if req.DryRun {
			continue
		}
		if err := l.Bucket.Delete(ctx, k.key); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
			return res, errs.E(kindOf(err), op+": delete "+path.Base(k.key), err)
		}
	}
	return res, nil
}

// deleteOrphans deletes the files under the stream's run= folders that no manifest of
// all lists and that are older than req.OrphanAge.
func (l *Lake) deleteOrphans(ctx context.Context, s StreamRef, all []keyed, req ExpireRequest, res *RawExpired) error {
	op := "delete orphan files of " + s.String()
	listed := map[string]bool{}
	for _, k := range all {
		for _, f := range k.m.Files {
			listed[f.Key] = true
		}
	}
	keys, err := l.List(ctx, s.Prefix()+"/run=")
	if err != nil {
		return err
	}
	for _, key := range keys {
		if listed[key] {
			continue
		}
		a, err := l.Bucket.Attributes(ctx, key)
		if gcerrors.Code(err) == gcerrors.NotFound {
			continue
		}
		if err != nil {
			return errs.E(kindOf(err), op, err)
		}
		if req.Now.Sub(a.ModTime) < req.OrphanAge {
			continue // perhaps a landing in flight's, not committed yet
		}
		res.Orphans++
		res.OrphanBytes += a.Size
		if req.DryRun {
			continue
		}
		if err := l.Bucket.Delete(ctx, key); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
			return errs.E(kindOf(err), op+": delete "+key, err)
		}
	}
	return nil
}
