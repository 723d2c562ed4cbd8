package rest

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/meshflow/meshflow/framework/source"
)

// A template is a text with placeholders, ${...}, filled in when a request is built:
//
//	${NAME}           the value of the source's variable NAME (upper case)
//	${parent.FIELD}   the field FIELD of the parent stream's record (streams with a parent)
//	${key.COLUMN}     the column COLUMN of the key being asked about (streams with keys)
//	${since}          the incremental window's lower bound, in incremental.format
//	${until}          its upper bound (the sync's start), rounded up to the format's unit
//	${partition}      the partition being read ("" when none)
//
// $${ is a literal ${.
type template struct {
	raw   string
	parts []part
}

type part struct {
	lit string
	ref *ref // nil: a literal
}

// ref is one placeholder.
type ref struct {
	ns   string // "var", "parent", "key", "since", "until", "partition"
	name string // the variable's, the field's or the key column's name
}

func (r ref) String() string {
	switch r.ns {
	case "var":
		return "${" + r.name + "}"
	case "parent", "key":
		return "${" + r.ns + "." + r.name + "}"
	}
	return "${" + r.ns + "}"
}

var varName = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

// parseTemplate reads s; an error says which placeholder is wrong.
func parseTemplate(s string) (template, error) {
	t := template{raw: s}
	rest := s
	var lit strings.Builder
	for {
		i := strings.Index(rest, "${")
		if i < 0 {
			lit.WriteString(rest)
			break
		}
		if i > 0 && rest[i-1] == '$' { // $${ is a literal ${
			lit.WriteString(rest[:i-1] + "${")
			rest = rest[i+2:]
			continue
		}
		lit.WriteString(rest[:i])
		end := strings.IndexByte(rest[i:], '}')
		if end < 0 {
			return t, fmt.Errorf("placeholder %q has no closing }", rest[i:])
		}
		inner := strings.TrimSpace(rest[i+2 : i+end])
		r, err := parseRef(inner)
		if err != nil {
			return t, err
		}
		if lit.Len() > 0 {
			t.parts = append(t.parts, part{lit: lit.String()})
			lit.Reset()
		}
		t.parts = append(t.parts, part{ref: &r})
		rest = rest[i+end+1:]
	}
	if lit.Len() > 0 {
		t.parts = append(t.parts, part{lit: lit.String()})
	}
	return t, nil
}

func parseRef(s string) (ref, error) {
	switch {
	case s == "since" || s == "until" || s == "partition":
		return ref{ns: s}, nil
	case strings.HasPrefix(s, "parent."):
		name := strings.TrimPrefix(s, "parent.")
		if name == "" {
			return ref{}, fmt.Errorf("${parent.} names no field: write ${parent.FIELD} with a field of the parent stream")
		}
		return ref{ns: "parent", name: name}, nil
	case strings.HasPrefix(s, "key."):
		name := strings.TrimPrefix(s, "key.")
		if name == "" {
			return ref{}, fmt.Errorf("${key.} names no column: write ${key.COLUMN} with a column the keys query selects")
		}
		return ref{ns: "key", name: name}, nil
	case varName.MatchString(s):
		return ref{ns: "var", name: s}, nil
	}
	return ref{}, fmt.Errorf("${%s} is not a placeholder: use ${VARIABLE} (upper case), ${parent.FIELD}, ${key.COLUMN}, ${since}, ${until} or ${partition}", s)
}

// refs are the template's placeholders.
func (t template) refs() []ref {
	var out []ref
	for _, p := range t.parts {
		if p.ref != nil {
			out = append(out, *p.ref)
		}
	}
	return out
}

// refs are the placeholders of every template of the request.
func (r *request) refs() []ref {
	var out []ref
	for _, t := range []template{r.path} {
		out = append(out, t.refs()...)
	}
	for _, kvs := range [][]kv{r.query, r.headers} {
		for _, x := range kvs {
			out = append(out, x.value.refs()...)
		}
	}
	var walk func(any)
	walk = func(n any) {
		switch x := n.(type) {
		case map[string]any:
			for _, v := range x {
				walk(v)
			}
		case []any:
			for _, v := range x {
				walk(v)
			}
		case template:
			out = append(out, x.refs()...)
		}
	}
	walk(r.body)
	return out
}

func (t template) isZero() bool { return t.raw == "" && len(t.parts) == 0 }

// env holds what placeholders are filled with for one request.
type env struct {
	vals         source.Values
	parent       map[string]any // the parent record's fields, typed
	key          source.Key     // the key being asked about (a keyed stream)
	since, until any            // string or int64, nil outside an incremental window
	partition    string
}

func (e *env) lookup(r ref) any {
	switch r.ns {
	case "var":
		return e.vals.Get(r.name)
	case "parent":
		return e.parent[r.name]
	case "key":
		return e.key[r.name]
	case "since":
		return e.since
	case "until":
		return e.until
	}
	return e.partition
}

// text fills the template in, each placeholder's value passed through escape (nil:
// as it is).
func (t template) text(e *env, escape func(string) string) string {
	var b strings.Builder
	for _, p := range t.parts {
		if p.ref == nil {
			b.WriteString(p.lit)
			continue
		}
		s := scalarText(e.lookup(*p.ref))
		if escape != nil {
			s = escape(s)
		}
		b.WriteString(s)
	}
	return b.String()
}

// value fills the template in for a JSON body: a template that is one placeholder
// alone keeps its value's type (a parent's numeric id stays a number).
func (t template) value(e *env) any {
	if len(t.parts) == 1 && t.parts[0].ref != nil {
		v := e.lookup(*t.parts[0].ref)
		if tm, ok := v.(time.Time); ok {
			return tm.UTC().Format(time.RFC3339Nano)
		}
		return v
	}
	return t.text(e, nil)
}

func scalarText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprint(v)
}

// jsonTree is a request body as the spec writes it: maps, lists and scalars, with
// templates where strings hold placeholders.
type jsonTree = any

// readTree turns a YAML node into a body tree, parsing the templates in its strings.
func (p *problems) readTree(n *yaml.Node, field string, check func(*yaml.Node, string, template)) jsonTree {
	switch n.Kind {
	case yaml.MappingNode:
		o := p.mapping(n, field)
		out := map[string]any{}
		for _, k := range o.keys {
			out[k] = p.readTree(o.get(k), o.at(k), check)
		}
		return out
	case yaml.SequenceNode:
		out := []any{}
		for _, e := range n.Content {
			out = append(out, p.readTree(e, field, check))
		}
		return out
	case yaml.AliasNode:
		return p.readTree(n.Alias, field, check)
	}
	if n.Tag == "!!str" && strings.Contains(n.Value, "${") {
		t, err := parseTemplate(n.Value)
		if err != nil {
			p.add(n, field, "%v", err)
			return n.Value
		}
		check(n, field, t)
		return t
	}
	var v any
	if err := n.Decode(&v); err != nil {
		p.add(n, field, "%v", err)
	}
	return v
}

// fill renders a body tree for one request: a fresh copy with the templates filled in.
func fill(tree jsonTree, e *env) any {
	switch x := tree.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, v := range x {
			out[k] = fill(v, e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, v := range x {
			out[i] = fill(v, e)
		}
		return out
	case template:
		return x.value(e)
	}
	return tree
}

// merge lays over onto base (a copy): maps merge key by key, anything else replaces.
func merge(base, over any) any {
	bm, ok1 := base.(map[string]any)
	om, ok2 := over.(map[string]any)
	if !ok1 || !ok2 {
		return over
	}
	out := make(map[string]any, len(bm)+len(om))
	for k, v := range bm {
		out[k] = v
	}
	for k, v := range om {
		out[k] = merge(out[k], v)
	}
	return out
}
