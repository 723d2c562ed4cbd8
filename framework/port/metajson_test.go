package port

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
)

// TestMetadataEncodingIsIceberg: the metadata files a commit writes hold what
// iceberg-go's own encoding of the same metadata holds, through a table's life —
// created on a branch with no snapshot on main, unpartitioned on main, partitioned by
// day, a branch, snapshots expired, a column and a property added — with each
// snapshot encoded once and reused after.
func TestMetadataEncodingIsIceberg(t *testing.T) {
	ctx := context.Background()
	c := openTest(t, t.TempDir())
	same := func(step string) {
		t.Helper()
		tbl, err := c.load(ctx, "test", contacts)
		if err != nil {
			t.Fatal(err)
		}
		md := tbl.Metadata()
		ours, keep, err := c.snapJSON.encode(contacts, md)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		keep()
		theirs, err := json.Marshal(md)
		if err != nil {
			t.Fatal(err)
		}
		var a, b map[string]any
		if err := json.Unmarshal(ours, &a); err != nil {
			t.Fatalf("%s: our encoding does not parse: %v", step, err)
		}
		if err := json.Unmarshal(theirs, &b); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			for k := range b {
				if !reflect.DeepEqual(a[k], b[k]) {
					t.Errorf("%s: %q is %v, iceberg-go has %v", step, k, a[k], b[k])
				}
			}
			for k := range a {
				if _, ok := b[k]; !ok {
					t.Errorf("%s: %q is not iceberg-go's", step, k)
				}
			}
		}
		c.snapJSON.mu.Lock()
		n := len(c.snapJSON.m[contacts])
		c.snapJSON.mu.Unlock()
		if n != len(md.Snapshots()) {
			t.Errorf("%s: %d snapshots encoded, the metadata has %d", step, n, len(md.Snapshots()))
		}
	}

	publish(t, c, contacts, baseSchema, `[{"id": 0, "name": "Pre", "day": "2024-04-30"}]`, PublishRequest{Mode: Replace{}, Branch: "first"})
	same("created on a branch, main without a snapshot")
	publish(t, c, contacts, baseSchema, `[{"id": 1, "name": "Ada", "day": "2024-05-01"}]`, PublishRequest{Mode: Replace{}})
	same("main's first snapshot")
	snaps, _ := publishDays(t, c, 3)
	same("partitioned by day")
	publish(t, c, contacts, baseSchema, `[{"id": 100, "name": "preview", "day": "2024-06-01"}]`,
		PublishRequest{Mode: ReplacePartition{Column: "day", Value: "2024-06-01"}, Branch: "preview"})
	same("a branch")
	if _, err := c.ExpireSnapshots(ctx, contacts, ExpireRequest{Retention: Retention{MaxAge: time.Hour, MinSnapshots: 1},
		Now: time.Now().Add(48 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	same("snapshots expired")
	publishDays(t, c, 2)
	same("days published again")
	wider := arrow.NewSchema(append(baseSchema.Fields(), field("email", arrow.BinaryTypes.String, "primary e-mail")), nil)
	publish(t, c, contacts, wider, `[{"id": 1, "name": "Ada", "day": "2024-05-01", "email": "ada@example.com"}]`,
		PublishRequest{Mode: ReplacePartition{Column: "day", Value: "2024-05-01"}, PartitionBy: "day", TableProperties: map[string]string{"version": "1.1.0"}})
	same("a column added")
	if cur, ok, err := c.Current(ctx, contacts); err != nil || !ok || cur.ID == snaps[2].ID {
		t.Fatalf("current = %+v %v %v", cur, ok, err)
	}
}
