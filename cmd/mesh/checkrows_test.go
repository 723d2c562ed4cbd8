package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/meshflow/meshflow/domains"
	"github.com/meshflow/meshflow/framework/access"
	"github.com/meshflow/meshflow/framework/catalog"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
	"github.com/meshflow/meshflow/framework/port/porttest"
	"github.com/meshflow/meshflow/framework/quality"
	"github.com/meshflow/meshflow/framework/transform"
	"github.com/meshflow/meshflow/workers/host"
)

// contactRows are crm_contacts' rows in this test: two e-mails without an at sign.
const contactRows = `[{"contact_id": "c3", "email": "nope"}, {"contact_id": "c1", "email": "a@example.com"}, {"contact_id": "c2", "email": "broken"}]`

// seedWarningRun publishes contactRows as marketing.crm_contacts and records the run
// that did, with email_has_at_sign warning and the rows it kept as the Check activity
// keeps them (quality.Sample over the same rows, quality.PortSQL over the port).
func seedWarningRun(t *testing.T, lakeDir string) {
	t.Helper()
	ctx := context.Background()
	cfg, err := host.ConfigFromEnv(func(k string) string {
		if k == "MESHFLOW_LAKE" {
			return lakeDir
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	stores, err := host.OpenStores(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer stores.Close()
	sc := arrow.NewSchema([]arrow.Field{{Name: "contact_id", Type: arrow.BinaryTypes.String}, {Name: "email", Type: arrow.BinaryTypes.String}}, nil)
	published := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	snap := porttest.PublishJSON(t, stores.Ports, port.PortTable("marketing", "crm_contacts", 1), sc, contactRows, port.PublishRequest{Mode: port.Replace{},
		SnapshotProperties: map[string]string{flow.PropPublishedAt: published.Format(time.RFC3339)}})

	d, p, err := domains.Mesh().Find("marketing.crm_contacts")
	if err != nil {
		t.Fatal(err)
	}
	var check mesh.Check
	for _, c := range p.AllChecks() {
		if c.Name == "email_has_at_sign" {
			check = c
		}
	}
	db, err := transform.Open(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE model AS SELECT * FROM (VALUES ('c3', 'nope'), ('c1', 'a@example.com'), ('c2', 'broken')) t(contact_id, email)`); err != nil {
		t.Fatal(err)
	}
	rows := sample(t, db, check, p.PrimaryKey)
	rows.Failing, rows.SQL = 2, quality.PortSQL(check, d.Name+"."+p.PortName(), "", "")
	const runID = "run-7"
	r := quality.Result{Name: check.Name, Kind: string(check.Kind), Severity: mesh.Warn, Status: mesh.StatusWarn, Failing: 2, Message: "2 offending rows",
		RowsKey: flow.FailingRowsKey("marketing", "crm_contacts", runID, check.Name), Sampled: len(rows.Rows)}
	if err := stores.Lake.PutJSON(ctx, r.RowsKey, rows); err != nil {
		t.Fatal(err)
	}
	run := flow.RunRecord{Domain: "marketing", Product: "crm_contacts", WorkflowID: "marketing.crm_contacts/current", RunID: runID,
		Status: flow.StatusPublished, SnapshotID: snap.ID, Rows: 3, FinishedAt: published, StartedAt: published,
		Checks: []quality.Result{{Name: "unique_contact_id", Status: mesh.StatusPass}, r}}
	if err := stores.Lake.PutJSON(ctx, flow.RunRecordKey(run.Domain, run.Product, run.FinishedAt, run.RunID), run); err != nil {
		t.Fatal(err)
	}
}

func sample(t *testing.T, db *sql.DB, c mesh.Check, key []string) quality.FailingRows {
	t.Helper()
	rows, err := quality.Sample(context.Background(), db, c, key, quality.SampleLimit)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// mesh check-rows prints the rows a warning check kept, in key order, and a mesh
// query command that finds every one in the port — which it does; --json gives the
// same; mesh show lists them under the checks. An unknown check fails naming the
// product's checks, a passing one says it passed.
func TestCheckRowsPrintsTheSampleAndTheSQL(t *testing.T) {
	lakeDir := testLake(t)
	seedWarningRun(t, lakeDir)

	out, err := runMesh(t, "check-rows", "marketing.crm_contacts", "email_has_at_sign")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	// email is personal data (a column tagged mesh.TagEmail): masked for a caller who
	// may read no restricted port; mesh query, below, reads the values as stored.
	const table = "contact_id  email\nc2          •••\nc3          •••\n(2 rows)\nemail masked: personal data, shown with the MESHFLOW_TOKEN of a principal who may read a restricted port.\n"
	for _, want := range []string{"marketing.crm_contacts: email_has_at_sign warn in run run-7 (marketing.crm_contacts/current, published", ": 2 offending rows\n",
		table, "Every one (these rows are in the port's current snapshot; the SQL finds every one):",
		`mesh query 'WITH model AS (SELECT * FROM marketing.crm_contacts_v1) SELECT * FROM (SELECT * FROM model WHERE email IS NOT NULL AND email NOT LIKE '\''%_@_%'\'')'`} {
		if !strings.Contains(out, want) {
			t.Errorf("mesh check-rows lacks %q:\n%s", want, out)
		}
	}

	out, err = runMesh(t, "check-rows", "marketing.crm_contacts", "email_has_at_sign", "--json", "--run", "run-7")
	if err != nil {
		t.Fatal(err)
	}
	var f catalog.FailingRows
	if err := json.Unmarshal([]byte(out), &f); err != nil {
		t.Fatal(err, out)
	}
	if len(f.Rows) != 2 || *f.Rows[0][0] != "c2" || f.RunID != "run-7" || f.Failing != 2 {
		t.Errorf("--json: %+v", f)
	}

	// The SQL, as printed, finds every offending row through mesh query.
	out, err = runMesh(t, "query", f.SQL)
	if err != nil || !strings.Contains(out, "c2          broken\n") || !strings.Contains(out, "c3          nope\n") || !strings.Contains(out, "(2 rows)") {
		t.Errorf("mesh query of the printed SQL: %v\n%s", err, out)
	}

	out, err = runMesh(t, "show", "marketing.crm_contacts", "--sample", "0")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Offending rows of email_has_at_sign (warn: 2 offending rows; all the run kept: mesh check-rows marketing.crm_contacts email_has_at_sign):",
		"  contact_id  email\n  c2          •••\n", "  email masked: personal data", "  mesh query 'WITH model AS"} {
		if !strings.Contains(out, want) {
			t.Errorf("mesh show lacks %q:\n%s", want, out)
		}
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"email_has_at", "--json"}, `marketing.crm_contacts has no check "email_has_at"; its checks are unique_contact_id, `},
		{[]string{"unique_contact_id"}, "unique_contact_id passed in run run-7"},
		{[]string{"email_has_at_sign", "--run", "run-1"}, "marketing.crm_contacts has no run run-1; its newest runs are run-7"},
	} {
		out, err := runMesh(t, append([]string{"check-rows", "marketing.crm_contacts"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || report(context.Background(), err, &strings.Builder{}) != exitFailure {
			t.Errorf("mesh check-rows %v: %v, want exit %d with %q\n%s", tc.args, err, exitFailure, tc.want, out)
		}
	}

	// A restricted product's rows, as its page, need a token in its groups: without
	// one even its checks' names stay unsaid.
	if out, err := runMesh(t, "check-rows", "marketing.crm_deals", "no_such_check"); !access.IsDenied(err) || strings.Contains(out, "its checks are") {
		t.Errorf("mesh check-rows of a restricted product without a token: %v\n%s", err, out)
	}
}
