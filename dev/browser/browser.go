// Package browser drives Debian's headless Chromium for the tests that look at real
// pages — the Temporal UI, the catalog: a page's DOM after its scripts ran, and
// screenshots kept in testdata/artifacts for a person to look at.
package browser

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Find returns the Chromium binary. Without one the test is skipped, except in CI
// (CI set), where `make test` installs it and its absence is a failure.
func Find(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed: `make test` installs Debian's chromium package")
	}
	t.Skip("chromium is not installed (make test installs it)")
	return ""
}

// Headless runs Chromium the way this machine allows (no sandbox as root, no
// background networking) with args and returns its standard output. The virtual time
// budget lets a page's JavaScript fetch and render before the DOM is dumped.
func Headless(t testing.TB, browser string, args ...string) string {
	t.Helper()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--virtual-time-budget=15000"}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, browser, append(base, args...)...).Output()
	if err != nil {
		t.Fatalf("chromium %v: %v", args, err)
	}
	return string(out)
}

// DOM is the page at url as Chromium's DOM serialises it, after its scripts ran.
func DOM(t testing.TB, browser, url string) string {
	return Headless(t, browser, "--dump-dom", url)
}

// Screenshot saves the page at url, width × height, as a PNG named name in
// Artifacts, checks it is not empty and returns its path.
func Screenshot(t testing.TB, browser, url, name string, width, height int) string {
	t.Helper()
	path := filepath.Join(Artifacts(t), name)
	Headless(t, browser, "--screenshot="+path, "--window-size="+strconv.Itoa(width)+","+strconv.Itoa(height), "--hide-scrollbars", url)
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		t.Fatalf("no screenshot at %s: %v", path, err)
	}
	return path
}

// Artifacts is where tests keep files for people: testdata/artifacts at the
// repository root (the directory holding go.mod above the test's), ignored by git.
func Artifacts(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
	out := filepath.Join(dir, "testdata", "artifacts")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	return out
}
