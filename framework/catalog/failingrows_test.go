package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"strings"
	"testing"
	"time"

	"github.com/meshflow/meshflow/framework/access"
	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/quality"
)

// keepRows stores rows as what a run kept of check, as the Check activity writes it,
// and returns the result that points to it.
func (f *accessFixture) keepRows(t *testing.T, product, runID string, r quality.Result, cols []string, rows [][]*string, sql string) quality.Result {
	t.Helper()
	fr := quality.FailingRows{Check: r.Name, Kind: r.Kind, Failing: r.Failing, Rows: rows, SQL: sql, OrderBy: cols[:1]}
	for _, c := range cols {
		fr.Columns = append(fr.Columns, quality.Column{Name: c, Type: "VARCHAR"})
	}
	r.RowsKey, r.Sampled = flow.FailingRowsKey("sales", product, runID, r.Name), len(rows)
	if err := f.lake.PutJSON(context.Background(), r.RowsKey, fr); err != nil {
		t.Fatal(err)
	}
	return r
}

func text(s string) *string { return &s }

// A blocked run's failing check shows its offending rows on the product page (the
// first 10, with the command for all), in the API (every sampled row) and through
// CheckRows, each with the SQL that finds them all and the word that the rows were in
// output never published.
func TestFailingRowsShowOnThePageAndInTheAPI(t *testing.T) {
	f := newAccessFixture(t)
	published := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Second)
	snap := f.publishLeads(t, published)
	var rows [][]*string
	for i := range 12 {
		rows = append(rows, []*string{text(fmt.Sprintf("lead-%02d", i/2)), nil})
	}
	const sql = `SELECT * FROM sales.leads_v1 QUALIFY count(*) OVER (PARTITION BY "lead_id") > 1`
	blockedAt := published.Add(time.Hour)
	res := f.keepRows(t, "leads", fmt.Sprint("run-", blockedAt.UnixMilli()), quality.Result{Name: "unique_lead_id", Kind: "unique", Severity: mesh.Error,
		Status: mesh.StatusFail, Failing: 6, Message: "6 duplicate rows"}, []string{"lead_id", "owner"}, rows, sql)
	f.recordRun(t, flow.RunRecord{Status: flow.StatusBlocked, Error: "quality gate", FinishedAt: blockedAt, Checks: []quality.Result{res}})

	_, page := f.do(t, "GET", "/products/sales.leads", "", nil, nil)
	for _, want := range []string{
		`Offending rows of <span class="fail">unique_lead_id</span>`,
		"6 duplicate rows; the run kept 12 offending rows, in lead_id order — the first 10 below, all 12 with <code>mesh check-rows sales.leads unique_lead_id</code>",
		"<th>lead_id</th><th>owner</th>", "<tr><td>lead-00</td><td>NULL</td></tr>", "<td>lead-04</td>",
		html.EscapeString(sql), fmt.Sprintf("never published; the SQL reads the port&#39;s current snapshot (%d)", snap.ID),
	} {
		if !strings.Contains(page, want) {
			t.Errorf("product page lacks %q", want)
		}
	}
	if strings.Contains(page, "lead-05") {
		t.Errorf("product page shows more than the first 10 rows")
	}

	_, body := f.do(t, "GET", "/api/products/sales.leads", "", nil, nil)
	var det Detail
	if err := json.Unmarshal([]byte(body), &det); err != nil {
		t.Fatal(err)
	}
	if len(det.FailingRows) != 1 {
		t.Fatalf("API failing rows %+v", det.FailingRows)
	}
	got := det.FailingRows[0]
	if got.Check != "unique_lead_id" || len(got.Rows) != 12 || *got.Rows[11][0] != "lead-05" || got.Rows[0][1] != nil || got.SQL != sql ||
		got.Command != "mesh query '"+sql+"'" || got.RunStatus != flow.StatusBlocked || !strings.Contains(got.Note, "never published") {
		t.Errorf("API failing rows %+v", got)
	}

	cr, err := f.cat.CheckRows(context.Background(), "sales.leads", "unique_lead_id", "")
	if err != nil || len(cr.Rows) != 12 || cr.SQL != sql {
		t.Fatalf("CheckRows = %+v, %v", cr, err)
	}
}

// CheckRows names what it cannot show: an unknown check (listing the product's
// checks), a check that passed in the run, a run that does not exist.
func TestCheckRowsSaysWhyThereAreNone(t *testing.T) {
	f := newAccessFixture(t)
	ctx := context.Background()
	if _, err := f.cat.CheckRows(ctx, "sales.leads", "unique_lead_id", ""); !errs.Is(err, errs.NotFound) || !strings.Contains(err.Error(), "no run that ran its checks yet: mesh run sales.leads") {
		t.Errorf("before any run: %v", err)
	}
	published := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	f.publishLeads(t, published)
	for _, tc := range []struct{ check, run, want string }{
		{"unique_leadid", "", `sales.leads has no check "unique_leadid"; its checks are unique_lead_id`},
		{"unique_lead_id", "", "unique_lead_id passed in run run-"},
		{"unique_lead_id", "run-nope", "sales.leads has no run run-nope; its newest runs are run-"},
	} {
		_, err := f.cat.CheckRows(ctx, "sales.leads", tc.check, tc.run)
		if !errs.Is(err, errs.NotFound) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CheckRows(%s, %q) = %v, want %q", tc.check, tc.run, err, tc.want)
		}
	}
}

// A restricted product's offending rows and their SQL go only to callers who may
// read it: the refused page and API show none of them, nor the check, and CheckRows
// refuses; its reader sees them. A run from before samples were kept still gets the
// SQL, from the check as declared.
func TestRestrictedFailingRowsOnlyForReaders(t *testing.T) {
	f := newAccessFixture(t)
	finished := time.Now().UTC().Truncate(time.Second).Add(time.Minute)
	res := f.keepRows(t, "deals", fmt.Sprint("run-", finished.UnixMilli()), quality.Result{Name: "amount_not_negative", Kind: "sql", Severity: mesh.Error,
		Status: mesh.StatusFail, Failing: 1, Message: "1 offending row"}, []string{"deal_id", "deal_name", "amount"},
		[][]*string{{text("d9"), text("Zephyr-Deal-7731"), text("-5")}}, "WITH model AS (SELECT * FROM sales.deals_v1) SELECT * FROM (SELECT * FROM model WHERE amount < 0)")
	f.recordRun(t, flow.RunRecord{Domain: "sales", Product: "deals", Status: flow.StatusBlocked, Error: "quality gate", FinishedAt: finished, Checks: []quality.Result{res}})

	for _, token := range []string{"", mktToken} {
		_, page := f.do(t, "GET", "/products/sales.deals", token, nil, nil)
		_, api := f.do(t, "GET", "/api/products/sales.deals", token, nil, nil)
		for what, body := range map[string]string{"page": page, "API": api} {
			noSecrets(t, "the refused "+what, body)
			for _, absent := range []string{"Offending rows", "failing_rows", "amount_not_negative", "amount &lt; 0", "amount < 0", "d9"} {
				if strings.Contains(body, absent) {
					t.Errorf("the refused %s (token %q) shows %q", what, token, absent)
				}
			}
		}
		caller := access.Caller{Path: access.PathCLI}
		if token != "" {
			caller.Principal, _ = f.cat.Access.Authenticate(token)
		}
		if _, err := f.cat.CheckRows(access.NewContext(context.Background(), caller), "sales.deals", "amount_not_negative", ""); !access.IsDenied(err) {
			t.Errorf("CheckRows for %q: %v, want a refusal", token, err)
		}
	}

	_, page := f.do(t, "GET", "/products/sales.deals", salesToken, nil, nil)
	for _, want := range []string{"Offending rows of", "<td>Zephyr-Deal-7731</td><td>-5</td>", "SELECT * FROM model WHERE amount &lt; 0"} {
		if !strings.Contains(page, want) {
			t.Errorf("the reader's page lacks %q", want)
		}
	}

	// The fixture's older run kept no rows: the SQL comes from the declared check.
	older := time.Now().UTC().Add(-time.Hour)
	r := flow.RunRecord{Domain: "sales", Product: "deals", RunID: "r-old", WorkflowID: "sales.deals/old", Status: flow.StatusBlocked, FinishedAt: older,
		Checks: []quality.Result{{Name: "amount_not_negative", Kind: "sql", Status: mesh.StatusFail, Failing: 2}}}
	got := f.cat.failingRows(context.Background(), f.cat.Mesh.Domains[0], f.cat.Mesh.Domains[0].Products[0], r, nil)
	if len(got) != 1 || len(got[0].Rows) != 0 || got[0].SQL != "WITH model AS (SELECT * FROM sales.deals_v1) SELECT * FROM (SELECT * FROM model WHERE amount < 0)" {
		t.Errorf("a run without kept rows: %+v", got)
	}
}
