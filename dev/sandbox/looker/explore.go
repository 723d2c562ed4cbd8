package looker

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// kind is a field's LookML type, which decides how it filters and prints.
type kind int

const (
	kString kind = iota
	kNumber
	kDate // printed 2026-11-20
	kTime // printed 2026-11-20 14:03:11
	kYesNo
)

// aggregate is how a measure folds its group's rows.
type aggregate int

const (
	aggCount    aggregate = iota // rows (whose value is not NULL, when the measure has one)
	aggDistinct                  // distinct non-NULL values
	aggSum
	aggAverage
)

// field is a dimension (value per row) or a measure (agg over a group's values).
type field struct {
	kind    kind
	measure bool
	agg     aggregate
	value   func(row any) any // a dimension's value, or what a measure aggregates (nil: count rows)
}

// exploreModel is a System Activity explore: its rows and fields by "view.name".
type exploreModel struct {
	rows   func(in *instance) []any
	fields map[string]*field
}

// dim and measure declare fields over rows of type R.
func dim[R any](k kind, f func(R) any) *field {
	return &field{kind: k, value: func(x any) any { return f(x.(R)) }}
}

func measure[R any](agg aggregate, f func(R) any) *field {
	m := &field{kind: kNumber, measure: true, agg: agg}
	if f != nil {
		m.value = func(x any) any { return f(x.(R)) }
	}
	return m
}

// orNil turns a zero value into NULL.
func orNil[T comparable](v T) any {
	var zero T
	if v == zero {
		return nil
	}
	return v
}

func day(t time.Time) time.Time { return t.UTC().Truncate(24 * time.Hour) }

// systemActivity holds the System Activity explores the imitation serves.
var systemActivity = map[string]*exploreModel{"history": historyExplore(), "dashboard": dashboardExplore()}

// historyExplore is one row per query run, joined to who ran it, the dashboard
// or Look it ran for, and the query (model, explore, fields, SQL).
func historyExplore() *exploreModel {
	type R = *run
	f := map[string]*field{
		"history.id":           dim(kNumber, func(x R) any { return x.id }),
		"history.created_date": dim(kDate, func(x R) any { return day(x.created) }),
		"history.created_time": dim(kTime, func(x R) any { return x.created }),
		"history.completed_time": dim(kTime, func(x R) any {
			return x.created.Add(time.Duration(x.runtime * float64(time.Second))).Truncate(time.Second)
		}),
		"history.runtime":           dim(kNumber, func(x R) any { return x.runtime }),
		"history.source":            dim(kString, func(x R) any { return x.source }),
		"history.status":            dim(kString, func(x R) any { return x.status }),
		"history.result_source":     dim(kString, func(x R) any { return x.resultSource }),
		"history.dashboard_session": dim(kString, func(x R) any { return orNil(x.session) }),
		"history.dashboard_id": dim(kString, func(x R) any {
			if x.dashboard == nil {
				return nil
			}
			return x.dashboard.id
		}),
		"history.count": measure[R](aggCount, nil),
		// Dashboard runs are distinct dashboard sessions: one per time someone opens
		// (or reloads) a dashboard, however many tiles it has.
		"history.dashboard_run_count": measure(aggDistinct, func(x R) any { return orNil(x.session) }),
		"history.dashboard_user": measure(aggDistinct, func(x R) any {
			if x.session == "" {
				return nil
			}
			return x.user.id
		}),
		"history.average_runtime": measure(aggAverage, func(x R) any { return x.runtime }),
		"history.total_runtime":   measure(aggSum, func(x R) any { return x.runtime }),
		"user.count":              measure(aggDistinct, func(x R) any { return x.user.id }),
		"sql_text.text":           dim(kString, func(x R) any { return x.query.sql }),
	}
	addUser(f, func(x R) *person { return x.user })
	addQuery(f, func(x R) *query { return x.query })
	addDashboard(f, func(x R) *dashboard { return x.dashboard })
	addLook(f, func(x R) *look { return x.look })
	return &exploreModel{
		rows: func(in *instance) []any {
			out := make([]any, len(in.runs))
			for i, x := range in.runs {
				out[i] = x
			}
			return out
		},
		fields: f,
	}
}

// tileRow is a dashboard with one of its tiles (none for a dashboard without).
type tileRow struct {
	d  *dashboard
	el *element
}

// dashboardExplore is one row per dashboard tile, deleted dashboards included:
// which explores each dashboard's queries read, whether anyone opens it or not.
func dashboardExplore() *exploreModel {
	type R = tileRow
	f := map[string]*field{
		"dashboard.count":         measure(aggDistinct, func(x R) any { return x.d.id }),
		"dashboard_element.id":    dim(kNumber, func(x R) any { return elementField(x, func(e *element) any { return e.id }) }),
		"dashboard_element.title": dim(kString, func(x R) any { return elementField(x, func(e *element) any { return e.title }) }),
		"dashboard_element.type":  dim(kString, func(x R) any { return elementField(x, func(e *element) any { return e.kind }) }),
		"dashboard_element.count": measure(aggCount, func(x R) any { return elementField(x, func(e *element) any { return e.id }) }),
	}
	addDashboard(f, func(x R) *dashboard { return x.d })
	addQuery(f, func(x R) *query {
		if x.el == nil {
			return nil
		}
		return x.el.query
	})
	addLook(f, func(x R) *look {
		if x.el == nil {
			return nil
		}
		return x.el.look
	})
	addUser(f, func(x R) *person { return x.d.owner })
	return &exploreModel{
		rows: func(in *instance) []any {
			var out []any
			for _, d := range in.dashboards {
				if len(d.elements) == 0 {
					out = append(out, tileRow{d: d})
				}
				for _, el := range d.elements {
					out = append(out, tileRow{d, el})
				}
			}
			return out
		},
		fields: f,
	}
}

func elementField(x tileRow, f func(*element) any) any {
	if x.el == nil {
		return nil
	}
	return f(x.el)
}

// joinedField declares a field of a view joined to R through get (nil: no row).
func joinedField[R, J any](fields map[string]*field, get func(R) *J, k kind, name string, f func(*J) any) {
	fields[name] = dim(k, func(x R) any {
		j := get(x)
		if j == nil {
			return nil
		}
		return f(j)
	})
}

func addUser[R any](fs map[string]*field, get func(R) *person) {
	joinedField(fs, get, kNumber, "user.id", func(p *person) any { return p.id })
	joinedField(fs, get, kString, "user.name", func(p *person) any { return p.name() })
	joinedField(fs, get, kString, "user.first_name", func(p *person) any { return p.first })
	joinedField(fs, get, kString, "user.last_name", func(p *person) any { return p.last })
	joinedField(fs, get, kString, "user.email", func(p *person) any { return p.email })
	joinedField(fs, get, kYesNo, "user.is_disabled", func(p *person) any { return !p.disabled.IsZero() })
}

func addQuery[R any](fs map[string]*field, get func(R) *query) {
	joinedField(fs, get, kNumber, "query.id", func(q *query) any { return q.id })
	joinedField(fs, get, kString, "query.model", func(q *query) any { return q.explore.Model })
	joinedField(fs, get, kString, "query.view", func(q *query) any { return q.explore.Name })
	joinedField(fs, get, kString, "query.formatted_fields", func(q *query) any {
		b, _ := json.Marshal(q.fields)
		return string(b)
	})
}

func addDashboard[R any](fs map[string]*field, get func(R) *dashboard) {
	joinedField(fs, get, kString, "dashboard.id", func(d *dashboard) any { return d.id })
	joinedField(fs, get, kString, "dashboard.title", func(d *dashboard) any { return d.title })
	joinedField(fs, get, kDate, "dashboard.created_date", func(d *dashboard) any { return day(d.created) })
	joinedField(fs, get, kTime, "dashboard.created_time", func(d *dashboard) any { return d.created })
	joinedField(fs, get, kDate, "dashboard.deleted_date", func(d *dashboard) any {
		if d.deleted.IsZero() {
			return nil
		}
		return day(d.deleted)
	})
}

func addLook[R any](fs map[string]*field, get func(R) *look) {
	joinedField(fs, get, kNumber, "look.id", func(l *look) any { return l.id })
	joinedField(fs, get, kString, "look.title", func(l *look) any { return l.title })
}

// inlineQuery is run_inline_query's body (Looker's WriteQuery); the imitation
// ignores the keys it does not list.
type inlineQuery struct {
	Model   string            `json:"model"`
	View    string            `json:"view"`
	Fields  []string          `json:"fields"`
	Filters map[string]string `json:"filters"`
	Sorts   []string          `json:"sorts"`
	Limit   json.RawMessage   `json:"limit"`
	Pivots  []string          `json:"pivots"`
}

// Result formats Looker's run_inline_query knows; the imitation answers json.
var resultFormats = []string{"json", "json_bi", "json_detail", "csv", "txt", "html", "md", "xlsx", "sql", "png", "jpg"}

// runInlineQuery is POST /queries/run/{result_format}.
func (a *API) runInlineQuery(w http.ResponseWriter, r *http.Request) {
	format := r.PathValue("result_format")
	if !slices.Contains(resultFormats, format) {
		writeError(w, r, http.StatusBadRequest, "Unsupported result format "+strconv.Quote(format))
		return
	}
	if format != "json" {
		writeError(w, r, http.StatusBadRequest, "the sandbox imitates result_format json only, not "+format)
		return
	}
	var q inlineQuery
	if err := json.NewDecoder(r.Body).Decode(&q); err != nil {
		writeError(w, r, http.StatusBadRequest, "Could not parse JSON body: "+err.Error())
		return
	}
	var missing []validationError
	for name, v := range map[string]string{"model": q.Model, "view": q.View} {
		if v == "" {
			missing = append(missing, validationError{Field: name, Code: "missing_field", Message: "'" + name + "' is required.", DocumentationURL: docsRoot + "422/post/queries/run"})
		}
	}
	if len(missing) > 0 {
		slices.SortFunc(missing, func(a, b validationError) int { return strings.Compare(a.Field, b.Field) })
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "Validation Failed", "errors": missing, "documentation_url": docsRoot + "422/post/queries/run"})
		return
	}
	ex := systemActivity[q.View]
	if q.Model != "system__activity" || ex == nil {
		writeError(w, r, http.StatusNotFound, "Not found")
		return
	}
	if len(q.Pivots) > 0 {
		writeError(w, r, http.StatusBadRequest, "the sandbox does not pivot System Activity queries")
		return
	}
	limit, err := queryLimit(q.Limit, r.URL.Query().Get("limit"), a.opts.DefaultLimit)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, err.Error())
		return
	}
	a.mu.Lock()
	fail := a.failQueries > 0
	if fail {
		a.failQueries--
	}
	a.mu.Unlock()
	if fail {
		writeLookerError(w, "Error running query: Query execution was interrupted, maximum statement execution time exceeded")
		return
	}
	a.mu.RLock()
	rows, err := ex.run(a.data, q, limit, a.opts.Now())
	a.mu.RUnlock()
	if err != nil {
		writeLookerError(w, err.Error())
		return
	}
	writeBody(w, http.StatusOK, rows)
}

type validationError struct {
	Field            string `json:"field"`
	Code             string `json:"code"`
	Message          string `json:"message"`
	DocumentationURL string `json:"documentation_url"`
}

// writeLookerError answers a query Looker could not run the way it does for the
// json format: 200, and a single row holding the error.
func writeLookerError(w http.ResponseWriter, msg string) {
	writeJSON(w, http.StatusOK, []map[string]string{{"looker_error": msg}})
}

// queryLimit is the row limit: the limit query parameter over the body's (a
// string in Looker's Query, though a number is taken too), the default when
// neither is set; -1 means no limit.
func queryLimit(body json.RawMessage, param string, def int) (int, error) {
	s := param
	if s == "" && len(body) > 0 && string(body) != "null" {
		if err := json.Unmarshal(body, &s); err != nil {
			s = string(body) // a bare number
		}
	}
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < -1 || n == 0 {
		return 0, fmt.Errorf("limit must be a positive number of rows or -1 for all, not %q", s)
	}
	return n, nil
}

// run answers q: filters dimensions (WHERE), groups by the selected dimensions,
// aggregates measures, filters measures (HAVING), sorts, limits, and writes the
// rows as Looker's json format does: an array of objects keyed "view.field" in the
// order of fields. An error is one Looker reports in a looker_error row.
func (ex *exploreModel) run(in *instance, q inlineQuery, limit int, now time.Time) ([]byte, error) {
	if len(q.Fields) == 0 {
		return nil, fmt.Errorf("Must query at least one dimension or measure")
	}
	var dims, measures []string
	for _, name := range q.Fields {
		f := ex.fields[name]
		if f == nil {
			return nil, fmt.Errorf("Unknown field %q in explore %s::%s", name, q.Model, q.View)
		}
		if f.measure {
			measures = append(measures, name)
		} else {
			dims = append(dims, name)
		}
	}
	type cond struct {
		f    *field
		name string
		test predicate
	}
	var where, having []cond
	filterNames := make([]string, 0, len(q.Filters))
	for name := range q.Filters {
		filterNames = append(filterNames, name)
	}
	slices.Sort(filterNames)
	for _, name := range filterNames {
		f := ex.fields[name]
		if f == nil {
			return nil, fmt.Errorf("Unknown field %q in the filters of explore %s::%s", name, q.Model, q.View)
		}
		test, err := parseFilter(f.kind, q.Filters[name], now)
		if err != nil {
			return nil, fmt.Errorf("Invalid filter on %s: %v", name, err)
		}
		if f.measure {
			having = append(having, cond{f, name, test})
		} else {
			where = append(where, cond{f, name, test})
		}
	}
	sorts, err := ex.sortKeys(q.Sorts, q.Fields, dims, measures)
	if err != nil {
		return nil, err
	}

	type group struct {
		dimVals []any
		rows    []any
	}
	groups := map[string]*group{}
	var order []*group
	var key strings.Builder
rows:
	for _, row := range ex.rows(in) {
		for _, c := range where {
			if !c.test(c.f.value(row)) {
				continue rows
			}
		}
		vals := make([]any, len(dims))
		key.Reset()
		for i, name := range dims {
			vals[i] = ex.fields[name].value(row)
			key.WriteString(render(ex.fields[name].kind, vals[i]))
			key.WriteByte(0)
		}
		g := groups[key.String()]
		if g == nil {
			g = &group{dimVals: vals}
			groups[key.String()] = g
			order = append(order, g)
		}
		g.rows = append(g.rows, row)
	}

	type result map[string]any
	var results []result
	for _, g := range order {
		res := result{}
		for i, name := range dims {
			res[name] = g.dimVals[i]
		}
		keep := true
		for _, name := range measures {
			res[name] = ex.fields[name].fold(g.rows)
		}
		for _, c := range having {
			if _, ok := res[c.name]; !ok {
				res[c.name] = c.f.fold(g.rows)
			}
			keep = keep && c.test(res[c.name])
		}
		if keep {
			results = append(results, res)
		}
	}
	if len(dims) == 0 && len(results) == 0 { // measures alone always make one row
		res := result{}
		for _, name := range measures {
			res[name] = ex.fields[name].fold(nil)
		}
		results = append(results, res)
	}
	if sorts != nil {
		slices.SortStableFunc(results, func(a, b result) int {
			for _, s := range sorts {
				c := compare(a[s.name], b[s.name])
				if s.desc {
					c = -c
				}
				if c != 0 {
					return c
				}
			}
			return 0
		})
	}
	if limit >= 0 && len(results) > limit {
		results = results[:limit]
	}

	var b bytes.Buffer
	b.WriteByte('[')
	for i, res := range results {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('{')
		for j, name := range q.Fields {
			if j > 0 {
				b.WriteByte(',')
			}
			k, _ := json.Marshal(name)
			v, _ := json.Marshal(output(ex.fields[name].kind, res[name]))
			b.Write(k)
			b.WriteByte(':')
			b.Write(v)
		}
		b.WriteByte('}')
	}
	b.WriteByte(']')
	return b.Bytes(), nil
}

// fold aggregates a measure over a group's rows.
func (f *field) fold(rows []any) any {
	switch f.agg {
	case aggDistinct:
		seen := map[any]bool{}
		for _, r := range rows {
			if v := f.value(r); v != nil {
				seen[v] = true
			}
		}
		return int64(len(seen))
	case aggSum, aggAverage:
		sum, n := 0.0, 0
		for _, r := range rows {
			if x, ok := number(f.value(r)); ok {
				sum += x
				n++
			}
		}
		if f.agg == aggAverage {
			if n == 0 {
				return nil
			}
			sum /= float64(n)
		}
		return math.Round(sum*1000) / 1000
	}
	n := int64(0)
	for _, r := range rows {
		if f.value == nil || f.value(r) != nil {
			n++
		}
	}
	return n
}

type sortKey struct {
	name string
	desc bool
}

// sortKeys reads sorts ("view.field", "view.field desc", "view.field desc 0" — the
// number is a pivot column); ["__UNSORTED__"] keeps the database's order, and no
// sorts sort by the first date or time dimension descending, else the first
// measure descending, else the first dimension ascending. A sort on a field the
// query does not select is dropped.
func (ex *exploreModel) sortKeys(sorts, fields, dims, measures []string) ([]sortKey, error) {
	if len(sorts) == 1 && sorts[0] == "__UNSORTED__" {
		return nil, nil
	}
	var keys []sortKey
	for _, s := range sorts {
		parts := strings.Fields(s)
		if len(parts) == 0 || len(parts) > 3 || (len(parts) > 1 && parts[1] != "asc" && parts[1] != "desc") {
			return nil, fmt.Errorf("Invalid sort %q: expected \"view.field\" or \"view.field desc\"", s)
		}
		if slices.Contains(fields, parts[0]) {
			keys = append(keys, sortKey{parts[0], len(parts) > 1 && parts[1] == "desc"})
		}
	}
	if len(sorts) > 0 {
		return keys, nil
	}
	for _, name := range dims {
		if k := ex.fields[name].kind; k == kDate || k == kTime {
			return []sortKey{{name, true}}, nil
		}
	}
	if len(measures) > 0 {
		return []sortKey{{measures[0], true}}, nil
	}
	return []sortKey{{dims[0], false}}, nil
}

// compare orders values of one field: NULL first, then by value.
func compare(a, b any) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	if x, ok := number(a); ok {
		y, _ := number(b)
		return cmp.Compare(x, y)
	}
	switch x := a.(type) {
	case time.Time:
		return x.Compare(b.(time.Time))
	case bool:
		y := b.(bool)
		if x == y {
			return 0
		} else if y {
			return -1
		}
		return 1
	case string:
		y := b.(string)
		if c := strings.Compare(strings.ToLower(x), strings.ToLower(y)); c != 0 {
			return c
		}
		return strings.Compare(x, y)
	}
	return 0
}

// output is a value as Looker's json format writes it.
func output(k kind, v any) any {
	if v == nil {
		return nil
	}
	switch k {
	case kDate, kTime, kYesNo:
		return render(k, v)
	}
	return v
}

// render writes a value as text: dates 2026-11-20, times 2026-11-20 14:03:11, yes/no.
func render(k kind, v any) string {
	switch x := v.(type) {
	case nil:
		return "\x00null"
	case time.Time:
		if k == kDate {
			return x.UTC().Format(time.DateOnly)
		}
		return x.UTC().Format(time.DateTime)
	case bool:
		if x {
			return "Yes"
		}
		return "No"
	}
	return fmt.Sprint(v)
}
