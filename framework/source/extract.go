package source

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Extract decodes rec once and returns one value per field: nil (absent or JSON null),
// string, int64, float64, bool or time.Time (UTC), following each Field's Type.
// A value that cannot be converted is an error naming the field and the value, so a
// malformed record is reported rather than landed as a silent null.
func Extract(rec json.RawMessage, fields []Field) ([]any, error) {
	var root map[string]any
	dec := json.NewDecoder(bytes.NewReader(rec))
	dec.UseNumber()
	if err := dec.Decode(&root); err != nil {
		return nil, fmt.Errorf("record is not a JSON object: %w", err)
	}
	out := make([]any, len(fields))
	for i, f := range fields {
		v, err := Convert(lookup(root, f.Path), f.Type)
		if err != nil {
			return nil, fmt.Errorf("field %s (%s): %w", f.Name, strings.Join(f.Path, "."), err)
		}
		out[i] = v
	}
	return out, nil
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
