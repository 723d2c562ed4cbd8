package transform

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

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

// CheckMerged runs checks against the rows a merge would leave in the port: those
// RowLocal on the staged rows alone, the others on the merged rows (Merged.SQL). The
// results keep the order of checks.
func CheckMerged(ctx context.Context, m Merged, checks []mesh.Check, now time.Time) ([]quality.Result, error) {
	var local, across []mesh.Check
	for _, c := range checks {
		if RowLocal(c, m.KeyColumns) {
			local = append(local, c)
		} else {
			across = append(across, c)
		}
	}
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
	if err := run(m.SQL(), across); err != nil {
		return nil, err
	}
	out := make([]quality.Result, len(checks))
	for i, c := range checks {
		out[i] = byName[c.Name]
	}
	return out, nil
}
