package quality

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/mesh"
)

// SampleLimit is how many offending rows a failing or warning check keeps with its
// run: enough to see what is wrong, few enough that a check failing on millions of rows
// leaves a small file. The SQL kept beside them finds every one.
const SampleLimit = 100

// FailingRows is what a run keeps of a check that failed or warned, in the lake beside
// its run record (Result.RowsKey points to it): a sample of the offending rows and the
// SQL that finds them all in the port.
type FailingRows struct {
	Check   string `json:"check"`
	Kind    string `json:"kind"`
	Failing int64  `json:"failing"` // what the check counted (Result.Failing)
	// Columns and Rows are the first offending rows in the order of OrderBy, each value
	// as DuckDB writes it as text, nil for NULL; none for a check that judges the table
	// as a whole (row_count, freshness).
	Columns []Column    `json:"columns,omitempty"`
	Rows    [][]*string `json:"rows,omitempty"`
	More    bool        `json:"more,omitempty"` // more rows offend than the sample holds
	// OrderBy are the primary-key columns among Columns, which order the sample; every
	// other column breaks ties (and orders it alone when the check's SQL returns no key).
	OrderBy []string `json:"order_by,omitempty"`
	// SQL finds every offending row (or, for a check on the whole table, the figure it
	// judged) in the port's current snapshot, as `mesh query` names the port.
	SQL string `json:"sql"`
	// SampleError says why there are no rows when reading them failed though the check
	// ran (its verdict stands).
	SampleError string `json:"sample_error,omitempty"`
}

// Column is a sampled column and its DuckDB type.
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Offending returns the SQL selecting every row check c objects to in the table
// expression from ("model" while a run checks its staged output). ok is false for the
// checks that judge the table as a whole, which no row offends.
func Offending(c mesh.Check, from string) (query string, ok bool) {
	cols := make([]string, len(c.Columns))
	for i, col := range c.Columns {
		cols[i] = Ident(col)
	}
	switch c.Kind {
	case mesh.KindNotNull:
		return fmt.Sprintf("SELECT * FROM %s WHERE %s IS NULL", from, cols[0]), true
	case mesh.KindUnique:
		// Every row of a repeated key: which of them is the duplicate is the question.
		return fmt.Sprintf("SELECT * FROM %s QUALIFY count(*) OVER (PARTITION BY %s) > 1", from, strings.Join(cols, ", ")), true
	case mesh.KindAcceptedValues:
		vals := make([]string, len(c.Values))
		for i, v := range c.Values {
			vals[i] = Literal(v)
		}
		return fmt.Sprintf("SELECT * FROM %s WHERE %s IS NOT NULL AND CAST(%s AS VARCHAR) NOT IN (%s)", from, cols[0], cols[0], strings.Join(vals, ", ")), true
	case mesh.KindSQL:
		body := Subquery(c.SQL)
		if from == "model" {
			return body, true
		}
		// The check's own SQL reads "model": name the port so, and leave the SQL as written.
		return fmt.Sprintf("WITH model AS (SELECT * FROM %s) SELECT * FROM (%s)", from, body), true
	}
	return "", false
}

// PortSQL is the SQL a user runs with `mesh query` to see what check c finds in the
// current snapshot of table (domain.port): every offending row, or for a check on the
// whole table the figure it judged. A partition run's check saw only its day, and so
// does its SQL.
func PortSQL(c mesh.Check, table, partitionBy, partition string) string {
	from := table
	if partition != "" && partitionBy != "" {
		from = fmt.Sprintf("(SELECT * FROM %s WHERE %s = %s)", table, Ident(partitionBy), Literal(partition))
	}
	if q, ok := Offending(c, from); ok {
		return q
	}
	switch c.Kind {
	case mesh.KindFreshness:
		return fmt.Sprintf("SELECT max(%s) AS newest FROM %s", Ident(c.Columns[0]), from)
	default:
		return "SELECT count(*) AS rows FROM " + from
	}
}

// Sample reads the first limit rows check c objects to in table "model" of db, ordered
// by key (the product's primary key) and then by every other column, so the same rows
// always give the same sample. more says whether further rows offend.
func Sample(ctx context.Context, db *sql.DB, c mesh.Check, key []string, limit int) (FailingRows, error) {
	out := FailingRows{Check: c.Name, Kind: string(c.Kind)}
	q, ok := Offending(c, "model")
	if !ok {
		return out, nil
	}
	op := "sample the rows check " + c.Name + " objects to"
	rows, err := db.QueryContext(ctx, "SELECT * FROM ("+q+") LIMIT 0")
	if err != nil {
		return out, errs.E(errs.Invalid, op, err)
	}
	types, err := rows.ColumnTypes()
	rows.Close()
	if err != nil {
		return out, errs.E(errs.Internal, op, err)
	}
	var names []string
	for _, t := range types {
		out.Columns = append(out.Columns, Column{Name: t.Name(), Type: t.DatabaseTypeName()})
		names = append(names, t.Name())
	}
	for _, k := range key {
		if slices.Contains(names, k) {
			out.OrderBy = append(out.OrderBy, k)
		}
	}
	var texts, order []string
	for _, n := range append(slices.Clone(out.OrderBy), names...) {
		if !slices.Contains(order, Ident(n)) {
			order = append(order, Ident(n))
		}
	}
	for _, n := range names {
		texts = append(texts, "CAST("+Ident(n)+" AS VARCHAR)")
	}
	rows, err = db.QueryContext(ctx, fmt.Sprintf("SELECT %s FROM (%s) ORDER BY %s LIMIT %d",
		strings.Join(texts, ", "), q, strings.Join(order, ", "), limit+1))
	if err != nil {
		return out, errs.E(errs.Invalid, op, err)
	}
	defer rows.Close()
	for rows.Next() {
		if len(out.Rows) == limit {
			out.More = true
			break
		}
		row := make([]*string, len(names))
		dest := make([]any, len(names))
		for i := range row {
			dest[i] = &row[i]
		}
		if err := rows.Scan(dest...); err != nil {
			return out, errs.E(errs.Internal, op, err)
		}
		out.Rows = append(out.Rows, row)
	}
	if err := rows.Err(); err != nil {
		return out, errs.E(errs.Invalid, op, err)
	}
	return out, nil
}
