package looker

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// predicate decides whether a field's value passes a filter; nil values are NULL.
type predicate func(v any) bool

// parseFilter reads a Looker filter expression for a field of kind k. Relative
// dates count from now, in UTC (System Activity's time zone).
func parseFilter(k kind, expr string, now time.Time) (predicate, error) {
	if strings.TrimSpace(expr) == "" { // an empty filter matches any value
		return func(any) bool { return true }, nil
	}
	switch k {
	case kDate, kTime:
		return parseDateFilter(expr, now.UTC())
	case kNumber:
		return parseNumberFilter(expr)
	case kYesNo:
		switch strings.ToLower(strings.TrimSpace(expr)) {
		case "yes":
			return func(v any) bool { return v == true }, nil
		case "no":
			return func(v any) bool { return v == false }, nil
		}
		return nil, fmt.Errorf("a yes/no filter is Yes or No, not %q", expr)
	}
	return parseStringFilter(expr)
}

// nullTest reads NULL, -NULL and NOT NULL.
func nullTest(expr string) (predicate, bool) {
	switch strings.ToLower(strings.TrimSpace(expr)) {
	case "null":
		return func(v any) bool { return v == nil }, true
	case "-null", "not null":
		return func(v any) bool { return v != nil }, true
	}
	return nil, false
}

// parseDateFilter reads the date expressions of Looker's filter syntax:
//
//	7 days                     the current day and the 6 before it ("in the past 7 days")
//	3 days ago                 that one day; "3 days ago for 2 days" a span starting there
//	today, yesterday, this week, last month
//	2026-11-01                 that day (also 2026/11/01, 2026-11, 2026, 2026-11-01 08:30)
//	2026-11-01 to 2026-11-08   from the first, up to but excluding the second
//	after 2026-11-01           on or after it; before 2026-11-01: strictly before
//	NULL, NOT NULL
//
// Units are seconds to years; weeks start on Monday.
func parseDateFilter(expr string, now time.Time) (predicate, error) {
	if p, ok := nullTest(expr); ok {
		return p, nil
	}
	e := strings.Join(strings.Fields(strings.ToLower(expr)), " ")
	var from, to time.Time // to zero: open-ended
	var err error
	switch {
	case strings.Contains(e, " to "):
		a, b, _ := strings.Cut(e, " to ")
		if from, err = instant(a, now); err == nil {
			to, err = instant(b, now)
		}
	case strings.HasPrefix(e, "after "):
		from, err = instant(strings.TrimPrefix(e, "after "), now)
	case strings.HasPrefix(e, "before "):
		to, err = instant(strings.TrimPrefix(e, "before "), now)
	default:
		from, to, err = span(e, now)
	}
	if err != nil {
		return nil, fmt.Errorf("%q is not a date filter expression Looker reads: %v", expr, err)
	}
	return func(v any) bool {
		t, ok := v.(time.Time)
		return ok && !t.Before(from) && (to.IsZero() || t.Before(to))
	}, nil
}

// instant is the start of the time an expression names: an absolute date or time,
// "now", "today", or "N units ago" / "N units from now".
func instant(e string, now time.Time) (time.Time, error) {
	e = strings.TrimSpace(e)
	if e == "now" {
		return now, nil
	}
	from, _, err := span(e, now)
	return from, err
}

// span is the interval [from, to) an expression names.
func span(e string, now time.Time) (from, to time.Time, err error) {
	today := trunc(now, "day")
	switch e {
	case "today":
		return today, today.AddDate(0, 0, 1), nil
	case "yesterday":
		return today.AddDate(0, 0, -1), today, nil
	case "tomorrow":
		return today.AddDate(0, 0, 1), today.AddDate(0, 0, 2), nil
	}
	if t, unit, ok := absolute(e); ok {
		return t, add(t, unit, 1), nil
	}
	f := strings.Fields(e)
	if len(f) == 2 && (f[0] == "this" || f[0] == "last" || f[0] == "next") {
		unit, ok := unitOf(f[1])
		if !ok || f[1] != unit {
			return from, to, fmt.Errorf("unknown unit %q", f[1])
		}
		start := trunc(now, unit)
		n := map[string]int{"this": 0, "last": -1, "next": 1}[f[0]]
		return add(start, unit, n), add(start, unit, n+1), nil
	}
	if len(f) < 2 {
		return from, to, fmt.Errorf("expected a date, a range or \"N units\"")
	}
	n, err := strconv.Atoi(f[0])
	unit, ok := unitOf(f[1])
	if err != nil || n < 0 || !ok {
		return from, to, fmt.Errorf("expected \"N units\" with a unit from seconds to years")
	}
	start := trunc(now, unit)
	switch rest := strings.Join(f[2:], " "); {
	case rest == "": // the current unit and the n-1 before it
		return add(start, unit, 1-n), add(start, unit, 1), nil
	case rest == "ago":
		return add(start, unit, -n), add(start, unit, 1-n), nil
	case rest == "from now":
		return add(start, unit, n), add(start, unit, n+1), nil
	case strings.HasPrefix(rest, "ago for "):
		g := strings.Fields(strings.TrimPrefix(rest, "ago for "))
		m, err := strconv.Atoi(g[0])
		if len(g) != 2 || err != nil || m < 1 {
			return from, to, fmt.Errorf("expected \"N units ago for M units\"")
		}
		unit2, ok := unitOf(g[1])
		if !ok {
			return from, to, fmt.Errorf("unknown unit %q", g[1])
		}
		from = add(start, unit, -n)
		return from, add(from, unit2, m), nil
	}
	return from, to, fmt.Errorf("unexpected %q", strings.Join(f[2:], " "))
}

// absolute reads a written date or time and the unit it names: 2026, 2026-11,
// 2026-11-01, 2026-11-01 08, 2026-11-01 08:30, 2026-11-01 08:30:15 (dashes or
// slashes).
func absolute(e string) (time.Time, string, bool) {
	e = strings.ReplaceAll(e, "/", "-")
	for _, l := range []struct{ layout, unit string }{
		{"2006-01-02 15:04:05", "second"}, {"2006-01-02 15:04", "minute"}, {"2006-01-02 15", "hour"},
		{"2006-01-02", "day"}, {"2006-01", "month"}, {"2006", "year"},
	} {
		if t, err := time.ParseInLocation(l.layout, e, time.UTC); err == nil {
			return t, l.unit, true
		}
	}
	return time.Time{}, "", false
}

// unitOf reads a unit name, singular or plural.
func unitOf(s string) (string, bool) {
	s = strings.TrimSuffix(s, "s")
	switch s {
	case "second", "minute", "hour", "day", "week", "month", "quarter", "year":
		return s, true
	}
	return "", false
}

// trunc is the start of the unit holding t; weeks start on Monday.
func trunc(t time.Time, unit string) time.Time {
	y, m, d := t.Date()
	switch unit {
	case "second":
		return t.Truncate(time.Second)
	case "minute":
		return t.Truncate(time.Minute)
	case "hour":
		return t.Truncate(time.Hour)
	case "day":
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	case "week":
		return time.Date(y, m, d-(int(t.Weekday())+6)%7, 0, 0, 0, 0, time.UTC)
	case "month":
		return time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
	case "quarter":
		return time.Date(y, m-(m-1)%3, 1, 0, 0, 0, 0, time.UTC)
	}
	return time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC)
}

// add moves t by n units.
func add(t time.Time, unit string, n int) time.Time {
	switch unit {
	case "second":
		return t.Add(time.Duration(n) * time.Second)
	case "minute":
		return t.Add(time.Duration(n) * time.Minute)
	case "hour":
		return t.Add(time.Duration(n) * time.Hour)
	case "day":
		return t.AddDate(0, 0, n)
	case "week":
		return t.AddDate(0, 0, 7*n)
	case "month":
		return t.AddDate(0, n, 0)
	case "quarter":
		return t.AddDate(0, 3*n, 0)
	}
	return t.AddDate(n, 0, 0)
}

// parseNumberFilter reads number expressions: 5; 5,7 (either); >5, >=5, <5, <=5;
// NOT 5 and != 5 (anything else); 5 to 10 (inclusive); [5,10], (5,10], … intervals;
// NULL, NOT NULL (see anyButNone).
func parseNumberFilter(expr string) (predicate, error) {
	if p, ok := nullTest(expr); ok {
		return p, nil
	}
	e := strings.TrimSpace(expr)
	if strings.HasPrefix(e, "[") || strings.HasPrefix(e, "(") {
		return interval(e)
	}
	var pos, neg []predicate
	for _, term := range strings.Split(e, ",") {
		t := strings.ToLower(strings.TrimSpace(term))
		negate := false
		if rest, ok := strings.CutPrefix(t, "not "); ok {
			t, negate = strings.TrimSpace(rest), true
		} else if rest, ok := strings.CutPrefix(t, "!="); ok {
			t, negate = strings.TrimSpace(rest), true
		}
		test, err := numberTerm(t)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number filter expression Looker reads: %v", expr, err)
		}
		p := func(v any) bool { x, ok := number(v); return ok && test(x) }
		if negate {
			neg = append(neg, p)
		} else {
			pos = append(pos, p)
		}
	}
	return anyButNone(pos, neg), nil
}

// anyButNone passes a value that matches any of pos (or pos is empty) and none of
// neg: how Looker combines a filter's comma-separated terms and their negations.
// NULL passes a negation, as Looker's SQL adds "OR x IS NULL" to it.
func anyButNone(pos, neg []predicate) predicate {
	return func(v any) bool {
		for _, p := range neg {
			if p(v) {
				return false
			}
		}
		if len(pos) == 0 {
			return true
		}
		for _, p := range pos {
			if p(v) {
				return true
			}
		}
		return false
	}
}

func numberTerm(t string) (func(float64) bool, error) {
	if a, b, ok := strings.Cut(t, " to "); ok {
		lo, err1 := strconv.ParseFloat(strings.TrimSpace(a), 64)
		hi, err2 := strconv.ParseFloat(strings.TrimSpace(b), 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%q is not \"A to B\"", t)
		}
		return func(x float64) bool { return x >= lo && x <= hi }, nil
	}
	for _, op := range []string{">=", "<=", ">", "<", "="} {
		if rest, ok := strings.CutPrefix(t, op); ok {
			n, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				return nil, fmt.Errorf("%q: not a number after %s", t, op)
			}
			return map[string]func(float64) bool{
				">=": func(x float64) bool { return x >= n }, "<=": func(x float64) bool { return x <= n },
				">": func(x float64) bool { return x > n }, "<": func(x float64) bool { return x < n },
				"=": func(x float64) bool { return x == n },
			}[op], nil
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil {
		return nil, fmt.Errorf("%q is not a number", t)
	}
	return func(x float64) bool { return x == n }, nil
}

// interval reads [a,b], (a,b), [a,b), (a,b] with an empty side for no bound.
func interval(e string) (predicate, error) {
	if len(e) < 3 || !strings.ContainsAny(e[len(e)-1:], "])") {
		return nil, fmt.Errorf("%q is not an interval such as [5,10)", e)
	}
	a, b, ok := strings.Cut(e[1:len(e)-1], ",")
	if !ok {
		return nil, fmt.Errorf("%q is not an interval such as [5,10)", e)
	}
	bound := func(s string) (float64, bool, error) {
		if s = strings.TrimSpace(s); s == "" {
			return 0, false, nil
		}
		n, err := strconv.ParseFloat(s, 64)
		return n, true, err
	}
	lo, hasLo, err1 := bound(a)
	hi, hasHi, err2 := bound(b)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("%q: the bounds of an interval are numbers", e)
	}
	loIn, hiIn := e[0] == '[', e[len(e)-1] == ']'
	return func(v any) bool {
		x, ok := number(v)
		return ok && (!hasLo || x > lo || (loIn && x == lo)) && (!hasHi || x < hi || (hiIn && x == hi))
	}, nil
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// parseStringFilter reads string expressions: FOO (equal, case-insensitively as
// on System Activity's database), FOO,BAR (either), %FOO% and _ wildcards, -FOO
// (anything else, NULL included), EMPTY (empty or NULL), NULL, -NULL, -EMPTY;
// ^ escapes a comma, %, _, ^ or a leading -. A value passes when it matches any
// positive term and no negated one.
func parseStringFilter(expr string) (predicate, error) {
	var pos, neg []predicate
	for _, term := range splitUnescaped(expr) {
		negate := strings.HasPrefix(term, "-")
		if negate {
			term = term[1:]
		}
		var p predicate
		switch strings.ToUpper(term) {
		case "NULL":
			p = func(v any) bool { return v == nil }
		case "EMPTY":
			p = func(v any) bool { return v == nil || v == "" }
		default:
			re, err := likePattern(term)
			if err != nil {
				return nil, fmt.Errorf("%q is not a string filter expression Looker reads: %v", expr, err)
			}
			p = func(v any) bool { s, ok := v.(string); return ok && re.MatchString(s) }
		}
		if negate {
			neg = append(neg, p)
		} else {
			pos = append(pos, p)
		}
	}
	return anyButNone(pos, neg), nil
}

// splitUnescaped splits on commas not escaped with ^, trimming each term's spaces
// and keeping its escapes for likePattern.
func splitUnescaped(s string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '^' && i+1 < len(s):
			cur.WriteByte(s[i])
			cur.WriteByte(s[i+1])
			i++
		case s[i] == ',':
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(s[i])
		}
	}
	return append(out, strings.TrimSpace(cur.String()))
}

// likePattern turns a term with % and _ wildcards and ^ escapes into an anchored,
// case-insensitive regular expression.
func likePattern(term string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString("(?is)^")
	for i := 0; i < len(term); i++ {
		switch c := term[i]; {
		case c == '^' && i+1 < len(term):
			i++
			b.WriteString(regexp.QuoteMeta(term[i : i+1]))
		case c == '%':
			b.WriteString(".*")
		case c == '_':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(term[i : i+1]))
		}
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}
