package scaffold

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"

	"github.com/meshflow/meshflow/framework/errs"
)

// DomainOptions describe a new domain.
type DomainOptions struct {
	Name    string // lower_snake_case, e.g. "customer_success"
	Owner   string // the owning team [<name>-team]
	Contact string // where consumers ask [#<name>-data]
}

var domainTmpl = template.Must(template.New("domain").Parse(`// Package {{.Package}} is the {{.Name}} domain. The {{.Owner}} team owns everything in
// this folder: product declarations here, their SQL models in models/.
package {{.Package}}

import (
	"github.com/meshflow/meshflow/framework/mesh"
)

// Name is the domain's name; its workers poll the task queue "meshflow.{{.Name}}".
const Name = {{.QName}}

// Domain declares the {{.Name}} domain and its products (` + "`mesh new product {{.Name}}.NAME`" + ` adds one).
func Domain() mesh.Domain {
	return mesh.Domain{
		Name:        Name,
		Owner:       {{.QOwner}},
		Contact:     {{.QContact}},
		Description: "TODO: what this domain is about, in a sentence consumers read in the catalog.",
		Products:    []mesh.Product{},
	}
}
`))

// NewDomain creates domains/<package>/domain.go, registers the domain in
// domains/registry.go and gives it a worker in docker-compose.yml. It returns the
// files it wrote or changed.
func (r Repo) NewDomain(o DomainOptions) ([]string, error) {
	if err := checkName("domain", o.Name); err != nil {
		return nil, err
	}
	if _, err := r.domainDir(o.Name); err == nil {
		return nil, errs.Errorf(errs.Invalid, "new domain", "domain %s exists already", o.Name)
	}
	pkg := packageName(o.Name)
	dir := filepath.Join(r.Root, "domains", pkg)
	if _, err := os.Stat(dir); err == nil {
		return nil, errs.Errorf(errs.Invalid, "new domain", "domains/%s exists already: choose another name", pkg)
	}
	if o.Owner == "" {
		o.Owner = strings.ReplaceAll(o.Name, "_", "-") + "-team"
	}
	if o.Contact == "" {
		o.Contact = "#" + strings.ReplaceAll(o.Name, "_", "-") + "-data"
	}
	var b bytes.Buffer
	if err := domainTmpl.Execute(&b, map[string]string{"Package": pkg, "Name": o.Name, "Owner": o.Owner,
		"QName": quote(o.Name), "QOwner": quote(o.Owner), "QContact": quote(o.Contact)}); err != nil {
		return nil, errs.E(errs.Internal, "new domain", err)
	}
	file := filepath.Join(dir, "domain.go")
	src, err := gofmt(file, b.Bytes())
	if err != nil {
		return nil, err
	}
	if err := write(file, src); err != nil {
		return nil, err
	}
	registry := filepath.Join(r.Root, "domains", "registry.go")
	if err := appendToList(registry, "Mesh", "Domains", pkg+".Domain()", Module+"/domains/"+pkg); err != nil {
		return nil, err
	}
	compose := filepath.Join(r.Root, "docker-compose.yml")
	if err := addWorker(compose, o.Name); err != nil {
		return nil, err
	}
	return []string{r.rel(file), r.rel(registry), r.rel(compose)}, nil
}

// workerBlock matches a worker service of docker-compose.yml: its header line and its
// indented body, up to the blank line that ends it.
var workerBlock = regexp.MustCompile(`(?m)^  worker-([a-z0-9-]+):\n(?:    .*\n)+`)

// addWorker adds a worker service for the domain to docker-compose.yml, a copy of the
// last one with the domain's name: one worker per domain task queue.
func addWorker(path, domain string) error {
	src, err := os.ReadFile(path)
	if err != nil {
		return errs.E(errs.Internal, "read "+path, err)
	}
	blocks := workerBlock.FindAllSubmatchIndex(src, -1)
	if len(blocks) == 0 {
		return errs.Errorf(errs.Invalid, "edit "+path, "found no worker-<domain> service to copy: add a worker for %s by hand", domain)
	}
	last := blocks[len(blocks)-1]
	block, was := string(src[last[0]:last[1]]), string(src[last[2]:last[3]])
	service := strings.ReplaceAll(domain, "_", "-")
	block = strings.Replace(block, "worker-"+was+":", "worker-"+service+":", 1)
	domains := regexp.MustCompile(`(?m)^(\s+MESHFLOW_DOMAINS:\s*)\S+$`)
	if !domains.MatchString(block) {
		return errs.Errorf(errs.Invalid, "edit "+path, "the worker-%s service sets no MESHFLOW_DOMAINS to copy: add a worker for %s by hand", was, domain)
	}
	block = domains.ReplaceAllString(block, "${1}"+domain)
	out := string(src[:last[1]]) + "\n" + block + string(src[last[1]:])
	return os.WriteFile(path, []byte(out), 0o644)
}
