// Package quality turns a product's declared checks into SQL, runs them against the
// staged model in DuckDB, and decides whether the publish may go ahead: any failing
// check of severity Error blocks it.
package quality

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/mesh"
)

// Result is the outcome of one check on one run.
type Result struct {
	Name     string        `json:"name"`
	Kind     string        `json:"kind"`
	Severity mesh.Severity `json:"severity"`
	Status   mesh.Status   `json:"status"`  // pass, warn (a failing Warn check) or fail (a failing Error check)
	Failing  int64         `json:"failing"` // offending rows (or the row count for row_count)
	Message  string        `json:"message,omitempty"`
	// RowsKey is the lake key of the FailingRows the run kept for a check that failed
	// or warned (its offending rows, and the SQL that finds them all); Sampled is how
	// many rows it holds. Only this reference travels with the result, never the rows.
	RowsKey string `json:"rows_key,omitempty"`
	Sampled int    `json:"sampled,omitempty"`
	// SQLHash identifies an SQL check's query (SQLHash): a later incremental merge
	// trusts this result for the rows it keeps only while the query is the same.
	SQLHash string `json:"sql_hash,omitempty"`
}

// SQLHash identifies an SQL check's query: its text's SHA-256, first 16 hex digits.
func SQLHash(query string) string {
	sum := sha256.Sum256([]byte(query))
	return hex.EncodeToString(sum[:8])
}

// Summary folds results into one status: fail if an Error check failed, warn if a Warn
// check failed, pass otherwise.
func Summary(results []Result) mesh.Status {
	st := mesh.StatusPass
	for _, r := range results {
		switch r.Status {
		case mesh.StatusFail:
			return mesh.StatusFail
		case mesh.StatusWarn:
			st = mesh.StatusWarn
		}
	}
	if len(results) == 0 {
		return mesh.StatusUnknown
	}
	return st
}

// Blocking returns the failing Error checks, the ones that stop a publish.
func Blocking(results []Result) []Result {
	var out []Result
	for _, r := range results {
		if r.Status == mesh.StatusFail {
			out = append(out, r)
		}
	}
	return out
}

// Query returns the SQL whose single number says how badly check c fails on table
// "model" at time now: the count of offending rows (0 = pass).
func Query(c mesh.Check, now time.Time) string {
	cols := make([]string, len(c.Columns))
	for i, col := range c.Columns {
		cols[i] = Ident(col)
	}
	switch c.Kind {
	case mesh.KindNotNull:
		return fmt.Sprintf("SELECT count(*) FROM model WHERE %s IS NULL", cols[0])
	case mesh.KindUnique:
		k := strings.Join(cols, ", ")
		return fmt.Sprintf("SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM model GROUP BY %s HAVING count(*) > 1)", k)
	case mesh.KindAcceptedValues:
		vals := make([]string, len(c.Values))
		for i, v := range c.Values {
			vals[i] = Literal(v)
		}
		return fmt.Sprintf("SELECT count(*) FROM model WHERE %s IS NOT NULL AND CAST(%s AS VARCHAR) NOT IN (%s)", cols[0], cols[0], strings.Join(vals, ", "))
	case mesh.KindRowCount:
		return "SELECT count(*) FROM model"
	case mesh.KindFreshness:
		limit := now.UTC().Add(-c.MaxAge).Format("2006-01-02 15:04:05.999999")
		// One offending "row" when the newest value is too old or there is none.
		return fmt.Sprintf("SELECT CASE WHEN max(%s) IS NULL OR max(%s) < TIMESTAMP '%s' THEN 1 ELSE 0 END FROM model", cols[0], cols[0], limit)
	case mesh.KindSQL:
		return fmt.Sprintf("SELECT count(*) FROM (%s)", Subquery(c.SQL))
	}
	return "SELECT 0"
}

// Run evaluates checks against the table "model" in db.
func Run(ctx context.Context, db *sql.DB, checks []mesh.Check, now time.Time) ([]Result, error) {
	out := make([]Result, 0, len(checks))
	for _, c := range checks {
		var n int64
		if err := db.QueryRowContext(ctx, Query(c, now)).Scan(&n); err != nil {
			return nil, errs.E(errs.Invalid, "check "+c.Name, fmt.Errorf("its SQL does not run: %w", err))
		}
		out = append(out, Evaluate(c, n))
	}
	return out, nil
}

// Evaluate is a check's result given n, what its query (Query) counted: the offending
// rows, or the rows for a row count.
func Evaluate(c mesh.Check, n int64) Result {
	r := Result{Name: c.Name, Kind: string(c.Kind), Severity: c.Severity, Failing: n, Status: mesh.StatusPass}
	if c.Kind == mesh.KindSQL {
		r.SQLHash = SQLHash(c.SQL)
	}
	failed := n > 0
	switch c.Kind {
	case mesh.KindRowCount:
		failed = n < c.Min || (c.Max > 0 && n > c.Max)
		if failed {
			r.Message = fmt.Sprintf("%d rows, want between %d and %s", n, c.Min, maxText(c.Max))
		}
	case mesh.KindNotNull:
		r.Message = plural(n, "null value")
	case mesh.KindUnique:
		r.Message = plural(n, "duplicate row")
	case mesh.KindAcceptedValues:
		r.Message = fmt.Sprintf("%s not in (%s)", plural(n, "value"), strings.Join(c.Values, ", "))
	case mesh.KindFreshness:
		r.Message = fmt.Sprintf("newest %s is older than %s", c.Columns[0], c.MaxAge)
	case mesh.KindSQL:
		r.Message = plural(n, "offending row")
	}
	if !failed {
		r.Message = ""
		return r
	}
	if c.Severity == mesh.Error {
		r.Status = mesh.StatusFail
	} else {
		r.Status = mesh.StatusWarn
	}
	return r
}

func plural(n int64, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func maxText(m int64) string {
	if m == 0 {
		return "unbounded"
	}
	return fmt.Sprint(m)
}

// Subquery is a statement as it can stand inside parentheses — a model, a check's SQL,
// a keys query wrapped in the SQL that runs it: without trailing space or semicolon,
// and ending with a newline when it has a -- comment, which would otherwise comment
// out the closing parenthesis. Leading lines stay, so DuckDB's line numbers are the
// file's.
func Subquery(sql string) string {
	s := strings.TrimRightFunc(strings.TrimRight(strings.TrimRightFunc(sql, unicode.IsSpace), ";"), unicode.IsSpace)
	if strings.Contains(s, "--") {
		s += "\n"
	}
	return s
}

// Ident quotes a SQL identifier.
func Ident(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// Literal quotes a SQL string literal.
func Literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
