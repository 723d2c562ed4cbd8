package host_test

import (
	"context"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meshflow/meshflow/dev/sandbox"
	sbga "github.com/meshflow/meshflow/dev/sandbox/googleanalytics"
	"github.com/meshflow/meshflow/framework/source"
	"github.com/meshflow/meshflow/workers/host"
)

// oneSource is a configuration whose only source is name, reading a fresh
// in-process sandbox over real HTTP, and that sandbox (to inject faults into).
func oneSource(t *testing.T, name string) (host.Config, *sandbox.Server, string) {
	t.Helper()
	c, sb, root := sandboxed(t)
	for _, other := range host.Connectors() {
		if other.Name != name {
			c = c.WithSource(other.Name, nil)
		}
	}
	c.TemporalAddress = startFrontend(t, &fakeFrontend{namespace: c.Namespace, attrs: meshAttrs(t)})
	return c, sb, root
}

// secretVar is the variable holding conn's secret: a secret credential, or a key
// file.
func secretVar(conn source.Connector) source.Var {
	for _, v := range conn.Vars {
		if v.Credential && (v.Secret || v.FileContents) {
			return v
		}
	}
	return source.Var{}
}

// wrongCredential makes conn's credential one its sandbox refuses: its secret with
// two more characters, or for a key file another key.
func wrongCredential(c host.Config, conn source.Connector, root string) host.Config {
	v := secretVar(conn)
	if conn.Name == "googleanalytics" {
		return c.WithValue(conn.Name, v.Name, string(sbga.ServiceAccountJSON(99, "", sbga.TokenURL(root)))) // another key
	}
	return c.WithValue(conn.Name, v.Name, c.Sources[conn.Name].Get(v.Name)+"x9")
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
	// The limit each sandbox's injected 429 stands for (GA4's first request is for a
	// token; Jira answers some with a 503 and Retry-After).
	limits := map[string]string{"hubspot": "(HubSpot's 10-second limit)", "jira": "(Jira's", "github": "(GitHub's primary rate limit (core))",
		"googleanalytics": "(the rate limit of Google's token endpoint)", "pendo": "(Pendo's rate limit)", "crunchbase": "(Crunchbase's per-minute limit)"}
	for _, conn := range host.Connectors() {
		if conn.Sandbox == nil {
			continue
		}
		name := conn.Name
		t.Run(name, func(t *testing.T) {
			c, sb, root := oneSource(t, name)
			baseURL := ""
			for _, v := range conn.Vars {
				if strings.HasSuffix(v.Name, "_BASE_URL") {
					baseURL = v.Name
				}
			}
			limit, ok := limits[name]
			if !ok {
				limit = "("
			}

			accepted, waits := sourceCheck(t, c, name)
			if slices.Contains(sb.Local(), name) {
				// A database on this machine (the platform's): no HTTP API to fault; its
				// check connects as the sandbox's reader role.
				if accepted.Status != host.OK || !strings.Contains(accepted.Detail, "credentials accepted") || len(waits) != 0 {
					t.Errorf("accepted credentials: %s (waits %v)", accepted, waits)
				}
				refused, _ := sourceCheck(t, wrongCredential(c, conn, root), name)
				if hint := secretVar(conn).Name; refused.Status != host.Fail || !strings.Contains(refused.Detail, "refused the credentials") || !strings.Contains(refused.Detail, hint) {
					t.Errorf("refused credentials: %s, want the fix naming %s", refused, hint)
				}
				return
			}
			accepts := "credentials accepted by " + root
			if secretVar(conn).Name == "" {
				accepts = "listed s3://" // a bucket of dropped files, the sandbox's S3 imitation
			}
			if accepted.Status != host.OK || !strings.Contains(accepted.Detail, accepts) || !strings.Contains(accepted.Detail, root) || !strings.Contains(accepted.Detail, "HTTP timeout") || len(waits) != 0 {
				t.Errorf("accepted credentials: %s (waits %v)", accepted, waits)
			}
			if secretVar(conn).Name == "" {
				// A bucket of dropped files (connectors/files): no credential of its own to
				// refuse, and its client retries S3's 503 SlowDown itself, so neither a
				// refused credential nor the doctor's one retry after a 429 applies.
				t.Skipf("%s has no secret credential and no HTTP rate limit of its own: only its check applies", name)
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

			refused, _ := sourceCheck(t, wrongCredential(c, conn, root), name)
			hint := secretVar(conn).Name
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
	c = c.WithValue("github", "GITHUB_REPOS", c.Sources["github"].Get("GITHUB_REPOS")+",acme/no-such-repo")
	if check, _ := sourceCheck(t, c, "github"); check.Status != host.Fail || !strings.Contains(check.Detail, "acme/no-such-repo") ||
		!strings.Contains(check.Detail, "check where the data is: GITHUB_REPOS, GITHUB_BASE_URL") {
		t.Errorf("a missing repository: %s", check)
	}

	c, _, root := oneSource(t, "jira")
	c = c.WithValue("jira", "JIRA_BASE_URL", root+"/no-such-site")
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
	c = c.WithValue("crunchbase", "CRUNCHBASE_BASE_URL", closed+"/api/v4")
	if check, _ := sourceCheck(t, c, "crunchbase"); check.Status != host.Fail || !strings.Contains(check.Detail, "check CRUNCHBASE_BASE_URL ("+closed+"/api/v4) and the network path to it") ||
		strings.Contains(check.Detail, "credentials") {
		t.Errorf("nothing listening: %s", check)
	}
}
