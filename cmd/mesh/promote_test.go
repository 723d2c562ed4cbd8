package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/meshflow/meshflow/framework/flow"
)

// A preview on a branch, end to end through the CLI: a run publishes
// marketing.crm_companies on branch preview (its Transform and Publish activities, in
// process; what it lands is landed for every run, as any landing); mesh query reads
// main unless --branch; mesh diff --branch compares the
// preview with main; mesh promote refuses when main moved, naming both snapshots, and
// after a run on the branch again makes it main and removes the branch.
func TestPreviewOnABranchCommands(t *testing.T) {
	lakeDir := testLake(t)
	mesh := meshIO
	contains := func(what, text string, wants ...string) {
		t.Helper()
		for _, w := range wants {
			if !strings.Contains(text, w) {
				t.Errorf("%s does not say %q:\n%s", what, w, text)
			}
		}
	}
	main := publishCompanies(t, lakeDir, "run1",
		company("1", "Acme", 120, "2026-02-01T00:00:00Z", false),
		company("2", "Globex", 40, "2026-02-01T00:00:00Z", false))
	preview := publishCompaniesOn(t, lakeDir, "preview", "run2",
		company("1", "Acme", 150, "2026-02-02T00:00:00Z", false),
		company("3", "Initech", 9, "2026-02-02T00:00:00Z", false))

	const q = "SELECT company_id, employees FROM marketing.crm_companies_v1 ORDER BY company_id"
	out, stderr, code := mesh("query", q, "--format", "csv")
	if code != exitOK || out != "company_id,employees\n1,120\n2,40\n" {
		t.Errorf("main after a preview: exit %d\n%s%s", code, out, stderr)
	}
	out, stderr, code = mesh("query", q, "--branch", "preview", "--format", "csv")
	if code != exitOK || out != "company_id,employees\n1,150\n2,40\n3,9\n" {
		t.Errorf("query --branch: exit %d\n%s%s", code, out, stderr)
	}
	out, _, _ = mesh("query", q, "--branch", "preview")
	contains("mesh query --branch", out, "read marketing.crm_companies_v1 at snapshot "+itoa(preview)+" of ", " on branch preview\n")
	_, stderr, code = mesh("query", q, "--branch", "other", "--format", "csv")
	contains("mesh query --branch other", stderr, "marketing.crm_companies_v1 has no branch other: read main")
	if code != exitOK {
		t.Errorf("query --branch other: exit %d\n%s", code, stderr)
	}

	out, stderr, code = mesh("diff", "marketing.crm_companies", "--branch", "preview")
	contains("mesh diff --branch", out, "branch preview compared with main (what mesh promote would change)\n",
		"marketing.crm_companies_v1: snapshot "+itoa(main)+" (2 rows, published ", " → snapshot "+itoa(preview)+" (3 rows, published ",
		"rows: 1 added, 0 removed, 1 changed, 1 unchanged")
	if code != exitOK {
		t.Errorf("diff --branch: exit %d\n%s", code, stderr)
	}

	// Main moves: promote refuses, naming both snapshots and the run to redo.
	moved := publishCompanies(t, lakeDir, "run3", company("2", "Globex", 41, "2026-02-03T00:00:00Z", false))
	_, stderr, code = mesh("promote", "marketing.crm_companies", "--branch", "preview")
	contains("mesh promote after main moved", stderr, "the branch was made from snapshot "+itoa(main), "main is now at snapshot "+itoa(moved),
		"mesh run marketing.crm_companies --branch preview")
	if code != exitFailure {
		t.Errorf("promote after main moved: exit %d", code)
	}

	// Globex archived: the branch, made again from main, leaves it out.
	again := publishCompaniesOn(t, lakeDir, "preview", "run4", company("2", "Globex", 41, "2026-02-04T00:00:00Z", true))
	out, stderr, code = mesh("promote", "marketing.crm_companies", "--branch", "preview")
	contains("mesh promote", out, "promoted branch preview of marketing.crm_companies_v1: main moved from snapshot "+itoa(moved)+" to snapshot "+itoa(again)+" (2 rows",
		"branch preview removed")
	if code != exitOK {
		t.Errorf("promote: exit %d\n%s", code, stderr)
	}
	out, _, _ = mesh("query", q, "--format", "csv")
	if out != "company_id,employees\n1,150\n3,9\n" {
		t.Errorf("main after promote:\n%s", out)
	}

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"promote", "marketing.crm_companies", "--branch", "preview"}, exitFailure, "marketing.crm_companies_v1 has no branch preview: `mesh run marketing.crm_companies --branch preview` publishes a preview there first"},
		{[]string{"promote", "marketing.crm_companies"}, exitUsage, "--branch names the preview branch"},
		{[]string{"promote", "marketing.crm_companies", "--branch", "main"}, exitFailure, `branch "main" is the port itself`},
		{[]string{"diff", "marketing.crm_companies", "--branch", "preview"}, exitFailure, "has no branch preview"},
		{[]string{"diff", "marketing.crm_companies", "--branch", "preview", "--proposed"}, exitUsage, "give one"},
		{[]string{"query", q, "--branch", "a/b"}, exitFailure, "branch name \"a/b\""},
	} {
		_, stderr, code := mesh(tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("mesh %v: exit %d, want %d saying %q:\n%s", tc.args, code, tc.code, tc.want, stderr)
		}
	}
}

// The mesh run a failed selection prints to run the rest again stays on its branch.
func TestRerunCommandKeepsTheBranch(t *testing.T) {
	if got := rerunCommand([]string{"marketing.crm_deals"}, flow.RunInput{Branch: "preview"}); got != "mesh run marketing.crm_deals --branch preview" {
		t.Errorf("rerun = %q", got)
	}
}

// meshIO runs mesh with args as the shell would: its stdout, its stderr (with the
// error it exits with) and its exit code.
func meshIO(args ...string) (stdout, stderr string, code int) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, &out, &errOut)
	code = report(context.Background(), err, &errOut)
	return out.String(), errOut.String(), code
}
