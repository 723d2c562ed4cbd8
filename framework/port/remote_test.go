package port

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshflow/meshflow/framework/errs"
)

// TestLocalDataFilesCopiesRemoteFiles publishes into a warehouse that is not on the
// local filesystem (iceberg-go's in-memory IO stands in for a bucket) and checks that
// DuckDB's inputs are local copies of exactly the planned files.
func TestLocalDataFilesCopiesRemoteFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	c, err := Open(ctx, Options{
		CatalogURI: "sqlite://" + filepath.Join(dir, "catalog.db"),
		Warehouse:  "mem://" + strings.ToLower(t.Name()) + "/warehouse",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	publish(t, c, contacts, baseSchema, `[{"id": 1, "name": "Ada", "day": "2024-05-01"}]`, PublishRequest{Mode: Replace{}})

	if _, err := c.DataFiles(ctx, contacts, 0); !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "LocalDataFiles") {
		t.Fatalf("DataFiles of a remote warehouse: %v, want Invalid naming LocalDataFiles", err)
	}
	scratch := t.TempDir()
	files, err := c.LocalDataFiles(ctx, contacts, 0, scratch)
	if err != nil || len(files) != 1 {
		t.Fatalf("LocalDataFiles = %v, %v; want one file", files, err)
	}
	if !strings.HasPrefix(files[0], scratch+string(filepath.Separator)) || filepath.Ext(files[0]) != ".parquet" {
		t.Fatalf("copy %s is not a .parquet file under %s", files[0], scratch)
	}
	b, err := os.ReadFile(files[0])
	if err != nil || !bytes.HasPrefix(b, []byte("PAR1")) || !bytes.HasSuffix(b, []byte("PAR1")) {
		t.Fatalf("copy %s is not a whole Parquet file: %v", files[0], err)
	}

	// A local warehouse's files are returned in place, nothing is copied.
	local := openTest(t, t.TempDir())
	publish(t, local, contacts, baseSchema, `[{"id": 1, "name": "Ada", "day": "2024-05-01"}]`, PublishRequest{Mode: Replace{}})
	empty := t.TempDir()
	if files, err := local.LocalDataFiles(ctx, contacts, 0, empty); err != nil || len(files) != 1 || strings.HasPrefix(files[0], empty) {
		t.Fatalf("LocalDataFiles of a local warehouse = %v, %v; want the file in place", files, err)
	}
}

type sqlStateErr string

func (e sqlStateErr) Error() string {
	return "ERROR: could not serialize access (SQLSTATE " + string(e) + ")"
}
func (e sqlStateErr) SQLState() string { return string(e) }

func TestPostgresSerializationFailureIsStale(t *testing.T) {
	if !isStale(fmt.Errorf("commit: %w", sqlStateErr("40001"))) || !isStale(sqlStateErr("40P01")) {
		t.Error("a PostgreSQL serialization failure or deadlock is not taken as a stale base")
	}
	if isStale(sqlStateErr("23505")) {
		t.Error("a unique violation is taken as a stale base")
	}
}

func TestCatalogErrorsMaskThePassword(t *testing.T) {
	if got := redacted("postgres://mesh:hunter2@db:5432/mesh"); strings.Contains(got, "hunter2") {
		t.Errorf("redacted = %q", got)
	}
	if got := redacted("postgres://mesh:hun%zzter2@db/mesh"); strings.Contains(got, "hun") {
		t.Errorf("redacted of an unparsable URI = %q", got)
	}
	_, err := Open(context.Background(), Options{CatalogURI: "postgres://mesh:hunter2@127.0.0.1:1/mesh", Warehouse: t.TempDir()})
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("Open with a PostgreSQL URI: %v", err)
	}
}
