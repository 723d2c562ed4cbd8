package access

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/meshflow/meshflow/framework/errs"
)

// Event is one read of a restricted port, allowed or refused.
type Event struct {
	Time      time.Time `json:"time"`      // UTC
	Principal string    `json:"principal"` // a name from the access file, (anonymous) or (unrecognised token)
	Product   string    `json:"product"`   // domain.product
	Port      string    `json:"port"`      // the Iceberg table, domain.product_vN
	What      What      `json:"what"`
	Path      Path      `json:"path"`
	Allowed   bool      `json:"allowed"`
	Reason    string    `json:"reason"` // why it was allowed or refused, in a few words
	// Count is how many reads the record stands for: a Throttle folds the refused reads
	// of a caller, product and minute into one record. 0 (older records) means 1.
	Count int64     `json:"count,omitempty"`
	Until time.Time `json:"until,omitzero"` // the last of the Count reads
}

// Reads is how many reads e stands for.
func (e Event) Reads() int64 { return max(e.Count, 1) }

// Auditor records events.
type Auditor interface {
	Record(ctx context.Context, e Event) error
}

// Store is the part of the lake the audit log needs; *lake.Lake is one. Keeping the
// log as small objects in the bucket makes it work on every bucket backend and
// survive the process.
type Store interface {
	PutJSON(ctx context.Context, key string, v any) error
	List(ctx context.Context, prefix string) ([]string, error)
	GetJSON(ctx context.Context, key string, v any) error
}

// Log is the audit log in a lake: one JSON object per event at
// audit/<YYYY-MM-DD>/<HHMMSS.nanoseconds>Z-<random>.json, so objects are never
// rewritten (concurrent writers cannot lose each other's events) and keys sort by time.
type Log struct {
	store Store
	now   func() time.Time
}

// AuditPrefix is where the log lives in the lake.
const AuditPrefix = "audit/"

// NewLog returns the audit log kept in store.
func NewLog(store Store) *Log { return &Log{store: store, now: time.Now} }

// Record writes e, stamping it with the current time when it has none.
func (l *Log) Record(ctx context.Context, e Event) error { return l.write(ctx, AuditPrefix, e) }

// write keeps e under prefix, one object per event.
func (l *Log) write(ctx context.Context, prefix string, e Event) error {
	if e.Time.IsZero() {
		e.Time = l.now()
	}
	e.Time = e.Time.UTC()
	if !e.Until.IsZero() {
		e.Until = e.Until.UTC()
	}
	var nonce [4]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return errs.E(errs.Internal, "audit", err)
	}
	key := prefix + e.Time.Format("2006-01-02") + "/" + e.Time.Format("150405.000000000") + "Z-" + hex.EncodeToString(nonce[:]) + ".json"
	return l.store.PutJSON(ctx, key, e)
}

// Events returns the events since the given time (zero: all), oldest first.
func (l *Log) Events(ctx context.Context, since time.Time) ([]Event, error) {
	keys, err := l.store.List(ctx, AuditPrefix)
	if err != nil {
		return nil, err
	}
	day := ""
	if !since.IsZero() {
		since = since.UTC()
		day = since.Format("2006-01-02")
	}
	var out []Event
	for _, k := range keys {
		// Whole days before since are skipped by key, without reading them.
		if d := path.Base(path.Dir(k)); day != "" && d < day || !strings.HasSuffix(k, ".json") {
			continue
		}
		var e Event
		if err := l.store.GetJSON(ctx, k, &e); err != nil {
			return nil, err
		}
		if !e.Time.Before(since) {
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out, nil
}
