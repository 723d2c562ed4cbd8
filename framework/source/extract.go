package source

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json/jsontext"
)

// Extract decodes rec once and returns one value per field: nil (absent or JSON null),
// string, int64, float64, bool or time.Time (UTC), following each Field's Type.
// A value that cannot be converted is an error naming the field and the value, so a
// malformed record is reported rather than landed as a silent null. A caller that
// extracts many records with the same fields builds one Extractor instead.
func Extract(rec json.RawMessage, fields []Field) ([]any, error) {
	return NewExtractor(fields).Extract(rec, nil)
}

// Extractor reads a fixed set of fields out of many records. It walks each record once
// as a token stream and materialises only the values at the fields' paths, skipping
// (while still validating) everything else: no map of the whole record is built. That
// is most of the cost of landing a wide record, and the results equal those of
// decoding the record into a map and looking each path up (see extract_test.go): the
// last of duplicate keys wins, a path through a non-object is null, invalid UTF-8
// becomes U+FFFD. An Extractor is not safe for concurrent use.
type Extractor struct {
	fields []Field
	root   *pathNode
	whole  []int // fields with an empty path: the whole record
	dec    jsontext.Decoder
	buf    bytes.Buffer
}

// pathNode is one object level of the fields' paths.
type pathNode struct {
	leaves []int                // fields whose path ends at this key
	kids   map[string]*pathNode // keys below this one that some path goes through
	all    []int                // every field at or below this node, cleared when a duplicate key restarts it
	depth  int                  // keys from the record's root to this node
}

// decodeOptions accept what encoding/json's decoder accepts.
var decodeOptions = []jsontext.Options{jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true)}

// NewExtractor compiles the fields' paths.
func NewExtractor(fields []Field) *Extractor {
	root := &pathNode{}
	var whole []int
	for i, f := range fields {
		n := root
		n.all = append(n.all, i)
		for _, k := range f.Path {
			if n.kids == nil {
				n.kids = map[string]*pathNode{}
			}
			c := n.kids[k]
			if c == nil {
				c = &pathNode{depth: n.depth + 1}
				n.kids[k] = c
			}
			n = c
			n.all = append(n.all, i)
		}
		if len(f.Path) == 0 {
			whole = append(whole, i) // the record itself (as JSON text, for a String)
			continue
		}
		n.leaves = append(n.leaves, i)
	}
	return &Extractor{fields: fields, root: root, whole: whole}
}

// Extract returns rec's field values, reusing out when it has room.
func (x *Extractor) Extract(rec json.RawMessage, out []any) ([]any, error) {
	if cap(out) >= len(x.fields) {
		out = out[:len(x.fields)]
		clear(out)
	} else {
		out = make([]any, len(x.fields))
	}
	x.buf.Reset()
	x.buf.Write(rec)
	x.dec.Reset(&x.buf, decodeOptions...)
	if k := x.dec.PeekKind(); k != '{' {
		if _, err := x.dec.ReadValue(); k == 'n' && err == nil {
			// null holds no fields, as a decoded nil map holds none; the whole record
			// is that nil map, as decoding null into a map gives.
			for _, i := range x.whole {
				out[i] = map[string]any(nil)
			}
			return x.convert(out)
		} else if err != nil {
			return nil, fmt.Errorf("record is not a JSON object: %w", err)
		}
		return nil, fmt.Errorf("record is not a JSON object: it is a JSON %s", kindName(k))
	}
	if err := x.object(x.root, out); err != nil {
		return nil, fmt.Errorf("record is not a JSON object: %w", err)
	}
	if len(x.whole) > 0 {
		if err := x.composite(&pathNode{leaves: x.whole}, jsontext.Value(rec), out); err != nil {
			return nil, fmt.Errorf("record is not a JSON object: %w", err)
		}
	}
	return x.convert(out)
}

// convert turns out's raw values into the fields' types, in place.
func (x *Extractor) convert(out []any) ([]any, error) {
	for i, f := range x.fields {
		v, err := Convert(out[i], f.Type)
		if err != nil {
			return nil, fmt.Errorf("field %s (%s): %w", f.Name, strings.Join(f.Path, "."), err)
		}
		out[i] = v
	}
	return out, nil
}

// object reads the object that comes next, storing the raw values found at n's
// leaves below it into out (strings, json.Number, bools, nil; objects and arrays
// decoded as encoding/json would).
func (x *Extractor) object(n *pathNode, out []any) error {
	if _, err := x.dec.ReadToken(); err != nil { // '{'
		return err
	}
	for x.dec.PeekKind() != '}' {
		name, err := x.dec.ReadToken()
		if err != nil {
			return err
		}
		c := n.kids[name.String()]
		if c == nil {
			if err := x.dec.SkipValue(); err != nil {
				return err
			}
			continue
		}
		for _, i := range c.all { // a duplicate key replaces what an earlier one held
			out[i] = nil
		}
		switch kind := x.dec.PeekKind(); {
		case kind == '{' && len(c.leaves) == 0:
			if err := x.object(c, out); err != nil {
				return err
			}
		case kind == '{' || kind == '[':
			raw, err := x.dec.ReadValue()
			if err != nil {
				return err
			}
			if err := x.composite(c, raw, out); err != nil {
				return err
			}
		default:
			tok, err := x.dec.ReadToken()
			if err != nil {
				return err
			}
			var v any
			switch tok.Kind() {
			case '"':
				v = tok.String()
			case '0':
				v = json.Number(tok.String())
			case 't', 'f':
				v = tok.Bool()
			}
			for _, i := range c.leaves {
				out[i] = v
			}
		}
	}
	_, err := x.dec.ReadToken() // '}'
	return err
}

// composite handles the rare object or array that is itself a field's value (kept as
// its JSON text by Convert), possibly with other fields' paths going through it.
func (x *Extractor) composite(c *pathNode, raw jsontext.Value, out []any) error {
	var v any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return err
	}
	for _, i := range c.leaves {
		out[i] = v
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	for _, i := range c.all {
		if !slices.Contains(c.leaves, i) {
			out[i] = lookup(m, x.fields[i].Path[c.depth:])
		}
	}
	return nil
}
func kindName(k jsontext.Kind) string {
	switch k {
	case '[':
		return "array"
	case '"':
		return "string"
	case '0':
		return "number"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "value"
}

func lookup(v any, path []string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// Convert turns a decoded JSON value (string, json.Number, bool, nil) into t.
// Empty strings are null: SaaS APIs send "" for unset properties.
func Convert(v any, t Type) (any, error) {
	if v == nil {
		return nil, nil
	}
	if s, ok := v.(string); ok && s == "" {
		return nil, nil
	}
	switch t {
	case String:
		switch x := v.(type) {
		case string:
			return x, nil
		case json.Number:
			return x.String(), nil
		case bool:
			return strconv.FormatBool(x), nil
		default:
			b, err := json.Marshal(x) // objects and arrays keep their JSON text
			return string(b), err
		}
	case Int64:
		s, err := scalar(v)
		if err != nil {
			return nil, err
		}
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, nil
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f != float64(int64(f)) {
			return nil, fmt.Errorf("%q is not an integer", s)
		}
		return int64(f), nil
	case Float64:
		s, err := scalar(v)
		if err != nil {
			return nil, err
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", s)
		}
		return f, nil
	case Bool:
		switch x := v.(type) {
		case bool:
			return x, nil
		case string:
			b, err := strconv.ParseBool(x)
			if err != nil {
				return nil, fmt.Errorf("%q is not a boolean", x)
			}
			return b, nil
		}
		return nil, fmt.Errorf("%v is not a boolean", v)
	case Timestamp:
		return ParseTime(v)
	case Date:
		s, err := scalar(v)
		if err != nil {
			return nil, err
		}
		for _, layout := range []string{"2006-01-02", "20060102"} {
			if d, err := time.Parse(layout, s); err == nil {
				return d, nil
			}
		}
		if ts, err := ParseTime(v); err == nil {
			y, m, d := ts.(time.Time).Date()
			return time.Date(y, m, d, 0, 0, 0, 0, time.UTC), nil
		}
		return nil, fmt.Errorf("%q is not a date (want YYYY-MM-DD or YYYYMMDD)", s)
	}
	return nil, fmt.Errorf("unknown type %q", t)
}

func scalar(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return strings.TrimSpace(x), nil
	case json.Number:
		return x.String(), nil
	case bool:
		return strconv.FormatBool(x), nil
	}
	return "", fmt.Errorf("%v is not a scalar", v)
}

// timeLayouts are the vendors' timestamp formats: HubSpot ISO with Z and millis, Jira
// .SSS+0000, GitHub Z without a fraction.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.000-0700", "2006-01-02T15:04:05-0700", "2006-01-02T15:04:05Z07:00", "2006-01-02 15:04:05"}

// ParseTime reads an RFC 3339-like string or epoch milliseconds (number or digits) as UTC.
func ParseTime(v any) (any, error) {
	s, err := scalar(v)
	if err != nil {
		return nil, err
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms).UTC(), nil
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return nil, fmt.Errorf("%q is not a timestamp (want RFC 3339 or epoch milliseconds)", s)
}
