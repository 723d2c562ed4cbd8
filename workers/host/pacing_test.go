package host_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meshflow/meshflow/dev/sandbox"
	"github.com/meshflow/meshflow/framework/source"
	"github.com/meshflow/meshflow/workers/host"
)

// tuning reports whether name is a source's pacing or HTTP timeout variable.
func tuning(name string) bool {
	return strings.HasSuffix(name, "_REQUESTS_PER_SECOND") || strings.HasSuffix(name, "_REQUESTS_PER_MINUTE") || strings.HasSuffix(name, "_HTTP_TIMEOUT")
}

// everySource is an environment configuring every connector as its sandbox's values
// do, less their pacing and timeouts (not reachable: the connectors are built, never
// called).
func everySource(t *testing.T) map[string]string {
	t.Helper()
	sb := sandbox.New(&sandbox.Options{Connectors: host.Connectors()})
	t.Cleanup(func() { sb.Close() }) // the platform database it starts
	env := map[string]string{"MESHFLOW_LAKE": t.TempDir()}
	for _, conn := range host.Connectors() {
		vals := sb.Values("http://127.0.0.1:1")[conn.Name]
		for _, v := range conn.Vars {
			value := vals[v.Name]
			switch {
			case value == "" || tuning(v.Name):
			case v.FileContents:
				f := filepath.Join(t.TempDir(), strings.ToLower(v.Name))
				if err := os.WriteFile(f, []byte(value), 0o600); err != nil {
					t.Fatal(err)
				}
				env[v.Name] = f
			default:
				env[v.Name] = value
			}
		}
	}
	return env
}

// tunings builds the connectors env configures and returns how each is tuned.
func tunings(t *testing.T, env map[string]string) map[string]source.Tuning {
	t.Helper()
	c, err := host.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	srcs, err := host.Sources(c)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]source.Tuning{}
	for name, src := range srcs {
		if tu, ok := src.(source.Tuned); ok {
			out[name] = tu.Tuning()
		}
	}
	return out
}

// tuned is what a pacing or timeout variable of a connector sets in its Tuning, in
// the variable's unit: requests a second or a minute, or a duration.
func tuned(t *testing.T, tu source.Tuning, v source.Var) string {
	t.Helper()
	switch {
	case strings.HasSuffix(v.Name, "_HTTP_TIMEOUT"):
		return strconv.Itoa(int(tu.HTTPTimeout/time.Second)) + "s"
	case strings.HasSuffix(v.Name, "_REQUESTS_PER_MINUTE"):
		return strconv.FormatFloat(tu.Pacers[0].PerSecond()*60, 'f', -1, 64)
	case strings.Contains(v.Name, "_SEARCH_"):
		return strconv.FormatFloat(tu.Pacers[1].PerSecond(), 'f', -1, 64)
	}
	return strconv.FormatFloat(tu.Pacers[0].PerSecond(), 'f', -1, 64)
}

// TestPacingAndTimeoutsReachTheConnectors: every connector's pacing and HTTP timeout
// variable, unset, gives the connector the default the README states and, set,
// reaches the connector built from it.
func TestPacingAndTimeoutsReachTheConnectors(t *testing.T) {
	env := everySource(t)
	defaults := tunings(t, env)
	set := map[string]string{}
	n := 0
	for _, conn := range host.Connectors() {
		tu, ok := defaults[conn.Name]
		for _, v := range conn.Vars {
			if !tuning(v.Name) {
				continue
			}
			if !ok {
				t.Fatalf("%s: connector %s was not built, or reports no Tuning", v.Name, conn.Name)
			}
			n++
			if got, want := tuned(t, tu, v), strings.Trim(v.Default, "`"); got != want {
				t.Errorf("%s unset: the connector uses %s, the README says %s", v.Name, got, want)
			}
			value := "2" // within every range, and no default
			if strings.HasSuffix(v.Name, "_HTTP_TIMEOUT") {
				value = "7s"
			}
			env[v.Name], set[v.Name] = value, value
		}
	}
	if n == 0 {
		t.Error("no pacing or timeout variable")
	}
	changed := tunings(t, env)
	for _, conn := range host.Connectors() {
		for _, v := range conn.Vars {
			if want, ok := set[v.Name]; ok {
				if got := tuned(t, changed[conn.Name], v); got != want {
					t.Errorf("%s=%s: the connector uses %s", v.Name, want, got)
				}
			}
		}
	}
}

// TestBadPacingAndTimeoutsAreRefused: a value out of range is refused with the
// variable's name and the range it must be in.
func TestBadPacingAndTimeoutsAreRefused(t *testing.T) {
	for _, c := range []struct{ name, value, want string }{
		{"HUBSPOT_REQUESTS_PER_SECOND", "26", "requests a second: more than 0, at most 25"},
		{"HUBSPOT_SEARCH_REQUESTS_PER_SECOND", "6", "more than 0, at most 5"},
		{"JIRA_REQUESTS_PER_SECOND", "0", "more than 0, at most 1000"},
		{"GITHUB_REQUESTS_PER_SECOND", "-1", "more than 0"},
		{"GA4_REQUESTS_PER_SECOND", "fast", "requests a second"},
		{"PENDO_REQUESTS_PER_SECOND", "NaN", "requests a second"},
		{"CRUNCHBASE_REQUESTS_PER_MINUTE", "201", "requests a minute: a whole number from 1 to 200"},
		{"CRUNCHBASE_REQUESTS_PER_MINUTE", "150.5", "a whole number"},
		{"HUBSPOT_HTTP_TIMEOUT", "500ms", "a duration from 1s to 30m0s"},
		{"PENDO_HTTP_TIMEOUT", "1h", "a duration from 1s to 30m0s"},
		{"GITHUB_HTTP_TIMEOUT", "soon", "such as `90s`"},
	} {
		_, err := host.ConfigFromEnv(func(k string) string { return map[string]string{"MESHFLOW_LAKE": t.TempDir(), c.name: c.value}[k] })
		if err == nil || !strings.Contains(err.Error(), c.name+"="+strconv.Quote(c.value)) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s=%s: %v, want an error naming it and %q", c.name, c.value, err, c.want)
		}
	}
}
