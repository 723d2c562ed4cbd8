package jira

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// The imitation's JQL is the subset a sync sends, with Jira's semantics where
// they matter:
//
//	clause   = field op value | field [NOT] IN (value, ...) | field IS [NOT] EMPTY
//	query    = [clause {AND clause}] [ORDER BY field [ASC|DESC] {, field [ASC|DESC]}]
//	fields   = project, key (issuekey, id), updated, created, resolved (resolutiondate),
//	           status, statusCategory, assignee
//
// A date value is epoch milliseconds (1709370944000), a period (-5d, -90m), or a
// bare datetime ("2024/03/02 09:15", "2024-03-02") read in the API user's profile
// time zone, not UTC: the trap that makes clients skip or repeat issues. OR,
// parentheses, NOT and functions are refused with a 400 that says the imitation
// lacks them. A query without a restriction (only ORDER BY) is refused as Jira does.

// jqlError is a query Jira would refuse with 400.
type jqlError string

func (e jqlError) Error() string { return string(e) }

const unbounded = "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."

type tokKind uint8

const (
	tEOF tokKind = iota
	tWord
	tString
	tOp
	tLParen
	tRParen
	tComma
)

type token struct {
	kind tokKind
	text string
}

func (t token) is(word string) bool { return t.kind == tWord && strings.EqualFold(t.text, word) }

func lex(s string) ([]token, error) {
	var out []token
	rs := []rune(s)
	for i := 0; i < len(rs); {
		c := rs[i]
		switch {
		case unicode.IsSpace(c):
			i++
		case c == '(':
			out = append(out, token{tLParen, "("})
			i++
		case c == ')':
			out = append(out, token{tRParen, ")"})
			i++
		case c == ',':
			out = append(out, token{tComma, ","})
			i++
		case c == '"' || c == '\'':
			var b strings.Builder
			j := i + 1
			for ; j < len(rs) && rs[j] != c; j++ {
				if rs[j] == '\\' && j+1 < len(rs) {
					j++
				}
				b.WriteRune(rs[j])
			}
			if j == len(rs) {
				return nil, jqlError(fmt.Sprintf("Error in the JQL Query: The quoted string '%s' has not been completed. (line 1, character %d)", string(rs[i:]), i+1))
			}
			out = append(out, token{tString, b.String()})
			i = j + 1
		case strings.ContainsRune("=!<>~", c):
			j := i + 1
			if j < len(rs) && (rs[j] == '=' || rs[j] == '~') {
				j++
			}
			op := string(rs[i:j])
			if !slices.Contains([]string{"=", "!=", "<", "<=", ">", ">=", "~", "!~"}, op) {
				return nil, jqlError(fmt.Sprintf("Error in the JQL Query: The character '%c' is a reserved JQL character. (line 1, character %d)", c, i+1))
			}
			out = append(out, token{tOp, op})
			i = j
		default:
			j := i
			for j < len(rs) && !unicode.IsSpace(rs[j]) && !strings.ContainsRune(`"'(),=!<>~`, rs[j]) {
				j++
			}
			out = append(out, token{tWord, string(rs[i:j])})
			i = j
		}
	}
	return append(out, token{kind: tEOF}), nil
}

// orderTerm is one ORDER BY field.
type orderTerm struct {
	field string // updated, created, resolved, key, id
	desc  bool
}

// position is where an issue stood in a query's order when a page ended. The
// next page starts after it, so issues changing between pages shift nothing: an
// issue whose sort value moves ahead is met again later, none is skipped.
type position struct {
	U  int64  `json:"u"`
	C  int64  `json:"c"`
	R  int64  `json:"r"`
	P  string `json:"p"`
	N  int    `json:"n"`
	ID int64  `json:"i"`
}

func positionOf(is *issue) position {
	r := int64(math.MaxInt64) // unresolved sorts last ascending, as Jira puts empty values
	if !is.resolved.IsZero() {
		r = is.resolved.UnixMilli()
	}
	return position{U: is.updated.UnixMilli(), C: is.created.UnixMilli(), R: r, P: is.proj.key, N: is.num, ID: is.id}
}

func cmp3[T int64 | int | string](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func compareBy(order []orderTerm, a, b position) int {
	for _, o := range order {
		var c int
		switch o.field {
		case "updated":
			c = cmp3(a.U, b.U)
		case "created":
			c = cmp3(a.C, b.C)
		case "resolved":
			c = cmp3(a.R, b.R)
		case "key":
			if c = cmp3(a.P, b.P); c == 0 {
				c = cmp3(a.N, b.N)
			}
		case "id":
			c = cmp3(a.ID, b.ID)
		}
		if o.desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

// query is a compiled JQL query.
type query struct {
	match func(*issue) bool
	order []orderTerm // always ends in a unique field, so positions are total
}

// env is what compiling a query needs from the data set.
type env struct {
	w   *world
	tz  *time.Location
	now time.Time
}

type parser struct {
	toks []token
	i    int
	env  env
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token { t := p.toks[p.i]; p.i = min(p.i+1, len(p.toks)-1); return t }

func (p *parser) unexpected(t token, want string) error {
	if t.kind == tEOF {
		return jqlError("Error in the JQL Query: Expecting " + want + " but got the end of the query.")
	}
	return jqlError(fmt.Sprintf("Error in the JQL Query: Expecting %s but got '%s'.", want, t.text))
}

// compile parses jql against e.
func compile(jql string, e env) (query, error) {
	toks, err := lex(jql)
	if err != nil {
		return query{}, err
	}
	p := &parser{toks: toks, env: e}
	var preds []func(*issue) bool
	for p.peek().kind != tEOF && !p.peek().is("order") {
		if len(preds) > 0 {
			t := p.next()
			switch {
			case t.is("and"):
			case t.is("or"):
				return query{}, jqlError("The sandbox's JQL supports only clauses joined by AND; OR is not imitated.")
			default:
				return query{}, p.unexpected(t, "either 'OR' or 'AND'")
			}
		}
		pred, err := p.clause()
		if err != nil {
			return query{}, err
		}
		preds = append(preds, pred)
	}
	if len(preds) == 0 {
		return query{}, jqlError(unbounded)
	}
	var order []orderTerm
	if p.next().is("order") {
		if !p.next().is("by") {
			return query{}, p.unexpected(p.toks[p.i-1], "'by'")
		}
		for {
			t := p.next()
			if t.kind != tWord && t.kind != tString {
				return query{}, p.unexpected(t, "a field name")
			}
			f, ok := sortFields[strings.ToLower(t.text)]
			if !ok {
				if _, known := fieldNames[strings.ToLower(t.text)]; known {
					return query{}, jqlError(fmt.Sprintf("Field '%s' does not support sorting.", t.text))
				}
				return query{}, jqlError(fmt.Sprintf("Field '%s' does not exist or you do not have permission to view it.", t.text))
			}
			term := orderTerm{field: f}
			if d := p.peek(); d.is("asc") || d.is("desc") {
				term.desc = p.next().is("desc")
			}
			order = append(order, term)
			if p.peek().kind != tComma {
				break
			}
			p.next()
		}
	}
	if t := p.peek(); t.kind != tEOF {
		return query{}, p.unexpected(t, "the end of the query")
	}
	if !slices.ContainsFunc(order, func(o orderTerm) bool { return o.field == "id" || o.field == "key" }) {
		order = append(order, orderTerm{field: "id"})
	}
	return query{order: order, match: func(is *issue) bool {
		for _, pr := range preds {
			if !pr(is) {
				return false
			}
		}
		return true
	}}, nil
}

var sortFields = map[string]string{
	"updated": "updated", "updateddate": "updated", "created": "created", "createddate": "created",
	"resolved": "resolved", "resolutiondate": "resolved", "key": "key", "issuekey": "key", "id": "id",
}

// fieldNames maps accepted spellings to the field a clause filters.
var fieldNames = map[string]string{
	"project": "project", "key": "key", "issuekey": "key", "id": "key",
	"updated": "updated", "updateddate": "updated", "created": "created", "createddate": "created",
	"resolved": "resolved", "resolutiondate": "resolved",
	"status": "status", "statuscategory": "statusCategory", "assignee": "assignee",
	"summary": "summary", "labels": "labels", "priority": "priority", "type": "issuetype", "issuetype": "issuetype",
}

// clause parses one restriction into a predicate.
func (p *parser) clause() (func(*issue) bool, error) {
	t := p.next()
	switch {
	case t.kind == tLParen:
		return nil, jqlError("The sandbox's JQL does not imitate parentheses; join clauses with AND.")
	case t.is("not"):
		return nil, jqlError("The sandbox's JQL does not imitate NOT; use != or NOT IN.")
	case t.kind != tWord && t.kind != tString:
		return nil, p.unexpected(t, "a field name")
	}
	field, ok := fieldNames[strings.ToLower(t.text)]
	if !ok || field == "summary" || field == "labels" || field == "priority" || field == "issuetype" {
		if ok {
			return nil, jqlError(fmt.Sprintf("The sandbox's JQL does not imitate the field '%s'.", t.text))
		}
		return nil, jqlError(fmt.Sprintf("Field '%s' does not exist or you do not have permission to view it.", t.text))
	}
	name := t.text

	// operator
	var op string
	switch o := p.next(); {
	case o.kind == tOp:
		op = o.text
	case o.is("in"):
		op = "in"
	case o.is("not"):
		if !p.next().is("in") {
			return nil, p.unexpected(p.toks[p.i-1], "'in'")
		}
		op = "not in"
	case o.is("is"):
		op = "is"
		if p.peek().is("not") {
			p.next()
			op = "is not"
		}
	default:
		return nil, p.unexpected(o, "an operator")
	}

	// values
	var vals []token
	switch op {
	case "is", "is not":
		v := p.next()
		if !v.is("empty") && !v.is("null") {
			return nil, p.unexpected(v, "'EMPTY' or 'NULL'")
		}
	case "in", "not in":
		if t := p.next(); t.kind != tLParen {
			return nil, p.unexpected(t, "'('")
		}
		for {
			v := p.next()
			if v.kind != tWord && v.kind != tString {
				return nil, p.unexpected(v, "a value")
			}
			vals = append(vals, v)
			if t := p.next(); t.kind == tRParen {
				break
			} else if t.kind != tComma {
				return nil, p.unexpected(t, "',' or ')'")
			}
		}
	default:
		v := p.next()
		if v.kind != tWord && v.kind != tString {
			return nil, p.unexpected(v, "a value")
		}
		if p.peek().kind == tLParen {
			return nil, jqlError(fmt.Sprintf("The sandbox's JQL does not imitate the function '%s()'.", v.text))
		}
		vals = []token{v}
	}

	switch field {
	case "updated", "created", "resolved":
		return p.dateClause(field, name, op, vals)
	default:
		return p.valueClause(field, name, op, vals)
	}
}

func unsupportedOp(op, field string) error {
	return jqlError(fmt.Sprintf("The operator '%s' is not supported by the '%s' field.", op, field))
}

// dateClause compares a date field with a date value.
func (p *parser) dateClause(field, name, op string, vals []token) (func(*issue) bool, error) {
	get := func(is *issue) (time.Time, bool) {
		switch field {
		case "updated":
			return is.updated, true
		case "created":
			return is.created, true
		}
		return is.resolved, !is.resolved.IsZero()
	}
	switch op {
	case "is", "is not":
		want := op == "is"
		return func(is *issue) bool { _, set := get(is); return set != want }, nil
	case "~", "!~":
		return nil, unsupportedOp(op, name)
	}
	var bounds []int64
	for _, v := range vals {
		t, err := p.date(name, v)
		if err != nil {
			return nil, err
		}
		bounds = append(bounds, t.UnixMilli())
	}
	return func(is *issue) bool {
		t, set := get(is)
		if !set {
			return op == "!=" || op == "not in"
		}
		ms := t.UnixMilli()
		switch op {
		case "=":
			return ms == bounds[0]
		case "!=":
			return ms != bounds[0]
		case "<":
			return ms < bounds[0]
		case "<=":
			return ms <= bounds[0]
		case ">":
			return ms > bounds[0]
		case ">=":
			return ms >= bounds[0]
		case "in":
			return slices.Contains(bounds, ms)
		}
		return !slices.Contains(bounds, ms) // not in
	}, nil
}

var (
	epochMillis = regexp.MustCompile(`^\d+$`)
	period      = regexp.MustCompile(`^([-+]?)(\d+)([wdhm])$`)
	dateLayouts = []string{"2006/01/02 15:04", "2006-01-02 15:04", "2006/01/02", "2006-01-02"}
)

// date reads a JQL date value. A bare datetime is in the profile time zone.
func (p *parser) date(field string, v token) (time.Time, error) {
	s := strings.TrimSpace(v.text)
	if epochMillis.MatchString(s) {
		ms, err := strconv.ParseInt(s, 10, 64)
		if err == nil {
			return time.UnixMilli(ms), nil
		}
	}
	if m := period.FindStringSubmatch(s); m != nil {
		n, _ := strconv.Atoi(m[2])
		unit := map[string]time.Duration{"w": 7 * 24 * time.Hour, "d": 24 * time.Hour, "h": time.Hour, "m": time.Minute}[m[3]]
		d := time.Duration(n) * unit
		if m[1] == "-" {
			d = -d
		}
		return p.env.now.Add(d), nil
	}
	for _, l := range dateLayouts {
		if t, err := time.ParseInLocation(l, s, p.env.tz); err == nil {
			return t, nil
		}
	}
	return time.Time{}, jqlError(fmt.Sprintf("Date value '%s' for field '%s' is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'.", s, field))
}

// valueClause matches project, key, status, statusCategory or assignee.
func (p *parser) valueClause(field, name, op string, vals []token) (func(*issue) bool, error) {
	var get func(*issue) []string // every spelling of the issue's value; nil = empty
	var known func(string) bool
	w := p.env.w
	switch field {
	case "project":
		get = func(is *issue) []string {
			return []string{strings.ToUpper(is.proj.key), strconv.FormatInt(is.proj.id, 10), strings.ToUpper(is.proj.name)}
		}
		known = func(v string) bool {
			return slices.ContainsFunc(w.projects, func(pr *project) bool {
				return slices.Contains(get(&issue{proj: pr}), v)
			})
		}
	case "key":
		get = func(is *issue) []string { return []string{is.key(), strconv.FormatInt(is.id, 10)} }
		known = func(v string) bool {
			if _, ok := w.byKey[v]; ok {
				return true
			}
			id, err := strconv.ParseInt(v, 10, 64)
			_, ok := w.byID[id]
			return err == nil && ok
		}
	case "status":
		get = func(is *issue) []string { s := statuses[is.status]; return []string{strings.ToUpper(s.name), s.id} }
		known = func(v string) bool {
			return slices.ContainsFunc(statuses, func(s status) bool { return strings.ToUpper(s.name) == v || s.id == v })
		}
	case "statusCategory":
		get = func(is *issue) []string {
			c := statuses[is.status].cat
			return []string{strings.ToUpper(c.key), strings.ToUpper(c.name), strconv.Itoa(c.id)}
		}
		known = func(v string) bool {
			for _, c := range []category{catNew, catInProgress, catDone} {
				if v == strings.ToUpper(c.key) || v == strings.ToUpper(c.name) || v == strconv.Itoa(c.id) {
					return true
				}
			}
			return false
		}
	case "assignee":
		get = func(is *issue) []string {
			if is.assignee == nil {
				return nil
			}
			return []string{strings.ToUpper(is.assignee.accountID)}
		}
		known = func(string) bool { return true } // unknown accounts simply match nothing
	}
	switch op {
	case "is", "is not":
		want := op == "is"
		return func(is *issue) bool { return (get(is) == nil) == want }, nil
	case "=", "!=", "in", "not in":
	default:
		return nil, unsupportedOp(op, name)
	}
	var want []string
	for _, v := range vals {
		u := strings.ToUpper(v.text)
		if !known(u) {
			if field == "key" {
				return nil, jqlError(fmt.Sprintf("An issue with key '%s' does not exist for field '%s'.", v.text, name))
			}
			return nil, jqlError(fmt.Sprintf("The value '%s' does not exist for the field '%s'.", v.text, name))
		}
		want = append(want, u)
	}
	positive := op == "=" || op == "in"
	return func(is *issue) bool {
		hit := slices.ContainsFunc(get(is), func(s string) bool { return slices.Contains(want, s) })
		return hit == positive
	}, nil
}
