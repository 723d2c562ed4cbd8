package host_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshflow/meshflow/dev/sandbox"
	"github.com/meshflow/meshflow/dev/stack"
	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/source"
	"github.com/meshflow/meshflow/workers/host"
)

// acme is a connector as a new one is written: its value, its sandbox, its source.
// It is registered by the test alone (host.Register, as its line in connectors.All
// would), and nothing else names it.
var acme = source.Connector{
	Name:  "acme",
	Title: "Acme",
	Vars: []source.Var{
		{Name: "ACME_TOKEN", Credential: true, File: true, Secret: true, Doc: "Acme API token"},
		{Name: "ACME_BASE_URL", Locates: true, Default: "`https://api.acme.example`", Doc: "Acme API"},
	},
	Streams: []source.StreamSpec{{Name: "widgets", Fields: []source.Field{{Name: "id", Type: source.String, Path: []string{"id"}}}, PrimaryKey: []string{"id"}}},
	Open: func(v source.Values) (source.Source, error) {
		if v.Get("ACME_TOKEN") == "" {
			return nil, errs.Errorf(errs.Invalid, "acme: config", "ACME_TOKEN is not set")
		}
		return &acmeSource{base: v.Or("ACME_BASE_URL", "https://api.acme.example"), token: v.Get("ACME_TOKEN")}, nil
	},
	Sandbox: func(o source.SandboxOptions) (source.Sandbox, error) {
		api := &acmeAPI{token: "acme-sandbox-token"}
		return &source.Imitation{API: api, Point: func(baseURL string) source.Values {
			return source.Values{"ACME_BASE_URL": baseURL, "ACME_TOKEN": api.token}
		}}, nil
	},
}

// acmeAPI imitates Acme's API: GET /v1/me with its token.
type acmeAPI struct {
	token    string
	requests atomic.Int64
}

func (a *acmeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.requests.Add(1)
	switch {
	case r.URL.Path != "/v1/me":
		http.NotFound(w, r)
	case r.Header.Get("Authorization") != "Bearer "+a.token:
		http.Error(w, `{"error":"bad token"}`, http.StatusUnauthorized)
	default:
		io.WriteString(w, `{"id":"me"}`)
	}
}

func (a *acmeAPI) Requests() int { return int(a.requests.Load()) }

// Admin serves GET /requests.
func (a *acmeAPI) Admin() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "requests") })
}

type acmeSource struct{ base, token string }

func (s *acmeSource) Name() string             { return "acme" }
func (s *acmeSource) Streams() []source.Stream { return nil }
func (s *acmeSource) Check(ctx context.Context) error {
	req, _ := http.NewRequestWithContext(ctx, "GET", s.base+"/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return errs.E(errs.Transient, "acme: check", err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized {
		return errs.Errorf(errs.Permission, "acme: check", "Acme refuses the token (401)")
	}
	return nil
}

// TestANewConnectorIsItsRegistrationAlone registers a connector no other file
// knows and finds it everywhere the platform derives from the registry: the
// variables (README table, NAME_FILE), the configuration, the connectors a worker
// builds, `mesh doctor`'s checks and hints, the composite sandbox and the local
// stack's configuration and worker environment.
func TestANewConnectorIsItsRegistrationAlone(t *testing.T) {
	host.Register(t, acme)

	if v, ok := host.LookupVar("ACME_TOKEN_FILE"); !ok || v.Name != "ACME_TOKEN" {
		t.Errorf("host.Vars does not list ACME_TOKEN (with its _FILE form): %v", v)
	}
	if table := host.ConfigTable(); !strings.Contains(table, "| `ACME_TOKEN` / `ACME_TOKEN_FILE` | — | Acme API token |") {
		t.Errorf("the configuration table has no ACME_TOKEN line:\n%s", table)
	}

	// Configured from the environment, a worker builds it; unset, it is skipped.
	token := writeFile(t, "acme-token\n")
	c, err := host.ConfigFromEnv(func(k string) string {
		return map[string]string{"MESHFLOW_LAKE": t.TempDir(), "ACME_TOKEN_FILE": token}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(c.ConfiguredSources(), "acme") || c.Sources["acme"].Get("ACME_TOKEN") != "acme-token" {
		t.Fatalf("ACME_TOKEN_FILE does not configure acme: %v", c.Sources["acme"])
	}
	srcs, err := host.Sources(c)
	if err != nil || srcs["acme"] == nil {
		t.Fatalf("host.Sources does not build acme: %v, %v", srcs, err)
	}
	if srcs, _ := host.Sources(c.WithSource("acme", nil)); srcs["acme"] != nil {
		t.Error("acme is built without its credential")
	}

	// The composite sandbox serves it under /acme, with its admin endpoints.
	sb := sandbox.New(&sandbox.Options{Connectors: host.Connectors()})
	defer sb.Close() // the platform database it starts
	ts := httptest.NewServer(sb)
	defer ts.Close()
	if got := sb.Paths()["acme"]; got != "/acme" {
		t.Errorf("the sandbox serves acme at %q", got)
	}
	if body := get(t, ts.URL+"/_sandbox/acme/requests"); body != "requests" {
		t.Errorf("acme's admin endpoint answers %q", body)
	}

	// The local stack points it at the sandbox, and the doctor checks it there.
	st := &stack.Stack{Sandbox: sb, SandboxURL: ts.URL}
	local, used := st.SandboxConfig(c.WithSource("acme", nil))
	if !slices.Contains(used, "acme") {
		t.Fatalf("the stack does not point acme at the sandbox: %v", used)
	}
	local.TemporalAddress = startFrontend(t, &fakeFrontend{namespace: local.Namespace, attrs: meshAttrs(t)})
	check := doctorCheck(t, local, "acme")
	if check.Status != host.OK || check.Detail != "credentials accepted by "+ts.URL+"/acme" {
		t.Errorf("doctor: %s", check)
	}
	if n := sandbox.Get[*acmeAPI](sb).Requests(); n != 1 {
		t.Errorf("the doctor's check made %d requests to the sandbox, want 1", n)
	}
	check = doctorCheck(t, local.WithValue("acme", "ACME_TOKEN", "wrong"), "acme")
	if check.Status != host.Fail || !strings.Contains(check.Detail, "fix the credentials: ACME_TOKEN or ACME_TOKEN_FILE") {
		t.Errorf("doctor with a wrong token: %s", check)
	}
	check = doctorCheck(t, local.WithSource("acme", nil), "acme")
	if check.Status != host.Skipped || !strings.Contains(check.Detail, "set ACME_TOKEN or ACME_TOKEN_FILE") {
		t.Errorf("doctor without a token: %s", check)
	}

	// A worker process started from the stack's environment reads it the same.
	env, err := stack.Env(local, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "ACME_TOKEN_FILE=") }) {
		t.Errorf("the worker's environment has no ACME_TOKEN_FILE: %v", env)
	}
}

func doctorCheck(t *testing.T, c host.Config, name string) host.Check {
	t.Helper()
	return byName(t, host.Doctor(context.Background(), c, &host.DoctorOptions{Timeout: 10 * time.Second}))[name]
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "secret")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
	return f.Name()
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestConnectorsAreDistinct: every connector a worker hosts — the registry's and the
// domains' own — has a name of its own, served under a path of its own by the
// sandbox, and can be built.
func TestConnectorsAreDistinct(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range host.Connectors() {
		if c.Name == "" || seen[c.Name] || c.Open == nil {
			t.Errorf("connector %q: an empty or duplicate name, or no Open", c.Name)
		}
		seen[c.Name] = true
	}
	if _, err := sandbox.Open(&sandbox.Options{Connectors: host.Connectors()}); err != nil {
		t.Errorf("the sandboxes of the connectors do not fit together: %v", err)
	}
}
