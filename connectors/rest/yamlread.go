package rest

import (
	"bytes"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/meshflow/meshflow/framework/errs"
)

// YAML is the spec reader REST specs use, for other spec formats (connectors/files):
// the same FILE:LINE: FIELD: messages, every problem of a file collected at once,
// unknown keys reported with the nearest known one, and the same value checks.
type YAML struct{ p *problems }

// ReadYAML decodes data as one YAML document and returns its root node and a reader
// collecting problems for file; what names the spec in messages ("files spec").
func ReadYAML(what, file string, data []byte) (*yaml.Node, *YAML, error) {
	var root yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&root); err != nil {
		return nil, nil, errs.Errorf(errs.Invalid, what, "%s: not YAML: %v", file, err)
	}
	if len(root.Content) == 0 {
		return nil, nil, errs.Errorf(errs.Invalid, what, "%s: the file is empty", file)
	}
	return root.Content[0], &YAML{p: &problems{file: file}}, nil
}

// Add reports a problem at n's line.
func (y *YAML) Add(n *yaml.Node, field, format string, args ...any) {
	y.p.add(n, field, format, args...)
}

// Err is every problem reported, one a line, or nil.
func (y *YAML) Err(what string) error {
	if len(y.p.list) == 0 {
		return nil
	}
	return errs.Errorf(errs.Invalid, what, "%d problem(s):\n%s", len(y.p.list), strings.Join(y.p.list, "\n"))
}

// Mapping reads n as a mapping at field; nil (with a problem) when it is not one.
func (y *YAML) Mapping(n *yaml.Node, field string) *Object {
	o := y.p.mapping(n, field)
	if o == nil {
		return nil
	}
	return &Object{o: o}
}

// Strs reads a value or a list of values.
func (y *YAML) Strs(n *yaml.Node, field string) []string { return y.p.strs(n, field) }

// Object is a YAML mapping being read: each key is looked up once, and Done reports
// every key nobody asked for.
type Object struct{ o *object }

// Keys are the mapping's keys in file order.
func (o *Object) Keys() []string {
	if o == nil {
		return nil
	}
	return o.o.keys
}

// Node is the mapping's own node.
func (o *Object) Node() *yaml.Node { return o.o.node }

// At is key's field name.
func (o *Object) At(key string) string { return o.o.at(key) }

// Get is key's value node, nil when absent or empty.
func (o *Object) Get(key string) *yaml.Node {
	if o == nil {
		return nil
	}
	return o.o.get(key)
}

// KeyNode is the node of key itself (for a problem about the name).
func (o *Object) KeyNode(key string) *yaml.Node { return o.o.knode[key] }

// Str reads a text value; "" when absent (a problem when required).
func (o *Object) Str(key string, required bool) string {
	if o == nil {
		return ""
	}
	return o.o.str(key, required)
}

// OneOf reads a text value that must be one of allowed ("" when absent).
func (o *Object) OneOf(key string, required bool, allowed ...string) string {
	if o == nil {
		return ""
	}
	return o.o.oneOf(key, required, allowed...)
}

// Strs reads a value or a list of values.
func (o *Object) Strs(key string) []string {
	if o == nil {
		return nil
	}
	return o.o.strs(key)
}

// Done reports the keys nobody read, suggesting the nearest of known.
func (o *Object) Done(known ...string) {
	if o != nil {
		o.o.done(known...)
	}
}
