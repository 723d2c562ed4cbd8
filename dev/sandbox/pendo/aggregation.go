package pendo

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxBuckets bounds one timeSeries; Pendo advises windows of at most 30 days.
const maxBuckets = 1000

// aggregationRequest is the body of POST /api/v1/aggregation (pipeline form).
type aggregationRequest struct {
	Response *struct {
		MimeType string `json:"mimeType"`
	} `json:"response"`
	Request *struct {
		RequestID string                       `json:"requestId"`
		Pipeline  []map[string]json.RawMessage `json:"pipeline"`
	} `json:"request"`
}

type timeSeries struct {
	Period string          `json:"period"`
	First  json.RawMessage `json:"first"`
	Count  int             `json:"count"`
	Last   json.RawMessage `json:"last"`
}

// aggregate is POST /api/v1/aggregation: every row of the result in one answer.
func (a *API) aggregate(w http.ResponseWriter, r *http.Request) {
	var req aggregationRequest
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil {
		writeText(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
		return
	}
	if req.Request == nil || len(req.Request.Pipeline) == 0 {
		writeText(w, http.StatusBadRequest, `request.pipeline is required, e.g. {"response":{"mimeType":"application/json"},"request":{"pipeline":[{"source":{"accounts":null}}]}}`)
		return
	}
	if req.Response != nil && req.Response.MimeType != "" && req.Response.MimeType != "application/json" {
		writeText(w, http.StatusBadRequest, "unsupported response mimeType "+strconv.Quote(req.Response.MimeType))
		return
	}
	steps := req.Request.Pipeline
	src, ok := steps[0]["source"]
	if !ok || len(steps[0]) != 1 {
		writeText(w, http.StatusBadRequest, "the first pipeline step must be a source")
		return
	}
	a.mu.RLock()
	rows, err := a.source(src)
	a.mu.RUnlock()
	if err != nil {
		writeText(w, http.StatusBadRequest, err.Error())
		return
	}
	for i, step := range steps[1:] {
		if rows, err = applyStep(rows, step); err != nil {
			writeText(w, http.StatusBadRequest, fmt.Sprintf("pipeline step %d: %v", i+2, err))
			return
		}
	}
	if rows == nil {
		rows = []map[string]any{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"startTime": ms(a.opts.Now()), "results": rows})
}

// source produces the rows of a source step. Callers hold the read lock.
func (a *API) source(raw json.RawMessage) ([]map[string]any, error) {
	var spec map[string]json.RawMessage
	if err := json.Unmarshal(raw, &spec); err != nil {
		return nil, fmt.Errorf("source: %v", err)
	}
	var ts *timeSeries
	if b, ok := spec["timeSeries"]; ok {
		ts = &timeSeries{}
		if err := json.Unmarshal(b, ts); err != nil {
			return nil, fmt.Errorf("source.timeSeries: %v", err)
		}
		delete(spec, "timeSeries")
	}
	if len(spec) != 1 {
		return nil, fmt.Errorf("source must name exactly one of pageEvents, featureEvents, visitors, accounts")
	}
	var name string
	for k := range spec {
		name = k
	}
	switch name {
	case "visitors":
		out := make([]map[string]any, len(a.data.visitors))
		for i, v := range a.data.visitors {
			out[i] = v.wire()
		}
		return out, nil
	case "accounts":
		out := make([]map[string]any, len(a.data.accounts))
		for i, acct := range a.data.accounts {
			out[i] = acct.wire()
		}
		return out, nil
	case PageEvents, FeatureEvents:
		if ts == nil {
			return nil, fmt.Errorf("source %s requires a timeSeries", name)
		}
		return a.events(name, ts)
	}
	return nil, fmt.Errorf("unknown source %q (this sandbox serves pageEvents, featureEvents, visitors, accounts)", name)
}

// events renders the rows of every bucket of ts. Buckets are days or hours of the
// subscription's time zone; `first` anywhere inside a bucket selects that bucket.
func (a *API) events(source string, ts *timeSeries) ([]map[string]any, error) {
	now := a.opts.Now()
	first, err := instant(ts.First, now)
	if err != nil {
		return nil, fmt.Errorf("timeSeries.first: %v", err)
	}
	local := first.In(a.tz)
	var start time.Time
	var step func(t time.Time, n int) time.Time
	switch ts.Period {
	case "dayRange":
		start = midnight(local)
		step = func(t time.Time, n int) time.Time { return t.AddDate(0, 0, n) }
	case "hourRange":
		start = time.Date(local.Year(), local.Month(), local.Day(), local.Hour(), 0, 0, 0, a.tz)
		step = func(t time.Time, n int) time.Time { return t.Add(time.Duration(n) * time.Hour) }
	default:
		return nil, fmt.Errorf("timeSeries.period must be dayRange or hourRange, got %q", ts.Period)
	}
	var buckets []time.Time
	switch {
	case len(ts.Last) > 0:
		last, err := instant(ts.Last, now)
		if err != nil {
			return nil, fmt.Errorf("timeSeries.last: %v", err)
		}
		for t := start; t.Before(last); t = step(t, 1) {
			if len(buckets) == maxBuckets {
				return nil, fmt.Errorf("timeSeries spans more than %d buckets", maxBuckets)
			}
			buckets = append(buckets, t)
		}
	case ts.Count > 0:
		if ts.Count > maxBuckets {
			return nil, fmt.Errorf("timeSeries.count %d is more than %d buckets", ts.Count, maxBuckets)
		}
		for i := range ts.Count {
			buckets = append(buckets, step(start, i))
		}
	case ts.Count < 0:
		if -ts.Count > maxBuckets {
			return nil, fmt.Errorf("timeSeries.count %d is more than %d buckets", ts.Count, maxBuckets)
		}
		for i := ts.Count + 1; i <= 0; i++ {
			buckets = append(buckets, step(start, i))
		}
	default:
		return nil, fmt.Errorf("timeSeries needs a non-zero count or a last")
	}
	var out []map[string]any
	for _, b := range buckets {
		if ts.Period == "dayRange" {
			for _, e := range a.dayRows(source, b) {
				out = append(out, e.wire(source, "day", ms(b)))
			}
			continue
		}
		for _, e := range a.dayRows(source, midnight(b)) {
			if e.hour == b.Hour() {
				out = append(out, e.wire(source, "hour", ms(b)))
			}
		}
	}
	return out, nil
}

// instant reads epoch ms (a number or digits) or "now()".
func instant(raw json.RawMessage, now time.Time) (time.Time, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return time.Time{}, err
	}
	s := fmt.Sprint(v)
	if s == "now()" {
		return now, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s is not epoch milliseconds or now()", raw)
	}
	return time.UnixMilli(n), nil
}

// applyStep runs one non-source pipeline step.
func applyStep(rows []map[string]any, step map[string]json.RawMessage) ([]map[string]any, error) {
	if len(step) != 1 {
		return nil, fmt.Errorf("a step has exactly one operator")
	}
	for op, arg := range step {
		switch op {
		case "filter":
			var expr string
			if err := json.Unmarshal(arg, &expr); err != nil {
				return nil, fmt.Errorf("filter must be a string expression")
			}
			pred, err := parseFilter(expr)
			if err != nil {
				return nil, fmt.Errorf("filter %q: %v", expr, err)
			}
			return slices.DeleteFunc(rows, func(r map[string]any) bool { return !truthy(pred(r)) }), nil
		case "select":
			var fields map[string]string
			if err := json.Unmarshal(arg, &fields); err != nil {
				return nil, fmt.Errorf("select must map output names to field paths")
			}
			for i, r := range rows {
				out := make(map[string]any, len(fields))
				for name, path := range fields {
					out[name] = lookup(r, path)
				}
				rows[i] = out
			}
			return rows, nil
		case "sort":
			var keys []string
			if err := json.Unmarshal(arg, &keys); err != nil {
				return nil, fmt.Errorf("sort must be a list of field paths, - for descending")
			}
			slices.SortStableFunc(rows, func(x, y map[string]any) int {
				for _, k := range keys {
					desc := strings.HasPrefix(k, "-")
					k = strings.TrimPrefix(k, "-")
					if c := compare(lookup(x, k), lookup(y, k)); c != 0 {
						if desc {
							return -c
						}
						return c
					}
				}
				return 0
			})
			return rows, nil
		case "limit":
			n, err := strconv.Atoi(string(arg))
			if err != nil || n < 0 {
				return nil, fmt.Errorf("limit must be a non-negative integer")
			}
			return rows[:min(n, len(rows))], nil
		case "source":
			return nil, fmt.Errorf("only the first step can be a source")
		default:
			return nil, fmt.Errorf("operator %q is not supported by this sandbox (filter, select, sort, limit are)", op)
		}
	}
	return rows, nil
}

// lookup follows a dotted path through nested objects.
func lookup(v any, path string) any {
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// number converts Go and JSON numbers to float64.
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case float64:
		return x, true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

// compare orders nil first, then numbers, then strings, then the rest by text.
func compare(x, y any) int {
	if x == nil || y == nil {
		switch {
		case x == nil && y == nil:
			return 0
		case x == nil:
			return -1
		}
		return 1
	}
	if a, ok := number(x); ok {
		if b, ok := number(y); ok {
			return cmp.Compare(a, b)
		}
		return -1
	}
	if _, ok := number(y); ok {
		return 1
	}
	return strings.Compare(fmt.Sprint(x), fmt.Sprint(y))
}

func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	}
	if f, ok := number(v); ok {
		return f != 0
	}
	return true
}

// parseFilter compiles the subset of Pendo's filter expressions the sandbox
// understands: field paths, numbers, "strings", true, false, null, the comparisons
// == != < <= > >=, and !, &&, || with parentheses.
func parseFilter(s string) (func(map[string]any) any, error) {
	p := &parser{toks: tokenize(s)}
	f, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.i < len(p.toks) {
		return nil, fmt.Errorf("unexpected %q", p.toks[p.i].text)
	}
	return f, nil
}

type token struct {
	kind byte // 'i' identifier, 'n' number, 's' string, 'o' operator, '?' invalid
	text string
}

func tokenize(s string) []token {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			i++
		case c == '"':
			j := i + 1
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(s) {
				return append(out, token{'?', s[i:]})
			}
			out = append(out, token{'s', s[i : j+1]})
			i = j + 1
		case c >= '0' && c <= '9' || c == '-' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			j := i + 1
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.') {
				j++
			}
			out = append(out, token{'n', s[i:j]})
			i = j
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i + 1
			for j < len(s) && (s[j] == '_' || s[j] == '.' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			out = append(out, token{'i', s[i:j]})
			i = j
		default:
			op := ""
			for _, o := range []string{"==", "!=", "<=", ">=", "&&", "||", "<", ">", "!", "(", ")"} {
				if strings.HasPrefix(s[i:], o) {
					op = o
					break
				}
			}
			if op == "" {
				return append(out, token{'?', s[i : i+1]})
			}
			out = append(out, token{'o', op})
			i += len(op)
		}
	}
	return out
}

type parser struct {
	toks []token
	i    int
}

func (p *parser) peek(op string) bool {
	return p.i < len(p.toks) && p.toks[p.i].kind == 'o' && p.toks[p.i].text == op
}

func (p *parser) or() (func(map[string]any) any, error) {
	left, err := p.and()
	for err == nil && p.peek("||") {
		p.i++
		var right func(map[string]any) any
		if right, err = p.and(); err == nil {
			l := left
			left = func(r map[string]any) any { return truthy(l(r)) || truthy(right(r)) }
		}
	}
	return left, err
}

func (p *parser) and() (func(map[string]any) any, error) {
	left, err := p.unary()
	for err == nil && p.peek("&&") {
		p.i++
		var right func(map[string]any) any
		if right, err = p.unary(); err == nil {
			l := left
			left = func(r map[string]any) any { return truthy(l(r)) && truthy(right(r)) }
		}
	}
	return left, err
}

func (p *parser) unary() (func(map[string]any) any, error) {
	switch {
	case p.peek("!"):
		p.i++
		f, err := p.unary()
		return func(r map[string]any) any { return !truthy(f(r)) }, err
	case p.peek("("):
		p.i++
		f, err := p.or()
		if err != nil {
			return nil, err
		}
		if !p.peek(")") {
			return nil, fmt.Errorf("missing )")
		}
		p.i++
		return f, nil
	}
	left, err := p.operand()
	if err != nil {
		return nil, err
	}
	for _, op := range []string{"==", "!=", "<=", ">=", "<", ">"} {
		if !p.peek(op) {
			continue
		}
		p.i++
		right, err := p.operand()
		if err != nil {
			return nil, err
		}
		return func(r map[string]any) any {
			x, y := left(r), right(r)
			switch op {
			case "==":
				return equal(x, y)
			case "!=":
				return !equal(x, y)
			}
			if x == nil || y == nil {
				return false
			}
			c := compare(x, y)
			switch op {
			case "<":
				return c < 0
			case "<=":
				return c <= 0
			case ">":
				return c > 0
			}
			return c >= 0
		}, nil
	}
	return left, nil
}

func equal(x, y any) bool {
	if x == nil || y == nil {
		return x == nil && y == nil
	}
	return compare(x, y) == 0
}

func (p *parser) operand() (func(map[string]any) any, error) {
	if p.i >= len(p.toks) {
		return nil, fmt.Errorf("unexpected end of expression")
	}
	t := p.toks[p.i]
	p.i++
	switch t.kind {
	case 'n':
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return nil, fmt.Errorf("bad number %q", t.text)
		}
		return func(map[string]any) any { return f }, nil
	case 's':
		s, err := strconv.Unquote(t.text)
		if err != nil {
			return nil, fmt.Errorf("bad string %s", t.text)
		}
		return func(map[string]any) any { return s }, nil
	case 'i':
		switch t.text {
		case "true", "false":
			b := t.text == "true"
			return func(map[string]any) any { return b }, nil
		case "null":
			return func(map[string]any) any { return nil }, nil
		}
		path := t.text
		return func(r map[string]any) any { return lookup(r, path) }, nil
	}
	return nil, fmt.Errorf("unexpected %q", t.text)
}
