package sandbox

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/meshflow/meshflow/connectors"
	"github.com/meshflow/meshflow/dev/sandbox/crunchbase"
	sbhubspot "github.com/meshflow/meshflow/dev/sandbox/hubspot"
	"github.com/meshflow/meshflow/dev/sandbox/internal/fake"
	"github.com/meshflow/meshflow/dev/sandbox/pendo"
)

func smallPendo() pendo.Options {
	return pendo.Options{Accounts: 20, Visitors: 100, Days: 10, RateLimit: -1}
}

func smallCrunchbase() crunchbase.Options {
	return crunchbase.Options{Organizations: 30, RateLimit: -1}
}

func send(t *testing.T, method, url, header, key, body string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if header != "" {
		req.Header.Set(header, key)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestPendoAndCrunchbaseMounted(t *testing.T) {
	srv, ts := start(t, &Options{Connectors: connectors.All(), Settings: []any{small(), smallPendo(), smallCrunchbase()}})
	resp, body := send(t, "GET", pendo.URL(ts.URL)+"/api/v1/page", "x-pendo-integration-key", pendo.DefaultKey, "")
	if resp.StatusCode != 200 || !strings.HasPrefix(body, "[") {
		t.Fatalf("pendo pages: %d %.200s", resp.StatusCode, body)
	}
	resp, body = send(t, "POST", crunchbase.URL(ts.URL)+"/searches/organizations", "X-cb-user-key", crunchbase.DefaultKey, `{"field_ids":["identifier"],"query":[],"limit":2}`)
	if resp.StatusCode != 200 || !strings.Contains(body, `"count":30`) {
		t.Fatalf("crunchbase search: %d %.200s", resp.StatusCode, body)
	}
	_, body = send(t, "GET", ts.URL+"/_sandbox/health", "", "", "")
	if !strings.Contains(body, `"pendo":"/pendo"`) || !strings.Contains(body, `"crunchbase":"/crunchbase"`) {
		t.Errorf("health: %s", body)
	}
	for _, path := range []string{"/_sandbox/pendo/touch-accounts?n=2", "/_sandbox/crunchbase/touch?n=2"} {
		if resp, body := send(t, "POST", ts.URL+path, "", "", ""); resp.StatusCode != 200 || strings.Count(body, `"`) < 6 {
			t.Errorf("%s: %d %s", path, resp.StatusCode, body)
		}
	}
	if Get[*pendo.API](srv).Requests() != 1 || Get[*crunchbase.API](srv).Requests() != 1 || Get[*sbhubspot.API](srv).Requests() != 0 {
		t.Errorf("requests: pendo %d, crunchbase %d, hubspot %d; want 1, 1, 0", Get[*pendo.API](srv).Requests(), Get[*crunchbase.API](srv).Requests(), Get[*sbhubspot.API](srv).Requests())
	}
}

// Injected rate limits answer as the vendors do: Pendo's plain 429 and
// Crunchbase's bare one, neither with Retry-After whatever the fault options say.
func TestPendoAndCrunchbaseFaults(t *testing.T) {
	_, ts := start(t, &Options{Connectors: connectors.All(), Faults: Faults{RateLimited: 1, RetryAfter: 3e9}, Settings: []any{small(), smallPendo(), smallCrunchbase()}})
	resp, body := send(t, "GET", pendo.URL(ts.URL)+"/api/v1/feature", "x-pendo-integration-key", pendo.DefaultKey, "")
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "" || !strings.Contains(body, "Too Many Requests") {
		t.Errorf("pendo fault: %d %v %q", resp.StatusCode, resp.Header, body)
	}
	resp, body = send(t, "POST", crunchbase.URL(ts.URL)+"/searches/organizations", "X-cb-user-key", crunchbase.DefaultKey, `{"field_ids":["identifier"]}`)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "" || resp.Header.Get("Content-Type") != "" || body != "" {
		t.Errorf("crunchbase fault: %d %v %q", resp.StatusCode, resp.Header, body)
	}
}

// The default sandbox's companies line up across vendors: every derived Pendo
// account and Crunchbase organization names a HubSpot company's canonical domain
// and spells it as its variant says; strangers match no HubSpot company.
func TestCompaniesLineUpAcrossVendors(t *testing.T) {
	srv := New(&Options{Connectors: connectors.All(), Seed: 1})
	hubspot := map[string]bool{}
	for _, c := range Get[*sbhubspot.API](srv).CompanyDomains() {
		hubspot[c.Domain] = true
	}
	// exact is how each vendor writes a domain unchanged: Pendo bare, Crunchbase as https://.
	count := func(vendor, exact string, ms []fake.Match) map[string]bool {
		variants := map[string]int{}
		companies := map[string]bool{}
		for _, m := range ms {
			variants[m.Variant]++
			canon := fake.CanonicalDomain(m.Domain)
			switch {
			case m.Company != "":
				companies[m.Company] = true
				if !hubspot[m.Company] || canon != m.Company {
					t.Errorf("%s %s: %q derives from %q, which is not a HubSpot domain or not its canonical form", vendor, m.ID, m.Domain, m.Company)
				}
				if (m.Variant == fake.VariantExact) != (m.Domain == exact+m.Company) {
					t.Errorf("%s %s: variant %s for %q", vendor, m.ID, m.Variant, m.Domain)
				}
			case hubspot[canon]:
				t.Errorf("%s stranger %s: %q is a HubSpot domain", vendor, m.ID, m.Domain)
			}
		}
		t.Logf("%s: %d records: %v", vendor, len(ms), variants)
		return companies
	}
	p := count("pendo", "", Get[*pendo.API](srv).Matches())
	c := count("crunchbase", "https://", Get[*crunchbase.API](srv).Matches())
	both := 0
	for d := range p {
		if c[d] {
			both++
		}
	}
	t.Logf("hubspot: %d companies with a domain; in pendo %d, crunchbase %d, both %d", len(hubspot), len(p), len(c), both)
	if len(p) != 150 || len(c) != 240 || both == 0 {
		t.Errorf("derived companies: pendo %d, crunchbase %d, both %d; want 150, 240 and some", len(p), len(c), both)
	}
}
