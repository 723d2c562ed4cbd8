package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/meshflow/meshflow/framework/catalog"
	"github.com/meshflow/meshflow/framework/flow"
)

// Text that comes from source data — mesh show's sample rows, a backfill day's error,
// an error mesh exits with — reaches the terminal with its control characters shown.
func TestDataTextIsEscaped(t *testing.T) {
	const red = "\x1b[31mred\x1b[0m"
	var out bytes.Buffer
	printDetail(&out, catalog.Detail{Sample: catalog.Sample{Columns: []string{"name", "note"}, Rows: [][]string{{red, "a\tb " + strings.Repeat("é", 50)}}}})
	if !strings.Contains(out.String(), `\x1b[31mred\x1b[0m`) || !strings.Contains(out.String(), `a\tb `+strings.Repeat("é", 32)+"...") {
		t.Errorf("mesh show's sample rows:\n%s", out.String())
	}

	st := flow.BackfillStatus{ID: "b", Partitions: []flow.PartitionState{{Partition: "2026-01-02", State: flow.StateFailed, Error: "land: API said " + red}}}
	out.Reset()
	printBackfill(&out, st, nil)
	_ = backfillFailures(&out, st)
	if strings.Count(out.String(), `API said \x1b[31mred\x1b[0m`) != 2 {
		t.Errorf("backfill table and failures:\n%s", out.String())
	}

	out.Reset()
	report(context.Background(), errors.New("transform: could not convert "+red+"\nsecond line"), &out)
	if out.String() != "mesh: transform: could not convert \\x1b[31mred\\x1b[0m\nsecond line\n" {
		t.Errorf("error printed as %q", out.String())
	}
	if strings.Contains(out.String(), "\x1b") {
		t.Error("an escape reached the terminal")
	}
}
