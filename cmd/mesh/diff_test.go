package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/meshflow/meshflow/domains"
	"github.com/meshflow/meshflow/framework/access"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/source"
	"github.com/meshflow/meshflow/workers/host"
)

// companiesPage is a landing of hubspot.companies: one page of records as HubSpot
// sends them.
type companiesPage struct {
	spec    source.StreamSpec
	records []string
}

func (s companiesPage) Spec() source.StreamSpec { return s.spec }

func (s companiesPage) NextPage(context.Context, source.PageRequest) (source.Page, error) {
	page := source.Page{Next: json.RawMessage(`{"v":1}`), Done: true}
	for _, r := range s.records {
		page.Records = append(page.Records, json.RawMessage(r))
	}
	return page, nil
}

func company(id, name string, employees int, updated string, archived bool) string {
	b, _ := json.Marshal(map[string]any{
		"id": id, "updatedAt": updated, "archived": archived,
		"properties": map[string]any{"name": name, "domain": "https://www." + strings.ToLower(name) + ".example/", "numberofemployees": employees,
			"createdate": "2026-01-01T00:00:00Z", "hs_lastmodifieddate": updated},
	})
	return string(b)
}

// publishCompanies lands records of hubspot.companies into the CLI's lake and runs
// marketing.crm_companies' Transform and Publish activities over every landing, as a
// run does, returning the snapshot published.
func publishCompanies(t *testing.T, lakeDir, runID string, records ...string) int64 {
	t.Helper()
	return publishCompaniesOn(t, lakeDir, "", runID, records...)
}

// publishCompaniesOn is publishCompanies as a run on branch ("" = main) does it.
func publishCompaniesOn(t *testing.T, lakeDir, branch, runID string, records ...string) int64 {
	t.Helper()
	ctx := context.Background()
	stores := openStores(t, lakeDir)
	var spec source.StreamSpec
	for _, c := range host.Connectors() {
		for _, s := range c.Streams {
			if c.Name == "hubspot" && s.Name == "companies" {
				spec = s
			}
		}
	}
	ref := lake.StreamRef{Domain: "marketing", Source: "hubspot", Stream: "companies"}
	if _, err := stores.Lake.Land(ctx, companiesPage{spec, records}, lake.LandRequest{Stream: ref, RunID: runID, SyncStart: time.Now()}); err != nil {
		t.Fatal(err)
	}
	acts := &flow.Activities{Mesh: domains.Mesh(), Lake: stores.Lake, Ports: stores.Ports, WorkDir: t.TempDir()}
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(acts)
	v, err := env.ExecuteActivity(acts.Transform, flow.TransformInput{Domain: "marketing", Product: "crm_companies", RunID: runID, Branch: branch})
	if err != nil {
		t.Fatal(err)
	}
	var staged flow.TransformOutput
	if err := v.Get(&staged); err != nil {
		t.Fatal(err)
	}
	v, err = env.ExecuteActivity(acts.Publish, flow.PublishInput{Domain: "marketing", Product: "crm_companies", RunID: runID,
		StagingKey: staged.StagingKey, RowsHash: staged.RowsHash, PublishedAt: time.Now().UTC(), Branch: branch})
	if err != nil {
		t.Fatal(err)
	}
	var published flow.PublishOutput
	if err := v.Get(&published); err != nil {
		t.Fatal(err)
	}
	return published.SnapshotID
}

// openStores opens the lake and port catalog of a test lake directory, as the CLI
// does, until the test ends.
func openStores(t *testing.T, lakeDir string) *host.Stores {
	t.Helper()
	cfg, err := host.ConfigFromEnv(func(k string) string {
		if k == "MESHFLOW_LAKE" {
			return lakeDir
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	stores, err := host.OpenStores(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stores.Close() })
	return stores
}

// mesh diff after two runs says what the second changed; --proposed runs the declared
// model over the same inputs and finds nothing to publish, --model a changed one and
// shows what it would change; each way it cannot compare exits 1 naming the fix.
func TestDiffCommand(t *testing.T) {
	lakeDir := testLake(t)
	mesh := meshIO
	_, stderr, code := mesh("diff", "marketing.crm_companies")
	if code != exitFailure || !strings.Contains(stderr, "marketing.crm_companies_v1 has never been published, so there is nothing to compare: run `mesh run marketing.crm_companies` first") {
		t.Errorf("before any run: exit %d\n%s", code, stderr)
	}

	first := publishCompanies(t, lakeDir, "run1",
		company("1", "Acme", 120, "2026-02-01T00:00:00Z", false),
		company("2", "Globex", 40, "2026-02-01T00:00:00Z", false),
		company("3", "Initech", 9, "2026-02-01T00:00:00Z", false))
	_, stderr, code = mesh("diff", "crm_companies")
	if code != exitFailure || !strings.Contains(stderr, "has only one snapshot") || !strings.Contains(stderr, "--proposed") {
		t.Errorf("after one run: exit %d\n%s", code, stderr)
	}
	second := publishCompanies(t, lakeDir, "run2",
		company("1", "Acme", 150, "2026-02-02T00:00:00Z", false),
		company("2", "Globex", 40, "2026-02-02T00:00:00Z", true), // archived: leaves the port
		company("4", "Hooli", 7, "2026-02-02T00:00:00Z", false))

	out, stderr, code := mesh("diff", "marketing.crm_companies")
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	for _, want := range []string{
		"marketing.crm_companies_v1: snapshot " + itoa(first) + " (3 rows, published ",
		" → snapshot " + itoa(second) + " (3 rows, published ",
		"key: company_id\n",
		"\nschema: unchanged\n",
		"\nrows: 1 added, 1 removed, 1 changed, 1 unchanged\nchanged columns: employees (1), updated_at (1)\n",
		"\nadded (1):\n  company_id  name   web_domain     industry  employees  annual_revenue  country  created_at           updated_at           company_gid\n  4           Hooli  hooli.example  NULL              7            NULL  NULL     2026-01-01 00:00:00  2026-02-02 00:00:00  co_",
		"\nremoved (1):\n  company_id  name    ",
		"\nchanged (1):\n  company_id  column      before               after\n  1           employees   120                  150\n  1           updated_at  2026-02-01 00:00:00  2026-02-02 00:00:00\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("mesh diff does not say %q:\n%s", want, out)
		}
	}

	out, _, code = mesh("diff", "marketing.crm_companies", "--json", "--limit", "0")
	var js struct {
		From, To                struct{ Snapshot int64 }
		Added, Removed, Changed int64
		AddedRows               []any `json:"added_rows"`
	}
	if err := json.Unmarshal([]byte(out), &js); code != exitOK || err != nil || js.From.Snapshot != first || js.To.Snapshot != second || js.Added != 1 || js.Removed != 1 || js.Changed != 1 || len(js.AddedRows) != 0 {
		t.Errorf("--json --limit 0: exit %d, %v: %+v\n%s", code, err, js, out)
	}

	// The declared model over the inputs the last run read gives what it published.
	out, stderr, code = mesh("diff", "marketing.crm_companies", "--proposed")
	if code != exitOK || !strings.Contains(out, "snapshot "+itoa(second)+" (3 rows, published ") || !strings.Contains(out, "→ the declared model, run locally, not published (3 rows)") ||
		!strings.Contains(out, "schema: unchanged") || !strings.Contains(out, "rows: 0 added, 0 removed, 0 changed, 3 unchanged") {
		t.Errorf("--proposed: exit %d\n%s%s", code, out, stderr)
	}
	model := filepath.Join(t.TempDir(), "crm_companies.sql")
	_, p, _ := domains.Mesh().Find("marketing.crm_companies")
	changed := strings.Replace(p.Model, "    name,", "    upper(name) AS name,", 1)
	if changed == p.Model {
		t.Fatal("the model no longer selects name as the test expects")
	}
	if err := os.WriteFile(model, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	out, stderr, code = mesh("diff", "marketing.crm_companies", "--model", model, "--limit", "1")
	if code != exitOK || !strings.Contains(out, "→ "+model+", run locally, not published (3 rows)") || !strings.Contains(out, "rows: 0 added, 0 removed, 3 changed, 0 unchanged\nchanged columns: name (3)\n") ||
		!strings.Contains(out, "\nchanged (first 1 of 3, by key; --limit shows more):\n  company_id  column  before  after\n  1           name    Acme    ACME\n") {
		t.Errorf("--model: exit %d\n%s%s", code, out, stderr)
	}
	// Nothing was published.
	out, _, _ = mesh("diff", "marketing.crm_companies", "--limit", "0")
	if !strings.Contains(out, " → snapshot "+itoa(second)+" ") {
		t.Errorf("a diff of a model published it:\n%s", out)
	}

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"diff", "marketing.crm_companies", "--from", "42"}, exitFailure, "has no snapshot 42 (--from): its recent snapshots are " + itoa(second)},
		{[]string{"diff", "marketing.crm_companies", "--to", itoa(first)}, exitFailure, "snapshot " + itoa(first) + " is the first of marketing.crm_companies_v1, so nothing precedes it: give --from"},
		{[]string{"diff", "marketing.crm_companies", "--model", filepath.Join(t.TempDir(), "missing.sql")}, exitFailure, "read --model: open "},
		{[]string{"diff", "marketing.crm_contacts", "--proposed"}, exitFailure, "read raw marketing/hubspot.contacts: nothing has landed yet"},
		{[]string{"diff"}, exitUsage, "mesh diff takes one product name"},
		{[]string{"diff", "marketing.crm_companies", "--from", "latest"}, exitUsage, `invalid argument "latest" for "--from"`},
		{[]string{"diff", "marketing.crm_companies", "--limit", "-1"}, exitUsage, "--limit -1"},
		{[]string{"diff", "marketing.crm_companies", "--proposed", "--to", itoa(second)}, exitUsage, "--to names a published snapshot"},
		{[]string{"diff", "marketing.crm_companies", "--proposed", "--model", model}, exitUsage, "give one"},
	} {
		_, stderr, code := mesh(tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("mesh %v: exit %d, want %d saying %q:\n%s", tc.args, code, tc.code, tc.want, stderr)
		}
	}
}

// A restricted product's diff, of snapshots or of a model, is refused without a token
// in its groups, before anything is read, and audited; with one it goes on.
func TestDiffEnforcesAccess(t *testing.T) {
	testLake(t)
	mesh := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(context.Background(), args, &out, &errOut)
		return out.String(), err
	}
	engineer, err := mesh("access", "add-token", "--name", "engineer", "--groups", "engineering")
	if err != nil {
		t.Fatal(err)
	}
	seller, err := mesh("access", "add-token", "--name", "seller", "--groups", "sales")
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"diff", "marketing.crm_deals"}, {"diff", "marketing.crm_deals", "--proposed"}} {
		if _, err := mesh(args...); !access.IsUnauthenticated(err) {
			t.Errorf("%v without a token: %v, want a 401-style refusal", args, err)
		}
		t.Setenv("MESHFLOW_TOKEN", strings.TrimSpace(engineer))
		if _, err := mesh(args...); !access.IsDenied(err) || !strings.Contains(err.Error(), "sales") {
			t.Errorf("%v with the wrong group: %v, want a 403-style refusal naming the groups", args, err)
		}
		t.Setenv("MESHFLOW_TOKEN", strings.TrimSpace(seller))
		if _, err := mesh(args...); access.IsDenied(err) || err == nil || !strings.Contains(err.Error(), "never") && !strings.Contains(err.Error(), "nothing has landed") {
			t.Errorf("%v with the right group on an empty lake: %v, want past access control", args, err)
		}
		t.Setenv("MESHFLOW_TOKEN", "")
	}
	out, err := mesh("audit", "--json")
	if err != nil || strings.Count(out, `"product": "marketing.crm_deals"`) != 6 {
		t.Errorf("the diffs are not all audited: %v\n%s", err, out)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
