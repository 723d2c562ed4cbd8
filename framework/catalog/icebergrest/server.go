// Package icebergrest serves the mesh's output ports over the Apache Iceberg REST
// Catalog API, read-only, so that engines which speak only that protocol (DuckDB's
// ATTACH … (TYPE iceberg), Spark, Trino, PyIceberg) find the ports and read their
// files themselves. Namespaces are domains and tables are ports,
// <domain>.<product>_v<major>, every published major of every declared product.
//
// It is another door to the web catalog, not a second access model: the caller's
// bearer token is looked up in the catalog's access policy, a restricted port is
// listed only to, and loaded only by, a principal in its groups, and every load of
// one, allowed or refused, goes to the catalog's audit log.
package icebergrest

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/meshflow/meshflow/framework/access"
	"github.com/meshflow/meshflow/framework/catalog"
	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
)

// MountPath is where mesh serve mounts the API beside the web catalog: a client's
// catalog URI is http://HOST:PORT/iceberg, and it appends /v1/... itself.
const MountPath = "/iceberg"

// Warehouse is the one warehouse this catalog serves, and the {prefix} of its routes
// (the /v1/config override "prefix"): the name clients attach, e.g. DuckDB's
// ATTACH 'meshflow' AS mesh (TYPE iceberg, ...).
const Warehouse = "meshflow"

// Options configure the server; nil means defaults.
type Options struct {
	// Storage is the table configuration a reader needs to reach the warehouse's files,
	// sent with every loaded table (LoadTableResult.config), e.g. S3Storage's. Never
	// credentials: readers bring their own (see S3Storage).
	Storage map[string]string
}

// Server answers the Iceberg REST Catalog API over a catalog.Catalog.
type Server struct {
	cat     *catalog.Catalog
	storage map[string]string
}

// New returns the server for cat. It reads cat's Access and Audit at each request, so
// a policy reload or an audit log swapped in later (mesh serve's throttle) applies.
func New(cat *catalog.Catalog, o *Options) *Server {
	s := &Server{cat: cat}
	if o != nil {
		s.storage = o.Storage
	}
	return s
}

// S3Storage is the LoadTableResult config that tells a reader where an s3://
// warehouse's files are: the endpoint of an S3-compatible server (addressed by path,
// as mesh's own clients do) and the region, under the keys the Iceberg FileIOs read
// (Java's S3FileIO for Spark and Trino, PyIceberg, iceberg-go). It is nil for any
// other warehouse. It never holds a key: the mesh's own credentials can write every
// port, restricted ones included, so they are not vended; readers use their own
// (read-only) credentials, configured in the engine.
func S3Storage(warehouse, endpoint, region string) map[string]string {
	if !strings.HasPrefix(warehouse, "s3://") {
		return nil
	}
	out := map[string]string{}
	if endpoint != "" {
		out["s3.endpoint"] = endpoint
		out["s3.path-style-access"] = "true"
	}
	if region != "" {
		out["client.region"] = region
		out["s3.region"] = region
	}
	return out
}

// Handler serves the API at /v1/... (mount it under MountPath with http.StripPrefix):
//
//	GET  /v1/config                                   the prefix and the endpoints served
//	POST /v1/oauth/tokens                             client credentials → bearer token
//	GET  /v1/{prefix}/namespaces                      the domains
//	GET, HEAD /v1/{prefix}/namespaces/{ns}            a domain: owner, contact, description
//	GET  /v1/{prefix}/namespaces/{ns}/tables          its ports the caller may read
//	GET, HEAD /v1/{prefix}/namespaces/{ns}/tables/{t} a port: LoadTableResult
//
// {prefix} is Warehouse, or absent (/v1/namespaces...) for clients that never ask
// /v1/config. Everything that would write answers 501 UnsupportedOperationException.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/config", s.config)
	mux.HandleFunc("POST /v1/oauth/tokens", s.token)
	mux.HandleFunc("GET /v1/namespaces", s.listNamespaces)
	mux.HandleFunc("GET /v1/namespaces/{ns}", s.namespace)
	mux.HandleFunc("GET /v1/namespaces/{ns}/tables", s.listTables)
	mux.HandleFunc("GET /v1/namespaces/{ns}/tables/{table}", s.loadTable)
	mux.HandleFunc("/", unsupported)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The {prefix} segment is dropped here rather than matched by the mux: a
		// pattern /v1/{prefix}/namespaces would overlap /v1/namespaces/{ns}.
		if rest, ok := strings.CutPrefix(r.URL.Path, "/v1/"+Warehouse+"/"); ok {
			r = cloneWithPath(r, "/v1/"+rest)
		}
		if r.URL.Path == "/v1/oauth/tokens" {
			mux.ServeHTTP(w, r) // authenticates by its form, not by a bearer token
			return
		}
		pr, err := s.cat.Access.Authenticate(bearer(r))
		if err != nil {
			// An engine configured with a mistyped or revoked token must fail loudly,
			// not quietly see fewer tables than its owner expects.
			fail(w, err, "")
			return
		}
		mux.ServeHTTP(w, r.WithContext(access.NewContext(r.Context(), access.Caller{Principal: pr, Path: access.PathIceberg})))
	})
}

func cloneWithPath(r *http.Request, path string) *http.Request {
	r2 := r.Clone(r.Context())
	r2.URL.Path, r2.URL.RawPath = path, ""
	return r2
}

func bearer(r *http.Request) string {
	if scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		return strings.TrimSpace(tok)
	}
	return ""
}

// served are the endpoints /v1/config advertises; a client does not try the others.
var served = []string{
	"GET /v1/{prefix}/namespaces",
	"GET /v1/{prefix}/namespaces/{namespace}",
	"HEAD /v1/{prefix}/namespaces/{namespace}",
	"GET /v1/{prefix}/namespaces/{namespace}/tables",
	"GET /v1/{prefix}/namespaces/{namespace}/tables/{table}",
	"HEAD /v1/{prefix}/namespaces/{namespace}/tables/{table}",
}

type catalogConfig struct {
	Defaults  map[string]string `json:"defaults"`
	Overrides map[string]string `json:"overrides"`
	Endpoints []string          `json:"endpoints"`
}

func (s *Server) config(w http.ResponseWriter, r *http.Request) {
	if wh := r.URL.Query().Get("warehouse"); wh != "" && wh != Warehouse {
		writeError(w, http.StatusBadRequest, "BadRequestException",
			"warehouse "+strconv.Quote(wh)+" is not served here: this catalog serves one warehouse, "+strconv.Quote(Warehouse)+" (e.g. DuckDB: ATTACH '"+Warehouse+"' AS mesh (TYPE iceberg, ...))")
		return
	}
	writeJSON(w, http.StatusOK, catalogConfig{Defaults: map[string]string{}, Overrides: map[string]string{"prefix": Warehouse}, Endpoints: served})
}

type listNamespacesResponse struct {
	Namespaces    [][]string `json:"namespaces"`
	NextPageToken *string    `json:"next-page-token,omitempty"`
}

func (s *Server) listNamespaces(w http.ResponseWriter, r *http.Request) {
	pg, err := pageOf(r)
	if err != nil {
		fail(w, err, "")
		return
	}
	var names []string
	if parent := r.URL.Query().Get("parent"); parent != "" {
		// Domains are single-level: a domain has no namespaces beneath it.
		if _, err := s.domain(namespaceParts(parent)); err != nil {
			fail(w, err, "NoSuchNamespaceException")
			return
		}
	} else {
		for _, d := range s.cat.Mesh.Domains {
			names = append(names, d.Name)
		}
		slices.Sort(names)
	}
	names, next := pg.cut(names)
	out := listNamespacesResponse{Namespaces: [][]string{}, NextPageToken: next}
	for _, n := range names {
		out.Namespaces = append(out.Namespaces, []string{n})
	}
	writeJSON(w, http.StatusOK, out)
}

type namespaceResponse struct {
	Namespace  []string          `json:"namespace"`
	Properties map[string]string `json:"properties"`
}

func (s *Server) namespace(w http.ResponseWriter, r *http.Request) {
	d, err := s.domain(namespaceParts(r.PathValue("ns")))
	if err != nil {
		fail(w, err, "NoSuchNamespaceException")
		return
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	props := map[string]string{}
	for k, v := range map[string]string{"owner": d.Owner, "contact": d.Contact, "comment": d.Description} {
		if v != "" {
			props[k] = v
		}
	}
	writeJSON(w, http.StatusOK, namespaceResponse{Namespace: []string{d.Name}, Properties: props})
}

type tableIdentifier struct {
	Namespace []string `json:"namespace"`
	Name      string   `json:"name"`
}

type listTablesResponse struct {
	Identifiers   []tableIdentifier `json:"identifiers"`
	NextPageToken *string           `json:"next-page-token,omitempty"`
}

// listTables lists the domain's published ports that the caller may read: a
// restricted port is left out for everyone outside its groups. Leaving it out reads
// nothing of the port, so it is not audited (the web catalog's listings are not either).
func (s *Server) listTables(w http.ResponseWriter, r *http.Request) {
	pg, err := pageOf(r)
	if err != nil {
		fail(w, err, "")
		return
	}
	d, err := s.domain(namespaceParts(r.PathValue("ns")))
	if err != nil {
		fail(w, err, "NoSuchNamespaceException")
		return
	}
	published, err := s.cat.Ports.Tables(r.Context(), d.Name)
	if err != nil {
		fail(w, err, "")
		return
	}
	caller := access.FromContext(r.Context()).Principal
	var names []string
	for _, pt := range declaredPorts(d) {
		if slices.Contains(published, pt.id) && s.cat.Access.Decide(caller, d, pt.product) == nil {
			names = append(names, pt.id.Name)
		}
	}
	slices.Sort(names)
	names, next := pg.cut(names)
	out := listTablesResponse{Identifiers: []tableIdentifier{}, NextPageToken: next}
	for _, n := range names {
		out.Identifiers = append(out.Identifiers, tableIdentifier{Namespace: []string{d.Name}, Name: n})
	}
	writeJSON(w, http.StatusOK, out)
}

type loadTableResult struct {
	MetadataLocation string            `json:"metadata-location"`
	Metadata         any               `json:"metadata"` // table.Metadata marshals itself as the spec's JSON
	Config           map[string]string `json:"config"`
}

// loadTable hands the caller the port's current metadata, after the catalog's access
// decision: a restricted port's load is audited whether allowed or refused. HEAD
// answers whether the caller could load it, without reading or auditing anything.
func (s *Server) loadTable(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	d, err := s.domain(namespaceParts(r.PathValue("ns")))
	if err != nil {
		fail(w, err, "NoSuchNamespaceException")
		return
	}
	pt, err := declaredPort(d, r.PathValue("table"))
	if err != nil {
		fail(w, err, "NoSuchTableException")
		return
	}
	caller := access.FromContext(ctx)
	if r.Method == http.MethodHead {
		if err := s.cat.Access.Decide(caller.Principal, d, pt.product); err != nil {
			fail(w, err, "")
			return
		}
		if ok, err := s.published(ctx, pt.id); err != nil || !ok {
			fail(w, notPublished(pt.id, err), "NoSuchTableException")
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if err := s.cat.Access.Authorize(ctx, s.cat.Audit, access.Read{Principal: caller.Principal, Domain: d, Product: pt.product, What: access.Table, Path: caller.Path}); err != nil {
		fail(w, err, "")
		return
	}
	loc, md, err := s.cat.Ports.Metadata(ctx, pt.id)
	if err != nil {
		fail(w, notPublished(pt.id, err), "NoSuchTableException")
		return
	}
	config := s.storage
	if config == nil {
		config = map[string]string{}
	}
	writeJSON(w, http.StatusOK, loadTableResult{MetadataLocation: loc, Metadata: md, Config: config})
}

// published reports whether the port's table exists in the Iceberg catalog.
func (s *Server) published(ctx context.Context, id port.TableID) (bool, error) {
	tables, err := s.cat.Ports.Tables(ctx, id.Domain)
	return slices.Contains(tables, id), err
}

// notPublished turns a missing table into a NotFound that says why: the port is
// declared, but no run has published it yet.
func notPublished(id port.TableID, err error) error {
	if err == nil || errs.Is(err, errs.NotFound) {
		return errs.Errorf(errs.NotFound, "iceberg", "table %s is declared but not published yet: run its product (mesh run %s)", id, id.Domain)
	}
	return err
}

// domain returns the declared domain a namespace names; namespaces are one level.
func (s *Server) domain(parts []string) (mesh.Domain, error) {
	if len(parts) == 1 {
		if d, ok := s.cat.Mesh.Domain(parts[0]); ok {
			return d, nil
		}
	}
	name := strings.Join(parts, ".")
	return mesh.Domain{}, errs.Errorf(errs.NotFound, "iceberg", "namespace %q does not exist: namespaces are the mesh's domains (GET /v1/%s/namespaces lists them)", name, Warehouse)
}

// namespaceParts splits a namespace path or query value on the spec's separator, the
// unit separator 0x1F.
func namespaceParts(ns string) []string { return strings.Split(ns, "\x1f") }

// portTable is one published major of a product: its table and the product variant
// whose access rules it carries.
type portTable struct {
	id      port.TableID
	product mesh.Product
}

// declaredPorts are the tables of every major version of the domain's products.
func declaredPorts(d mesh.Domain) []portTable {
	var out []portTable
	for _, p := range d.Products {
		for _, v := range p.Majors() {
			out = append(out, portTable{id: port.TableID{Domain: d.Name, Name: v.PortName()}, product: v})
		}
	}
	return out
}

func declaredPort(d mesh.Domain, name string) (portTable, error) {
	for _, pt := range declaredPorts(d) {
		if pt.id.Name == name {
			return pt, nil
		}
	}
	return portTable{}, errs.Errorf(errs.NotFound, "iceberg", "table %s.%s does not exist: its tables are the ports <product>_v<major> of domain %s (GET .../namespaces/%s/tables lists them)", d.Name, name, d.Name, d.Name)
}

// page is a request's pageToken and pageSize. The spec asks a server that pages to
// return everything when the request sends no pageToken, and to start at the first
// item for an empty one.
type page struct {
	paged bool
	after string // the last name of the previous page
	size  int
}

// defaultPageSize is a page's length when a client pages without a size.
const defaultPageSize = 100

func pageOf(r *http.Request) (page, error) {
	q := r.URL.Query()
	pg := page{size: defaultPageSize}
	pg.after, pg.paged = q.Get("pageToken"), q.Has("pageToken")
	if v := q.Get("pageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return page{}, errs.Errorf(errs.Invalid, "iceberg", "pageSize %q: give a whole number of at least 1", v)
		}
		pg.size = n
	}
	return pg, nil
}

// cut returns the names of the page (names sorted) and the token of the next one, nil
// on the last page. The token is the page's last name, so a name added or removed
// between two requests neither repeats nor skips another.
func (pg page) cut(names []string) ([]string, *string) {
	if !pg.paged {
		return names, nil
	}
	if pg.after != "" {
		i, found := slices.BinarySearch(names, pg.after)
		if found {
			i++
		}
		names = names[i:]
	}
	if len(names) <= pg.size {
		return names, nil
	}
	next := names[pg.size-1]
	return names[:pg.size], &next
}
