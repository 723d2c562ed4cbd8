package rest

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// problems collects every error of one spec file, each as
// "FILE:LINE: FIELD: what is wrong; how to fix it", so one run of the validation
// shows them all.
type problems struct {
	file string
	list []string
}

func (p *problems) add(n *yaml.Node, field, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	p.list = append(p.list, fmt.Sprintf("%s:%d: %s: %s", p.file, line, field, fmt.Sprintf(format, args...)))
}

// object is a YAML mapping being read: each key is looked up once, and done reports
// every key nobody asked for.
type object struct {
	p     *problems
	node  *yaml.Node
	field string // the mapping's place in the spec, e.g. "streams.organizations"
	keys  []string
	vals  map[string]*yaml.Node
	knode map[string]*yaml.Node
	read  map[string]bool
}

// mapping reads n as a mapping; nil (with a problem) when it is something else.
func (p *problems) mapping(n *yaml.Node, field string) *object {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n == nil {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		p.add(n, field, "is %s, want a mapping of keys to values", kindName(n))
		return nil
	}
	o := &object{p: p, node: n, field: field, vals: map[string]*yaml.Node{}, knode: map[string]*yaml.Node{}, read: map[string]bool{}}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.add(k, field, "a key is %s, want a name", kindName(k))
			continue
		}
		if _, dup := o.vals[k.Value]; dup {
			p.add(k, join(field, k.Value), "is given twice (line %d first): keep one", o.knode[k.Value].Line)
			continue
		}
		o.keys = append(o.keys, k.Value)
		o.vals[k.Value] = v
		o.knode[k.Value] = k
	}
	return o
}

func join(field, key string) string {
	if field == "" {
		return key
	}
	return field + "." + key
}

// at returns key's field name.
func (o *object) at(key string) string { return join(o.field, key) }

// get returns key's value node, or nil when absent or empty (key: with no value).
func (o *object) get(key string) *yaml.Node {
	if o == nil {
		return nil
	}
	o.read[key] = true
	n := o.vals[key]
	for n != nil && n.Kind == yaml.AliasNode { // &anchor … *anchor: the same value again
		n = n.Alias
	}
	if n != nil && !(n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
		return n
	}
	return nil
}

// has reports whether key has a value (without reading it).
func (o *object) has(key string) bool {
	if o == nil {
		return false
	}
	n := o.vals[key]
	return n != nil && !(n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// done reports the keys nobody read as unknown, suggesting the nearest known one.
func (o *object) done(known ...string) {
	if o == nil {
		return
	}
	for _, k := range o.keys {
		if o.read[k] {
			continue
		}
		hint := ""
		if near := nearest(k, known); near != "" {
			hint = fmt.Sprintf("did you mean %q? ", near)
		}
		o.p.add(o.knode[k], o.at(k), "unknown key: %sthe keys here are %s", hint, strings.Join(known, ", "))
	}
}

// str reads a scalar string; "" when absent (a problem when required).
func (o *object) str(key string, required bool) string {
	n := o.get(key)
	if n == nil {
		if required && o != nil {
			o.p.add(o.node, o.at(key), "is missing")
		}
		return ""
	}
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		o.p.add(n, o.at(key), "is %s, want a text value", kindName(n))
		return ""
	}
	if required && strings.TrimSpace(n.Value) == "" {
		o.p.add(n, o.at(key), "is empty")
	}
	return n.Value
}

// oneOf reads a string that must be one of allowed ("" when absent).
func (o *object) oneOf(key string, required bool, allowed ...string) string {
	s := o.str(key, required)
	if s != "" && !slices.Contains(allowed, s) {
		o.p.add(o.get(key), o.at(key), "%q is not one of %s", s, strings.Join(allowed, ", "))
		return ""
	}
	return s
}

func (o *object) boolean(key string) bool {
	n := o.get(key)
	if n == nil {
		return false
	}
	var b bool
	if n.Kind != yaml.ScalarNode || n.Decode(&b) != nil {
		o.p.add(n, o.at(key), "%q is not true or false", n.Value)
	}
	return b
}

// integer reads a whole number within [lo, hi]; def when absent.
func (o *object) integer(key string, def, lo, hi int) int {
	n := o.get(key)
	if n == nil {
		return def
	}
	v, err := strconv.Atoi(strings.TrimSpace(n.Value))
	if n.Kind != yaml.ScalarNode || err != nil || v < lo || v > hi {
		o.p.add(n, o.at(key), "%q is not a whole number from %d to %d", n.Value, lo, hi)
		return def
	}
	return v
}

// number reads a number > 0; 0 when absent.
func (o *object) number(key string) float64 {
	n := o.get(key)
	if n == nil {
		return 0
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(n.Value), 64)
	if n.Kind != yaml.ScalarNode || err != nil || !(v > 0) {
		o.p.add(n, o.at(key), "%q is not a number above 0", n.Value)
		return 0
	}
	return v
}

// duration reads a Go duration ("90s", "1h"); def when absent.
func (o *object) duration(key string, def time.Duration) time.Duration {
	n := o.get(key)
	if n == nil {
		return def
	}
	d, err := time.ParseDuration(strings.TrimSpace(n.Value))
	if n.Kind != yaml.ScalarNode || err != nil || d < 0 {
		o.p.add(n, o.at(key), "%q is not a duration such as 30s, 5m or 1h", n.Value)
		return def
	}
	return d
}

// strings reads a scalar or a sequence of scalars as a list.
func (o *object) strs(key string) []string {
	n := o.get(key)
	if n == nil {
		return nil
	}
	return o.p.strs(n, o.at(key))
}

func (p *problems) strs(n *yaml.Node, field string) []string {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return nil
		}
		return []string{n.Value}
	case yaml.SequenceNode:
		var out []string
		for _, e := range n.Content {
			if e.Kind != yaml.ScalarNode {
				p.add(e, field, "an item is %s, want a text value", kindName(e))
				continue
			}
			out = append(out, e.Value)
		}
		return out
	}
	p.add(n, field, "is %s, want a value or a list of values", kindName(n))
	return nil
}

// path reads a JSON path: "a.b.c", or a list of keys for keys holding dots.
func (o *object) path(key string) ([]string, bool) {
	n := o.get(key)
	if n == nil {
		return nil, false
	}
	return o.p.path(n, o.at(key)), true
}

func (p *problems) path(n *yaml.Node, field string) []string {
	if n.Kind == yaml.SequenceNode {
		return p.strs(n, field)
	}
	if n.Kind != yaml.ScalarNode {
		p.add(n, field, "is %s, want a path such as data.items", kindName(n))
		return nil
	}
	s := strings.TrimSpace(n.Value)
	if s == "" || s == "." {
		return []string{}
	}
	parts := strings.Split(s, ".")
	for _, part := range parts {
		if part == "" {
			p.add(n, field, "path %q has an empty key: write keys separated by single dots (data.items), or a list of keys when a key holds a dot", s)
			return nil
		}
	}
	return parts
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	if n.Tag == "!!null" {
		return "empty"
	}
	return fmt.Sprintf("%q", n.Value)
}

// nearest is the known word closest to w when it is a likely typo of it.
func nearest(w string, known []string) string {
	best, bestD := "", 0
	for _, k := range known {
		d := distance(strings.ToLower(w), strings.ToLower(k))
		if d <= max(1, len(k)/4) && (best == "" || d < bestD) {
			best, bestD = k, d
		}
	}
	return best
}

// distance is the edit distance of a and b, a swap of neighbours counting one
// (optimal string alignment): "recrods" is one edit from "records".
func distance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
