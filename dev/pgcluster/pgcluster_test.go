//go:build unix

package pgcluster_test

import (
	"context"
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
