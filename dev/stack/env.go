package stack

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/workers/host"
)

// Env renders c as the environment bin/mesh-worker reads (host.ConfigFromEnv), so a
// test or a tool can run the worker as its own process against this stack, e.g. to
// kill it. Secrets are written to files in dir (mode 0600) and passed by their _FILE
// variables: a process's environment is readable by others on the machine, and a
// failing test prints it.
//
// Settings the worker has no variable for are left out, so that process uses the
// connectors' defaults for them: the request pacing (RequestsPerSecond of Jira,
// GitHub and GA4, Crunchbase's RequestsPerMinute) and Pendo's HistoryDays and
// MinInterval. Any other setting Env cannot carry is an error: Env reads the
// environment back as the worker will and compares.
func Env(c host.Config, dir string) ([]string, error) {
	env, err := render(c, dir)
	if err != nil {
		return nil, err
	}
	vars := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	back, err := host.ConfigFromEnv(func(k string) string { return vars[k] })
	if err != nil {
		return nil, errs.E(errs.Invalid, "render worker env", err)
	}
	want := c
	want.Jira.RequestsPerSecond, want.GitHub.RequestsPerSecond, want.GA4.RequestsPerSecond = 0, 0, 0
	want.Pendo.HistoryDays, want.Pendo.MinInterval, want.Crunchbase.RequestsPerMinute = 0, 0, 0
	if diff := differing(reflect.ValueOf(back), reflect.ValueOf(want), ""); len(diff) > 0 {
		return nil, errs.Errorf(errs.Invalid, "render worker env", "the worker would not read %s as given: teach stack.Env its variable", strings.Join(diff, ", "))
	}
	return env, nil
}

// differing names the fields of two structs of one type whose values differ.
func differing(a, b reflect.Value, prefix string) []string {
	var out []string
	for i := range a.NumField() {
		f := a.Type().Field(i)
		if !f.IsExported() {
			continue // state, not settings
		}
		name := prefix + f.Name
		fa, fb := a.Field(i), b.Field(i)
		switch {
		case fa.Kind() == reflect.Struct:
			out = append(out, differing(fa, fb, name+".")...)
		case !reflect.DeepEqual(fa.Interface(), fb.Interface()):
			out = append(out, name)
		}
	}
	return out
}

func render(c host.Config, dir string) ([]string, error) {
	var env []string
	set := func(name, value string) {
		if value != "" {
			env = append(env, name+"="+value)
		}
	}
	secret := func(name, value string) error {
		if value == "" {
			return nil
		}
		f := filepath.Join(dir, strings.ToLower(name))
		if err := os.WriteFile(f, []byte(value), 0o600); err != nil {
			return errs.Errorf(errs.Internal, "render worker env", "write %s: %v (is %s a writable directory?)", name, err, dir)
		}
		set(name+"_FILE", f)
		return nil
	}
	set("MESHFLOW_TEMPORAL_ADDRESS", c.TemporalAddress)
	set("MESHFLOW_TEMPORAL_NAMESPACE", c.Namespace)
	set("MESHFLOW_LAKE", c.Lake)
	set("MESHFLOW_CATALOG_URI", c.CatalogURI)
	set("MESHFLOW_WAREHOUSE", c.Warehouse)
	set("MESHFLOW_WORKDIR", c.WorkDir)
	set("MESHFLOW_DOMAINS", strings.Join(c.Domains, ","))
	set("MESHFLOW_LOG_LEVEL", c.LogLevel)
	if c.StopTimeout > 0 {
		set("MESHFLOW_WORKER_STOP_TIMEOUT", c.StopTimeout.String())
	}

	set("HUBSPOT_BASE_URL", c.HubSpot.BaseURL)
	set("JIRA_BASE_URL", c.Jira.BaseURL)
	set("JIRA_EMAIL", c.Jira.Email)
	set("JIRA_PROJECTS", strings.Join(c.Jira.Projects, ","))
	set("GITHUB_BASE_URL", c.GitHub.BaseURL)
	set("GITHUB_REPOS", strings.Join(c.GitHub.Repos, ","))
	set("GITHUB_BRANCHES", strings.Join(c.GitHub.Branches, ","))
	set("GA4_BASE_URL", c.GA4.BaseURL)
	set("GA4_TOKEN_URL", c.GA4.TokenURL)
	set("GA4_PROPERTY_IDS", strings.Join(c.GA4.PropertyIDs, ","))
	set("GA4_START_DATE", c.GA4.StartDate)
	set("PENDO_BASE_URL", c.Pendo.BaseURL)
	set("PENDO_TIME_ZONE", c.Pendo.TimeZone)
	set("CRUNCHBASE_BASE_URL", c.Crunchbase.BaseURL)
	for _, s := range []struct{ name, value string }{
		{"HUBSPOT_TOKEN", c.HubSpot.Token}, {"JIRA_API_TOKEN", c.Jira.Token}, {"GITHUB_TOKEN", c.GitHub.Token},
		{"GA4_CREDENTIALS", c.GA4.CredentialsJSON}, {"PENDO_INTEGRATION_KEY", c.Pendo.IntegrationKey},
		{"CRUNCHBASE_USER_KEY", c.Crunchbase.UserKey},
	} {
		if err := secret(s.name, s.value); err != nil {
			return nil, err
		}
	}
	return env, nil
}
