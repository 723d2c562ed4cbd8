package icebergrest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	// The test lake is a local directory (gocloud's file:// driver).
	_ "gocloud.dev/blob/fileblob"

	"github.com/meshflow/meshflow/framework/access"
	"github.com/meshflow/meshflow/framework/catalog"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
	"github.com/meshflow/meshflow/framework/port/porttest"
	"github.com/meshflow/meshflow/framework/query"
)

const (
	salesToken = "mf_test-iceberg-sales-token"
	mktToken   = "mf_test-iceberg-marketing-token"
)

// testMesh declares, in domain sales: deals (restricted to sales and finance), leads
// (internal) and accounts (public, major 2 with its major 1 still published); in domain
// marketing: campaigns, never published.
func testMesh() mesh.Mesh {
	product := func(name string, c mesh.Classification, cols ...string) mesh.Product {
		p := mesh.Product{Name: name, Description: "The " + name + ".", Version: "1.0.0", Classification: c,
			Inputs: []mesh.Input{mesh.Raw("crm", name)}, Model: "SELECT 1", Cadence: "@daily", PrimaryKey: cols[:1]}
		for _, col := range cols {
			p.Schema = append(p.Schema, mesh.Column{Name: col, Type: mesh.String, Doc: col})
		}
		return p
	}
	deals := product("deals", mesh.Restricted, "deal_id", "deal_name")
	deals.AllowedGroups = []string{"sales", "finance"}
	accounts := product("accounts", mesh.Public, "account_id")
	accounts.Version = "2.0.0"
	accounts.Legacy = []mesh.Legacy{{Version: "1.4.0", Sunset: "2099-01-01", Model: "SELECT 1", Schema: accounts.Schema}}
	return mesh.Mesh{Domains: []mesh.Domain{
		{Name: "sales", Owner: "sales-ops", Contact: "#sales-data", Description: "Pipeline and revenue.", Products: []mesh.Product{
			deals, product("leads", mesh.Internal, "lead_id", "day"), accounts}},
		{Name: "marketing", Owner: "growth", Products: []mesh.Product{product("campaigns", mesh.Public, "campaign_id")}},
	}}
}

type fixture struct {
	url   string // the catalog URI clients are given: .../iceberg
	cat   *catalog.Catalog
	audit *access.Log
}

// newFixture publishes the ports through port.Catalog.Publish, the publish activity's
// own path, into a fresh lake with a local warehouse, and serves the REST catalog
// under MountPath as mesh serve does.
func newFixture(t *testing.T, o *Options) *fixture {
	t.Helper()
	return newFixtureOn(t, "", nil, o)
}

// newFixtureOn is newFixture with the warehouse at warehouse ("" = in the lake's
// directory), reached with the iceberg-go IO properties io.
func newFixtureOn(t *testing.T, warehouse string, io map[string]string, o *Options) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	l, err := lake.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	if warehouse == "" {
		warehouse = "file://" + dir + "/warehouse"
	}
	ports, err := port.Open(ctx, port.Options{CatalogURI: "sqlite://" + dir + "/catalog.db", Warehouse: warehouse, IOProperties: io})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ports.Close() })

	published := time.Now().UTC().Format(time.RFC3339)
	publish := func(id port.TableID, mode port.Mode, rows string, cols ...string) {
		t.Helper()
		var fields []arrow.Field
		for _, c := range cols {
			fields = append(fields, arrow.Field{Name: c, Type: arrow.BinaryTypes.String, Nullable: true})
		}
		porttest.PublishJSON(t, ports, id, arrow.NewSchema(fields, nil), rows, port.PublishRequest{Mode: mode,
			SnapshotProperties: map[string]string{flow.PropPublishedAt: published, flow.PropVersion: "1.0.0"}})
	}
	publish(port.PortTable("sales", "deals", 1), port.Replace{}, `[{"deal_id": "d1", "deal_name": "Zephyr"}, {"deal_id": "d2", "deal_name": "Quasar"}]`, "deal_id", "deal_name")
	// Two days of leads, two snapshots and two data files.
	publish(port.PortTable("sales", "leads", 1), port.ReplacePartition{Column: "day", Value: "2024-05-01"},
		`[{"lead_id": "l1", "day": "2024-05-01"}, {"lead_id": "l2", "day": "2024-05-01"}]`, "lead_id", "day")
	publish(port.PortTable("sales", "leads", 1), port.ReplacePartition{Column: "day", Value: "2024-05-02"},
		`[{"lead_id": "l3", "day": "2024-05-02"}]`, "lead_id", "day")
	publish(port.PortTable("sales", "accounts", 1), port.Replace{}, `[{"account_id": "a1"}]`, "account_id")
	publish(port.PortTable("sales", "accounts", 2), port.Replace{}, `[{"account_id": "a1"}, {"account_id": "a2"}]`, "account_id")

	file := filepath.Join(dir, "access.yaml")
	text := fmt.Sprintf("principals:\n  - {name: sales-analyst, token_sha256: %q, groups: [sales]}\n  - {name: web-analyst, token_sha256: %q, groups: [marketing]}\n",
		access.Digest(salesToken), access.Digest(mktToken))
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	pol, err := access.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{audit: access.NewLog(l)}
	f.cat = &catalog.Catalog{Mesh: testMesh(), Ports: ports, Lake: l, Access: pol, Audit: f.audit}
	mux := http.NewServeMux()
	mux.Handle(MountPath+"/", http.StripPrefix(MountPath, New(f.cat, o).Handler()))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	f.url = srv.URL + MountPath
	return f
}

// count is what mesh query counts in a port, as the given principal.
func (f *fixture) count(t *testing.T, table string) int64 {
	t.Helper()
	res, err := query.Run(context.Background(), query.Request{SQL: "SELECT count(*) FROM " + table, Mesh: f.cat.Mesh, Ports: f.cat.Ports, ScratchDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	n, ok := res.Rows[0][0].(int64)
	if !ok {
		t.Fatalf("count(*) of %s = %#v", table, res.Rows[0][0])
	}
	return n
}

// loads are the audit log's records of Iceberg loads of a port, as "principal allowed".
func (f *fixture) loads(t *testing.T, portName string) []string {
	t.Helper()
	events, err := f.audit.Events(context.Background(), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range events {
		if e.Port == portName && e.Path == access.PathIceberg && e.What == access.Table {
			out = append(out, fmt.Sprintf("%s %t", e.Principal, e.Allowed))
		}
	}
	return out
}

// get sends a request with an optional bearer token and decodes a JSON answer into v.
func (f *fixture) do(t *testing.T, method, path, token string, body io.Reader, v any) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, f.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if v != nil && len(b) > 0 {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp
}

// raw is the body of a GET, which must succeed.
func (f *fixture) raw(t *testing.T, path string) string {
	t.Helper()
	var body json.RawMessage
	if resp := f.do(t, "GET", path, "", nil, &body); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d %s", path, resp.StatusCode, body)
	}
	return string(body)
}

// wantError checks that a request is refused with the spec's ErrorModel of status and type.
func (f *fixture) wantError(t *testing.T, method, path, token string, status int, typ, mentions string) {
	t.Helper()
	var e errorResponse
	resp := f.do(t, method, path, token, nil, &e)
	if resp.StatusCode != status || e.Error.Code != status || e.Error.Type != typ || !strings.Contains(e.Error.Message, mentions) {
		t.Errorf("%s %s = %d %+v; want %d %s mentioning %q", method, path, resp.StatusCode, e.Error, status, typ, mentions)
	}
}

func TestIcebergErrorsAreTheSpecsErrorModel(t *testing.T) {
	f := newFixture(t, nil)
	for _, tc := range []struct {
		method, path, token string
		status              int
		typ, mentions       string
	}{
		{"GET", "/v1/meshflow/namespaces/finance", "", 404, "NoSuchNamespaceException", `namespace "finance" does not exist`},
		{"GET", "/v1/meshflow/namespaces/finance/tables", "", 404, "NoSuchNamespaceException", "finance"},
		{"GET", "/v1/meshflow/namespaces/sales/tables/contacts_v1", "", 404, "NoSuchTableException", "sales.contacts_v1 does not exist"},
		{"GET", "/v1/meshflow/namespaces/marketing/tables/campaigns_v1", "", 404, "NoSuchTableException", "declared but not published"},
		{"GET", "/v1/meshflow/namespaces/sales/tables/deals_v1", "", 401, "NotAuthorizedException", "restricted to the groups sales, finance"},
		{"GET", "/v1/meshflow/namespaces/sales/tables/deals_v1", mktToken, 403, "ForbiddenException", "web-analyst may not read sales.deals"},
		{"GET", "/v1/meshflow/namespaces", "mf_not-a-token", 401, "NotAuthorizedException", "not in the access file"},
		{"GET", "/v1/config?warehouse=lakehouse", "", 400, "BadRequestException", `serves one warehouse, "meshflow"`},
		{"GET", "/v1/meshflow/namespaces/sales/tables?pageToken=&pageSize=0", "", 400, "BadRequestException", "pageSize"},
		{"POST", "/v1/meshflow/namespaces", "", 501, "UnsupportedOperationException", "read-only"},
		{"POST", "/v1/meshflow/namespaces/sales/tables", salesToken, 501, "UnsupportedOperationException", "read-only"},
		{"POST", "/v1/meshflow/namespaces/sales/tables/leads_v1", salesToken, 501, "UnsupportedOperationException", "read-only"},
		{"DELETE", "/v1/meshflow/namespaces/sales/tables/leads_v1", salesToken, 501, "UnsupportedOperationException", "read-only"},
		{"POST", "/v1/meshflow/tables/rename", "", 501, "UnsupportedOperationException", "read-only"},
		{"GET", "/v1/meshflow/namespaces/sales/views", "", 404, "NotFoundException", "GET /v1/config lists"},
	} {
		f.wantError(t, tc.method, tc.path, tc.token, tc.status, tc.typ, tc.mentions)
	}
	resp := f.do(t, "GET", "/v1/meshflow/namespaces/sales/tables/deals_v1", "", nil, nil)
	if got := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
		t.Errorf("a 401 without a Bearer challenge: %q", got)
	}
	// HEAD answers by status alone.
	for path, want := range map[string]int{
		"/v1/meshflow/namespaces/sales": 204, "/v1/meshflow/namespaces/finance": 404,
		"/v1/meshflow/namespaces/sales/tables/leads_v1": 204, "/v1/meshflow/namespaces/sales/tables/deals_v1": 401,
		"/v1/meshflow/namespaces/marketing/tables/campaigns_v1": 404,
	} {
		if resp := f.do(t, "HEAD", path, "", nil, nil); resp.StatusCode != want {
			t.Errorf("HEAD %s = %d, want %d", path, resp.StatusCode, want)
		}
	}
	if got := f.loads(t, "sales.deals_v1"); fmt.Sprint(got) != "[(anonymous) false web-analyst false (anonymous) false]" {
		t.Errorf("audited loads of sales.deals_v1 = %v, want the three refused GETs (a HEAD reads nothing)", got)
	}
}

// The config names the prefix and only the endpoints served; the routes answer with
// and without the prefix (a client that never asks /v1/config uses none); the
// namespace carries its domain's owner; listings page as the spec says.
func TestIcebergConfigNamespacesAndPaging(t *testing.T) {
	f := newFixture(t, nil)
	var cfg catalogConfig
	if resp := f.do(t, "GET", "/v1/config?warehouse=meshflow", "", nil, &cfg); resp.StatusCode != 200 || cfg.Overrides["prefix"] != Warehouse ||
		cfg.Defaults == nil || slices.ContainsFunc(cfg.Endpoints, func(e string) bool { return !strings.HasPrefix(e, "GET ") && !strings.HasPrefix(e, "HEAD ") }) {
		t.Fatalf("config = %d %+v", resp.StatusCode, cfg)
	}
	var ns namespaceResponse
	for _, path := range []string{"/v1/meshflow/namespaces/sales", "/v1/namespaces/sales"} {
		if resp := f.do(t, "GET", path, "", nil, &ns); resp.StatusCode != 200 || ns.Properties["owner"] != "sales-ops" || ns.Properties["contact"] != "#sales-data" {
			t.Fatalf("GET %s = %d %+v", path, resp.StatusCode, ns)
		}
	}
	var nss listNamespacesResponse
	if f.do(t, "GET", "/v1/meshflow/namespaces", "", nil, &nss); fmt.Sprint(nss.Namespaces) != "[[marketing] [sales]]" || nss.NextPageToken != nil {
		t.Fatalf("namespaces = %+v", nss)
	}
	if f.do(t, "GET", "/v1/meshflow/namespaces?parent=sales", "", nil, &nss); len(nss.Namespaces) != 0 {
		t.Fatalf("namespaces under sales = %+v", nss)
	}

	// Without pageToken, everything at once; with one, pages of pageSize.
	list := func(query, token string) (names []string, next *string) {
		t.Helper()
		var out listTablesResponse
		if resp := f.do(t, "GET", "/v1/meshflow/namespaces/sales/tables"+query, token, nil, &out); resp.StatusCode != 200 {
			t.Fatalf("list tables%s = %d", query, resp.StatusCode)
		}
		for _, id := range out.Identifiers {
			names = append(names, id.Name)
		}
		return names, out.NextPageToken
	}
	if names, next := list("?pageSize=2", salesToken); fmt.Sprint(names) != "[accounts_v1 accounts_v2 deals_v1 leads_v1]" || next != nil {
		t.Fatalf("unpaged = %v, %v", names, next)
	}
	var all []string
	token := ""
	for range 4 {
		names, next := list("?pageSize=2&pageToken="+url.QueryEscape(token), salesToken)
		all = append(all, names...)
		if next == nil {
			break
		}
		token = *next
	}
	if fmt.Sprint(all) != "[accounts_v1 accounts_v2 deals_v1 leads_v1]" {
		t.Fatalf("paged = %v", all)
	}
}

func TestS3StorageNamesTheEndpointNeverAKey(t *testing.T) {
	got := S3Storage("s3://lake/warehouse", "http://127.0.0.1:7070", "eu-west-1")
	want := map[string]string{"s3.endpoint": "http://127.0.0.1:7070", "s3.path-style-access": "true", "client.region": "eu-west-1", "s3.region": "eu-west-1"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("S3Storage = %v, want %v", got, want)
	}
	if got := S3Storage("s3://lake/warehouse", "", "eu-west-1"); got["s3.endpoint"] != "" || got["s3.path-style-access"] != "" {
		t.Errorf("S3Storage on AWS = %v, want the region alone (virtual hosts)", got)
	}
	if got := S3Storage("file:///lake/warehouse", "http://127.0.0.1:7070", "eu-west-1"); got != nil {
		t.Errorf("S3Storage of a local warehouse = %v, want nil", got)
	}

	// Whatever Storage holds is each loaded table's config.
	f := newFixture(t, &Options{Storage: want})
	var res struct {
		MetadataLocation string            `json:"metadata-location"`
		Metadata         map[string]any    `json:"metadata"`
		Config           map[string]string `json:"config"`
	}
	if resp := f.do(t, "GET", "/v1/meshflow/namespaces/sales/tables/leads_v1", "", nil, &res); resp.StatusCode != 200 || fmt.Sprint(res.Config) != fmt.Sprint(want) ||
		!strings.HasSuffix(res.MetadataLocation, ".metadata.json") || res.Metadata["format-version"] == nil || res.Metadata["current-snapshot-id"] == nil {
		t.Fatalf("load = %d %+v", resp.StatusCode, res)
	}
}

func TestIcebergOAuthTokenEndpoint(t *testing.T) {
	f := newFixture(t, nil)
	token := func(form url.Values) (int, map[string]any) {
		var out map[string]any
		resp := f.do(t, "POST", "/v1/oauth/tokens", "", strings.NewReader(form.Encode()), &out)
		if resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("token answer without Cache-Control: no-store")
		}
		return resp.StatusCode, out
	}
	if st, out := token(url.Values{"grant_type": {"client_credentials"}, "client_id": {"sales-analyst"}, "client_secret": {salesToken}, "scope": {"catalog"}}); st != 200 ||
		out["access_token"] != salesToken || out["token_type"] != "bearer" || out["expires_in"] != nil {
		t.Errorf("client credentials = %d %v", st, out)
	}
	if st, out := token(url.Values{"grant_type": {"client_credentials"}, "client_secret": {salesToken}}); st != 200 || out["access_token"] != salesToken {
		t.Errorf("without a client id = %d %v", st, out)
	}
	for _, tc := range []struct {
		form   url.Values
		status int
		code   string
	}{
		{url.Values{"grant_type": {"client_credentials"}, "client_id": {"web-analyst"}, "client_secret": {salesToken}}, 401, "invalid_client"},
		{url.Values{"grant_type": {"client_credentials"}, "client_secret": {"mf_revoked"}}, 401, "invalid_client"},
		{url.Values{"grant_type": {"client_credentials"}}, 400, "invalid_request"},
		{url.Values{"grant_type": {"password"}, "client_secret": {salesToken}}, 400, "unsupported_grant_type"},
	} {
		if st, out := token(tc.form); st != tc.status || out["error"] != tc.code || out["error_description"] == "" {
			t.Errorf("%v = %d %v, want %d %s", tc.form, st, out, tc.status, tc.code)
		}
	}
}
