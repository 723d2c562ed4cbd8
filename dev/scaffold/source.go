package scaffold

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"text/template"

	"github.com/meshflow/meshflow/connectors/rest"
	"github.com/meshflow/meshflow/framework/errs"
)

// SourceStream is the one stream a scaffolded source starts with, and the collection
// of the stub API (dev/sandbox/stub) it reads until the team points it at the real one.
const SourceStream = "items"

var specTmpl = template.Must(template.New("spec").Parse(`# {{.Title}} as a declarative REST source (connectors/rest/SPEC.md documents every key).
# Scaffolded by mesh new source. TODO: point it at the real API — base_url, auth, the
# stream's path, records, paging and fields — and give it a sandbox imitating that API
# (today it reads the generic stub of dev/sandbox/stub, which pages the way below).
source: {{.Name}}
title: {{.Title}}
doc: "TODO: what {{.Title}} holds, in a sentence."
base_url: https://api.example.com/v1

variables:
  {{.Prefix}}_TOKEN:
    doc: {{.Title}} API token
    secret: true
    how: "TODO: where in {{.Title}} a user creates an API token"

auth: {type: bearer, token: "${ {{- .Prefix}}_TOKEN}"}

# The cheapest authenticated call, for mesh doctor.
check: {path: /{{.Stream}}/page, query: {per_page: "1"}}

streams:
  {{.Stream}}:
    doc: "TODO: what one record is."
    request: {path: /{{.Stream}}/page}
    records: data
    paginate: {type: page_number, param: page, size_param: per_page, size: 100, stop: [{total_pages: meta.total_pages}]}
    incremental:
      field: updated_at
      lookback: 1h
      request: {query: {updated_since: "${since}"}}
    primary_key: [id]
    fields:
      id: {type: int64, doc: "The record's id."}
      name: {type: string, doc: "Its name."}
      updated_at: {type: timestamp, path: meta.updated_at, doc: "When it last changed."}
`))

var sourceGoTmpl = template.Must(template.New("source").Parse(`package {{.Package}}

import (
	_ "embed"

	"github.com/meshflow/meshflow/connectors/rest"
	"github.com/meshflow/meshflow/dev/sandbox/stub"
	"github.com/meshflow/meshflow/framework/source"
)

//go:embed sources/{{.Name}}.yaml
var {{.Func}}Spec []byte

// {{.Func}} is the {{.Name}} source, which the {{.Domain}} domain alone reads
// (mesh.Domain.Sources): a spec, sources/{{.Name}}.yaml, and a sandbox for demos and
// tests — the generic stub API until one imitates {{.Title}}'s.
func {{.Func}}() source.Connector {
	c := rest.Must({{.QFile}}, {{.Func}}Spec).Connector()
	c.Sandbox = stub.Sandbox({{.QStream}}, {{.QPrefix}}+"_TOKEN", {{.QPrefix}}+"_BASE_URL")
	return c
}
`))

var sourceTestTmpl = template.Must(template.New("test").Parse(`package {{.Package}}

import (
	"testing"

	"github.com/meshflow/meshflow/connectors/conformance"
	"github.com/meshflow/meshflow/connectors/rest"
	"github.com/meshflow/meshflow/dev/sandbox/stub"
	"github.com/meshflow/meshflow/framework/source"
)

// Test{{.Type}}Conformance runs the suite every connector passes — paging, resuming,
// incremental reads, backoff on 429s and 5xx, no retry on a bad token, cancellation —
// against the source's sandbox.
func Test{{.Type}}Conformance(t *testing.T) {
	spec := rest.Must({{.QFile}}, {{.Func}}Spec)
	conformance.Run(t, conformance.Harness{
		Start: func(t *testing.T, f conformance.Faults) conformance.Server {
			return stub.Start(stub.Options{Things: 1000, Collection: {{.QStream}}, Faults: f})
		},
		NewSource: func(t *testing.T, baseURL string, valid bool) (source.Source, error) {
			token := stub.Token
			if !valid {
				token = "not-" + stub.Token
			}
			return spec.New(source.Values{ {{- .QPrefix}} + "_TOKEN": token, {{.QPrefix}} + "_BASE_URL": baseURL}, nil)
		},
		BadCredential: "not-" + stub.Token,
	})
}
`))

// NewSource adds a source that one domain alone reads: its spec
// (domains/<d>/sources/<name>.yaml), its registration with a sandbox
// (domains/<d>/<name>_source.go, and the domain's Sources), a conformance test, and a
// product reading its stream. It returns the files it wrote or changed.
func (r Repo) NewSource(domain, name string) ([]string, error) {
	if err := checkName("source", name); err != nil {
		return nil, err
	}
	dir, err := r.domainDir(domain)
	if err != nil {
		return nil, err
	}
	title := strings.ToUpper(name[:1]) + strings.ReplaceAll(name[1:], "_", " ")
	prefix := strings.ToUpper(name)
	fn := camel(name) + "Source"
	rel := filepath.ToSlash(filepath.Join("domains", filepath.Base(dir), "sources", name+".yaml"))
	data := map[string]string{
		"Package": filepath.Base(dir), "Domain": domain, "Name": name, "Title": title, "Prefix": prefix,
		"Stream": SourceStream, "Func": fn, "Type": strings.ToUpper(fn[:1]) + fn[1:],
		"QFile": quote(rel), "QStream": quote(SourceStream), "QPrefix": quote(prefix),
	}
	var spec bytes.Buffer
	if err := specTmpl.Execute(&spec, data); err != nil {
		return nil, errs.E(errs.Internal, "new source", err)
	}
	// The spec must load as the worker will load it, before anything is written.
	parsed, err := rest.Parse(rel, spec.Bytes())
	if err != nil {
		return nil, errs.Errorf(errs.Internal, "new source "+name, "the scaffolded spec does not load: %v", err)
	}
	specFile := filepath.Join(dir, "sources", name+".yaml")
	goFile := filepath.Join(dir, name+"_source.go")
	testFile := filepath.Join(dir, name+"_source_test.go")
	files := []struct {
		path string
		tmpl *template.Template
	}{{goFile, sourceGoTmpl}, {testFile, sourceTestTmpl}}
	rendered := map[string][]byte{specFile: spec.Bytes()}
	for _, f := range files {
		var b bytes.Buffer
		if err := f.tmpl.Execute(&b, data); err != nil {
			return nil, errs.E(errs.Internal, "new source", err)
		}
		src, err := gofmt(f.path, b.Bytes())
		if err != nil {
			return nil, err
		}
		rendered[f.path] = src
	}
	for _, path := range []string{specFile, goFile, testFile} {
		if _, err := os.Stat(path); err == nil {
			return nil, errs.Errorf(errs.Invalid, "new source "+name, "%s exists already: choose another name", r.rel(path))
		}
	}
	for _, path := range []string{specFile, goFile, testFile} {
		if err := write(path, rendered[path]); err != nil {
			return nil, err
		}
	}
	domainFile := filepath.Join(dir, "domain.go")
	if err := addSource(domainFile, fn+"()"); err != nil {
		return nil, err
	}
	product, err := r.NewProduct(domain, name+"_"+SourceStream, StreamInput(name, parsed.StreamSpecs()[0]))
	if err != nil {
		return nil, err
	}
	return append([]string{r.rel(specFile), r.rel(goFile), r.rel(testFile), r.rel(domainFile)}, product...), nil
}

// addSource lists a source in the domain's Sources, adding the field when the domain
// has none yet.
func addSource(path, expr string) error {
	const imp = Module + "/framework/source"
	err := appendToList(path, "Domain", "Sources", expr, imp)
	if err == nil || !strings.Contains(err.Error(), "found no") {
		return err
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return errs.E(errs.Internal, "read "+path, err)
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, src, parser.ParseComments)
	if err != nil {
		return errs.Errorf(errs.Invalid, "edit "+path, "it does not parse: %v", err)
	}
	var lit *ast.CompositeLit
	ast.Inspect(f, func(n ast.Node) bool {
		if d, ok := n.(*ast.FuncDecl); ok && d.Name.Name != "Domain" {
			return false
		}
		if cl, ok := n.(*ast.CompositeLit); ok && lit == nil {
			if sel, ok := cl.Type.(*ast.SelectorExpr); ok && sel.Sel.Name == "Domain" {
				lit = cl
			}
		}
		return lit == nil
	})
	if lit == nil {
		return errs.Errorf(errs.Invalid, "edit "+path, "found no mesh.Domain{…} in func Domain: add Sources: []source.Connector{%s} to it by hand", expr)
	}
	closing := fset.Position(lit.Rbrace).Offset
	before := strings.TrimRight(string(src[:closing]), " \t\n")
	out := before + "\nSources: []source.Connector{" + expr + "},\n" + string(src[closing:])
	if !strings.Contains(out, `"`+imp+`"`) {
		out = strings.Replace(out, "import (\n", "import (\n\t\""+imp+"\"\n", 1)
	}
	formatted, err := gofmt(path, []byte(out))
	if err != nil {
		return err
	}
	return os.WriteFile(path, formatted, 0o644)
}
