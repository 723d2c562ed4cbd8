package quality_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/quality"
)

// model is 250 contacts keyed by id, inserted in reverse key order: ids ending in 0
// have no email, ids c003 and c007 appear twice, and every fifth row's status is one
// the accepted-values check does not list.
func model(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	_, err = db.Exec(`CREATE TABLE model AS
		SELECT printf('c%03d', i) AS id, CASE WHEN i % 10 = 0 THEN NULL ELSE printf('%d@example.com', i) END AS email,
		       CASE WHEN i % 5 = 0 THEN 'zombie' ELSE 'active' END AS status, i AS n
		FROM range(249, -1, -1) t(i)
		UNION ALL SELECT 'c003', 'second@example.com', 'active', 1003
		UNION ALL SELECT 'c007', 'other@example.com', 'active', 1007`)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func firstColumn(f quality.FailingRows) []string {
	var out []string
	for _, r := range f.Rows {
		if r[0] == nil {
			out = append(out, "NULL")
			continue
		}
		out = append(out, *r[0])
	}
	return out
}

// TestSampleIsBoundedAndOrderedByKey: a check's sample holds its offending rows and
// no others, in primary-key order whatever order the model wrote them in, at most the
// limit, and says when more rows offend.
func TestSampleIsBoundedAndOrderedByKey(t *testing.T) {
	db := model(t)
	ctx := context.Background()
	key := []string{"id"}
	for _, tc := range []struct {
		check mesh.Check
		limit int
		want  []string // ids, in order
		more  bool
	}{
		{mesh.NotNull("email"), 3, []string{"c000", "c010", "c020"}, true},
		{mesh.NotNull("email"), 25, ids(0, 250, 10), false},
		// Both rows of each repeated key, the copies ordered by the other columns.
		{mesh.Unique("id"), quality.SampleLimit, []string{"c003", "c003", "c007", "c007"}, false},
		{mesh.AcceptedValues("status", "active"), quality.SampleLimit, ids(0, 250, 5), false},
		{mesh.SQL("big_n", "SELECT n, id FROM model WHERE n > 240 -- the big ones"), quality.SampleLimit, []string{"c003", "c007", "c241", "c242", "c243", "c244", "c245", "c246", "c247", "c248", "c249"}, false},
	} {
		t.Run(tc.check.Name, func(t *testing.T) {
			got, err := quality.Sample(ctx, db, tc.check, key, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			idCol := 0
			for i, c := range got.Columns {
				if c.Name == "id" {
					idCol = i
				}
			}
			var ids []string
			for _, r := range got.Rows {
				ids = append(ids, *r[idCol])
			}
			if strings.Join(ids, ",") != strings.Join(tc.want, ",") || got.More != tc.more {
				t.Errorf("sample ids %v (more %v), want %v (more %v)", ids, got.More, tc.want, tc.more)
			}
			if len(got.OrderBy) != 1 || got.OrderBy[0] != "id" {
				t.Errorf("ordered by %v, want the primary key first", got.OrderBy)
			}
		})
	}
	// A NULL stays a NULL, not the text "NULL".
	got, _ := quality.Sample(ctx, db, mesh.NotNull("email"), key, 1)
	if got.Columns[1].Name != "email" || got.Rows[0][1] != nil || got.Columns[3].Type != "BIGINT" {
		t.Errorf("columns %v, first row %v", got.Columns, firstColumn(got))
	}
	// A check on the whole table has no rows to sample.
	if got, err := quality.Sample(ctx, db, mesh.RowCount(1, 10), key, 10); err != nil || len(got.Rows) != 0 || len(got.Columns) != 0 {
		t.Errorf("row_count sample %+v, %v", got, err)
	}
}

var testNow = time.Now()

func ids(from, to, step int) []string {
	var out []string
	for i := from; i < to; i += step {
		out = append(out, fmt.Sprintf("c%03d", i))
	}
	return out
}

// TestPortSQLFindsWhatTheCheckCounted: the SQL over the port, run over a table of the
// port's name, returns as many rows as the check counted — every one, not a sample.
func TestPortSQLFindsWhatTheCheckCounted(t *testing.T) {
	db := model(t)
	if _, err := db.Exec(`CREATE SCHEMA crm; CREATE TABLE crm.contacts_v1 AS SELECT * FROM model`); err != nil {
		t.Fatal(err)
	}
	for _, c := range []mesh.Check{mesh.NotNull("email"), mesh.AcceptedValues("status", "active"), mesh.SQL("big_n", "SELECT id FROM model WHERE n > 240")} {
		q := quality.PortSQL(c, "crm.contacts_v1", "", "")
		if strings.Contains(q, "FROM model WHERE") && c.Kind != mesh.KindSQL {
			t.Errorf("%s: %s reads the staged model, not the port", c.Name, q)
		}
		var all, counted int64
		if err := db.QueryRow("SELECT count(*) FROM (" + q + ")").Scan(&all); err != nil {
			t.Fatalf("%s: %s: %v", c.Name, q, err)
		}
		if err := db.QueryRow(quality.Query(c, testNow)).Scan(&counted); err != nil {
			t.Fatal(err)
		}
		if all != counted || all == 0 {
			t.Errorf("%s: the port SQL finds %d rows, the check counted %d", c.Name, all, counted)
		}
	}
	// A check's SQL ending in a comment still runs over the port.
	var big int64
	if err := db.QueryRow("SELECT count(*) FROM (" + quality.PortSQL(mesh.SQL("big_n", "SELECT id FROM model WHERE n > 240 -- the big ones"), "crm.contacts_v1", "", "") + "\n)").Scan(&big); err != nil || big != 11 {
		t.Errorf("a commented check's port SQL finds %d rows (%v), want 11", big, err)
	}
	// A repeated key's every row: both copies of c003 and of c007.
	var repeated int64
	if err := db.QueryRow("SELECT count(*) FROM (" + quality.PortSQL(mesh.Unique("id"), "crm.contacts_v1", "", "") + ")").Scan(&repeated); err != nil || repeated != 4 {
		t.Errorf("the unique check's port SQL finds %d rows (%v), want 4", repeated, err)
	}
	// A partition run's SQL keeps to its day.
	q := quality.PortSQL(mesh.NotNull("email"), "web.traffic_v1", "date", "2024-05-01")
	if want := `SELECT * FROM (SELECT * FROM web.traffic_v1 WHERE "date" = '2024-05-01') WHERE "email" IS NULL`; q != want {
		t.Errorf("partition SQL\n%s\nwant\n%s", q, want)
	}
	if q := quality.PortSQL(mesh.RowCount(1, 0), "crm.contacts_v1", "", ""); q != "SELECT count(*) AS rows FROM crm.contacts_v1" {
		t.Errorf("row_count SQL %s", q)
	}
}
