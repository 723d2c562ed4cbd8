//go:build unix

package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	_ "gocloud.dev/blob/memblob"

	"github.com/meshflow/meshflow/dev/pgcluster"
	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/secret"
	"github.com/meshflow/meshflow/framework/source"
)

// One throwaway cluster for the package's tests; each test has a database of its own.
var (
	clusterOnce sync.Once
	theCluster  *pgcluster.Cluster
	clusterErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if theCluster != nil {
		theCluster.Stop()
	}
	os.Exit(code)
}

const readerPassword = "reader-secret"

// testDB is a test's database: the superuser's connection to set it up and a Config
// for a reader role holding only SELECT and REPLICATION.
type testDB struct {
	admin *pgx.Conn
	cfg   Config
}

func newDB(t *testing.T, pageRows int) *testDB {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a PostgreSQL server (dev/pgcluster)")
	}
	clusterOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		theCluster, clusterErr = pgcluster.Start(ctx, nil)
		if clusterErr == nil {
			clusterErr = theCluster.Exec(ctx, "postgres", "CREATE ROLE reader LOGIN REPLICATION PASSWORD '"+readerPassword+"'")
		}
	})
	if clusterErr != nil {
		t.Fatal(clusterErr)
	}
	ctx := t.Context()
	name := strings.ToLower(strings.NewReplacer("/", "_", "-", "_").Replace(t.Name()))
	if err := theCluster.Exec(ctx, "postgres", "DROP DATABASE IF EXISTS "+name, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.Connect(ctx, theCluster.URI("", "", name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// The test's slots go with it: they would hold WAL for the other tests.
		admin.Exec(context.Background(), "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = current_database()")
		admin.Close(context.Background())
	})
	return &testDB{admin: admin, cfg: Config{Host: theCluster.Host, Port: theCluster.Port, Database: name, User: "reader",
		Password: secret.Value(readerPassword), SSLMode: "disable", PageRows: pageRows, SlotPrefix: "s_" + name}}
}

// exec runs statements as the superuser.
func (d *testDB) exec(t *testing.T, sql ...string) {
	t.Helper()
	for _, s := range sql {
		if _, err := d.admin.Exec(t.Context(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// table creates a table the reader may SELECT and puts it in the publication.
func (d *testDB) table(t *testing.T, name, columns string) {
	t.Helper()
	d.exec(t, fmt.Sprintf("CREATE TABLE %s (%s)", name, columns), fmt.Sprintf("GRANT SELECT ON %s TO reader", name))
	var pub bool
	d.admin.QueryRow(t.Context(), "SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = 'meshflow')").Scan(&pub)
	if pub {
		d.exec(t, "ALTER PUBLICATION meshflow ADD TABLE "+name)
	} else {
		d.exec(t, "CREATE PUBLICATION meshflow FOR TABLE "+name)
	}
}

func (d *testDB) source(t *testing.T, tables ...Table) *Source {
	t.Helper()
	c := d.cfg
	c.Tables = tables
	s, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func (d *testDB) stream(t *testing.T, tables ...Table) *Stream {
	return d.source(t, tables...).Streams()[0].(*Stream)
}

// read reads pages from cursor until Done (or max pages, 0 = all) and returns the
// records and the last cursor.
func read(t *testing.T, st source.Stream, cursor json.RawMessage, max int) ([]map[string]any, json.RawMessage, int) {
	t.Helper()
	var recs []map[string]any
	pages := 0
	syncStart := time.Now()
	for {
		p, err := st.NextPage(t.Context(), source.PageRequest{Cursor: cursor, SyncStart: syncStart})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, r := range p.Records {
			var m map[string]any
			d := json.NewDecoder(strings.NewReader(string(r)))
			d.UseNumber()
			if err := d.Decode(&m); err != nil {
				t.Fatal(err)
			}
			recs = append(recs, m)
		}
		cursor = p.Next
		if p.Done || max > 0 && pages >= max {
			return recs, cursor, pages
		}
	}
}

func ids(recs []map[string]any) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = fmt.Sprint(r["id"])
	}
	return out
}

func rangeIDs(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprint(i))
	}
	return out
}

// TestSnapshotInChunksEqualsTable: the first sync reads the table in key-ordered
// chunks of PageRows, every row once, each stamped with the snapshot's LSN, and ends
// with a cursor from which changes are read.
func TestSnapshotInChunksEqualsTable(t *testing.T) {
	d := newDB(t, 300)
	d.table(t, "accounts", "id bigint PRIMARY KEY, name text")
	d.exec(t, "INSERT INTO accounts SELECT i, 'account ' || i FROM generate_series(1, 1000) i")
	recs, cursor, pages := read(t, d.stream(t, Table{Name: "accounts"}), nil, 0)
	if pages != 4 {
		t.Errorf("%d pages, want 4 chunks of at most 300 rows", pages)
	}
	if got := ids(recs); !slices.Equal(got, rangeIDs(1, 1000)) {
		t.Fatalf("snapshot read %d rows, want ids 1..1000 once each in key order: %v", len(got), got[290:320])
	}
	var pos position
	json.Unmarshal(cursor, &pos)
	if pos.Phase != phaseCDC || fmt.Sprint(recs[0][FieldLSN]) == "0" || recs[0][FieldDeleted] != false {
		t.Fatalf("cursor %s, first record %v: want a cdc cursor and records stamped with the snapshot's LSN", cursor, recs[0])
	}
	if recs[5]["name"] != "account 6" {
		t.Errorf("record 6 = %v", recs[5])
	}
}

// TestSnapshotResumesAfterTheLastChunk: a snapshot stopped after a chunk (its
// landing crashed) and resumed by another process from that chunk's cursor reads the
// rest: nothing twice, nothing lost.
func TestSnapshotResumesAfterTheLastChunk(t *testing.T) {
	d := newDB(t, 100)
	d.table(t, "users", "org text, id int, email text, PRIMARY KEY (org, id)")
	d.exec(t, "INSERT INTO users SELECT 'org' || (i % 3), i, 'u' || i || '@example.test' FROM generate_series(1, 450) i")
	first, cursor, _ := read(t, d.stream(t, Table{Name: "users"}), nil, 2)
	rest, _, _ := read(t, d.stream(t, Table{Name: "users"}), cursor, 0)
	seen := map[string]int{}
	for _, r := range append(first, rest...) {
		seen[fmt.Sprint(r["org"], "/", r["id"])]++
	}
	if len(first) != 200 || len(seen) != 450 {
		t.Fatalf("first two chunks %d rows, %d distinct keys in all; want 200 and 450", len(first), len(seen))
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("key %s read %d times", k, n)
		}
	}
}

// TestChangesInCommitOrder: after the snapshot, inserts, updates and deletes come in
// commit order with growing LSNs; a delete is a tombstone holding only the key; a
// transaction touching a row twice yields its last version; a key change deletes
// the old key. A change committed during the snapshot is read again after it, with
// a newer LSN than the snapshot's rows.
func TestChangesInCommitOrder(t *testing.T) {
	d := newDB(t, 2)
	d.table(t, "accounts", "id int PRIMARY KEY, name text, plan text")
	d.exec(t, "INSERT INTO accounts VALUES (1, 'one', 'free'), (2, 'two', 'free'), (3, 'three', 'free')")
	st := d.stream(t, Table{Name: "accounts"})
	_, afterFirst, _ := read(t, st, nil, 1)
	d.exec(t, "UPDATE accounts SET plan = 'pro' WHERE id = 3") // after the first chunk, before the second
	snapRest, cursor, _ := read(t, st, afterFirst, 0)
	if len(snapRest) != 1 || snapRest[0]["plan"] != "pro" {
		t.Fatalf("second chunk %v, want row 3 as updated", snapRest)
	}
	d.exec(t,
		"INSERT INTO accounts VALUES (4, 'four', 'free')",
		"BEGIN", "UPDATE accounts SET plan = 'team' WHERE id = 1", "UPDATE accounts SET plan = 'enterprise' WHERE id = 1", "DELETE FROM accounts WHERE id = 2", "COMMIT",
		"UPDATE accounts SET id = 5 WHERE id = 4",
	)
	changes, end, _ := read(t, st, cursor, 0)
	type version struct {
		id, plan string
		deleted  bool
	}
	var got []version
	var lsns []int64
	for _, r := range changes {
		plan, _ := r["plan"].(string)
		got = append(got, version{fmt.Sprint(r["id"]), plan, r[FieldDeleted] == true})
		n, _ := r[FieldLSN].(json.Number).Int64()
		lsns = append(lsns, n)
		if r[FieldDeleted] == true && (r["name"] != nil || r["plan"] != nil) {
			t.Errorf("tombstone %v holds more than its key", r)
		}
	}
	want := []version{{"3", "pro", false}, {"4", "free", false}, {"1", "enterprise", false}, {"2", "", true}, {"4", "", true}, {"5", "free", false}}
	if !slices.Equal(got, want) {
		t.Fatalf("changes %v\nwant      %v", got, want)
	}
	snapLSN, _ := snapRest[0][FieldLSN].(json.Number).Int64()
	if lsns[0] <= snapLSN || !slices.IsSorted(lsns) || lsns[2] != lsns[3] {
		t.Errorf("LSNs %v (snapshot %d): want each above the snapshot's, in commit order, one per transaction", lsns, snapLSN)
	}
	// A read with nothing new returns nothing; its cursor may move past WAL that
	// held no change of the table (other databases', the server's own records).
	quiet, again, _ := read(t, st, end, 0)
	var before, after position
	json.Unmarshal(end, &before)
	json.Unmarshal(again, &after)
	b, _ := pglogrepl.ParseLSN(before.LSN)
	a, _ := pglogrepl.ParseLSN(after.LSN)
	if len(quiet) != 0 || a < b {
		t.Errorf("a read with no new changes returned %d records and cursor %s (was %s)", len(quiet), again, end)
	}
}

// confirmed is the slot's confirmed_flush_lsn.
func (d *testDB) confirmed(t *testing.T, table string) string {
	t.Helper()
	var lsn string
	if err := d.admin.QueryRow(t.Context(), "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1", d.cfg.SlotPrefix+"_"+table).Scan(&lsn); err != nil {
		t.Fatal(err)
	}
	return lsn
}

// TestSlotMovesOnlyWhenTheLandingCommits: reading changes leaves the slot's
// confirmed_flush_lsn where it was; only Committed — which lake.Land calls once the
// manifest is written — moves it, to the landing's end. Until then a new reader
// (a crash) starting from the slot reads every change again.
func TestSlotMovesOnlyWhenTheLandingCommits(t *testing.T) {
	d := newDB(t, 1000)
	d.table(t, "events", "id int PRIMARY KEY, kind text")
	st := d.stream(t, Table{Name: "events"})
	_, cursor, _ := read(t, st, nil, 0)
	if err := st.Committed(t.Context(), cursor); err != nil {
		t.Fatal(err)
	}
	afterSnapshot := d.confirmed(t, "events")
	d.exec(t, "INSERT INTO events SELECT i, 'click' FROM generate_series(1, 20) i", "DELETE FROM events WHERE id <= 5")

	changes, end, _ := read(t, st, cursor, 0)
	if len(changes) != 25 {
		t.Fatalf("%d changes, want 20 inserts and 5 tombstones", len(changes))
	}
	if got := d.confirmed(t, "events"); got != afterSnapshot {
		t.Fatalf("confirmed_flush_lsn moved from %s to %s before the landing committed", afterSnapshot, got)
	}
	// A crash here: a new process reads from the lake's cursor, which is still the
	// old one, and finds every change again.
	again, _, _ := read(t, d.stream(t, Table{Name: "events"}), cursor, 0)
	if len(again) != 25 {
		t.Fatalf("re-read after a crash found %d changes, want all 25", len(again))
	}
	if err := st.Committed(t.Context(), end); err != nil {
		t.Fatal(err)
	}
	var pos position
	json.Unmarshal(end, &pos)
	if got := d.confirmed(t, "events"); got != pos.LSN {
		t.Fatalf("confirmed_flush_lsn %s after Committed, want the landing's end %s", got, pos.LSN)
	}
	// Committed again with an older cursor (a retried landing) does not move it back
	// nor fail.
	if err := st.Committed(t.Context(), cursor); err != nil || d.confirmed(t, "events") != pos.LSN {
		t.Fatalf("an older Committed: %v, slot at %s", err, d.confirmed(t, "events"))
	}
}

// TestLandThroughTheLake lands the snapshot and the changes with lake.Land: the
// manifests carry the described fields and the deletion flag, and the slot moves to
// each landing's end when it commits.
func TestLandThroughTheLake(t *testing.T) {
	d := newDB(t, 50)
	d.table(t, "accounts", "id int PRIMARY KEY, name text")
	d.exec(t, "INSERT INTO accounts SELECT i, 'a' || i FROM generate_series(1, 120) i")
	ctx := t.Context()
	l, err := lake.Open(ctx, "mem://")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ref := lake.StreamRef{Domain: "platform", Source: "postgres", Stream: "accounts"}
	st := d.stream(t, Table{Name: "accounts"})
	res, err := l.Land(ctx, st, lake.LandRequest{Stream: ref, RunID: "run-1", SyncStart: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	m := res.Manifest
	if m.Rows != 120 || m.Deleted != FieldDeleted || m.CursorField != FieldLSN || !slices.Equal(m.PrimaryKey, []string{"id"}) {
		t.Fatalf("manifest rows=%d deleted=%q cursor=%q key=%v", m.Rows, m.Deleted, m.CursorField, m.PrimaryKey)
	}
	if !strings.HasPrefix(m.ReadMode, "change data capture") || !strings.Contains(m.ReadMode, "deletes") {
		t.Errorf("manifest read mode %q: the catalog says from it that deletes are seen", m.ReadMode)
	}
	var pos position
	json.Unmarshal(m.CursorEnd, &pos)
	if got := d.confirmed(t, "accounts"); got != pos.LSN {
		t.Fatalf("slot at %s after the snapshot landed, want %s", got, pos.LSN)
	}
	d.exec(t, "UPDATE accounts SET name = 'renamed' WHERE id = 7", "DELETE FROM accounts WHERE id = 8")
	res, err = l.Land(ctx, st, lake.LandRequest{Stream: ref, RunID: "run-2", SyncStart: time.Now(), Cursor: m.CursorEnd})
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(res.Manifest.CursorEnd, &pos)
	if res.Manifest.Rows != 2 || d.confirmed(t, "accounts") != pos.LSN {
		t.Fatalf("changes landed %d rows, slot at %s; want 2 rows and the slot at %s", res.Manifest.Rows, d.confirmed(t, "accounts"), pos.LSN)
	}
}

// TestCursorModeWithLookback: a table read by its cursor column returns every row
// first, then only rows whose cursor moved — plus those within the lookback before
// the newest value seen, which a late commit may have written.
func TestCursorModeWithLookback(t *testing.T) {
	d := newDB(t, 4)
	d.exec(t, "CREATE TABLE sessions (id int PRIMARY KEY, updated_at timestamptz NOT NULL)", "GRANT SELECT ON sessions TO reader",
		"INSERT INTO sessions SELECT i, timestamptz '2026-01-01 00:00:00+00' + i * interval '1 hour' FROM generate_series(1, 10) i")
	st := d.stream(t, Table{Name: "sessions", Mode: Cursor, CursorColumn: "updated_at", Lookback: 90 * time.Minute})
	if sp := st.Spec(); sp.CursorField != "updated_at" || sp.Deleted != "" {
		t.Fatalf("cursor-mode spec: cursor %q deleted %q", sp.CursorField, sp.Deleted)
	}
	if got, want := st.Spec().ReadMode, "cursor on updated_at with a 1h30m lookback: inserts and updates only"; !strings.HasPrefix(got, want) || !strings.Contains(got, "cannot see hard deletes") {
		t.Errorf("cursor-mode read mode %q, want it to start %q and say hard deletes are not seen", got, want)
	}
	all, cursor, _ := read(t, st, nil, 0)
	if !slices.Equal(ids(all), rangeIDs(1, 10)) {
		t.Fatalf("first sync %v, want 1..10", ids(all))
	}
	// Row 3 moves past the newest; row 9 (within 90 minutes of the newest, 10:00) is
	// read again; a delete is not seen.
	d.exec(t, "UPDATE sessions SET updated_at = '2026-01-01 12:00:00+00' WHERE id = 3", "DELETE FROM sessions WHERE id = 5")
	next, cursor, _ := read(t, st, cursor, 0)
	if got := ids(next); !slices.Equal(got, []string{"9", "10", "3"}) {
		t.Fatalf("second sync %v, want 9 and 10 (lookback) and 3 (moved)", got)
	}
	if next[2]["updated_at"] != "2026-01-01T12:00:00Z" {
		t.Errorf("updated_at = %v, want RFC 3339 in UTC", next[2]["updated_at"])
	}
	quiet, _, _ := read(t, st, cursor, 0)
	if got := ids(quiet); !slices.Equal(got, []string{"3"}) {
		t.Fatalf("quiet sync %v, want only the lookback's row 3", got)
	}
}

// TestSchemaDrift: a new column lands and is reported on the sync's first page; a
// dropped or retyped column the stream landed fails it, naming table and column.
func TestSchemaDrift(t *testing.T) {
	d := newDB(t, 100)
	d.table(t, "accounts", "id int PRIMARY KEY, name text, seats int")
	d.exec(t, "INSERT INTO accounts VALUES (1, 'one', 5)")
	st := d.stream(t, Table{Name: "accounts"})
	_, cursor, _ := read(t, st, nil, 0)

	d.exec(t, "ALTER TABLE accounts ADD COLUMN region text", "INSERT INTO accounts VALUES (2, 'two', 3, 'eu')")
	spec, err := st.Describe(t.Context(), cursor)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(spec.Fields, func(f source.Field) bool { return f.Name == "region" }) {
		t.Fatalf("fields %v lack the new column", spec.Fields)
	}
	p, err := st.NextPage(t.Context(), source.PageRequest{Cursor: cursor, SyncStart: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "new column region text") || len(p.Records) != 1 || !strings.Contains(string(p.Records[0]), `"region":"eu"`) {
		t.Fatalf("page warnings %q records %s, want the new column reported and landed", p.Warnings, p.Records)
	}

	for _, c := range []struct{ alter, want string }{
		{"ALTER TABLE accounts DROP COLUMN seats", "column seats (integer), which this stream has landed, was dropped from table public.accounts"},
		{"ALTER TABLE accounts ALTER COLUMN name TYPE varchar(20)", "column name of table public.accounts changed type from text to character varying(20)"},
	} {
		d.exec(t, c.alter)
		_, err := st.Describe(t.Context(), p.Next)
		if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("after %s: %v, want an Invalid error saying %q", c.alter, err, c.want)
		}
	}
}

// TestTypeMapping: each PostgreSQL type lands as the documented field type, through
// the snapshot and through the changes alike.
func TestTypeMapping(t *testing.T) {
	d := newDB(t, 100)
	d.exec(t, "CREATE TYPE plan AS ENUM ('free', 'pro')")
	d.table(t, "typed", `id uuid PRIMARY KEY, amount numeric(20,4), ratio double precision, big bigint, ok boolean,
		at timestamptz, local timestamp, day date, doc jsonb, tags text[], nums int[], tier plan, note text`)
	row := `('6f1c2a8e-0000-4000-8000-000000000001', 12345678901234.5678, 'NaN', 9007199254740993, true,
		'2026-03-01 10:00:00.123456+02', '2026-03-01 10:00:00', '2026-03-01', '{"b": 1, "a": [1, 2]}', '{"x","y z"}', '{1,2,3}', 'pro', NULL)`
	d.exec(t, "INSERT INTO typed VALUES "+row)
	st := d.stream(t, Table{Name: "typed"})
	snap, cursor, _ := read(t, st, nil, 0)
	d.exec(t, "DELETE FROM typed", "INSERT INTO typed VALUES "+row)
	changes, _, _ := read(t, st, cursor, 0)
	if len(snap) != 1 || len(changes) != 2 {
		t.Fatalf("snapshot %d rows, changes %d; want 1 and 2", len(snap), len(changes))
	}
	want := map[string]any{
		"id": "6f1c2a8e-0000-4000-8000-000000000001", "amount": "12345678901234.5678", "ratio": nil, "big": json.Number("9007199254740993"),
		"ok": true, "at": "2026-03-01T08:00:00.123456Z", "local": "2026-03-01T10:00:00Z", "day": "2026-03-01",
		"doc": `{"a": [1, 2], "b": 1}`, "tags": `["x","y z"]`, "nums": `[1,2,3]`, "tier": "pro", "note": nil,
	}
	spec := st.Spec()
	types := map[string]source.Type{}
	for _, f := range spec.Fields {
		types[f.Name] = f.Type
	}
	wantTypes := map[string]source.Type{"id": source.String, "amount": source.String, "ratio": source.Float64, "big": source.Int64, "ok": source.Bool,
		"at": source.Timestamp, "local": source.Timestamp, "day": source.Date, "doc": source.String, "tags": source.String, "tier": source.String}
	for k, v := range wantTypes {
		if types[k] != v {
			t.Errorf("field %s is %s, want %s", k, types[k], v)
		}
	}
	for what, r := range map[string]map[string]any{"snapshot": snap[0], "change": changes[1]} {
		for k, v := range want {
			if fmt.Sprint(r[k]) != fmt.Sprint(v) {
				t.Errorf("%s: %s = %#v, want %#v", what, k, r[k], v)
			}
		}
	}
	// The landing reads every value into its field's type.
	for _, r := range [][]map[string]any{snap, changes} {
		b, _ := json.Marshal(r[0])
		if _, err := source.Extract(b, spec.Fields); err != nil {
			t.Errorf("the landing refuses %s: %v", b, err)
		}
	}
}

// TestConfigurationErrorsNameTheFix: bad variables and a table outside the
// publication fail with the variable or the statement to run; the reader's password
// appears in no error.
func TestConfigurationErrorsNameTheFix(t *testing.T) {
	for _, c := range []struct {
		vals source.Values
		want string
	}{
		{source.Values{HostEnv: "db", DatabaseEnv: "app", UserEnv: "r"}, TablesEnv},
		{source.Values{HostEnv: "db", DatabaseEnv: "app", UserEnv: "r", TablesEnv: "Bad-Name"}, `"Bad-Name" is not a lower-case PostgreSQL table name`},
		{source.Values{HostEnv: "db", DatabaseEnv: "app", UserEnv: "r", CursorTablesEnv: "events"}, "write table.column"},
		{source.Values{HostEnv: "db", DatabaseEnv: "app", UserEnv: "r", TablesEnv: "a", SSLModeEnv: "on"}, SSLModeEnv},
	} {
		_, err := Connector.Open(c.vals)
		if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Open(%v) = %v, want an Invalid error naming %q", c.vals, err, c.want)
		}
	}

	d := newDB(t, 100)
	d.table(t, "accounts", "id int PRIMARY KEY")
	d.exec(t, "CREATE TABLE private (id int PRIMARY KEY)", "CREATE TABLE unpublished (id int PRIMARY KEY)", "GRANT SELECT ON unpublished TO reader")
	for _, c := range []struct {
		table, want string
		kind        errs.Kind
	}{
		{"private", "GRANT SELECT ON public.private", errs.Permission},
		{"unpublished", "ALTER PUBLICATION meshflow ADD TABLE public.unpublished", errs.Invalid},
		{"missing", "no table public.missing", errs.Invalid},
	} {
		_, err := d.stream(t, Table{Name: c.table}).Describe(t.Context(), nil)
		if !errs.Is(err, c.kind) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want a %s error saying %q", c.table, err, c.kind, c.want)
		}
	}
	bad := d.cfg
	bad.Password = "wrong-password-xyz"
	bad.Tables = []Table{{Name: "accounts"}}
	s, err := New(bad)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Check(t.Context())
	if !errs.Is(err, errs.Permission) || strings.Contains(err.Error(), "wrong-password-xyz") || !strings.Contains(err.Error(), PasswordEnv) {
		t.Fatalf("Check with a wrong password: %v, want a Permission error naming %s without the password", err, PasswordEnv)
	}
	if err := d.source(t, Table{Name: "accounts"}).Check(t.Context()); err != nil {
		t.Fatalf("Check with SELECT and REPLICATION: %v", err)
	}
}
