package catalog_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	_ "gocloud.dev/blob/fileblob"

	"github.com/meshflow/meshflow/domains"
	"github.com/meshflow/meshflow/framework/catalog"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/port"
)

// fuzzHandler is the catalog of the real mesh over an empty lake and port catalog.
func fuzzHandler(f *testing.F) http.Handler {
	ctx := context.Background()
	dir := f.TempDir()
	l, err := lake.Open(ctx, dir)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { l.Close() })
	ports, err := port.Open(ctx, port.Options{CatalogURI: "sqlite://" + dir + "/catalog.db", Warehouse: "file://" + dir + "/warehouse"})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { ports.Close() })
	return (&catalog.Catalog{Mesh: domains.Mesh(), Ports: ports, Lake: l}).Handler()
}

// FuzzQuery sends every route of the catalog fuzzed names and query parameters (q,
// domain, owner, state, anything else raw) and a fuzzed bearer token. Bad input is
// never a server error or a panic; an API answer is always JSON.
func FuzzQuery(f *testing.F) {
	for _, s := range []struct {
		route                     uint8
		name, q, domain, owner    string
		state, raw, authorization string
	}{
		{0, "", "", "", "", "", "", ""},
		{0, "", "funding", "", "", "", "", ""},
		{0, "", "delivery cycle", "engineering", "engineering-productivity", "pass", "", ""},
		{3, "", "", "marketing", "", "fail", "", ""},
		{1, "engineering", "crm", "", "", "unknown", "", ""},
		{2, "marketing.crm_contacts", "", "", "", "", "", ""},
		{4, "engineering.delivery_metrics", "", "", "", "", "", "Bearer not-a-token"},
		{2, "crm_contacts", "", "", "", "", "versions=1&at=2026-03-02", ""},
		{2, "marketing.nope", "", "", "", "", "", ""},
		{4, "../../etc/passwd", "%", "'; DROP TABLE x; --", "<script>", "warn", "q=%zz&domain=%", "Basic Zm9vOmJhcg=="},
		{1, "", "\x00", "\xff\xfe", strings.Repeat("a", 5000), "\u202e", ";;&&==", "Bearer "},
		{2, ".", "*", "*", "*", "*", "state=pass&state=fail", "bearer   x"},
		{5, "", "", "", "", "", "next=//evil.example/", ""},
		{5, "", "", "", "", "", "next=/products/marketing.crm_contacts", ""},
	} {
		f.Add(s.route, s.name, s.q, s.domain, s.owner, s.state, s.raw, s.authorization)
	}
	h := fuzzHandler(f)
	routes := []func(name string) string{
		func(string) string { return "/" },
		func(n string) string { return "/domains/" + url.PathEscape(n) },
		func(n string) string { return "/products/" + url.PathEscape(n) },
		func(string) string { return "/api/products" },
		func(n string) string { return "/api/products/" + url.PathEscape(n) },
		func(string) string { return "/login" },
	}
	f.Fuzz(func(t *testing.T, route uint8, name, q, domain, owner, state, raw, authorization string) {
		path := routes[int(route)%len(routes)](name)
		query := url.Values{"q": {q}, "domain": {domain}, "owner": {owner}, "state": {state}}.Encode() + "&" + raw
		req, err := http.NewRequest(http.MethodGet, "http://catalog.test"+path+"?"+query, nil)
		if err != nil {
			return // not a URL a client could send
		}
		if authorization != "" && !strings.ContainsAny(authorization, "\r\n\x00") {
			req.Header.Set("Authorization", authorization)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		switch w.Code {
		case 200, 301, 302, 303, 307, 308, 400, 401, 403, 404, 405:
		default:
			t.Fatalf("GET %s answered %d:\n%.500s", req.URL, w.Code, w.Body.String())
		}
		if strings.HasPrefix(path, "/api/") && w.Code < 300 && !json.Valid(w.Body.Bytes()) {
			t.Fatalf("GET %s answered %d with a body that is not JSON:\n%.500s", req.URL, w.Code, w.Body.String())
		}
	})
}
