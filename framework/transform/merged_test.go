package transform

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/quality"
)

// TestCheckMergedWithoutThePort: with the merge's counts known, a row count is decided
// from them and the staged rows — 10 port rows, 3 replaced, 2 staged make 9 — and an
// SQL check of each row by itself that the port passed under the same query runs on
// the staged rows; only another check across rows makes the merge read the port.
func TestCheckMergedWithoutThePort(t *testing.T) {
	ctx := context.Background()
	staged := filepath.Join(t.TempDir(), "staged.parquet")
	db, err := Open(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "COPY (SELECT * FROM (VALUES ('a', 1), ('b', -2)) AS v(id, n)) TO "+quality.Literal(staged)+" (FORMAT parquet)"); err != nil {
		t.Fatal(err)
	}
	positive := mesh.SQL("positive", "SELECT * FROM model WHERE n <= 0")
	above := mesh.SQL("above_average", "SELECT * FROM model WHERE n > (SELECT avg(n) * 100 FROM model)")
	m := Merged{Port: PortInput{Domain: "d", Product: "p"}, Staged: staged, KeyColumns: []string{"id"}, Counts: &MergeCounts{PortRows: 10, Replaced: 3},
		PortPassed: map[string]string{"positive": quality.SQLHash(positive.SQL), "above_average": quality.SQLHash(above.SQL)}}
	checks := []mesh.Check{mesh.Unique("id"), mesh.NotNull("id"), mesh.RowCount(1, 8), positive}
	reads := func(m Merged, checks ...mesh.Check) bool {
		t.Helper()
		plan, err := m.Plan(ctx, checks)
		if err != nil {
			t.Fatal(err)
		}
		return plan.ReadsPort()
	}
	if reads(m, checks...) {
		t.Error("a unique key, a not null, a row count with counts known and a row-local SQL check the port passed read the port")
	}
	noCounts := m
	noCounts.Counts = nil
	if !reads(noCounts, mesh.RowCount(1, 8)) {
		t.Error("a row count without counts does not read the port")
	}
	changed := m
	changed.PortPassed = map[string]string{"positive": quality.SQLHash("SELECT * FROM model WHERE n < 0")}
	if !reads(changed, positive) {
		t.Error("an SQL check the port passed under another query does not read the port")
	}
	if !reads(m, above) {
		t.Error("an SQL check across rows does not read the port")
	}
	plan, err := m.Plan(ctx, checks)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := CheckMerged(ctx, m, plan, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 4 || rs[0].Status != mesh.StatusPass || rs[1].Status != mesh.StatusPass {
		t.Fatalf("results %+v", rs)
	}
	if rc := rs[2]; rc.Kind != string(mesh.KindRowCount) || rc.Failing != 9 || rc.Status != mesh.StatusFail || rc.Message != "9 rows, want between 1 and 8" {
		t.Errorf("row count %+v, want 9 rows failing its maximum of 8", rc)
	}
	if p := rs[3]; p.Name != "positive" || p.Failing != 1 || p.Status != mesh.StatusFail || p.SQLHash != quality.SQLHash(positive.SQL) {
		t.Errorf("positive %+v, want the staged row b failing", p)
	}
}

// TestRowLocalSQL: which SQL checks judge each row by itself, the same at any time.
func TestRowLocalSQL(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for q, want := range map[string]bool{
		"SELECT * FROM model WHERE email IS NOT NULL AND email NOT LIKE '%_@_%'":                       true,
		"select * from MODEL where resolved_at < created_at":                                           true,
		"SELECT * FROM model WHERE status_category = 'done' AND resolved_at IS NULL":                   true,
		"SELECT * FROM model WHERE lower(trim(state)) NOT IN ('open', 'closed') OR n BETWEEN -1 AND 0": true,
		"SELECT * FROM model WHERE CASE WHEN a THEN b > 0 ELSE CAST(c AS INT) < 0 END":                 true,
		"SELECT * FROM model": true,
		"SELECT * FROM model WHERE n > (SELECT avg(n) FROM model)":                        false, // a subquery
		"SELECT * FROM model WHERE id IN (SELECT id FROM other)":                          false,
		"SELECT * FROM model WHERE updated_at < now() - INTERVAL 1 DAY":                   false, // the clock
		"SELECT * FROM model WHERE due < current_date":                                    false,
		"SELECT * FROM model WHERE random() < 0.5":                                        false,
		"SELECT DISTINCT * FROM model WHERE n < 0":                                        false,
		"SELECT * FROM model WHERE n < 0 LIMIT 1":                                         false,
		"SELECT id FROM model WHERE n < 0":                                                false,
		"SELECT * FROM model WHERE n < 0 QUALIFY row_number() OVER (PARTITION BY id) > 1": false,
		"SELECT * FROM model JOIN other USING (id)":                                       false,
		"SELECT id, count(*) FROM model GROUP BY id HAVING count(*) > 1":                  false,
		"WITH x AS (SELECT 1) SELECT * FROM model":                                        false,
		"SELECT * FROM model WHERE n < 0; SELECT * FROM model":                            false,
		"not sql at all": false,
	} {
		got, err := rowLocalSQL(ctx, db, q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if got != want {
			t.Errorf("rowLocalSQL(%q) = %v, want %v", q, got, want)
		}
	}
}
