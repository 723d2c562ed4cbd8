//go:build unix

package pgcluster_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/meshflow/meshflow/dev/pgcluster"
)

// TestStartIsReadyForLogicalReplication starts a cluster and checks what the
// PostgreSQL source's change data capture needs of it: wal_level=logical, and a
// logical slot with pgoutput can be created.
func TestStartIsReadyForLogicalReplication(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL server")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := pgcluster.Start(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := c.Stop(); err != nil {
			t.Error(err)
		}
	}()
	conn, err := pgx.Connect(ctx, c.URI("", "", ""))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var level, db string
	if err := conn.QueryRow(ctx, "SELECT current_setting('wal_level'), current_database()").Scan(&level, &db); err != nil {
		t.Fatal(err)
	}
	if level != "logical" || db != "meshflow" {
		t.Fatalf("wal_level %q on database %q, want logical on meshflow", level, db)
	}
	var slot string
	if err := conn.QueryRow(ctx, "SELECT slot_name FROM pg_create_logical_replication_slot('probe', 'pgoutput')").Scan(&slot); err != nil {
		t.Fatal(err)
	}
}

// A cluster kept in a directory starts again with its data and its replication
// slots — what a restarted stack's cursors point into — and Stop leaves it there.
func TestKeptClusterStartsAgainAsItWas(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL server")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "meshflow-kept-") // the server's user must reach it (see Start)
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	c, err := pgcluster.Start(ctx, &pgcluster.Options{Dir: dir, Database: "kept"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Reused {
		t.Fatal("a new cluster says it was reused")
	}
	if err := c.Exec(ctx, "", "CREATE TABLE t (id int PRIMARY KEY)", "INSERT INTO t VALUES (7)",
		"SELECT pg_create_logical_replication_slot('kept_slot', 'pgoutput')"); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	again, err := pgcluster.Start(ctx, &pgcluster.Options{Dir: dir, Database: "kept"})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Stop()
	conn, err := pgx.Connect(ctx, again.URI("", "", ""))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var id, slots int
	if err := conn.QueryRow(ctx, "SELECT (SELECT id FROM t), (SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'kept_slot')").Scan(&id, &slots); err != nil {
		t.Fatal(err)
	}
	if !again.Reused || id != 7 || slots != 1 {
		t.Fatalf("restarted cluster: reused %v, row %d, slots %d; want the kept row and slot", again.Reused, id, slots)
	}
}
