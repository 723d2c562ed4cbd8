// Package scaffold writes what a domain team starts from — a domain, a product — into
// the repository, already wired in and valid, so `go test ./...` passes the moment the
// files exist and the team only edits them (`mesh new`).
package scaffold

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/meshflow/meshflow/framework/errs"
)

// Module is the Go module the scaffolded code belongs to.
const Module = "github.com/meshflow/meshflow"

// Repo is a checkout of the module.
type Repo struct {
	Root string // the directory holding go.mod
}

// FindRepo finds the module's checkout at dir or above it.
func FindRepo(dir string) (Repo, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Repo{}, errs.E(errs.Invalid, "find the repository", err)
	}
	for d := abs; ; d = filepath.Dir(d) {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && bytes.Contains(b, []byte("module "+Module+"\n")) {
			return Repo{Root: d}, nil
		}
		if filepath.Dir(d) == d {
			return Repo{}, errs.Errorf(errs.NotFound, "find the repository", "no checkout of %s at or above %s: run mesh new inside the repository, or pass --dir", Module, abs)
		}
	}
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// packageName is the Go package of a domain folder: the name without underscores.
func packageName(domain string) string { return strings.ReplaceAll(domain, "_", "") }

// camel is name in lowerCamelCase: account_health → accountHealth.
func camel(name string) string {
	parts := strings.Split(name, "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

// domainDir finds the folder of the domain named name: the one whose domain.go
// declares that name.
func (r Repo) domainDir(name string) (string, error) {
	dirs, err := filepath.Glob(filepath.Join(r.Root, "domains", "*"))
	if err != nil {
		return "", errs.E(errs.Internal, "find domain "+name, err)
	}
	for _, d := range dirs {
		if ok, _ := declaresIn(filepath.Join(d, "domain.go"), name); ok {
			return d, nil
		}
	}
	return "", errs.Errorf(errs.NotFound, "find domain "+name, "no folder under domains/ declares the domain %s: create it with `mesh new domain %s`", name, name)
}

// declares reports whether a Go file of dir (not a test) declares something named
// name (`Name = "name"` or `Name: "name"`): a domain or a product.
func declares(dir, name string) (bool, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	for _, f := range files {
		if ok, _ := declaresIn(f, name); ok && !strings.HasSuffix(f, "_test.go") {
			return true, nil
		}
	}
	return false, err
}

func declaresIn(file, name string) (bool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return false, err
	}
	return regexp.MustCompile(`\bName\s*[:=]\s*"` + regexp.QuoteMeta(name) + `"`).Match(b), nil
}

// write creates path with content, refusing to overwrite a file.
func write(path string, content []byte) error {
	if _, err := os.Stat(path); err == nil {
		return errs.Errorf(errs.Invalid, "write "+path, "%s exists already: scaffolding never overwrites a file", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return errs.E(errs.Internal, "write "+path, err)
	}
	if err := os.WriteFile(path, content, 0o644); err != nil {
		return errs.E(errs.Internal, "write "+path, err)
	}
	return nil
}

// gofmt formats generated Go source, so a template mistake fails loudly here.
func gofmt(path string, src []byte) ([]byte, error) {
	out, err := format.Source(src)
	if err != nil {
		return nil, errs.Errorf(errs.Internal, "generate "+path, "the generated code does not parse: %v", err)
	}
	return out, nil
}

// appendToList adds expr as the last element of the composite literal that is the
// value of key (e.g. Products) inside function fn of the Go file at path, and, when
// imp is set, imports it. The file is rewritten formatted.
func appendToList(path, fn, key, expr, imp string) error {
	fset := token.NewFileSet()
	src, err := os.ReadFile(path)
	if err != nil {
		return errs.E(errs.Internal, "read "+path, err)
	}
	f, err := parser.ParseFile(fset, path, src, parser.ParseComments)
	if err != nil {
		return errs.Errorf(errs.Invalid, "edit "+path, "it does not parse: %v", err)
	}
	var list *ast.CompositeLit
	ast.Inspect(f, func(n ast.Node) bool {
		if d, ok := n.(*ast.FuncDecl); ok && d.Name.Name != fn {
			return false
		}
		switch n := n.(type) {
		case *ast.KeyValueExpr:
			if id, ok := n.Key.(*ast.Ident); ok && id.Name == key {
				if cl, ok := n.Value.(*ast.CompositeLit); ok {
					list = cl
				}
			}
		case *ast.CompositeLit:
			if key == "" && list == nil {
				if _, ok := n.Type.(*ast.ArrayType); ok {
					list = n
				}
			}
		}
		return list == nil
	})
	if list == nil {
		what := "a list literal"
		if key != "" {
			what = key + ": []…{…}"
		}
		return errs.Errorf(errs.Invalid, "edit "+path, "found no %s in func %s to add %s to: add it by hand", what, fn, expr)
	}
	// Splice the text in before the closing brace, keeping the file's own layout
	// (gofmt then indents it).
	closing := fset.Position(list.Rbrace).Offset
	before := strings.TrimRight(string(src[:closing]), " \t\n")
	var ins string
	switch {
	case strings.HasSuffix(before, "{"):
		ins = expr
	case strings.HasSuffix(before, ","): // one element a line
		ins = "\n" + expr + ",\n"
	default:
		ins = ", " + expr
	}
	out := before + ins + string(src[closing:])
	if imp != "" && !strings.Contains(out, `"`+imp+`"`) {
		out = strings.Replace(out, "import (\n", "import (\n\t\""+imp+"\"\n", 1)
	}
	formatted, err := gofmt(path, []byte(out))
	if err != nil {
		return err
	}
	return os.WriteFile(path, formatted, 0o644)
}

// rel is path relative to the repository, for messages.
func (r Repo) rel(path string) string {
	if p, err := filepath.Rel(r.Root, path); err == nil {
		return p
	}
	return path
}

func checkName(what, name string) error {
	if !nameRE.MatchString(name) {
		return errs.Errorf(errs.Invalid, "new "+what, "%s name %q must be lower_snake_case, starting with a letter (e.g. account_health)", what, name)
	}
	return nil
}

// quote renders s as a Go string literal.
func quote(s string) string { return fmt.Sprintf("%q", s) }
