package scaffold

import (
	"bytes"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"text/template"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/source"
)

// Input is what a new product reads, with the columns it offers: the scaffolded model
// selects them all and the schema declares them, so the product is valid and runs at
// once; the team then narrows and reshapes it.
type Input struct {
	Input          mesh.Input
	Columns        []mesh.Column
	PrimaryKey     []string
	Freshness      string // a timestamp column for the freshness SLO ("" = none)
	Classification mesh.Classification
	AllowedGroups  []string
}

// ProductInput is another product's port as an input: its declared columns, key and
// classification (a product reading a restricted one is restricted too).
func ProductInput(m mesh.Mesh, name string) (Input, error) {
	d, p, err := m.Find(name)
	if err != nil {
		return Input{}, err
	}
	return Input{Input: mesh.FromProduct(d.Name, p.Name), Columns: p.Schema, PrimaryKey: p.PrimaryKey,
		Freshness: p.Freshness.Column, Classification: p.Classification, AllowedGroups: p.AllowedGroups}, nil
}

// StreamInput is a raw stream of a source as an input: its typed fields, key and
// cursor. Raw data is internal until the team says otherwise.
func StreamInput(sourceName string, spec source.StreamSpec) Input {
	in := Input{Input: mesh.Raw(sourceName, spec.Name), PrimaryKey: spec.PrimaryKey, Classification: mesh.Internal}
	types := map[source.Type]mesh.ColumnType{source.String: mesh.String, source.Int64: mesh.Int64, source.Float64: mesh.Float64,
		source.Bool: mesh.Bool, source.Timestamp: mesh.Timestamp, source.Date: mesh.Date}
	for _, f := range spec.Fields {
		doc := f.Doc
		if doc == "" {
			doc = "TODO: what " + f.Name + " means."
		}
		in.Columns = append(in.Columns, mesh.Column{Name: f.Name, Type: types[f.Type], Doc: doc})
		if f.Name == spec.CursorField && f.Type == source.Timestamp {
			in.Freshness = f.Name
		}
	}
	return in
}

var productTmpl = template.Must(template.New("product").Parse(`package {{.Package}}

import (
	_ "embed"
	"time"

	"github.com/meshflow/meshflow/framework/mesh"
)

//go:embed models/{{.Name}}.sql
var {{.Func}}SQL string

// {{.Func}} declares {{.Domain}}.{{.Name}}. ` + "`go test ./domains/...`" + ` checks the declaration; ` + "`mesh run {{.Domain}}.{{.Name}}`" + ` runs it.
func {{.Func}}() mesh.Product {
	return mesh.Product{
		Name:        {{.QName}},
		Description: "TODO: say in one sentence what {{.Name}} holds (listings show this sentence), then how it is built.",
		UseCases:    []string{"TODO: who uses it, for what."},
		Version:     "1.0.0",
		Inputs:      []mesh.Input{ {{- .Input -}} },
		Model:       {{.Func}}SQL,
		Schema: []mesh.Column{
{{- range .Columns}}
			{Name: {{printf "%q" .Name}}, Type: mesh.{{index $.Types .Type}}, Doc: {{printf "%q" .Doc}}{{if .Required}}, Required: true{{end}}},
{{- end}}
		},
		PrimaryKey:     []string{ {{- .PrimaryKey -}} },
		Classification: mesh.{{.Classification}},
{{- if .AllowedGroups}}
		AllowedGroups:  []string{ {{- .AllowedGroups -}} },
{{- end}}
		Checks:         []mesh.Check{mesh.RowCount(1, 0).Describe("TODO: the checks that say the data is right.")},
		Freshness:      mesh.Freshness{ {{- if .Freshness}}Column: {{.Freshness}}, {{end}}WarnAfter: 26 * time.Hour, FailAfter: 50 * time.Hour},
{{- if .Raw}}
		Cadence:        "@daily",
{{- else}}
		// No Cadence: it reads only another product, so it runs when that one publishes.
{{- end}}
	}
}
`))

var classifications = map[mesh.Classification]string{mesh.Public: "Public", mesh.Internal: "Internal", mesh.Restricted: "Restricted"}
var columnTypes = map[mesh.ColumnType]string{mesh.String: "String", mesh.Int64: "Int64", mesh.Float64: "Float64",
	mesh.Bool: "Bool", mesh.Date: "Date", mesh.Timestamp: "Timestamp"}

// NewProduct adds a product to an existing domain: its model
// (domains/<d>/models/<name>.sql), its declaration (domains/<d>/<name>.go) and its place
// in the domain's Products. It returns the files it wrote or changed.
func (r Repo) NewProduct(domain, name string, in Input) ([]string, error) {
	if err := checkName("product", name); err != nil {
		return nil, err
	}
	dir, err := r.domainDir(domain)
	if err != nil {
		return nil, err
	}
	if declared, _ := declares(dir, name); declared {
		return nil, errs.Errorf(errs.Invalid, "new product "+domain+"."+name, "%s.%s exists already: choose another name", domain, name)
	}
	if len(in.Columns) == 0 || len(in.PrimaryKey) == 0 {
		return nil, errs.Errorf(errs.Invalid, "new product "+domain+"."+name, "input %s declares no columns or no primary key to start from", in.Input)
	}
	fn := camel(name) + "Product"
	var model strings.Builder
	model.WriteString("-- " + domain + "." + name + ": one row per " + strings.Join(in.PrimaryKey, ", ") + " of " + in.Input.String() + ".\n")
	model.WriteString("-- TODO: select, join and aggregate what the product promises; keep the schema in " + name + ".go in step.\nSELECT\n")
	for i, c := range in.Columns {
		sep := ","
		if i == len(in.Columns)-1 {
			sep = ""
		}
		fmt.Fprintf(&model, "    %s%s\n", c.Name, sep)
	}
	fmt.Fprintf(&model, "FROM %s\n", in.Input)

	inputExpr := fmt.Sprintf("mesh.FromProduct(%q, %q)", in.Input.Domain, in.Input.Product)
	if in.Input.IsRaw() {
		inputExpr = fmt.Sprintf("mesh.Raw(%q, %q)", in.Input.Source, in.Input.Stream)
	}
	cols := make([]mesh.Column, len(in.Columns))
	for i, c := range in.Columns {
		cols[i] = c
		cols[i].Required = c.Required || slices.Contains(in.PrimaryKey, c.Name)
	}
	class := in.Classification
	if class == "" {
		class = mesh.Internal
	}
	data := map[string]any{
		"Package": filepath.Base(dir), "Domain": domain, "Name": name, "QName": quote(name), "Func": fn,
		"Input": inputExpr, "Columns": cols, "Types": columnTypes, "PrimaryKey": quotedList(in.PrimaryKey),
		"Classification": classifications[class], "AllowedGroups": quotedList(in.AllowedGroups), "Raw": in.Input.IsRaw(),
	}
	if in.Freshness != "" {
		data["Freshness"] = quote(in.Freshness)
	}
	var b bytes.Buffer
	if err := productTmpl.Execute(&b, data); err != nil {
		return nil, errs.E(errs.Internal, "new product", err)
	}
	goFile := filepath.Join(dir, name+".go")
	src, err := gofmt(goFile, b.Bytes())
	if err != nil {
		return nil, err
	}
	sqlFile := filepath.Join(dir, "models", name+".sql")
	if err := write(sqlFile, []byte(model.String())); err != nil {
		return nil, err
	}
	if err := write(goFile, src); err != nil {
		return nil, err
	}
	domainFile := filepath.Join(dir, "domain.go")
	if err := appendToList(domainFile, "Domain", "Products", fn+"()", ""); err != nil {
		return nil, err
	}
	return []string{r.rel(sqlFile), r.rel(goFile), r.rel(domainFile)}, nil
}

func quotedList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = quote(s)
	}
	return strings.Join(q, ", ")
}
