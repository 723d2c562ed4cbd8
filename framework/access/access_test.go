package access

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "gocloud.dev/blob/memblob"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/mesh"
)

const (
	salesToken = "mf_sales-token-for-tests"
	mktToken   = "mf_marketing-token-for-tests"
)

func writeFile(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "access.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func testPolicy(t *testing.T) *Policy {
	t.Helper()
	p, err := Load(writeFile(t, fmt.Sprintf(`# who reads what
principals:
  - name: sales-analyst
    token_sha256: "%s"
    groups: [sales]
  - name: web-analyst
    token_sha256: %s
    groups: [marketing, web]
`, Digest(salesToken), strings.ToUpper(Digest(mktToken)))))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var (
	marketing = mesh.Domain{Name: "marketing", Owner: "marketing-analytics", Contact: "#marketing-data"}
	deals     = mesh.Product{Name: "crm_deals", Version: "1.0.0", Classification: mesh.Restricted, AllowedGroups: []string{"sales", "finance"}}
	contacts  = mesh.Product{Name: "crm_contacts", Version: "2.1.0", Classification: mesh.Internal}
	traffic   = mesh.Product{Name: "web_traffic", Version: "1.0.0", Classification: mesh.Public}
)

func TestDigestIsSHA256Hex(t *testing.T) {
	// sha256("abc"), from FIPS 180-2.
	if got := Digest("abc"); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatalf("Digest(abc) = %s", got)
	}
}

func TestLoadErrorsNameFileLineAndFix(t *testing.T) {
	plaintext := "mf_pasted-the-token-itself"
	for _, tc := range []struct {
		name, text string
		want       []string
	}{
		{"syntax", "principals:\n  - name: a\n   groups: [x\n", []string{"line", "principals:"}},
		{"misspelt key", "principals:\n  - name: a\n    token_sha: abc\n    groups: [x]\n", []string{"line 3", "field token_sha not found"}},
		{"top-level typo", "principal:\n  - name: a\n", []string{"field principal not found"}},
		{"no name", fmt.Sprintf("principals:\n  - token_sha256: %s\n    groups: [x]\n", Digest("t")), []string{"line 2", "has no name"}},
		{"plaintext token", "principals:\n  - name: bob\n    token_sha256: " + plaintext + "\n    groups: [x]\n", []string{"line 2", "principal bob", "never the token itself", "mesh access add-token"}},
		{"missing digest", "principals:\n  - name: bob\n    groups: [x]\n", []string{"principal bob", "token_sha256 is missing"}},
		{"duplicate name", fmt.Sprintf("principals:\n  - {name: bob, token_sha256: %s, groups: [x]}\n  - {name: bob, token_sha256: %s, groups: [y]}\n", Digest("1"), Digest("2")), []string{"line 3", "already used on line 2"}},
		{"shared token", fmt.Sprintf("principals:\n  - {name: ann, token_sha256: %s, groups: [x]}\n  - {name: bob, token_sha256: %s, groups: [y]}\n", Digest("1"), Digest("1")), []string{"principal bob", "same token digest is on line 2"}},
		{"no groups", fmt.Sprintf("principals:\n  - name: bob\n    token_sha256: %s\n", Digest("1")), []string{"principal bob", "no groups", "groups: [sales]"}},
		{"bad group", fmt.Sprintf("principals:\n  - {name: bob, token_sha256: %s, groups: [\"sales team\"]}\n", Digest("1")), []string{"principal bob", `group "sales team"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, tc.text)
			_, err := Load(path)
			if err == nil {
				t.Fatal("loaded")
			}
			if !errs.Is(err, errs.Invalid) {
				t.Errorf("kind = %s", errs.KindOf(err))
			}
			for _, want := range append(tc.want, path) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error lacks %q:\n%v", want, err)
				}
			}
			if strings.Contains(err.Error(), plaintext) || strings.Contains(err.Error(), "access.file") {
				t.Errorf("error echoes the value or a Go type:\n%v", err)
			}
		})
	}
}

func TestLoadMissingOrEmpty(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "access.yaml")
	p, err := Load(missing)
	if err != nil || p.Configured() || p.File() != missing {
		t.Fatalf("missing file: %v, configured %v", err, p.Configured())
	}
	p, err = Load(writeFile(t, "# nobody yet\n"))
	if err != nil || !p.Configured() || len(p.Principals()) != 0 {
		t.Fatalf("empty file: %v %v", err, p.Principals())
	}
}

func TestAuthenticate(t *testing.T) {
	p := testPolicy(t)
	if pr, err := p.Authenticate(""); err != nil || !pr.Anonymous() || pr.String() != "(anonymous)" {
		t.Errorf("no token: %+v %v", pr, err)
	}
	if pr, err := p.Authenticate(salesToken + "\n"); err != nil || pr.Name != "sales-analyst" || !pr.InGroup([]string{"sales"}) {
		t.Errorf("sales token: %+v %v", pr, err)
	}
	// The file held this digest in upper case.
	if pr, err := p.Authenticate(mktToken); err != nil || pr.Name != "web-analyst" {
		t.Errorf("marketing token: %+v %v", pr, err)
	}
	pr, err := p.Authenticate("mf_wrong")
	if !IsUnauthenticated(err) || HTTPStatus(err) != http.StatusUnauthorized || !pr.Anonymous() || pr.String() != "(unrecognised token)" {
		t.Fatalf("wrong token: %+v %v", pr, err)
	}
	if !strings.Contains(err.Error(), "not in the access file") || strings.Contains(err.Error(), "mf_wrong") {
		t.Errorf("wrong-token message: %v", err)
	}
	var nilPolicy *Policy
	if _, err := nilPolicy.Authenticate(salesToken); !IsUnauthenticated(err) {
		t.Errorf("nil policy accepted a token: %v", err)
	}
}

func TestDecide(t *testing.T) {
	p := testPolicy(t)
	sales, _ := p.Authenticate(salesToken)
	web, _ := p.Authenticate(mktToken)
	unknown, _ := p.Authenticate("mf_nope")
	var none *Policy
	missing, _ := Load(filepath.Join(t.TempDir(), "access.yaml"))
	for _, tc := range []struct {
		name   string
		policy *Policy
		who    Principal
		prod   mesh.Product
		status int // 0 = allowed
		want   []string
	}{
		{"public, anonymous", none, Principal{}, traffic, 0, nil},
		{"internal, anonymous", p, Principal{}, contacts, 0, nil},
		{"internal, unknown token", p, unknown, contacts, 0, nil},
		{"restricted, in group", p, sales, deals, 0, nil},
		{"restricted, anonymous", p, Principal{}, deals, 401, []string{"marketing.crm_deals", "sales, finance", "Authorization: Bearer", "/login", "MESHFLOW_TOKEN", "marketing-analytics (#marketing-data)"}},
		{"restricted, unknown token", p, unknown, deals, 401, []string{"marketing.crm_deals", "token sent is not in the access file", "marketing-analytics"}},
		{"restricted, other group", p, web, deals, 403, []string{"web-analyst may not read marketing.crm_deals", "sales, finance", "web-analyst is in the groups marketing, web", "ask marketing-analytics (#marketing-data)"}},
		{"restricted, no policy", none, sales, deals, 403, []string{"no access file is configured", "MESHFLOW_ACCESS_FILE", "mesh access add-token"}},
		{"restricted, missing file", missing, Principal{}, deals, 403, []string{"no access file at " + missing.File(), "--groups sales"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.policy.Decide(tc.who, marketing, tc.prod)
			if got := HTTPStatus(err); got != tc.status || (err == nil) != (tc.status == 0) {
				t.Fatalf("status %d, want %d: %v", got, tc.status, err)
			}
			if err == nil {
				return
			}
			if !IsDenied(err) || !errs.Is(err, errs.Permission) || IsUnauthenticated(err) != (tc.status == 401) {
				t.Errorf("classification of %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

// recorder is an Auditor that keeps events in memory, or fails.
type recorder struct {
	events []Event
	fail   error
}

func (r *recorder) Record(_ context.Context, e Event) error {
	if r.fail != nil {
		return r.fail
	}
	r.events = append(r.events, e)
	return nil
}

func TestAuthorizeAuditsRestrictedReadsOnly(t *testing.T) {
	ctx := context.Background()
	p := testPolicy(t)
	sales, _ := p.Authenticate(salesToken)
	rec := &recorder{}
	if err := p.Authorize(ctx, rec, Read{Principal: Principal{}, Domain: marketing, Product: contacts, What: Sample, Path: PathPage}); err != nil {
		t.Fatal(err)
	}
	if len(rec.events) != 0 {
		t.Fatalf("an internal read was audited: %+v", rec.events)
	}
	if err := p.Authorize(ctx, rec, Read{Principal: sales, Domain: marketing, Product: deals, What: Sample, Path: PathAPI}); err != nil {
		t.Fatal(err)
	}
	err := p.Authorize(ctx, rec, Read{Domain: marketing, Product: deals, What: Detail, Path: PathCLI})
	if !IsUnauthenticated(err) {
		t.Fatalf("anonymous read: %v", err)
	}
	want := []Event{
		{Principal: "sales-analyst", Product: "marketing.crm_deals", Port: "marketing.crm_deals_v1", What: Sample, Path: PathAPI, Allowed: true, Reason: "in group sales"},
		{Principal: "(anonymous)", Product: "marketing.crm_deals", Port: "marketing.crm_deals_v1", What: Detail, Path: PathCLI, Allowed: false, Reason: "no token"},
	}
	if fmt.Sprint(rec.events) != fmt.Sprint(want) {
		t.Fatalf("events:\n%+v\nwant\n%+v", rec.events, want)
	}

	// A restricted read that cannot be audited does not happen.
	broken := &recorder{fail: errors.New("bucket unreachable")}
	err = p.Authorize(ctx, broken, Read{Principal: sales, Domain: marketing, Product: deals, What: Sample, Path: PathAPI})
	if err == nil || IsDenied(err) || !strings.Contains(err.Error(), "audit log could not record it") {
		t.Fatalf("unauditable allowed read: %v", err)
	}
	if err := p.Authorize(ctx, broken, Read{Domain: marketing, Product: deals}); !IsUnauthenticated(err) {
		t.Fatalf("unauditable refused read: %v", err)
	}
	if err := p.Authorize(ctx, nil, Read{Principal: sales, Domain: marketing, Product: deals}); err == nil || !strings.Contains(err.Error(), "no audit log") {
		t.Fatalf("no auditor: %v", err)
	}
}

// memStore is a Store in a map.
type memStore map[string]any

func (m memStore) PutJSON(_ context.Context, k string, v any) error { m[k] = v; return nil }
func (m memStore) GetJSON(_ context.Context, k string, v any) error {
	*(v.(*Event)) = m[k].(Event)
	return nil
}
func (m memStore) List(_ context.Context, prefix string) ([]string, error) {
	var out []string
	for k := range m {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	return out, nil // unsorted on purpose: Events must not rely on the store's order
}

func TestAuditLogRoundTrip(t *testing.T) {
	ctx := context.Background()
	l, err := lake.Open(ctx, "mem://")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for name, store := range map[string]Store{"lake": l, "fake": memStore{}} {
		t.Run(name, func(t *testing.T) {
			log := NewLog(store)
			t0 := time.Date(2026, 11, 22, 23, 59, 59, 0, time.UTC)
			times := []time.Time{t0.Add(2 * time.Second), t0, t0.Add(time.Second), t0.Add(24 * time.Hour)}
			for i, ts := range times {
				// Written out of order and in another zone: read back in UTC time order.
				e := Event{Time: ts.In(time.FixedZone("CET", 3600)), Principal: fmt.Sprint("p", i), Product: "marketing.crm_deals", What: Sample, Path: PathAPI, Allowed: i%2 == 0, Reason: "r"}
				if err := log.Record(ctx, e); err != nil {
					t.Fatal(err)
				}
			}
			all, err := log.Events(ctx, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range all {
				got = append(got, e.Principal+"@"+e.Time.Format(time.RFC3339))
				if e.Time.Location() != time.UTC {
					t.Errorf("%s stored in %s", e.Principal, e.Time.Location())
				}
			}
			want := "[p1@2026-11-22T23:59:59Z p2@2026-11-23T00:00:00Z p0@2026-11-23T00:00:01Z p3@2026-11-23T23:59:59Z]"
			if fmt.Sprint(got) != want {
				t.Fatalf("events %v, want %v", got, want)
			}
			since, err := log.Events(ctx, time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC))
			if err != nil || len(since) != 3 || since[0].Principal != "p2" {
				t.Fatalf("since the 23rd: %+v %v", since, err)
			}
		})
	}
	keys, _ := l.List(ctx, AuditPrefix)
	if len(keys) != 4 || !strings.HasPrefix(keys[0], "audit/2026-11-22/235959.000000000Z-") {
		t.Fatalf("keys = %v", keys)
	}
}

func TestAddToken(t *testing.T) {
	path := filepath.Join(t.TempDir(), "conf", "access.yaml")
	tok, err := AddToken(path, "sales-analyst", []string{"sales"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if !strings.HasPrefix(tok, "mf_") || len(tok) != 3+43 || strings.Contains(string(b), tok) || !strings.Contains(string(b), Digest(tok)) {
		t.Fatalf("token %q, file:\n%s", tok, b)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("new access file mode %v", st.Mode().Perm())
	}
	tok2, err := AddToken(path, "finance-bot", []string{"finance", "sales"})
	if err != nil {
		t.Fatal(err)
	}
	if tok2 == tok {
		t.Fatal("two tokens are equal")
	}
	p, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for token, name := range map[string]string{tok: "sales-analyst", tok2: "finance-bot"} {
		if pr, err := p.Authenticate(token); err != nil || pr.Name != name {
			t.Errorf("token of %s: %+v %v", name, pr, err)
		}
	}
	b, _ = os.ReadFile(path)
	if !strings.Contains(string(b), "# Meshflow access file") {
		t.Errorf("the header comment was lost:\n%s", b)
	}
	if _, err := AddToken(path, "finance-bot", []string{"x"}); err == nil || !strings.Contains(err.Error(), "already has a principal named finance-bot") {
		t.Errorf("duplicate name: %v", err)
	}
	for _, bad := range [][]string{nil, {"two words"}} {
		if _, err := AddToken(path, "x", bad); !errs.Is(err, errs.Invalid) {
			t.Errorf("groups %q: %v", bad, err)
		}
	}

	// A hand-written file in flow style keeps its comment and gains a block entry.
	hand := writeFile(t, "# hand-written\nprincipals: []\n")
	if _, err := AddToken(hand, "ops", []string{"ops"}); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(hand)
	if p, err := Load(hand); err != nil || len(p.Principals()) != 1 || !strings.Contains(string(b), "# hand-written") {
		t.Fatalf("hand-written file after add: %v\n%s", err, b)
	}
}

func TestCallerContext(t *testing.T) {
	ctx := context.Background()
	if c := FromContext(ctx); !c.Principal.Anonymous() || c.Path != "" {
		t.Fatalf("empty context: %+v", c)
	}
	c := Caller{Principal: Principal{Name: "a", Groups: []string{"g"}}, Path: PathPage}
	if got := FromContext(NewContext(ctx, c)); got.Principal.Name != "a" || got.Path != PathPage {
		t.Fatalf("got %+v", got)
	}
}
