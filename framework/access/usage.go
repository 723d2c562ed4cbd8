package access

import (
	"context"
	"path"
	"slices"
	"strings"
	"time"
)

// Usage is who reads the ports: every read of rows (mesh query) or of a table's
// metadata for an engine (the Iceberg REST catalog), of every port. The reads of
// restricted ports are the audit log's allowed events; those of public and internal
// ports are recorded beside it, under usage/, best effort — a read of an open port is
// never refused because its use could not be counted.

// UsageRecorder is an Auditor that also counts the reads of open ports.
type UsageRecorder interface {
	RecordUsage(ctx context.Context, e Event) error
}

// UsagePrefix is where the reads of open ports are kept in the lake.
const UsagePrefix = "usage/"

// recordUsage counts an allowed read of an open port when audit keeps usage.
func recordUsage(ctx context.Context, audit Auditor, r Read, reason string) {
	u, ok := audit.(UsageRecorder)
	if !ok {
		return
	}
	path := r.Path
	if path == "" {
		path = "unspecified"
	}
	_ = u.RecordUsage(ctx, Event{Principal: r.Principal.String(), Product: r.Domain.Name + "." + r.Product.Name,
		Port: r.Domain.Name + "." + r.Product.PortName(), What: r.What, Path: path, Allowed: true, Reason: reason})
}

// RecordUsage writes the read of an open port under usage/, as Record does under audit/.
func (l *Log) RecordUsage(ctx context.Context, e Event) error { return l.write(ctx, UsagePrefix, e) }

// UsageReader counts a port's reads (Log.Usage).
type UsageReader interface {
	Usage(ctx context.Context, product string, since time.Time) (PortUsage, error)
}

// Usage reads the log the throttle writes to.
func (t *Throttle) Usage(ctx context.Context, product string, since time.Time) (PortUsage, error) {
	if u, ok := t.next.(UsageReader); ok {
		return u.Usage(ctx, product, since)
	}
	return PortUsage{Since: since.UTC(), By: []Reader{}}, nil
}

// RecordUsage passes the read on: the throttle folds refusals only.
func (t *Throttle) RecordUsage(ctx context.Context, e Event) error {
	if u, ok := t.next.(UsageRecorder); ok {
		return u.RecordUsage(ctx, e)
	}
	return nil
}

// PortUsage is how often one product's port was read, and by whom.
type PortUsage struct {
	Since time.Time `json:"since"`
	Reads int64     `json:"reads"`
	// By are the readers, most reads first: principal, path and count.
	By []Reader `json:"by"`
}

// Reader is one principal's reads of a port by one path.
type Reader struct {
	Principal string    `json:"principal"`
	Path      Path      `json:"path"`
	Reads     int64     `json:"reads"`
	Last      time.Time `json:"last"`
}

// Usage counts the reads of rows and tables of product (domain.product) since since:
// the audit log's allowed ones and the usage log's.
func (l *Log) Usage(ctx context.Context, product string, since time.Time) (PortUsage, error) {
	out := PortUsage{Since: since.UTC(), By: []Reader{}}
	byKey := map[[2]string]*Reader{}
	for _, prefix := range []string{AuditPrefix, UsagePrefix} {
		keys, err := l.store.List(ctx, prefix)
		if err != nil {
			return out, err
		}
		day := since.UTC().Format("2006-01-02")
		for _, k := range keys {
			if path.Base(path.Dir(k)) < day || !strings.HasSuffix(k, ".json") {
				continue
			}
			var e Event
			if err := l.store.GetJSON(ctx, k, &e); err != nil {
				return out, err
			}
			if e.Product != product || !e.Allowed || e.Time.Before(since) || (e.What != Query && e.What != Table) {
				continue
			}
			key := [2]string{e.Principal, string(e.Path)}
			r := byKey[key]
			if r == nil {
				r = &Reader{Principal: e.Principal, Path: e.Path}
				byKey[key] = r
			}
			r.Reads += e.Reads()
			if e.Time.After(r.Last) {
				r.Last = e.Time
			}
			out.Reads += e.Reads()
		}
	}
	for _, r := range byKey {
		out.By = append(out.By, *r)
	}
	slices.SortFunc(out.By, func(a, b Reader) int {
		if a.Reads != b.Reads {
			return int(b.Reads - a.Reads)
		}
		return strings.Compare(a.Principal+string(a.Path), b.Principal+string(b.Path))
	})
	return out, nil
}
