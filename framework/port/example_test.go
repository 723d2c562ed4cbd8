package port_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/meshflow/meshflow/framework/port"
)

func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "port-example")
	defer os.RemoveAll(dir)

	cat, err := port.Open(ctx, port.Options{
		CatalogURI: "sqlite://" + filepath.Join(dir, "catalog.db"),
		Warehouse:  "file://" + filepath.Join(dir, "warehouse"),
	})
	if err != nil {
		panic(err)
	}
	defer cat.Close()

	sc := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "day", Type: arrow.FixedWidthTypes.Date32},
	}, nil)
	rec, _, err := array.RecordFromJSON(memory.DefaultAllocator, sc, strings.NewReader(
		`[{"id": 1, "day": "2024-05-01"}, {"id": 2, "day": "2024-05-01"}]`))
	if err != nil {
		panic(err)
	}
	defer rec.Release()
	rdr, _ := array.NewRecordReader(sc, []arrow.RecordBatch{rec})
	defer rdr.Release()

	id := port.PortTable("crm", "contacts", 1)
	snap, err := cat.Publish(ctx, id, rdr, port.PublishRequest{
		Mode:               port.ReplacePartition{Column: "day", Value: "2024-05-01"},
		SnapshotProperties: map[string]string{"meshflow.run-id": "run-1"},
		TableProperties:    map[string]string{"owner": "crm-team"},
	})
	if err != nil {
		panic(err)
	}
	files, _ := cat.DataFiles(ctx, id, 0)
	fmt.Println(id, snap.Rows, snap.Properties["meshflow.run-id"], len(files))
	// Output: crm.contacts_v1 2 run-1 1
}
