package host

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestConfigDefaultsToALocalLake(t *testing.T) {
	dir := t.TempDir()
	c, err := ConfigFromEnv(envOf(map[string]string{"MESHFLOW_LAKE": dir, "MESHFLOW_DOMAINS": "marketing, engineering"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.CatalogURI != "sqlite://"+filepath.Join(dir, "catalog.db") || c.Warehouse != "file://"+filepath.Join(dir, "warehouse") {
		t.Fatalf("catalog=%s warehouse=%s", c.CatalogURI, c.Warehouse)
	}
	if c.TemporalAddress != "127.0.0.1:7233" || !c.HostsDomain("engineering") || c.HostsDomain("product") {
		t.Fatalf("config = %+v", c)
	}
}

func TestSecretsComeFromFilesAndNeverPrint(t *testing.T) {
	f := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(f, []byte("pat-na1-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := ConfigFromEnv(envOf(map[string]string{"MESHFLOW_LAKE": t.TempDir(), "HUBSPOT_TOKEN_FILE": f}))
	if err != nil {
		t.Fatal(err)
	}
	if tok := c.Sources["hubspot"].Get("HUBSPOT_TOKEN"); tok != "pat-na1-secret" {
		t.Fatalf("token = %q", tok)
	}
	if strings.Contains(c.String(), "pat-na1") {
		t.Fatalf("String() leaks the token: %s", c)
	}
	_, err = ConfigFromEnv(envOf(map[string]string{"HUBSPOT_TOKEN": "a", "HUBSPOT_TOKEN_FILE": f}))
	if err == nil || !strings.Contains(err.Error(), "both HUBSPOT_TOKEN and HUBSPOT_TOKEN_FILE") {
		t.Fatalf("both set: %v", err)
	}
	_, err = ConfigFromEnv(envOf(map[string]string{"MESHFLOW_LAKE": "s3://bucket/lake"}))
	if err == nil || !strings.Contains(err.Error(), "MESHFLOW_CATALOG_URI") {
		t.Fatalf("remote lake without catalog: %v", err)
	}
}

func TestWorkerStopTimeout(t *testing.T) {
	c, err := ConfigFromEnv(envOf(map[string]string{"MESHFLOW_LAKE": t.TempDir(), "MESHFLOW_WORKER_STOP_TIMEOUT": "50s"}))
	if err != nil || c.StopTimeout != 50*time.Second {
		t.Fatalf("stop timeout = %v, %v; want 50s", c.StopTimeout, err)
	}
	for _, bad := range []string{"50", "soon", "-5s"} {
		_, err := ConfigFromEnv(envOf(map[string]string{"MESHFLOW_LAKE": t.TempDir(), "MESHFLOW_WORKER_STOP_TIMEOUT": bad}))
		if err == nil || !strings.Contains(err.Error(), "MESHFLOW_WORKER_STOP_TIMEOUT") || !strings.Contains(err.Error(), "50s") {
			t.Errorf("%q: %v, want an error naming the variable and an example", bad, err)
		}
	}
}
