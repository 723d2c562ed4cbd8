package query

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
	"github.com/meshflow/meshflow/framework/quality"
	"github.com/meshflow/meshflow/framework/transform"
)

// DiffRequest compares two versions of a product's port row by row, matched on the
// product's primary key: two snapshots, or a snapshot and a model's output that was
// never published.
type DiffRequest struct {
	Product mesh.Entry    // the product at the major whose port is compared
	Ports   *port.Catalog // where it is published
	// From and To are snapshot ids. To 0 is the current snapshot; From 0 is the
	// snapshot before To (its parent), or the current one when Proposed is set.
	From, To int64
	// Proposed, when set, is a local Parquet file — a model's output, staged nowhere —
	// compared with snapshot From in place of a snapshot To.
	Proposed string
	// Branch, when set, compares the head of the port's branch of that name (To 0)
	// with main's current snapshot (From 0): what promoting the preview would change.
	Branch string
	// Examples is how many rows of each kind (added, removed, changed) are shown,
	// first by key; 0 gives the counts and schema changes alone.
	Examples int
	// Authorize is asked about the port before anything of it is read; an error
	// refuses the diff. nil allows it.
	Authorize  func(ctx context.Context, e mesh.Entry, table port.TableID) error
	ScratchDir string // where DuckDB spills and remote data files are copied ("" = OS temp)
	MemoryMB   int    // DuckDB's memory limit (0 = DuckDB's default)
}

// DiffResult is what changed from one version of a port to the other.
type DiffResult struct {
	Table      string   `json:"table"`
	PrimaryKey []string `json:"primary_key"`
	From       DiffSide `json:"from"`
	To         DiffSide `json:"to"`
	// Schema lists the columns added, removed or retyped: added and retyped in the
	// newer side's order, then removed in the older side's.
	Schema []SchemaChange `json:"schema_changes"`
	// Rows by key: only in To, only in From, in both with a compared column that
	// differs, in both and equal. Compared are the columns both sides have, keys aside.
	Added     int64 `json:"added"`
	Removed   int64 `json:"removed"`
	Changed   int64 `json:"changed"`
	Unchanged int64 `json:"unchanged"`
	// ChangedColumns counts, for each column that differs in any changed row, the
	// rows where it does, in the newer side's column order.
	ChangedColumns []ColumnChange `json:"changed_columns"`
	// Warnings say when the counts are not one per key: a primary key that repeats
	// on a side matches its rows pairwise.
	Warnings []string `json:"warnings,omitempty"`
	// Examples, first by key: whole rows added and removed; and each changed row's
	// differing columns as key, column, before, after, the values as DuckDB prints them.
	AddedRows   Rows `json:"added_rows"`
	RemovedRows Rows `json:"removed_rows"`
	ChangedRows Rows `json:"changed_values"`
}

// DiffSide is one version compared.
type DiffSide struct {
	Snapshot  int64      `json:"snapshot,omitempty"` // 0 for a proposed model's output
	Published *time.Time `json:"published,omitempty"`
	Proposed  bool       `json:"proposed,omitempty"`
	Rows      int64      `json:"rows"`
}

// SchemaChange is a column added, removed or retyped between the two sides.
type SchemaChange struct {
	Column string `json:"column"`
	Change string `json:"change"`           // added, removed or retyped
	Before string `json:"before,omitempty"` // the type in From (DuckDB's name)
	After  string `json:"after,omitempty"`  // the type in To
}

// ColumnChange is how many changed rows differ in one column.
type ColumnChange struct {
	Column string `json:"column"`
	Rows   int64  `json:"rows"`
}

// Rows are example rows; they print as a query result does and encode as its JSON.
type Rows struct{ *Result }

// MarshalJSON encodes the rows as Result.WriteJSON does: one object per row.
func (r Rows) MarshalJSON() ([]byte, error) {
	if r.Result == nil {
		return []byte("[]"), nil
	}
	var b bytes.Buffer
	err := r.WriteJSON(&b)
	return b.Bytes(), err
}

const dop = "diff"

// Names of the diff's own tables and columns; the prefix keeps them apart from a port's.
const (
	diffTable   = "meshdiff"
	diffExample = "meshdiff_changed"
	inFrom      = "__meshdiff_in_from"
	inTo        = "__meshdiff_in_to"
	changedCol  = "__meshdiff_changed"
	present     = "__meshdiff_present"
)

// Diff compares two versions of the product's port per primary key. It reads the
// snapshots' data files (or the proposed file) in a private DuckDB and changes nothing.
func Diff(ctx context.Context, req DiffRequest) (*DiffResult, error) {
	e := req.Product
	id := port.TableID{Domain: e.Domain.Name, Name: e.Product.PortName()}
	switch {
	case req.Ports == nil:
		return nil, errs.Errorf(errs.Internal, dop, "no port catalog")
	case len(e.Product.PrimaryKey) == 0:
		return nil, errs.Errorf(errs.Invalid, dop, "%s declares no primary key, so its rows cannot be matched: declare PrimaryKey", e.Ref())
	case req.Proposed != "" && req.To != 0:
		return nil, errs.Errorf(errs.Invalid, dop, "a proposed model's output is compared with one snapshot, From; To must be 0")
	case req.Proposed != "" && req.Branch != "":
		return nil, errs.Errorf(errs.Invalid, dop, "a proposed model's output is compared with main, not with a branch: give one of Proposed and Branch")
	}
	if err := authorize(ctx, req.Authorize, portDecl{entry: e, id: id}); err != nil {
		return nil, err
	}
	from, to, err := diffSnapshots(ctx, req, id)
	if err != nil {
		return nil, err
	}

	dir, err := os.MkdirTemp(req.ScratchDir, "mesh-diff-")
	if err != nil {
		return nil, errs.Errorf(errs.Invalid, dop, "make a scratch directory: %v: set MESHFLOW_WORKDIR to a writable directory", err)
	}
	defer os.RemoveAll(dir)
	db, err := transform.Open(ctx, filepath.Join(dir, "spill"), req.MemoryMB)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	conn, err := db.Conn(ctx) // one connection: the views live in it
	if err != nil {
		return nil, errs.E(errs.Internal, dop, err)
	}
	defer conn.Close()

	d := &differ{conn: conn, op: dop + " " + id.String(), key: e.Product.PrimaryKey, examples: req.Examples}
	att := &attacher{cat: req.Ports, conn: conn, dir: dir, views: map[string]string{}}
	res := &DiffResult{Table: id.String(), PrimaryKey: e.Product.PrimaryKey}
	fromView, err := att.view(ctx, id, from, true)
	if err != nil {
		return nil, err
	}
	d.from = quality.Ident(id.Domain) + "." + quality.Ident(fromView)
	res.From = side(from)
	if req.Proposed != "" {
		d.to = "read_parquet(" + quality.Literal(req.Proposed) + ")"
		res.To = DiffSide{Proposed: true}
	} else {
		toView, err := att.view(ctx, id, to, true)
		if err != nil {
			return nil, err
		}
		d.to = quality.Ident(id.Domain) + "." + quality.Ident(toView)
		res.To = side(to)
	}
	if err := d.run(ctx, res); err != nil {
		return nil, err
	}
	return res, nil
}

func side(s port.Snapshot) DiffSide {
	t := s.Timestamp.UTC()
	return DiffSide{Snapshot: s.ID, Published: &t}
}

// diffSnapshots resolves the request's snapshots, with errors that say which exist.
func diffSnapshots(ctx context.Context, req DiffRequest, id port.TableID) (from, to port.Snapshot, err error) {
	if req.Branch != "" {
		return branchDiffSnapshots(ctx, req, id)
	}
	ref := req.Product.Ref()
	current, ok, err := req.Ports.Current(ctx, id)
	if err != nil {
		return from, to, err
	}
	if !ok {
		return from, to, errs.Errorf(errs.NotFound, dop, "%s has never been published, so there is nothing to compare: run `mesh run %s` first", id, ref)
	}
	snaps, err := req.Ports.Snapshots(ctx, id)
	if err != nil {
		return from, to, err
	}
	find := func(which string, snapID int64) (int, error) {
		for i, s := range snaps {
			if s.ID == snapID {
				return i, nil
			}
		}
		return 0, errs.Errorf(errs.NotFound, dop, "%s has no snapshot %d (%s): its recent snapshots are %s; `mesh show %s` lists them", id, snapID, which, recent(snaps), ref)
	}
	toAt, err := find("--to", cmpOr(req.To, current.ID))
	if err != nil {
		return from, to, err
	}
	to = snaps[toAt]
	switch {
	case req.From != 0:
		at, err := find("--from", req.From)
		if err != nil {
			return from, to, err
		}
		return snaps[at], to, nil
	case req.Proposed != "":
		return current, to, nil
	}
	// The snapshot before To is its parent; an expired parent leaves the next older one.
	if at := slices.IndexFunc(snaps, func(s port.Snapshot) bool { return s.ID == to.ParentID }); to.ParentID != 0 && at >= 0 {
		return snaps[at], to, nil
	}
	if toAt+1 < len(snaps) {
		return snaps[toAt+1], to, nil
	}
	if len(snaps) == 1 {
		return from, to, errs.Errorf(errs.NotFound, dop, "%s has only one snapshot, %d, so there is nothing to compare it with: after the next run of %s, `mesh diff %s` shows what that run changed (or compare a model with it before it publishes: --proposed)", id, to.ID, ref, ref)
	}
	return from, to, errs.Errorf(errs.NotFound, dop, "snapshot %d is the first of %s, so nothing precedes it: give --from, one of %s", to.ID, id, recent(snaps))
}

func cmpOr(v, def int64) int64 {
	if v != 0 {
		return v
	}
	return def
}

// differ builds and runs the diff's SQL over two views, from and to.
type differ struct {
	conn     *sql.Conn
	op       string
	key      []string
	from, to string // SQL table expressions
	examples int
	compared []Column // columns both sides have, keys aside, in To's order
	retyped  map[string]bool
}

func (d *differ) run(ctx context.Context, res *DiffResult) error {
	fromCols, err := describe(ctx, d.conn, "SELECT * FROM "+d.from)
	if err != nil {
		return errs.E(errs.Internal, d.op, err)
	}
	toCols, err := describe(ctx, d.conn, "SELECT * FROM "+d.to)
	if err != nil {
		return errs.E(errs.Invalid, d.op, err)
	}
	res.Schema = d.schema(fromCols, toCols)
	for _, k := range d.key {
		for _, s := range []struct {
			name string
			cols []Column
		}{{"the older side", fromCols}, {"the newer side", toCols}} {
			if !slices.ContainsFunc(s.cols, func(c Column) bool { return c.Name == k }) {
				return errs.Errorf(errs.Invalid, d.op, "key column %s is missing from %s, so rows cannot be matched: a changed key needs a new major version", k, s.name)
			}
		}
	}
	for _, s := range []struct {
		name, table string
		rows        *int64
	}{{"older", d.from, &res.From.Rows}, {"newer", d.to, &res.To.Rows}} {
		var repeated int64
		q := fmt.Sprintf("SELECT (SELECT count(*) FROM %s), (SELECT count(*) FROM (SELECT 1 FROM %s GROUP BY %s HAVING count(*) > 1))", s.table, s.table, d.keyList(""))
		if err := d.conn.QueryRowContext(ctx, q).Scan(s.rows, &repeated); err != nil {
			return errs.E(errs.Internal, d.op, err)
		}
		if repeated > 0 {
			res.Warnings = append(res.Warnings, fmt.Sprintf("%d keys (%s) repeat in the %s side: their rows are matched pairwise, so the counts are not one per key", repeated, strings.Join(d.key, ", "), s.name))
		}
	}
	if err := d.exec(ctx, d.joinSQL()); err != nil {
		return err
	}
	if err := d.count(ctx, res); err != nil {
		return err
	}
	if d.examples <= 0 {
		return nil
	}
	if res.AddedRows, err = d.rows(ctx, d.to, inFrom); err != nil {
		return err
	}
	if res.RemovedRows, err = d.rows(ctx, d.from, inTo); err != nil {
		return err
	}
	res.ChangedRows, err = d.changedValues(ctx)
	return err
}

// schema compares the two sides' columns and picks those compared row by row.
func (d *differ) schema(fromCols, toCols []Column) []SchemaChange {
	var out []SchemaChange
	d.retyped = map[string]bool{}
	before := map[string]string{}
	for _, c := range fromCols {
		before[c.Name] = c.Type
	}
	after := map[string]bool{}
	for _, c := range toCols {
		after[c.Name] = true
		typ, ok := before[c.Name]
		switch {
		case !ok:
			out = append(out, SchemaChange{Column: c.Name, Change: "added", After: c.Type})
			continue
		case typ != c.Type:
			out = append(out, SchemaChange{Column: c.Name, Change: "retyped", Before: typ, After: c.Type})
			d.retyped[c.Name] = true
		}
		if !slices.Contains(d.key, c.Name) {
			d.compared = append(d.compared, c)
		}
	}
	for _, c := range fromCols {
		if !after[c.Name] {
			out = append(out, SchemaChange{Column: c.Name, Change: "removed", Before: c.Type})
		}
	}
	return out
}

// keyList is the key columns, each qualified with alias when it is not "".
func (d *differ) keyList(alias string) string {
	out := make([]string, len(d.key))
	for i, k := range d.key {
		out[i] = qualified(alias, k)
	}
	return strings.Join(out, ", ")
}

// keyMatch joins two aliases on the key; NULL matches NULL, as a key holding one is
// still one row's key.
func (d *differ) keyMatch(a, b string) string {
	out := make([]string, len(d.key))
	for i, k := range d.key {
		out[i] = qualified(a, k) + " IS NOT DISTINCT FROM " + qualified(b, k)
	}
	return strings.Join(out, " AND ")
}

func qualified(alias, col string) string {
	if alias == "" {
		return quality.Ident(col)
	}
	return alias + "." + quality.Ident(col)
}

// flag is the diff table's column saying compared column i differs.
func flag(i int) string { return quality.Ident("__meshdiff_c" + strconv.Itoa(i)) }

// differs compares one column of f and t; a retyped column is compared as text, which
// every type has.
func (d *differ) differs(c Column) string {
	f, t := qualified("f", c.Name), qualified("t", c.Name)
	if d.retyped[c.Name] {
		f, t = "CAST("+f+" AS VARCHAR)", "CAST("+t+" AS VARCHAR)"
	}
	return f + " IS DISTINCT FROM " + t
}

// joinSQL matches every row of both sides by key into the diff table: the key, which
// sides have it, and which compared columns differ.
func (d *differ) joinSQL() string {
	sel := make([]string, 0, len(d.key)+len(d.compared)+3)
	for _, k := range d.key {
		sel = append(sel, fmt.Sprintf("coalesce(%s, %s) AS %s", qualified("f", k), qualified("t", k), quality.Ident(k)))
	}
	sel = append(sel, "f."+present+" IS NOT NULL AS "+inFrom, "t."+present+" IS NOT NULL AS "+inTo)
	anyDiffers := "false"
	if len(d.compared) > 0 {
		parts := make([]string, len(d.compared))
		for i, c := range d.compared {
			parts[i] = "coalesce(" + d.differs(c) + ", false)"
			sel = append(sel, parts[i]+" AS "+flag(i))
		}
		anyDiffers = strings.Join(parts, " OR ")
	}
	sel = append(sel, "(f."+present+" IS NOT NULL AND t."+present+" IS NOT NULL AND ("+anyDiffers+")) AS "+changedCol)
	return fmt.Sprintf("CREATE TABLE %s AS SELECT %s FROM (SELECT true AS %s, * FROM %s) AS f FULL OUTER JOIN (SELECT true AS %s, * FROM %s) AS t ON %s",
		diffTable, strings.Join(sel, ", "), present, d.from, present, d.to, d.keyMatch("f", "t"))
}

func (d *differ) count(ctx context.Context, res *DiffResult) error {
	sel := []string{
		"count(*) FILTER (WHERE NOT " + inFrom + ")",
		"count(*) FILTER (WHERE NOT " + inTo + ")",
		"count(*) FILTER (WHERE " + changedCol + ")",
		"count(*) FILTER (WHERE " + inFrom + " AND " + inTo + " AND NOT " + changedCol + ")",
	}
	for i := range d.compared {
		sel = append(sel, "count(*) FILTER (WHERE "+changedCol+" AND "+flag(i)+")")
	}
	counts := make([]int64, len(sel))
	ptrs := make([]any, len(sel))
	for i := range counts {
		ptrs[i] = &counts[i]
	}
	if err := d.conn.QueryRowContext(ctx, "SELECT "+strings.Join(sel, ", ")+" FROM "+diffTable).Scan(ptrs...); err != nil {
		return errs.E(errs.Internal, d.op, err)
	}
	res.Added, res.Removed, res.Changed, res.Unchanged = counts[0], counts[1], counts[2], counts[3]
	res.ChangedColumns = []ColumnChange{}
	for i, c := range d.compared {
		if n := counts[4+i]; n > 0 {
			res.ChangedColumns = append(res.ChangedColumns, ColumnChange{Column: c.Name, Rows: n})
		}
	}
	return nil
}

// rows reads the first examples rows of table, by key, whose key the other side lacks
// (missing names the diff table's column saying the other side has it).
func (d *differ) rows(ctx context.Context, table, missing string) (Rows, error) {
	q := fmt.Sprintf("SELECT s.* FROM %s AS s SEMI JOIN (SELECT %s FROM %s WHERE NOT %s ORDER BY %s LIMIT %d) AS k ON %s ORDER BY %s",
		table, d.keyList(""), diffTable, missing, d.keyList(""), d.examples, d.keyMatch("s", "k"), d.keyList("s"))
	return d.read(ctx, q)
}

// changedValues lists the differing columns of the first examples changed rows, by
// key: one line per row and column, its values before and after as text.
func (d *differ) changedValues(ctx context.Context) (Rows, error) {
	keys := d.keyList("")
	if err := d.exec(ctx, fmt.Sprintf("CREATE TABLE %s AS SELECT * FROM %s WHERE %s ORDER BY %s LIMIT %d", diffExample, diffTable, changedCol, keys, d.examples)); err != nil {
		return Rows{}, err
	}
	// Only the example rows of each side, so each column's line below joins small tables.
	for _, s := range []struct{ name, table string }{{"meshdiff_before", d.from}, {"meshdiff_after", d.to}} {
		if err := d.exec(ctx, fmt.Sprintf("CREATE TABLE %s AS SELECT s.* FROM %s AS s SEMI JOIN %s AS k ON %s", s.name, s.table, diffExample, d.keyMatch("s", "k"))); err != nil {
			return Rows{}, err
		}
	}
	lines := []string{}
	for i, c := range d.compared {
		lines = append(lines, fmt.Sprintf("SELECT %s, %s AS %s, CAST(%s AS VARCHAR) AS before, CAST(%s AS VARCHAR) AS after, %d AS __meshdiff_ord FROM %s AS e JOIN meshdiff_before AS f ON %s JOIN meshdiff_after AS t ON %s WHERE e.%s",
			d.keyList("e"), quality.Literal(c.Name), quality.Ident("column"), qualified("f", c.Name), qualified("t", c.Name), i, diffExample, d.keyMatch("e", "f"), d.keyMatch("e", "t"), flag(i)))
	}
	if len(lines) == 0 {
		return Rows{&Result{}}, nil
	}
	q := fmt.Sprintf("SELECT * EXCLUDE (__meshdiff_ord) FROM (%s) ORDER BY %s, __meshdiff_ord", strings.Join(lines, " UNION ALL "), keys)
	return d.read(ctx, q)
}

func (d *differ) read(ctx context.Context, q string) (Rows, error) {
	res := &Result{}
	cols, err := describe(ctx, d.conn, q)
	if err != nil {
		return Rows{}, errs.E(errs.Internal, d.op, err)
	}
	res.Columns = cols
	if err := readRows(ctx, d.conn, q, 0, res); err != nil {
		return Rows{}, errs.E(errs.Internal, d.op, err)
	}
	return Rows{res}, nil
}

func (d *differ) exec(ctx context.Context, q string) error {
	if _, err := d.conn.ExecContext(ctx, q); err != nil {
		return errs.E(errs.Internal, d.op, err)
	}
	return nil
}
