package transform

import (
	"context"
	"database/sql"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/source"
)

// incrementalEnv writes landings of hubspot.contacts (with tombstones) and
// hubspot.owners, and runs an incremental product over them.
type incrementalEnv struct {
	t   *testing.T
	dir string
	db  *sql.DB
	n   int
}

func newIncrementalEnv(t *testing.T) *incrementalEnv {
	db, err := Open(context.Background(), "", 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &incrementalEnv{t: t, dir: t.TempDir(), db: db}
}

// contacts lands versions (id, owner, updated_at, deleted), extracted at landing n.
func (e *incrementalEnv) contacts(values string) string {
	e.t.Helper()
	e.n++
	p := filepath.Join(e.dir, "contacts-"+strconv.Itoa(e.n)+".parquet")
	mustExec(e.t, e.db, `COPY (SELECT id, owner, CAST(updated_at AS TIMESTAMP) AS updated_at, deleted,
		TIMESTAMP '2026-11-23 00:00:00' + INTERVAL (`+strconv.Itoa(e.n)+`) HOUR AS _extracted_at, 'run' AS _run_id, '{}' AS _raw
		FROM (VALUES `+values+`) AS v(id, owner, updated_at, deleted)) TO '`+p+`' (FORMAT parquet)`)
	return p
}

func (e *incrementalEnv) owners(values string) string {
	e.t.Helper()
	e.n++
	p := filepath.Join(e.dir, "owners-"+strconv.Itoa(e.n)+".parquet")
	mustExec(e.t, e.db, `COPY (SELECT id, name, TIMESTAMP '2026-11-23 00:00:00' + INTERVAL (`+strconv.Itoa(e.n)+`) HOUR AS _extracted_at,
		'run-`+strconv.Itoa(e.n)+`' AS _run_id, '{}' AS _raw FROM (VALUES `+values+`) AS v(id, name)) TO '`+p+`' (FORMAT parquet)`)
	return p
}

func incrementalProduct() mesh.Product {
	return mesh.Product{
		Name: "crm_contacts", Version: "1.0.0",
		Inputs: []mesh.Input{mesh.Raw("hubspot", "contacts"), mesh.Raw("hubspot", "owners")},
		Model: `SELECT c.id AS contact_id, o.name AS owner, c.updated_at FROM hubspot.contacts AS c
		        LEFT JOIN hubspot.owners AS o ON o.id = c.owner`,
		Schema: []mesh.Column{
			{Name: "contact_id", Type: mesh.String, Doc: "id", Required: true},
			{Name: "owner", Type: mesh.String, Doc: "owner"},
			{Name: "updated_at", Type: mesh.Timestamp, Doc: "modified"},
		},
		PrimaryKey:  []string{"contact_id"},
		Incremental: mesh.IncrementalOn(mesh.Raw("hubspot", "contacts"), map[string]string{"contact_id": "id"}),
	}
}

// run runs p over every contacts file, the new ones being changes (nil: everything).
func (e *incrementalEnv) run(p mesh.Product, contacts, owners []string, changes *Changes, lookups map[string]Lookup) (Result, string, string) {
	e.t.Helper()
	e.n++
	out := filepath.Join(e.dir, "model-"+strconv.Itoa(e.n)+".parquet")
	keys := filepath.Join(e.dir, "keys-"+strconv.Itoa(e.n)+".parquet")
	res, err := Run(context.Background(), Request{Product: p, Output: out,
		Raw: []RawInput{
			{Source: "hubspot", Stream: "contacts", Files: contacts, PrimaryKey: []string{"id"}, CursorField: "updated_at", Deleted: "deleted",
				Fields: []source.Field{{Name: "id", Type: source.String}, {Name: "owner", Type: source.String}, {Name: "updated_at", Type: source.Timestamp}, {Name: "deleted", Type: source.Bool}}},
			{Source: "hubspot", Stream: "owners", Files: owners, PrimaryKey: []string{"id"},
				Fields: []source.Field{{Name: "id", Type: source.String}, {Name: "name", Type: source.String}}},
		},
		Incremental: &Incremental{Changes: changes, Lookups: lookups, KeysOutput: keys}})
	if err != nil {
		e.t.Fatal(err)
	}
	return res, out, keys
}

// rows reads a query's single text column, in order.
func (e *incrementalEnv) rows(q string) string {
	e.t.Helper()
	rows, err := e.db.Query(q)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s sql.NullString
		if err := rows.Scan(&s); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, s.String)
	}
	return strings.Join(out, " ")
}

// merged is what the port holds after merging a run's rows into the rows before.
func (e *incrementalEnv) merged(before, out, keys string) string {
	return e.rows(`SELECT contact_id || ':' || coalesce(owner, '-') FROM (
		SELECT * FROM read_parquet('` + before + `') WHERE contact_id NOT IN (SELECT contact_id FROM read_parquet('` + keys + `'))
		UNION ALL SELECT * FROM read_parquet('` + out + `')) ORDER BY 1`)
}

func (e *incrementalEnv) whole(out string) string {
	return e.rows(`SELECT contact_id || ':' || coalesce(owner, '-') FROM read_parquet('` + out + `') ORDER BY 1`)
}

// TestIncrementalReadsOnlyTheChangedRecords: after a full run, a run given the new
// landings recomputes just their records — an update, a new one, a deletion, a late
// arrival that must not win — and what it returns, merged by key into the rows
// before, is what a full run computes.
func TestIncrementalReadsOnlyTheChangedRecords(t *testing.T) {
	e := newIncrementalEnv(t)
	p := incrementalProduct()
	owners := []string{e.owners(`('o1', 'Ann'), ('o2', 'Bo')`)}
	first := e.contacts(`('1', 'o1', '2026-01-01 00:00:00', false), ('2', 'o1', '2026-01-02 00:00:00', false), ('3', 'o2', '2026-01-03 00:00:00', false)`)
	res, before, _ := e.run(p, []string{first}, owners, nil, nil)
	inc := res.Incremental
	if inc == nil || inc.Merge || inc.Seen.Cursor != "2026-01-03 00:00:00" || inc.Lookups["hubspot.owners"] == "" {
		t.Fatalf("full run: %+v; want the whole port, the newest cursor and the owners' state", inc)
	}
	if got := e.whole(before); got != "1:Ann 2:Ann 3:Bo" {
		t.Fatalf("full run = %s", got)
	}

	// 1 moves owner, 2 is deleted, 4 is new: all newer than anything read.
	second := e.contacts(`('1', 'o2', '2026-02-01 00:00:00', false), ('2', NULL, '2026-02-02 00:00:00', true), ('4', 'o1', '2026-02-03 00:00:00', false)`)
	lookups := map[string]Lookup{"hubspot.owners": {Seen: inc.Lookups["hubspot.owners"]}}
	res, out, keys := e.run(p, []string{first, second}, owners, &Changes{NewFiles: []string{second}, Seen: inc.Seen}, lookups)
	inc = res.Incremental
	if !inc.Merge || !inc.NewOnly || inc.Keys != 3 || res.Rows != 2 || inc.Seen.Cursor != "2026-02-03 00:00:00" {
		t.Fatalf("incremental run: %+v, %d rows; want 3 keys from the new landing alone and rows of 1 and 4", inc, res.Rows)
	}
	if got := e.rows(`SELECT contact_id FROM read_parquet('` + keys + `') ORDER BY 1`); got != "1 2 4" {
		t.Fatalf("keys = %s, want 1 2 4 (2 deleted: its key without a row)", got)
	}
	_, full, _ := e.run(p, []string{first, second}, owners, nil, nil)
	if got, want := e.merged(before, out, keys), e.whole(full); got != want || want != "1:Bo 3:Bo 4:Ann" {
		t.Fatalf("merged = %s, full run = %s; want both 1:Bo 3:Bo 4:Ann", got, want)
	}
	before = full

	// A late arrival of 3 (older than its newest version) and an update of 4: the
	// newest versions come from the whole history, and 3 stays as it was.
	third := e.contacts(`('3', 'o1', '2025-12-01 00:00:00', false), ('4', 'o2', '2026-03-01 00:00:00', false)`)
	res, out, keys = e.run(p, []string{first, second, third}, owners, &Changes{NewFiles: []string{third}, Seen: inc.Seen}, lookups)
	if inc = res.Incremental; !inc.Merge || inc.NewOnly || inc.Keys != 2 || inc.Seen.Cursor != "2026-03-01 00:00:00" {
		t.Fatalf("late arrival: %+v; want the history read for keys 3 and 4", inc)
	}
	_, full, _ = e.run(p, []string{first, second, third}, owners, nil, nil)
	if got, want := e.merged(before, out, keys), e.whole(full); got != want || want != "1:Bo 3:Bo 4:Bo" {
		t.Fatalf("merged = %s, full run = %s; want both 1:Bo 3:Bo 4:Bo", got, want)
	}

	// The same owners landed again change nothing; a renamed owner computes everything.
	again := e.owners(`('o1', 'Ann'), ('o2', 'Bo')`)
	res, _, _ = e.run(p, []string{first, second, third}, append(owners, again), &Changes{Seen: inc.Seen},
		map[string]Lookup{"hubspot.owners": {Seen: lookups["hubspot.owners"].Seen, Landed: true}})
	if !res.Incremental.Merge || res.Incremental.Keys != 0 {
		t.Fatalf("owners landed unchanged: %+v; want a merge of nothing", res.Incremental)
	}
	renamed := e.owners(`('o2', 'Bea')`)
	res, out, _ = e.run(p, []string{first, second, third}, append(owners, again, renamed), &Changes{Seen: inc.Seen},
		map[string]Lookup{"hubspot.owners": {Seen: lookups["hubspot.owners"].Seen, Landed: true}})
	if res.Incremental.Merge || res.Incremental.Why != "hubspot.owners changed since the last publish" || e.whole(out) != "1:Bea 3:Bea 4:Bea" {
		t.Fatalf("owner renamed: %+v, rows %s; want everything computed again", res.Incremental, e.whole(out))
	}
}

// TestIncrementalRefusesARowOfAnotherKey: a model whose rows do not carry the changed
// record's key (a wrong Incremental.Key) fails, naming the row and the fix.
func TestIncrementalRefusesARowOfAnotherKey(t *testing.T) {
	e := newIncrementalEnv(t)
	p := incrementalProduct()
	p.Model = `SELECT c.id || '-x' AS contact_id, NULL AS owner, c.updated_at FROM hubspot.contacts AS c`
	owners := []string{e.owners(`('o1', 'Ann')`)}
	first := e.contacts(`('1', 'o1', '2026-01-01 00:00:00', false)`)
	second := e.contacts(`('2', 'o1', '2026-02-01 00:00:00', false)`)
	_, err := Run(context.Background(), Request{Product: p, Output: filepath.Join(e.dir, "out.parquet"),
		Raw: []RawInput{
			{Source: "hubspot", Stream: "contacts", Files: []string{first, second}, PrimaryKey: []string{"id"}, CursorField: "updated_at", Deleted: "deleted",
				Fields: []source.Field{{Name: "id", Type: source.String}, {Name: "owner", Type: source.String}, {Name: "updated_at", Type: source.Timestamp}, {Name: "deleted", Type: source.Bool}}},
			{Source: "hubspot", Stream: "owners", Files: owners, PrimaryKey: []string{"id"}, Fields: []source.Field{{Name: "id", Type: source.String}, {Name: "name", Type: source.String}}},
		},
		Incremental: &Incremental{Changes: &Changes{NewFiles: []string{second}, Seen: Marks{Cursor: "2026-01-01 00:00:00"}},
			Lookups: map[string]Lookup{"hubspot.owners": {Seen: "x"}}, KeysOutput: filepath.Join(e.dir, "keys.parquet")}})
	if err == nil || !strings.Contains(err.Error(), `{"contact_id":"2-x"}, which is not the key of a changed record of hubspot.contacts`) {
		t.Fatalf("err = %v", err)
	}
}
