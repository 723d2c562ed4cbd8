package host_test

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/meshflow/meshflow/framework/source"
	"github.com/meshflow/meshflow/workers/host"
)

var updateREADME = flag.Bool("update-readme", false, "rewrite the README's configuration table from host.Vars")

// TestConfigFromEnvReadsExactlyVars keeps host.Vars the one list of variables: every
// variable ConfigFromEnv reads is in it, and it lists nothing ConfigFromEnv ignores.
func TestConfigFromEnvReadsExactlyVars(t *testing.T) {
	read := map[string]bool{}
	if _, err := host.ConfigFromEnv(func(k string) string {
		read[k] = true
		if k == "MESHFLOW_LAKE" {
			return t.TempDir()
		}
		return ""
	}); err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, v := range host.Vars() {
		if listed[v.Name] {
			t.Errorf("host.Vars lists %s twice", v.Name)
		}
		listed[v.Name] = true
		if v.File {
			listed[v.Name+"_FILE"] = true
		}
		if v.Doc == "" {
			t.Errorf("%s has no Doc", v.Name)
		}
		if v.Secret && !v.File {
			t.Errorf("%s is a secret without a _FILE form: a deployment could only set it inline", v.Name)
		}
	}
	for _, v := range host.Vars() {
		if v.Credential && owner(v.Name) == "" {
			t.Errorf("%s is a credential of no source", v.Name)
		}
	}
	for k := range read {
		if !listed[k] {
			t.Errorf("ConfigFromEnv reads %s, which host.Vars does not list (add it, with its default and meaning)", k)
		}
	}
	for k := range listed {
		if !read[k] {
			t.Errorf("host.Vars lists %s, which ConfigFromEnv never reads", k)
		}
	}
	for _, conn := range host.Connectors() {
		// A bucket of files has no secret: its URL is what configures it (Configured).
		if !slices.ContainsFunc(conn.Vars, func(v source.Var) bool { return v.Credential }) {
			t.Errorf("source %s has no credential variable: nothing configures it", conn.Name)
		}
	}
}

// TestVarDefaultsAreTheCodes checks each literal default the README states against
// what ConfigFromEnv does with the variable unset.
func TestVarDefaultsAreTheCodes(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	c, err := host.ConfigFromEnv(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(host.DefaultLake)
	got := map[string]string{
		"MESHFLOW_LAKE":                host.DefaultLake,
		"MESHFLOW_TEMPORAL_ADDRESS":    c.TemporalAddress,
		"MESHFLOW_TEMPORAL_NAMESPACE":  c.Namespace,
		"MESHFLOW_TEMPORAL_TLS":        strconv.FormatBool(c.TemporalAuth.TLS),
		"MESHFLOW_LOG_LEVEL":           c.LogLevel,
		"MESHFLOW_WORKER_STOP_TIMEOUT": c.StopTimeout.String(),
		"MESHFLOW_TEMPORAL_UI_URL":     c.Alerts.TemporalUI,
		"MESHFLOW_CATALOG_PUBLIC_URL":  c.Alerts.CatalogURL,
	}
	got["MESHFLOW_OPENLINEAGE_NAMESPACE"] = c.Lineage.Namespace
	if c.Lake != abs {
		t.Errorf("default lake = %s, want %s", c.Lake, abs)
	}
	// The connectors' variables are left empty by ConfigFromEnv and defaulted by the
	// connector, whose constant its Var quotes; the pacing and timeout variables'
	// defaults TestPacingAndTimeoutsReachTheConnectors checks against the
	// connectors built.
	for _, v := range host.Vars() {
		lit, ok := v.Literal()
		if !ok || strings.Contains(lit, "<") || owner(v.Name) != "" {
			continue // not a literal default ("all", "OS temp dir", `sqlite://<lake>/…`)
		}
		g, ok := got[v.Name]
		if !ok {
			t.Errorf("%s states the default %q: add it to this test", v.Name, lit)
			continue
		}
		if g != lit {
			t.Errorf("%s: the README says the default is %q, ConfigFromEnv uses %q", v.Name, lit, g)
		}
	}
}

// TestREADMEConfigTable keeps the README's configuration table rendered from
// host.Vars; `go test ./workers/host -run TestREADMEConfigTable -update-readme`
// rewrites it.
func TestREADMEConfigTable(t *testing.T) {
	const path = "../../README.md"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start := strings.Index(readme, "| variable | default | meaning |")
	if start < 0 || !strings.Contains(readme[:start], "## Configuration") {
		t.Fatal("README has no configuration table (| variable | default | meaning |) under ## Configuration")
	}
	end := start
	for end < len(readme) && readme[end] == '|' {
		nl := strings.IndexByte(readme[end:], '\n')
		if nl < 0 {
			end = len(readme)
			break
		}
		end += nl + 1
	}
	want := host.ConfigTable()
	if readme[start:end] == want {
		return
	}
	if *updateREADME {
		if err := os.WriteFile(path, []byte(readme[:start]+want+readme[end:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("the README's configuration table is not host.Vars; run `go test ./workers/host -run TestREADMEConfigTable -update-readme`. Want:\n%s", want)
}
