package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// mesh check passes the registered mesh; in a checkout whose saved model is broken it
// names the file and line, exits 1, and needs no rebuild and no environment.
func TestMeshCheck(t *testing.T) {
	var out, errOut bytes.Buffer
	t.Setenv("MESHFLOW_LAKE", "::not a lake::") // check reads no configuration
	err := run(context.Background(), []string{"check"}, &out, &errOut)
	if err != nil || !strings.HasPrefix(out.String(), "ok: ") {
		t.Fatalf("mesh check on the registered mesh: %v\n%s%s", err, out.String(), errOut.String())
	}

	// A checkout of the platform domain's folder with one model saved broken.
	root := checkout(t, "platform")
	saveModel(t, root, "platform", "signups_daily.sql", func(sql string) string { return strings.Replace(sql, "AS signups,", "AS signupz,", 1) })
	t.Chdir(root)
	out.Reset()
	errOut.Reset()
	err = run(context.Background(), []string{"check", "platform"}, &out, &errOut)
	if code := report(context.Background(), err, &errOut); code != exitFailure {
		t.Fatalf("a broken saved model: exit %d, want %d\n%s%s", code, exitFailure, out.String(), errOut.String())
	}
	if want := `domains/platform/models/signups_daily.sql:`; !strings.Contains(out.String(), want) || !strings.Contains(out.String(), `"signupz"`) || !strings.Contains(out.String(), `"signups" is declared`) {
		t.Errorf("mesh check printed\n%s\nwant the saved file's problem, naming %s and the column", out.String(), want)
	}
	if strings.Contains(out.String(), "engagement_daily") {
		t.Errorf("only the broken model has a problem:\n%s", out.String())
	}
	err = run(context.Background(), []string{"check", "nonesuch"}, &out, &errOut)
	if code := report(context.Background(), err, &errOut); code != exitUsage {
		t.Errorf("an unknown domain or product: exit %d, want %d", code, exitUsage)
	}
}

// checkout copies a domain's models/ into a temporary repository root, as a
// domain team's checkout has them, and returns the root.
func checkout(t *testing.T, domain string) string {
	t.Helper()
	root := t.TempDir()
	src, err := filepath.Abs(filepath.Join("..", "..", "domains", domain, "models"))
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(root, "domains", domain, "models")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// saveModel rewrites a model file of the checkout at root with edit.
func saveModel(t *testing.T, root, domain, file string, edit func(string) string) {
	t.Helper()
	path := filepath.Join(root, "domains", domain, "models", file)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(edit(string(b))), 0o644); err != nil {
		t.Fatal(err)
	}
}
