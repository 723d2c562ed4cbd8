package port

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/iceberg-go"
)

// keySet is the set of keys a merge replaces, each key the text of its columns'
// values (keyText), with the smallest and largest value of each column so the files
// that cannot hold any of them are skipped.
type keySet struct {
	columns []string
	keys    map[string]struct{}
	bounds  []keyBounds // per column
}

// keyBounds are a key column's smallest and largest value, as Iceberg literals; nil
// when the column's type has no order Iceberg prunes by (every file is read).
type keyBounds struct{ lo, hi iceberg.Literal }

// readKeySet reads the keys of rdr (a column per key column, named as the table's).
func readKeySet(rdr array.RecordReader, columns []string) (*keySet, error) {
	ks := &keySet{columns: columns, keys: map[string]struct{}{}, bounds: make([]keyBounds, len(columns))}
	idx, err := columnIndices(rdr.Schema(), columns)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	var buf strings.Builder
	for rdr.Next() {
		rec := rdr.RecordBatch()
		cols := make([]arrow.Array, len(idx))
		for i, j := range idx {
			cols[i] = rec.Column(j)
		}
		for row := range int(rec.NumRows()) {
			buf.Reset()
			for i, c := range cols {
				if c.IsNull(row) {
					return nil, fmt.Errorf("keys: key column %q is null: a key that is null names no row", columns[i])
				}
				if err := keyText(&buf, c, row); err != nil {
					return nil, err
				}
				ks.bounds[i].widen(c, row)
			}
			ks.keys[buf.String()] = struct{}{}
		}
	}
	if err := rdr.Err(); err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	return ks, nil
}

// filter selects the rows whose key columns lie within the keys' bounds: a superset of
// the rows of the keys, for Iceberg to skip the files that hold none of them.
func (ks *keySet) filter() iceberg.BooleanExpression {
	var out iceberg.BooleanExpression = iceberg.AlwaysTrue{}
	for i, b := range ks.bounds {
		if b.lo == nil || b.hi == nil {
			continue
		}
		ref := iceberg.Reference(ks.columns[i])
		out = iceberg.NewAnd(out, iceberg.NewAnd(
			iceberg.LiteralPredicate(iceberg.OpGTEQ, ref, b.lo),
			iceberg.LiteralPredicate(iceberg.OpLTEQ, ref, b.hi)))
	}
	return out
}

// has reports whether the key of row (cols in key order) is in the set.
func (ks *keySet) has(buf *strings.Builder, cols []arrow.Array, row int) (bool, error) {
	buf.Reset()
	for _, c := range cols {
		if c.IsNull(row) {
			return false, nil // a null never equals a key
		}
		if err := keyText(buf, c, row); err != nil {
			return false, err
		}
	}
	_, ok := ks.keys[buf.String()]
	return ok, nil
}

func (b *keyBounds) widen(c arrow.Array, row int) {
	lit := literalOf(c, row)
	if lit == nil {
		return
	}
	if b.lo == nil || less(lit, b.lo) {
		b.lo = lit
	}
	if b.hi == nil || less(b.hi, lit) {
		b.hi = lit
	}
}

// literalOf is the Iceberg literal of a value of an ordered key type, or nil.
func literalOf(c arrow.Array, row int) iceberg.Literal {
	switch a := c.(type) {
	case *array.String:
		return iceberg.NewLiteral(a.Value(row))
	case *array.LargeString:
		return iceberg.NewLiteral(a.Value(row))
	case *array.Int64:
		return iceberg.NewLiteral(a.Value(row))
	case *array.Int32:
		return iceberg.NewLiteral(a.Value(row))
	case *array.Date32:
		return iceberg.NewLiteral(iceberg.Date(a.Value(row)))
	case *array.Timestamp:
		return iceberg.NewLiteral(iceberg.Timestamp(micros(a, row)))
	}
	return nil
}

func less(a, b iceberg.Literal) bool {
	switch x := a.(type) {
	case iceberg.StringLiteral:
		return string(x) < string(b.(iceberg.StringLiteral))
	case iceberg.Int64Literal:
		return x < b.(iceberg.Int64Literal)
	case iceberg.Int32Literal:
		return x < b.(iceberg.Int32Literal)
	case iceberg.DateLiteral:
		return x < b.(iceberg.DateLiteral)
	case iceberg.TimestampLiteral:
		return x < b.(iceberg.TimestampLiteral)
	}
	return false
}

// keyText appends a value's text to buf, length-prefixed so that no two keys of
// several columns read alike. Both sides of a comparison have the table's column
// types; a timestamp is compared in microseconds whatever unit its file stored.
func keyText(buf *strings.Builder, c arrow.Array, row int) error {
	var s string
	switch a := c.(type) {
	case *array.String:
		s = a.Value(row)
	case *array.LargeString:
		s = a.Value(row)
	case *array.Binary:
		s = string(a.Value(row))
	case *array.Int64:
		s = strconv.FormatInt(a.Value(row), 10)
	case *array.Int32:
		s = strconv.FormatInt(int64(a.Value(row)), 10)
	case *array.Date32:
		s = strconv.FormatInt(int64(a.Value(row)), 10)
	case *array.Timestamp:
		s = strconv.FormatInt(micros(a, row), 10)
	case *array.Boolean:
		s = strconv.FormatBool(a.Value(row))
	case *array.Float64:
		s = strconv.FormatUint(math.Float64bits(a.Value(row)), 16)
	default:
		return fmt.Errorf("a key column of type %s cannot be merged on: use a string, integer, date or timestamp key", c.DataType())
	}
	buf.WriteString(strconv.Itoa(len(s)))
	buf.WriteByte(':')
	buf.WriteString(s)
	return nil
}

func micros(a *array.Timestamp, row int) int64 {
	v := int64(a.Value(row))
	switch a.DataType().(*arrow.TimestampType).Unit {
	case arrow.Second:
		return v * 1_000_000
	case arrow.Millisecond:
		return v * 1_000
	case arrow.Nanosecond:
		return v / 1_000
	}
	return v
}

// columnIndices finds each named column in sc.
func columnIndices(sc *arrow.Schema, columns []string) ([]int, error) {
	out := make([]int, len(columns))
	for i, c := range columns {
		idx := sc.FieldIndices(c)
		if len(idx) != 1 {
			names := make([]string, sc.NumFields())
			for j, f := range sc.Fields() {
				names[j] = f.Name
			}
			return nil, fmt.Errorf("no column %q (the columns are %s)", c, strings.Join(slices.Sorted(slices.Values(names)), ", "))
		}
		out[i] = idx[0]
	}
	return out, nil
}
