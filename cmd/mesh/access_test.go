package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshflow/meshflow/framework/access"
)

// mesh show applies the catalog's access rules with MESHFLOW_TOKEN, and mesh audit
// lists what it recorded.
func TestShowRestrictedNeedsATokenAndIsAudited(t *testing.T) {
	ctx := context.Background()
	lake := t.TempDir()
	t.Setenv("MESHFLOW_LAKE", lake)
	t.Setenv("MESHFLOW_ACCESS_FILE", "")
	t.Setenv("MESHFLOW_TOKEN", "")
	t.Setenv("HUBSPOT_TOKEN", "")
	mesh := func(args ...string) (string, string, error) {
		var out, errOut bytes.Buffer
		err := run(ctx, args, &out, &errOut)
		return out.String(), errOut.String(), err
	}

	if _, _, err := mesh("show", "marketing.crm_deals"); !access.IsDenied(err) || !strings.Contains(err.Error(), "no access file at "+filepath.Join(lake, "access.yaml")) {
		t.Fatalf("without an access file: %v", err)
	}
	token, hint, err := mesh("access", "add-token", "--name", "sales-analyst", "--groups", "sales")
	if err != nil {
		t.Fatal(err)
	}
	token = strings.TrimSpace(token)
	if !strings.HasPrefix(token, "mf_") || strings.Contains(hint, token) || !strings.Contains(hint, "save the token") {
		t.Fatalf("add-token printed %q to stdout and %q to stderr", token, hint)
	}
	if b, _ := os.ReadFile(filepath.Join(lake, "access.yaml")); strings.Contains(string(b), token) {
		t.Fatal("the access file holds the token itself")
	}
	if _, _, err := mesh("show", "marketing.crm_deals"); !access.IsUnauthenticated(err) || !strings.Contains(err.Error(), "MESHFLOW_TOKEN") {
		t.Fatalf("no token: %v", err)
	}
	t.Setenv("MESHFLOW_TOKEN", token)
	out, _, err := mesh("show", "marketing.crm_deals")
	if err != nil || !strings.Contains(out, "Readable by:    the groups sales, finance") || !strings.Contains(out, "deal_stage") {
		t.Fatalf("with the token: %v\n%s", err, out)
	}
	// Products that are not restricted are read as before, and not audited.
	if _, _, err := mesh("show", "marketing.crm_contacts"); err != nil {
		t.Fatal(err)
	}

	out, _, err = mesh("audit", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var events []access.Event
	if err := json.Unmarshal([]byte(out), &events); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var got []string
	for _, e := range events {
		got = append(got, e.Principal+" "+string(e.Path)+" "+e.Reason)
	}
	if want := "[(anonymous) cli no access file (anonymous) cli no token sales-analyst cli in group sales]"; bracketed(got) != want {
		t.Fatalf("audit = %s, want %s", bracketed(got), want)
	}
	out, _, err = mesh("audit")
	if err != nil || !strings.Contains(out, "DECISION") || strings.Count(out, "marketing.crm_deals_v1") != 3 {
		t.Fatalf("audit table: %v\n%s", err, out)
	}
	if out, _, _ := mesh("audit", "--since", "2999-01-01"); !strings.Contains(out, "no reads of restricted products recorded") {
		t.Fatalf("audit since the future: %s", out)
	}
	if _, _, err := mesh("audit", "--since", "last week"); err == nil || !strings.Contains(err.Error(), "YYYY-MM-DD") {
		t.Fatalf("bad --since: %v", err)
	}
	if _, _, err := mesh("access", "add-token", "--name", "x"); err == nil || !strings.Contains(err.Error(), "--groups") {
		t.Fatalf("add-token without groups: %v", err)
	}
}

func bracketed(s []string) string { return "[" + strings.Join(s, " ") + "]" }

// The demo creates the lake's access file once, with a token for group sales.
func TestDemoCreatesTheAccessFileOnce(t *testing.T) {
	lake := t.TempDir()
	t.Setenv("MESHFLOW_LAKE", lake)
	t.Setenv("MESHFLOW_ACCESS_FILE", "")
	t.Setenv("HUBSPOT_TOKEN", "")
	var out bytes.Buffer
	e := &env{stdout: &out, stderr: &out}
	if err := e.loadConfig(lake); err != nil {
		t.Fatal(err)
	}
	if err := e.demoAccess(&out); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	i := strings.Index(text, "MESHFLOW_TOKEN=")
	if i < 0 || !strings.Contains(text, "mesh show marketing.crm_deals") {
		t.Fatalf("demo output:\n%s", text)
	}
	token := strings.Fields(text[i+len("MESHFLOW_TOKEN="):])[0]
	pol, err := access.Load(filepath.Join(lake, "access.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if pr, err := pol.Authenticate(token); err != nil || !pr.InGroup([]string{"sales"}) {
		t.Fatalf("demo token: %+v %v", pr, err)
	}
	out.Reset()
	if err := e.demoAccess(&out); err != nil || out.Len() != 0 {
		t.Fatalf("second demo: %v %q", err, out.String())
	}
}
