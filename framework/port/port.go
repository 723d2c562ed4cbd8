// Package port publishes the output ports of data products as Apache Iceberg tables —
// one table per port major version, <domain>.<product>_v<major> — and reads them back
// (snapshots, time travel, the data files DuckDB is fed, sample rows).
//
// The embedded default catalog is iceberg-go's SQL catalog on SQLite through
// modernc.org/sqlite (no cgo); the table data lives under a warehouse URL.
package port

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	sqlcat "github.com/apache/iceberg-go/catalog/sql"
	icebergio "github.com/apache/iceberg-go/io"
	// iceberg-go's FileIO for s3:// warehouses (and S3-compatible servers through
	// IOProperties); the AWS SDK it needs is in the build for gocloud's s3blob anyway.
	_ "github.com/apache/iceberg-go/io/gocloud/s3"
	"github.com/apache/iceberg-go/table"

	// The embedded catalog's database/sql driver ("sqlite"), pure Go.
	_ "modernc.org/sqlite"

	"github.com/meshflow/meshflow/framework/errs"
)

// catalogName partitions the rows of the SQL catalog's tables; one name for the whole
// mesh so that every process sees the same tables.
const catalogName = "meshflow"

// Options says where the catalog and the table data live.
type Options struct {
	// CatalogURI is the SQL catalog database: "sqlite:///abs/path/catalog.db" or a
	// plain path (embedded default), or "postgres://user:pass@host/db" when the
	// program has registered a PostgreSQL database/sql driver named "pgx" or
	// "postgres" (blank-import github.com/jackc/pgx/v5/stdlib in main).
	CatalogURI string
	// Warehouse is where table data and metadata are written: "file:///abs/path", a
	// plain directory path, or "s3://bucket/prefix". Other schemes (gs://, abfs://) need
	// iceberg-go's IO for that scheme registered in the program; see Open.
	Warehouse string
	// IOProperties configure iceberg-go's FileIO for the warehouse's scheme, e.g.
	// s3.endpoint, s3.region, s3.access-key-id, s3.secret-access-key (the constants
	// in github.com/apache/iceberg-go/io). They hold credentials: never log them.
	// They stay in this process; nothing writes them into table metadata.
	IOProperties map[string]string
}

// Catalog is the mesh's Iceberg catalog of output ports. It is safe for concurrent
// use; several processes may open the same catalog.
type Catalog struct {
	cat      *sqlcat.Catalog
	db       *sql.DB
	dialect  sqlcat.SupportedDialect
	props    iceberg.Properties // the catalog's: warehouse and IO properties
	meta     metaCache          // parsed metadata by table (loadTable)
	snapJSON snapshotJSON       // encoded snapshots by table (commitOnto)

	// maxAttempts bounds commit attempts on a stale base (tests lower it).
	maxAttempts int
	// beforeCommit, when set by tests, runs after a transaction is built and before
	// it is committed, so a test can make two publishers build on the same base.
	beforeCommit func(id TableID, attempt int)
}

// Open opens (creating if needed) the catalog database and checks the warehouse. New
// tables are placed under the warehouse; existing ones keep their location.
//
// An s3:// warehouse is served by iceberg-go's S3 IO, configured by IOProperties (or
// the AWS SDK's default credential chain without them). Other object stores need their
// IO registered by a blank import in main (io/gocloud/gcs, azure); Open refuses a
// scheme with none.
func Open(ctx context.Context, opts Options) (*Catalog, error) {
	const op = "port: open catalog"
	wh, err := normalizeWarehouse(opts.Warehouse)
	if err != nil {
		return nil, errs.E(errs.Invalid, op, err)
	}
	driver, dsn, dialect, err := catalogDSN(opts.CatalogURI)
	if err != nil {
		return nil, errs.E(errs.Invalid, op, err)
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, errs.E(errs.Invalid, op, err)
	}
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, errs.E(errs.Transient, op, fmt.Errorf("cannot reach the catalog database %s (MESHFLOW_CATALOG_URI): %w", redacted(opts.CatalogURI), err))
	}
	// NewCatalog creates the catalog's own tables if missing; it takes no context.
	props := iceberg.Properties{}
	maps.Copy(props, opts.IOProperties)
	props["warehouse"] = wh
	cat, err := sqlcat.NewCatalog(catalogName, db, dialect, props)
	if err != nil {
		_ = db.Close()
		return nil, errs.E(errs.Internal, op, err)
	}
	return &Catalog{cat: cat, db: db, dialect: dialect, props: props, maxAttempts: defaultMaxAttempts}, nil
}

// Close releases the catalog and its database connections.
func (c *Catalog) Close() error {
	// The sql catalog leaves a caller-supplied *sql.DB open, so both are closed here.
	err := errors.Join(c.cat.Close(), c.db.Close())
	if err != nil {
		return errs.E(errs.Internal, "port: close catalog", err)
	}
	return nil
}

// catalogDSN maps a CatalogURI to a database/sql driver, DSN and catalog dialect.
func catalogDSN(uri string) (driver, dsn string, dialect sqlcat.SupportedDialect, err error) {
	switch {
	case uri == "":
		return "", "", "", errors.New("CatalogURI is empty")
	case strings.HasPrefix(uri, "postgres://"), strings.HasPrefix(uri, "postgresql://"):
		// pgx is not a dependency of this module; the program that wants PostgreSQL
		// registers a driver, as it registers gocloud's URL openers.
		for _, name := range []string{"pgx", "postgres"} {
			if slices.Contains(sql.Drivers(), name) {
				return name, uri, sqlcat.Postgres, nil
			}
		}
		return "", "", "", errors.New("no PostgreSQL database/sql driver registered (blank-import github.com/jackc/pgx/v5/stdlib in main)")
	}
	path := uri
	if rest, ok := strings.CutPrefix(uri, "sqlite:"); ok {
		path = strings.TrimPrefix(rest, "//") // sqlite:///abs → /abs; sqlite:rel → rel
	} else if strings.Contains(uri, "://") {
		return "", "", "", fmt.Errorf("unsupported CatalogURI %q (want sqlite:///path, a path or postgres://)", uri)
	}
	if path == "" {
		return "", "", "", fmt.Errorf("CatalogURI %q has no path", uri)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", "", "", err
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return "", "", "", err
	}
	// WAL lets readers run beside the single writer; the busy timeout makes concurrent
	// writers (several workers, several Catalogs) wait for the lock instead of failing;
	// BEGIN IMMEDIATE takes the write lock up front, so two write transactions cannot
	// deadlock upgrading read locks (SQLite then fails one at once, timeout or not).
	q := url.Values{}
	q.Set("_busy_timeout", "10000")
	q.Set("_journal_mode", "WAL")
	q.Set("_txlock", "immediate")
	return "sqlite", "file:" + abs + "?" + q.Encode(), sqlcat.SQLite, nil
}

// redacted is a CatalogURI fit for an error message: a password in it is masked.
func redacted(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		scheme, _, _ := strings.Cut(uri, "://")
		return scheme + "://…" // it may hold a password url.Parse could not find
	}
	return u.Redacted()
}

// normalizeWarehouse turns the warehouse into a URL, creating a local directory.
func normalizeWarehouse(wh string) (string, error) {
	if wh == "" {
		return "", errors.New("the warehouse location is empty: set MESHFLOW_WAREHOUSE")
	}
	if !strings.Contains(wh, "://") {
		abs, err := filepath.Abs(wh)
		if err != nil {
			return "", err
		}
		wh = "file://" + abs
	}
	u, err := url.Parse(wh)
	if err != nil {
		return "", fmt.Errorf("warehouse %q: %w", wh, err)
	}
	if u.Scheme == "file" {
		if u.Path == "" || !filepath.IsAbs(u.Path) {
			return "", fmt.Errorf("warehouse %q: want file:///absolute/path", wh)
		}
		if err := os.MkdirAll(u.Path, 0o755); err != nil {
			return "", err
		}
		return strings.TrimSuffix(wh, "/"), nil
	}
	// Fail at Open rather than at the first publish.
	if !slices.Contains(icebergio.GetRegisteredSchemes(), u.Scheme) {
		return "", fmt.Errorf("warehouse %q: no iceberg IO registered for scheme %q", wh, u.Scheme)
	}
	return strings.TrimSuffix(wh, "/"), nil
}

// TableID names a port table: namespace Domain, table Name (e.g. crm, contacts_v1).
type TableID struct {
	Domain string
	Name   string
}

// PortTable is the table of a product's port major version: <product>_v<major>.
func PortTable(domain, product string, major int) TableID {
	return TableID{Domain: domain, Name: product + "_v" + strconv.Itoa(major)}
}

// ParseTableID parses "domain.name".
func ParseTableID(s string) (TableID, error) {
	d, n, _ := strings.Cut(s, ".")
	id := TableID{Domain: d, Name: n}
	if err := id.validate(); err != nil {
		return TableID{}, errs.E(errs.Invalid, "port: parse table id", err)
	}
	return id, nil
}

func (id TableID) String() string { return id.Domain + "." + id.Name }

func (id TableID) ident() table.Identifier { return table.Identifier{id.Domain, id.Name} }

func (id TableID) validate() error {
	// A dot would make a nested namespace or an ambiguous String().
	if id.Domain == "" || id.Name == "" || strings.Contains(id.Domain, ".") || strings.Contains(id.Name, ".") {
		return fmt.Errorf("invalid table id %q: want non-empty domain and name without dots", id.String())
	}
	return nil
}

// Snapshot is one committed version of a port table.
type Snapshot struct {
	ID         int64
	ParentID   int64 // 0 for the first snapshot
	Timestamp  time.Time
	Operation  string            // append, overwrite, delete, replace
	Properties map[string]string // the snapshot summary, including the publisher's properties
	Rows       int64             // the table's rows after this snapshot: its records less its deleted positions
	SchemaID   int
}

func toSnapshot(s *table.Snapshot) Snapshot {
	out := Snapshot{ID: s.SnapshotID, Timestamp: time.UnixMilli(s.TimestampMs).UTC(), Properties: map[string]string{}}
	if s.ParentSnapshotID != nil {
		out.ParentID = *s.ParentSnapshotID
	}
	if s.SchemaID != nil {
		out.SchemaID = *s.SchemaID
	}
	if s.Summary != nil {
		out.Operation = string(s.Summary.Operation)
		for k, v := range s.Summary.Properties {
			out.Properties[k] = v
		}
		out.Rows, _ = strconv.ParseInt(s.Summary.Properties["total-records"], 10, 64)
		// A merge by key deletes rows by position (MergeByKey), never one twice.
		deleted, _ := strconv.ParseInt(s.Summary.Properties["total-position-deletes"], 10, 64)
		out.Rows -= deleted
	}
	return out
}

// load loads a table; a missing table or namespace is errs.NotFound.
func (c *Catalog) load(ctx context.Context, op string, id TableID) (*table.Table, error) {
	if err := id.validate(); err != nil {
		return nil, errs.E(errs.Invalid, op, err)
	}
	tbl, err := c.loadTable(ctx, id)
	if err != nil {
		return nil, errs.E(kindOf(err), op, err)
	}
	return tbl, nil
}

// kindOf classifies an iceberg-go error that is not a commit conflict.
func kindOf(err error) errs.Kind {
	switch {
	case errors.Is(err, catalog.ErrNoSuchTable), errors.Is(err, catalog.ErrNoSuchNamespace):
		return errs.NotFound
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return errs.Canceled
	}
	return errs.Internal
}

// Current returns the current snapshot; false when the table or a snapshot does not exist.
func (c *Catalog) Current(ctx context.Context, id TableID) (Snapshot, bool, error) {
	tbl, err := c.load(ctx, "port: current snapshot of "+id.String(), id)
	if errs.Is(err, errs.NotFound) {
		return Snapshot{}, false, nil
	}
	if err != nil {
		return Snapshot{}, false, err
	}
	s := tbl.CurrentSnapshot()
	if s == nil {
		return Snapshot{}, false, nil
	}
	return snapshotOf(tbl, s), true, nil
}

// Snapshots lists main's snapshots, newest first: the current one and those it was
// built on. The snapshots only a branch holds are not main's: BranchSnapshots lists
// a branch's.
func (c *Catalog) Snapshots(ctx context.Context, id TableID) ([]Snapshot, error) {
	tbl, err := c.load(ctx, "port: snapshots of "+id.String(), id)
	if err != nil {
		return nil, err
	}
	cur := tbl.CurrentSnapshot()
	if cur == nil {
		return []Snapshot{}, nil
	}
	return lineage(tbl, cur), nil
}

// SnapshotAsOf returns the snapshot that was current at t (time travel by time);
// false when the table had no snapshot yet at t.
func (c *Catalog) SnapshotAsOf(ctx context.Context, id TableID, t time.Time) (Snapshot, bool, error) {
	tbl, err := c.load(ctx, "port: time travel in "+id.String(), id)
	if err != nil {
		return Snapshot{}, false, err
	}
	s := tbl.SnapshotAsOf(t.UnixMilli(), true)
	if s == nil {
		return Snapshot{}, false, nil
	}
	return snapshotOf(tbl, s), true, nil
}

// Tables lists the port tables of a domain, or of all domains when domain is "".
func (c *Catalog) Tables(ctx context.Context, domain string) ([]TableID, error) {
	const op = "port: list tables"
	var namespaces []table.Identifier
	if domain != "" {
		namespaces = []table.Identifier{{domain}}
	} else {
		ns, err := c.cat.ListNamespaces(ctx, nil)
		if err != nil {
			return nil, errs.E(kindOf(err), op, err)
		}
		namespaces = ns
	}
	var out []TableID
	for _, ns := range namespaces {
		for ident, err := range c.cat.ListTables(ctx, ns) {
			if errors.Is(err, catalog.ErrNoSuchNamespace) {
				break // a domain that never published has no tables
			}
			if err != nil {
				return nil, errs.E(kindOf(err), op, err)
			}
			if len(ident) == 2 {
				out = append(out, TableID{Domain: ident[0], Name: ident[1]})
			}
		}
	}
	slices.SortFunc(out, func(a, b TableID) int { return strings.Compare(a.String(), b.String()) })
	return out, nil
}

// TableProperties returns all the table's properties: the publisher's (owner,
// description, version...) and Iceberg's own (write.*, schema.name-mapping.default...).
func (c *Catalog) TableProperties(ctx context.Context, id TableID) (map[string]string, error) {
	tbl, err := c.load(ctx, "port: table properties of "+id.String(), id)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(tbl.Properties()))
	for k, v := range tbl.Properties() {
		out[k] = v
	}
	return out, nil
}

// scanAt opens a scan of the snapshot asOf (0 = current); the caller closes it.
func scanAt(tbl *table.Table, asOf int64, opts ...table.ScanOption) (*table.Scan, error) {
	if asOf != 0 && tbl.SnapshotByID(asOf) == nil {
		return nil, errs.Errorf(errs.NotFound, "", "snapshot %d does not exist", asOf)
	}
	return tbl.Scan(append(opts, table.WithSnapshotID(asOf))...), nil
}

// DataFiles returns the local paths of the data files of snapshot asOf (0 = current),
// as planned by iceberg-go, so DuckDB can read the port without its iceberg extension.
// It fails when the snapshot has delete files: reading the data files alone would
// then return deleted rows. A table without a snapshot has no files. Files in an
// object-store warehouse are not local: use LocalDataFiles.
func (c *Catalog) DataFiles(ctx context.Context, id TableID, asOf int64) ([]string, error) {
	return c.LocalDataFiles(ctx, id, asOf, "")
}

// LocalDataFiles is DataFiles for any warehouse: data files that are not on the local
// filesystem (s3://…) are copied into dir through the table's FileIO, and their copies
// returned; the caller removes dir. Local files are returned in place. With dir ""
// a remote file is an error.
func (c *Catalog) LocalDataFiles(ctx context.Context, id TableID, asOf int64, dir string) ([]string, error) {
	files, err := c.LocalScan(ctx, id, asOf, dir)
	if err != nil {
		return nil, err
	}
	if n := len(files.PositionDeletes); n > 0 {
		return nil, errs.Errorf(errs.Invalid, "port: data files of "+id.String(), "the snapshot has %d delete files; its rows cannot be read from the data files alone: read them with LocalScan", n)
	}
	return files.Data, nil
}

// localPath strips file:// from a data file location; false for other schemes.
func localPath(loc string) (string, bool) {
	if p, ok := strings.CutPrefix(loc, "file://"); ok {
		return p, true
	}
	return loc, !strings.Contains(loc, "://")
}

// copyDataFile copies the data file at loc (scheme://bucket/key) to dir/bucket/key.
// Keeping the bucket and key makes the copies of one scan distinct without renaming
// them, and keeps the ".parquet" DuckDB recognises them by.
func copyDataFile(op string, fsys icebergio.IO, loc, dir string) (string, error) {
	u, err := url.Parse(loc)
	if err != nil || u.Host == "" || strings.Contains(u.Path, "..") {
		return "", errs.Errorf(errs.Invalid, op, "data file location %q is not a bucket URL", loc)
	}
	src, err := fsys.Open(loc)
	if err != nil {
		return "", errs.E(kindOfIO(err), op, fmt.Errorf("open data file %s: %w", loc, err))
	}
	defer src.Close()
	p := filepath.Join(dir, u.Host, filepath.FromSlash(u.Path))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", errs.E(errs.Internal, op, err)
	}
	dst, err := os.Create(p)
	if err != nil {
		return "", errs.E(errs.Internal, op, err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return "", errs.E(errs.Transient, op, fmt.Errorf("copy data file %s: %w", loc, err))
	}
	if err := dst.Close(); err != nil {
		return "", errs.E(errs.Internal, op, err)
	}
	return p, nil
}

// kindOfIO classifies a FileIO error: a missing object is NotFound (a snapshot whose
// files were expired), anything else may pass.
func kindOfIO(err error) errs.Kind {
	if errors.Is(err, fs.ErrNotExist) {
		return errs.NotFound
	}
	return errs.Transient
}

// ReadAll reads the rows of snapshot asOf (0 = current) through iceberg-go's scan,
// at most limit rows when limit > 0 — for sample rows and tests, not for bulk reads.
// The caller releases the table.
func (c *Catalog) ReadAll(ctx context.Context, id TableID, asOf int64, limit int) (arrow.Table, error) {
	op := "port: read " + id.String()
	tbl, err := c.load(ctx, op, id)
	if err != nil {
		return nil, err
	}
	var opts []table.ScanOption
	if limit > 0 {
		opts = append(opts, table.WithLimit(int64(limit)))
	}
	scan, err := scanAt(tbl, asOf, opts...)
	if err != nil {
		return nil, errs.E(errs.KindOf(err), op, err)
	}
	defer scan.Close()
	out, err := scan.ToArrowTable(ctx)
	if err != nil {
		return nil, errs.E(kindOf(err), op, err)
	}
	return out, nil
}
