package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/meshflow/meshflow/framework/access"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/lake"
)

// A restricted port cannot be read through mesh query or mesh contract export
// without a token in one of its groups; with one, the read gets past access control
// (and fails later only because nothing is published in this empty lake).
func TestQueryAndContractExportEnforceAccess(t *testing.T) {
	ctx := context.Background()
	t.Setenv("MESHFLOW_LAKE", t.TempDir())
	t.Setenv("MESHFLOW_ACCESS_FILE", "")
	t.Setenv("MESHFLOW_TOKEN", "")
	t.Setenv("HUBSPOT_TOKEN", "")
	mesh := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(ctx, args, &out, &errOut)
		return out.String(), err
	}
	const sql = "SELECT count(*) FROM marketing.crm_deals_v1"
	engineer, err := mesh("access", "add-token", "--name", "engineer", "--groups", "engineering")
	if err != nil {
		t.Fatal(err)
	}
	sales, err := mesh("access", "add-token", "--name", "seller", "--groups", "sales")
	if err != nil {
		t.Fatal(err)
	}

	for _, args := range [][]string{{"query", sql}, {"contract", "export", "marketing.crm_deals"}} {
		if _, err := mesh(args...); !access.IsUnauthenticated(err) {
			t.Errorf("%v without a token: err = %v, want a 401-style refusal", args, err)
		}
	}
	out, err := mesh("query", "SELECT 1 FROM marketing.crm_contacts_v1")
	if access.IsDenied(err) {
		t.Fatalf("an internal port was refused: %v %s", err, out)
	}

	// The wrong group is forbidden, naming who may read it.
	t.Setenv("MESHFLOW_TOKEN", strings.TrimSpace(engineer))
	if _, err := mesh("query", sql); !access.IsDenied(err) || access.IsUnauthenticated(err) || !strings.Contains(err.Error(), "sales") {
		t.Fatalf("wrong group: err = %v, want a 403-style refusal naming the allowed groups", err)
	}

	t.Setenv("MESHFLOW_TOKEN", strings.TrimSpace(sales))
	if _, err := mesh("query", sql); access.IsDenied(err) || err == nil || !strings.Contains(err.Error(), "not published") {
		t.Fatalf("right group on an empty lake: err = %v, want past access control to 'not published'", err)
	}
	if out, err := mesh("contract", "export", "marketing.crm_deals"); err != nil || !strings.Contains(out, "crm_deals_v1") {
		t.Fatalf("contract export with the right token: %v\n%.300s", err, out)
	}
	out, err = mesh("audit", "--json")
	if err != nil || strings.Count(out, `"path": "query"`)+strings.Count(out, `"path":"query"`) < 3 {
		t.Fatalf("audit log lacks the query reads: %v\n%s", err, out)
	}
}

// mesh products and mesh freshness show a restricted product's failed run with its
// error to a caller whose token is in the product's groups (and audit that), and
// withhold the error from everyone else.
func TestListingsShowRestrictedErrorsToReaders(t *testing.T) {
	lakeDir := testLake(t)
	seller, err := runMesh(t, "access", "add-token", "--name", "seller", "--groups", "sales")
	if err != nil {
		t.Fatal(err)
	}
	engineer, err := runMesh(t, "access", "add-token", "--name", "engineer", "--groups", "engineering")
	if err != nil {
		t.Fatal(err)
	}
	const reason = "transform: could not cast 'ACME-secret-deal' to DOUBLE"
	putRunRecord(t, lakeDir, flow.RunRecord{Domain: "marketing", Product: "crm_deals", WorkflowID: "marketing.crm_deals/current", RunID: "r1",
		Status: flow.StatusFailed, Error: reason, FinishedAt: time.Now().UTC().Add(-time.Hour)})

	for _, args := range [][]string{{"products"}, {"products", "--json"}, {"freshness"}} {
		for _, token := range []string{"", engineer} {
			t.Setenv("MESHFLOW_TOKEN", firstLine(token))
			out, err := runMesh(t, args...)
			if err != nil || strings.Contains(out, "ACME-secret-deal") || !strings.Contains(out, "withheld") {
				t.Errorf("mesh %v without access (token %t): %v\n%s", args, token != "", err, out)
			}
		}
		t.Setenv("MESHFLOW_TOKEN", firstLine(seller))
		out, err := runMesh(t, args...)
		if err != nil || !strings.Contains(out, reason) {
			t.Errorf("mesh %v for a reader lacks the reason: %v\n%s", args, err, out)
		}
	}
	out, err := runMesh(t, "audit", "--json")
	var events []access.Event
	if err != nil || json.NewDecoder(strings.NewReader(out)).Decode(&events) != nil || len(events) != 3 {
		t.Fatalf("audit: %v\n%s", err, out)
	}
	for _, ev := range events {
		if !ev.Allowed || ev.Principal != "seller" || ev.What != access.Listing || ev.Path != access.PathCLI {
			t.Errorf("audit record: %+v", ev)
		}
	}
}

// firstLine is what a command printed first: add-token's token, before its notes.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// putRunRecord writes a run record into the lake as a run would.
func putRunRecord(t *testing.T, lakeDir string, r flow.RunRecord) {
	t.Helper()
	ctx := context.Background()
	l, err := lake.Open(ctx, lakeDir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.PutJSON(ctx, flow.RunRecordKey(r.Domain, r.Product, r.FinishedAt, r.RunID), r); err != nil {
		t.Fatal(err)
	}
}
