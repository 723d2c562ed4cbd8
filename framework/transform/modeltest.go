package transform

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/quality"
)

// TestResult is what one model test (mesh.ModelTest) found.
type TestResult struct {
	Domain, Product, Test string
	Doc                   string // the test's Doc
	Elapsed               time.Duration
	// Diff shows the expected rows the model did not return (-) and the rows it
	// returned that were not expected (+), column-aligned; "" when they are the same.
	Diff string
	// Err is why the test could not run: a given or expected file it cannot read, a
	// column its table does not have, a value its type does not read, a model that
	// does not run.
	Err error
}

// Name is domain.product/test.
func (r TestResult) Name() string { return r.Domain + "." + r.Product + "/" + r.Test }

// Failed reports whether the model did not return the expected rows, or the test could
// not run.
func (r TestResult) Failed() bool { return r.Diff != "" || r.Err != nil }

// Tester runs model tests in one embedded DuckDB, each in a transaction rolled back
// after it: a test costs its own few statements, milliseconds, not a database's start
// (the global-id macros) and shutdown. It runs one test at a time.
type Tester struct {
	db   *sql.DB
	decl Declarations
}

// NewTester opens the database tests run in; decl declares what the models read
// (Declare). Close it when done.
func NewTester(ctx context.Context, decl Declarations) (*Tester, error) {
	db, err := Open(ctx, "", 0)
	if err != nil {
		return nil, err
	}
	// A test's inputs are a few rows: one thread plans and runs them soonest.
	if _, err := db.ExecContext(ctx, "SET threads = 1"); err != nil {
		db.Close()
		return nil, errs.E(errs.Internal, "configure duckdb", err)
	}
	return &Tester{db: db, decl: decl}, nil
}

// Close closes the tester's database.
func (tr *Tester) Close() error { return tr.db.Close() }

// Run runs the model test t of p, a product of dom: each input of p is an empty table
// typed as declared, filled with the rows t gives it (a raw stream's into
// <source>.<stream>_history, whose <source>.<stream> view keeps the newest version
// of each key as in a run); the model runs as a run runs it (its columns cast to the
// declared schema); its rows are compared with the expected ones. Files are read
// from dom.Files.
func (tr *Tester) Run(ctx context.Context, dom mesh.Domain, p mesh.Product, t mesh.ModelTest) TestResult {
	start := time.Now()
	r := TestResult{Domain: dom.Name, Product: p.Name, Test: t.Name, Doc: t.Doc}
	r.Diff, r.Err = tr.run(ctx, dom, p, t)
	r.Elapsed = time.Since(start)
	return r
}

func (tr *Tester) run(ctx context.Context, dom mesh.Domain, p mesh.Product, t mesh.ModelTest) (string, error) {
	op := "test " + t.Name
	db, decl := tr.db, tr.decl
	if _, err := db.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return "", errs.E(errs.Internal, op, err)
	}
	// Nothing a test makes outlives it, even when it fails half-way or is canceled.
	defer db.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
	tables := map[mesh.Input]string{} // where an input's given rows go
	for _, in := range p.Inputs {
		if in.IsRaw() {
			spec, ok := decl.Streams[in.String()]
			if !ok {
				return "", errs.Errorf(errs.Invalid, op, "%s", unknownStream(in, decl))
			}
			if err := DeclareRaw(ctx, db, in.Source, spec); err != nil {
				return "", err
			}
			tables[inputKey(in)] = quality.Ident(in.Source) + "." + quality.Ident(in.Stream+"_history")
			continue
		}
		up, ok := decl.Ports[in.String()]
		if !ok {
			return "", errs.Errorf(errs.Invalid, op, "%s", unknownPort(in, decl))
		}
		if err := DeclarePort(ctx, db, in.Domain, in.Product, up.Schema); err != nil {
			return "", err
		}
		tables[inputKey(in)] = quality.Ident(in.Domain) + "." + quality.Ident(in.Product)
	}
	for _, g := range t.Given {
		table, ok := tables[inputKey(g.Input)]
		if !ok {
			return "", errs.Errorf(errs.Invalid, op, "given %s, which is not among %s's inputs", g.Input, p.Name)
		}
		rows, err := readRows(dom.Files, g.Columns, g.Rows, g.File)
		if err == nil {
			if g.Input.IsRaw() {
				rows = rows.landed()
			}
			err = insertRows(ctx, db, table, rows)
		}
		if err != nil {
			return "", errs.E(errs.Invalid, op, fmt.Errorf("given %s: %w", g.Input, err))
		}
	}
	model := quality.Subquery(p.Model)
	if err := createModelTable(ctx, db, p, model, op); err != nil {
		return "", err
	}
	want, err := readRows(dom.Files, t.Expect.Columns, t.Expect.Rows, t.Expect.File)
	if err != nil {
		return "", errs.E(errs.Invalid, op, fmt.Errorf("expect: %w", err))
	}
	compared, err := comparedColumns(p, want.columns)
	if err != nil {
		return "", errs.E(errs.Invalid, op, fmt.Errorf("expect: %w", err))
	}
	// The expected rows are a port of the compared columns, typed as the model's are.
	if err := DeclarePort(ctx, db, "expected", p.Name, compared); err != nil {
		return "", err
	}
	expected := "expected." + quality.Ident(p.Name)
	if err := insertRows(ctx, db, expected, want); err != nil {
		return "", errs.E(errs.Invalid, op, fmt.Errorf("expect: %w", err))
	}
	got, err := textRows(ctx, db, "model", compared)
	if err != nil {
		return "", errs.E(errs.Internal, op, err)
	}
	wanted, err := textRows(ctx, db, expected, compared)
	if err != nil {
		return "", errs.E(errs.Internal, op, err)
	}
	return diffRows(mesh.ColumnNames(compared), wanted, got), nil
}

// inputKey is in as the key of a product's input: reading the same partition or not,
// it is the same table.
func inputKey(in mesh.Input) mesh.Input {
	in.SamePartition = false
	return in
}

// comparedColumns are the schema's columns an expectation names, in the schema's
// order; all of them when it names none.
func comparedColumns(p mesh.Product, names []string) ([]mesh.Column, error) {
	if len(names) == 0 {
		return p.Schema, nil
	}
	for _, n := range names {
		if _, ok := p.Column(n); !ok {
			return nil, fmt.Errorf("column %q is not in %s's schema (its columns: %s)", n, p.Name, strings.Join(mesh.ColumnNames(p.Schema), ", "))
		}
	}
	var out []mesh.Column
	for _, c := range p.Schema {
		if slices.Contains(names, c.Name) {
			out = append(out, c)
		}
	}
	return out, nil
}

// rowSet is rows of text values (nil = NULL) for the named columns.
type rowSet struct {
	columns []string
	rows    [][]*string
}

// landedAt is when the given versions of a raw stream landed, a second apart in their
// order, when a test leaves _extracted_at out.
var landedAt = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// landed adds the lake's columns a test may leave out of a raw stream's rows: later
// rows landed later (so they win a tie of the stream's cursor, as in a run), by a run
// called "test".
func (s rowSet) landed() rowSet {
	out := rowSet{columns: slices.Clone(s.columns), rows: make([][]*string, len(s.rows))}
	for i := range s.rows {
		out.rows[i] = slices.Clone(s.rows[i])
	}
	add := func(col string, value func(i int) string) {
		if slices.Contains(out.columns, col) {
			return
		}
		out.columns = append(out.columns, col)
		for i := range out.rows {
			v := value(i)
			out.rows[i] = append(out.rows[i], &v)
		}
	}
	add(lake.ColExtractedAt, func(i int) string {
		return landedAt.Add(time.Duration(i) * time.Second).Format(time.DateTime)
	})
	add(lake.ColRunID, func(int) string { return "test" })
	return out
}

// readRows reads rows declared in Go, or the domain's file holding them.
func readRows(files fs.FS, columns []string, rows [][]any, file string) (rowSet, error) {
	if file == "" {
		out := rowSet{columns: columns}
		for i, row := range rows {
			if len(row) != len(columns) {
				return rowSet{}, fmt.Errorf("row %d has %d values for %d columns", i+1, len(row), len(columns))
			}
			vals := make([]*string, len(row))
			for j, v := range row {
				text, ok := mesh.TestValue(v)
				if !ok {
					return rowSet{}, fmt.Errorf("row %d, column %s: a %T cannot be a value", i+1, columns[j], v)
				}
				vals[j] = text
			}
			out.rows = append(out.rows, vals)
		}
		return out, nil
	}
	if files == nil {
		return rowSet{}, fmt.Errorf("%s: the domain has no folder to read it from: set Domain.Files to its embedded folder (`//go:embed models tests`)", file)
	}
	b, err := fs.ReadFile(files, file)
	if err != nil {
		return rowSet{}, fmt.Errorf("%s is not in the domain's folder: write it there (domains/<domain>/%s) and embed it with the models (`//go:embed models tests` in the domain's package)", file, file)
	}
	switch path.Ext(file) {
	case ".csv":
		return readCSV(file, b)
	case ".json":
		return readJSON(file, b)
	}
	return rowSet{}, fmt.Errorf("%s: a test's rows are a .csv or a .json file", file)
}

// readCSV reads a CSV file with a header row; an empty cell is NULL.
func readCSV(file string, b []byte) (rowSet, error) {
	records, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		return rowSet{}, fmt.Errorf("%s: %w", file, err)
	}
	if len(records) == 0 {
		return rowSet{}, fmt.Errorf("%s is empty: its first line names the columns", file)
	}
	out := rowSet{columns: records[0]}
	for _, rec := range records[1:] {
		vals := make([]*string, len(rec))
		for j, v := range rec {
			if v != "" {
				vals[j] = &rec[j]
			}
		}
		out.rows = append(out.rows, vals)
	}
	return out, nil
}

// readJSON reads a JSON array of objects, one a row; a key an object lacks, or null,
// is NULL; an object or array is its JSON text.
func readJSON(file string, b []byte) (rowSet, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var objs []map[string]any
	if err := dec.Decode(&objs); err != nil {
		return rowSet{}, fmt.Errorf("%s: not a JSON array of objects, one a row: %w", file, err)
	}
	seen := map[string]bool{}
	var out rowSet
	for _, o := range objs {
		for k := range o {
			if !seen[k] {
				seen[k] = true
				out.columns = append(out.columns, k)
			}
		}
	}
	sort.Strings(out.columns)
	for i, o := range objs {
		vals := make([]*string, len(out.columns))
		for j, c := range out.columns {
			var s string
			switch v := o[c].(type) {
			case nil:
				continue
			case string:
				s = v
			case json.Number:
				s = v.String()
			case bool:
				s = strconv.FormatBool(v)
			default:
				js, err := json.Marshal(v)
				if err != nil {
					return rowSet{}, fmt.Errorf("%s: row %d, %s: %w", file, i+1, c, err)
				}
				s = string(js)
			}
			vals[j] = &s
		}
		out.rows = append(out.rows, vals)
	}
	return out, nil
}

// insertRows inserts rows into table, each value cast from text to its column's type.
// A column the table lacks, or a value its type cannot read, is an error naming it.
func insertRows(ctx context.Context, db *sql.DB, table string, rows rowSet) error {
	if len(rows.rows) == 0 {
		return nil
	}
	cols, err := describe(ctx, db, "SELECT * FROM "+table)
	if err != nil {
		return err
	}
	types := map[string]string{}
	for _, c := range cols {
		types[c.name] = c.typ
	}
	idents := make([]string, len(rows.columns))
	for i, c := range rows.columns {
		if _, ok := types[c]; !ok {
			names := make([]string, len(cols))
			for j, have := range cols {
				names[j] = have.name
			}
			return fmt.Errorf("no column %q%s (its columns: %s)", c, didYouMean(c, names), strings.Join(names, ", "))
		}
		idents[i] = quality.Ident(c)
	}
	// A value its column's type cannot read is found before the insert, which would
	// only say that one of them failed (and abort the test's transaction).
	var probes []string
	for i, row := range rows.rows {
		for j, v := range row {
			if v != nil {
				probes = append(probes, fmt.Sprintf("(%d, %d, TRY_CAST(%s AS %s) IS NULL)", i, j, quality.Literal(*v), types[rows.columns[j]]))
			}
		}
	}
	if len(probes) > 0 {
		var i, j int
		err := db.QueryRowContext(ctx, "SELECT r, c FROM (VALUES "+strings.Join(probes, ", ")+") AS p(r, c, bad) WHERE bad ORDER BY r, c LIMIT 1").Scan(&i, &j)
		switch {
		case err == nil:
			col := rows.columns[j]
			return fmt.Errorf("row %d, column %s: %q is not a %s", i+1, col, *rows.rows[i][j], types[col])
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
	}
	tuples := make([]string, len(rows.rows))
	for i, row := range rows.rows {
		vals := make([]string, len(row))
		for j, v := range row {
			vals[j] = "NULL"
			if v != nil {
				vals[j] = fmt.Sprintf("CAST(%s AS %s)", quality.Literal(*v), types[rows.columns[j]])
			}
		}
		tuples[i] = "(" + strings.Join(vals, ", ") + ")"
	}
	_, err = db.ExecContext(ctx, fmt.Sprintf("INSERT INTO %s (%s) VALUES %s", table, strings.Join(idents, ", "), strings.Join(tuples, ", ")))
	return err
}

// textRows reads the columns of table (a name as SQL writes it) as text (nil = NULL), as their types write them;
// a DOUBLE is rounded to 6 decimals first, so a computed fraction compares with the
// one written in a test.
func textRows(ctx context.Context, db *sql.DB, table string, cols []mesh.Column) ([][]*string, error) {
	exprs := make([]string, len(cols))
	for i, c := range cols {
		e := quality.Ident(c.Name)
		if c.Type == mesh.Float64 {
			e = "round(" + e + ", 6) + 0.0" // + 0.0 turns -0.0 into 0.0
		}
		exprs[i] = "CAST(" + e + " AS VARCHAR)"
	}
	rows, err := db.QueryContext(ctx, fmt.Sprintf("SELECT %s FROM %s", strings.Join(exprs, ", "), table))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]*string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make([]*string, len(cols))
		for i, v := range vals {
			if v.Valid {
				row[i] = &v.String
			}
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

// diffRows compares want and got as multisets of rows: "" when they hold the same rows,
// else a column-aligned table of the rows missing (-) and unexpected (+), sorted so
// that a row and its near-miss stand together.
func diffRows(columns []string, want, got [][]*string) string {
	key := func(row []*string) string {
		var b strings.Builder
		for _, v := range row {
			if v == nil {
				b.WriteString("\x00N")
			} else {
				b.WriteString("\x00V" + *v)
			}
		}
		return b.String()
	}
	left := map[string]int{}
	for _, row := range want {
		left[key(row)]++
	}
	type line struct {
		sign  string
		cells []string
	}
	var lines []line
	cells := func(row []*string) []string {
		out := make([]string, len(row))
		for i, v := range row {
			out[i] = showValue(v)
		}
		return out
	}
	unexpected := 0
	for _, row := range got {
		if k := key(row); left[k] > 0 {
			left[k]--
			continue
		}
		unexpected++
		lines = append(lines, line{"+", cells(row)})
	}
	missing := 0
	for _, row := range want {
		if k := key(row); left[k] > 0 {
			left[k]--
			missing++
			lines = append(lines, line{"-", cells(row)})
		}
	}
	if len(lines) == 0 {
		return ""
	}
	sort.SliceStable(lines, func(i, j int) bool {
		if c := slices.Compare(lines[i].cells, lines[j].cells); c != 0 {
			return c < 0
		}
		return lines[i].sign == "-" && lines[j].sign == "+"
	})
	width := make([]int, len(columns))
	for i, c := range columns {
		width[i] = utf8.RuneCountInString(c)
	}
	for _, l := range lines {
		for i, c := range l.cells {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "the model returned %s, %d expected: %d missing (-), %d unexpected (+)\n", plural(len(got), "row"), len(want), missing, unexpected)
	row := func(sign string, cells []string) {
		b.WriteString(sign + " ")
		for i, c := range cells {
			if i == len(cells)-1 {
				b.WriteString(c)
				break
			}
			b.WriteString(c + strings.Repeat(" ", width[i]-utf8.RuneCountInString(c)+2))
		}
		b.WriteString("\n")
	}
	row(" ", columns)
	for _, l := range lines {
		row(l.sign, l.cells)
	}
	return b.String()
}

// showValue writes a value for a diff: NULL for null, a pair of quotes for the empty string, and
// a text with control characters or edge spaces quoted, so none can pass for another.
func showValue(v *string) string {
	switch {
	case v == nil:
		return "NULL"
	case *v == "":
		return "''"
	case strings.TrimSpace(*v) != *v || strings.ContainsFunc(*v, func(r rune) bool { return r < ' ' || r == 0x7f }):
		return strconv.Quote(*v)
	}
	return *v
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
