package port

import (
	"bytes"
	"encoding/json"
	"iter"
	"maps"
	"slices"
	"sync"

	"github.com/apache/iceberg-go/table"
)

// snapshotJSON encodes a table's metadata as iceberg-go's json.Marshal does — the same
// fields with the same values — but encodes each snapshot once per process. A metadata
// file lists every snapshot the table keeps and a commit writes it whole: at a year of
// daily snapshots, encoding them again took half of a day's publish (encoding/json
// compacts each nested encoder's output once more at every level). A snapshot never
// changes once committed, so its encoding is kept by id and only the new one is
// encoded. TestMetadataEncodingIsIceberg compares the two encodings on a table with
// evolved schemas, specs, branches and expired snapshots, so an iceberg-go upgrade
// that adds a field fails there rather than losing it here. The cost: a worker keeps
// about 2 kB per snapshot of each table it published to.
type snapshotJSON struct {
	mu sync.Mutex
	m  map[TableID]map[int64][]byte
}

// encode returns md's metadata file. The snapshots it encoded are kept once keep is
// called, after the file is committed: a snapshot of a lost commit race never was.
func (sj *snapshotJSON) encode(id TableID, md table.Metadata) (b []byte, keep func(), err error) {
	b, encoded, ok, err := sj.encodeV2(id, md)
	if err != nil || !ok {
		b, err = json.Marshal(md)
		return b, func() {}, err
	}
	return b, func() {
		sj.mu.Lock()
		defer sj.mu.Unlock()
		if sj.m == nil {
			sj.m = map[TableID]map[int64][]byte{}
		}
		// Only the snapshots this metadata keeps: an expired one is gone for good.
		sj.m[id] = encoded
	}, nil
}

// encodeV2 encodes md and returns its snapshots' encodings by id, or false for a
// metadata it leaves to json.Marshal: a format other than v2, or one with encryption
// keys.
func (sj *snapshotJSON) encodeV2(id TableID, md table.Metadata) ([]byte, map[int64][]byte, bool, error) {
	if md.Version() != 2 {
		return nil, nil, false, nil
	}
	if ek, ok := md.(interface {
		EncryptionKeys() iter.Seq[table.EncryptionKey]
	}); ok {
		for range ek.EncryptionKeys() {
			return nil, nil, false, nil
		}
	}
	snaps := md.Snapshots()
	sj.mu.Lock()
	known := sj.m[id]
	sj.mu.Unlock()
	encoded := make(map[int64][]byte, len(snaps))
	var cur *int64
	if s := md.CurrentSnapshot(); s != nil {
		cur = &s.SnapshotID
	}
	var w objectWriter
	w.field("last-sequence-number", md.LastSequenceNumber())
	w.field("format-version", md.Version())
	w.field("table-uuid", md.TableUUID())
	w.field("location", md.Location())
	w.field("last-updated-ms", md.LastUpdatedMillis())
	w.field("last-column-id", md.LastColumnID())
	w.field("schemas", md.Schemas())
	w.field("current-schema-id", md.CurrentSchema().ID)
	w.field("partition-specs", md.PartitionSpecs())
	w.field("default-spec-id", md.DefaultPartitionSpec())
	if p := md.LastPartitionSpecID(); p != nil {
		w.field("last-partition-id", *p)
	}
	if props := md.Properties(); len(props) > 0 {
		w.field("properties", props)
	}
	if len(snaps) > 0 {
		encodedSnaps := make([]json.RawMessage, len(snaps))
		for i, s := range snaps {
			e, ok := known[s.SnapshotID]
			if !ok {
				var err error
				if e, err = json.Marshal(s); err != nil {
					return nil, nil, false, err
				}
			}
			encoded[s.SnapshotID], encodedSnaps[i] = e, e
		}
		w.raw("snapshots", encodedSnaps)
	}
	if cur != nil {
		w.field("current-snapshot-id", *cur)
	}
	if logs := slices.Collect(md.SnapshotLogs()); len(logs) > 0 {
		w.field("snapshot-log", logs)
	}
	if logs := slices.Collect(md.PreviousFiles()); len(logs) > 0 {
		w.field("metadata-log", logs)
	}
	w.field("sort-orders", md.SortOrders())
	w.field("default-sort-order-id", md.DefaultSortOrder())
	if refs := maps.Collect(md.Refs()); len(refs) > 0 {
		w.field("refs", refs)
	}
	if st := slices.Collect(md.Statistics()); len(st) > 0 {
		w.field("statistics", st)
	}
	if st := slices.Collect(md.PartitionStatistics()); len(st) > 0 {
		w.field("partition-statistics", st)
	}
	b, err := w.close()
	return b, encoded, err == nil, err
}

// objectWriter writes a JSON object field by field, keeping the first error.
type objectWriter struct {
	b   bytes.Buffer
	err error
}

func (w *objectWriter) key(name string) {
	if w.b.Len() == 0 {
		w.b.WriteByte('{')
	} else {
		w.b.WriteByte(',')
	}
	k, _ := json.Marshal(name)
	w.b.Write(k)
	w.b.WriteByte(':')
}

func (w *objectWriter) field(name string, v any) {
	if w.err != nil {
		return
	}
	e, err := json.Marshal(v)
	if err != nil {
		w.err = err
		return
	}
	w.key(name)
	w.b.Write(e)
}

// raw writes an array of values already encoded, as they are: json.Marshal would
// validate and compact each once more.
func (w *objectWriter) raw(name string, vs []json.RawMessage) {
	if w.err != nil {
		return
	}
	w.key(name)
	w.b.WriteByte('[')
	for i, v := range vs {
		if i > 0 {
			w.b.WriteByte(',')
		}
		w.b.Write(v)
	}
	w.b.WriteByte(']')
}

func (w *objectWriter) close() ([]byte, error) {
	if w.err != nil {
		return nil, w.err
	}
	w.b.WriteByte('}')
	return w.b.Bytes(), nil
}
