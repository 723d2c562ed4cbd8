package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/meshflow/meshflow/framework/access"
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
