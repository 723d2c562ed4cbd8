package host_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/meshflow/meshflow/dev/sandbox"
	sbga "github.com/meshflow/meshflow/dev/sandbox/googleanalytics"
	"github.com/meshflow/meshflow/workers/host"
)

// oneSource is a configuration whose only source is name, reading a fresh
// in-process sandbox over real HTTP, and that sandbox (to inject faults into).
func oneSource(t *testing.T, name string) (host.Config, *sandbox.Server, string) {
	t.Helper()
	c, sb, root := sandboxed(t)
	for other, clear := range map[string]func(){
		"hubspot": func() { c.HubSpot.Token = "" }, "jira": func() { c.Jira.Token = "" }, "github": func() { c.GitHub.Token = "" },
		"googleanalytics": func() { c.GA4.CredentialsJSON = "" }, "pendo": func() { c.Pendo.IntegrationKey = "" }, "crunchbase": func() { c.Crunchbase.UserKey = "" },
	} {
		if other != name {
			clear()
		}
	}
	c.TemporalAddress = startFrontend(t, &fakeFrontend{namespace: c.Namespace, attrs: meshAttrs(t)})
	return c, sb, root
}

// wrongCredential makes each source's credential one its sandbox refuses.
var wrongCredential = map[string]func(c *host.Config, root string){
	"hubspot":    func(c *host.Config, _ string) { c.HubSpot.Token = "pat-na1-not-the-sandbox-token" },
	"jira":       func(c *host.Config, _ string) { c.Jira.Token = "not-the-sandbox-token" },
	"github":     func(c *host.Config, _ string) { c.GitHub.Token = "ghp_notthesandboxtoken" },
	"pendo":      func(c *host.Config, _ string) { c.Pendo.IntegrationKey = "not-the-sandbox-key" },
	"crunchbase": func(c *host.Config, _ string) { c.Crunchbase.UserKey = "not-the-sandbox-key" },
	"googleanalytics": func(c *host.Config, root string) {
		c.GA4.CredentialsJSON = string(sbga.ServiceAccountJSON(99, "", sandbox.GA4TokenURL(root))) // another key
	},
}

// sourceCheck runs the doctor on c and returns the check of source name and the
// waits it asked for before retrying.
func sourceCheck(t *testing.T, c host.Config, name string) (host.Check, []time.Duration) {
	t.Helper()
	var waits []time.Duration
	checks := host.Doctor(context.Background(), c, &host.DoctorOptions{Timeout: 20 * time.Second,
		Sleep: func(ctx context.Context, d time.Duration) error { waits = append(waits, d); return ctx.Err() }})
	check := byName(t, checks)[name]
	t.Log(check)
	return check, waits
}

// TestDoctorSourceChecksAgainstTheSandbox runs each source's check against its
// sandbox: credentials accepted, credentials refused, one 429 (retried once, passes)
// and a 429 that persists (rate limited, not a wrong address). Crunchbase's check
// passes only as a valid search: its sandbox refuses one without a query, as
// Crunchbase does.
func TestDoctorSourceChecksAgainstTheSandbox(t *testing.T) {
	for _, name := range host.AllSources {
		t.Run(name, func(t *testing.T) {
			c, sb, root := oneSource(t, name)
			baseURL := map[string]string{"hubspot": "HUBSPOT_BASE_URL", "jira": "JIRA_BASE_URL", "github": "GITHUB_BASE_URL",
				"googleanalytics": "GA4_BASE_URL", "pendo": "PENDO_BASE_URL", "crunchbase": "CRUNCHBASE_BASE_URL"}[name]
			// The limit each sandbox's injected 429 stands for (GA4's first request is
			// for a token; Jira answers some with a 503 and Retry-After).
			limit := map[string]string{"hubspot": "(HubSpot's 10-second limit)", "jira": "(Jira's", "github": "(GitHub's primary rate limit (core))",
				"googleanalytics": "(the rate limit of Google's token endpoint)", "pendo": "(Pendo's rate limit)", "crunchbase": "(Crunchbase's per-minute limit)"}[name]

			ok, waits := sourceCheck(t, c, name)
			if ok.Status != host.OK || !strings.Contains(ok.Detail, "credentials accepted by "+root) || !strings.Contains(ok.Detail, "HTTP timeout") || len(waits) != 0 {
				t.Errorf("accepted credentials: %s (waits %v)", ok, waits)
			}

			sb.SetFaults(sandbox.Faults{RateLimitNext: 1})
			once, waits := sourceCheck(t, c, name)
			if once.Status != host.OK || len(waits) != 1 || waits[0] <= 0 || waits[0] > 3*time.Second {
				t.Errorf("one 429: %s after waits %v, want ok after one wait of at most 3s", once, waits)
			}

			sb.SetFaults(sandbox.Faults{RateLimited: 1})
			limited, waits := sourceCheck(t, c, name)
			if limited.Status != host.Fail || !strings.Contains(limited.Detail, "rate limited twice "+limit) || !strings.Contains(limited.Detail, "try again later") ||
				strings.Contains(limited.Detail, baseURL) || len(waits) != 1 {
				t.Errorf("a persistent 429: %s (waits %v), want a failure naming the rate limit, not %s", limited, waits, baseURL)
			}
			sb.SetFaults(sandbox.Faults{})

			bad := c
			wrongCredential[name](&bad, root)
			refused, _ := sourceCheck(t, bad, name)
			var hint string
			for _, v := range host.Vars {
				if v.Source == name && v.Credential && v.Secret {
					hint = v.Name
				}
			}
			if name == "googleanalytics" {
				hint = "GA4_CREDENTIALS_FILE"
			}
			if refused.Status != host.Fail || !strings.Contains(refused.Detail, "fix the credentials: ") || !strings.Contains(refused.Detail, hint) {
				t.Errorf("refused credentials: %s, want the fix naming %s", refused, hint)
			}
		})
	}
}

// A Retry-After the source sends is what the check waits before its one retry (up
// to RetryWait); GitHub's secondary rate limit is named as such.
func TestDoctorHonoursRetryAfterAndNamesTheLimit(t *testing.T) {
	c, sb, _ := oneSource(t, "github")
	sb.SetFaults(sandbox.Faults{RateLimitNext: 1, RetryAfter: 2 * time.Second})
	if check, waits := sourceCheck(t, c, "github"); check.Status != host.OK || len(waits) != 1 || waits[0] != 2*time.Second {
		t.Errorf("%s after waits %v, want ok after the 2s GitHub asked", check, waits)
	}
	sb.SetFaults(sandbox.Faults{RateLimited: 1, RetryAfter: time.Minute})
	check, waits := sourceCheck(t, c, "github")
	if check.Status != host.Fail || !strings.Contains(check.Detail, "rate limited twice (the GitHub secondary rate limit)") || len(waits) != 1 || waits[0] != 3*time.Second {
		t.Errorf("%s after waits %v, want a failure naming the secondary rate limit after one wait of 3s (RetryWait)", check, waits)
	}
}

// A 404 points at where the data is; no answer at all points at the address and
// the network path.
func TestDoctorNamesTheAddressOrTheIdsBehindA404AndTheNetworkBehindNoAnswer(t *testing.T) {
	c, _, _ := oneSource(t, "github")
	c.GitHub.Repos = append(c.GitHub.Repos, "acme/no-such-repo")
	if check, _ := sourceCheck(t, c, "github"); check.Status != host.Fail || !strings.Contains(check.Detail, "acme/no-such-repo") ||
		!strings.Contains(check.Detail, "check where the data is: GITHUB_REPOS, GITHUB_BASE_URL") {
		t.Errorf("a missing repository: %s", check)
	}

	c, _, root := oneSource(t, "jira")
	c.Jira.BaseURL = root + "/no-such-site"
	if check, _ := sourceCheck(t, c, "jira"); check.Status != host.Fail || !strings.Contains(check.Detail, "check where the data is: JIRA_BASE_URL") {
		t.Errorf("a wrong site: %s", check)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	c, _, _ = oneSource(t, "crunchbase")
	c.Crunchbase.BaseURL = closed + "/api/v4"
	if check, _ := sourceCheck(t, c, "crunchbase"); check.Status != host.Fail || !strings.Contains(check.Detail, "check CRUNCHBASE_BASE_URL ("+closed+"/api/v4) and the network path to it") ||
		strings.Contains(check.Detail, "credentials") {
		t.Errorf("nothing listening: %s", check)
	}
}
