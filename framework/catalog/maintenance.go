package catalog

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
)

// PortStorage is what one port table of a product holds in storage (the current
// major's and each legacy one's) and the last maintenance it had (mesh maintain,
// or the nightly schedule).
type PortStorage struct {
	Table     string `json:"table"`
	Published bool   `json:"published"`
	port.Stats
	Size string `json:"size"` // DataBytes as people read it
	// LastMaintenance is the newest maintenance record of the table; nil before its first.
	LastMaintenance *Maintenance `json:"last_maintenance,omitempty"`
}

// Maintenance is a table's maintenance as the catalog shows it: the record the
// MaintainTable workflow kept, what it did in words, and the workflow in the
// Temporal UI when the catalog knows where that is (Catalog.TemporalUI).
type Maintenance struct {
	flow.MaintenanceRecord
	Did string `json:"did"`
	URL string `json:"url,omitempty"`
}

// storage reads each port table of p: its files, size and snapshots now, and its
// last maintenance. A table whose metadata or record cannot be read is shown
// without them rather than hiding the page.
func (c *Catalog) storage(ctx context.Context, d mesh.Domain, p mesh.Product) ([]PortStorage, error) {
	var out []PortStorage
	for _, v := range p.Majors() {
		id := port.TableID{Domain: d.Name, Name: v.PortName()}
		ps := PortStorage{Table: id.String()}
		st, err := c.Ports.Stats(ctx, id)
		switch {
		case err == nil:
			ps.Stats, ps.Published = st, true
		case !errs.Is(err, errs.NotFound):
			return nil, err
		}
		ps.Size = BytesText(ps.DataBytes)
		if c.Lake != nil {
			rec, ok, err := flow.LatestMaintenance(ctx, c.Lake, id.String())
			if err == nil && ok {
				ps.LastMaintenance = &Maintenance{MaintenanceRecord: rec, Did: maintenanceDid(rec), URL: c.WorkflowURL(rec.WorkflowID, rec.RunID)}
			}
		}
		out = append(out, ps)
	}
	return out, nil
}

// WorkflowURL is a workflow run's history in the Temporal UI, as alerts link runs;
// "" when the catalog has no Temporal UI configured (Catalog.TemporalUI).
func (c *Catalog) WorkflowURL(workflowID, runID string) string {
	if c.TemporalUI == "" || workflowID == "" {
		return ""
	}
	ns := c.Namespace
	if ns == "" {
		ns = "default"
	}
	u := strings.TrimRight(c.TemporalUI, "/") + "/namespaces/" + url.PathEscape(ns) + "/workflows/" + url.PathEscape(workflowID)
	if runID != "" {
		u += "/" + url.PathEscape(runID)
	}
	return u + "/history"
}

// maintenanceDid says in one line what a maintenance did: each step that changed
// the table, why it left the table alone, or where it failed.
func maintenanceDid(r flow.MaintenanceRecord) string {
	if r.Skipped != "" {
		return "left as it was: " + r.Skipped
	}
	var did []string
	if c := r.Compacted; c.Files > 0 {
		did = append(did, fmt.Sprintf("compacted %d small files (%s) into %d", c.Files, BytesText(c.Bytes), c.FilesOut))
	}
	if m := r.Manifests; m.After < m.Before {
		did = append(did, fmt.Sprintf("merged %d manifests into %d", m.Before, m.After))
	}
	if n := len(r.Expired.Snapshots); n > 0 {
		did = append(did, fmt.Sprintf("expired %d snapshots", n))
	}
	if n := len(r.Expired.KeptPastRetention); n > 0 {
		did = append(did, fmt.Sprintf("kept %d past the retention (needed)", n))
	}
	if n := r.Orphans.Deleted; n > 0 {
		did = append(did, fmt.Sprintf("deleted %d orphan files (%s)", n, BytesText(r.Orphans.Bytes)))
	}
	text := "nothing to do"
	if len(did) > 0 {
		text = strings.Join(did, ", ")
	}
	if r.Status == flow.StatusFailed {
		if len(did) == 0 {
			return "failed: " + r.Error
		}
		return "failed: " + r.Error + " (before that: " + text + ")"
	}
	return text
}

// BytesText is a size as people read it: 980 B, 12.3 kB, 4.1 MB.
func BytesText(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}
