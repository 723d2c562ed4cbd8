// Lists and loads the mesh's ports with the npm package iceberg-js, a REST catalog
// client written by others, and prints what it saw as JSON for icebergjs_test.go.
//
// Environment: ICEBERG_JS the file URL of iceberg-js's ES module, CATALOG_URI the
// catalog's URI (http://host:port/iceberg), TOKEN a mesh access token.
const { IcebergRestCatalog, IcebergError } = await import(process.env.ICEBERG_JS);

// rowsOf is the row count of the table's current snapshot, from its summary: iceberg-js
// reads catalogs, not data files.
function rowsOf(metadata) {
  const current = metadata['current-snapshot-id'];
  const snap = (metadata.snapshots ?? []).find((s) => s['snapshot-id'] === current);
  return snap ? Number(snap.summary['total-records']) : null;
}

async function visit(auth) {
  const catalog = new IcebergRestCatalog({ baseUrl: process.env.CATALOG_URI, warehouse: 'meshflow', auth });
  const seen = { namespaces: [], tables: {}, loads: {}, refused: {} };
  const { namespaces } = await catalog.listNamespaces();
  for (const ns of namespaces) {
    const name = ns.namespace.join('.');
    seen.namespaces.push(name);
    const { identifiers } = await catalog.listTables(ns);
    seen.tables[name] = identifiers.map((id) => id.name);
    for (const id of identifiers) {
      const result = await catalog.loadTableResult(id);
      seen.loads[`${name}.${id.name}`] = {
        rows: rowsOf(result.metadata),
        metadataLocation: result['metadata-location'],
        formatVersion: result.metadata['format-version'],
        columns: result.metadata.schemas.find((s) => s['schema-id'] === result.metadata['current-schema-id']).fields.map((f) => f.name),
      };
    }
  }
  // The restricted port, asked for by name.
  try {
    await catalog.loadTable({ namespace: ['sales'], name: 'deals_v1' });
  } catch (err) {
    if (!(err instanceof IcebergError)) throw err;
    seen.refused['sales.deals_v1'] = { status: err.status, type: err.icebergType };
  }
  return seen;
}

const report = {
  anonymous: await visit({ type: 'none' }),
  token: await visit({ type: 'bearer', token: process.env.TOKEN }),
};
process.stdout.write(JSON.stringify(report));
