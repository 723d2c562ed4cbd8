package mesh

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"
)

// ModelTest is a unit test of a product's model: rows given for some of its inputs and
// the rows the model must make of them. `mesh test` and `go test ./domains/...` run it
// in embedded DuckDB, the model run as a real run runs it, in milliseconds.
//
//	Tests: []mesh.ModelTest{{
//		Name: "weeks_begin_on_monday_utc",
//		Given: []mesh.Given{{
//			Input:   mesh.FromProduct("engineering", "jira_issues"),
//			Columns: []string{"issue_id", "project_key", "status_category", "resolved_at"},
//			Rows:    [][]any{{"1", "OPS", "done", "2026-01-04 23:59:59"}},
//		}},
//		Expect: mesh.Expect{
//			Columns: []string{"week", "scope", "items_completed"},
//			Rows:    [][]any{{"2025-12-29", "OPS", 1}},
//		},
//	}},
type ModelTest struct {
	// Name is lower_snake and unique within the product: `mesh test` prints it as
	// domain.product/name.
	Name string
	// Doc says what the case is about; it is printed with a failure.
	Doc string
	// Given are rows for some of the product's inputs; an input not given is empty.
	// A raw stream's rows are landed versions (they fill <source>.<stream>_history, and
	// <source>.<stream> keeps the newest of each key as in a run), so a test can give
	// two versions of one record.
	Given []Given
	// Expect are the rows the model must return, in any order: every one of them and
	// no other, compared on the columns Expect names.
	Expect Expect
}

// Given is the rows of one input: written here (Columns and Rows) or read from File.
type Given struct {
	Input Input
	// Columns name the input's columns the rows give, in the rows' order; a column
	// not named is NULL. For a raw stream the lake's columns may be left out:
	// _extracted_at then follows the rows' order (a later row landed later, so it
	// wins a tie of the stream's cursor), _run_id is "test" and _raw is NULL.
	Columns []string
	// Rows are the values, one slice per row, as text the column's type reads
	// ("2026-01-05", "2026-01-05 09:30:00", "true") or as Go values (string, an
	// integer or float, bool, time.Time, nil for NULL).
	Rows [][]any
	// File is a file of the domain's folder (Domain.Files) holding the rows, e.g.
	// tests/<product>/<input>.csv: CSV with a header row (an empty cell is NULL) or
	// JSON, an array of objects (a missing key is NULL). The domain's package embeds
	// it (`//go:embed models tests`); in the repository `mesh test` reads it as saved.
	File string
}

// Expect is the rows a model test expects: written here (Columns and Rows) or read
// from File, like Given. They are compared as a multiset, order ignored, on the
// columns named: all of the schema's for an exact comparison, or a subset of them.
// Values are compared as the schema's types write them as text (a DOUBLE rounded to
// 6 decimals). No columns and no rows expects the model to return no rows.
type Expect struct {
	Columns []string
	Rows    [][]any
	File    string
}

// testFileExts are the kinds of file a Given or Expect may read.
var testFileExts = []string{".csv", ".json"}

// validateTests checks the product's model tests: names, inputs given that the product
// reads, rows that fit their columns, expected columns in the schema, file names.
func (p Product) validateTests(add func(string, ...any)) {
	names := map[string]bool{}
	for _, t := range p.Tests {
		what := "test " + t.Name
		switch {
		case !nameRE.MatchString(t.Name):
			add("test %q: the name must be lower_snake_case", t.Name)
		case names[t.Name]:
			add("%s is declared twice", what)
		}
		names[t.Name] = true
		given := map[Input]bool{}
		for _, g := range t.Given {
			in := g.Input
			in.SamePartition = false
			if !slices.ContainsFunc(p.Inputs, func(have Input) bool { have.SamePartition = false; return have == in }) {
				add("%s: given %s, which is not among the product's inputs (%s): give rows only for an input the model reads, or add it to Inputs", what, in, inputList(p.Inputs))
			}
			if given[in] {
				add("%s: %s is given twice: put all its rows in one Given", what, in)
			}
			given[in] = true
			validateRows(what+": given "+in.String(), g.Columns, g.Rows, g.File, add)
		}
		e := t.Expect
		validateRows(what+": expect", e.Columns, e.Rows, e.File, add)
		for _, c := range e.Columns {
			if _, ok := p.Column(c); !ok {
				add("%s: expects column %q, which the schema does not declare (its columns: %s)", what, c, strings.Join(ColumnNames(p.Schema), ", "))
			}
		}
	}
}

// validateRows checks rows written in Go, or the name of the file holding them.
func validateRows(what string, columns []string, rows [][]any, file string, add func(string, ...any)) {
	if file != "" {
		if len(columns) > 0 || len(rows) > 0 {
			add("%s: both File and Columns/Rows: give the rows one way", what)
		}
		if !fs.ValidPath(file) || !slices.Contains(testFileExts, path.Ext(file)) {
			add("%s: File %q must be a .csv or .json file of the domain's folder, named from it (tests/<product>/<name>.csv)", what, file)
		}
		return
	}
	if len(rows) > 0 && len(columns) == 0 {
		add("%s: rows without Columns: name the columns the values are for", what)
	}
	seen := map[string]bool{}
	for _, c := range columns {
		if seen[c] {
			add("%s: column %s is named twice", what, c)
		}
		seen[c] = true
	}
	for i, row := range rows {
		if len(row) != len(columns) {
			add("%s: row %d has %d values for %d columns (%s)", what, i+1, len(row), len(columns), strings.Join(columns, ", "))
			continue
		}
		for j, v := range row {
			if _, ok := TestValue(v); !ok {
				add("%s: row %d, column %s: a %T cannot be a value: write a string, a number, a bool, a time.Time or nil", what, i+1, columns[j], v)
			}
		}
	}
}

// TestValue is a value of a test's rows as SQL text, nil for NULL; ok is false for a Go
// type rows cannot hold.
func TestValue(v any) (text *string, ok bool) {
	var s string
	switch v := v.(type) {
	case nil:
		return nil, true
	case string:
		s = v
	case bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
		s = fmt.Sprint(v)
	case time.Time:
		// Port and raw timestamps are UTC wall-clock times.
		s = v.UTC().Format("2006-01-02 15:04:05.999999")
	default:
		return nil, false
	}
	return &s, true
}

func inputList(ins []Input) string {
	out := make([]string, len(ins))
	for i, in := range ins {
		out[i] = in.String()
	}
	return strings.Join(out, ", ")
}

// ColumnNames are the names of cols, in their order.
func ColumnNames(cols []Column) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.Name
	}
	return out
}
