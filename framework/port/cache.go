package port

import (
	"context"
	"database/sql"
	"sync"

	sqlcat "github.com/apache/iceberg-go/catalog/sql"
	icebergio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
)

// metaCache keeps, per table, the parsed metadata of the newest metadata file this
// process has read or written. A table's metadata file lists every snapshot it still
// has, so parsing it costs more with each publish, and one product run reads its
// table several times (the current snapshot, its history, its properties, the
// publish): with the cache, each metadata file is parsed once. A metadata file is
// never rewritten — every commit writes a new one and points the catalog at it — so
// an entry is valid for as long as the catalog names its location, which every load
// asks the catalog first.
type metaCache struct {
	mu sync.Mutex
	m  map[TableID]cachedMeta
}

type cachedMeta struct {
	loc string
	md  table.Metadata
}

func (mc *metaCache) get(id TableID, loc string) (table.Metadata, bool) {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	e, ok := mc.m[id]
	if !ok || e.loc != loc {
		return nil, false
	}
	return e.md, true
}

// put remembers md as id's metadata at loc. iceberg-go never changes a Metadata in
// place (a transaction's builder copies what it changes), so tables may share one.
func (mc *metaCache) put(id TableID, loc string, md table.Metadata) {
	if loc == "" || md == nil {
		return
	}
	mc.mu.Lock()
	defer mc.mu.Unlock()
	if mc.m == nil {
		mc.m = map[TableID]cachedMeta{}
	}
	mc.m[id] = cachedMeta{loc: loc, md: md}
}

// loadTable is iceberg-go's LoadTable with the metadata parsed at most once per
// metadata file: the catalog database says where the table's metadata is now (one
// small query), and only a location not seen yet is read and parsed. Whatever the
// query cannot answer (no such table, a catalog schema it does not know) goes to
// LoadTable, which says why.
func (c *Catalog) loadTable(ctx context.Context, id TableID) (*table.Table, error) {
	if loc, ok := c.metadataLocation(ctx, id); ok {
		if md, ok := c.meta.get(id, loc); ok {
			return table.New(id.ident(), md, loc, icebergio.LoadFSFunc(c.props, loc), c.cat), nil
		}
	}
	tbl, err := c.cat.LoadTable(ctx, id.ident())
	if err != nil {
		return nil, err
	}
	c.meta.put(id, tbl.MetadataLocation(), tbl.Metadata())
	return tbl, nil
}

// remember caches the metadata a commit of this process just wrote.
func (c *Catalog) remember(id TableID, tbl *table.Table) {
	if tbl != nil {
		c.meta.put(id, tbl.MetadataLocation(), tbl.Metadata())
	}
}

// metadataLocation reads the table's current metadata location from the SQL
// catalog's iceberg_tables (the Iceberg JDBC catalog's schema, which iceberg-go's
// SQL catalog uses); false when there is not exactly one row for it.
func (c *Catalog) metadataLocation(ctx context.Context, id TableID) (string, bool) {
	q := `SELECT metadata_location FROM iceberg_tables WHERE catalog_name = ? AND table_namespace = ? AND table_name = ?`
	if c.dialect == sqlcat.Postgres {
		q = `SELECT metadata_location FROM iceberg_tables WHERE catalog_name = $1 AND table_namespace = $2 AND table_name = $3`
	}
	rows, err := c.db.QueryContext(ctx, q, catalogName, id.Domain, id.Name)
	if err != nil {
		return "", false
	}
	defer rows.Close()
	var loc sql.NullString
	n := 0
	for rows.Next() {
		if n++; n > 1 || rows.Scan(&loc) != nil {
			return "", false
		}
	}
	if rows.Err() != nil || n != 1 || !loc.Valid {
		return "", false
	}
	return loc.String, true
}
