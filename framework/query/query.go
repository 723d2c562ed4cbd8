// Package query runs read-only DuckDB SQL over the mesh's published ports. Each port
// the SQL names as <domain>.<product>_v<major> — and only those — is attached as a view
// over the Parquet data files of its current snapshot, or of an older snapshot named
// with `AS OF <snapshot id>` or `AS OF '<time>'`, once the port's access rules allow
// it. Then DuckDB's file and network access is switched off, so the query can read the
// attached ports and nothing else.
package query

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
	"github.com/meshflow/meshflow/framework/quality"
	"github.com/meshflow/meshflow/framework/transform"
)

const op = "query"

// Request is one query.
type Request struct {
	SQL   string
	Mesh  mesh.Mesh     // the declared ports: every major version of every product
	Ports *port.Catalog // where they are published
	// ScratchDir is where a private directory for DuckDB's spill files and the copies
	// of ports that cannot be read in place is made and, after the query, removed;
	// "" = the OS temp directory.
	ScratchDir string
	// Authorize is asked about every port the SQL names before anything of the port
	// is read; an error refuses the whole query. nil allows every port.
	Authorize func(ctx context.Context, e mesh.Entry, table port.TableID) error
	// MaxRows stops the result after that many rows (Result.Truncated then says more
	// exist); 0 = every row.
	MaxRows int
	// Parquet, when set, is the file the result is written to, by DuckDB's COPY: types
	// are kept exactly and rows are not held in memory. Result.Rows is then empty.
	Parquet string
	// MemoryMB limits DuckDB's memory (0 = DuckDB's default, 80% of the RAM); a query
	// that needs more fails with ErrMemoryLimit.
	MemoryMB int
	// Timeout stops the query after that long with ErrTimeout (0 = none).
	Timeout time.Duration
	// Branch, when set, reads each port named without AS OF at the head of its branch
	// of that name — a preview (port.Branch) — or at main's current snapshot when it
	// has none; Read says which.
	Branch string
}

// The limits a query can run into; the error of Run wraps them, so a caller can name
// its own setting (a flag) in the fix.
var (
	ErrMemoryLimit = errors.New("the query needs more memory than its limit")
	ErrTimeout     = errors.New("the query ran longer than its time limit")
)

// Result is a query's answer.
type Result struct {
	Columns []Column
	// Rows hold nil (NULL), bool, int64, uint64, float32, float64, Number, string,
	// time.Time, or Rendered for the types without a plain Go form (lists, structs,
	// maps, intervals, UUIDs, blobs...).
	Rows      [][]any
	Truncated bool   // MaxRows cut the result short
	Read      []Read // the ports read, with the snapshot of each
	Written   int64  // rows written to Request.Parquet
}

// Column is a result column with its DuckDB type.
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"` // as DuckDB names it: BIGINT, VARCHAR, DECIMAL(18,3), INTEGER[]...
}

// Number is an exact number too wide for int64 or float64 (HUGEINT, DECIMAL), in
// decimal text.
type Number string

// Rendered is a value of a type without a plain Go form, rendered by DuckDB.
type Rendered struct {
	Text string // as DuckDB prints it
	JSON string // as DuckDB's to_json encodes it
}

// Read is a port the query read and the snapshot it read.
type Read struct {
	Table    port.TableID
	Snapshot port.Snapshot
	AsOf     string // the AS OF argument as written; "" for the current snapshot
	Branch   string // the branch read (Request.Branch); "" = main
}

// portDecl is a declared port: a product at one of its major versions.
type portDecl struct {
	entry mesh.Entry
	id    port.TableID
}

// declaredPorts maps lower-case "domain.port" to every port the mesh declares.
func declaredPorts(m mesh.Mesh) map[string]portDecl {
	out := map[string]portDecl{}
	for _, e := range m.Products() {
		for _, p := range e.Product.Majors() {
			id := port.TableID{Domain: e.Domain.Name, Name: p.PortName()}
			out[strings.ToLower(id.String())] = portDecl{entry: mesh.Entry{Domain: e.Domain, Product: p}, id: id}
		}
	}
	return out
}

// Run runs the query. It attaches only the ports the SQL names, so an unrelated port —
// unpublished, or one the caller may not read — is never touched. A query past
// req.Timeout is interrupted (DuckDB stops at the context's end).
func Run(ctx context.Context, req Request) (*Result, error) {
	qctx := ctx
	if req.Timeout > 0 {
		var cancel context.CancelFunc
		qctx, cancel = context.WithTimeout(ctx, req.Timeout)
		defer cancel()
	}
	res, err := run(qctx, req)
	switch {
	case err == nil:
		return res, nil
	case ctx.Err() == nil && errors.Is(qctx.Err(), context.DeadlineExceeded):
		return nil, errs.E(errs.Invalid, op, fmt.Errorf("%w of %s: DuckDB interrupted it", ErrTimeout, req.Timeout))
	}
	const oom = "Out of Memory Error"
	if _, duck, ok := strings.Cut(err.Error(), oom); ok {
		limit := "DuckDB's default"
		if req.MemoryMB > 0 {
			limit = fmt.Sprintf("%d MB", req.MemoryMB)
		}
		return nil, errs.E(errs.Invalid, op, fmt.Errorf("%w of %s (DuckDB: %s%s)", ErrMemoryLimit, limit, oom, firstLine(duck)))
	}
	return nil, err
}

func run(ctx context.Context, req Request) (*Result, error) {
	if req.Ports == nil {
		return nil, errs.Errorf(errs.Internal, op, "no port catalog")
	}
	toks, err := lex(req.SQL)
	if err != nil {
		return nil, errs.E(errs.Invalid, op, err)
	}
	if len(toks) == 0 {
		return nil, errs.Errorf(errs.Invalid, op, `no SQL: give a query such as "SELECT * FROM marketing.crm_companies_v1 LIMIT 10"`)
	}
	body := trimTrailingSemicolons(req.SQL, toks)
	asofs, err := findAsOf(body, toks)
	if err != nil {
		return nil, errs.E(errs.Invalid, op, err)
	}
	ports := declaredPorts(req.Mesh)

	// Each AS OF becomes a view name DuckDB can parse; the nonce keeps it from meaning
	// anything the query itself could spell.
	nonce := strconv.FormatUint(rand.Uint64(), 36)
	placeholder := func(k int) string { return fmt.Sprintf("@asof%s_%d", nonce, k) }
	asofPorts := make([]portDecl, len(asofs))
	parseNames := make([]string, len(asofs))
	for k, a := range asofs {
		d, ok := ports[strings.ToLower(a.domain+"."+a.port)]
		if !ok {
			return nil, unknownPort(a.domain+"."+a.port, ports)
		}
		asofPorts[k] = d
		parseNames[k] = quality.Ident(d.id.Domain) + "." + quality.Ident(d.id.Name+placeholder(k))
	}

	dir, err := os.MkdirTemp(req.ScratchDir, "mesh-query-")
	if err != nil {
		return nil, errs.Errorf(errs.Invalid, op, "make a scratch directory: %v: set MESHFLOW_WORKDIR to a writable directory", err)
	}
	defer os.RemoveAll(dir)
	// DuckDB may always read and write its temp directory, even with external access
	// off: it must be this private one, never a shared directory such as /tmp.
	db, err := transform.Open(ctx, dir, req.MemoryMB)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	conn, err := db.Conn(ctx) // transform.Open allows one connection; views live in it
	if err != nil {
		return nil, errs.E(errs.Internal, op, err)
	}
	defer conn.Close()

	refs, err := parseTables(ctx, conn, splice(body, asofs, parseNames), toks[0].text)
	if err != nil {
		return nil, err
	}
	plain, aliased, unqualified, err := classify(refs, ports, asofs, asofPorts, placeholder)
	if err != nil {
		return nil, err
	}

	// Ask about every port before reading anything of any of them, snapshot ids included.
	for _, d := range distinct(append(slices.Clone(plain), asofPorts...)) {
		if err := authorize(ctx, req.Authorize, d); err != nil {
			return nil, err
		}
	}

	att := &attacher{cat: req.Ports, conn: conn, dir: dir, views: map[string]string{}}
	res := &Result{}
	for _, d := range distinct(plain) {
		snap, branch, err := currentOn(ctx, req.Ports, d, req.Branch)
		if err != nil {
			return nil, err
		}
		if _, err := att.view(ctx, d.id, snap, false); err != nil {
			return nil, err
		}
		res.Read = append(res.Read, Read{Table: d.id, Snapshot: snap, Branch: branch})
	}
	finalNames := make([]string, len(asofs))
	for k, a := range asofs {
		d := asofPorts[k]
		snap, err := snapshotAsOf(ctx, req.Ports, d, a.arg)
		if err != nil {
			return nil, err
		}
		view, err := att.view(ctx, d.id, snap, true)
		if err != nil {
			return nil, err
		}
		finalNames[k] = quality.Ident(d.id.Domain) + "." + quality.Ident(view)
		if !aliased[k] {
			// Keeps "crm_companies_v1.name" meaning the port, as it would without AS OF.
			finalNames[k] += " AS " + quality.Ident(d.id.Name)
		}
		res.Read = append(res.Read, Read{Table: d.id, Snapshot: snap, AsOf: a.arg.text})
	}

	out := ""
	if req.Parquet != "" {
		out = filepath.Join(dir, "result.parquet")
	}
	if err := lockDown(ctx, conn, att.files); err != nil {
		return nil, err
	}

	// The body parsed as exactly one SELECT, so it cannot close the parenthesis early;
	// the newline ends a trailing -- comment.
	wrapped := "SELECT * FROM (\n" + splice(body, asofs, finalNames) + "\n) AS q"
	cols, err := describe(ctx, conn, wrapped)
	if err != nil {
		return nil, duckError(err, unqualified, ports)
	}
	res.Columns = cols
	if out != "" {
		if req.MaxRows > 0 {
			wrapped += " LIMIT " + strconv.Itoa(req.MaxRows)
		}
		r, err := conn.ExecContext(ctx, fmt.Sprintf("COPY (%s) TO %s (FORMAT parquet, COMPRESSION snappy)", wrapped, quality.Literal(out)))
		if err != nil {
			return nil, duckError(err, unqualified, ports)
		}
		if res.Written, err = r.RowsAffected(); err != nil {
			return nil, errs.E(errs.Internal, op, err)
		}
		if err := moveFile(out, req.Parquet); err != nil {
			return nil, err
		}
		return res, nil
	}
	if err := readRows(ctx, conn, wrapped, req.MaxRows, res); err != nil {
		return nil, duckError(err, unqualified, ports)
	}
	return res, nil
}

// tableRef is a table the parsed query reads.
type tableRef struct {
	catalog, schema, table, alias string
	at                            bool // DuckDB's own AT (VERSION => …) clause
}

// parseTables parses sql with DuckDB's parser alone (json_serialize_sql binds nothing
// and reads no file), refuses anything but one SELECT, and returns every table it reads.
func parseTables(ctx context.Context, conn *sql.Conn, sqlText, firstWord string) ([]tableRef, error) {
	var js string
	if err := conn.QueryRowContext(ctx, "SELECT CAST(json_serialize_sql(CAST(? AS VARCHAR)) AS VARCHAR)", sqlText).Scan(&js); err != nil {
		return nil, errs.E(errs.Internal, op, err)
	}
	var tree struct {
		Error        bool              `json:"error"`
		ErrorType    string            `json:"error_type"`
		ErrorMessage string            `json:"error_message"`
		Statements   []json.RawMessage `json:"statements"`
	}
	if err := json.Unmarshal([]byte(js), &tree); err != nil {
		return nil, errs.E(errs.Internal, op, err)
	}
	switch {
	case tree.Error && tree.ErrorType == "not implemented":
		return nil, errs.Errorf(errs.Invalid, op, "only a read-only query can run (SELECT, WITH, FROM, VALUES, DESCRIBE, SUMMARIZE), not %s: mesh query never changes or exports anything but its result", strings.ToUpper(firstWord))
	case tree.Error:
		return nil, errs.Errorf(errs.Invalid, op, "the SQL does not parse: %s", tree.ErrorMessage)
	case len(tree.Statements) != 1:
		return nil, errs.Errorf(errs.Invalid, op, "the SQL has %d statements: run one query at a time", len(tree.Statements))
	}
	var refs []tableRef
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if v["type"] == "BASE_TABLE" {
				str := func(k string) string { s, _ := v[k].(string); return s }
				refs = append(refs, tableRef{catalog: str("catalog_name"), schema: str("schema_name"), table: str("table_name"), alias: str("alias"), at: v["at_clause"] != nil})
			}
			for _, c := range v {
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	var stmt any
	if err := json.Unmarshal(tree.Statements[0], &stmt); err != nil {
		return nil, errs.E(errs.Internal, op, err)
	}
	walk(stmt)
	return refs, nil
}

// builtinSchemas are DuckDB's own schemas and catalogs: never a port.
var builtinSchemas = map[string]bool{"main": true, "information_schema": true, "pg_catalog": true, "memory": true, "system": true, "temp": true}

// classify sorts the parsed table references into ports read at their current
// snapshot, which AS OF references carry their own alias, and unqualified names (for
// hints when DuckDB does not find them). A schema-qualified name that is not a port
// is an error: only ports are attached.
func classify(refs []tableRef, ports map[string]portDecl, asofs []asOf, asofPorts []portDecl, placeholder func(int) string) (plain []portDecl, aliased []bool, unqualified []string, err error) {
	aliased = make([]bool, len(asofs))
	seen := make([]bool, len(asofs))
	for _, r := range refs {
		if r.catalog != "" && !strings.EqualFold(r.catalog, "memory") {
			continue
		}
		if r.schema == "" {
			unqualified = append(unqualified, r.table)
			continue
		}
		name := r.schema + "." + r.table
		if r.at {
			return nil, nil, nil, errs.Errorf(errs.Invalid, op, "%s: write time travel as %s AS OF <snapshot id> or AS OF '<time>'", name, name)
		}
		if k := asofIndex(r, asofPorts, placeholder); k >= 0 {
			seen[k], aliased[k] = true, r.alias != ""
			continue
		}
		if builtinSchemas[strings.ToLower(r.schema)] {
			continue
		}
		d, ok := ports[strings.ToLower(name)]
		if !ok {
			return nil, nil, nil, unknownPort(name, ports)
		}
		plain = append(plain, d)
	}
	for k, ok := range seen {
		if !ok {
			a := asofs[k]
			return nil, nil, nil, errs.Errorf(errs.Invalid, op, "%s.%s AS OF %s is not a table the query reads: AS OF goes right after a port in FROM or JOIN", a.domain, a.port, a.arg.text)
		}
	}
	return plain, aliased, unqualified, nil
}

func asofIndex(r tableRef, asofPorts []portDecl, placeholder func(int) string) int {
	for k, d := range asofPorts {
		if strings.EqualFold(r.schema, d.id.Domain) && r.table == d.id.Name+placeholder(k) {
			return k
		}
	}
	return -1
}

// distinct keeps the first of each port, sorted by name.
func distinct(ds []portDecl) []portDecl {
	seen := map[port.TableID]bool{}
	var out []portDecl
	for _, d := range ds {
		if !seen[d.id] {
			seen[d.id] = true
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b portDecl) int { return strings.Compare(a.id.String(), b.id.String()) })
	return out
}

func authorize(ctx context.Context, auth func(context.Context, mesh.Entry, port.TableID) error, d portDecl) error {
	if auth == nil {
		return nil
	}
	err := auth(ctx, d.entry, d.id)
	if err == nil {
		return nil
	}
	if _, ok := errs.As(err); ok {
		return err // already says what and why, with its kind
	}
	return errs.E(errs.Permission, "query: read "+d.id.String(), err)
}

// unknownPort names the closest declared ports.
func unknownPort(name string, ports map[string]portDecl) error {
	want := strings.ToLower(name)
	type cand struct {
		name string
		dist int
	}
	var cands []cand
	domain, portName, _ := strings.Cut(want, ".")
	var sameDomain []string
	for k, d := range ports {
		dist := levenshtein(want, k)
		// A missing _vN and a misspelt domain are the usual slips.
		if dist <= 3 || strings.HasPrefix(k, want+"_v") || strings.HasSuffix(k, "."+portName) {
			cands = append(cands, cand{d.id.String(), dist})
		}
		if strings.EqualFold(d.id.Domain, domain) {
			sameDomain = append(sameDomain, d.id.String())
		}
	}
	slices.SortFunc(cands, func(a, b cand) int {
		if a.dist != b.dist {
			return a.dist - b.dist
		}
		return strings.Compare(a.name, b.name)
	})
	var names []string
	for _, c := range cands[:min(len(cands), 3)] {
		names = append(names, c.name)
	}
	hint := ""
	switch {
	case len(names) > 0:
		hint = "did you mean " + strings.Join(names, " or ") + "? "
	case len(sameDomain) > 0:
		slices.Sort(sameDomain)
		hint = "that domain's ports are " + strings.Join(sameDomain, ", ") + ". "
	}
	return errs.Errorf(errs.NotFound, op, "no port %s: %sports are named domain.product_vMAJOR; `mesh products` lists them", name, hint)
}

// current is the port's current snapshot, or the error that says how to publish one.
func current(ctx context.Context, cat *port.Catalog, d portDecl) (port.Snapshot, error) {
	snap, ok, err := cat.Current(ctx, d.id)
	if err != nil {
		return port.Snapshot{}, err
	}
	if !ok {
		return port.Snapshot{}, errs.Errorf(errs.NotFound, op, "%s is not published yet: run `mesh run %s`", d.id, d.entry.Ref())
	}
	return snap, nil
}

// currentOn is the head of the port's branch when it has one (and the branch's name),
// else its current snapshot.
func currentOn(ctx context.Context, cat *port.Catalog, d portDecl, branch string) (port.Snapshot, string, error) {
	if branch != "" {
		b, ok, err := cat.Branch(ctx, d.id, branch)
		if err != nil || ok {
			return b.Head, branch, err
		}
	}
	snap, err := current(ctx, cat, d)
	return snap, "", err
}

// snapshotAsOf resolves `AS OF <id>` or `AS OF '<time>'`.
func snapshotAsOf(ctx context.Context, cat *port.Catalog, d portDecl, arg token) (port.Snapshot, error) {
	if _, err := current(ctx, cat, d); err != nil {
		return port.Snapshot{}, err
	}
	snaps, err := cat.Snapshots(ctx, d.id)
	if err != nil {
		return port.Snapshot{}, err
	}
	if arg.kind == tokNumber {
		id, err := strconv.ParseInt(arg.text, 10, 64)
		if err != nil {
			return port.Snapshot{}, errs.Errorf(errs.Invalid, op, "%s AS OF %s: a snapshot id is a whole number; `mesh show %s` lists them", d.id, arg.text, d.entry.Ref())
		}
		for _, s := range snaps {
			if s.ID == id {
				return s, nil
			}
		}
		return port.Snapshot{}, errs.Errorf(errs.NotFound, op, "%s has no snapshot %d: its recent snapshots are %s (`mesh show %s` lists them)", d.id, id, recent(snaps), d.entry.Ref())
	}
	if !strings.HasPrefix(arg.text, "'") {
		return port.Snapshot{}, errs.Errorf(errs.Invalid, op, "%s AS OF %s: give a snapshot id or a time in single quotes", d.id, arg.text)
	}
	text := strings.ReplaceAll(arg.text[1:len(arg.text)-1], "''", "'")
	t, err := parseTime(text)
	if err != nil {
		return port.Snapshot{}, errs.Errorf(errs.Invalid, op, "%s AS OF '%s': want a snapshot id, an RFC 3339 time ('2026-01-02T15:04:05Z') or 'YYYY-MM-DD HH:MM:SS' (UTC)", d.id, text)
	}
	s, ok, err := cat.SnapshotAsOf(ctx, d.id, t)
	if err != nil {
		return port.Snapshot{}, err
	}
	if !ok {
		first := snaps[len(snaps)-1]
		return port.Snapshot{}, errs.Errorf(errs.NotFound, op, "%s had no snapshot yet at %s: its first is %d, published %s", d.id, t.UTC().Format(time.RFC3339Nano), first.ID, first.Timestamp.UTC().Format(time.RFC3339Nano))
	}
	return s, nil
}

// timeLayouts are the AS OF time forms; those without a zone are UTC.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05Z07:00", "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"}

func parseTime(s string) (time.Time, error) {
	var err error
	for _, l := range timeLayouts {
		var t time.Time
		if t, err = time.Parse(l, strings.TrimSpace(s)); err == nil {
			return t, nil
		}
	}
	return time.Time{}, err
}

// recent lists the newest snapshots, newest first.
func recent(snaps []port.Snapshot) string {
	var out []string
	for _, s := range snaps[:min(len(snaps), 5)] {
		out = append(out, fmt.Sprintf("%d (%s)", s.ID, s.Timestamp.UTC().Format(time.RFC3339)))
	}
	return strings.Join(out, ", ")
}

// attacher creates one view per (port, snapshot) and remembers the files they read.
type attacher struct {
	cat   *port.Catalog
	conn  *sql.Conn
	dir   string
	views map[string]string // "<table>@<snapshot>/<asof>" → view name
	files []string
}

// view creates (once) the view of snapshot snap of port id and returns its name: the
// port's own name for the current snapshot, "<port>@<snapshot id>" for an AS OF one.
func (a *attacher) view(ctx context.Context, id port.TableID, snap port.Snapshot, asOf bool) (string, error) {
	name := id.Name
	if asOf {
		name = fmt.Sprintf("%s@%d", id.Name, snap.ID)
	}
	key := id.Domain + "." + name
	if v, ok := a.views[key]; ok {
		return v, nil
	}
	// Files of an object-store warehouse are copied into the scratch dir, not held in memory.
	files, err := a.cat.LocalDataFiles(ctx, id, snap.ID, filepath.Join(a.dir, "ports"))
	if err != nil && !errs.Is(err, errs.Invalid) {
		return "", err
	}
	if err != nil || len(files) == 0 {
		// The data files have delete files, or there are none (an empty snapshot): read
		// the snapshot through iceberg-go, which handles both, into one Parquet file
		// here. It passes through memory.
		p := filepath.Join(a.dir, fmt.Sprintf("%s.%s@%d.parquet", id.Domain, id.Name, snap.ID))
		if err := copyToParquet(ctx, a.cat, id, snap.ID, p); err != nil {
			return "", err
		}
		files = []string{p}
	}
	lits := make([]string, len(files))
	for i, f := range files {
		lits[i] = quality.Literal(f)
	}
	for _, s := range []string{
		"CREATE SCHEMA IF NOT EXISTS " + quality.Ident(id.Domain),
		fmt.Sprintf("CREATE VIEW %s.%s AS SELECT * FROM read_parquet([%s], union_by_name = true)", quality.Ident(id.Domain), quality.Ident(name), strings.Join(lits, ", ")),
	} {
		if _, err := a.conn.ExecContext(ctx, s); err != nil {
			return "", errs.E(errs.Internal, fmt.Sprintf("query: attach %s at snapshot %d", id, snap.ID), err)
		}
	}
	a.views[key] = name
	a.files = append(a.files, files...)
	return name, nil
}

func copyToParquet(ctx context.Context, cat *port.Catalog, id port.TableID, snapshot int64, path string) error {
	tbl, err := cat.ReadAll(ctx, id, snapshot, 0)
	if err != nil {
		return err
	}
	defer tbl.Release()
	f, err := os.Create(path)
	if err != nil {
		return errs.E(errs.Internal, op, err)
	}
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Snappy))
	werr := pqarrow.WriteTable(tbl, f, 64*1024, props, pqarrow.DefaultWriterProps())
	// WriteTable closes the file itself when it succeeds.
	if cerr := f.Close(); cerr != nil && !errors.Is(cerr, os.ErrClosed) && werr == nil {
		werr = cerr
	}
	if werr != nil {
		return errs.E(errs.Internal, fmt.Sprintf("query: copy %s at snapshot %d", id, snapshot), werr)
	}
	return nil
}

// lockDown switches DuckDB's file and network access off, except for the ports'
// files, and locks the configuration so the query cannot switch it back on.
func lockDown(ctx context.Context, conn *sql.Conn, files []string) error {
	var stmts []string
	if len(files) > 0 {
		lits := make([]string, len(files))
		for i, f := range files {
			lits[i] = quality.Literal(f)
		}
		stmts = append(stmts, "SET allowed_paths = ["+strings.Join(lits, ", ")+"]")
	}
	stmts = append(stmts, "SET enable_external_access = false", "SET lock_configuration = true")
	for _, s := range stmts {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			return errs.E(errs.Internal, "query: lock down duckdb", err)
		}
	}
	return nil
}

func describe(ctx context.Context, conn *sql.Conn, query string) ([]Column, error) {
	rows, err := conn.QueryContext(ctx, "DESCRIBE "+query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Column
	for rows.Next() {
		var c Column
		var null, key, def, extra sql.NullString
		if err := rows.Scan(&c.Name, &c.Type, &null, &key, &def, &extra); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// plainTypes are the DuckDB types whose database/sql values Go formats faithfully;
// the others are rendered by DuckDB itself.
var plainTypes = map[string]bool{
	"BOOLEAN": true, "TINYINT": true, "SMALLINT": true, "INTEGER": true, "BIGINT": true, "HUGEINT": true,
	"UTINYINT": true, "USMALLINT": true, "UINTEGER": true, "UBIGINT": true, "UHUGEINT": true,
	"FLOAT": true, "DOUBLE": true, "VARCHAR": true, "DATE": true, "TIME": true,
	"TIMESTAMP": true, "TIMESTAMP_S": true, "TIMESTAMP_MS": true, "TIMESTAMP_NS": true, "TIMESTAMP WITH TIME ZONE": true,
}

func plainType(t string) bool { return plainTypes[t] || strings.HasPrefix(t, "DECIMAL(") }

// readRows runs the query and reads at most maxRows rows (0 = all) into res.
func readRows(ctx context.Context, conn *sql.Conn, wrapped string, maxRows int, res *Result) error {
	sel := make([]string, 0, len(res.Columns))
	for _, c := range res.Columns {
		col := "q." + quality.Ident(c.Name)
		if plainType(c.Type) {
			sel = append(sel, col)
		} else {
			sel = append(sel, "CAST("+col+" AS VARCHAR)", "CAST(to_json("+col+") AS VARCHAR)")
		}
	}
	query := fmt.Sprintf("SELECT %s FROM (%s) AS q", strings.Join(sel, ", "), wrapped)
	if maxRows > 0 {
		// One more than asked for says whether there are more, without reading them.
		query += " LIMIT " + strconv.Itoa(maxRows+1)
	}
	rows, err := conn.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	raw := make([]any, len(sel))
	ptrs := make([]any, len(sel))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	for rows.Next() {
		if maxRows > 0 && len(res.Rows) == maxRows {
			res.Truncated = true
			break
		}
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		row := make([]any, len(res.Columns))
		j := 0
		for i, c := range res.Columns {
			if plainType(c.Type) {
				row[i] = normalize(raw[j])
				j++
				continue
			}
			if raw[j] != nil {
				text, _ := raw[j].(string)
				js, _ := raw[j+1].(string)
				row[i] = Rendered{Text: text, JSON: js}
			}
			j += 2
		}
		res.Rows = append(res.Rows, row)
	}
	return rows.Err()
}

// normalize maps the driver's values to the few types Result documents.
func normalize(v any) any {
	switch v := v.(type) {
	case int8:
		return int64(v)
	case int16:
		return int64(v)
	case int32:
		return int64(v)
	case uint8:
		return int64(v)
	case uint16:
		return int64(v)
	case uint32:
		return int64(v)
	case *big.Int:
		return Number(v.String())
	case duckdb.Decimal:
		return Number(decimalText(v))
	case time.Time:
		return v.UTC()
	}
	return v
}

// duckError wraps an error DuckDB raised binding or running the query: a refused file
// access is a permission error, a missing table gets the ports it may have meant.
func duckError(err error, unqualified []string, ports map[string]portDecl) error {
	msg := err.Error()
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return errs.E(errs.Canceled, op, err)
	case strings.Contains(msg, "Permission Error"):
		return errs.Errorf(errs.Permission, op, "%s (mesh query reads only ports, named domain.product_vMAJOR: no files, URLs or settings)", firstLine(msg))
	case strings.Contains(msg, "Table with name"):
		var hints []string
		for _, u := range unqualified {
			for _, d := range ports {
				if strings.EqualFold(u, d.id.Name) {
					hints = append(hints, d.id.String())
				}
			}
		}
		if len(hints) > 0 {
			slices.Sort(hints)
			return errs.Errorf(errs.NotFound, op, "%s: name ports with their domain: %s", firstLine(msg), strings.Join(hints, ", "))
		}
	}
	return errs.E(errs.Invalid, op, err)
}

// decimalText writes a decimal with all its scale's digits, as DuckDB does (1.50, not
// 1.5: the scale is part of the type).
func decimalText(d duckdb.Decimal) string {
	digits := new(big.Int).Abs(d.Value).String()
	sign := ""
	if d.Value.Sign() < 0 {
		sign = "-"
	}
	scale := int(d.Scale)
	if scale == 0 {
		return sign + digits
	}
	if len(digits) <= scale {
		digits = strings.Repeat("0", scale-len(digits)+1) + digits
	}
	return sign + digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// moveFile moves src to dst, copying when they are on different filesystems; dst
// appears whole or not at all.
func moveFile(src, dst string) error {
	if err := os.Rename(src, dst); err == nil {
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*")
	if err != nil {
		return errs.Errorf(errs.Invalid, op, "write %s: %v", dst, err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing to remove
	in, err := os.Open(src)
	if err != nil {
		tmp.Close()
		return errs.E(errs.Internal, op, err)
	}
	defer in.Close()
	_, err = io.Copy(tmp, in)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), dst)
	}
	if err != nil {
		return errs.Errorf(errs.Invalid, op, "write %s: %v", dst, err)
	}
	return nil
}
