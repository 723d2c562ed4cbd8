package catalog

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/meshflow/meshflow/framework/port"
	"github.com/meshflow/meshflow/framework/port/porttest"
)

// The home page's overview counts the listed products by freshness, last run and
// alerts, each count a link to the filtered list; the filters by classification,
// last run and open alerts select what they say.
func TestHomeOverviewAndFilters(t *testing.T) {
	f := newAccessFixture(t) // sales.deals published, its last run failed; sales.leads never published
	_, home := f.do(t, "GET", "/", "", nil, nil)
	for _, want := range []string{`<a class="pass" href="?state=pass">1 fresh</a>`, `<a class="unknown" href="?state=unknown">1 never published</a>`,
		`<a class="fail" href="?run=failed">1 failed or blocked</a>`, `<a class="unknown" href="?run=none">1 not run</a>`,
		`<a class="pass" href="?alerts=1">0 product(s) with open alerts</a>`, "2 product(s)"} {
		if !strings.Contains(home, want) {
			t.Errorf("home page lacks %q:\n%s", want, home)
		}
	}
	for query, want := range map[string]string{
		"?classification=restricted": "deals", "?classification=internal": "leads",
		"?run=none": "leads", "?run=failed": "deals", "?state=unknown": "leads",
	} {
		_, page := f.do(t, "GET", "/"+query, "", nil, nil)
		other := map[string]string{"deals": "leads", "leads": "deals"}[want]
		if !strings.Contains(page, `href="/products/sales.`+want+`"`) || strings.Contains(page, `href="/products/sales.`+other+`"`) || !strings.Contains(page, "1 product(s)") {
			t.Errorf("%s lists not just %s:\n%s", query, want, page)
		}
	}
	if _, page := f.do(t, "GET", "/?alerts=1", "", nil, nil); !strings.Contains(page, "No product matches.") {
		t.Errorf("?alerts=1 lists products without open alerts:\n%s", page)
	}
}

// With the status index, listings show the statuses of the last refresh, say as of
// when, and show a publish after the next refresh; a product's page reads it live.
func TestListingsReadTheStatusIndex(t *testing.T) {
	f := newAccessFixture(t)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	f.cat.StartIndex(ctx, &StatusIndex{Every: time.Hour}) // refreshed below, by hand
	srv := httptest.NewServer(f.cat.Handler())
	defer srv.Close()
	_, home := get(t, srv.URL+"/")
	if !strings.Contains(home, "states as of "+f.cat.Index.AsOf().UTC().Format("15:04:05")+" UTC") || !strings.Contains(home, "1 never published") {
		t.Fatalf("home page before the publish:\n%s", home)
	}

	sc := arrow.NewSchema([]arrow.Field{{Name: "lead_id", Type: arrow.BinaryTypes.String}}, nil)
	porttest.PublishJSON(t, f.cat.Ports, port.PortTable("sales", "leads", 1), sc, `[{"lead_id": "l1"}]`, port.PublishRequest{Mode: port.Replace{}})
	if _, home = get(t, srv.URL+"/"); !strings.Contains(home, "1 never published") {
		t.Errorf("the listing changed before the index refreshed:\n%s", home)
	}
	if _, page := get(t, srv.URL+"/products/sales.leads"); !strings.Contains(page, `<tr><th>Freshness</th><td class="pass">pass — published `) {
		t.Errorf("the product page does not read the publish live:\n%s", page)
	}
	f.cat.refresh(ctx, f.cat.Index)
	if _, home = get(t, srv.URL+"/"); !strings.Contains(home, "0 never published") || !strings.Contains(home, "2 fresh") {
		t.Errorf("the listing after a refresh:\n%s", home)
	}
}
