package stack_test

import (
	"maps"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/meshflow/meshflow/dev/stack"
	"github.com/meshflow/meshflow/framework/source"
	"github.com/meshflow/meshflow/workers/host"
)

// TestEnvRoundTrips: what Env renders, ConfigFromEnv (what bin/mesh-worker runs)
// reads back as the same configuration — every variable of every connector
// (host.Connectors), less the settings no variable carries; and no secret is in the
// environment itself.
func TestEnvRoundTrips(t *testing.T) {
	lakeDir := t.TempDir()
	c, err := host.ConfigFromEnv(func(k string) string {
		if k == "MESHFLOW_LAKE" {
			return lakeDir
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	c.TemporalAddress, c.Namespace, c.WorkDir, c.LogLevel = "127.0.0.1:7999", "fault-tests", t.TempDir(), "warn"
	c.Domains = []string{"marketing", "product"}
	var secrets []string
	want := c
	for _, conn := range host.Connectors() {
		vals := source.Values{source.Unpaced: "true", "history_days": "90"} // no variable carries these
		for _, v := range conn.Vars {
			value, literal := v.Literal() // valid for the variables with a Check
			if !literal || v.Check == nil {
				value = "value-of-" + strings.ToLower(v.Name)
				if v.Check != nil && v.Check(value) != nil {
					value = "file:///" + value // a location checked as a URL (a files source's bucket)
				}
			}
			if v.Secret || v.FileContents {
				value = strings.ToLower(v.Name) + "-secret"
				secrets = append(secrets, value)
			}
			vals[v.Name] = value
		}
		c = c.WithSource(conn.Name, vals)
		want = want.WithSource(conn.Name, maps.Clone(vals))
		delete(want.Sources[conn.Name], source.Unpaced)
		delete(want.Sources[conn.Name], "history_days")
	}

	env, err := stack.Env(c, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
		for _, s := range secrets {
			if strings.Contains(v, s) {
				t.Errorf("%s carries a secret in the environment; it belongs in a file", k)
			}
		}
		if strings.HasSuffix(k, "_FILE") {
			if fi, err := os.Stat(v); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("%s names %s (%v, mode %v); want a file only its owner reads", k, v, err, fi.Mode())
			}
		}
	}
	back, err := host.ConfigFromEnv(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, want) {
		t.Errorf("read back:\n%+v\nwant:\n%+v", back, want)
	}
}

// TestEnvRefusesWhatTheWorkerWouldReadDifferently: a setting the environment cannot
// carry as given is an error naming it, not a worker silently configured otherwise.
func TestEnvRefusesWhatTheWorkerWouldReadDifferently(t *testing.T) {
	c, err := host.ConfigFromEnv(func(k string) string {
		if k == "MESHFLOW_LAKE" {
			return t.TempDir()
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	c.Lake = "relative/lake" // the worker makes it absolute
	if _, err := stack.Env(c, t.TempDir()); err == nil || !strings.Contains(err.Error(), "Lake") {
		t.Fatalf("Env of a relative lake: %v; want an error naming Lake", err)
	}
}
