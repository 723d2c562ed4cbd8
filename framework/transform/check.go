package transform

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/agnivade/levenshtein"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/quality"
	"github.com/meshflow/meshflow/framework/source"
)

// Declarations are what a model can read, known without landing or running
// anything: every connector's stream specs and every product's declared schema.
type Declarations struct {
	Streams map[string]source.StreamSpec // by "source.stream"
	Sources map[string][]string          // a source's stream names, for "did you mean"
	Ports   map[string]mesh.Product      // by "domain.product"
	Domains map[string][]string          // a domain's product names
}

// Declare gathers the declarations of m's products and of the connectors that land
// their raw streams.
func Declare(m mesh.Mesh, connectors []source.Connector) Declarations {
	d := Declarations{Streams: map[string]source.StreamSpec{}, Sources: map[string][]string{},
		Ports: map[string]mesh.Product{}, Domains: map[string][]string{}}
	for _, c := range connectors {
		for _, st := range c.Streams {
			d.Streams[c.Name+"."+st.Name] = st
			d.Sources[c.Name] = append(d.Sources[c.Name], st.Name)
		}
	}
	for _, dom := range m.Domains {
		for _, p := range dom.Products {
			d.Ports[dom.Name+"."+p.Name] = p
			d.Domains[dom.Name] = append(d.Domains[dom.Name], p.Name)
		}
	}
	return d
}

// Problem is one thing `mesh check` found wrong with a declaration, and its fix.
type Problem struct {
	Domain, Product string
	// File is the domain's file the problem is in (models/x.sql, from Domain.Files);
	// "" when it is in the Go declaration.
	File string
	Line int // 1-based line in File; 0 = the whole file or unknown
	// Message says what is wrong and how to fix it.
	Message string
}

func (p Problem) String() string {
	where := p.Domain
	if p.Product != "" {
		where += "." + p.Product
	}
	switch {
	case p.File != "" && p.Line > 0:
		where = fmt.Sprintf("%s:%d (%s)", p.File, p.Line, where)
	case p.File != "":
		where = fmt.Sprintf("%s (%s)", p.File, where)
	}
	return where + ": " + p.Message
}

// CheckMesh compiles every model of m against empty inputs typed as declared and
// compares what it selects with the product's schema; it compiles every check's SQL
// against the declared schema, and finds model files no product uses. It runs nothing
// and needs no lake: seconds for the whole mesh. Problems come sorted by domain,
// product, file and line; the error is for DuckDB itself failing.
func CheckMesh(ctx context.Context, m mesh.Mesh, connectors []source.Connector) ([]Problem, error) {
	decl := Declare(m, connectors)
	var out []Problem
	for _, dom := range m.Domains {
		if err := dom.Validate(); err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				out = append(out, Problem{Domain: dom.Name, Message: strings.TrimPrefix(line, "declare domain "+dom.Name+": ")})
			}
		}
		files := modelFiles(dom.Files)
		used := map[string]bool{}
		for _, p := range dom.Products {
			for _, variant := range p.Majors() {
				file := files.find(variant.Model)
				used[file] = true
				ps, err := CheckProduct(ctx, dom.Name, variant, file, decl)
				if err != nil {
					return nil, err
				}
				out = append(out, ps...)
			}
		}
		for _, src := range dom.Sources {
			for _, st := range src.Streams {
				if st.Keys != nil {
					used[files.find(st.Keys.SQL)] = true
				}
			}
		}
		for _, f := range files {
			if !used[f.name] {
				out = append(out, Problem{Domain: dom.Name, File: f.name, Message: fmt.Sprintf(
					"no product of domain %s has this file as its model: if it is a new product's, add the product to the domain's Products (its Domain function); if nothing uses it, delete it", dom.Name)})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Domain != b.Domain {
			return a.Domain < b.Domain
		}
		if a.Product != b.Product {
			return a.Product < b.Product
		}
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Line < b.Line
	})
	return out, nil
}

// modelFile is a .sql file of a domain's folder.
type modelFile struct{ name, sql string }

type modelFileList []modelFile

// modelFiles reads the .sql files of a domain's embedded folder.
func modelFiles(fsys fs.FS) modelFileList {
	if fsys == nil {
		return nil
	}
	var out modelFileList
	_ = fs.WalkDir(fsys, ".", func(name string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || path.Ext(name) != ".sql" {
			return nil
		}
		if b, err := fs.ReadFile(fsys, name); err == nil {
			out = append(out, modelFile{name, string(b)})
		}
		return nil
	})
	return out
}

// find names the file whose SQL is sql ("" if none: SQL written in Go).
func (l modelFileList) find(sql string) string {
	want := strings.TrimSpace(sql)
	for _, f := range l {
		if strings.TrimSpace(f.sql) == want {
			return f.name
		}
	}
	return ""
}

// CheckProduct compiles p's model (in file, "" if written in Go) and checks against
// empty inputs typed as decl declares them.
func CheckProduct(ctx context.Context, domain string, p mesh.Product, file string, decl Declarations) ([]Problem, error) {
	var out []Problem
	add := func(file string, line int, format string, args ...any) {
		out = append(out, Problem{Domain: domain, Product: p.Name, File: file, Line: line, Message: fmt.Sprintf(format, args...)})
	}
	db, err := Open(ctx, "", 0)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	undeclared := false
	for _, in := range p.Inputs {
		switch {
		case in.IsRaw():
			spec, ok := decl.Streams[in.String()]
			if !ok {
				add("", 0, "%s", unknownStream(in, decl))
				undeclared = true
				continue
			}
			if err := DeclareRaw(ctx, db, in.Source, spec); err != nil {
				return nil, err
			}
		default:
			up, ok := decl.Ports[in.String()]
			if !ok {
				add("", 0, "%s", unknownPort(in, decl))
				undeclared = true
				continue
			}
			if err := DeclarePort(ctx, db, in.Domain, in.Product, up.Schema); err != nil {
				return nil, err
			}
		}
	}
	model := quality.Subquery(p.Model)
	// An undeclared input is the mistake to fix; the model's reading it would only
	// repeat it.
	cols, err := describe(ctx, db, model)
	switch {
	case undeclared:
	case err != nil:
		line, msg := located(err)
		if missing, hint := missingInput(msg, p, decl); missing != "" {
			add(file, line, "the model reads %s, which is not among the product's inputs%s", missing, hint)
		} else {
			add(file, line, "the model does not compile: %s", msg)
		}
	default:
		items, _ := selectItems(ctx, db, model)
		for _, msg := range compareSchema(ctx, db, p, cols, items) {
			add(file, items.line(model, msg.column), "%s", msg.text)
		}
	}
	// The checks run over the model's output, typed as the schema declares it.
	defs := make([]string, len(p.Schema))
	for i, c := range p.Schema {
		defs[i] = quality.Ident(c.Name) + " " + string(c.Type)
	}
	if len(defs) > 0 {
		if _, err := db.ExecContext(ctx, "CREATE TABLE model ("+strings.Join(defs, ", ")+")"); err != nil {
			add("", 0, "the schema does not make a table: %v", err)
			return out, nil
		}
	}
	for _, c := range p.AllChecks() {
		if _, err := describe(ctx, db, quality.Query(c, time.Unix(0, 0))); err != nil {
			_, msg := located(err)
			add("", 0, "check %s does not compile over the declared schema (the table \"model\"): %s", c.Name, msg)
		}
	}
	return out, nil
}

// DeclareRaw makes the views <source>.<stream> and <source>.<stream>_history of an
// empty landing typed as spec declares it.
func DeclareRaw(ctx context.Context, db *sql.DB, sourceName string, spec source.StreamSpec) error {
	return createRawViews(ctx, db, RawInput{Source: sourceName, Stream: spec.Name, PrimaryKey: spec.PrimaryKey,
		CursorField: spec.CursorField, Deleted: spec.Deleted, Fields: spec.Fields})
}

// DeclarePort makes the table <domain>.<product>, empty and typed as schema declares.
func DeclarePort(ctx context.Context, db *sql.DB, domain, product string, schema []mesh.Column) error {
	defs := make([]string, len(schema))
	for i, c := range schema {
		defs[i] = quality.Ident(c.Name) + " " + string(c.Type)
	}
	for _, s := range []string{
		"CREATE SCHEMA IF NOT EXISTS " + quality.Ident(domain),
		fmt.Sprintf("CREATE TABLE %s.%s (%s)", quality.Ident(domain), quality.Ident(product), strings.Join(defs, ", ")),
	} {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return errs.E(errs.Internal, fmt.Sprintf("declare port %s.%s", domain, product), err)
		}
	}
	return nil
}

func unknownStream(in mesh.Input, decl Declarations) string {
	streams, ok := decl.Sources[in.Source]
	if !ok {
		return fmt.Sprintf("input %s: no registered connector is named %s (registered: %s): fix the source's name in mesh.Raw, or register the connector (connectors/registry.go, or the domain's Sources)",
			in, in.Source, strings.Join(sortedKeys(decl.Sources), ", "))
	}
	return fmt.Sprintf("input %s: %s declares no stream %q%s (its streams: %s)", in, in.Source, in.Stream, didYouMean(in.Stream, streams), strings.Join(streams, ", "))
}

func unknownPort(in mesh.Input, decl Declarations) string {
	products, ok := decl.Domains[in.Domain]
	if !ok {
		return fmt.Sprintf("input %s: no domain is named %s (domains: %s): fix mesh.FromProduct's domain", in, in.Domain, strings.Join(sortedKeys(decl.Domains), ", "))
	}
	return fmt.Sprintf("input %s: domain %s has no product %q%s (its products: %s)", in, in.Domain, in.Product, didYouMean(in.Product, products), strings.Join(products, ", "))
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// didYouMean names the candidate closest to name when it is close enough to be a typo.
func didYouMean(name string, candidates []string) string {
	best, bestD := "", len(name)/3+2
	for _, c := range candidates {
		if d := levenshtein.ComputeDistance(name, c); d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" — did you mean %q?", best)
}

// located splits DuckDB's error into its line (from "LINE n:") and its first line of
// text.
func located(err error) (int, string) {
	msg := err.Error()
	line := 0
	if i := strings.Index(msg, "\nLINE "); i >= 0 {
		fmt.Sscanf(msg[i+len("\nLINE "):], "%d:", &line)
	}
	first, rest, _ := strings.Cut(msg, "\n")
	// A binder's candidates are on the line after the message.
	if cand, _, _ := strings.Cut(strings.TrimSpace(rest), "\n"); strings.HasPrefix(cand, "Candidate bindings:") {
		first += " (" + strings.TrimSuffix(cand, ":") + ")"
	}
	return line, first
}

// missingInput names the table DuckDB did not find when the model reads one its
// product does not list, and which input to declare if it is a declared stream or port.
func missingInput(msg string, p mesh.Product, decl Declarations) (name, hint string) {
	const marker = `Table with name `
	i := strings.Index(msg, marker)
	if i < 0 {
		return "", ""
	}
	name, _, _ = strings.Cut(strings.TrimPrefix(msg[i+len(marker):], `"`), `"`)
	name, _, _ = strings.Cut(name, " ")
	return name, inputHint(name, p, decl)
}

// inputHint says which input to declare for a table that is a declared stream or port
// the product does not list.
func inputHint(name string, p mesh.Product, decl Declarations) string {
	if _, ok := decl.Streams[strings.TrimSuffix(name, "_history")]; ok {
		src, st, _ := strings.Cut(strings.TrimSuffix(name, "_history"), ".")
		return fmt.Sprintf(": add mesh.Raw(%q, %q) to %s's Inputs", src, st, p.Name)
	}
	if _, ok := decl.Ports[name]; ok {
		dom, prod, _ := strings.Cut(name, ".")
		return fmt.Sprintf(": add mesh.FromProduct(%q, %q) to %s's Inputs", dom, prod, p.Name)
	}
	return ": a model reads only its product's inputs, as <source>.<stream>, <source>.<stream>_history or <domain>.<product>"
}

// selectItem is one expression of the model's outermost SELECT list.
type selectItem struct {
	name     string          // the output column it makes
	offset   int             // byte offset in the model
	expr     json.RawMessage // DuckDB's serialized expression
	class    string
	function string // function_name, for a FUNCTION
	isNull   bool   // a NULL constant, typed INTEGER by DuckDB
}

type selectList struct {
	node  map[string]json.RawMessage // the SELECT node, to render an item alone
	items []selectItem
}

// selectItems reads the outermost SELECT list of model from DuckDB's parser (nil for a
// UNION or when it cannot): which expression makes which column, and where it is.
func selectItems(ctx context.Context, db *sql.DB, model string) (selectList, error) {
	var js string
	if err := db.QueryRowContext(ctx, "SELECT json_serialize_sql("+quality.Literal(model)+")::VARCHAR").Scan(&js); err != nil {
		return selectList{}, err
	}
	var tree struct {
		Statements []struct {
			Node map[string]json.RawMessage `json:"node"`
		} `json:"statements"`
	}
	if err := json.Unmarshal([]byte(js), &tree); err != nil || len(tree.Statements) != 1 {
		return selectList{}, err
	}
	node := tree.Statements[0].Node
	var list []json.RawMessage
	if err := json.Unmarshal(node["select_list"], &list); err != nil {
		return selectList{}, nil
	}
	out := selectList{node: node}
	for _, raw := range list {
		var e struct {
			Class, Alias  string
			QueryLocation int64    `json:"query_location"`
			ColumnNames   []string `json:"column_names"`
			FunctionName  string   `json:"function_name"`
			Value         struct {
				IsNull bool `json:"is_null"`
			}
		}
		if json.Unmarshal(raw, &e) != nil {
			continue
		}
		it := selectItem{name: e.Alias, offset: int(e.QueryLocation), expr: raw, class: e.Class, function: strings.ToLower(e.FunctionName),
			isNull: e.Class == "CONSTANT" && e.Value.IsNull}
		if it.name == "" && len(e.ColumnNames) > 0 {
			it.name = e.ColumnNames[len(e.ColumnNames)-1]
		}
		out.items = append(out.items, it)
	}
	return out, nil
}

func (s selectList) item(column string) (selectItem, bool) {
	for _, it := range s.items {
		if it.name == column {
			return it, true
		}
	}
	return selectItem{}, false
}

// line is the model's line of the expression that makes column (0 if unknown).
func (s selectList) line(model, column string) int {
	it, ok := s.item(column)
	if !ok || it.offset < 0 || it.offset > len(model) {
		return 0
	}
	return strings.Count(model[:it.offset], "\n") + 1
}

// render writes an expression of the SELECT list (or any expression) back as SQL.
func (s selectList) render(ctx context.Context, db *sql.DB, expr json.RawMessage) (string, error) {
	var e map[string]json.RawMessage
	if err := json.Unmarshal(expr, &e); err != nil {
		return "", err
	}
	e["alias"] = json.RawMessage(`""`)
	list, _ := json.Marshal([]map[string]json.RawMessage{e})
	node := map[string]json.RawMessage{}
	for k, v := range s.node {
		node[k] = v
	}
	node["select_list"] = list
	node["from_table"] = json.RawMessage(`{"type":"EMPTY","alias":"","sample":null,"query_location":0}`)
	for _, k := range []string{"where_clause", "having", "qualify", "sample"} {
		node[k] = json.RawMessage("null")
	}
	node["group_expressions"], node["group_sets"], node["modifiers"] = json.RawMessage("[]"), json.RawMessage("[]"), json.RawMessage("[]")
	node["cte_map"] = json.RawMessage(`{"map":[]}`)
	stmt, _ := json.Marshal(map[string]any{"error": false, "statements": []any{map[string]any{"node": node, "named_param_map": []any{}}}})
	var out string
	if err := db.QueryRowContext(ctx, "SELECT json_deserialize_sql("+quality.Literal(string(stmt))+"::JSON)").Scan(&out); err != nil {
		return "", err
	}
	return strings.TrimPrefix(out, "SELECT "), nil
}

// typeOf is the type expr has in the model's FROM clause.
func (s selectList) typeOf(ctx context.Context, db *sql.DB, expr json.RawMessage) (string, error) {
	list, _ := json.Marshal([]json.RawMessage{expr})
	node := map[string]json.RawMessage{}
	for k, v := range s.node {
		node[k] = v
	}
	node["select_list"] = list
	stmt, _ := json.Marshal(map[string]any{"error": false, "statements": []any{map[string]any{"node": node, "named_param_map": []any{}}}})
	var q string
	if err := db.QueryRowContext(ctx, "SELECT json_deserialize_sql("+quality.Literal(string(stmt))+"::JSON)").Scan(&q); err != nil {
		return "", err
	}
	cols, err := describe(ctx, db, q)
	if err != nil || len(cols) != 1 {
		return "", err
	}
	return cols[0].typ, nil
}

type schemaMessage struct{ column, text string }

// compareSchema lists, one per problem, where the model's columns and the declared
// schema disagree: missing, extra, of a type that does not fit, TIMESTAMPTZ.
func compareSchema(ctx context.Context, db *sql.DB, p mesh.Product, cols []column, items selectList) []schemaMessage {
	var out []schemaMessage
	have := map[string]string{}
	for _, c := range cols {
		have[c.name] = c.typ
	}
	for _, c := range p.Schema {
		if _, ok := have[c.Name]; !ok {
			out = append(out, schemaMessage{"", fmt.Sprintf("column %q is declared (%s) but the model does not select it: add it to the SELECT, or remove it from the schema", c.Name, c.Type)})
		}
	}
	for _, c := range cols {
		decl, ok := p.Column(c.name)
		if !ok {
			out = append(out, schemaMessage{c.name, fmt.Sprintf("the model selects %q (%s), which the schema does not declare: declare it (with a Doc) or drop it from the SELECT", c.name, c.typ)})
			continue
		}
		it, _ := items.item(c.name)
		if it.isNull {
			continue // NULL fits every declared type
		}
		if c.typ == "TIMESTAMP WITH TIME ZONE" {
			out = append(out, schemaMessage{c.name, timestampTZFix(ctx, db, items, it, c.name)})
			continue
		}
		if why := typeFits(decl.Type, c.typ); why != "" {
			out = append(out, schemaMessage{c.name, fmt.Sprintf("column %q is %s in the model but declared %s: %s", c.name, c.typ, decl.Type, why)})
		}
	}
	return out
}

// timestampTZFix says how to turn the TIMESTAMPTZ expression it into a UTC
// timestamp — the fix that keeps its meaning, which depends on what it is.
func timestampTZFix(ctx context.Context, db *sql.DB, items selectList, it selectItem, col string) string {
	intro := fmt.Sprintf("column %q is TIMESTAMP WITH TIME ZONE, but port timestamps are UTC without a zone", col)
	expr, err := items.render(ctx, db, it.expr)
	if it.expr == nil || err != nil {
		return fmt.Sprintf("%s: select `… AT TIME ZONE 'UTC' AS %s`", intro, col)
	}
	switch {
	case it.class == "CAST":
		var e struct{ Child json.RawMessage }
		_ = json.Unmarshal(it.expr, &e)
		child, _ := items.render(ctx, db, e.Child)
		switch typ, _ := items.typeOf(ctx, db, e.Child); {
		case strings.HasPrefix(typ, "TIMESTAMP") && typ != "TIMESTAMP WITH TIME ZONE":
			return fmt.Sprintf("%s: %s is already a UTC timestamp, so the cast only adds a zone — select `%s AS %s`", intro, child, child, col)
		case typ == "DATE":
			return fmt.Sprintf("%s: a date becomes midnight UTC with `CAST(%s AS TIMESTAMP) AS %s`", intro, child, col)
		case typ == "VARCHAR":
			return fmt.Sprintf("%s: the text's offset makes the instant; write it in UTC with `%s AT TIME ZONE 'UTC' AS %s`", intro, expr, col)
		}
	case it.class == "FUNCTION" && slices.Contains([]string{"now", "current_timestamp", "get_current_timestamp", "transaction_timestamp"}, it.function):
		return fmt.Sprintf("%s: %s is when the run happens, so the port changes on every run even when its inputs did not — use a time from the inputs; if the run's time is meant, `now() AT TIME ZONE 'UTC' AS %s`", intro, expr, col)
	case it.class == "FUNCTION" && slices.Contains([]string{"date_trunc", "time_bucket"}, it.function):
		var e struct{ Children []json.RawMessage }
		_ = json.Unmarshal(it.expr, &e)
		if len(e.Children) == 2 {
			part, _ := items.render(ctx, db, e.Children[0])
			arg, _ := items.render(ctx, db, e.Children[1])
			return fmt.Sprintf("%s: truncate the UTC time, so days and weeks begin at UTC midnight whatever the session's zone — `%s(%s, %s AT TIME ZONE 'UTC') AS %s`", intro, it.function, part, arg, col)
		}
	}
	return fmt.Sprintf("%s: %s is an instant; write it as UTC with `%s AT TIME ZONE 'UTC' AS %s`", intro, expr, expr, col)
}

// typeFits says why a model column of DuckDB type got cannot be stored as the
// declared type without surprise ("" when it can): a cast that can fail at run time or
// silently loses information.
func typeFits(want mesh.ColumnType, got string) string {
	family := func(t string) string {
		switch {
		case slices.Contains([]string{"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"}, t):
			return "integer"
		case strings.HasPrefix(t, "DECIMAL(") && strings.HasSuffix(t, ",0)"):
			return "integer"
		case t == "FLOAT" || t == "DOUBLE" || strings.HasPrefix(t, "DECIMAL"):
			return "fraction"
		case t == "VARCHAR" || t == "JSON" || t == "UUID" || strings.HasPrefix(t, "ENUM"):
			return "text"
		case t == "BOOLEAN":
			return "bool"
		case t == "DATE":
			return "date"
		case t == "TIMESTAMP" || t == "TIMESTAMP_S" || t == "TIMESTAMP_MS" || t == "TIMESTAMP_NS":
			return "timestamp"
		}
		return t
	}
	g := family(got)
	switch want {
	case mesh.Int64:
		switch g {
		case "integer":
			return ""
		case "fraction":
			return "storing it drops the fraction — round it in the model (`round(…)`) or declare it mesh.Float64"
		case "text":
			return "the cast fails at run time on any value that is not a number — convert it in the model (`TRY_CAST(… AS BIGINT)`) or declare it mesh.String"
		}
	case mesh.Float64:
		if g == "integer" || g == "fraction" {
			return ""
		}
	case mesh.String:
		if g == "text" {
			return ""
		}
		if g == "integer" || g == "fraction" || g == "bool" || g == "date" || g == "timestamp" {
			return fmt.Sprintf("declare it with its own type (mesh.%s) so consumers can compute with it, or cast it in the model (`CAST(… AS VARCHAR)`) if text is meant", goType(g))
		}
	case mesh.Bool:
		if g == "bool" {
			return ""
		}
	case mesh.Date:
		switch g {
		case "date":
			return ""
		case "timestamp":
			return "storing it drops the time of day — take the day in the model (`CAST(… AS DATE)`) or declare it mesh.Timestamp"
		}
	case mesh.Timestamp:
		if g == "timestamp" || g == "date" {
			return ""
		}
	}
	return fmt.Sprintf("compute a %s in the model, or declare the column's type as the model makes it", want)
}

func goType(family string) string {
	switch family {
	case "integer":
		return "Int64"
	case "fraction":
		return "Float64"
	case "bool":
		return "Bool"
	case "date":
		return "Date"
	}
	return "Timestamp"
}
