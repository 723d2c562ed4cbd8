package transform

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/quality"
)

// Incremental runs the model of an incremental product (mesh.Incremental) over only the
// records of its input that changed — or over everything, when it cannot — and says
// which keys of the port the rows replace.
type Incremental struct {
	// Changes are what changed in the input since the last publish; nil computes the
	// whole port (the first run, a full refresh, a changed declaration or product input).
	Changes *Changes
	// Lookups are the product's other raw inputs, by source.stream: when one's newest
	// records differ from what the last publish read, the run computes everything.
	Lookups map[string]Lookup
	// KeysOutput is the local path of the Parquet file that gets the replaced keys, one
	// row each, named and typed as the port's key columns.
	KeysOutput string
}

// Changes are an input's records that changed since the last publish.
type Changes struct {
	// NewFiles, for a raw input, are the files of its landings after those the last
	// publish read (some of its RawInput.Files).
	NewFiles []string
	// Seen are the newest cursor and _extracted_at of the rows the last publish read.
	Seen Marks
	// Previous, for a product input, is the snapshot the last publish read.
	Previous *PortInput
}

// Marks are the newest cursor value and _extracted_at of a raw input's rows, as text
// ("" = unknown). When every new version is newer than them, no new version can be a
// late arrival, and a record's newest version is among the new landings alone.
type Marks struct {
	Cursor    string `json:",omitempty"`
	Extracted string `json:",omitempty"`
}

// Lookup is a raw input read whole by an incremental product.
type Lookup struct {
	Seen   string // the state the last publish read (LookupState); "" = unknown
	Landed bool   // whether it landed since: without a landing it cannot have changed
}

// IncrementalResult says what an incremental run computed.
type IncrementalResult struct {
	// Merge: the rows replace the rows of the Keys in the port. Otherwise they are
	// the whole port, and Why says why.
	Merge bool
	Why   string
	// Keys are how many keys the rows replace (KeysOutput); KeysHash identifies them.
	Keys     int64
	KeysHash string
	// Seen are the marks of every row of the raw input read so far: the next run's.
	Seen Marks
	// Lookups are the states of the raw lookups read: what the next run compares with.
	Lookups map[string]string
	// NewOnly: no new version could be a late arrival, so the newest versions were
	// read from the new landings alone.
	NewOnly bool
}

// changedKeys is the table of the input keys of the records that changed.
const changedKeys = "_mf_changed"

// narrow replaces the views of the incremental input with views of its changed
// records: their keys in changedKeys, every version of them in
// <source>.<stream>_history and the newest one in <source>.<stream> (a product input:
// the current rows of the changed keys). It decides first whether the run may: a
// lookup that changed, or no Changes, computes everything. The views of every input
// exist when it is called.
func narrow(ctx context.Context, db *sql.DB, req Request) (*IncrementalResult, error) {
	p, inc := req.Product, req.Incremental
	op := "transform " + p.Name + " incrementally"
	res := &IncrementalResult{Lookups: map[string]string{}}
	var driving *RawInput
	for i, in := range req.Raw {
		name := in.Source + "." + in.Stream
		if p.Incremental.Input == mesh.Raw(in.Source, in.Stream) {
			driving = &req.Raw[i]
			continue
		}
		l := inc.Lookups[name]
		state := l.Seen
		if l.Landed || state == "" {
			var err error
			if state, err = LookupState(ctx, db, in); err != nil {
				return nil, errs.E(errs.Internal, op, err)
			}
		}
		res.Lookups[name] = state
		if state != l.Seen && res.Why == "" && inc.Changes != nil {
			res.Why = fmt.Sprintf("%s changed since the last publish", name)
		}
	}
	full := inc.Changes == nil || res.Why != ""
	if driving != nil {
		if err := narrowRaw(ctx, db, *driving, inc.Changes, full, res); err != nil {
			return nil, errs.E(errs.KindOf(err), op, err)
		}
	} else if !full {
		if err := narrowPort(ctx, db, req, inc.Changes); err != nil {
			return nil, errs.E(errs.KindOf(err), op, err)
		}
	}
	res.Merge = !full
	return res, nil
}

// LookupState identifies the newest version of every record of a raw input — what a
// model reading <source>.<stream> sees — leaving out when and by which run each was
// landed, so a landing that brings the same records again leaves it the same.
func LookupState(ctx context.Context, db *sql.DB, in RawInput) (string, error) {
	rel := fmt.Sprintf("(SELECT * EXCLUDE (%s, %s) FROM %s.%s)", quality.Ident(lake.ColExtractedAt), quality.Ident(lake.ColRunID),
		quality.Ident(in.Source), quality.Ident(in.Stream))
	_, h, err := rowsHashOf(ctx, db, rel)
	return h, err
}

// narrowRaw narrows a raw input to the records with versions in the new landings, and
// records the marks of what was read. full leaves the views as they are.
func narrowRaw(ctx context.Context, db *sql.DB, in RawInput, ch *Changes, full bool, res *IncrementalResult) error {
	schema, stream := quality.Ident(in.Source), in.Stream
	hist := schema + "." + quality.Ident(stream+"_history")
	if full {
		m, err := marks(ctx, db, in, hist, Marks{})
		res.Seen = m
		return err
	}
	// The landings since, as views of their own: <source>.<stream>_history and
	// <source>.<stream> of the new files only.
	fresh := in
	fresh.Source, fresh.Files = "_mf_new_"+in.Source, ch.NewFiles
	if err := createRawViews(ctx, db, fresh); err != nil {
		return err
	}
	freshHist := quality.Ident(fresh.Source) + "." + quality.Ident(stream+"_history")
	keys := idents(in.PrimaryKey)
	var nulls []string
	for _, k := range in.PrimaryKey {
		nulls = append(nulls, quality.Ident(k)+" IS NULL")
	}
	all := quality.Ident("_mf_all_" + stream + "_history")
	join := make([]string, len(in.PrimaryKey))
	for i, k := range in.PrimaryKey {
		join[i] = fmt.Sprintf("h.%s = c.%s", quality.Ident(k), quality.Ident(k))
	}
	for _, s := range []string{
		fmt.Sprintf("CREATE TABLE %s AS SELECT DISTINCT %s FROM %s", changedKeys, keys, freshHist),
		// The whole history stays readable to the narrowed views under another name.
		fmt.Sprintf("ALTER VIEW %s RENAME TO %s", hist, all),
		fmt.Sprintf("CREATE VIEW %s AS SELECT h.* FROM %s.%s AS h SEMI JOIN %s AS c ON %s", hist, schema, all, changedKeys, strings.Join(join, " AND ")),
	} {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return errs.E(errs.Internal, "", err)
		}
	}
	var n int64
	if err := db.QueryRowContext(ctx, fmt.Sprintf("SELECT count(*) FROM %s WHERE %s", changedKeys, strings.Join(nulls, " OR "))).Scan(&n); err != nil {
		return errs.E(errs.Internal, "", err)
	}
	if n > 0 {
		return errs.Errorf(errs.Invalid, "", "%d new version(s) of %s.%s have no key (%s is null): an incremental product needs every record's key; run it with --full-refresh, or drop Incremental",
			n, in.Source, in.Stream, strings.Join(in.PrimaryKey, ", "))
	}
	newOnly, err := newerThan(ctx, db, in, freshHist, ch.Seen)
	if err != nil {
		return err
	}
	res.NewOnly = newOnly
	cur := schema + "." + quality.Ident(stream)
	newest := newestSQL(hist, in)
	if newOnly {
		newest = "SELECT * FROM " + quality.Ident(fresh.Source) + "." + quality.Ident(stream)
	}
	for _, s := range []string{"DROP VIEW " + cur, fmt.Sprintf("CREATE VIEW %s AS %s", cur, newest)} {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return errs.E(errs.Internal, "", err)
		}
	}
	if ch.Seen.Cursor == "" && ch.Seen.Extracted == "" {
		// Nothing says how new the rows before were: read them.
		res.Seen, err = marks(ctx, db, in, schema+"."+all, Marks{})
	} else {
		res.Seen, err = marks(ctx, db, in, freshHist, ch.Seen)
	}
	return err
}

// newerThan reports whether every version in hist ranks above every version the
// marks cover, by the order that picks a record's newest version (its cursor, then
// _extracted_at): then none of them is a late arrival.
func newerThan(ctx context.Context, db *sql.DB, in RawInput, hist string, seen Marks) (bool, error) {
	col, mark := in.CursorField, seen.Cursor
	if col == "" {
		col, mark = lake.ColExtractedAt, seen.Extracted
	}
	if mark == "" {
		return false, nil
	}
	typ, err := columnType(ctx, db, hist, col)
	if err != nil {
		return false, err
	}
	var ok sql.NullBool
	q := fmt.Sprintf("SELECT count(*) FILTER (WHERE %s IS NULL) = 0 AND coalesce(min(%s) > CAST(%s AS %s), true) FROM %s",
		quality.Ident(col), quality.Ident(col), quality.Literal(mark), typ, hist)
	if err := db.QueryRowContext(ctx, q).Scan(&ok); err != nil {
		return false, errs.E(errs.Internal, "", err)
	}
	return ok.Valid && ok.Bool, nil
}

// marks are the newest cursor and _extracted_at of hist's rows and of seen.
func marks(ctx context.Context, db *sql.DB, in RawInput, hist string, seen Marks) (Marks, error) {
	newest := func(col, mark string) (string, error) {
		typ, err := columnType(ctx, db, hist, col)
		if err != nil {
			return "", err
		}
		q := fmt.Sprintf("SELECT CAST(max(%s) AS VARCHAR) FROM %s", quality.Ident(col), hist)
		if mark != "" {
			q = fmt.Sprintf("SELECT CAST(greatest(max(%s), CAST(%s AS %s)) AS VARCHAR) FROM %s", quality.Ident(col), quality.Literal(mark), typ, hist)
		}
		var v sql.NullString
		if err := db.QueryRowContext(ctx, q).Scan(&v); err != nil {
			return "", errs.E(errs.Internal, "", err)
		}
		return v.String, nil
	}
	var m Marks
	var err error
	if in.CursorField != "" {
		if m.Cursor, err = newest(in.CursorField, seen.Cursor); err != nil {
			return Marks{}, err
		}
	}
	m.Extracted, err = newest(lake.ColExtractedAt, seen.Extracted)
	return m, err
}

// columnType is the DuckDB type of a column of a relation.
func columnType(ctx context.Context, db *sql.DB, relation, col string) (string, error) {
	cols, err := describe(ctx, db, "SELECT * FROM "+relation)
	if err != nil {
		return "", errs.E(errs.Internal, "", err)
	}
	for _, c := range cols {
		if c.name == col {
			return c.typ, nil
		}
	}
	return "", errs.Errorf(errs.Invalid, "", "%s has no column %q", relation, col)
}

// narrowPort narrows a product input to the keys of the rows that differ between the
// snapshot the last publish read and the current one: added, changed or removed.
func narrowPort(ctx context.Context, db *sql.DB, req Request, ch *Changes) error {
	in := req.Product.Incremental.Input
	if ch.Previous == nil {
		return errs.Errorf(errs.Internal, "", "no previous snapshot of %s to compare with", in)
	}
	_, inputKey := req.Product.Incremental.Columns()
	prev := *ch.Previous
	prev.Domain = "_mf_prev_" + in.Domain
	if err := createPortView(ctx, db, prev); err != nil {
		return err
	}
	schema := quality.Ident(in.Domain)
	cur := schema + "." + quality.Ident(in.Product)
	all := quality.Ident("_mf_all_" + in.Product)
	before := quality.Ident(prev.Domain) + "." + quality.Ident(in.Product)
	keys := idents(inputKey)
	// A row is compared whole, by name: a column added since makes every row differ.
	rowsOf := func(rel string) string {
		return fmt.Sprintf("SELECT %s, CAST(to_json(t) AS VARCHAR) AS _mf_row FROM %s AS t", keys, rel)
	}
	join := make([]string, len(inputKey))
	for i, k := range inputKey {
		join[i] = fmt.Sprintf("r.%s = c.%s", quality.Ident(k), quality.Ident(k))
	}
	changed := fmt.Sprintf("CREATE TABLE %s AS SELECT DISTINCT %s FROM ((%s EXCEPT ALL %s) UNION ALL (%s EXCEPT ALL %s)) WHERE %s",
		changedKeys, keys, rowsOf(cur), rowsOf(before), rowsOf(before), rowsOf(cur), notNull(inputKey))
	for _, now := range req.Ports {
		if now.Domain == in.Domain && now.Product == in.Product && slices.Equal(now.Files, ch.Previous.Files) && slices.Equal(now.Deletes, ch.Previous.Deletes) {
			// The very files read last time: nothing changed, and comparing would read
			// the whole input twice.
			changed = fmt.Sprintf("CREATE TABLE %s AS SELECT %s FROM %s WHERE false", changedKeys, keys, cur)
		}
	}
	for _, s := range []string{
		changed,
		fmt.Sprintf("ALTER VIEW %s RENAME TO %s", cur, all),
		fmt.Sprintf("CREATE VIEW %s AS SELECT r.* FROM %s.%s AS r SEMI JOIN %s AS c ON %s", cur, schema, all, changedKeys, strings.Join(join, " AND ")),
	} {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return errs.E(errs.Invalid, "", fmt.Errorf("compare the snapshots of %s by %s: %w", in, strings.Join(inputKey, ", "), err))
		}
	}
	return nil
}

func notNull(cols []string) string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = quality.Ident(c) + " IS NOT NULL"
	}
	return strings.Join(out, " AND ")
}

// writeKeys checks that every row of the model table holds the key of a changed record
// — a row of another key would sit beside that key's rows in the port — and writes the
// changed keys, named and typed as the port's key columns, to the keys file.
func writeKeys(ctx context.Context, db *sql.DB, p mesh.Product, path string, res *IncrementalResult) error {
	portKey, inputKey := p.Incremental.Columns()
	join := make([]string, len(portKey))
	sel := make([]string, len(portKey))
	for i := range portKey {
		join[i] = fmt.Sprintf("m.%s = c.%s", quality.Ident(portKey[i]), quality.Ident(inputKey[i]))
		c, _ := p.Column(portKey[i])
		sel[i] = fmt.Sprintf("CAST(c.%s AS %s) AS %s", quality.Ident(inputKey[i]), c.Type, quality.Ident(portKey[i]))
	}
	var stray sql.NullString
	q := fmt.Sprintf("SELECT CAST(to_json(m) AS VARCHAR) FROM (SELECT %s FROM model) AS m ANTI JOIN %s AS c ON %s LIMIT 1",
		idents(portKey), changedKeys, strings.Join(join, " AND "))
	if err := db.QueryRowContext(ctx, q).Scan(&stray); err != nil && err != sql.ErrNoRows {
		return errs.E(errs.Invalid, "", fmt.Errorf("match the model's rows with the changed records of %s: %w", p.Incremental.Input, err))
	}
	if stray.Valid {
		return errs.Errorf(errs.Invalid, "", "the model returned a row with key %s, which is not the key of a changed record of %s: Incremental.Key (%s) must map each key column of the port to the column of %s the model copies into it",
			stray.String, p.Incremental.Input, p.Incremental, p.Incremental.Input)
	}
	keys := fmt.Sprintf("(SELECT %s FROM %s AS c)", strings.Join(sel, ", "), changedKeys)
	var err error
	if res.Keys, res.KeysHash, err = rowsHashOf(ctx, db, keys); err != nil {
		return errs.E(errs.Internal, "", err)
	}
	if _, err := db.ExecContext(ctx, fmt.Sprintf("COPY %s TO %s (FORMAT parquet, COMPRESSION snappy)", keys, quality.Literal(path))); err != nil {
		return errs.E(errs.Internal, "", err)
	}
	return nil
}
