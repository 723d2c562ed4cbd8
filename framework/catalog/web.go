package catalog

import (
	"embed"
	"encoding/json"
	"html/template"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/meshflow/meshflow/framework/access"
	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/mesh"
)

//go:embed templates/*.html
var templateFS embed.FS

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"join": strings.Join,
	"list": func(v ...string) []string { return v },
}).ParseFS(templateFS, "templates/*.html"))

// Handler serves the catalog: server-rendered pages that work without JavaScript, and
// the same data as JSON under /api/.
//
//	GET /                          every product; ?q= text search, ?domain= ?owner= ?state= filters
//	GET /domains/{domain}          a domain's products and their health
//	GET /products/{domain.product} one product, its lineage 3 hops up and down
//	GET /graph, /api/graph         the mesh graph: every product, what it reads and what reads it (SVG; JSON)
//	GET /api/products              the list as JSON (same filters)
//	GET /api/products/{domain.product}
//	GET /tags, /tags/{tag}         where each column tag appears across the mesh (/api/tags… as JSON)
//	GET, POST /login, POST /logout  sign in with a token (a session; the cookie holds its id), sign out
//
// Restricted products need a token (Authorization: Bearer, or a sign-in session) of
// a principal in one of their groups; see Catalog.Access.
func (c *Catalog) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", c.home)
	mux.HandleFunc("GET /domains/{domain}", c.domainPage)
	mux.HandleFunc("GET /products/{name}", c.productPage)
	mux.HandleFunc("GET /graph", c.graphPage)
	mux.HandleFunc("GET /api/graph", c.apiGraph)
	mux.HandleFunc("GET /api/products", c.apiList)
	mux.HandleFunc("GET /api/products/{name}", c.apiProduct)
	mux.HandleFunc("GET /tags", c.tagsPage)
	mux.HandleFunc("GET /tags/{tag}", c.tagsPage)
	mux.HandleFunc("GET /api/tags", c.apiTags)
	mux.HandleFunc("GET /api/tags/{tag}", c.apiTags)
	mux.HandleFunc("GET /login", c.loginForm)
	mux.HandleFunc("POST /login", c.login)
	mux.HandleFunc("POST /logout", c.logout)
	// Cross-origin POSTs (a form on another site signing the browser in or out) are refused.
	return http.NewCrossOriginProtection().Handler(c.identify(signedInHeader(timed(mux))))
}

// Filter selects products for listings.
type Filter struct {
	Query, Domain, Owner string
	Tag, Classification  string      // a product tag; public, internal or restricted
	State                mesh.Status // matches freshness or quality
	Run                  string      // the last run: ok, failed (failed, blocked or waiting), none
	Alerts               bool        // only products with open alerts
}

func filterFrom(r *http.Request) Filter {
	q := r.URL.Query()
	return Filter{Query: strings.TrimSpace(q.Get("q")), Domain: q.Get("domain"), Owner: q.Get("owner"), State: mesh.Status(q.Get("state")),
		Tag: q.Get("tag"), Classification: q.Get("classification"), Run: q.Get("run"), Alerts: q.Get("alerts") != ""}
}

// status reports whether a product's status passes the filter's state, run and
// alerts parts.
func (f Filter) status(s Status) bool {
	if f.State != "" && s.Freshness.Status != f.State && s.Quality.Status != f.State && !(f.State == mesh.StatusFail && s.LastRun.Failed()) {
		return false
	}
	switch f.Run {
	case "ok":
		if s.LastRun == nil || s.LastRun.Failed() {
			return false
		}
	case "failed":
		if !s.LastRun.Failed() {
			return false
		}
	case "none":
		if s.LastRun != nil {
			return false
		}
	}
	return !f.Alerts || s.OpenAlerts > 0
}

// declared reports whether a product's declaration passes the filter's domain, owner
// and text parts: these need no I/O, so they run before any status is read.
func (f Filter) declared(d mesh.Domain, p mesh.Product) bool {
	owner := p.EffectiveOwner(d)
	if f.Domain != "" && d.Name != f.Domain || f.Owner != "" && owner != f.Owner ||
		f.Tag != "" && !slices.Contains(p.Tags, f.Tag) || f.Classification != "" && string(p.Classification) != f.Classification {
		return false
	}
	if f.Query == "" {
		return true
	}
	// Column names, docs and tags too: a consumer looks for "email" or "deal stage".
	words := append([]string{d.Name, p.Name, owner, p.Description}, p.Tags...)
	for _, col := range p.Schema {
		words = append(append(words, col.Name, col.Doc), col.Tags...)
	}
	hay := strings.ToLower(strings.Join(words, " "))
	for _, w := range strings.Fields(strings.ToLower(f.Query)) {
		if !strings.Contains(hay, w) {
			return false
		}
	}
	return true
}

// Search lists the products passing f, reading the status only of those whose
// declaration matches, as the request's caller may see them (List).
func (c *Catalog) Search(r *http.Request, f Filter) ([]Status, error) {
	out := []Status{} // an empty list, never null, for the API
	for _, e := range c.Mesh.Products() {
		if !f.declared(e.Domain, e.Product) {
			continue
		}
		s, err := c.listingStatus(r.Context(), e.Domain, e.Product)
		if err != nil {
			return nil, err
		}
		c.listed(r.Context(), e.Domain, e.Product, &s)
		if !f.status(s) {
			continue
		}
		out = append(out, s)
	}
	return out, nil
}

type listPage struct {
	Title    string
	Filter   Filter
	Products []Status
	Tags     map[string][]string
	Domains  []string
	Domain   *mesh.Domain
	// What the filters offer: every owner and product tag of the mesh.
	Owners, ProductTags []string
	Health              Health
	AsOf                *time.Time // when the statuses were read, with an index
}

// Health counts the listed products by state, for the overview above the list.
type Health struct {
	Fresh, Late, Stale, Unpublished int // freshness: pass, warn, fail, never published
	RunOK, RunFailed, NoRun         int // last run: published or unchanged; failed, blocked or waiting; none
	Alerting                        int // products with open alerts
}

func health(list []Status) Health {
	var h Health
	for _, s := range list {
		switch s.Freshness.Status {
		case mesh.StatusPass:
			h.Fresh++
		case mesh.StatusWarn:
			h.Late++
		case mesh.StatusFail:
			h.Stale++
		default:
			h.Unpublished++
		}
		switch {
		case s.LastRun == nil:
			h.NoRun++
		case s.LastRun.Failed():
			h.RunFailed++
		default:
			h.RunOK++
		}
		if s.OpenAlerts > 0 {
			h.Alerting++
		}
	}
	return h
}

func (c *Catalog) listPage(r *http.Request, f Filter) (listPage, error) {
	list, err := c.Search(r, f)
	if err != nil {
		return listPage{}, err
	}
	pg := listPage{Title: "Data products", Filter: f, Products: list, Tags: map[string][]string{}, Health: health(list)}
	owners, tags := map[string]bool{}, map[string]bool{}
	for _, d := range c.Mesh.Domains {
		pg.Domains = append(pg.Domains, d.Name)
		for _, p := range d.Products {
			pg.Tags[d.Name+"."+p.Name] = p.Tags
			owners[p.EffectiveOwner(d)] = true
			for _, t := range p.Tags {
				tags[t] = true
			}
		}
	}
	slices.Sort(pg.Domains)
	pg.Owners, pg.ProductTags = slices.Sorted(maps.Keys(owners)), slices.Sorted(maps.Keys(tags))
	if c.Index != nil {
		at := c.Index.AsOf()
		pg.AsOf = &at
	}
	return pg, nil
}

func (c *Catalog) home(w http.ResponseWriter, r *http.Request) {
	pg, err := c.listPage(r, filterFrom(r))
	if err != nil {
		fail(w, err)
		return
	}
	render(w, "home.html", pg)
}

func (c *Catalog) domainPage(w http.ResponseWriter, r *http.Request) {
	d, ok := c.Mesh.Domain(r.PathValue("domain"))
	if !ok {
		fail(w, errs.Errorf(errs.NotFound, "domain", "no domain %q: the home page lists them", r.PathValue("domain")))
		return
	}
	f := filterFrom(r)
	f.Domain = d.Name
	pg, err := c.listPage(r, f)
	if err != nil {
		fail(w, err)
		return
	}
	pg.Title, pg.Domain = "Domain "+d.Name, &d
	render(w, "home.html", pg)
}

func (c *Catalog) productPage(w http.ResponseWriter, r *http.Request) {
	det, err := c.Show(r.Context(), r.PathValue("name"), 10)
	c.drawLineage(r.Context(), &det)
	if access.IsDenied(err) {
		productDenied(w, det, err)
		return
	}
	if err != nil {
		fail(w, err)
		return
	}
	c.drawCharts(r.Context(), &det)
	render(w, "product.html", det)
}

func (c *Catalog) apiList(w http.ResponseWriter, r *http.Request) {
	list, err := c.Search(r, filterFrom(r))
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, list)
}

func (c *Catalog) apiProduct(w http.ResponseWriter, r *http.Request) {
	det, err := c.Show(r.Context(), r.PathValue("name"), 10)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, det)
}

func render(w http.ResponseWriter, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := pages.ExecuteTemplate(w, name, data); err != nil {
		http.Error(w, "render "+name+": "+err.Error(), http.StatusInternalServerError)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// fail answers with the error's kind as the status and its message as the body.
func fail(w http.ResponseWriter, err error) {
	if status := access.HTTPStatus(err); status != 0 {
		if status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", bearerChallenge)
		}
		writeJSON(w, status, map[string]string{"error": err.Error()})
		return
	}
	status := http.StatusInternalServerError
	switch errs.KindOf(err) {
	case errs.NotFound:
		status = http.StatusNotFound
	case errs.Invalid:
		status = http.StatusBadRequest
	case errs.Permission:
		status = http.StatusForbidden
	}
	writeJSON(w, status, map[string]string{"error": err.Error()})
}
