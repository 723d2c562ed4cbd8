package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshflow/meshflow/framework/port"
)

// mesh maintain --dry-run plans each table's maintenance against the lake and changes
// nothing: here an orphan file older than the safety age in crm_companies' table, and
// every other product never published.
func TestMaintainDryRun(t *testing.T) {
	lakeDir := testLake(t)
	for i, run := range []string{"run1", "run2", "run3"} {
		publishCompanies(t, lakeDir, run, company("1", "Acme", 120+i, "2026-02-01T00:00:00Z", false))
	}
	id := port.TableID{Domain: "marketing", Name: "crm_companies_v1"}
	stores := openStores(t, lakeDir)
	loc, md, err := stores.Ports.Metadata(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	before, err := stores.Ports.Stats(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	orphan := filepath.Join(strings.TrimPrefix(md.Location(), "file://"), "data", "lost-attempt.parquet")
	if err := os.WriteFile(orphan, []byte("no metadata references it"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-5 * 24 * time.Hour)
	if err := os.Chtimes(orphan, old, old); err != nil {
		t.Fatal(err)
	}

	out, stderr, code := meshIO("maintain", "marketing.crm_companies", "marketing.crm_contacts", "--dry-run")
	if code != exitOK {
		t.Fatalf("maintain --dry-run: exit %d\n%s%s", code, out, stderr)
	}
	for _, want := range []string{
		"marketing.crm_companies_v1: 1 data file (", "2 manifests, 3 snapshots\n", "  manifests: would merge 2 into about 1\n",
		"  compact:   none: no partition has enough small files\n",
		"  expire:    none: every snapshot is within the retention or needed\n",
		"  orphans:   would delete 1 file (25 B) older than 72h0m0s, no metadata references them\n    " + orphan,
		"marketing.crm_contacts_v1: left as it is: never published\n",
		// Its raw input: 3 landings, too few to compact; crm_contacts' never landed.
		"raw marketing/hubspot.companies: 3 landings, 3 files (",
		"  compact:   none: no partition has enough small landings besides the newest (it holds the cursor)\n",
		"  expire:    none: no landing superseded over 168h0m0s ago that nothing needs\n",
		"raw marketing/hubspot.contacts: left as it is: nothing landed yet\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("maintain --dry-run does not say %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(orphan); err != nil {
		t.Fatalf("a dry run deleted the orphan: %v", err)
	}
	after, err := stores.Ports.Stats(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if loc2, _, _ := stores.Ports.Metadata(context.Background(), id); after != before || loc2 != loc {
		t.Fatalf("a dry run changed the table: %+v → %+v, metadata %s → %s", before, after, loc, loc2)
	}

	out, _, code = meshIO("maintain", "marketing.crm_companies", "--dry-run", "--json")
	var got maintained
	if err := json.Unmarshal([]byte(out), &got); err != nil || code != exitOK {
		t.Fatalf("maintain --dry-run --json: exit %d, %v\n%s", code, err, out)
	}
	res := got.Tables
	if len(res) != 1 || !res[0].DryRun || res[0].Before.Snapshots != 3 || len(res[0].Orphans.Files) != 1 || res[0].Orphans.Deleted != 0 {
		t.Fatalf("maintain --dry-run --json = %+v", res)
	}
	if len(got.Streams) != 1 || got.Streams[0].Stream != "marketing/hubspot.companies" || got.Streams[0].Compacted.Landings != 3 || !got.Streams[0].Compacted.DryRun {
		t.Fatalf("maintain --dry-run --json streams = %+v", got.Streams)
	}

	if _, stderr, code := meshIO("maintain", "marketing.nope", "--dry-run"); code == exitOK || !strings.Contains(stderr, "nope") {
		t.Errorf("maintain of an unknown product: exit %d\n%s", code, stderr)
	}
}
