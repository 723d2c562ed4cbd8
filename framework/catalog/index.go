package catalog

import (
	"context"
	"sync"
	"time"

	"github.com/meshflow/meshflow/framework/mesh"
)

// The status index keeps every product's status (as status reads it: unredacted) in
// memory, so a listing of a thousand products reads no Iceberg catalog and no lake
// per request: the listings (home, domain pages, search, /api/products, the graph)
// read it; a product's own page, and every CLI command, still read the product live.
// One refresh reads every product again, a few at a time, then waits Every before
// the next: a run's end shows in the listings within one refresh and Every.

// StatusIndex is the catalog's index of statuses (Catalog.Index).
type StatusIndex struct {
	// Every is the pause between refreshes; default 2 s.
	Every time.Duration
	// Parallel is how many products a refresh reads at once; default 4.
	Parallel int

	mu       sync.RWMutex
	statuses map[mesh.Ref]indexed
	at       time.Time // when the refresh that made statuses started
}

// indexed is one product's status, or what reading it failed with.
type indexed struct {
	st  Status
	err error
}

// StartIndex reads every product's status once, then keeps the index current in the
// background until ctx ends; the listings read from it from then on.
func (c *Catalog) StartIndex(ctx context.Context, idx *StatusIndex) {
	if idx.Every <= 0 {
		idx.Every = 2 * time.Second
	}
	if idx.Parallel <= 0 {
		idx.Parallel = 4
	}
	c.refresh(ctx, idx)
	c.Index = idx
	go func() {
		t := time.NewTimer(idx.Every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			c.refresh(ctx, idx)
			t.Reset(idx.Every)
		}
	}()
}

// refresh reads every product's status into a new map and swaps it in whole, so a
// listing sees one refresh's statuses, never a mix of two.
func (c *Catalog) refresh(ctx context.Context, idx *StatusIndex) {
	start := c.now()
	entries := c.Mesh.Products()
	out := make(map[mesh.Ref]indexed, len(entries))
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, idx.Parallel)
	for _, e := range entries {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			st, err := c.listedStatus(ctx, e.Domain, e.Product)
			mu.Lock()
			out[mesh.Ref{Domain: e.Domain.Name, Product: e.Product.Name}] = indexed{st, err}
			mu.Unlock()
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return
	}
	idx.mu.Lock()
	idx.statuses, idx.at = out, start
	idx.mu.Unlock()
}

// AsOf is when the statuses the listings show were read.
func (idx *StatusIndex) AsOf() time.Time {
	idx.mu.RLock()
	defer idx.mu.RUnlock()
	return idx.at
}

// listingStatus is a product's status for a listing: from the index when the
// catalog keeps one and it holds the product, else read now.
func (c *Catalog) listingStatus(ctx context.Context, d mesh.Domain, p mesh.Product) (Status, error) {
	if idx := c.Index; idx != nil {
		idx.mu.RLock()
		in, ok := idx.statuses[mesh.Ref{Domain: d.Name, Product: p.Name}]
		idx.mu.RUnlock()
		if ok {
			st := in.st
			if st.LastRun != nil { // the listing redacts its copy, never the index's
				lr := *st.LastRun
				st.LastRun = &lr
			}
			return st, in.err
		}
	}
	return c.listedStatus(ctx, d, p)
}

// listedStatus reads a product's status and counts its open alerts.
func (c *Catalog) listedStatus(ctx context.Context, d mesh.Domain, p mesh.Product) (Status, error) {
	st, _, err := c.status(ctx, d, p)
	if err != nil {
		return st, err
	}
	open, err := openAlerts(ctx, c.Lake, d, p)
	st.OpenAlerts = len(open)
	return st, err
}
