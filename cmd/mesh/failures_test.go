package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/meshflow/meshflow/framework/catalog"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/port"
	"github.com/meshflow/meshflow/framework/quality"
)

// runMesh runs one command line in a fresh environment (MESHFLOW_* as the test set
// them) and returns what it printed.
func runMesh(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, &out, &errOut)
	return out.String() + errOut.String(), err
}

// seedRuns publishes marketing.crm_contacts at published, records that run, and
// returns the snapshot.
func seedRuns(t *testing.T, lakeDir string, published time.Time, records ...flow.RunRecord) port.Snapshot {
	t.Helper()
	ctx := context.Background()
	stores := openStores(t, lakeDir)
	sc := arrow.NewSchema([]arrow.Field{{Name: "contact_id", Type: arrow.BinaryTypes.String}}, nil)
	rec, _, err := array.RecordFromJSON(memory.DefaultAllocator, sc, strings.NewReader(`[{"contact_id": "c1"}]`))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	rdr, _ := array.NewRecordReader(sc, []arrow.RecordBatch{rec})
	defer rdr.Release()
	snap, err := stores.Ports.Publish(ctx, port.PortTable("marketing", "crm_contacts", 1), rdr, port.PublishRequest{Mode: port.Replace{},
		SnapshotProperties: map[string]string{flow.PropPublishedAt: published.Format(time.RFC3339)}})
	if err != nil {
		t.Fatal(err)
	}
	records = append([]flow.RunRecord{{Status: flow.StatusPublished, SnapshotID: snap.ID, FinishedAt: published}}, records...)
	for i, r := range records {
		r.Domain, r.Product, r.WorkflowID, r.RunID = "marketing", "crm_contacts", "marketing.crm_contacts/current", fmt.Sprint("r", i)
		if r.Status == flow.StatusUnchanged {
			r.SnapshotID = snap.ID
		}
		if err := stores.Lake.PutJSON(ctx, flow.RunRecordKey(r.Domain, r.Product, r.FinishedAt, r.RunID), r); err != nil {
			t.Fatal(err)
		}
	}
	return snap
}

func testLake(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("MESHFLOW_LAKE", dir)
	for _, k := range []string{"MESHFLOW_ACCESS_FILE", "MESHFLOW_TOKEN", "MESHFLOW_CATALOG_URI", "MESHFLOW_WAREHOUSE", "HUBSPOT_TOKEN"} {
		t.Setenv(k, "")
	}
	return dir
}

// A run blocked after a good publish shows in mesh products (and --json), mesh show
// and mesh freshness: blocked, why, when, and the snapshot still served.
func TestBlockedRunShowsInTheCLI(t *testing.T) {
	lakeDir := testLake(t)
	published := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Second)
	blocked := published.Add(time.Hour)
	reason := "quality gate: 1 error check(s) failed: unique_contact_id (4 duplicate rows); nothing was published"
	snap := seedRuns(t, lakeDir, published, flow.RunRecord{Status: flow.StatusBlocked, Error: reason, FinishedAt: blocked,
		Checks: []quality.Result{{Name: "unique_contact_id", Status: "fail", Failing: 4, Message: "4 duplicate rows"}}})
	want := []string{"marketing.crm_contacts: the last run blocked at " + blocked.Format("2006-01-02 15:04 UTC"), reason,
		fmt.Sprintf("snapshot %d, published %s, is still the one served", snap.ID, published.Format("2006-01-02 15:04 UTC"))}
	contains := func(what, text string, wants ...string) {
		t.Helper()
		for _, w := range wants {
			if !strings.Contains(text, w) {
				t.Errorf("%s lacks %q:\n%s", what, w, text)
			}
		}
	}

	out, err := runMesh(t, "products")
	if err != nil {
		t.Fatal(err)
	}
	contains("mesh products", out, append(want, "LAST RUN", "blocked "+blocked.Local().Format("2006-01-02 15:04"))...)

	out, err = runMesh(t, "products", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var list []catalog.Status
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	for _, s := range list {
		if s.Name == "crm_contacts" && (!s.LastRun.Failed() || s.Snapshot != snap.ID || len(s.LastRun.FailedChecks) != 1 || !strings.Contains(s.Problem, "is still the one served")) {
			t.Errorf("mesh products --json: %+v %+v", s, s.LastRun)
		}
	}

	out, err = runMesh(t, "show", "marketing.crm_contacts", "--sample", "0")
	if err != nil {
		t.Fatal(err)
	}
	contains("mesh show", out, "BLOCKED: the last run blocked at", reason, want[2], "4 offending", "4 duplicate rows")

	out, err = runMesh(t, "freshness")
	if err != nil {
		t.Fatal(err)
	}
	contains("mesh freshness", out, append(want, "LAST RUN")...)
}

// An unchanged run refreshes freshness in mesh freshness and mesh show.
func TestUnchangedRunRefreshesFreshnessInTheCLI(t *testing.T) {
	lakeDir := testLake(t)
	now := time.Now().UTC().Truncate(time.Second)
	published := now.Add(-72 * time.Hour) // past crm_contacts' fail-after
	checked := now.Add(-time.Hour)
	seedRuns(t, lakeDir, published, flow.RunRecord{Status: flow.StatusUnchanged, FinishedAt: checked})
	out, err := runMesh(t, "freshness")
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("marketing.crm_contacts pass unchanged since %s, checked %s", published.Format("2006-01-02 15:04"), checked.Format("2006-01-02 15:04"))
	if !strings.Contains(strings.Join(strings.Fields(out), " "), want) {
		t.Errorf("mesh freshness lacks %q:\n%s", want, out)
	}
	out, _ = runMesh(t, "show", "marketing.crm_contacts", "--sample", "0")
	if want := "Freshness: pass — unchanged since " + published.Format(time.RFC3339); !strings.Contains(out, want) {
		t.Errorf("mesh show lacks %q:\n%s", want, out)
	}
}
