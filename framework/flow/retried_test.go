package flow

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/meshflow/meshflow/framework/port"
)

// TestPublishedByFindsTheRunsSnapshot: a retried Publish recognises the snapshot its
// own run committed for its partition, and only that one.
func TestPublishedByFindsTheRunsSnapshot(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ports, err := port.Open(ctx, port.Options{CatalogURI: "sqlite://" + filepath.Join(dir, "catalog.db"), Warehouse: "file://" + filepath.Join(dir, "warehouse")})
	if err != nil {
		t.Fatal(err)
	}
	defer ports.Close()
	id := port.TableID{Domain: "marketing", Name: "web_traffic_v1"}
	if _, ok, err := publishedBy(ctx, ports, id, "", "run-a", "2026-05-01"); ok || err != nil {
		t.Fatalf("before any publish: %v %v", ok, err)
	}

	sc := arrow.NewSchema([]arrow.Field{{Name: "date", Type: arrow.FixedWidthTypes.Date32, Nullable: true}}, nil)
	publish := func(runID, day string) port.Snapshot {
		rec, _, err := array.RecordFromJSON(memory.DefaultAllocator, sc, strings.NewReader(`[{"date": "`+day+`"}]`))
		if err != nil {
			t.Fatal(err)
		}
		defer rec.Release()
		rdr, err := array.NewRecordReader(sc, []arrow.RecordBatch{rec})
		if err != nil {
			t.Fatal(err)
		}
		defer rdr.Release()
		s, err := ports.Publish(ctx, id, rdr, port.PublishRequest{Mode: port.ReplacePartition{Column: "date", Value: day},
			SnapshotProperties: map[string]string{PropRunID: runID, PropPartition: day}})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a := publish("run-a", "2026-05-01")
	publish("run-b", "2026-05-02")
	publish("run-c", "2026-05-01") // a later run of the same day

	if s, ok, err := publishedBy(ctx, ports, id, "", "run-a", "2026-05-01"); err != nil || !ok || s.ID != a.ID {
		t.Fatalf("publishedBy(run-a) = %d %v %v, want snapshot %d", s.ID, ok, err, a.ID)
	}
	for _, tc := range [][2]string{{"run-a", "2026-05-02"}, {"run-d", "2026-05-01"}, {"run-a", ""}} {
		if s, ok, err := publishedBy(ctx, ports, id, "", tc[0], tc[1]); ok || err != nil {
			t.Errorf("publishedBy(%s, %q) = snapshot %d, %v; want none", tc[0], tc[1], s.ID, err)
		}
	}
}
