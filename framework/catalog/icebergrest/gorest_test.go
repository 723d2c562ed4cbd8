package icebergrest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/catalog/rest"
	icebergio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"

	"github.com/meshflow/meshflow/dev/s3server"
)

// iceberg-go's REST catalog client, written by others against the spec, finds the
// ports, loads one and scans its data files itself: the rows it reads are the rows
// mesh query counts.
func TestIcebergGoClientListsLoadsAndScans(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	cat, err := rest.NewCatalog(ctx, "mesh", f.url, rest.WithWarehouseLocation(Warehouse))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })

	nss, err := cat.ListNamespaces(ctx, nil)
	if err != nil || fmt.Sprint(nss) != "[[marketing] [sales]]" {
		t.Fatalf("ListNamespaces = %v, %v", nss, err)
	}
	if ok, err := cat.CheckNamespaceExists(ctx, table.Identifier{"sales"}); err != nil || !ok {
		t.Fatalf("CheckNamespaceExists(sales) = %t, %v", ok, err)
	}
	if got := tables(t, cat, "sales"); fmt.Sprint(got) != "[[sales accounts_v1] [sales accounts_v2] [sales leads_v1]]" {
		t.Fatalf("anonymous sees %v, want every port but the restricted deals_v1", got)
	}
	if got := tables(t, cat, "marketing"); len(got) != 0 {
		t.Fatalf("marketing, never published, lists %v", got)
	}

	for name, published := range map[string]int64{"leads_v1": 3, "accounts_v1": 1, "accounts_v2": 2} {
		if rows, counted := scan(t, cat, "sales", name), f.count(t, "sales."+name); rows != counted || rows != published {
			t.Errorf("iceberg-go read %d rows of sales.%s, mesh query counts %d, %d were published", rows, name, counted, published)
		}
	}
	if _, err := cat.LoadTable(ctx, table.Identifier{"sales", "deals_v1"}); !errors.Is(err, rest.ErrUnauthorized) {
		t.Fatalf("anonymous LoadTable(deals_v1) = %v, want unauthorized", err)
	}
	if _, err := cat.LoadTable(ctx, table.Identifier{"sales", "contacts_v1"}); !errors.Is(err, catalog.ErrNoSuchTable) {
		t.Fatalf("LoadTable(contacts_v1) = %v, want no such table", err)
	}
	if err := cat.CreateNamespace(ctx, table.Identifier{"finance"}, nil); err == nil {
		t.Fatal("CreateNamespace succeeded on a read-only catalog")
	}
}

// A restricted port is listed to and loaded by a token in its groups only, bearer or
// exchanged at the OAuth endpoint, and every load is in the catalog's audit log.
func TestIcebergGoClientRestrictedPortNeedsItsGroup(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	open := func(opts ...rest.Option) *rest.Catalog {
		t.Helper()
		cat, err := rest.NewCatalog(ctx, "mesh", f.url, append(opts, rest.WithWarehouseLocation(Warehouse))...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cat.Close() })
		return cat
	}

	marketing := open(rest.WithOAuthToken(mktToken))
	if got := tables(t, marketing, "sales"); len(got) != 3 {
		t.Errorf("marketing sees %v, want the three unrestricted ports", got)
	}
	if _, err := marketing.LoadTable(ctx, table.Identifier{"sales", "deals_v1"}); !errors.Is(err, rest.ErrForbidden) {
		t.Errorf("marketing LoadTable(deals_v1) = %v, want forbidden", err)
	}

	want := f.count(t, "sales.deals_v1")
	if want != 2 {
		t.Fatalf("mesh query counts %d rows of sales.deals_v1, 2 were published", want)
	}
	for what, cat := range map[string]*rest.Catalog{
		"bearer":             open(rest.WithOAuthToken(salesToken)),
		"client credentials": open(rest.WithCredential("sales-analyst:" + salesToken)),
	} {
		if got := tables(t, cat, "sales"); len(got) != 4 {
			t.Errorf("%s: sales sees %v, want all four ports", what, got)
		}
		if rows := scan(t, cat, "sales", "deals_v1"); rows != want {
			t.Errorf("%s: iceberg-go read %d rows of sales.deals_v1, mesh query counts %d", what, rows, want)
		}
	}

	if _, err := rest.NewCatalog(ctx, "mesh", f.url, rest.WithCredential("web-analyst:"+salesToken)); err == nil {
		t.Error("a client id that is not the token's principal was given a token")
	}
	if got := f.loads(t, "sales.deals_v1"); fmt.Sprint(got) != "[web-analyst false sales-analyst true sales-analyst true]" {
		t.Errorf("audited loads of sales.deals_v1 = %v", got)
	}
}

func tables(t *testing.T, cat *rest.Catalog, ns string) []table.Identifier {
	t.Helper()
	var out []table.Identifier
	for id, err := range cat.ListTables(context.Background(), table.Identifier{ns}) {
		if err != nil {
			t.Fatalf("ListTables(%s): %v", ns, err)
		}
		out = append(out, id)
	}
	return out
}

// scan loads a table through the client and reads every row of its current snapshot.
func scan(t *testing.T, cat *rest.Catalog, ns, name string) int64 {
	t.Helper()
	ctx := context.Background()
	tbl, err := cat.LoadTable(ctx, table.Identifier{ns, name})
	if err != nil {
		t.Fatalf("LoadTable(%s.%s): %v", ns, name, err)
	}
	data, err := tbl.Scan().ToArrowTable(ctx)
	if err != nil {
		t.Fatalf("scan %s.%s: %v", ns, name, err)
	}
	defer data.Release()
	return data.NumRows()
}

// With an S3 warehouse, the config of a loaded table is all a reader needs besides its
// own key: iceberg-go finds the S3-compatible server from it and scans the rows mesh
// query counts. Nothing the catalog answers holds the mesh's key.
func TestIcebergGoClientReadsAnS3Warehouse(t *testing.T) {
	bin := s3server.Bin()
	if bin == "" {
		t.Skip("the S3 server bin/versitygw is missing: `make bin/versitygw` builds it (make test does)")
	}
	ctx := context.Background()
	srv, err := s3server.Start(ctx, bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	if err := srv.CreateBucket(ctx, "lake"); err != nil {
		t.Fatal(err)
	}
	const warehouse = "s3://lake/warehouse"
	f := newFixtureOn(t, warehouse,
		map[string]string{icebergio.S3EndpointURL: srv.Endpoint, icebergio.S3Region: s3server.Region, icebergio.S3AccessKeyID: srv.AccessKey, icebergio.S3SecretAccessKey: srv.SecretKey},
		&Options{Storage: S3Storage(warehouse, srv.Endpoint, s3server.Region)})

	body := f.raw(t, "/v1/meshflow/namespaces/sales/tables/leads_v1")
	if strings.Contains(body, srv.SecretKey) || strings.Contains(body, "secret-access-key") || !strings.Contains(body, `"s3.endpoint":"`+srv.Endpoint+`"`) ||
		!strings.Contains(body, `"metadata-location":"s3://lake/warehouse/`) {
		t.Fatalf("LoadTableResult of an S3 warehouse:\n%s", body)
	}

	// The reader brings its own key; the endpoint and region come from the catalog.
	cat, err := rest.NewCatalog(ctx, "mesh", f.url, rest.WithWarehouseLocation(Warehouse),
		rest.WithAdditionalProps(iceberg.Properties{icebergio.S3AccessKeyID: srv.AccessKey, icebergio.S3SecretAccessKey: srv.SecretKey}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	if rows, counted := scan(t, cat, "sales", "leads_v1"), f.count(t, "sales.leads_v1"); rows != 3 || counted != 3 {
		t.Fatalf("iceberg-go read %d rows of sales.leads_v1 from S3, mesh query counts %d, 3 were published", rows, counted)
	}
}
