package rest

import (
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/meshflow/meshflow/framework/source"
)

// readStreams reads every stream in two passes: fields first, so that a stream's
// templates can name the fields of a parent declared after it.
func (s *Spec) readStreams(p *problems, o *object) {
	so := p.mapping(o.get("streams"), "streams")
	if so == nil {
		if !o.has("streams") {
			p.add(o.node, "streams", "is missing: a source has at least one stream")
		}
		return
	}
	if len(so.keys) == 0 {
		p.add(so.node, "streams", "is empty: a source has at least one stream")
	}
	objs := map[string]*object{}
	for _, name := range so.keys {
		field := so.at(name)
		if !fieldName.MatchString(name) {
			p.add(so.knode[name], field, "%q is not a stream name: use lower case letters, digits and _", name)
		}
		m := p.mapping(so.get(name), field)
		if m == nil {
			continue
		}
		st := &streamDef{name: name, doc: m.str("doc", true)}
		st.fields = s.readFields(p, m)
		objs[name] = m
		s.streams = append(s.streams, st)
	}
	for _, st := range s.streams {
		s.readStream(p, objs[st.name], st)
	}
}

func (s *Spec) stream(name string) *streamDef {
	for _, st := range s.streams {
		if st.name == name {
			return st
		}
	}
	return nil
}

func (st *streamDef) field(name string) (source.Field, bool) {
	for _, f := range st.fields {
		if f.Name == name {
			return f, true
		}
	}
	return source.Field{}, false
}

func (s *Spec) readFields(p *problems, m *object) []source.Field {
	fo := p.mapping(m.get("fields"), m.at("fields"))
	if fo == nil {
		if !m.has("fields") {
			p.add(m.node, m.at("fields"), "is missing: declare the stream's typed fields (name: {type, path, doc})")
		}
		return nil
	}
	var out []source.Field
	for _, name := range fo.keys {
		field := fo.at(name)
		if !fieldName.MatchString(name) {
			p.add(fo.knode[name], field, "%q is not a column name: use snake_case", name)
		}
		f := source.Field{Name: name}
		n := fo.get(name)
		if n.Kind == yaml.ScalarNode { // name: type, the path being the name
			f.Type, f.Path = source.Type(n.Value), []string{name}
			p.add(n, field, "has no doc: write {type: %s, doc: …} (the catalog shows every field's doc)", n.Value)
		} else if fm := p.mapping(n, field); fm != nil {
			f.Type = source.Type(fm.str("type", true))
			f.Doc = fm.str("doc", true)
			f.Path = []string{name}
			if path, ok := fm.path("path"); ok {
				f.Path = path
			}
			if len(f.Path) == 0 && fm.has("path") {
				p.add(fm.get("path"), join(field, "path"), "is empty: a field is a value inside the record (data.id)")
			}
			fm.done(fieldKeys...)
		}
		if f.Type != "" && !slices.Contains(fieldTypes, f.Type) {
			p.add(n, join(field, "type"), "%q is not a type: use string, int64, float64, bool, timestamp or date", f.Type)
		}
		out = append(out, f)
	}
	return out
}

func (s *Spec) readStream(p *problems, m *object, st *streamDef) {
	var sc scope
	if po := p.mapping(m.get("parent"), m.at("parent")); po != nil {
		st.parent = &parentDef{stream: po.str("stream", true), include: po.strs("include")}
		parent := s.stream(st.parent.stream)
		switch {
		case st.parent.stream == "":
		case parent == nil:
			p.add(po.get("stream"), po.at("stream"), "%q is not a stream of this source (they are %s)", st.parent.stream, s.streamNames())
		case parent == st:
			p.add(po.get("stream"), po.at("stream"), "a stream cannot be its own parent")
		default:
			sc.parent = parent
			for _, inc := range st.parent.include {
				if _, ok := parent.field(inc); !ok {
					p.add(po.get("include"), po.at("include"), "%q is not a field of %s (it has %s)", inc, parent.name, fieldNames(parent.fields))
				}
			}
		}
		po.done(parentKeys...)
	}
	if parent := s.stream(st.parentName()); parent != nil && parent.parent != nil {
		p.add(m.get("parent"), m.at("parent"), "%s has a parent itself: a stream depends on one level of parents only", parent.name)
	}
	if n := m.get("keys"); n != nil {
		st.keys = s.readKeys(p, n, m.at("keys"))
		sc.keyed = true
		if st.parent != nil {
			p.add(n, m.at("keys"), "a stream is asked once per parent record or once per key, not both: keep one")
		}
		for _, k := range []string{"paginate", "incremental"} {
			if m.has(k) {
				p.add(m.get(k), m.at(k), "a keyed stream asks one request per key, and its keys query decides what is asked again: remove %s", k)
			}
		}
	}
	if n := m.get("request"); n != nil {
		st.req = *s.readRequest(p, n, m.at("request"), requestKeys, sc)
	} else {
		p.add(m.node, m.at("request"), "is missing: how the stream's records are requested ({path: /things})")
	}
	if path, ok := m.path("records"); ok {
		st.records = path
	} else {
		p.add(m.node, m.at("records"), "is missing: the path to the list of records in the response (data.items), or . when the answer is the list")
	}
	st.pk = m.strs("primary_key")
	if len(st.pk) == 0 {
		p.add(m.node, m.at("primary_key"), "is missing: the fields that identify a record")
	}
	for _, k := range st.pk {
		if _, ok := st.field(k); !ok {
			p.add(m.get("primary_key"), m.at("primary_key"), "%q is not a field of the stream (it has %s)", k, fieldNames(st.fields))
		}
	}
	if n := m.get("paginate"); n != nil {
		st.page = s.readPaginator(p, n, m.at("paginate"), st)
	}
	if n := m.get("incremental"); n != nil {
		st.inc = s.readIncremental(p, n, m.at("incremental"), st, sc)
	}
	m.done(streamKeys...)
}

// portRef is a product's port as a keys query names it.
var portRef = regexp.MustCompile(`^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$`)

func (s *Spec) readKeys(p *problems, n *yaml.Node, field string) *keysDef {
	m := p.mapping(n, field)
	if m == nil {
		return nil
	}
	k := &keysDef{inputs: m.strs("inputs")}
	for _, in := range k.inputs {
		if !portRef.MatchString(in) {
			p.add(m.get("inputs"), m.at("inputs"), "%q is not a product: name it domain.product (identity.company_ids)", in)
		}
	}
	if !m.has("sql") {
		p.add(m.node, m.at("sql"), "is missing: the query that selects the keys, one row each in a stable order (SELECT web_domain AS domain FROM identity.company_ids … ORDER BY domain)")
	}
	k.sql = s.template(p, m.get("sql"), m.at("sql"), scope{sql: true})
	m.done(keysKeys...)
	return k
}

func (st *streamDef) parentName() string {
	if st.parent == nil {
		return ""
	}
	return st.parent.stream
}

func (s *Spec) streamNames() string {
	var names []string
	for _, st := range s.streams {
		names = append(names, st.name)
	}
	return strings.Join(names, ", ")
}

func (s *Spec) readPaginator(p *problems, n *yaml.Node, field string, st *streamDef) *paginator {
	m := p.mapping(n, field)
	if m == nil {
		return nil
	}
	pg := &paginator{kind: m.oneOf("type", true, pageTypes...)}
	if pg.kind == "" {
		return nil
	}
	if pg.kind != "link" {
		pg.param = m.str("param", true)
		pg.in = m.oneOf("in", false, "query", "body")
		if pg.in == "" {
			pg.in = "query"
		}
		if pg.in == "body" {
			if _, ok := st.req.body.(map[string]any); !ok && st.req.body != nil {
				p.add(m.get("in"), join(field, "in"), "the request's body is not a mapping to put %s in", pg.param)
			}
		}
	}
	pg.sizeParam = m.str("size_param", false)
	if pg.kind == "offset" && pg.sizeParam == "" {
		p.add(m.node, join(field, "size_param"), "is missing: an offset paginator asks for size records at a time (size_param: limit, size: 100)")
	}
	pg.size = m.integer("size", 0, 1, 1_000_000)
	if pg.sizeParam != "" && pg.size == 0 {
		p.add(m.node, join(field, "size"), "is missing: how many records to ask %s for", pg.sizeParam)
	}
	switch pg.kind {
	case "page_number":
		pg.start = m.integer("start", 1, 0, 1)
	case "cursor":
		if next, ok := m.path("next"); ok {
			pg.next = next
		}
		pg.nextHdr = m.str("next_header", false)
		if (pg.next == nil) == (pg.nextHdr == "") {
			p.add(m.node, join(field, "next"), "a cursor paginator reads the next page's token from the body (next: PATH) or from a header (next_header: NAME): give one")
		}
	case "keyset":
		pg.field = m.str("field", true)
		if _, ok := st.field(pg.field); pg.field != "" && !ok {
			p.add(m.get("field"), join(field, "field"), "%q is not a field of the stream (it has %s): the next page starts after the last record's value of it", pg.field, fieldNames(st.fields))
		}
	}
	if sn := m.get("stop"); sn != nil {
		pg.stop = readStops(p, sn, join(field, "stop"), pg)
	}
	if len(pg.stop) == 0 && pg.kind != "cursor" && pg.kind != "link" {
		p.add(m.node, join(field, "stop"), "is missing: without a stop rule, the %s paginator asks for pages for ever. Add stop: [short_page] (a page with fewer records than size is the last), empty_page, {total: PATH}, {has_more: PATH} or {total_pages: PATH}", pg.kind)
	}
	m.done(append([]string{"type"}, pageKeys[pg.kind]...)...)
	return pg
}

func readStops(p *problems, n *yaml.Node, field string, pg *paginator) []stopRule {
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = n.Content
	}
	var out []stopRule
	for _, it := range items {
		switch it.Kind {
		case yaml.ScalarNode:
			switch it.Value {
			case "short_page":
				if pg.size == 0 {
					p.add(it, field, "short_page needs the page size: set size (and size_param)")
				}
				out = append(out, stopRule{kind: it.Value})
			case "empty_page":
				out = append(out, stopRule{kind: it.Value})
			default:
				p.add(it, field, "%q is not a stop rule: use short_page, empty_page, {total: PATH}, {has_more: PATH} or {total_pages: PATH}", it.Value)
			}
		case yaml.MappingNode:
			m := p.mapping(it, field)
			for _, k := range m.keys {
				if !slices.Contains([]string{"total", "has_more", "total_pages"}, k) {
					continue
				}
				if k == "total_pages" && pg.kind != "page_number" {
					p.add(m.knode[k], join(field, k), "only a page_number paginator counts pages")
				}
				path, _ := m.path(k)
				out = append(out, stopRule{kind: k, path: path})
			}
			m.done("total", "has_more", "total_pages")
		default:
			p.add(it, field, "is %s, want stop rules", kindName(it))
		}
	}
	return out
}

// Formats a window bound can be written in, besides a Go layout.
var boundFormats = []string{"rfc3339", "rfc3339_ms", "date", "epoch_s", "epoch_ms"}

func (s *Spec) readIncremental(p *problems, n *yaml.Node, field string, st *streamDef, sc scope) *incremental {
	m := p.mapping(n, field)
	if m == nil {
		return nil
	}
	inc := &incremental{field: m.str("field", true), lookback: m.duration("lookback", 0), format: m.str("format", false), unit: m.oneOf("unit", false, "s", "ms")}
	if f, ok := st.field(inc.field); inc.field != "" && !ok {
		p.add(m.get("field"), join(field, "field"), "%q is not a field of the stream: declare it under fields, or name one of %s", inc.field, fieldNames(st.fields))
	} else if ok {
		switch {
		case f.Type == source.Int64 && inc.unit == "":
			p.add(m.get("field"), join(field, "field"), "%s is an int64: say its unit (unit: s or ms), since the window is a time", f.Name)
		case f.Type != source.Int64 && f.Type != source.Timestamp && f.Type != source.Date:
			p.add(m.get("field"), join(field, "field"), "%s is a %s: the cursor field is a timestamp, a date, or an int64 epoch with unit: s or ms", f.Name, f.Type)
		case f.Type != source.Int64 && inc.unit != "":
			p.add(m.get("unit"), join(field, "unit"), "only an int64 cursor field has a unit")
		}
	}
	if inc.format == "" {
		inc.format = "rfc3339"
	} else if !slices.Contains(boundFormats, inc.format) && !strings.Contains(inc.format, "2006") {
		p.add(m.get("format"), join(field, "format"), "%q is not a format: use %s, or a Go layout such as 2006-01-02 15:04:05", inc.format, strings.Join(boundFormats, ", "))
	}
	if rn := m.get("request"); rn != nil {
		wsc := sc
		wsc.window = true
		inc.req = *s.readRequest(p, rn, join(field, "request"), []string{"query", "headers", "body"}, wsc)
	}
	m.done(incrementKeys...)
	return inc
}

// formatBound writes a window bound (epoch ms) for a request: floored to the
// format's unit for a lower bound, so it stays inclusive of what was not read,
// and rounded up for an upper bound, so it excludes nothing the next window skips.
func formatBound(ms int64, format string, upper bool) any {
	t := time.UnixMilli(ms).UTC()
	unit := time.Second
	switch format {
	case "rfc3339_ms", "epoch_ms":
		unit = time.Millisecond
	case "date":
		unit = 24 * time.Hour
	}
	if upper {
		if tr := t.Truncate(unit); !tr.Equal(t) {
			t = tr.Add(unit)
		}
	} else {
		t = t.Truncate(unit)
	}
	switch format {
	case "rfc3339":
		return t.Format(time.RFC3339)
	case "rfc3339_ms":
		return t.Format("2006-01-02T15:04:05.000Z07:00")
	case "date":
		return t.Format(time.DateOnly)
	case "epoch_s":
		return t.Unix()
	case "epoch_ms":
		return t.UnixMilli()
	}
	return t.Format(format)
}

// StreamSpecs are the streams' specs, a keys query's variables at their defaults.
func (s *Spec) StreamSpecs() []source.StreamSpec {
	defaults := source.Values{}
	for _, v := range s.vars {
		defaults[v.name] = v.def
	}
	out := make([]source.StreamSpec, len(s.streams))
	for i, st := range s.streams {
		out[i] = st.spec(defaults)
	}
	return out
}

// spec is the stream's spec, its keys query's variables filled from vals.
func (st *streamDef) spec(vals source.Values) source.StreamSpec {
	sp := source.StreamSpec{Name: st.name, Fields: slices.Clone(st.fields), PrimaryKey: slices.Clone(st.pk)}
	for i := range sp.Fields {
		sp.Fields[i].Path = slices.Clone(sp.Fields[i].Path)
	}
	if st.inc != nil {
		sp.CursorField = st.inc.field
	}
	if k := st.keys; k != nil {
		sp.Keys = &source.Keys{Inputs: slices.Clone(k.inputs), SQL: k.sql.text(&env{vals: vals}, sqlLiteral)}
	}
	return sp
}

// sqlLiteral writes a variable's value into a keys query as a string literal, so no
// value can change the query (cast it where a number is meant:
// CAST(${THINGS_DAYS} AS INTEGER)).
func sqlLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
