package query

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/meshflow/meshflow/framework/mesh"
)

// Example is a ready-to-run `mesh query` command for the product's port: its primary
// key and a couple more of its columns, ten rows.
func Example(d mesh.Domain, p mesh.Product) string {
	cols := slices.Clone(p.PrimaryKey)
	for _, c := range p.Schema {
		if len(cols) >= len(p.PrimaryKey)+2 {
			break
		}
		if !slices.Contains(cols, c.Name) {
			cols = append(cols, c.Name)
		}
	}
	list := "*"
	if len(cols) > 0 {
		for i, c := range cols {
			cols[i] = exampleIdent(c)
		}
		list = strings.Join(cols, ", ")
	}
	return fmt.Sprintf(`mesh query "SELECT %s FROM %s.%s LIMIT 10"`, list, exampleIdent(d.Name), exampleIdent(p.PortName()))
}

var plainIdent = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// reserved are DuckDB's reserved keywords (duckdb_keywords() of category reserved):
// a column named like one must be quoted.
var reserved = func() map[string]bool {
	out := map[string]bool{}
	for _, k := range strings.Fields(`all analyse analyze and any array as asc asymmetric both case cast check
		collate column constraint create default deferrable desc describe distinct do else end except false
		fetch for foreign from group having in initially intersect into lambda lateral leading limit not null
		offset on only or order pivot pivot_longer pivot_wider placing primary qualify references returning
		select show some summarize symmetric table then to trailing true union unique unpivot using variadic
		when where window with`) {
		out[k] = true
	}
	return out
}()

// exampleIdent quotes an identifier for SQL when it needs it, then escapes that for
// the shell's double quotes the example is written in.
func exampleIdent(s string) string {
	if plainIdent.MatchString(s) && !reserved[s] {
		return s
	}
	quoted := `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "$", `\$`, "`", "\\`").Replace(quoted)
}
