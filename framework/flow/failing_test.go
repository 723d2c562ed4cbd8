package flow

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/quality"
	"github.com/meshflow/meshflow/framework/transform"
)

// checkedMesh is crm_contacts with an email that warns when missing, a status that
// blocks the publish when not an accepted one, and a custom check.
func checkedMesh() mesh.Mesh {
	m := testMesh()
	p := &m.Domains[0].Products[0]
	p.Schema = append(p.Schema, mesh.Column{Name: "email", Type: mesh.String, Doc: "email"}, mesh.Column{Name: "status", Type: mesh.String, Doc: "status"})
	p.Checks = []mesh.Check{
		mesh.NotNull("email").AsWarn(),
		mesh.AcceptedValues("status", "active", "lost"),
		mesh.SQL("no_example_com", "SELECT id, email FROM model WHERE email LIKE '%@example.com'").AsWarn(),
	}
	return m
}

// TestBlockedRunKeepsItsOffendingRows runs crm_contacts with its real Check and
// RecordRun activities over a staged model of 250 rows written in reverse key order: 125
// have no email (a warning), 5 a status no check accepts (blocking). The run is blocked,
// and its record in the lake points, for each failing or warning check, to a file with
// at most quality.SampleLimit of its offending rows — those and no others, in key order —
// and the SQL that finds every one in the port; the passing check keeps nothing.
func TestBlockedRunKeepsItsOffendingRows(t *testing.T) {
	ctx := context.Background()
	l, err := lake.Open(ctx, "file://"+filepath.Join(t.TempDir(), "lake"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions((&Workflows{Mesh: checkedMesh()}).RunProduct, workflow.RegisterOptions{Name: RunProductWorkflow})
	a := &Activities{Mesh: checkedMesh(), Lake: l, WorkDir: t.TempDir()}
	env.RegisterActivity(a)

	staged := StagingKey("marketing", "crm_contacts_v1", "test-run")
	stage(t, filepath.Join(l.LocalRoot(), filepath.FromSlash(staged)), `
		SELECT printf('c%03d', i) AS id, CASE WHEN i % 2 = 0 THEN NULL ELSE printf('%d@corp.test', i) END AS email,
		       CASE WHEN i % 50 = 7 THEN 'zombie' ELSE 'active' END AS status
		FROM range(249, -1, -1) t(i)`)
	env.OnActivity(a.Land, mock.Anything, mock.Anything).Return(LandOutput{Rows: 250}, nil)
	env.OnActivity(a.Transform, mock.Anything, mock.Anything).Return(TransformOutput{StagingKey: staged, Rows: 250}, nil)

	env.ExecuteWorkflow(RunProductWorkflow, RunInput{Domain: "marketing", Product: "crm_contacts"})
	if err := env.GetWorkflowError(); err == nil || !strings.Contains(err.Error(), "accepted_values_status") {
		t.Fatalf("run error %v, want the quality gate on accepted_values_status", err)
	}
	rec, ok, err := LatestRun(ctx, l, "marketing", "crm_contacts")
	if err != nil || !ok || rec.Status != StatusBlocked {
		t.Fatalf("latest run %+v (%v, %v), want a blocked one", rec, ok, err)
	}
	byName := map[string]quality.Result{}
	for _, r := range rec.Checks {
		byName[r.Name] = r
	}
	if r := byName["unique_id"]; r.Status != mesh.StatusPass || r.RowsKey != "" {
		t.Errorf("passing check %+v keeps rows", r)
	}
	for _, tc := range []struct {
		check   string
		failing int64
		ids     []string
		more    bool
		sql     string
	}{
		{"not_null_email", 125, evens(quality.SampleLimit), true, `SELECT * FROM marketing.crm_contacts_v1 WHERE "email" IS NULL`},
		{"accepted_values_status", 5, []string{"c007", "c057", "c107", "c157", "c207"}, false,
			`SELECT * FROM marketing.crm_contacts_v1 WHERE "status" IS NOT NULL AND CAST("status" AS VARCHAR) NOT IN ('active', 'lost')`},
	} {
		r := byName[tc.check]
		if r.RowsKey != FailingRowsKey("marketing", "crm_contacts", rec.RunID, tc.check) || r.Sampled != len(tc.ids) || r.Failing != tc.failing {
			t.Errorf("%s: result %+v, want it to point to its %d sampled rows", tc.check, r, len(tc.ids))
			continue
		}
		var got quality.FailingRows
		if err := l.GetJSON(ctx, r.RowsKey, &got); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, row := range got.Rows {
			ids = append(ids, *row[0])
		}
		if strings.Join(ids, ",") != strings.Join(tc.ids, ",") || got.More != tc.more || got.Failing != tc.failing {
			t.Errorf("%s: sampled %v (more %v, failing %d), want %v (more %v, failing %d)", tc.check, ids, got.More, got.Failing, tc.ids, tc.more, tc.failing)
		}
		if got.SQL != tc.sql {
			t.Errorf("%s: SQL\n%s\nwant\n%s", tc.check, got.SQL, tc.sql)
		}
	}
	// The custom check found nothing: it passed and keeps nothing.
	if r := byName["no_example_com"]; r.Status != mesh.StatusPass || r.RowsKey != "" {
		t.Errorf("no_example_com %+v", r)
	}
}

// evens are the first n ids of even number: the rows without an email, in key order.
func evens(n int) []string {
	var out []string
	for i := 0; len(out) < n; i += 2 {
		out = append(out, fmt.Sprintf("c%03d", i))
	}
	return out
}

// stage writes the rows of a DuckDB SELECT as a staged model file.
func stage(t *testing.T, path, rows string) {
	t.Helper()
	db, err := transform.Open(context.Background(), "", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := mkdirFor(path); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(fmt.Sprintf(`COPY (%s) TO '%s' (FORMAT parquet)`, rows, path)); err != nil {
		t.Fatal(err)
	}
}
