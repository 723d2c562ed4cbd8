package icebergrest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// icebergJS is the version of the npm package iceberg-js the test runs.
const icebergJS = "iceberg-js@1.0.0"

// The npm package iceberg-js, a REST catalog client written by others, lists the
// ports and loads each one it may, getting the rows mesh query counts (from the
// snapshot summary: iceberg-js reads catalogs, not data files); the restricted port is
// listed to and loaded by a token of its groups only.
func TestIcebergJSClientListsAndLoads(t *testing.T) {
	node := nodeOrSkip(t)
	f := newFixture(t, nil)
	cmd := exec.CommandContext(t.Context(), node, filepath.Join("testdata", "icebergjs.mjs"))
	cmd.Env = append(os.Environ(), "ICEBERG_JS="+installIcebergJS(t), "CATALOG_URI="+f.url, "TOKEN="+salesToken)
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("node testdata/icebergjs.mjs: %v\n%s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	type load struct {
		Rows             int64
		MetadataLocation string
		FormatVersion    int
		Columns          []string
	}
	type seen struct {
		Namespaces []string
		Tables     map[string][]string
		Loads      map[string]load
		Refused    map[string]struct {
			Status int
			Type   string
		}
	}
	var report struct{ Anonymous, Token seen }
	if err := json.Unmarshal(out, &report); err != nil {
		t.Fatalf("%v: %s", err, out)
	}

	for who, s := range map[string]seen{"anonymous": report.Anonymous, "token": report.Token} {
		if fmt.Sprint(s.Namespaces) != "[marketing sales]" || len(s.Tables["marketing"]) != 0 {
			t.Errorf("%s: namespaces %v, marketing's tables %v", who, s.Namespaces, s.Tables["marketing"])
		}
		for name, l := range s.Loads {
			if want := f.count(t, name); l.Rows != want || !strings.HasSuffix(l.MetadataLocation, ".metadata.json") || l.FormatVersion < 1 {
				t.Errorf("%s: iceberg-js loaded %s as %+v; mesh query counts %d rows", who, name, l, want)
			}
		}
	}
	if got := fmt.Sprint(report.Anonymous.Tables["sales"]); got != "[accounts_v1 accounts_v2 leads_v1]" {
		t.Errorf("anonymous lists %s in sales, want every port but the restricted deals_v1", got)
	}
	if r := report.Anonymous.Refused["sales.deals_v1"]; r.Status != 401 || r.Type != "NotAuthorizedException" {
		t.Errorf("anonymous load of deals_v1: %+v, want 401 NotAuthorizedException", r)
	}
	if got := fmt.Sprint(report.Token.Tables["sales"]); got != "[accounts_v1 accounts_v2 deals_v1 leads_v1]" {
		t.Errorf("the sales token lists %s in sales, want all four ports", got)
	}
	if l := report.Token.Loads["sales.deals_v1"]; l.Rows != 2 || fmt.Sprint(l.Columns) != "[deal_id deal_name]" {
		t.Errorf("the sales token loaded deals_v1 as %+v, want its 2 rows and columns", l)
	}
	if len(report.Token.Refused) != 0 {
		t.Errorf("the sales token was refused %v", report.Token.Refused)
	}
	// Refused by name to anonymous; loaded twice with the token: from the listing, then by name.
	if got := f.loads(t, "sales.deals_v1"); fmt.Sprint(got) != "[(anonymous) false sales-analyst true sales-analyst true]" {
		t.Errorf("audited loads of sales.deals_v1 = %v", got)
	}
}

// nodeOrSkip returns the node binary; without Node.js the test cannot run its client.
func nodeOrSkip(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed, so the iceberg-js client cannot run: install Node.js and npm (Debian: apt-get install nodejs npm)")
	}
	return node
}

// installIcebergJS installs iceberg-js once per machine, into the user's cache
// directory (never into the repository), and returns the file URL of its ES module.
// It installs beside the final directory and renames, so concurrent test processes
// never see half an install.
func installIcebergJS(t *testing.T) string {
	t.Helper()
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "meshflow", strings.ReplaceAll(icebergJS, "@", "-"))
	module := filepath.Join(dir, "node_modules", "iceberg-js", "dist", "index.mjs")
	fileURL := (&url.URL{Scheme: "file", Path: module}).String()
	if _, err := os.Stat(module); err == nil {
		return fileURL
	} else if !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skip("npm is not installed, so iceberg-js cannot be installed: install it (Debian: apt-get install npm)")
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".install-*")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	if err := os.WriteFile(filepath.Join(tmp, "package.json"), []byte(`{"private": true}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), npm, "install", "--no-audit", "--no-fund", "--ignore-scripts", "--no-package-lock", icebergJS)
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm install %s (the npm registry must be reachable): %v\n%s", icebergJS, err, out)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(module); serr != nil { // not another process's install either
			t.Fatalf("move the iceberg-js install into place: %v", err)
		}
	}
	return fileURL
}
