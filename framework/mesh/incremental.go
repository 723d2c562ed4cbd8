package mesh

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Incremental makes a product recompute only what changed: on each run its model reads,
// in place of Input, just the records of Input that changed since the snapshot the
// product last published — with every version of them, so late arrivals and deletes
// come out as a full run would compute them — and the rows it returns replace, in the
// port, every row of those records' keys (a key the model now returns no row for is
// removed). The model is the product's one model, unchanged: the same SQL computes
// the whole port on its first run, after a change to the declaration, when another
// input changed (see below) and with `mesh run --full-refresh`.
//
// It is correct when the port's rows of one record of Input depend on that record
// alone (all its versions) and on the other inputs as a whole: the rows of a Jira
// issue from that issue, joined to the projects. When another input changed since the
// last publish (another product published a new snapshot, a raw stream's newest
// records differ), the run computes everything. A model that aggregates across
// records of Input (a count per company, a rank) is not incremental this way.
type Incremental struct {
	// Input is the input whose changed records are recomputed: one of the product's
	// Inputs, a raw stream or another product.
	Input Input
	// Key maps each key column of the port to the column of Input it holds — a column
	// of Input's primary key (a raw stream's, or the product's). The port's rows whose
	// key columns hold a changed record's values are the ones replaced, so the key
	// columns must be part of the port's primary key, and the model must copy them
	// from Input unchanged: {"issue_id": "id"} for `SELECT id AS issue_id …`.
	Key map[string]string
}

// IncrementalOn declares a product incremental on input, the port's key columns
// holding input's columns as key says (port column → input column).
func IncrementalOn(input Input, key map[string]string) *Incremental {
	return &Incremental{Input: input, Key: key}
}

// Columns are the port's key columns, sorted, and the input's columns they hold, in
// the same order.
func (inc Incremental) Columns() (port, input []string) {
	port = make([]string, 0, len(inc.Key))
	for c := range inc.Key {
		port = append(port, c)
	}
	sort.Strings(port)
	input = make([]string, len(port))
	for i, c := range port {
		input[i] = inc.Key[c]
	}
	return port, input
}

func (p Product) validateIncremental(add func(string, ...any)) {
	inc := p.Incremental
	if inc == nil {
		return
	}
	if !slices.Contains(p.Inputs, inc.Input) {
		add("Incremental.Input %s is not one of the product's inputs: name one of them (mesh.Raw or mesh.FromProduct as in Inputs)", inc.Input)
	}
	if p.PartitionBy != "" {
		add("a product partitioned by %s already recomputes only the days it runs: drop Incremental or PartitionBy", p.PartitionBy)
	}
	if len(inc.Key) == 0 {
		add("Incremental.Key is empty: map each key column of the port to the column of %s it holds, e.g. {%q: \"id\"}", inc.Input, firstOr(p.PrimaryKey, "id"))
	}
	var outside []string
	for col, in := range inc.Key {
		if !slices.Contains(p.PrimaryKey, col) {
			outside = append(outside, col)
		}
		if strings.TrimSpace(in) == "" {
			add("Incremental.Key maps %s to no column of %s", col, inc.Input)
		}
	}
	if len(outside) > 0 {
		sort.Strings(outside)
		add("Incremental.Key names %s, which %s not in the primary key (%s): the rows replaced are found by key columns of the port",
			strings.Join(outside, ", "), map[bool]string{true: "is", false: "are"}[len(outside) == 1], strings.Join(p.PrimaryKey, ", "))
	}
}

func firstOr(s []string, def string) string {
	if len(s) > 0 {
		return s[0]
	}
	return def
}

// String is how the declaration reads in messages: jira.issues by issue_id=id.
func (inc Incremental) String() string {
	port, input := inc.Columns()
	pairs := make([]string, len(port))
	for i := range port {
		pairs[i] = fmt.Sprintf("%s=%s", port[i], input[i])
	}
	return fmt.Sprintf("%s by %s", inc.Input, strings.Join(pairs, ", "))
}
