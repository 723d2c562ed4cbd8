package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/meshflow/meshflow/framework/access"
)

// mesh access list names the principals and their groups, never a digest; revoke
// removes one, and the CLI refuses its token from then on.
func TestAccessListAndRevoke(t *testing.T) {
	testLake(t)
	sales, err := runMesh(t, "access", "add-token", "--name", "sales-analyst", "--groups", "sales,finance")
	if err != nil {
		t.Fatal(err)
	}
	sales = strings.Fields(sales)[0]
	if _, err := runMesh(t, "access", "add-token", "--name", "ops", "--groups", "ops"); err != nil {
		t.Fatal(err)
	}
	out, err := runMesh(t, "access", "list")
	if err != nil || !strings.Contains(out, "sales-analyst  sales, finance") || !strings.Contains(out, "ops            ops") ||
		strings.Contains(out, access.Digest(sales)) || strings.Contains(out, sales) {
		t.Fatalf("access list: %v\n%s", err, out)
	}
	out, _ = runMesh(t, "access", "list", "--json")
	var list []access.Principal
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 2 || list[0].Name != "sales-analyst" || strings.Contains(out, "sha256") {
		t.Fatalf("access list --json: %v\n%s", err, out)
	}

	t.Setenv("MESHFLOW_TOKEN", sales)
	if _, err := runMesh(t, "show", "marketing.crm_deals", "--sample", "0"); err != nil {
		t.Fatalf("before the revoke: %v", err)
	}
	if out, err := runMesh(t, "access", "revoke", "sales-analyst"); err != nil || !strings.Contains(out, "revoked sales-analyst") {
		t.Fatalf("revoke: %v\n%s", err, out)
	}
	if out, _ := runMesh(t, "access", "list"); strings.Contains(out, "sales-analyst") {
		t.Fatalf("list after the revoke:\n%s", out)
	}
	if _, err := runMesh(t, "show", "marketing.crm_deals", "--sample", "0"); !access.IsUnauthenticated(err) {
		t.Fatalf("the revoked token: %v", err)
	}
	if _, err := runMesh(t, "access", "revoke", "sales-analyst"); err == nil || !strings.Contains(err.Error(), "mesh access list") {
		t.Fatalf("revoking twice: %v", err)
	}
}

// A running mesh serve honours a revoke without a restart: once it has reloaded the
// access file, the token and the sessions signed in with it are refused. With an
// https public URL its session cookie is Secure.
func TestServeReloadsTheAccessFile(t *testing.T) {
	testLake(t)
	token, err := runMesh(t, "access", "add-token", "--name", "sales-analyst", "--groups", "sales")
	if err != nil {
		t.Fatal(err)
	}
	token = strings.Fields(token)[0]

	base, waitFor := serveMesh(t, "serve", "--addr", "127.0.0.1:0", "--access-reload", "10ms", "--public-url", "https://catalog.example.com")

	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(header, value string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", base+"/api/products/marketing.crm_deals", nil)
		req.Header.Set(header, value)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	resp, err := client.PostForm(base+"/login", url.Values{"token": {token}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(resp.Cookies()) != 1 || !resp.Cookies()[0].Secure {
		t.Fatalf("sign-in cookie behind an https public URL: %v", resp.Cookies())
	}
	cookie := resp.Cookies()[0].Name + "=" + resp.Cookies()[0].Value
	if b, c := get("Authorization", "Bearer "+token), get("Cookie", cookie); b != 200 || c != 200 {
		t.Fatalf("before the revoke: bearer %d, session %d", b, c)
	}

	if _, err := runMesh(t, "access", "revoke", "sales-analyst"); err != nil {
		t.Fatal(err)
	}
	waitFor("access:   0 principal(s)")
	if b, c := get("Authorization", "Bearer "+token), get("Cookie", cookie); b != 401 || c != 401 {
		t.Fatalf("after the reload: bearer %d, session %d", b, c)
	}
}

// serveMesh runs the mesh command args (mesh serve) until the test ends, and returns
// the catalog's base URL and a function that waits for a line of its output holding
// prefix and returns what follows prefix.
func serveMesh(t *testing.T, args ...string) (base string, waitFor func(prefix string) string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	served := make(chan error, 1)
	go func() {
		served <- run(ctx, args, pw, pw)
		pw.Close()
	}()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var seen []string // lines read while looking for another prefix
	waitFor = func(prefix string) string {
		t.Helper()
		for i, l := range seen {
			if j := strings.Index(l, prefix); j >= 0 {
				seen = append(seen[:i:i], seen[i+1:]...)
				return l[j+len(prefix):]
			}
		}
		for l := range lines {
			if j := strings.Index(l, prefix); j >= 0 {
				return l[j+len(prefix):]
			}
			seen = append(seen, l)
		}
		t.Fatalf("mesh serve ended before printing %q: %v", prefix, <-served)
		return ""
	}
	t.Cleanup(func() {
		cancel()
		go func() {
			for range lines { // whatever it prints while stopping
			}
		}()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return "http://" + strings.Fields(waitFor("catalog on http://"))[0], waitFor
}
