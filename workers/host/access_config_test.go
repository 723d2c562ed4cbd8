package host

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAccessFileAndToken(t *testing.T) {
	dir := t.TempDir()
	c, err := ConfigFromEnv(envOf(map[string]string{"MESHFLOW_LAKE": dir, "MESHFLOW_TOKEN": " mf_secret-token \n"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.AccessFile != filepath.Join(dir, "access.yaml") || c.Token != "mf_secret-token" {
		t.Fatalf("access file %q, token %q", c.AccessFile, c.Token)
	}
	if strings.Contains(c.String(), "mf_secret") {
		t.Fatalf("String() leaks the token: %s", c)
	}
	f := filepath.Join(dir, "token")
	if err := os.WriteFile(f, []byte("mf_from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = ConfigFromEnv(envOf(map[string]string{"MESHFLOW_LAKE": dir, "MESHFLOW_ACCESS_FILE": "/etc/meshflow/access.yaml", "MESHFLOW_TOKEN_FILE": f}))
	if err != nil || c.AccessFile != "/etc/meshflow/access.yaml" || c.Token != "mf_from-file" {
		t.Fatalf("explicit file and token file: %q %q %v", c.AccessFile, c.Token, err)
	}
}
