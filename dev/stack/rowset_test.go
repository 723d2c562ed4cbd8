package stack_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
	"github.com/meshflow/meshflow/workers/host"
)

// runTimeColumns say when a row was read, not what it says: two runs over the same
// source data differ in them and nowhere else.
var runTimeColumns = []string{"pulled_at"}

// rowSet is a port's current snapshot as text: one line per row, the columns in
// schema order (all but skip) separated by \x1f, sorted. Duplicated rows stay.
type rowSet struct {
	columns []string
	rows    []string
}

func readRowSet(t *testing.T, stores *host.Stores, id port.TableID, skip ...string) rowSet {
	t.Helper()
	tbl, err := stores.Ports.ReadAll(context.Background(), id, 0, 0)
	if err != nil {
		t.Fatalf("read %s: %v", id, err)
	}
	defer tbl.Release()
	var rs rowSet
	var keep []int
	for i, f := range tbl.Schema().Fields() {
		if !slices.Contains(skip, f.Name) {
			keep = append(keep, i)
			rs.columns = append(rs.columns, f.Name)
		}
	}
	tr := array.NewTableReader(tbl, 0)
	defer tr.Release()
	for tr.Next() {
		rec := tr.RecordBatch()
		for r := range int(rec.NumRows()) {
			var b strings.Builder
			for _, c := range keep {
				b.WriteString(rec.Column(c).ValueStr(r))
				b.WriteByte('\x1f')
			}
			rs.rows = append(rs.rows, b.String())
		}
	}
	if err := tr.Err(); err != nil {
		t.Fatalf("read %s: %v", id, err)
	}
	slices.Sort(rs.rows)
	return rs
}

// hash is independent of row order and changes with a lost or a doubled row.
func (rs rowSet) hash() string {
	h := sha256.New()
	h.Write([]byte(strings.Join(rs.columns, "\x1f") + "\n"))
	for _, r := range rs.rows {
		h.Write([]byte(r + "\n"))
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// duplicateKeys lists primary keys held by more than one row of the port.
func duplicateKeys(t *testing.T, stores *host.Stores, id port.TableID, pk []string) []string {
	t.Helper()
	var other []string
	tbl, err := stores.Ports.ReadAll(context.Background(), id, 0, 0)
	if err != nil {
		t.Fatalf("read %s: %v", id, err)
	}
	for _, f := range tbl.Schema().Fields() {
		if !slices.Contains(pk, f.Name) {
			other = append(other, f.Name)
		}
	}
	tbl.Release()
	keys := readRowSet(t, stores, id, other...).rows
	var dups []string
	for i := 1; i < len(keys); i++ {
		if keys[i] == keys[i-1] && (len(dups) == 0 || dups[len(dups)-1] != keys[i]) {
			dups = append(dups, strings.ReplaceAll(strings.TrimSuffix(keys[i], "\x1f"), "\x1f", "|"))
		}
	}
	return dups
}

// portOf is the table a product publishes.
func portOf(e mesh.Entry) port.TableID {
	return port.TableID{Domain: e.Domain.Name, Name: e.Product.PortName()}
}

// columnValues reads one column of the port's current snapshot as text.
func columnValues(t *testing.T, stores *host.Stores, id port.TableID, name string) []string {
	t.Helper()
	tbl, err := stores.Ports.ReadAll(context.Background(), id, 0, 0)
	if err != nil {
		t.Fatalf("read %s: %v", id, err)
	}
	var other []string
	for _, f := range tbl.Schema().Fields() {
		if f.Name != name {
			other = append(other, f.Name)
		}
	}
	tbl.Release()
	vals := readRowSet(t, stores, id, other...).rows
	for i, v := range vals {
		vals[i] = strings.TrimSuffix(v, "\x1f")
	}
	return vals
}
