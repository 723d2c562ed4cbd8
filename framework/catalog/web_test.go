package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	_ "gocloud.dev/blob/fileblob"

	"github.com/meshflow/meshflow/domains"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/port"
)

func testServer(t *testing.T) *httptest.Server {
	t.Helper()
	l, ports := testStoresIn(t, t.TempDir())
	srv := httptest.NewServer((&Catalog{Mesh: domains.Mesh(), Ports: ports, Lake: l}).Handler())
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestPagesAndAPI(t *testing.T) {
	srv := testServer(t)
	code, home := get(t, srv.URL+"/")
	if code != 200 || !strings.Contains(home, "crm_contacts") || !strings.Contains(home, "delivery_metrics") || !strings.Contains(home, fmt.Sprintf("%d product(s)", len(domains.Mesh().Products()))) {
		t.Fatalf("home %d:\n%.1500s", code, home)
	}
	_, found := get(t, srv.URL+"/?q=funding")
	// Descriptions, and column docs: revenue_engagement_weekly has funding columns.
	if !strings.Contains(found, "organizations") || !strings.Contains(found, "company_enrichment") || !strings.Contains(found, "revenue_engagement_weekly") ||
		strings.Contains(found, "crm_deals") || !strings.Contains(found, "3 product(s)") {
		t.Fatalf("search for funding:\n%.1500s", found)
	}
	_, dom := get(t, srv.URL+"/domains/engineering")
	if !strings.Contains(dom, "5 product(s)") || strings.Contains(dom, "crm_contacts") {
		t.Fatalf("engineering domain page:\n%.1500s", dom)
	}
	code, page := get(t, srv.URL+"/products/engineering.delivery_metrics")
	for _, want := range []string{"engineering-productivity", "engineering.jira_issues", "Lineage", "cycle_time_p50_hours", "never published", "SELECT * FROM engineering.delivery_metrics_v1"} {
		if code != 200 || !strings.Contains(page, want) {
			t.Errorf("product page (%d) lacks %q", code, want)
		}
	}
	code, body := get(t, srv.URL+"/api/products?domain=marketing")
	var list []Status
	if err := json.Unmarshal([]byte(body), &list); err != nil || code != 200 || len(list) != 5 {
		t.Fatalf("api list %d: %v %s", code, err, body)
	}
	code, body = get(t, srv.URL+"/products/marketing.nope")
	if code != 404 || !strings.Contains(body, "mesh products") {
		t.Fatalf("unknown product: %d %s", code, body)
	}
}

// testStoresIn opens a lake in dir and a port catalog (SQLite, a file:// warehouse)
// beside it, both closed when the test ends.
func testStoresIn(t testing.TB, dir string) (*lake.Lake, *port.Catalog) {
	t.Helper()
	ctx := context.Background()
	l, err := lake.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	ports, err := port.Open(ctx, port.Options{CatalogURI: "sqlite://" + dir + "/catalog.db", Warehouse: "file://" + dir + "/warehouse"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ports.Close() })
	return l, ports
}
