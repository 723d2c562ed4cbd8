package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/meshflow/meshflow/domains"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/port"
	"github.com/meshflow/meshflow/framework/schedule"
	"github.com/meshflow/meshflow/framework/source"
	"github.com/meshflow/meshflow/workers/host"
)

// mesh maintain on the dev server with a worker, on a real lake: crm_companies' table
// holds 12 one-row data files and 13 publishes made 40 days ago. One MaintainTable
// workflow compacts the files into one, merges the manifests, expires the 3 publishes
// beyond the newest 10, records what it did for the catalog, and the table reads back
// the same rows. mesh schedules apply gives the table its nightly maintenance.
func TestMaintainOnTheDevServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	st := devStack(t, ctx)
	devWorker(t, ctx, st)
	lakeDir := os.Getenv("MESHFLOW_LAKE")
	id := port.TableID{Domain: "marketing", Name: "crm_companies_v1"}

	// A real publish of 12 companies, then each company published again alone (its
	// key's rows replaced), as 12 small publishes leave 12 small files.
	var records []string
	for i := range 12 {
		records = append(records, company(fmt.Sprint(100+i), fmt.Sprintf("Company%02d", i), 10+i, "2026-02-01T00:00:00Z", false))
	}
	publishCompanies(t, lakeDir, "run1", records...)
	stores := openStores(t, lakeDir)
	// Five more small landings of its raw input, a company each (updates of some).
	companies := lake.StreamRef{Domain: "marketing", Source: "hubspot", Stream: "companies"}
	for i := range 5 {
		rec := company(fmt.Sprint(100+2*i), fmt.Sprintf("Company%02d", 2*i), 50+i, "2026-02-02T00:00:00Z", false)
		if _, err := stores.Lake.Land(ctx, companiesPage{companiesSpec(t), []string{rec}}, lake.LandRequest{Stream: companies, RunID: fmt.Sprintf("land%d", i), SyncStart: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	rawBefore := transformHash(t, stores)
	republishEachRow(t, stores.Ports, id, "company_id")
	backdate(t, stores.Ports, id, 40*24*time.Hour)
	before, err := stores.Ports.Stats(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if before.DataFiles != 12 || before.Snapshots != 13 {
		t.Fatalf("the fixture: %+v, want 12 data files and 13 snapshots", before)
	}
	query := "SELECT * FROM marketing.crm_companies_v1 ORDER BY company_id"
	rowsBefore, code := meshCmd(ctx, "query", query, "--format", "csv")
	if code != exitOK || strings.Count(rowsBefore, "\n") != 13 {
		t.Fatalf("mesh query before: exit %d\n%s", code, rowsBefore)
	}

	out, code := meshCmd(ctx, "schedules", "apply")
	if code != exitOK || !strings.Contains(out, "  + "+schedule.MaintainID("marketing", "crm_companies_v1")+"\n") {
		t.Fatalf("mesh schedules apply: exit %d\n%s", code, out)
	}
	out, _ = meshCmd(ctx, "schedules", "list")
	if lineOf(out, "meshflow/maintain/marketing.crm_companies_v1", schedule.MaintainCadence+" (maintain marketing.crm_companies_v1)") < 0 {
		t.Errorf("mesh schedules list does not show the table's maintenance:\n%s", out)
	}

	out, code = meshCmd(ctx, "maintain", "marketing.crm_companies")
	t.Logf("mesh maintain:\n%s", out)
	if code != exitOK {
		t.Fatalf("mesh maintain: exit %d", code)
	}
	after, err := stores.Ports.Stats(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	// 13 publishes less 3 expired, and the compaction and the manifest rewrite.
	if after.DataFiles != 1 || after.Manifests != 1 || after.Snapshots != 12 {
		t.Errorf("after maintenance: %+v, want 1 data file, 1 manifest, 12 snapshots", after)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`started maintain/marketing\.crm_companies_v1 \(run [0-9a-f-]+\) on task queue meshflow\.marketing\n`),
		regexp.MustCompile(fmt.Sprintf(`marketing\.crm_companies_v1: 12 data files \([0-9.]+ kB\), %d manifests, 13 snapshots → 1 data file \([0-9.]+ kB\), 1 manifest, 12 snapshots\n`, before.Manifests)),
		regexp.MustCompile(`  compact:   rewrote 12 small files \([0-9.]+ kB\) in 1 groups into 1 \([0-9.]+ kB\)\n`),
		regexp.MustCompile(`  expire:    expired 3 snapshots, oldest first: \d+, \d+, \d+\n`),
		regexp.MustCompile(`  orphans:   none older than 72h0m0s\n`),
		regexp.MustCompile(`started maintain/marketing\.raw\.hubspot\.companies \(run [0-9a-f-]+\) on task queue meshflow\.marketing\n`),
		regexp.MustCompile(`raw marketing/hubspot\.companies: 6 landings, 6 files \([0-9.]+ kB\) read\n`),
		regexp.MustCompile(`  compact:   superseded 5 landings \(5 files, [0-9.]+ kB, 16 rows\) with one \(landing 7, [0-9.]+ kB\)\n`),
		regexp.MustCompile(`  wait:      5 landings superseded within the last 168h0m0s \(readers may still be reading them\)\n`),
	} {
		if !want.MatchString(out) {
			t.Errorf("mesh maintain does not say %s", want)
		}
	}
	rowsAfter, code := meshCmd(ctx, "query", query, "--format", "csv")
	if code != exitOK || rowsAfter != rowsBefore {
		t.Fatalf("the table reads differently after maintenance (exit %d):\nbefore:\n%s\nafter:\n%s", code, rowsBefore, rowsAfter)
	}

	// crm_companies' model reads its raw input as it did: the same records.
	if got := transformHash(t, stores); got != rawBefore {
		t.Errorf("crm_companies' model over the compacted raw landings: rows %s, before %s", got, rawBefore)
	}

	rec, ok, err := flow.LatestMaintenance(ctx, stores.Lake, id.String())
	if err != nil || !ok {
		t.Fatalf("no maintenance record: %v", err)
	}
	if rec.Status != flow.StatusMaintained || rec.Trigger != flow.TriggerManual || rec.WorkflowID != "maintain/marketing.crm_companies_v1" ||
		rec.Compacted.Files != 12 || len(rec.Expired.Snapshots) != 3 || rec.After != after {
		t.Errorf("maintenance record = %+v", rec)
	}

	// Nothing left to do the second time: every file is compacted, every snapshot within
	// the retention or among the last 10 publishes.
	out, code = meshCmd(ctx, "maintain", "marketing.crm_companies", "--json")
	var again maintained
	if err := json.Unmarshal([]byte(out), &again); err != nil || code != exitOK || len(again.Tables) != 1 || len(again.Streams) != 1 {
		t.Fatalf("mesh maintain --json: exit %d, %v\n%s", code, err, out)
	}
	if r := again.Tables[0]; r.Compacted.Files != 0 || len(r.Expired.Snapshots) != 0 || r.After.DataFiles != 1 {
		t.Errorf("a second maintenance did %+v", r)
	}
	if r := again.Streams[0]; r.Compacted.Landings != 2 || len(r.Compacted.Groups) != 0 || r.Expired.Waiting != 5 || len(r.Expired.Landings) != 0 {
		t.Errorf("a second maintenance of the raw stream did %+v", r)
	}
}

// republishEachRow publishes each row of the table's current snapshot again, alone,
// replacing its key's rows: the rows stay the same, each in a small file of its own.
func republishEachRow(t *testing.T, ports *port.Catalog, id port.TableID, key string) {
	t.Helper()
	ctx := context.Background()
	tbl, err := ports.ReadAll(ctx, id, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	tr := array.NewTableReader(tbl, tbl.NumRows())
	defer tr.Release()
	if !tr.Next() {
		t.Fatal("the table is empty")
	}
	all := tr.RecordBatch()
	col := all.Schema().FieldIndices(key)[0]
	for i := range all.NumRows() {
		row := all.NewSlice(i, i+1)
		value := row.Column(col).ValueStr(0)
		rdr, err := array.NewRecordReader(row.Schema(), []arrow.RecordBatch{row})
		if err != nil {
			t.Fatal(err)
		}
		_, err = ports.Publish(ctx, id, rdr, port.PublishRequest{Mode: port.ReplacePartition{Column: key, Value: value},
			SnapshotProperties: map[string]string{flow.PropRunID: "republish-" + value, flow.PropPublishedAt: time.Now().UTC().Format(time.RFC3339)}})
		rdr.Release()
		row.Release()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// backdate moves the table's history back by age, as if every snapshot had been
// committed that long ago: it rewrites the current metadata file's timestamps in
// place (the catalog keeps pointing at it). Nothing but a fixture may do this. A
// port.Catalog that parsed this metadata file before keeps its parsed copy (port's
// metadata cache, per catalog): the worker's, which maintains the table, has not.
func backdate(t *testing.T, ports *port.Catalog, id port.TableID, age time.Duration) {
	t.Helper()
	loc, _, err := ports.Metadata(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	path := strings.TrimPrefix(loc, "file://")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var md map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // snapshot ids need all 64 bits
	if err := dec.Decode(&md); err != nil {
		t.Fatal(err)
	}
	shift := func(m map[string]any, key string) {
		if v, ok := m[key].(json.Number); ok {
			ms, err := v.Int64()
			if err != nil {
				t.Fatal(err)
			}
			m[key] = ms - age.Milliseconds()
		}
	}
	shift(md, "last-updated-ms")
	for _, list := range []string{"snapshots", "snapshot-log", "metadata-log"} {
		items, _ := md[list].([]any)
		for _, it := range items {
			shift(it.(map[string]any), "timestamp-ms")
		}
	}
	out, err := json.Marshal(md)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// companiesSpec is hubspot.companies' stream spec, as its connector declares it.
func companiesSpec(t *testing.T) source.StreamSpec {
	t.Helper()
	for _, c := range host.Connectors() {
		for _, s := range c.Streams {
			if c.Name == "hubspot" && s.Name == "companies" {
				return s
			}
		}
	}
	t.Fatal("no hubspot.companies stream")
	return source.StreamSpec{}
}

// transformHash is the row-set hash of crm_companies' model over its raw input as a
// run reads it now (the Transform activity).
func transformHash(t *testing.T, stores *host.Stores) string {
	t.Helper()
	acts := &flow.Activities{Mesh: domains.Mesh(), Lake: stores.Lake, Ports: stores.Ports, WorkDir: t.TempDir()}
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(acts)
	v, err := env.ExecuteActivity(acts.Transform, flow.TransformInput{Domain: "marketing", Product: "crm_companies", RunID: fmt.Sprintf("hash-%d", time.Now().UnixNano())})
	if err != nil {
		t.Fatal(err)
	}
	var out flow.TransformOutput
	if err := v.Get(&out); err != nil {
		t.Fatal(err)
	}
	return out.RowsHash
}
