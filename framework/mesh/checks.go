package mesh

import (
	"fmt"
	"strings"
	"time"
)

// Severity says what a failing check does: Warn records it, Error blocks the publish.
type Severity string

const (
	Warn  Severity = "warn"
	Error Severity = "error"
)

// CheckKind is what a check tests.
type CheckKind string

const (
	KindNotNull        CheckKind = "not_null"
	KindUnique         CheckKind = "unique"
	KindAcceptedValues CheckKind = "accepted_values"
	KindRowCount       CheckKind = "row_count"
	KindFreshness      CheckKind = "freshness"
	KindSQL            CheckKind = "sql"
)

// Check is a quality check on a port's rows. Build them with the constructors below;
// they fail with severity Error unless AsWarn is called.
type Check struct {
	Name     string
	Kind     CheckKind
	Severity Severity
	Columns  []string
	Values   []string      // accepted values
	Min, Max int64         // row count bounds (Max 0 = unbounded)
	MaxAge   time.Duration // freshness: newest Columns[0] must be younger than this
	SQL      string        // custom: a query returning the failing rows
	Doc      string
}

// AsWarn returns the check with severity Warn: a failure is recorded but does not block.
func (c Check) AsWarn() Check { c.Severity = Warn; return c }

// Describe sets the check's documentation.
func (c Check) Describe(doc string) Check { c.Doc = doc; return c }

// NotNull fails when the column has nulls.
func NotNull(column string) Check {
	return Check{Name: "not_null_" + column, Kind: KindNotNull, Severity: Error, Columns: []string{column}}
}

// Unique fails when the columns together repeat.
func Unique(columns ...string) Check {
	return Check{Name: "unique_" + strings.Join(columns, "_"), Kind: KindUnique, Severity: Error, Columns: columns}
}

// AcceptedValues fails when a non-null value of column is not one of values.
func AcceptedValues(column string, values ...string) Check {
	return Check{Name: "accepted_values_" + column, Kind: KindAcceptedValues, Severity: Error, Columns: []string{column}, Values: values}
}

// RowCount fails when the row count is below min or, with max > 0, above max.
func RowCount(min, max int64) Check {
	return Check{Name: "row_count", Kind: KindRowCount, Severity: Error, Min: min, Max: max}
}

// Fresh fails when the newest value of the timestamp column is older than maxAge at run time.
func Fresh(column string, maxAge time.Duration) Check {
	return Check{Name: "freshness_" + column, Kind: KindFreshness, Severity: Error, Columns: []string{column}, MaxAge: maxAge}
}

// SQL is a custom check: query selects the offending rows from the table "model";
// the check fails when it returns any.
func SQL(name, query string) Check {
	return Check{Name: name, Kind: KindSQL, Severity: Error, SQL: query}
}

func (c Check) validate(p Product) error {
	if !nameRE.MatchString(c.Name) {
		return fmt.Errorf("check %q: name must be lower_snake_case", c.Name)
	}
	if c.Severity != Warn && c.Severity != Error {
		return fmt.Errorf("check %s: severity %q must be %q or %q", c.Name, c.Severity, Warn, Error)
	}
	for _, col := range c.Columns {
		if _, ok := p.Column(col); !ok {
			return fmt.Errorf("check %s: column %q is not in the schema", c.Name, col)
		}
	}
	switch c.Kind {
	case KindNotNull, KindUnique, KindAcceptedValues, KindFreshness:
		if len(c.Columns) == 0 {
			return fmt.Errorf("check %s: needs a column", c.Name)
		}
	case KindSQL:
		if strings.TrimSpace(c.SQL) == "" {
			return fmt.Errorf("check %s: custom SQL is empty", c.Name)
		}
	case KindRowCount:
		if c.Max > 0 && c.Max < c.Min {
			return fmt.Errorf("check %s: max %d is below min %d", c.Name, c.Max, c.Min)
		}
	default:
		return fmt.Errorf("check %s: unknown kind %q", c.Name, c.Kind)
	}
	if c.Kind == KindAcceptedValues && len(c.Values) == 0 {
		return fmt.Errorf("check %s: accepted values list is empty", c.Name)
	}
	if c.Kind == KindFreshness && c.MaxAge <= 0 {
		return fmt.Errorf("check %s: max age must be positive", c.Name)
	}
	return nil
}
