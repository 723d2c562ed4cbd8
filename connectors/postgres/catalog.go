package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/source"
)

// kind is how a column's text value becomes a field of the record.
type kind int

const (
	kText kind = iota
	kInt
	kFloat
	kNumeric
	kBool
	kTimestampTZ
	kTimestamp
	kDate
	kJSON
	kArray
)

// column is one column of a table as the catalog describes it.
type column struct {
	Name string
	Type string // format_type: "numeric(12,2)", "timestamp with time zone", "text[]"
	OID  uint32
	kind kind
}

// table is a configured table and what the catalog says of it when a landing starts.
type table struct {
	Table
	cols []column
	pk   []string // primary key columns, in key order
}

// Metadata fields of a change-data-capture stream's records.
const (
	// FieldLSN orders versions of a row (the stream's CursorField): the end LSN of
	// the transaction that wrote the version, or the snapshot's start LSN for a row
	// the snapshot read.
	FieldLSN = "_lsn"
	// FieldDeleted is true on a tombstone: the row with this key was deleted.
	FieldDeleted = "_deleted"
)

// The type mapping (Field types and how values are written into the record), chosen
// so that nothing is lost on the way into Parquet and DuckDB:
//
//   - smallint, integer, bigint, oid → int64.
//   - real, double precision → float64; NaN and ±Infinity land as NULL (Parquet
//     doubles could hold them, but the record's JSON cannot and DuckDB's sums would
//     turn to NaN).
//   - numeric (and money) → string holding the exact decimal text ("12345.6700"):
//     the framework has no decimal type, and a float64 would round amounts; a model
//     casts with ::DECIMAL(p,s) where it needs arithmetic.
//   - boolean → bool.
//   - timestamp with time zone → timestamp in UTC (microseconds); timestamp without
//     time zone → timestamp taken as UTC (what the platform's models assume); date →
//     date. ±infinity and BC dates land as NULL.
//   - json, jsonb → string holding the JSON text (jsonb as PostgreSQL normalises it),
//     which DuckDB's json functions read.
//   - arrays → string holding a JSON array ([1,2,3], ["a","b"]): PostgreSQL's own
//     {…} text is not something a model can parse.
//   - uuid, enums, text, varchar and every other type → string in PostgreSQL's text
//     form (an enum's label, a uuid's canonical form).
func kindOf(baseType string, category string) kind {
	switch baseType {
	case "int2", "int4", "int8", "oid":
		return kInt
	case "float4", "float8":
		return kFloat
	case "numeric", "money":
		return kNumeric
	case "bool":
		return kBool
	case "timestamptz":
		return kTimestampTZ
	case "timestamp":
		return kTimestamp
	case "date":
		return kDate
	case "json", "jsonb":
		return kJSON
	}
	if category == "A" {
		return kArray
	}
	return kText
}

func (k kind) fieldType() source.Type {
	switch k {
	case kInt:
		return source.Int64
	case kFloat:
		return source.Float64
	case kBool:
		return source.Bool
	case kTimestampTZ, kTimestamp:
		return source.Timestamp
	case kDate:
		return source.Date
	}
	return source.String
}

// describe reads a table's columns and primary key from the catalog.
func describe(ctx context.Context, db *pgxpool.Pool, cfg *Config, t Table) (*table, error) {
	schema := cfg.Schema
	op := fmt.Sprintf("postgres: describe %s.%s", schema, t.Name)
	var oid uint32
	var canSelect bool
	err := db.QueryRow(ctx, `SELECT c.oid, has_table_privilege(c.oid, 'SELECT') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')`, schema, t.Name).Scan(&oid, &canSelect)
	if err != nil {
		if isNoRows(err) {
			return nil, errs.Errorf(errs.Invalid, op, "no table %s.%s in the database (or the role cannot see it): fix %s/%s or %s", schema, t.Name, cfg.name(TablesEnv), cfg.name(CursorTablesEnv), cfg.name(SchemaEnv))
		}
		return nil, classify(op, err)
	}
	if !canSelect {
		return nil, errs.Errorf(errs.Permission, op, "the role may not read %s.%s: GRANT SELECT ON %s.%s TO <the role>", schema, t.Name, schema, t.Name)
	}
	rows, err := db.Query(ctx, `SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.atttypid, bt.typname, bt.typcategory::text
		FROM pg_attribute a JOIN pg_type ty ON ty.oid = a.atttypid
		JOIN pg_type bt ON bt.oid = CASE WHEN ty.typtype = 'd' THEN ty.typbasetype ELSE ty.oid END
		WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`, oid)
	if err != nil {
		return nil, classify(op, err)
	}
	tb := &table{Table: t}
	for rows.Next() {
		var c column
		var base, cat string
		if err := rows.Scan(&c.Name, &c.Type, &c.OID, &base, &cat); err != nil {
			rows.Close()
			return nil, classify(op, err)
		}
		c.kind = kindOf(base, cat)
		tb.cols = append(tb.cols, c)
	}
	if err := rows.Err(); err != nil {
		return nil, classify(op, err)
	}
	if err := db.QueryRow(ctx, `SELECT coalesce(array_agg(a.attname::text ORDER BY array_position(i.indkey::int2[], a.attnum)), '{}')
		FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey::int2[])
		WHERE i.indrelid = $1 AND i.indisprimary`, oid).Scan(&tb.pk); err != nil {
		return nil, classify(op, err)
	}
	if len(tb.pk) == 0 {
		return nil, errs.Errorf(errs.Invalid, op, "%s.%s has no primary key: the snapshot reads it in key order and changes are matched by key; add one (or read a view with a key in %s)", schema, t.Name, cfg.name(CursorTablesEnv))
	}
	if err := tb.declared(schema); err != nil {
		return nil, err
	}
	if t.Mode == Cursor {
		c, ok := tb.col(t.CursorColumn)
		if !ok {
			return nil, errs.Errorf(errs.Invalid, op, "%s: %s.%s has no column %q", cfg.name(CursorTablesEnv), schema, t.Name, t.CursorColumn)
		}
		switch c.kind {
		case kTimestampTZ, kTimestamp, kDate:
		case kInt:
			if t.Lookback > 0 {
				// An integer cursor (a version counter) has no time to look back over.
				tb.Lookback = 0
			}
		default:
			return nil, errs.Errorf(errs.Invalid, op, "%s: cursor column %s.%s is %s; want a timestamp, date or integer column the application moves on every change", cfg.name(CursorTablesEnv), t.Name, c.Name, c.Type)
		}
	}
	return tb, nil
}

func (t *table) col(name string) (column, bool) {
	for _, c := range t.cols {
		if c.Name == name {
			return c, true
		}
	}
	return column{}, false
}

// declared fails, naming the table and column, when the table lacks a declared
// column, holds it with another type, or has another primary key than declared.
func (t *table) declared(schema string) error {
	if t.Fields == nil {
		return nil
	}
	op := fmt.Sprintf("postgres: %s.%s", schema, t.Name)
	for _, f := range t.Fields {
		c, ok := t.col(f.Name)
		switch {
		case !ok:
			return errs.Errorf(errs.Invalid, op, "table %s.%s has no column %s, which its stream declares (%s): add the column to the table, or remove it from the declaration and the products that read it", schema, t.Name, f.Name, f.Type)
		case c.kind.fieldType() != f.Type:
			return errs.Errorf(errs.Invalid, op, "column %s of table %s.%s is %s, which lands as %s, but its stream declares %s: change the column's type back, or the declaration and the products that read it", f.Name, schema, t.Name, c.Type, c.kind.fieldType(), f.Type)
		}
	}
	if t.PrimaryKey != nil && !slices.Equal(t.PrimaryKey, t.pk) {
		return errs.Errorf(errs.Invalid, op, "table %s.%s has the primary key (%s), but its stream declares (%s): versions are matched by key, so fix the table or the declaration", schema, t.Name, strings.Join(t.pk, ", "), strings.Join(t.PrimaryKey, ", "))
	}
	return nil
}

// spec is the stream's spec for the table's columns, with the declared columns'
// docs.
func (t *table) spec() source.StreamSpec {
	sp := source.StreamSpec{Name: t.Name, PrimaryKey: t.pk}
	for _, c := range t.cols {
		doc := fmt.Sprintf("PostgreSQL column %s.%s (%s)", t.Name, c.Name, c.Type)
		if i := slices.IndexFunc(t.Fields, func(f source.Field) bool { return f.Name == c.Name }); i >= 0 && t.Fields[i].Doc != "" {
			doc = t.Fields[i].Doc
		}
		sp.Fields = append(sp.Fields, source.Field{Name: c.Name, Type: c.kind.fieldType(), Path: []string{c.Name}, Doc: doc})
	}
	return t.Table.withMetadata(sp)
}

// spec is a declared table's spec, known without the database.
func (t Table) spec() source.StreamSpec {
	sp := source.StreamSpec{Name: t.Name, PrimaryKey: t.PrimaryKey}
	for _, f := range t.Fields {
		f.Path = []string{f.Name}
		sp.Fields = append(sp.Fields, f)
	}
	return t.withMetadata(sp)
}

// withMetadata adds the cursor and, in change-data-capture mode, the _lsn and
// _deleted fields.
func (t Table) withMetadata(sp source.StreamSpec) source.StreamSpec {
	if t.Mode == Cursor {
		sp.CursorField = t.CursorColumn
		sp.ReadMode = fmt.Sprintf("cursor on %s", t.CursorColumn)
		if t.Lookback > 0 {
			sp.ReadMode += " with a " + shortDuration(t.Lookback) + " lookback"
		}
		sp.ReadMode += ": inserts and updates only; a row deleted from the table stays in the lake (cursor mode cannot see hard deletes — change data capture can)"
		return sp
	}
	sp.ReadMode = "change data capture (logical replication): inserts, updates and deletes, in commit order"
	sp.Fields = append(sp.Fields,
		source.Field{Name: FieldLSN, Type: source.Int64, Path: []string{FieldLSN}, Doc: "log sequence number of the transaction that wrote this version (the snapshot's start for rows the snapshot read): newer versions have larger ones"},
		source.Field{Name: FieldDeleted, Type: source.Bool, Path: []string{FieldDeleted}, Doc: "true when this version is a deletion (a tombstone holding only the key)"})
	sp.CursorField = FieldLSN
	sp.Deleted = FieldDeleted
	return sp
}

// signature lists the columns as "name type", what a cursor records of the columns
// it landed.
func (t *table) signature() []string {
	out := make([]string, len(t.cols))
	for i, c := range t.cols {
		out[i] = c.Name + " " + c.Type
	}
	return out
}

// drift compares the columns a stream landed (a cursor's signature) with the table
// now: a dropped or retyped column fails the stream, naming it; new columns are
// returned, to be reported and landed.
func (t *table) drift(schema string, landed []string) (added []string, err error) {
	now := map[string]string{}
	for _, c := range t.cols {
		now[c.Name] = c.Type
	}
	before := map[string]bool{}
	for _, s := range landed {
		name, typ, _ := strings.Cut(s, " ")
		before[name] = true
		cur, ok := now[name]
		op := fmt.Sprintf("postgres: %s.%s", schema, t.Name)
		switch {
		case !ok:
			return nil, errs.Errorf(errs.Invalid, op, "column %s (%s), which this stream has landed, was dropped from table %s.%s: the products built on it keep their current snapshot; restore the column, or change the products that read it and run a full refresh", name, typ, schema, t.Name)
		case cur != typ:
			return nil, errs.Errorf(errs.Invalid, op, "column %s of table %s.%s changed type from %s to %s: the products built on it keep their current snapshot; change them for the new type and run a full refresh", name, schema, t.Name, typ, cur)
		}
	}
	for _, c := range t.cols {
		if !before[c.Name] {
			added = append(added, c.Name+" "+c.Type)
		}
	}
	return added, nil
}

// typeMap decodes array text into Go values; a Map caches its plans, so one
// decoding at a time.
var (
	typeMap   = pgtype.NewMap()
	typeMapMu sync.Mutex
)

// decodeArray decodes PostgreSQL's text of an array of a type pgx knows.
func decodeArray(oid uint32, text string) (any, error) {
	typeMapMu.Lock()
	defer typeMapMu.Unlock()
	t, ok := typeMap.TypeForOID(oid)
	if !ok {
		return nil, fmt.Errorf("unknown type %d", oid)
	}
	return t.Codec.DecodeValue(typeMap, oid, pgtype.TextFormatCode, []byte(text))
}

// value converts one column's text (as PostgreSQL's output function writes it, with
// TimeZone UTC and DateStyle ISO) to the record's JSON value; nil is NULL.
func (c column) value(text *string) any {
	if text == nil {
		return nil
	}
	s := *text
	switch c.kind {
	case kInt:
		return json.Number(s)
	case kFloat:
		switch s {
		case "NaN", "Infinity", "-Infinity":
			return nil
		}
		return json.Number(s)
	case kBool:
		return s == "t" || s == "true"
	case kTimestampTZ, kTimestamp:
		return timestampText(s)
	case kDate:
		if s == "infinity" || s == "-infinity" || strings.HasSuffix(s, " BC") {
			return nil
		}
		return s
	case kArray:
		v, err := decodeArray(c.OID, s)
		if err != nil {
			return s // an array of a type pgx does not know (an enum's): its own text
		}
		b, err := json.Marshal(v)
		if err != nil {
			return s
		}
		return string(b)
	}
	return s
}

// timestampText turns PostgreSQL's ISO output ("2024-03-02 10:04:05.123456+00") into
// RFC 3339 in UTC; ±infinity and BC timestamps are NULL.
func timestampText(s string) any {
	if s == "infinity" || s == "-infinity" || strings.HasSuffix(s, " BC") {
		return nil
	}
	for _, layout := range []string{"2006-01-02 15:04:05.999999999-07", "2006-01-02 15:04:05.999999999-07:00", "2006-01-02 15:04:05.999999999-07:00:00", "2006-01-02 15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC().Format(time.RFC3339Nano)
		}
	}
	return s // the landing refuses it, naming the field
}

// lsnInt is an LSN as the int64 the _lsn field holds (WAL positions stay far below 2^63).
func lsnInt(l uint64) int64 {
	if l > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(l)
}

// shortDuration writes d as people do: 5m, 1h, 1h30m.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
