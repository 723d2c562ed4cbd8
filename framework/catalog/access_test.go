package catalog

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
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/meshflow/meshflow/framework/access"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
	"github.com/meshflow/meshflow/framework/quality"
)

// Strings that exist only in the restricted product's data, run records and checks:
// a response to a caller without access must contain none of them.
var secrets = []string{"Zephyr-Deal-7731", "Quasar-Deal-9904", "cast failed on Zephyr", "the deal-name doc", "2031-07-19"}

// watermark is the restricted product's data time: the newest value of a column.
const watermark = "2031-07-19T13:37:00Z"

const (
	salesToken = "mf_test-sales-token"
	mktToken   = "mf_test-marketing-token"
)

func restrictedMesh() mesh.Mesh {
	base := mesh.Product{Version: "1.0.0", Inputs: []mesh.Input{mesh.Raw("crm", "deals")}, Model: "SELECT 1", Cadence: "@daily",
		Freshness: mesh.Freshness{WarnAfter: 26 * time.Hour, FailAfter: 50 * time.Hour}}
	deals := base
	deals.Name, deals.Description = "deals", "Every open deal. Amounts are confidential."
	deals.Schema = []mesh.Column{{Name: "deal_id", Type: mesh.String, Doc: "id"}, {Name: "deal_name", Type: mesh.String, Doc: "the deal-name doc"}, {Name: "amount", Type: mesh.Float64, Doc: "amount"}}
	deals.PrimaryKey, deals.Classification, deals.AllowedGroups = []string{"deal_id"}, mesh.Restricted, []string{"sales", "finance"}
	deals.Checks = []mesh.Check{mesh.SQL("amount_not_negative", "SELECT * FROM model WHERE amount < 0")}
	leads := base
	leads.Name, leads.Description = "leads", "Every lead."
	leads.Schema = []mesh.Column{{Name: "lead_id", Type: mesh.String, Doc: "the lead id"}}
	leads.PrimaryKey, leads.Classification = []string{"lead_id"}, mesh.Internal
	return mesh.Mesh{Domains: []mesh.Domain{{Name: "sales", Owner: "sales-ops", Contact: "#sales-data", Products: []mesh.Product{deals, leads}}}}
}

type accessFixture struct {
	srv  *httptest.Server
	cat  *Catalog
	lake *lake.Lake
	log  *access.Log
}

func newAccessFixture(t *testing.T) *accessFixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	l, ports := testStoresIn(t, dir)

	sc := arrow.NewSchema([]arrow.Field{{Name: "deal_id", Type: arrow.BinaryTypes.String}, {Name: "deal_name", Type: arrow.BinaryTypes.String}, {Name: "amount", Type: arrow.PrimitiveTypes.Float64}}, nil)
	rec, _, err := array.RecordFromJSON(memory.DefaultAllocator, sc, strings.NewReader(`[{"deal_id": "d1", "deal_name": "Zephyr-Deal-7731", "amount": 120000.5}, {"deal_id": "d2", "deal_name": "Quasar-Deal-9904", "amount": 99}]`))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	rdr, _ := array.NewRecordReader(sc, []arrow.RecordBatch{rec})
	defer rdr.Release()
	now := time.Now().UTC()
	if _, err := ports.Publish(ctx, port.PortTable("sales", "deals", 1), rdr, port.PublishRequest{Mode: port.Replace{},
		SnapshotProperties: map[string]string{flow.PropPublishedAt: now.Format(time.RFC3339), flow.PropVersion: "1.0.0", flow.PropWatermark: watermark}}); err != nil {
		t.Fatal(err)
	}
	// The newest run failed with an error that quotes a value.
	run := flow.RunRecord{Domain: "sales", Product: "deals", WorkflowID: "sales.deals/current", RunID: "r2", Status: "failed",
		Error: "transform: cast failed on Zephyr", StartedAt: now, FinishedAt: now,
		Checks: []quality.Result{{Name: "amount_not_negative", Status: mesh.StatusWarn, Message: "cast failed on Zephyr"}}}
	if err := l.PutJSON(ctx, fmt.Sprintf("runs/sales/deals/%d-r2.json", now.UnixMilli()), run); err != nil {
		t.Fatal(err)
	}

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
	log := access.NewLog(l)
	cat := &Catalog{Mesh: restrictedMesh(), Ports: ports, Lake: l, Access: pol, Audit: log}
	srv := httptest.NewServer(cat.Handler())
	t.Cleanup(srv.Close)
	return &accessFixture{srv: srv, cat: cat, lake: l, log: log}
}

// do sends a request with an optional bearer token and cookie and never follows redirects.
func (f *accessFixture) do(t *testing.T, method, path, token string, form url.Values, header http.Header) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, f.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func noSecrets(t *testing.T, what, body string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(body, s) {
			t.Errorf("%s shows %q to a caller without access", what, s)
		}
	}
}

func TestRestrictedProductRefusedWithoutTheRightToken(t *testing.T) {
	f := newAccessFixture(t)
	for _, tc := range []struct {
		who, token string
		status     int
		want       []string
	}{
		{"anonymous", "", 401, []string{"sales.deals is restricted to the groups sales, finance", "Authorization: Bearer", "ask sales-ops (#sales-data)"}},
		{"unknown token", "mf_not-a-token", 401, []string{"token sent is not in the access file"}},
		{"other group", mktToken, 403, []string{"web-analyst may not read sales.deals", "sales, finance", "web-analyst is in the groups marketing", "ask sales-ops (#sales-data)"}},
	} {
		t.Run(tc.who, func(t *testing.T) {
			resp, page := f.do(t, "GET", "/products/sales.deals", tc.token, nil, nil)
			if resp.StatusCode != tc.status || (tc.status == 401) != (resp.Header.Get("WWW-Authenticate") != "") {
				t.Fatalf("page status %d, want %d; WWW-Authenticate %q", resp.StatusCode, tc.status, resp.Header.Get("WWW-Authenticate"))
			}
			// The page still says what the product is, who owns it and who may read it.
			for _, want := range append(tc.want, "Every open deal. Amounts are confidential.", "sales-ops", "#sales-data", "classification restricted",
				"restricted to the groups <b>sales, finance</b>", `href="/login?next=/products/sales.deals"`) {
				if !strings.Contains(page, want) {
					t.Errorf("page lacks %q", want)
				}
			}
			noSecrets(t, "the page", page)
			// Nor column names in its example query, nor its data time.
			for _, absent := range []string{"<h2>Schema</h2>", "Sample rows", "amount_not_negative", "Primary key", "deal_id", "deal_name", "data up to"} {
				if strings.Contains(page, absent) {
					t.Errorf("page shows %q", absent)
				}
			}
			if !strings.Contains(page, `mesh query &#34;SELECT * FROM sales.deals_v1 LIMIT 10&#34;`) {
				t.Errorf("page lacks the example query over the table")
			}

			resp, body := f.do(t, "GET", "/api/products/sales.deals", tc.token, nil, nil)
			var got map[string]string
			if err := json.Unmarshal([]byte(body), &got); err != nil || resp.StatusCode != tc.status || len(got) != 1 {
				t.Fatalf("api %d (want %d): %v %s", resp.StatusCode, tc.status, err, body)
			}
			for _, want := range tc.want {
				if !strings.Contains(got["error"], want) {
					t.Errorf("api error lacks %q: %s", want, got["error"])
				}
			}
			if auth := resp.Header.Get("WWW-Authenticate"); (tc.status == 401) != strings.HasPrefix(auth, "Bearer") {
				t.Errorf("WWW-Authenticate = %q on %d", auth, resp.StatusCode)
			}
			noSecrets(t, "the API", body)
		})
	}
}

func TestRestrictedProductShownToItsGroupAndAudited(t *testing.T) {
	f := newAccessFixture(t)
	resp, page := f.do(t, "GET", "/products/sales.deals", salesToken, nil, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("page %d:\n%s", resp.StatusCode, page)
	}
	for _, want := range []string{"Zephyr-Deal-7731", "Quasar-Deal-9904", "the deal-name doc", "amount_not_negative", "transform: cast failed on Zephyr",
		"data up to 2031-07-19 13:37 UTC", "SELECT deal_id, deal_name, amount FROM sales.deals_v1"} {
		if !strings.Contains(page, want) {
			t.Errorf("page for sales-analyst lacks %q", want)
		}
	}
	resp, body := f.do(t, "GET", "/api/products/sales.deals", salesToken, nil, nil)
	var det Detail
	if err := json.Unmarshal([]byte(body), &det); err != nil || resp.StatusCode != 200 {
		t.Fatalf("api %d: %v %s", resp.StatusCode, err, body)
	}
	if len(det.Sample.Rows) != 2 || len(det.Schema) != 3 || det.Withheld != "" || det.LastRun == nil || det.LastRun.Error != "transform: cast failed on Zephyr" {
		t.Errorf("detail for sales-analyst: sample %v, schema %d, withheld %q, last run %+v", det.Sample.Rows, len(det.Schema), det.Withheld, det.LastRun)
	}

	// Internal products are read by anyone and not audited.
	if resp, page := f.do(t, "GET", "/products/sales.leads", "", nil, nil); resp.StatusCode != 200 || !strings.Contains(page, "the lead id") {
		t.Fatalf("internal product page %d", resp.StatusCode)
	}
	f.do(t, "GET", "/api/products/sales.deals", "", nil, nil)
	f.do(t, "GET", "/products/sales.deals", mktToken, nil, nil)

	events, err := f.log.Events(context.Background(), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range events {
		got = append(got, fmt.Sprintf("%s %s %s %s %v %s", e.Principal, e.Path, e.What, e.Port, e.Allowed, e.Reason))
		if e.Time.IsZero() || e.Time.Location() != time.UTC || time.Since(e.Time) > time.Minute {
			t.Errorf("event time %v", e.Time)
		}
	}
	want := []string{
		"sales-analyst page sample sales.deals_v1 true in group sales",
		"sales-analyst api sample sales.deals_v1 true in group sales",
		"(anonymous) api sample sales.deals_v1 false no token",
		"web-analyst page sample sales.deals_v1 false not in an allowed group",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("audit log:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	keys, _ := f.lake.List(context.Background(), "audit/"+time.Now().UTC().Format("2006-01-02")+"/")
	if len(keys) != 4 {
		t.Errorf("audit objects for today: %v", keys)
	}
}

// Listings show a restricted product's failure reason and data time only to callers
// who may read it, auditing that; nobody sees its rows there, and callers without
// access are not recorded as refused for looking at a list.
func TestListingsShowRestrictedReasonsOnlyToReaders(t *testing.T) {
	f := newAccessFixture(t)
	_, home := f.do(t, "GET", "/", "", nil, nil)
	if !strings.Contains(home, `href="/products/sales.deals">deals</a> <span class="tag">restricted</span>`) || !strings.Contains(home, "Every open deal.") {
		t.Errorf("home page does not list the restricted product:\n%s", home)
	}
	noSecrets(t, "the home page", home)
	_, dom := f.do(t, "GET", "/domains/sales", "", nil, nil)
	noSecrets(t, "the domain page", dom)
	listed := func(token string) (Status, string) {
		t.Helper()
		resp, body := f.do(t, "GET", "/api/products", token, nil, nil)
		var list []Status
		if err := json.Unmarshal([]byte(body), &list); err != nil || resp.StatusCode != 200 || len(list) != 2 || list[0].Name != "deals" {
			t.Fatalf("api list %d: %v %s", resp.StatusCode, err, body)
		}
		return list[0], body
	}
	deals, body := listed(mktToken) // a principal outside the product's groups
	noSecrets(t, "the API list for another group", body)
	if deals.Rows != 2 || deals.LastRun == nil || deals.LastRun.Error != withheldError || deals.Freshness.DataTime != nil {
		t.Errorf("deals listed for another group = %+v", deals)
	}
	if events, _ := f.log.Events(context.Background(), time.Time{}); len(events) != 0 {
		t.Errorf("listings without access wrote audit records: %+v", events)
	}

	// The product's reader sees why its last run failed, on the pages and in the API.
	deals, body = listed(salesToken)
	if deals.LastRun.Error != "transform: cast failed on Zephyr" || len(deals.LastRun.FailedChecks) != 1 || deals.Freshness.DataTime == nil ||
		!strings.Contains(deals.Problem, "cast failed on Zephyr") {
		t.Errorf("deals listed for its reader = %+v %+v", deals, deals.LastRun)
	}
	_, home = f.do(t, "GET", "/", salesToken, nil, nil)
	_, dom = f.do(t, "GET", "/domains/sales", salesToken, nil, nil)
	for what, text := range map[string]string{"API list": body, "home page": home, "domain page": dom} {
		if !strings.Contains(text, "transform: cast failed on Zephyr") || strings.Contains(text, "Zephyr-Deal-7731") {
			t.Errorf("the %s for the reader shows no reason, or rows:\n%s", what, text)
		}
	}
	events, _ := f.log.Events(context.Background(), time.Time{})
	if len(events) != 3 {
		t.Fatalf("audit after three listings by the reader: %+v", events)
	}
	for _, e := range events {
		if !e.Allowed || e.Principal != "sales-analyst" || e.What != access.Listing || e.Product != "sales.deals" {
			t.Errorf("audit record of a listing: %+v", e)
		}
	}
}

func TestSignInWithTheFormSetsAStrictCookie(t *testing.T) {
	f := newAccessFixture(t)
	resp, page := f.do(t, "GET", "/login?next=/products/sales.deals", "", nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(page, `name="token"`) || !strings.Contains(page, `value="/products/sales.deals"`) || strings.Contains(page, "<script") {
		t.Fatalf("login form %d:\n%s", resp.StatusCode, page)
	}
	resp, page = f.do(t, "POST", "/login", "", url.Values{"token": {"mf_wrong"}, "next": {"/products/sales.deals"}}, nil)
	if resp.StatusCode != 401 || !strings.Contains(page, "not in the access file") || resp.Header.Get("Set-Cookie") != "" {
		t.Fatalf("wrong token: %d %v", resp.StatusCode, resp.Header)
	}
	resp, _ = f.do(t, "POST", "/login", "", url.Values{"token": {salesToken}, "next": {"/products/sales.deals"}}, nil)
	cookies := resp.Cookies()
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/products/sales.deals" || len(cookies) != 1 {
		t.Fatalf("sign in: %d %v", resp.StatusCode, resp.Header)
	}
	ck := cookies[0]
	// The cookie holds a session id, never the token; over plain HTTP it is not Secure.
	if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || ck.MaxAge <= 0 || ck.Secure ||
		strings.Contains(ck.Value, salesToken) || strings.Contains(ck.Value, access.Digest(salesToken)) {
		t.Errorf("cookie = %+v", ck)
	}
	withCookie := http.Header{"Cookie": {ck.Name + "=" + ck.Value}}
	if resp, page := f.do(t, "GET", "/products/sales.deals", "", nil, withCookie); resp.StatusCode != 200 || !strings.Contains(page, "Zephyr-Deal-7731") {
		t.Errorf("page with the sign-in cookie: %d", resp.StatusCode)
	}
	if _, page := f.do(t, "GET", "/login", "", nil, withCookie); !strings.Contains(page, "Signed in as <b>sales-analyst</b>") {
		t.Errorf("login page does not say who is signed in")
	}
	// The token itself in the cookie signs nobody in.
	if resp, _ := f.do(t, "GET", "/api/products/sales.deals", "", nil, http.Header{"Cookie": {ck.Name + "=" + salesToken}}); resp.StatusCode != 401 {
		t.Errorf("the token as a cookie: %d", resp.StatusCode)
	}
	resp, _ = f.do(t, "POST", "/logout", "", url.Values{}, withCookie)
	if resp.StatusCode != 303 || len(resp.Cookies()) != 1 || resp.Cookies()[0].MaxAge >= 0 {
		t.Errorf("sign out: %d %v", resp.StatusCode, resp.Cookies())
	}
	// A copy of the cookie taken before the sign-out no longer works.
	if resp, page := f.do(t, "GET", "/products/sales.deals", "", nil, withCookie); resp.StatusCode != 401 || strings.Contains(page, "Zephyr-Deal-7731") {
		t.Errorf("page with the cookie after sign-out: %d", resp.StatusCode)
	}

	// The form never redirects off the site, and other sites cannot post to it.
	resp, _ = f.do(t, "POST", "/login", "", url.Values{"token": {salesToken}, "next": {"//evil.example/x"}}, nil)
	if resp.Header.Get("Location") != "/" {
		t.Errorf("next=//evil.example redirected to %q", resp.Header.Get("Location"))
	}
	resp, _ = f.do(t, "POST", "/login", "", url.Values{"token": {salesToken}}, http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://evil.example"}})
	if resp.StatusCode != 403 || len(resp.Cookies()) != 0 {
		t.Errorf("cross-site sign-in: %d %v", resp.StatusCode, resp.Cookies())
	}
}

func TestWithoutAnAccessFileNobodyReadsRestricted(t *testing.T) {
	f := newAccessFixture(t)
	f.cat.Access = nil
	resp, body := f.do(t, "GET", "/api/products/sales.deals", salesToken, nil, nil)
	if resp.StatusCode != 403 || !strings.Contains(body, "no access file is configured") || !strings.Contains(body, "MESHFLOW_ACCESS_FILE") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	noSecrets(t, "the API", body)
	// Without an audit log even the right group is refused: no read goes unrecorded.
	f.cat.Access, _ = access.Load(filepath.Join(t.TempDir(), "none.yaml"))
	f.cat.Audit = nil
	resp, body = f.do(t, "GET", "/products/sales.deals", "", nil, nil)
	if resp.StatusCode != 403 || !strings.Contains(body, "there is no access file at") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
}

// signIn signs in through the form and returns the session cookie.
func (f *accessFixture) signIn(t *testing.T, token string) *http.Cookie {
	t.Helper()
	resp, _ := f.do(t, "POST", "/login", "", url.Values{"token": {token}}, nil)
	if resp.StatusCode != 303 || len(resp.Cookies()) != 1 {
		t.Fatalf("sign in: %d %v", resp.StatusCode, resp.Header)
	}
	return resp.Cookies()[0]
}

// Behind a TLS proxy the catalog sees plain HTTP; its https public URL makes the
// cookie Secure, on sign-in and sign-out alike.
func TestSessionCookieIsSecureWithAnHTTPSPublicURL(t *testing.T) {
	f := newAccessFixture(t)
	f.cat.PublicURL = "https://catalog.example.com"
	ck := f.signIn(t, salesToken)
	if !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode {
		t.Fatalf("cookie = %+v", ck)
	}
	resp, _ := f.do(t, "POST", "/logout", "", url.Values{}, http.Header{"Cookie": {ck.Name + "=" + ck.Value}})
	if out := resp.Cookies(); len(out) != 1 || !out[0].Secure || out[0].MaxAge >= 0 {
		t.Fatalf("sign-out cookie = %v", out)
	}
}

// A token revoked in the access file stops working in the running catalog once it
// reloads the file, and the sessions signed in with it end.
func TestRevokedTokenIsRefusedAfterReload(t *testing.T) {
	f := newAccessFixture(t)
	ck := f.signIn(t, salesToken)
	withCookie := http.Header{"Cookie": {ck.Name + "=" + ck.Value}}
	if resp, _ := f.do(t, "GET", "/api/products/sales.deals", "", nil, withCookie); resp.StatusCode != 200 {
		t.Fatalf("signed in: %d", resp.StatusCode)
	}
	if err := access.Revoke(f.cat.Access.File(), "sales-analyst"); err != nil {
		t.Fatal(err)
	}
	if changed, err := f.cat.Access.Reload(); !changed || err != nil {
		t.Fatalf("reload: %v %v", changed, err)
	}
	if resp, body := f.do(t, "GET", "/api/products/sales.deals", salesToken, nil, nil); resp.StatusCode != 401 || !strings.Contains(body, "not in the access file") {
		t.Errorf("revoked bearer token: %d %s", resp.StatusCode, body)
	}
	resp, _ := f.do(t, "GET", "/api/products/sales.deals", "", nil, withCookie)
	if resp.StatusCode != 401 || len(resp.Cookies()) != 1 || resp.Cookies()[0].MaxAge >= 0 {
		t.Errorf("session of the revoked token: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	if keys, _ := f.lake.List(context.Background(), access.SessionPrefix); len(keys) != 0 {
		t.Errorf("the ended session is still stored: %v", keys)
	}
	// Other principals are unaffected.
	if resp, _ := f.do(t, "GET", "/api/products/sales.leads", mktToken, nil, nil); resp.StatusCode != 200 {
		t.Errorf("another principal: %d", resp.StatusCode)
	}
}

// While the access file is briefly gone (config management rewriting it), a signed-in
// browser is refused but keeps its session and cookie; restored, it reads again.
func TestSessionOutlivesTheAccessFileBrieflyGone(t *testing.T) {
	f := newAccessFixture(t)
	ck := f.signIn(t, salesToken)
	withCookie := http.Header{"Cookie": {ck.Name + "=" + ck.Value}}
	file := f.cat.Access.File()
	text, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	if changed, err := f.cat.Access.Reload(); !changed || err != nil {
		t.Fatalf("reload: %v %v", changed, err)
	}
	resp, body := f.do(t, "GET", "/api/products/sales.deals", "", nil, withCookie)
	if resp.StatusCode != 403 || !strings.Contains(body, "there is no access file at") || len(resp.Cookies()) != 0 {
		t.Errorf("without the file: %d, cookies %v: %s", resp.StatusCode, resp.Cookies(), body)
	}
	if n, err := f.cat.SweepSessions(context.Background()); n != 0 || err != nil {
		t.Errorf("the sweep after the reload ended %d session(s): %v", n, err)
	}
	if err := os.WriteFile(file, text, 0o600); err != nil {
		t.Fatal(err)
	}
	if changed, err := f.cat.Access.Reload(); !changed || err != nil {
		t.Fatalf("reload: %v %v", changed, err)
	}
	if resp, _ := f.do(t, "GET", "/api/products/sales.deals", "", nil, withCookie); resp.StatusCode != 200 {
		t.Errorf("the session after the file was restored: %d", resp.StatusCode)
	}
}

// Behind mesh serve the audit log is throttled: a flood of refused reads writes a few
// records whose counts add up, and an allowed read right after is audited and served.
func TestRefusedReadsAreFoldedAllowedOnesAudited(t *testing.T) {
	f := newAccessFixture(t)
	th := access.NewThrottle(f.log)
	f.cat.Audit = th
	const n = 300
	for range n {
		if resp, _ := f.do(t, "GET", "/api/products/sales.deals", "", nil, nil); resp.StatusCode != 401 {
			t.Fatalf("anonymous read: %d", resp.StatusCode)
		}
	}
	if resp, page := f.do(t, "GET", "/products/sales.deals", salesToken, nil, nil); resp.StatusCode != 200 || !strings.Contains(page, "Zephyr-Deal-7731") {
		t.Fatalf("allowed read after the flood: %d", resp.StatusCode)
	}
	ctx := context.Background()
	events, _ := f.log.Events(ctx, time.Time{})
	if last := events[len(events)-1]; !last.Allowed || last.Principal != "sales-analyst" {
		t.Fatalf("the allowed read is not in the log: %+v", last)
	}
	if err := th.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	events, _ = f.log.Events(ctx, time.Time{})
	var refused int64
	for _, e := range events {
		if !e.Allowed {
			refused += e.Reads()
		}
	}
	// One immediate and one folded record per minute the flood touched (at most two).
	if len(events) > 5 || refused != n {
		t.Fatalf("%d audit records counting %d refused reads, want at most 5 counting %d", len(events), refused, n)
	}
}
