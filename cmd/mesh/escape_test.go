package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/meshflow/meshflow/framework/catalog"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/quality"
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

// A run record's error and a check's message can quote source values: mesh products,
// freshness and show print them with their control characters shown, and so does the
// demo's line for a failed run.
func TestRunFailuresAreEscaped(t *testing.T) {
	const red = "\x1b[31mred\x1b[0m"
	lakeDir := testLake(t)
	published := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Second)
	seedRuns(t, lakeDir, published, flow.RunRecord{Status: flow.StatusBlocked, Error: "quality gate: value " + red, FinishedAt: published.Add(time.Hour),
		Checks: []quality.Result{{Name: "unique_contact_id", Status: "fail", Failing: 1, Message: "duplicate " + red}}})
	for _, args := range [][]string{{"products"}, {"freshness"}, {"show", "marketing.crm_contacts", "--sample", "0"}} {
		out, err := runMesh(t, args...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if strings.Contains(out, "\x1b") || !strings.Contains(out, `value \x1b[31mred\x1b[0m`) {
			t.Errorf("mesh %v passes an escape through or drops the reason:\n%s", args, out)
		}
		if args[0] == "show" && !strings.Contains(out, `duplicate \x1b[31mred\x1b[0m`) {
			t.Errorf("mesh show's check message:\n%s", out)
		}
	}

	var out bytes.Buffer
	printRunOutcome(&out, mesh.Entry{Domain: mesh.Domain{Name: "marketing"}, Product: mesh.Product{Name: "crm_contacts"}}, flow.RunResult{}, errors.New("transform: "+red))
	if strings.Contains(out.String(), "\x1b") || !strings.Contains(out.String(), `FAILED: transform: \x1b[31mred\x1b[0m`) {
		t.Errorf("the demo's failed run: %q", out.String())
	}
}
