// Package files is the source of the teams whose data lives in spreadsheets: CSV,
// TSV, JSON lines, Parquet and Excel (.xlsx) files dropped under a prefix of a bucket
// (any gocloud URL: file://, s3://, gs://, azblob://). A domain declares one in a
// small YAML spec in its own folder (see SPEC.md): the variable holding the bucket's
// URL, and streams of files, each with a glob, a format, typed columns and a key.
//
// Each new or changed file (by key, size and ETag or MD5) lands once, every row with
// its file's key (_file) and its row number (_row). A file whose header does not
// match its stream's columns, or holding a value its column's type cannot read, is
// refused whole: the landing reports it (source.Page.Warnings) and goes on with the
// stream's other files, and the file is read again once it changes.
package files

import (
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/meshflow/meshflow/connectors/rest"
	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/source"
)

// Formats a stream's files can have; a stream without format: goes by each file's
// extension (.csv, .tsv, .jsonl or .ndjson, .parquet, .xlsx).
const (
	CSV     = "csv"
	TSV     = "tsv"
	JSONL   = "jsonl"
	Parquet = "parquet"
	XLSX    = "xlsx"
)

var formats = []string{CSV, TSV, JSONL, Parquet, XLSX}

// Metadata columns every stream has besides its declared ones.
const (
	ColFile = "_file" // the file's key in the bucket
	ColRow  = "_row"  // the row's number in its file (see SPEC.md)
	// ColModified is when the file was dropped (the bucket's modification time): the
	// cursor field, so a key in two files takes the later file's row.
	ColModified = "_modified"
)

// Spec is a validated files spec: one source.
type Spec struct {
	file, name, title, doc string
	urlVar, urlDoc         string
	streams                []*stream
}

// stream is one declared stream of files.
type stream struct {
	name, doc    string
	glob, prefix string // prefix: the glob's literal directory, listed
	format       string // "" = by extension
	sheet        string // xlsx: the sheet read; "" = the first
	key          []string
	cols         []column
}

// column is one declared column: the header it has in the files and its field.
type column struct {
	header string
	field  source.Field
}

var (
	name    = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	varName = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)
	types   = []source.Type{source.String, source.Int64, source.Float64, source.Bool, source.Timestamp, source.Date}

	topKeys    = []string{"source", "title", "doc", "bucket", "streams"}
	bucketKeys = []string{"variable", "doc"}
	streamKeys = []string{"doc", "files", "format", "sheet", "primary_key", "columns"}
	columnKeys = []string{"name", "header", "type", "doc"}
)

const what = "files spec"

// Must parses an embedded spec and panics on an error: for a spec compiled into a
// binary, which its package's tests have validated.
func Must(file string, data []byte) *Spec {
	s, err := Parse(file, data)
	if err != nil {
		panic(err)
	}
	return s
}

// Parse reads and validates a spec; file names it in errors, which list every
// problem, one a line, as FILE:LINE: FIELD: what is wrong and how to fix it.
func Parse(file string, data []byte) (*Spec, error) {
	root, y, err := rest.ReadYAML(what, file, data)
	if err != nil {
		return nil, err
	}
	s := &Spec{file: file}
	s.read(y, root)
	if err := y.Err(what); err != nil {
		return nil, err
	}
	return s, nil
}

// Name is the source's name, as raw inputs name it.
func (s *Spec) Name() string { return s.name }

func (s *Spec) read(y *rest.YAML, n *yaml.Node) {
	o := y.Mapping(n, "")
	if o == nil {
		return
	}
	s.name = o.Str("source", true)
	if s.name != "" && !name.MatchString(s.name) {
		y.Add(o.Get("source"), "source", "%q is not a source name: use snake_case (finance_files)", s.name)
	}
	s.title = o.Str("title", true)
	s.doc = o.Str("doc", true)
	if b := y.Mapping(o.Get("bucket"), "bucket"); b != nil {
		s.urlVar = b.Str("variable", true)
		if s.urlVar != "" && !varName.MatchString(s.urlVar) {
			y.Add(b.Get("variable"), "bucket.variable", "%q is not a variable name: use upper case (FINANCE_FILES_URL)", s.urlVar)
		}
		s.urlDoc = b.Str("doc", true)
		b.Done(bucketKeys...)
	} else if o.Get("bucket") == nil {
		y.Add(o.Node(), "bucket", "is missing: name the variable holding the bucket's URL (bucket: {variable: FINANCE_FILES_URL, doc: …})")
	}
	if so := y.Mapping(o.Get("streams"), "streams"); so != nil {
		for _, k := range so.Keys() {
			s.streams = append(s.streams, readStream(y, so, k))
		}
	}
	if len(s.streams) == 0 {
		y.Add(o.Node(), "streams", "is missing or empty: declare at least one stream of files")
	}
	o.Done(topKeys...)
}

func readStream(y *rest.YAML, so *rest.Object, key string) *stream {
	st := &stream{name: key}
	field := so.At(key)
	if !name.MatchString(key) {
		y.Add(so.KeyNode(key), field, "%q is not a stream name: use snake_case", key)
	}
	m := y.Mapping(so.Get(key), field)
	if m == nil {
		return st
	}
	st.doc = m.Str("doc", true)
	st.glob = m.Str("files", true)
	if st.glob != "" {
		if _, err := path.Match(st.glob, ""); err != nil || strings.HasPrefix(st.glob, "/") {
			y.Add(m.Get("files"), m.At("files"), "%q is not a glob of keys under the bucket (bookings/*.csv)", st.glob)
		}
		st.prefix = globPrefix(st.glob)
	}
	st.format = m.OneOf("format", false, formats...)
	if st.format == "" && st.glob != "" && formatOf(st.glob) == "" && !strings.HasSuffix(st.glob, "*") {
		y.Add(m.Get("files"), m.At("files"), "%q ends in no known extension: give format: (%s)", st.glob, strings.Join(formats, ", "))
	}
	st.sheet = m.Str("sheet", false)
	if st.sheet != "" && st.format != XLSX && formatOf(st.glob) != XLSX {
		y.Add(m.Get("sheet"), m.At("sheet"), "only .xlsx files have sheets: drop sheet: or give format: xlsx")
	}
	st.cols = readColumns(y, m)
	st.key = m.Strs("primary_key")
	if len(st.key) == 0 {
		y.Add(m.Node(), m.At("primary_key"), "is missing: name the columns that identify a row ([booking_id])")
	}
	for _, k := range st.key {
		if !slices.ContainsFunc(st.cols, func(c column) bool { return c.field.Name == k }) {
			y.Add(m.Get("primary_key"), m.At("primary_key"), "%q is not a declared column", k)
		}
	}
	m.Done(streamKeys...)
	return st
}

func readColumns(y *rest.YAML, m *rest.Object) []column {
	field := m.At("columns")
	n := m.Get("columns")
	if n == nil || n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		y.Add(m.Node(), field, "is missing: list the columns, each {name, header, type, doc}; a file's header must hold exactly these headers, in any order")
		return nil
	}
	var out []column
	names, headers := map[string]int{}, map[string]int{}
	for _, cn := range n.Content {
		c := y.Mapping(cn, field)
		if c == nil {
			continue
		}
		col := column{field: source.Field{Name: c.Str("name", true), Type: source.Type(c.Str("type", true)), Doc: c.Str("doc", true)}}
		col.field.Path = []string{col.field.Name}
		col.header = c.Str("header", false)
		if col.header == "" {
			col.header = col.field.Name
		}
		switch f := col.field; {
		case f.Name != "" && (!name.MatchString(f.Name) || strings.HasPrefix(f.Name, "_")):
			y.Add(c.Get("name"), field, "%q is not a column name: use snake_case not starting with _ (the landing adds %s, %s and %s)", f.Name, ColFile, ColRow, ColModified)
		case f.Name != "" && names[f.Name] > 0:
			y.Add(c.Get("name"), field, "column %q is declared twice (line %d first)", f.Name, names[f.Name])
		}
		if l := headers[normalize(col.header)]; l > 0 {
			y.Add(cn, field, "header %q is declared twice (line %d first): headers are matched without case or surrounding spaces", col.header, l)
		}
		names[col.field.Name], headers[normalize(col.header)] = cn.Line, cn.Line
		if col.field.Type != "" && !slices.Contains(types, col.field.Type) {
			y.Add(c.Get("type"), field, "%q is not a type: use string, int64, float64, bool, timestamp or date", col.field.Type)
		}
		c.Done(columnKeys...)
		out = append(out, col)
	}
	return out
}

// globPrefix is the literal directory a glob's keys are under: what is listed.
func globPrefix(glob string) string {
	i := strings.IndexAny(glob, `*?[\`)
	if i < 0 {
		i = len(glob)
	}
	return glob[:strings.LastIndex(glob[:i], "/")+1]
}

// formatOf is the format a key's extension says, or "".
func formatOf(key string) string {
	switch strings.ToLower(path.Ext(key)) {
	case ".csv":
		return CSV
	case ".tsv", ".tab":
		return TSV
	case ".jsonl", ".ndjson":
		return JSONL
	case ".parquet":
		return Parquet
	case ".xlsx":
		return XLSX
	}
	return ""
}

// normalize is how a header is compared: without case or surrounding spaces.
func normalize(header string) string { return strings.ToLower(strings.TrimSpace(header)) }

// fields are the stream's landed columns: the declared ones, then _file, _row and
// _modified.
func (st *stream) fields() []source.Field {
	out := make([]source.Field, 0, len(st.cols)+3)
	for _, c := range st.cols {
		out = append(out, c.field)
	}
	return append(out,
		source.Field{Name: ColFile, Type: source.String, Path: []string{ColFile}, Doc: "The key of the file the row was read from, under the bucket."},
		source.Field{Name: ColRow, Type: source.Int64, Path: []string{ColRow}, Doc: "The row's number in its file: its line in a CSV, TSV or JSON lines file and its row in a sheet (the header is row 1), its position from 1 in a Parquet file."},
		source.Field{Name: ColModified, Type: source.Timestamp, Path: []string{ColModified}, Doc: "When the file was dropped (its modification time in the bucket, UTC): a key in several files keeps the row of the latest."},
	)
}

func (st *stream) spec() source.StreamSpec {
	return source.StreamSpec{Name: st.name, Fields: st.fields(), PrimaryKey: st.key, CursorField: ColModified,
		ReadMode: "files matching " + st.glob + ": each new or changed file lands once; removing a file from the bucket does not remove its rows"}
}

// StreamSpecs are the specs of the streams, for source.Connector.Streams.
func (s *Spec) StreamSpecs() []source.StreamSpec {
	out := make([]source.StreamSpec, len(s.streams))
	for i, st := range s.streams {
		out[i] = st.spec()
	}
	return out
}

// Connector is the source as the platform registers it: its one variable, the
// bucket's URL, and its streams. Add a Sandbox (see Sandbox) for demos and tests.
func (s *Spec) Connector() source.Connector {
	return source.Connector{
		Name: s.name, Title: s.title,
		Vars: []source.Var{{Name: s.urlVar, Doc: s.urlDoc + " (a bucket URL: `file:///dir`, `s3://bucket/prefix?region=…`, `gs://…`, `azblob://…`)",
			Credential: true, Locates: true, Check: checkURL(s.urlVar)}},
		Streams: s.StreamSpecs(),
		Open: func(v source.Values) (source.Source, error) {
			return s.Open(v.Get(s.urlVar))
		},
		SpecFile: s.file,
		Reload:   source.SpecReload(s.file, Parse),
	}
}

// checkURL refuses a value that is no bucket URL.
func checkURL(variable string) func(string) error {
	return func(v string) error {
		u, err := url.Parse(strings.TrimSpace(v))
		if err != nil || u.Scheme == "" {
			return errs.Errorf(errs.Invalid, "configure", "%s is not a bucket URL: write file:///dir, s3://bucket/prefix?region=…, gs://bucket or azblob://container", variable)
		}
		return nil
	}
}
