package port

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"path"
	"regexp"
	"strconv"
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

// metadataFileName is iceberg-go's name of a metadata file: <version>-<uuid>.metadata.json.
var metadataFileName = regexp.MustCompile(`^(\d+)-([\w-]{36})\.metadata\.json$`)

// commitOnto commits updates onto base, the table's metadata at baseLoc, as iceberg-go's
// SQL catalog does — the requirements checked, the updates applied, the new metadata
// file written next to the old one with the next version, and the catalog row moved
// from baseLoc to it only if it still names baseLoc (table.ErrCommitFailed if not) —
// without reading and parsing the current metadata file again: base is what this
// publish read (through the cache), and the row's condition proves it current. A day's
// publish thereby parses no metadata at all, where the catalog's CommitTable parsed
// the whole history once more per commit. handled is false for what it leaves to
// CommitTable: a compressed metadata file, a name it does not know.
func (c *Catalog) commitOnto(ctx context.Context, id TableID, base table.Metadata, baseLoc string, reqs []table.Requirement, updates []table.Update) (tbl *table.Table, handled bool, err error) {
	m := metadataFileName.FindStringSubmatch(path.Base(baseLoc))
	if m == nil || base.Properties().Get(table.MetadataCompressionKey, table.MetadataCompressionDefault) != table.MetadataCompressionCodecNone {
		return nil, false, nil
	}
	version, err := strconv.Atoi(m[1])
	if err != nil {
		return nil, false, nil
	}
	for _, r := range reqs {
		if err := r.Validate(base); err != nil {
			return nil, true, err
		}
	}
	updated, err := table.UpdateTableMetadata(base, updates, baseLoc)
	if err != nil {
		return nil, true, err
	}
	if updated.Properties().Get(table.MetadataCompressionKey, table.MetadataCompressionDefault) != table.MetadataCompressionCodecNone {
		return nil, false, nil
	}
	provider, err := table.LoadLocationProvider(updated.Location(), updated.Properties())
	if err != nil {
		return nil, true, err
	}
	newLoc, err := provider.NewTableMetadataFileLocation(version + 1)
	if err != nil {
		return nil, true, err
	}
	props := maps.Clone(c.props)
	maps.Copy(props, updated.Properties())
	fsF := icebergio.LoadFSFunc(props, newLoc)
	fsys, err := fsF(ctx)
	if err != nil {
		return nil, true, err
	}
	wfs, ok := fsys.(icebergio.WriteFileIO)
	if !ok {
		return nil, false, nil
	}
	b, keep, err := c.snapJSON.encode(id, updated)
	if err != nil {
		return nil, true, err
	}
	if err := writeMetadataFile(wfs, newLoc, b); err != nil {
		return nil, true, err
	}
	q := `UPDATE iceberg_tables SET metadata_location = ?, previous_metadata_location = ? WHERE catalog_name = ? AND table_namespace = ? AND table_name = ? AND metadata_location = ?`
	if c.dialect == sqlcat.Postgres {
		q = `UPDATE iceberg_tables SET metadata_location = $1, previous_metadata_location = $2 WHERE catalog_name = $3 AND table_namespace = $4 AND table_name = $5 AND metadata_location = $6`
	}
	res, err := c.db.ExecContext(ctx, q, newLoc, baseLoc, catalogName, id.Domain, id.Name, baseLoc)
	if err != nil {
		_ = wfs.Remove(newLoc)
		return nil, true, fmt.Errorf("error updating table information: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		_ = wfs.Remove(newLoc)
		return nil, true, fmt.Errorf("%w: table %s moved on from %s", table.ErrCommitFailed, id, baseLoc)
	}
	keep()
	return table.New(id.ident(), updated, newLoc, fsF, c.cat), true, nil
}

func writeMetadataFile(fs icebergio.WriteFileIO, loc string, b []byte) (err error) {
	out, err := fs.Create(loc)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}()
	_, err = out.Write(b)
	return err
}
