package catalog

import (
	"context"

	"github.com/meshflow/meshflow/framework/alert"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/mesh"
)

// AlertFreshness is a product's freshness as its alerts judge it (an
// alert.FreshnessFunc): the catalog's own, inputs included.
func (c *Catalog) AlertFreshness(ctx context.Context, domain, product string) (alert.Freshness, error) {
	d, p, err := c.Mesh.Find(domain + "." + product)
	if err != nil {
		return alert.Freshness{}, err
	}
	st, _, err := c.status(ctx, d, p)
	if err != nil {
		return alert.Freshness{}, err
	}
	f := st.Freshness
	out := alert.Freshness{Status: f.Status, Age: f.Age, WarnAfter: f.WarnAfter, FailAfter: f.FailAfter, Reason: f.Reason, Inputs: len(f.Inputs) > 0}
	if f.PublishedAt != nil {
		out.PublishedAt = *f.PublishedAt
	}
	return out, nil
}

// openAlerts are a product's open alerts, [] when none (the API's `alerts`).
func openAlerts(ctx context.Context, l *lake.Lake, d mesh.Domain, p mesh.Product) ([]alert.Alert, error) {
	open, err := alert.Open(ctx, l, d.Name, p.Name)
	if open == nil {
		open = []alert.Alert{}
	}
	return open, err
}
