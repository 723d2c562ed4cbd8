// Package transform runs a product's SQL model in embedded DuckDB over the raw files of
// its inputs and the data files of the ports it reads, and stages the result as one
// Parquet file typed exactly as the product's schema declares.
package transform

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	_ "github.com/duckdb/duckdb-go/v2" // registers the "duckdb" database/sql driver

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/globalid"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/quality"
	"github.com/meshflow/meshflow/framework/source"
)

// RawInput is a landed stream: every committed file of it, and its identity.
type RawInput struct {
	Source, Stream string
	Files          []string // local Parquet paths, oldest landing first
	PrimaryKey     []string
	CursorField    string
	// Deleted names the Bool field marking tombstones (source.StreamSpec.Deleted):
	// keys whose newest version is one are left out of <source>.<stream>.
	Deleted string
	Fields  []source.Field
	// Seqs are the sequence numbers of the landings read (lake.Manifest.Seq), and
	// FileSeqs the landing of each of Files: what an incremental run compares with the
	// landings its last publish read.
	Seqs, FileSeqs []int
}

// PortInput is another product's port at its current snapshot.
type PortInput struct {
	Domain, Product string
	Files           []string // local Parquet data files of the snapshot
	// Locations name Files as the position deletes do (port.ScanFiles), and Deletes
	// are the local position-delete files of the snapshot: the rows a merge by key
	// replaced, left out of the view. Both empty for a port never merged.
	Locations, Deletes []string
}

// Request is one model run.
type Request struct {
	Product  mesh.Product
	Raw      []RawInput
	Ports    []PortInput
	Output   string // local path of the Parquet file to write
	TempDir  string // DuckDB spill directory ("" = DuckDB's default)
	MemoryMB int    // DuckDB memory limit (0 = DuckDB's default)
	// Partition, a YYYY-MM-DD day of a partitioned product, keeps only the model's rows
	// of that day: they are what replaces the day in the port. "" = every row.
	Partition string
	// Incremental, for a product declared incremental (mesh.Incremental), runs the
	// model over the changed records of its input only (see Incremental). nil = over
	// every record, as for any product.
	Incremental *Incremental
}

// Result describes the staged output.
type Result struct {
	Rows      int64
	Watermark time.Time // max of the freshness column; zero if none is declared or all null
	// RowsHash identifies the row set: the row count and the sum of every row's hash,
	// which does not depend on row order and counts a repeated row twice.
	RowsHash string
	// Incremental says what an incremental run computed (Request.Incremental).
	Incremental *IncrementalResult
}

// Open returns an in-memory DuckDB whose session time zone is UTC (so a timestamp is
// never shifted by the host's zone) and which has the global-id macros of
// framework/globalid defined.
func Open(ctx context.Context, tempDir string, memoryMB int) (*sql.DB, error) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return nil, errs.E(errs.Internal, "open duckdb", err)
	}
	// One connection: views and tables live in that connection's in-memory catalog.
	db.SetMaxOpenConns(1)
	settings := []string{"SET TimeZone = 'UTC'"}
	if tempDir != "" {
		settings = append(settings, "SET temp_directory = "+quality.Literal(tempDir))
	}
	if memoryMB > 0 {
		settings = append(settings, fmt.Sprintf("SET memory_limit = '%dMB'", memoryMB))
	}
	for _, s := range settings {
		if _, err := db.ExecContext(ctx, s); err != nil {
			db.Close()
			return nil, errs.E(errs.Internal, "configure duckdb", err)
		}
	}
	// Every model and check can call the global-id macros, so company_gid and
	// person_gid are computed one way across the mesh.
	if _, err := db.ExecContext(ctx, globalid.Macros); err != nil {
		db.Close()
		return nil, errs.E(errs.Internal, "define the global-id macros", err)
	}
	return db, nil
}

// Run executes the model and writes Output.
func Run(ctx context.Context, req Request) (Result, error) {
	p := req.Product
	op := "transform " + p.Name
	db, err := Open(ctx, req.TempDir, req.MemoryMB)
	if err != nil {
		return Result{}, err
	}
	defer db.Close()
	for _, in := range req.Raw {
		if err := createRawViews(ctx, db, in); err != nil {
			return Result{}, err
		}
	}
	for _, in := range req.Ports {
		if err := createPortView(ctx, db, in); err != nil {
			return Result{}, err
		}
	}
	var inc *IncrementalResult
	if req.Incremental != nil {
		if inc, err = narrow(ctx, db, req); err != nil {
			return Result{}, err
		}
	}
	model := quality.Subquery(p.Model)
	if req.Partition != "" {
		// Validated as a real date, so quoting it cannot inject SQL.
		if err := p.ValidatePartition(req.Partition); err != nil {
			return Result{}, err
		}
		model = fmt.Sprintf("SELECT * FROM (%s) AS unfiltered WHERE %s = DATE %s", model, quality.Ident(p.PartitionBy), quality.Literal(req.Partition))
	}
	if err := createModelTable(ctx, db, p, model, op); err != nil {
		return Result{}, err
	}
	if inc != nil && inc.Merge {
		if err := writeKeys(ctx, db, p, req.Incremental.KeysOutput, inc); err != nil {
			return Result{}, errs.E(errs.KindOf(err), op, err)
		}
	}
	copySQL := fmt.Sprintf("COPY (SELECT * FROM model ORDER BY %s) TO %s (FORMAT parquet, COMPRESSION snappy)", idents(p.PrimaryKey), quality.Literal(req.Output))
	if _, err := db.ExecContext(ctx, copySQL); err != nil {
		return Result{}, errs.E(errs.Internal, op, err)
	}
	res := Result{Incremental: inc}
	if res.Rows, res.RowsHash, err = RowsHash(ctx, db, "model"); err != nil {
		return Result{}, errs.E(errs.Internal, op, err)
	}
	if col := p.Freshness.Column; col != "" {
		var wm sql.NullTime
		q := fmt.Sprintf("SELECT max(CAST(%s AS TIMESTAMP)) FROM model", quality.Ident(col))
		if err := db.QueryRowContext(ctx, q).Scan(&wm); err != nil {
			return Result{}, errs.E(errs.Internal, op, err)
		}
		if wm.Valid {
			res.Watermark = wm.Time.UTC()
		}
	}
	return res, nil
}

// createModelTable runs model over the inputs db holds and keeps its rows as the table
// "model", each column cast to the type p's schema declares: what a run publishes, and
// what a model test (Tester.Run) compares with its expected rows.
func createModelTable(ctx context.Context, db *sql.DB, p mesh.Product, model, op string) error {
	cols, err := describe(ctx, db, model)
	if err != nil {
		return errs.E(errs.Invalid, op, fmt.Errorf("the model SQL does not run: %w", err))
	}
	if err := matchSchema(p, cols); err != nil {
		return errs.E(errs.Invalid, op, err)
	}
	casts := make([]string, len(p.Schema))
	for i, c := range p.Schema {
		casts[i] = fmt.Sprintf("CAST(%s AS %s) AS %s", quality.Ident(c.Name), c.Type, quality.Ident(c.Name))
	}
	create := fmt.Sprintf("CREATE TABLE model AS SELECT %s FROM (%s) AS m", strings.Join(casts, ", "), model)
	if _, err := db.ExecContext(ctx, create); err != nil {
		return errs.E(errs.Invalid, op, fmt.Errorf("the model's values do not fit the declared types: %w", err))
	}
	return nil
}

// RowsHash counts a table's rows and identifies its row set (Result.RowsHash).
func RowsHash(ctx context.Context, db *sql.DB, table string) (int64, string, error) {
	return rowsHashOf(ctx, db, quality.Ident(table))
}

// rowsHashOf is RowsHash of a relation: a table name or a parenthesised query.
func rowsHashOf(ctx context.Context, db *sql.DB, relation string) (int64, string, error) {
	var n int64
	var sum string
	q := fmt.Sprintf("SELECT count(*), coalesce(sum(hash(t)::HUGEINT), 0)::VARCHAR FROM %s AS t", relation)
	if err := db.QueryRowContext(ctx, q).Scan(&n, &sum); err != nil {
		return 0, "", err
	}
	return n, fmt.Sprintf("%d:%s", n, sum), nil
}

// createRawViews makes <source>.<stream>_history (every landed version) and
// <source>.<stream> (the newest version of each record by the stream's cursor).
func createRawViews(ctx context.Context, db *sql.DB, in RawInput) error {
	schema := quality.Ident(in.Source)
	hist := schema + "." + quality.Ident(in.Stream+"_history")
	cur := schema + "." + quality.Ident(in.Stream)
	stmts := []string{"CREATE SCHEMA IF NOT EXISTS " + schema}
	if len(in.Files) == 0 {
		// Landed but empty: an empty table of the right shape keeps the model runnable.
		cols := make([]string, 0, len(in.Fields)+4)
		for _, f := range in.Fields {
			cols = append(cols, quality.Ident(f.Name)+" "+sqlType(f.Type))
		}
		cols = append(cols, quality.Ident(lake.ColExtractedAt)+" TIMESTAMP", quality.Ident(lake.ColRunID)+" VARCHAR",
			quality.Ident(lake.ColRaw)+" VARCHAR")
		stmts = append(stmts, fmt.Sprintf("CREATE TABLE %s (%s)", hist, strings.Join(cols, ", ")))
	} else {
		// Landings live under run=<id>/ folders: that is no column of the stream's
		// (DuckDB would add one, so the same records read after a compaction would differ).
		files := fmt.Sprintf("read_parquet([%s], union_by_name = true, hive_partitioning = false)", literals(in.Files))
		// A field the stream declares but no landing has yet (a connector that began
		// landing it after these files were written) reads as NULL, so a model that
		// uses it runs on old landings too.
		have, err := columnNames(ctx, db, "SELECT * FROM "+files)
		if err != nil {
			return errs.E(errs.Internal, fmt.Sprintf("read raw %s.%s", in.Source, in.Stream), err)
		}
		var missing []string
		for _, f := range in.Fields {
			if !have[f.Name] {
				missing = append(missing, fmt.Sprintf(", NULL::%s AS %s", sqlType(f.Type), quality.Ident(f.Name)))
			}
		}
		// Files landed before the cursor moved to the manifest carry a _cursor column;
		// leaving it out whether or not one is there gives the view one shape, so a
		// model reads old and new landings alike (and `SELECT *` means the same).
		stmts = append(stmts, fmt.Sprintf("CREATE VIEW %s AS SELECT COLUMNS(lambda c: c <> %s)%s FROM %s",
			hist, quality.Literal(lake.ColCursor), strings.Join(missing, ""), files))
	}
	stmts = append(stmts, fmt.Sprintf("CREATE VIEW %s AS %s", cur, newestSQL(hist, in)))
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return errs.E(errs.Internal, fmt.Sprintf("read raw %s.%s", in.Source, in.Stream), err)
		}
	}
	return nil
}

// newestSQL selects the newest version of each record of in from hist, its versions,
// leaving out the records whose newest version is a tombstone.
func newestSQL(hist string, in RawInput) string {
	order := quality.Ident(lake.ColExtractedAt) + " DESC"
	if in.CursorField != "" {
		order = quality.Ident(in.CursorField) + " DESC NULLS LAST, " + order
	}
	newest := fmt.Sprintf("SELECT * FROM %s QUALIFY row_number() OVER (PARTITION BY %s ORDER BY %s) = 1", hist, idents(in.PrimaryKey), order)
	if in.Deleted != "" {
		// A key whose newest version is a tombstone no longer exists (a deleted row);
		// _history keeps the tombstone.
		newest = fmt.Sprintf("SELECT * FROM (%s) WHERE %s IS NOT TRUE", newest, quality.Ident(in.Deleted))
	}
	return newest
}

func createPortView(ctx context.Context, db *sql.DB, in PortInput) error {
	op := fmt.Sprintf("read port %s.%s", in.Domain, in.Product)
	if len(in.Files) == 0 {
		return errs.Errorf(errs.NotFound, op, "the port has no data files yet: run %s.%s first", in.Domain, in.Product)
	}
	for _, s := range []string{
		"CREATE SCHEMA IF NOT EXISTS " + quality.Ident(in.Domain),
		fmt.Sprintf("CREATE VIEW %s.%s AS %s", quality.Ident(in.Domain), quality.Ident(in.Product), portRows(in)),
	} {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return errs.E(errs.Internal, op, err)
		}
	}
	return nil
}

type column struct{ name, typ string }

// columnNames are the names of the columns query returns.
func columnNames(ctx context.Context, db *sql.DB, query string) (map[string]bool, error) {
	cols, err := describe(ctx, db, query)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(cols))
	for _, c := range cols {
		out[c.name] = true
	}
	return out, nil
}

func describe(ctx context.Context, db *sql.DB, model string) ([]column, error) {
	rows, err := db.QueryContext(ctx, "DESCRIBE SELECT * FROM ("+model+") AS m")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []column
	for rows.Next() {
		var name, typ string
		var null, key, def, extra sql.NullString
		if err := rows.Scan(&name, &typ, &null, &key, &def, &extra); err != nil {
			return nil, err
		}
		out = append(out, column{name, typ})
	}
	return out, rows.Err()
}

// matchSchema makes the model and the declared schema agree by name: a missing or an
// undeclared column is an error that says which and what to do.
func matchSchema(p mesh.Product, cols []column) error {
	have := map[string]bool{}
	for _, c := range cols {
		have[c.name] = true
	}
	var problems []string
	for _, c := range p.Schema {
		if !have[c.Name] {
			problems = append(problems, fmt.Sprintf("column %q is declared in the schema but the model does not select it: add it to the SELECT or remove it from the schema", c.Name))
		}
	}
	for _, c := range cols {
		decl, ok := p.Column(c.name)
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("the model selects %q (%s) which is not in the schema: declare it with a Doc or drop it from the SELECT", c.name, c.typ))
		case decl.Type == mesh.Timestamp && c.typ == "TIMESTAMP WITH TIME ZONE":
			// Casting it away would silently depend on the session's zone; ports hold
			// UTC wall-clock timestamps, so the model says which instant it means.
			problems = append(problems, fmt.Sprintf("column %q is TIMESTAMP WITH TIME ZONE, but port timestamps are UTC without a zone: select `%s AT TIME ZONE 'UTC' AS %s` instead", c.name, c.name, c.name))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("model and schema disagree: %s", strings.Join(problems, "; "))
	}
	return nil
}

func idents(names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = quality.Ident(n)
	}
	return strings.Join(out, ", ")
}

func sqlType(t source.Type) string {
	switch t {
	case source.Int64:
		return "BIGINT"
	case source.Float64:
		return "DOUBLE"
	case source.Bool:
		return "BOOLEAN"
	case source.Timestamp:
		return "TIMESTAMP"
	case source.Date:
		return "DATE"
	}
	return "VARCHAR"
}

// CheckStaged runs checks against a staged model file.
func CheckStaged(ctx context.Context, path string, checks []mesh.Check, now time.Time) ([]quality.Result, error) {
	db, err := Open(ctx, "", 0)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE VIEW model AS SELECT * FROM read_parquet("+quality.Literal(path)+")"); err != nil {
		return nil, errs.E(errs.Internal, "open staged model", err)
	}
	return quality.Run(ctx, db, checks, now)
}

// KeysRequest is the query of a keyed stream (source.StreamSpec.Keys) with its inputs.
type KeysRequest struct {
	Name    string // the stream, for messages: source.stream
	SQL     string
	Raw     []RawInput // the stream's own landings (none before its first)
	Ports   []PortInput
	TempDir string
}

// Keys runs a keyed stream's query and returns its rows in order, each column as text
// ("" for NULL).
func Keys(ctx context.Context, req KeysRequest) ([]source.Key, error) {
	op := "list the keys of " + req.Name
	db, err := Open(ctx, req.TempDir, 0)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	for _, in := range req.Raw {
		if err := createRawViews(ctx, db, in); err != nil {
			return nil, err
		}
	}
	for _, in := range req.Ports {
		if err := createPortView(ctx, db, in); err != nil {
			return nil, err
		}
	}
	q := quality.Subquery(req.SQL)
	cols, err := describe(ctx, db, q)
	if err != nil {
		return nil, errs.E(errs.Invalid, op, fmt.Errorf("the keys SQL does not run: %w", err))
	}
	casts := make([]string, len(cols))
	for i, c := range cols {
		casts[i] = fmt.Sprintf("CAST(%s AS VARCHAR)", quality.Ident(c.name))
	}
	rows, err := db.QueryContext(ctx, fmt.Sprintf("SELECT %s FROM (%s) AS k", strings.Join(casts, ", "), q))
	if err != nil {
		return nil, errs.E(errs.Invalid, op, err)
	}
	defer rows.Close()
	var out []source.Key
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, errs.E(errs.Internal, op, err)
		}
		k := make(source.Key, len(cols))
		for i, c := range cols {
			k[c.name] = vals[i].String
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, errs.E(errs.Invalid, op, err)
	}
	return out, nil
}

// portRows selects the rows of a port's snapshot from its data files, leaving out the
// positions its delete files name (a merge by key's replaced rows; port.MergeByKey).
func portRows(in PortInput) string {
	files := literals(in.Files)
	if len(in.Deletes) == 0 {
		return fmt.Sprintf("SELECT * FROM read_parquet([%s], union_by_name = true)", files)
	}
	// A delete names a data file by its location; DuckDB reads the local copy.
	where := make([]string, len(in.Files))
	for i := range in.Files {
		where[i] = fmt.Sprintf("(%s, %s)", quality.Literal(in.Files[i]), quality.Literal(in.Locations[i]))
	}
	return fmt.Sprintf(`SELECT * EXCLUDE (_mf_file, file_row_number)
FROM read_parquet([%s], union_by_name = true, filename = '_mf_file', file_row_number = true)
ANTI JOIN (SELECT f.local AS _mf_file, d.pos AS file_row_number
           FROM read_parquet([%s]) AS d JOIN (VALUES %s) AS f(local, location) ON f.location = d.file_path)
USING (_mf_file, file_row_number)`, files, literals(in.Deletes), strings.Join(where, ", "))
}

// literals is a list of quoted SQL strings.
func literals(values []string) string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = quality.Literal(v)
	}
	return strings.Join(out, ", ")
}
