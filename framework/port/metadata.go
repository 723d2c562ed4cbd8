package port

import (
	"context"

	"github.com/apache/iceberg-go/table"
)

// Metadata is a port table's current Iceberg table metadata and the location of the
// metadata file it was read from: what an Iceberg REST catalog hands an engine so it
// reads the table itself. A missing table or namespace is errs.NotFound.
func (c *Catalog) Metadata(ctx context.Context, id TableID) (location string, md table.Metadata, err error) {
	tbl, err := c.load(ctx, "port: metadata of "+id.String(), id)
	if err != nil {
		return "", nil, err
	}
	return tbl.MetadataLocation(), tbl.Metadata(), nil
}
