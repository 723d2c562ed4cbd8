package peopledatalabs

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// predicate tells whether a record answers a search.
type predicate func(rec map[string]any) bool

// errMalformedES is PDL's message for an Elasticsearch query it cannot read.
var errMalformedES = errors.New("Elasticsearch query is malformed.")

// notImitated is a valid query the sandbox does not evaluate: said plainly, so a
// test failing on it is not mistaken for PDL's behaviour.
func notImitated(what string) error {
	return fmt.Errorf("sandbox: %s is valid for PDL but not imitated by this sandbox", what)
}

// compileES compiles the `query` parameter: an Elasticsearch 7 request whose
// "query" key holds the clause ({"query": {"bool": {...}}}), as an object or as
// its JSON text (a GET's query string). Imitated clauses: bool (must, filter,
// should, must_not, minimum_should_match), term, terms, match, match_phrase,
// range, exists, prefix, match_all. Fields are paths into the record
// (location.country); a list field matches when any element does.
func compileES(v any) (predicate, error) {
	if s, ok := v.(string); ok {
		var decoded any
		if err := json.Unmarshal([]byte(s), &decoded); err != nil {
			return nil, errMalformedES
		}
		v = decoded
	}
	req, ok := v.(map[string]any)
	if !ok {
		return nil, errMalformedES
	}
	clause, ok := req["query"]
	if !ok || len(req) != 1 {
		return nil, errMalformedES
	}
	return esClause(clause)
}

func esClause(v any) (predicate, error) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return nil, errMalformedES
	}
	for kind, body := range m {
		switch kind {
		case "bool":
			return esBool(body)
		case "match_all":
			return func(map[string]any) bool { return true }, nil
		case "exists":
			b, ok := body.(map[string]any)
			field, _ := b["field"].(string)
			if !ok || field == "" {
				return nil, errMalformedES
			}
			return func(rec map[string]any) bool { return present(rec, field) }, nil
		case "term", "terms", "match", "match_phrase", "range", "prefix":
			field, arg, err := esField(body)
			if err != nil {
				return nil, err
			}
			test, err := esLeafTest(kind, arg)
			if err != nil {
				return nil, err
			}
			return func(rec map[string]any) bool {
				for _, leaf := range lookup(rec, field) {
					if test(leaf) {
						return true
					}
				}
				return false
			}, nil
		default:
			return nil, notImitated("the Elasticsearch clause " + strconv.Quote(kind))
		}
	}
	return nil, errMalformedES
}

// esField splits {"field": arg} (one field per leaf clause, as Elasticsearch requires).
func esField(body any) (string, any, error) {
	m, ok := body.(map[string]any)
	if !ok || len(m) != 1 {
		return "", nil, errMalformedES
	}
	for f, arg := range m {
		return f, arg, nil
	}
	return "", nil, errMalformedES
}

func esLeafTest(kind string, arg any) (func(any) bool, error) {
	// The long forms: {"value": x} (term, prefix), {"query": x} (match, match_phrase).
	if m, ok := arg.(map[string]any); ok && kind != "range" {
		if x, ok := m["value"]; ok {
			arg = x
		} else if x, ok := m["query"]; ok {
			arg = x
		} else {
			return nil, errMalformedES
		}
	}
	switch kind {
	case "term":
		return func(leaf any) bool { return compare(leaf, arg) == 0 }, nil
	case "terms":
		list, ok := arg.([]any)
		if !ok {
			return nil, errMalformedES
		}
		return func(leaf any) bool {
			for _, x := range list {
				if compare(leaf, x) == 0 {
					return true
				}
			}
			return false
		}, nil
	case "match":
		words := strings.Fields(strings.ToLower(fmt.Sprint(arg)))
		return func(leaf any) bool {
			s, ok := leaf.(string)
			if !ok {
				return compare(leaf, arg) == 0
			}
			have := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
			for _, w := range words {
				for _, h := range have {
					if w == h {
						return true
					}
				}
			}
			return false
		}, nil
	case "match_phrase":
		phrase := strings.ToLower(fmt.Sprint(arg))
		return func(leaf any) bool {
			s, ok := leaf.(string)
			return ok && strings.Contains(strings.ToLower(s), phrase)
		}, nil
	case "prefix":
		p, ok := arg.(string)
		if !ok {
			return nil, errMalformedES
		}
		return func(leaf any) bool { s, ok := leaf.(string); return ok && strings.HasPrefix(s, p) }, nil
	case "range":
		bounds, ok := arg.(map[string]any)
		if !ok || len(bounds) == 0 {
			return nil, errMalformedES
		}
		for op := range bounds {
			if op != "gt" && op != "gte" && op != "lt" && op != "lte" && op != "format" {
				return nil, errMalformedES
			}
		}
		return func(leaf any) bool {
			if leaf == nil {
				return false
			}
			for op, b := range bounds {
				c := compare(leaf, b)
				if (op == "gt" && c <= 0) || (op == "gte" && c < 0) || (op == "lt" && c >= 0) || (op == "lte" && c > 0) {
					return false
				}
			}
			return true
		}, nil
	}
	return nil, errMalformedES
}

func esBool(body any) (predicate, error) {
	m, ok := body.(map[string]any)
	if !ok {
		return nil, errMalformedES
	}
	groups := map[string][]predicate{}
	minShould := -1
	for k, v := range m {
		switch k {
		case "must", "filter", "should", "must_not":
			list, ok := v.([]any)
			if !ok {
				list = []any{v} // a single clause may stand without a list
			}
			for _, c := range list {
				p, err := esClause(c)
				if err != nil {
					return nil, err
				}
				groups[k] = append(groups[k], p)
			}
		case "minimum_should_match":
			n, err := strconv.Atoi(fmt.Sprint(v))
			if err != nil {
				return nil, notImitated("minimum_should_match " + fmt.Sprint(v))
			}
			minShould = n
		default:
			return nil, errMalformedES
		}
	}
	if minShould < 0 {
		minShould = 0
		if len(groups["must"])+len(groups["filter"]) == 0 && len(groups["should"]) > 0 {
			minShould = 1
		}
	}
	return func(rec map[string]any) bool {
		for _, p := range append(groups["must"], groups["filter"]...) {
			if !p(rec) {
				return false
			}
		}
		for _, p := range groups["must_not"] {
			if p(rec) {
				return false
			}
		}
		n := 0
		for _, p := range groups["should"] {
			if p(rec) {
				n++
			}
		}
		return n >= minShould
	}, nil
}

// lookup returns the values at a dotted path, descending into objects and
// lists of objects; a list at the end contributes its elements.
func lookup(rec map[string]any, path string) []any {
	cur := []any{rec}
	for _, seg := range strings.Split(path, ".") {
		var next []any
		for _, v := range cur {
			switch v := v.(type) {
			case map[string]any:
				if x, ok := v[seg]; ok {
					next = append(next, x)
				}
			case []map[string]any:
				for _, m := range v {
					if x, ok := m[seg]; ok {
						next = append(next, x)
					}
				}
			}
		}
		cur = next
	}
	var out []any
	for _, v := range cur {
		switch v := v.(type) {
		case []string:
			for _, s := range v {
				out = append(out, s)
			}
		case []any:
			out = append(out, v...)
		default:
			out = append(out, v)
		}
	}
	return out
}

// compare orders a record value against a query value: numerically when both
// are numbers, else as strings. nil sorts apart from everything (never 0).
func compare(leaf, v any) int {
	if leaf == nil || v == nil {
		if leaf == nil && v == nil {
			return 0
		}
		return 2
	}
	lf, lok := number(leaf)
	vf, vok := number(v)
	if lok && vok {
		switch {
		case lf < vf:
			return -1
		case lf > vf:
			return 1
		}
		return 0
	}
	return strings.Compare(fmt.Sprint(leaf), fmt.Sprint(v))
}

func number(v any) (float64, bool) {
	switch v := v.(type) {
	case int:
		return float64(v), true
	case float64:
		return v, true
	case json.Number:
		f, err := v.Float64()
		return f, err == nil
	}
	return 0, false
}

// compileSQL compiles the `sql` parameter: SELECT … FROM company [WHERE expr]
// [LIMIT n]. The column list and LIMIT are ignored, as PDL documents. expr
// takes AND, OR, NOT, parentheses, = != <> < <= > >=, [NOT] IN (…), [NOT] LIKE
// with % and _, IS [NOT] NULL; strings in single quotes.
func compileSQL(sql string) (predicate, error) {
	toks, err := sqlTokens(sql)
	if err != nil {
		return nil, err
	}
	p := &sqlParser{toks: toks}
	if !p.keyword("SELECT") {
		return nil, sqlError("it must start with SELECT")
	}
	for !p.done() && !p.peekKeyword("FROM") {
		p.pos++
	}
	if !p.keyword("FROM") {
		return nil, sqlError("FROM company is missing")
	}
	if t := p.next(); !strings.EqualFold(t, "company") {
		return nil, sqlError(fmt.Sprintf("the table must be company, not %q", t))
	}
	pred := predicate(func(map[string]any) bool { return true })
	if p.keyword("WHERE") {
		if pred, err = p.or(); err != nil {
			return nil, err
		}
	}
	if p.keyword("LIMIT") {
		p.next()
	}
	p.keyword(";")
	if !p.done() {
		return nil, sqlError(fmt.Sprintf("unexpected %q", p.toks[p.pos]))
	}
	return pred, nil
}

func sqlError(msg string) error { return errors.New("SQL query is malformed: " + msg) }

var sqlToken = regexp.MustCompile(`^(?:'(?:[^']|'')*'|` + "`[^`]*`" + `|-?\d+(?:\.\d+)?|[A-Za-z_][A-Za-z0-9_.]*|<=|>=|<>|!=|[=<>(),*;])`)

func sqlTokens(s string) ([]string, error) {
	var out []string
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		t := sqlToken.FindString(s)
		if t == "" {
			return nil, sqlError(fmt.Sprintf("cannot read %q", s[:min(len(s), 20)]))
		}
		out = append(out, t)
		s = s[len(t):]
	}
	return out, nil
}

type sqlParser struct {
	toks []string
	pos  int
}

func (p *sqlParser) done() bool { return p.pos >= len(p.toks) }

func (p *sqlParser) next() string {
	if p.done() {
		return ""
	}
	p.pos++
	return p.toks[p.pos-1]
}

func (p *sqlParser) peekKeyword(k string) bool {
	return !p.done() && strings.EqualFold(p.toks[p.pos], k)
}

func (p *sqlParser) keyword(k string) bool {
	if p.peekKeyword(k) {
		p.pos++
		return true
	}
	return false
}

func (p *sqlParser) or() (predicate, error) {
	return p.chain("OR", p.and, func(l, r predicate) predicate {
		return func(rec map[string]any) bool { return l(rec) || r(rec) }
	})
}

func (p *sqlParser) and() (predicate, error) {
	return p.chain("AND", p.not, func(l, r predicate) predicate {
		return func(rec map[string]any) bool { return l(rec) && r(rec) }
	})
}

// chain reads operands joined by the keyword op, left to right.
func (p *sqlParser) chain(op string, operand func() (predicate, error), join func(l, r predicate) predicate) (predicate, error) {
	left, err := operand()
	for err == nil && p.keyword(op) {
		var right predicate
		if right, err = operand(); err == nil {
			left = join(left, right)
		}
	}
	return left, err
}

func (p *sqlParser) not() (predicate, error) {
	if p.keyword("NOT") {
		inner, err := p.not()
		if err != nil {
			return nil, err
		}
		return func(rec map[string]any) bool { return !inner(rec) }, nil
	}
	if p.keyword("(") {
		inner, err := p.or()
		if err != nil {
			return nil, err
		}
		if !p.keyword(")") {
			return nil, sqlError("a parenthesis is not closed")
		}
		return inner, nil
	}
	return p.comparison()
}

func (p *sqlParser) comparison() (predicate, error) {
	field := strings.Trim(p.next(), "`")
	if field == "" || !(unicode.IsLetter(rune(field[0])) || field[0] == '_') {
		return nil, sqlError(fmt.Sprintf("a field name was expected, not %q", field))
	}
	anyLeaf := func(test func(any) bool) predicate {
		return func(rec map[string]any) bool {
			for _, leaf := range lookup(rec, field) {
				if test(leaf) {
					return true
				}
			}
			return false
		}
	}
	negate := func(neg bool, pr predicate) predicate {
		if !neg {
			return pr
		}
		return func(rec map[string]any) bool { return !pr(rec) }
	}
	switch {
	case p.keyword("IS"):
		neg := p.keyword("NOT")
		if !p.keyword("NULL") {
			return nil, sqlError("IS must be followed by [NOT] NULL")
		}
		return negate(!neg, func(rec map[string]any) bool { return present(rec, field) }), nil
	case p.peekKeyword("NOT") || p.peekKeyword("IN") || p.peekKeyword("LIKE"):
		neg := p.keyword("NOT")
		switch {
		case p.keyword("IN"):
			if !p.keyword("(") {
				return nil, sqlError("IN must be followed by a list in parentheses")
			}
			var values []any
			for {
				v, err := p.value()
				if err != nil {
					return nil, err
				}
				values = append(values, v)
				if p.keyword(")") {
					break
				}
				if !p.keyword(",") {
					return nil, sqlError("values in IN (…) are separated by commas")
				}
			}
			return negate(neg, anyLeaf(func(leaf any) bool {
				for _, v := range values {
					if compare(leaf, v) == 0 {
						return true
					}
				}
				return false
			})), nil
		case p.keyword("LIKE"):
			v, err := p.value()
			pattern, ok := v.(string)
			if err != nil || !ok {
				return nil, sqlError("LIKE takes a quoted pattern")
			}
			re, err := regexp.Compile("(?is)^" + strings.NewReplacer("%", ".*", "_", ".").Replace(regexp.QuoteMeta(pattern)) + "$")
			if err != nil { // QuoteMeta leaves only invalid UTF-8 to fail
				return nil, sqlError(fmt.Sprintf("the LIKE pattern %q is not valid UTF-8", pattern))
			}
			return negate(neg, anyLeaf(func(leaf any) bool { s, ok := leaf.(string); return ok && re.MatchString(s) })), nil
		}
		return nil, sqlError("NOT must be followed by IN or LIKE here")
	}
	op := p.next()
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	var test func(int) bool
	switch op {
	case "=":
		test = func(c int) bool { return c == 0 }
	case "!=", "<>":
		return negate(true, anyLeaf(func(leaf any) bool { return compare(leaf, v) == 0 })), nil
	case "<":
		test = func(c int) bool { return c == -1 }
	case "<=":
		test = func(c int) bool { return c == -1 || c == 0 }
	case ">":
		test = func(c int) bool { return c == 1 }
	case ">=":
		test = func(c int) bool { return c == 1 || c == 0 }
	default:
		return nil, sqlError(fmt.Sprintf("%q is not a comparison", op))
	}
	return anyLeaf(func(leaf any) bool { return test(compare(leaf, v)) }), nil
}

func (p *sqlParser) value() (any, error) {
	t := p.next()
	switch {
	case strings.HasPrefix(t, "'"):
		return strings.ReplaceAll(t[1:len(t)-1], "''", "'"), nil
	case strings.EqualFold(t, "TRUE"), strings.EqualFold(t, "FALSE"):
		return strings.EqualFold(t, "TRUE"), nil
	}
	if f, err := strconv.ParseFloat(t, 64); err == nil {
		return f, nil
	}
	return nil, sqlError(fmt.Sprintf("a value was expected, not %q", t))
}
