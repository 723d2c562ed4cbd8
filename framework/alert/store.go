package alert

import (
	"context"
	"time"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/mesh"
)

// File is a product's open alerts as the lake keeps them, for `mesh alerts` and the
// catalog, which read them without Temporal. The product's alert workflow writes it
// after every change, and it alone.
type File struct {
	Domain  string    `json:"domain"`
	Product string    `json:"product"`
	Open    []Alert   `json:"open"`
	Updated time.Time `json:"updated"`
}

// Key is where a product's File is in the lake.
func Key(domain, product string) string { return "alerts/" + domain + "/" + product + ".json" }

// Open returns a product's open alerts; none when it never had one.
func Open(ctx context.Context, l *lake.Lake, domain, product string) ([]Alert, error) {
	var f File
	err := l.GetJSON(ctx, Key(domain, product), &f)
	if errs.Is(err, errs.NotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return f.Open, nil
}

// OpenAll returns the open alerts of every product of m, product by product in m's
// order, each product's in rule order.
func OpenAll(ctx context.Context, l *lake.Lake, m mesh.Mesh) ([]Alert, error) {
	var out []Alert
	for _, e := range m.Products() {
		open, err := Open(ctx, l, e.Domain.Name, e.Product.Name)
		if err != nil {
			return nil, err
		}
		out = append(out, open...)
	}
	return out, nil
}

func (n *Notifier) save(ctx context.Context, f File) error {
	return n.lake.PutJSON(ctx, Key(f.Domain, f.Product), f)
}
