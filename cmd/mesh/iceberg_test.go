package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go/catalog/rest"
	"github.com/apache/iceberg-go/table"

	"github.com/meshflow/meshflow/framework/port"
)

// mesh serve offers the Iceberg REST catalog under /iceberg, over the lake's ports and
// access file: iceberg-go's client reads a run's port (as many rows as mesh query
// counts), is refused the restricted crm_deals without a token of its groups and
// reads it with one, and mesh audit shows that load.
func TestServeIcebergRESTCatalog(t *testing.T) {
	lakeDir := testLake(t)
	publishCompanies(t, lakeDir, "run1",
		company("1", "Acme", 10, "2026-01-02T00:00:00Z", false), company("2", "Globex", 20, "2026-01-02T00:00:00Z", false))
	publishDeals(t, lakeDir)
	token, err := runMesh(t, "access", "add-token", "--name", "seller", "--groups", "sales")
	if err != nil {
		t.Fatal(err)
	}
	token = strings.Fields(token)[0]

	base, waitFor := serveMesh(t, "serve", "--addr", "127.0.0.1:0")
	if got := waitFor("iceberg:  REST catalog at "); !strings.HasPrefix(got, base+"/iceberg, warehouse meshflow") {
		t.Fatalf("mesh serve announces the Iceberg catalog as %q", got)
	}
	ctx := context.Background()
	open := func(opts ...rest.Option) *rest.Catalog {
		t.Helper()
		cat, err := rest.NewCatalog(ctx, "mesh", base+"/iceberg", append(opts, rest.WithWarehouseLocation("meshflow"))...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cat.Close() })
		return cat
	}
	anonymous := open()
	var names []string
	for id, err := range anonymous.ListTables(ctx, table.Identifier{"marketing"}) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, id[1])
	}
	if strings.Join(names, " ") != "crm_companies_v1" {
		t.Fatalf("anonymous lists %v in marketing, want crm_companies_v1 alone", names)
	}
	out, err := runMesh(t, "query", "--format", "csv", "SELECT count(*) AS n FROM marketing.crm_companies_v1")
	if err != nil || !strings.HasPrefix(out, "n\n2\n") {
		t.Fatalf("mesh query: %v\n%s", err, out)
	}
	if rows := scanRows(t, anonymous, "marketing", "crm_companies_v1"); rows != 2 {
		t.Fatalf("iceberg-go read %d rows of marketing.crm_companies_v1, mesh query counts 2", rows)
	}
	if _, err := anonymous.LoadTable(ctx, table.Identifier{"marketing", "crm_deals_v1"}); !errors.Is(err, rest.ErrUnauthorized) {
		t.Fatalf("anonymous load of crm_deals_v1: %v, want unauthorized", err)
	}
	if rows := scanRows(t, open(rest.WithCredential("seller:"+token)), "marketing", "crm_deals_v1"); rows != 1 {
		t.Fatalf("the seller read %d rows of marketing.crm_deals_v1, want 1", rows)
	}
	out, err = runMesh(t, "audit", "--json")
	if err != nil || !strings.Contains(out, `"path": "iceberg"`) || !strings.Contains(out, `"principal": "seller"`) {
		t.Fatalf("mesh audit lacks the Iceberg loads: %v\n%s", err, out)
	}
}

// publishDeals publishes one row to marketing.crm_deals_v1 (restricted to sales and finance).
func publishDeals(t *testing.T, lakeDir string) {
	t.Helper()
	stores := openStores(t, lakeDir)
	sc := arrow.NewSchema([]arrow.Field{{Name: "deal_id", Type: arrow.BinaryTypes.String}}, nil)
	rec, _, err := array.RecordFromJSON(memory.DefaultAllocator, sc, strings.NewReader(`[{"deal_id": "d1"}]`))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	rdr, _ := array.NewRecordReader(sc, []arrow.RecordBatch{rec})
	defer rdr.Release()
	if _, err := stores.Ports.Publish(context.Background(), port.PortTable("marketing", "crm_deals", 1), rdr, port.PublishRequest{Mode: port.Replace{}}); err != nil {
		t.Fatal(err)
	}
}

func scanRows(t *testing.T, cat *rest.Catalog, ns, name string) int64 {
	t.Helper()
	ctx := context.Background()
	tbl, err := cat.LoadTable(ctx, table.Identifier{ns, name})
	if err != nil {
		t.Fatalf("load %s.%s: %v", ns, name, err)
	}
	data, err := tbl.Scan().ToArrowTable(ctx)
	if err != nil {
		t.Fatalf("scan %s.%s: %v", ns, name, err)
	}
	defer data.Release()
	return data.NumRows()
}
