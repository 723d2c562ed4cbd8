package source_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshflow/meshflow/framework/source"
)

func TestReadVarsReadsFilesAndChecks(t *testing.T) {
	dir := t.TempDir()
	token, key := filepath.Join(dir, "token"), filepath.Join(dir, "key.json")
	os.WriteFile(token, []byte(" s3cret\n"), 0o600)
	os.WriteFile(key, []byte("{\"k\": 1}\n"), 0o600)
	pace := source.PaceVar{Name: "X_REQUESTS_PER_SECOND", Default: 4, Max: 5}
	vars := []source.Var{
		{Name: "X_TOKEN", File: true, Secret: true, Credential: true},
		{Name: "X_KEY_FILE", FileContents: true},
		{Name: "X_REPOS"},
		pace.Var("calls a second"),
	}
	env := map[string]string{"X_TOKEN_FILE": token, "X_KEY_FILE": key, "X_REPOS": "a/b, c/d,", "X_REQUESTS_PER_SECOND": "2.5"}
	v, err := source.ReadVars(vars, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if v.Get("X_TOKEN") != "s3cret" || v["X_KEY_FILE"] != "{\"k\": 1}\n" || strings.Join(v.List("X_REPOS"), "|") != "a/b|c/d" {
		t.Errorf("values = %q", v)
	}
	if rps, err := pace.Read(v); rps != 2.5 || err != nil {
		t.Errorf("pace = %v, %v", rps, err)
	}
	if !(source.Connector{Vars: vars}).Configured(v) {
		t.Error("a set token does not configure the connector")
	}
	v[source.Unpaced] = "true"
	if rps, _ := pace.Read(v); rps != -1 {
		t.Errorf("unpaced: %v, want -1", rps)
	}

	for _, bad := range []map[string]string{
		{"X_TOKEN": "a", "X_TOKEN_FILE": token},
		{"X_KEY_FILE": filepath.Join(dir, "missing")},
		{"X_REQUESTS_PER_SECOND": "6"},
	} {
		if _, err := source.ReadVars(vars, func(k string) string { return bad[k] }); err == nil {
			t.Errorf("%v: no error", bad)
		} else {
			t.Log(err)
		}
	}
}

func TestPaceAndTimeoutVars(t *testing.T) {
	perMinute := source.PaceVar{Name: "X_REQUESTS_PER_MINUTE", Default: 180, Max: 200, PerMinute: true}
	if v := perMinute.Var("calls a minute"); v.Default != "`180`" || v.Doc != "calls a minute (a whole number from 1 to 200)" {
		t.Errorf("var = %+v", v)
	}
	_, err := perMinute.Read(source.Values{"X_REQUESTS_PER_MINUTE": "150.5"})
	if err == nil || err.Error() != `configure: X_REQUESTS_PER_MINUTE="150.5" is not requests a minute: a whole number from 1 to 200 (unset: 180)` {
		t.Errorf("150.5: %v", err)
	}
	timeout := source.TimeoutVar{Name: "X_HTTP_TIMEOUT", Default: time.Minute}
	if d, err := timeout.Read(source.Values{"X_HTTP_TIMEOUT": "90s"}); d != 90*time.Second || err != nil {
		t.Errorf("90s: %v, %v", d, err)
	}
	if err := timeout.Var("X").Check("500ms"); err == nil || !strings.Contains(err.Error(), "a duration from 1s to 30m0s, such as `90s` (unset: 60s)") {
		t.Errorf("500ms: %v", err)
	}
	if lit, ok := timeout.Var("X").Literal(); lit != "60s" || !ok {
		t.Errorf("literal default = %q, %v", lit, ok)
	}
}

func TestAnIdentityAloneDoesNotConfigure(t *testing.T) {
	c := source.Connector{Vars: []source.Var{{Name: "X_EMAIL", Credential: true}, {Name: "X_TOKEN", Credential: true, File: true, Secret: true}}}
	if c.Configured(source.Values{"X_EMAIL": "a@b.example"}) || !c.Configured(source.Values{"X_TOKEN": "t"}) {
		t.Error("configured by the email alone, or not by the token")
	}
}

func TestSettingOf(t *testing.T) {
	type settings struct{ N int }
	o := source.SandboxOptions{Settings: []any{"other", &settings{N: 3}}}
	if s, ok := source.SettingOf[settings](o); !ok || s.N != 3 {
		t.Errorf("SettingOf = %v, %v", s, ok)
	}
	if _, ok := source.SettingOf[int](o); ok {
		t.Error("found an int")
	}
}
