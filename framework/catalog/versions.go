package catalog

import (
	"context"
	"fmt"
	"time"

	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
)

// PortVersion is a legacy major version of a product, still published beside the
// current one until its sunset day (or already past it).
type PortVersion struct {
	Version     string     `json:"version"`
	Table       string     `json:"table"`
	Sunset      string     `json:"sunset"`
	Successor   string     `json:"successor"`
	Migration   string     `json:"migration"`
	Publishing  bool       `json:"publishing"` // false once the sunset day has passed
	Snapshot    int64      `json:"snapshot,omitempty"`
	Rows        int64      `json:"rows"`
	PublishedAt *time.Time `json:"published_at,omitempty"`
}

// legacyVersions reads the state of each legacy major's table.
func (c *Catalog) legacyVersions(ctx context.Context, d mesh.Domain, p mesh.Product) ([]PortVersion, error) {
	var out []PortVersion
	for _, v := range p.Majors()[1:] {
		id := port.TableID{Domain: d.Name, Name: v.PortName()}
		pv := PortVersion{Version: v.Version, Table: id.String(), Sunset: v.Deprecation.Sunset, Successor: d.Name + "." + v.Deprecation.Successor,
			Migration: v.Deprecation.Migration, Publishing: v.PublishesOn(c.now())}
		snap, ok, err := c.Ports.Current(ctx, id)
		if err != nil {
			return nil, err
		}
		if ok {
			pv.Snapshot, pv.Rows = snap.ID, snap.Rows
			if ver := snap.Properties[flow.PropVersion]; ver != "" {
				pv.Version = ver
			}
			t := snap.Timestamp
			if pt, err := time.Parse(time.RFC3339, snap.Properties[flow.PropPublishedAt]); err == nil {
				t = pt
			}
			pv.PublishedAt = &t
		}
		out = append(out, pv)
	}
	return out, nil
}

// InputFreshness is the freshness of a port a product reads.
type InputFreshness struct {
	Name   string      `json:"name"`
	Status mesh.Status `json:"status"`
	Reason string      `json:"reason,omitempty"`
}

var severity = map[mesh.Status]int{mesh.StatusPass: 0, mesh.StatusUnknown: 1, mesh.StatusWarn: 2, mesh.StatusFail: 3}

// followInputs makes a product's freshness follow the ports it reads: a product
// computed from a stale input is itself no fresher than that input, however recently
// it was published, so it takes the worst state among its own and its inputs' and
// says which input holds it back.
func (c *Catalog) followInputs(ctx context.Context, p mesh.Product, f *Freshness) error {
	for _, in := range p.Inputs {
		if in.IsRaw() {
			continue
		}
		ud, up, err := c.Mesh.Find(in.String())
		if err != nil {
			return err
		}
		ust, _, err := c.status(ctx, ud, up)
		if err != nil {
			return err
		}
		st := ust.Freshness.Status
		if st == mesh.StatusPass {
			continue
		}
		inf := InputFreshness{Name: in.String(), Status: st}
		switch {
		case ust.Freshness.PublishedAt == nil:
			inf.Reason = "never published"
		case ust.Freshness.Reason != "":
			inf.Reason = ust.Freshness.Reason
		default:
			inf.Reason = fmt.Sprintf("last published %s ago (warn after %s, fail after %s)", ust.Freshness.Age, ust.Freshness.WarnAfter, ust.Freshness.FailAfter)
		}
		f.Inputs = append(f.Inputs, inf)
		// An unpublished product stays unknown; otherwise a late or stale input makes
		// the product late or stale too.
		if f.Status != mesh.StatusUnknown && (st == mesh.StatusWarn || st == mesh.StatusFail) && severity[st] > severity[f.Status] {
			f.Status = st
			f.Reason = fmt.Sprintf("input %s is %s: %s", inf.Name, st, inf.Reason)
		}
	}
	return nil
}
