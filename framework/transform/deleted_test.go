package transform

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/source"
)

// TestTombstonesDropDeletedKeys: a stream with a deletion flag (a database's change
// data capture) lands a tombstone when a row is deleted. The raw view leaves out the
// keys whose newest version is a tombstone — a key deleted and inserted again is back
// — while _history keeps every version, tombstones included.
func TestTombstonesDropDeletedKeys(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := Open(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	raw := func(name, values string) string {
		p := filepath.Join(dir, name)
		if _, err := db.Exec(`COPY (SELECT id, name, _lsn, _deleted, TIMESTAMP '2026-11-23 00:00:00' AS _extracted_at, 'run' AS _run_id, '{}' AS _raw
			FROM (VALUES ` + values + `) AS v(id, name, _lsn, _deleted)) TO '` + p + `' (FORMAT parquet)`); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// The snapshot (LSN 100), then changes: 2 deleted, 3 deleted and inserted again,
	// 4 updated; a tombstone older than the snapshot's row of 1 does not delete it.
	snapshot := raw("a.parquet", `(1::BIGINT, 'one', 100::BIGINT, false), (2, 'two', 100, false), (3, 'three', 100, false), (4, 'four', 100, false)`)
	changes := raw("b.parquet", `(2::BIGINT, NULL, 120::BIGINT, true), (3, NULL, 130, true), (3, 'three again', 140, false), (4, 'four v2', 150, false), (1, NULL, 90, true)`)
	in := RawInput{Source: "postgres", Stream: "accounts", Files: []string{snapshot, changes}, PrimaryKey: []string{"id"}, CursorField: "_lsn", Deleted: "_deleted",
		Fields: []source.Field{{Name: "id", Type: source.Int64}, {Name: "name", Type: source.String}, {Name: "_lsn", Type: source.Int64}, {Name: "_deleted", Type: source.Bool}}}
	p := mesh.Product{
		Name: "accounts", Version: "1.0.0",
		Model: `SELECT id, name, (SELECT count(*) FROM postgres.accounts_history) AS versions FROM postgres.accounts`,
		Schema: []mesh.Column{
			{Name: "id", Type: mesh.Int64, Doc: "id", Required: true}, {Name: "name", Type: mesh.String, Doc: "name"},
			{Name: "versions", Type: mesh.Int64, Doc: "versions landed"},
		},
		PrimaryKey: []string{"id"},
	}
	out := filepath.Join(dir, "model.parquet")
	if _, err := Run(ctx, Request{Product: p, Output: out, Raw: []RawInput{in}}); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query(`SELECT id, name, versions FROM read_parquet('` + out + `') ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var id, versions int64
		var name string
		if err := rows.Scan(&id, &name, &versions); err != nil {
			t.Fatal(err)
		}
		if versions != 9 {
			t.Errorf("_history has %d versions, want all 9 (tombstones included)", versions)
		}
		got = append(got, name)
	}
	if want := []string{"one", "three again", "four v2"}; !slices.Equal(got, want) {
		t.Fatalf("accounts = %q, want %q: key 2 (deleted) left out, 3 back, 1 kept", got, want)
	}
}
