// Package porttest helps tests put rows in port tables.
package porttest

import (
	"context"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/meshflow/meshflow/framework/port"
)

// PublishJSON publishes rows, a JSON array of objects of schema sc, to the port table
// id as req says, and returns the snapshot; any error fails the test.
func PublishJSON(t testing.TB, ports *port.Catalog, id port.TableID, sc *arrow.Schema, rows string, req port.PublishRequest) port.Snapshot {
	t.Helper()
	rec, _, err := array.RecordFromJSON(memory.DefaultAllocator, sc, strings.NewReader(rows))
	if err != nil {
		t.Fatalf("rows for %s: %v", id, err)
	}
	defer rec.Release()
	rdr, err := array.NewRecordReader(sc, []arrow.RecordBatch{rec})
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Release()
	s, err := ports.Publish(context.Background(), id, rdr, req)
	if err != nil {
		t.Fatalf("publish %s: %v", id, err)
	}
	return s
}
