package stack_test

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/meshflow/meshflow/dev/stack"
	"github.com/meshflow/meshflow/workers/host"
)

// TestEnvRoundTrips: what Env renders, ConfigFromEnv (what bin/mesh-worker runs)
// reads back as the same configuration, less the pacing that has no variable; and no
// secret is in the environment itself.
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
	c.HubSpot = host.HubSpotConfig{BaseURL: "http://127.0.0.1:1/hubspot", Token: "pat-na1-hubspot-secret"}
	c.Jira = host.JiraConfig{BaseURL: "http://127.0.0.1:1/jira", Email: "bot@example.com", Token: "jira-secret", Projects: []string{"OPS", "WEB"}, RequestsPerSecond: 500}
	c.GitHub = host.GitHubConfig{BaseURL: "http://127.0.0.1:1/github", Token: "ghp_secret", Repos: []string{"acme/app", "acme/api"}, Branches: []string{"release"}, RequestsPerSecond: 500}
	c.GA4 = host.GA4Config{BaseURL: "http://127.0.0.1:1/ga4", TokenURL: "http://127.0.0.1:1/ga4/token", CredentialsJSON: `{"private_key":"ga4-secret"}`,
		PropertyIDs: []string{"123", "456"}, StartDate: "90daysAgo", RequestsPerSecond: 500}
	c.Pendo = host.PendoConfig{BaseURL: "http://127.0.0.1:1/pendo", IntegrationKey: "pendo-secret", TimeZone: "Europe/Berlin", HistoryDays: 90, MinInterval: -1}
	c.Crunchbase = host.CrunchbaseConfig{BaseURL: "http://127.0.0.1:1/crunchbase/api/v4", UserKey: "cb-secret", RequestsPerMinute: -1}

	env, err := stack.Env(c, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
		for _, s := range []string{"hubspot-secret", "jira-secret", "ghp_secret", "ga4-secret", "pendo-secret", "cb-secret"} {
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
	want := c
	want.Jira.RequestsPerSecond, want.GitHub.RequestsPerSecond, want.GA4.RequestsPerSecond = 0, 0, 0
	want.Pendo.HistoryDays, want.Pendo.MinInterval, want.Crunchbase.RequestsPerMinute = 0, time.Duration(0), 0
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
