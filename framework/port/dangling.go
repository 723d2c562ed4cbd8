package port

import (
	"context"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/meshflow/meshflow/framework/errs"
)

// dropDeletes removes the position-delete files of main's current snapshot after a
// publish that replaced every row of the table: iceberg-go's overwrite removes the
// data files and keeps the delete files that named their rows (a merge by key's,
// MergeByKey), which then count against the new rows in the snapshot's totals. No row
// changes, so it commits a replace snapshot, which readers see as the publish it was
// made from (snapshotOf). A table without delete files is left as it is.
func (c *Catalog) dropDeletes(ctx context.Context, op string, id TableID, tbl *table.Table) (*table.Table, error) {
	cur := tbl.CurrentSnapshot()
	if cur == nil {
		return tbl, nil
	}
	fsys, err := tbl.FS(ctx)
	if err != nil {
		return nil, errs.E(errs.Transient, op, err)
	}
	manifests, err := cur.Manifests(fsys)
	if err != nil {
		return nil, errs.E(kindOf(err), op, err)
	}
	var deletes []iceberg.DataFile
	for _, m := range manifests {
		if m.ManifestContent() != iceberg.ManifestContentDeletes {
			continue
		}
		entries, err := m.FetchEntries(fsys, true)
		if err != nil {
			return nil, errs.E(kindOf(err), op, err)
		}
		for _, e := range entries {
			deletes = append(deletes, e.DataFile())
		}
	}
	if len(deletes) == 0 {
		return tbl, nil
	}
	txn := tbl.NewTransaction()
	rw := txn.NewRewrite(nil)
	for _, df := range deletes {
		rw.DeleteFile(df)
	}
	if err := rw.Commit(ctx); err != nil {
		return nil, errs.E(kindOf(err), op, err)
	}
	out, err := txn.Commit(ctx)
	if err != nil {
		return nil, errs.E(kindOf(err), op, err)
	}
	return out, nil
}
