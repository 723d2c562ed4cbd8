package transform

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/quality"
)

// TestCheckMergedCountsRows: with the merge's counts known, a row count is decided
// from them and the staged rows — 10 port rows, 3 replaced, 2 staged make 9 — and
// only a check across rows makes the merge read the port.
func TestCheckMergedCountsRows(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	staged := filepath.Join(dir, "staged.parquet")
	db, err := Open(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "COPY (SELECT * FROM (VALUES ('a', 1), ('b', 2)) AS v(id, n)) TO "+quality.Literal(staged)+" (FORMAT parquet)"); err != nil {
		t.Fatal(err)
	}
	key := []string{"id"}
	checks := []mesh.Check{mesh.Unique("id"), mesh.NotNull("id"), mesh.RowCount(1, 8)}
	if ReadsPort(checks, key, true) {
		t.Error("a unique key, a not null and a row count with counts known read the port")
	}
	if !ReadsPort(checks, key, false) {
		t.Error("a row count without counts does not read the port")
	}
	if !ReadsPort(append(checks, mesh.SQL("positive", "SELECT * FROM model WHERE n <= 0")), key, true) {
		t.Error("an SQL check does not read the port")
	}
	m := Merged{Port: PortInput{Domain: "d", Product: "p"}, Staged: staged, KeyColumns: key, Counts: &MergeCounts{PortRows: 10, Replaced: 3}}
	rs, err := CheckMerged(ctx, m, checks, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 3 || rs[0].Status != mesh.StatusPass || rs[1].Status != mesh.StatusPass {
		t.Fatalf("results %+v", rs)
	}
	if rc := rs[2]; rc.Kind != string(mesh.KindRowCount) || rc.Failing != 9 || rc.Status != mesh.StatusFail || rc.Message != "9 rows, want between 1 and 8" {
		t.Errorf("row count %+v, want 9 rows failing its maximum of 8", rc)
	}
}
