package transform

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/parquet/file"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/quality"
)

// PortRows is the SQL that selects the rows of a port's snapshot from its local files,
// leaving out the positions its delete files name: what a reader of a port an
// incremental product merged into must apply.
func PortRows(in PortInput) string { return portRows(in) }

// Merged is what a merge by key leaves in a port: its rows (Port, the snapshot merged
// into) of the keys not in Keys, and the Staged rows.
type Merged struct {
	Port   PortInput
	Staged string // local path of the staged model rows
	Keys   string // local path of the replaced keys (IncrementalResult), a column per KeyColumns
	// KeyColumns are the port's key columns (mesh.Incremental.Columns).
	KeyColumns []string
	// Counts, when known, decide a row count without reading the port (Counted).
	Counts *MergeCounts
	// PortPassed are the SQL checks the snapshot merged into passed with no offending
	// row, by name, with the query they passed under (quality.Result.SQLHash). One of
	// them that judges each row by itself (rowLocalSQL), under the same query, runs on
	// the staged rows alone: the rows the merge keeps passed it already.
	PortPassed map[string]string
}

// MergeCounts are the row counts a merge knows before it commits: the port's rows in
// the snapshot merged into, and how many of them the changed keys replace or delete
// (port.Located). The merged rows number PortRows − Replaced + the staged rows.
type MergeCounts struct {
	PortRows, Replaced int64
}

// SQL selects the merged rows.
func (m Merged) SQL() string {
	on := make([]string, len(m.KeyColumns))
	for i, c := range m.KeyColumns {
		on[i] = fmt.Sprintf("p.%s = k.%s", quality.Ident(c), quality.Ident(c))
	}
	kept := fmt.Sprintf("SELECT p.* FROM (%s) AS p ANTI JOIN read_parquet(%s) AS k ON %s", portRows(m.Port), quality.Literal(m.Keys), strings.Join(on, " AND "))
	if len(m.Port.Files) == 0 {
		kept = ""
	}
	staged := "SELECT * FROM read_parquet(" + quality.Literal(m.Staged) + ")"
	if kept == "" {
		return staged
	}
	return fmt.Sprintf("SELECT * FROM (%s) UNION ALL BY NAME %s", kept, staged)
}

// RowLocal reports whether a check's verdict on the merged rows follows from its
// verdict on the staged rows alone: a check of each row by itself (not null, accepted
// values), or a uniqueness whose columns include every key column of the merge (a
// duplicate shares a key, so both rows are staged or neither is). The others — row
// counts, freshness, SQL, another uniqueness — look across the port.
func RowLocal(c mesh.Check, keyColumns []string) bool {
	switch c.Kind {
	case mesh.KindNotNull, mesh.KindAcceptedValues:
		return true
	case mesh.KindUnique:
		for _, k := range keyColumns {
			if !slices.Contains(c.Columns, k) {
				return false
			}
		}
		return true
	}
	return false
}

// Counted reports whether a check's verdict on the merged rows follows from the
// merge's row counts (MergeCounts) and the staged rows: a row count.
func Counted(c mesh.Check) bool { return c.Kind == mesh.KindRowCount }

// MergedChecks are a merge's checks by where each runs (Merged.Plan).
type MergedChecks struct {
	all     []mesh.Check // in their declared order, which the results keep
	local   []mesh.Check // on the staged rows
	counted []mesh.Check // from the counts
	across  []mesh.Check // on the merged rows: the port's read
}

// ReadsPort reports whether one of the checks runs on the merged rows, so CheckMerged
// must have the port's files (Merged.Port, Keys); without one they may be left out.
func (mc MergedChecks) ReadsPort() bool { return len(mc.across) > 0 }

// Plan sorts checks by where each runs on this merge: each row's own (RowLocal, and an
// SQL check of each row by itself the port passed under the same query: PortPassed) on
// the staged rows, row counts from the counts when known, the others on the merged rows.
func (m Merged) Plan(ctx context.Context, checks []mesh.Check) (MergedChecks, error) {
	mc := MergedChecks{all: checks}
	var db *sql.DB
	defer func() {
		if db != nil {
			db.Close()
		}
	}()
	for _, c := range checks {
		switch {
		case RowLocal(c, m.KeyColumns):
			mc.local = append(mc.local, c)
		case m.Counts != nil && Counted(c):
			mc.counted = append(mc.counted, c)
		case c.Kind == mesh.KindSQL && m.PortPassed[c.Name] == quality.SQLHash(c.SQL):
			if db == nil {
				var err error
				if db, err = Open(ctx, "", 0); err != nil {
					return mc, err
				}
			}
			ok, err := rowLocalSQL(ctx, db, c.SQL)
			if err != nil {
				return mc, err
			}
			if ok {
				mc.local = append(mc.local, c)
			} else {
				mc.across = append(mc.across, c)
			}
		default:
			mc.across = append(mc.across, c)
		}
	}
	return mc, nil
}

// CheckMerged runs a merge's checks (Merged.Plan) against the rows it would leave in
// the port. The results keep the checks' declared order.
func CheckMerged(ctx context.Context, m Merged, checks MergedChecks, now time.Time) ([]quality.Result, error) {
	local, counted, across := checks.local, checks.counted, checks.across
	byName := map[string]quality.Result{}
	run := func(model string, cs []mesh.Check) error {
		if len(cs) == 0 {
			return nil
		}
		db, err := Open(ctx, "", 0)
		if err != nil {
			return err
		}
		defer db.Close()
		if _, err := db.ExecContext(ctx, "CREATE VIEW model AS "+model); err != nil {
			return errs.E(errs.Internal, "open the merged rows", err)
		}
		rs, err := quality.Run(ctx, db, cs, now)
		if err != nil {
			return err
		}
		for _, r := range rs {
			byName[r.Name] = r
		}
		return nil
	}
	if err := run("SELECT * FROM read_parquet("+quality.Literal(m.Staged)+")", local); err != nil {
		return nil, err
	}
	if len(counted) > 0 {
		staged, err := stagedRows(m.Staged)
		if err != nil {
			return nil, err
		}
		for _, c := range counted {
			byName[c.Name] = quality.Evaluate(c, m.Counts.PortRows-m.Counts.Replaced+staged)
		}
	}
	if err := run(m.SQL(), across); err != nil {
		return nil, err
	}
	out := make([]quality.Result, len(checks.all))
	for i, c := range checks.all {
		out[i] = byName[c.Name]
	}
	return out, nil
}

// stagedRows counts the rows of a staged Parquet file, from its footer.
func stagedRows(path string) (int64, error) {
	f, err := file.OpenParquetFile(path, false)
	if err != nil {
		return 0, errs.E(errs.Internal, "count the staged rows", err)
	}
	defer f.Close()
	return f.NumRows(), nil
}

// Locate finds the rows of a port's snapshot (in, its data files with their locations
// and position deletes) whose key columns hold one of the keys of the keys file: their
// positions (from 0) in each data file, by the file's location, ascending, leaving out
// the rows a position delete already removed. It is what a merge by key must know
// (port.Located), found by DuckDB reading the key columns of every data file in
// parallel rather than row by row.
func Locate(ctx context.Context, in PortInput, keys string, keyColumns []string, tempDir string) (map[string][]int64, error) {
	op := fmt.Sprintf("locate the changed keys in %s.%s", in.Domain, in.Product)
	out := map[string][]int64{}
	if len(in.Files) == 0 {
		return out, nil
	}
	if len(in.Locations) != len(in.Files) {
		return nil, errs.Errorf(errs.Internal, op, "%d data files but %d locations", len(in.Files), len(in.Locations))
	}
	db, err := Open(ctx, tempDir, 0)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	location := make(map[string]string, len(in.Files)) // local path → location
	for i, f := range in.Files {
		location[f] = in.Locations[i]
	}
	on := make([]string, len(keyColumns))
	for i, c := range keyColumns {
		on[i] = fmt.Sprintf("d.%s = k.%s", quality.Ident(c), quality.Ident(c))
	}
	// Only the key columns are read; every data file of a table has them (a key column
	// is part of the primary key, which no compatible change adds).
	q := fmt.Sprintf(`SELECT d._mf_file, d.file_row_number
FROM (SELECT %s, _mf_file, file_row_number FROM read_parquet([%s], filename = '_mf_file', file_row_number = true)) AS d
SEMI JOIN read_parquet(%s) AS k ON %s`, idents(keyColumns), literals(in.Files), quality.Literal(keys), strings.Join(on, " AND "))
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, errs.E(errs.Internal, op, err)
	}
	defer rows.Close()
	for rows.Next() {
		var file string
		var pos int64
		if err := rows.Scan(&file, &pos); err != nil {
			return nil, errs.E(errs.Internal, op, err)
		}
		loc, ok := location[file]
		if !ok {
			return nil, errs.Errorf(errs.Internal, op, "DuckDB named a data file %s it was not given", file)
		}
		out[loc] = append(out[loc], pos)
	}
	if err := rows.Err(); err != nil {
		return nil, errs.E(errs.Internal, op, err)
	}
	// Rows a position delete already removed are not the keys' any more.
	gone := map[string]map[int64]bool{}
	if len(in.Deletes) > 0 {
		drows, err := db.QueryContext(ctx, fmt.Sprintf("SELECT file_path, pos FROM read_parquet([%s])", literals(in.Deletes)))
		if err != nil {
			return nil, errs.E(errs.Internal, op, err)
		}
		defer drows.Close()
		for drows.Next() {
			var loc string
			var pos int64
			if err := drows.Scan(&loc, &pos); err != nil {
				return nil, errs.E(errs.Internal, op, err)
			}
			if gone[loc] == nil {
				gone[loc] = map[int64]bool{}
			}
			gone[loc][pos] = true
		}
		if err := drows.Err(); err != nil {
			return nil, errs.E(errs.Internal, op, err)
		}
	}
	for loc, ps := range out {
		ps = slices.DeleteFunc(ps, func(p int64) bool { return gone[loc][p] })
		slices.Sort(ps)
		if len(ps) == 0 {
			delete(out, loc)
		} else {
			out[loc] = ps
		}
	}
	return out, nil
}
