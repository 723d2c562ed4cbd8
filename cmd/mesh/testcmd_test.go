package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// mesh test passes the registered mesh's model tests, one line each; in a checkout
// whose saved expected rows are wrong it shows the diff and exits 1, with no rebuild
// and no environment.
func TestMeshTest(t *testing.T) {
	var out, errOut bytes.Buffer
	t.Setenv("MESHFLOW_LAKE", "::not a lake::") // test reads no configuration
	err := run(context.Background(), []string{"test"}, &out, &errOut)
	if err != nil || !strings.Contains(out.String(), "\nok: ") {
		t.Fatalf("mesh test on the registered mesh: %v\n%s%s", err, out.String(), errOut.String())
	}
	for _, want := range []string{"ok   engineering.delivery_metrics/weeks_begin_on_monday_utc (", "ok   identity.company_ids/one_domain_across_systems ("} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("mesh test printed\n%s\nwant a line %q", out.String(), want)
		}
	}

	// A checkout of the metrics domain's folder with an expected row saved wrong.
	root := checkout(t, "metrics")
	tests := filepath.Join("..", "..", "domains", "metrics", "tests")
	if err := os.CopyFS(filepath.Join(root, "domains", "metrics", "tests"), os.DirFS(tests)); err != nil {
		t.Fatal(err)
	}
	expected := filepath.Join(root, "domains", "metrics", "tests", "revenue_engagement_weekly", "quarter_expected.csv")
	b, err := os.ReadFile(expected)
	if err != nil {
		t.Fatal(err)
	}
	wrong := strings.Replace(string(b), "2026-03-30,co_acme,50,1,500,1,2026-01-01,150,", "2026-03-30,co_acme,50,1,500,1,2026-04-01,50,", 1)
	if err := os.WriteFile(expected, []byte(wrong), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(root)
	out.Reset()
	errOut.Reset()
	err = run(context.Background(), []string{"test", "metrics"}, &out, &errOut)
	if code := report(context.Background(), err, &errOut); code != exitFailure {
		t.Fatalf("a wrong expectation: exit %d, want %d\n%s%s", code, exitFailure, out.String(), errOut.String())
	}
	for _, want := range []string{
		"FAIL metrics.revenue_engagement_weekly/deals_by_close_week_and_quarter (",
		"    the model returned 3 rows, 3 expected: 1 missing (-), 1 unexpected (+)\n" +
			"      week_start  company_gid  won_amount  won_deals  open_pipeline_amount  open_deals  events  quarter_start  quarter_to_date_won_amount  signups\n" +
			"    + 2026-03-30  co_acme      50.0        1          500.0                 1           0       2026-01-01     150.0                       0\n" +
			"    - 2026-03-30  co_acme      50.0        1          500.0                 1           0       2026-04-01     50.0                        0\n",
		"ok   metrics.revenue_engagement_weekly/year_over_year_by_iso_week (",
		"mesh: test: 1 of 4 model tests failed",
	} {
		if !strings.Contains(out.String()+errOut.String(), want) {
			t.Errorf("mesh test metrics printed\n%s%s\nwant\n%s", out.String(), errOut.String(), want)
		}
	}
	if strings.Contains(out.String(), "engineering.") {
		t.Errorf("mesh test metrics ran another domain's tests:\n%s", out.String())
	}
	err = run(context.Background(), []string{"test", "nonesuch"}, &out, &errOut)
	if code := report(context.Background(), err, &errOut); code != exitUsage {
		t.Errorf("an unknown domain or product: exit %d, want %d", code, exitUsage)
	}
}
