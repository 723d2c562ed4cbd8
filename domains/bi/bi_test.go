package bi

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"testing"

	"github.com/meshflow/meshflow/dev/sandbox"
	sblooker "github.com/meshflow/meshflow/dev/sandbox/looker"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/flow/flowtest"
	"github.com/meshflow/meshflow/framework/globalid"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/source"
)

// biMesh is the bi domain in process (flowtest), reading the Looker sandbox.
type biMesh struct{ *flowtest.Mesh }

func newBIMesh(t *testing.T, h *lookerServer) biMesh {
	t.Helper()
	src, err := openLooker(t, h.URL(), sblooker.DefaultClientSecret)
	if err != nil {
		t.Fatal(err)
	}
	return biMesh{flowtest.New(t, []mesh.Domain{Domain()}, map[string]source.Source{"looker": src})}
}

func (b biMesh) execute(workflowName string, input, result any) error {
	return b.Execute(Name, workflowName, input, result)
}
func (b biMesh) run(product string) flow.RunResult { return b.Run(Name, product) }
func (b biMesh) query(table, q string) *sql.Rows   { return b.Query(Name, table, q) }

// The bi domain's products, run through the framework's RunProduct on the Looker
// sandbox (landing its streams through the spec), match the sandbox's ground
// truth: views per dashboard, user and day with the viewer's person_gid, and the
// explores — so the mesh ports — each dashboard reads.
func TestProductsMatchTheSandboxGroundTruth(t *testing.T) {
	h := startLooker(t, sandbox.Faults{}, sblooker.Options{Days: 30})
	b := newBIMesh(t, h)
	api := h.api()

	usage := b.run("dashboard_usage_daily")
	if usage.Rows != int64(len(api.Views())) || usage.Quality != "pass" {
		t.Fatalf("dashboard_usage_daily: %+v, want %d rows", usage, len(api.Views()))
	}
	titles := map[string]string{}
	for _, d := range api.DashboardTables() {
		if !d.Deleted {
			titles[d.DashboardID] = d.Title
		}
	}
	want := map[sblooker.View]bool{}
	for _, v := range api.Views() {
		want[v] = true
	}
	rows := b.query("dashboard_usage_daily_v1", `SELECT strftime(view_date, '%Y-%m-%d'), dashboard_id, coalesce(dashboard_title, ''), user_id, email, person_gid, views FROM port`)
	for rows.Next() {
		var v sblooker.View
		var title, gid string
		if err := rows.Scan(&v.Date, &v.DashboardID, &title, &v.UserID, &v.Email, &gid, &v.Views); err != nil {
			t.Fatal(err)
		}
		if !want[v] || gid != globalid.PersonGID(v.Email) || title != titles[v.DashboardID] {
			t.Fatalf("row %+v (%q, %s) is not in the ground truth", v, title, gid)
		}
	}

	sources := b.run("content_sources")
	if sources.Quality != "pass" {
		t.Fatalf("content_sources: %+v", sources)
	}
	got := map[string][]string{}
	rows = b.query("content_sources_v1", `SELECT content_id, model, explore, coalesce(source_port, '') FROM port WHERE content_type = 'dashboard' ORDER BY ALL`)
	for rows.Next() {
		var id, model, explore, port string
		if err := rows.Scan(&id, &model, &explore, &port); err != nil {
			t.Fatal(err)
		}
		if onMesh := !strings.HasPrefix(model, "netsuite"); onMesh != (port == model+"."+explore) {
			t.Errorf("dashboard %s reads %s.%s: port %q", id, model, explore, port)
		}
		got[id] = append(got[id], model+"."+explore)
	}
	for _, d := range api.DashboardTables() {
		var w []string
		for _, e := range d.Explores {
			w = append(w, e.Table())
		}
		slices.Sort(w)
		if d.Deleted {
			w = nil // Looker lists a deleted dashboard no more
		}
		if !slices.Equal(got[d.DashboardID], w) {
			t.Errorf("dashboard %s %q reads %v, want %v", d.DashboardID, d.Title, got[d.DashboardID], w)
		}
	}
}

// ExportLookML, the bi domain's own workflow, writes each published port as a
// LookML view into the lake's bucket — the framework's ResolvePlan naming the
// tables, the port's recorded contract giving the columns — and writes nothing when
// the view is already there.
func TestExportLookMLWritesPublishedPortsAsViews(t *testing.T) {
	h := startLooker(t, sandbox.Faults{}, sblooker.Options{Days: 7})
	b := newBIMesh(t, h)
	var res ExportResult
	err := b.execute(ExportLookMLWorkflow, ExportInput{Products: []string{"bi.dashboard_usage_daily"}}, &res)
	if err == nil || !strings.Contains(err.Error(), "no published snapshot to export: publish it first (bin/mesh run bi.dashboard_usage_daily)") {
		t.Fatalf("export before any publish: %v", err)
	}
	usage := b.run("dashboard_usage_daily")
	if err := b.execute(ExportLookMLWorkflow, ExportInput{Products: []string{"bi.dashboard_usage_daily"}}, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Views) != 1 {
		t.Fatalf("%+v", res)
	}
	v := res.Views[0]
	if v.Key != "exports/looker/bi/dashboard_usage_daily_v1.view.lkml" || v.Table != "bi.dashboard_usage_daily_v1" || v.Snapshot != usage.SnapshotID || v.Version != "1.0.0" || !v.Changed {
		t.Fatalf("view %+v (snapshot %d)", v, usage.SnapshotID)
	}
	lkml, err := b.Acts.Lake.Bucket.ReadAll(context.Background(), v.Key)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"view: dashboard_usage_daily_v1 {\n  sql_table_name: bi.dashboard_usage_daily_v1 ;;",
		"  dimension_group: view {\n    type: time\n    datatype: date\n    convert_tz: no\n",
		"    sql: ${TABLE}.view_date ;;",
		"  dimension: dashboard_id {\n    primary_key: yes\n    type: string\n",
		`    description: "Looker dashboard id."`,
		"  measure: total_views {\n    type: sum\n    sql: ${views} ;;",
		"  measure: count {\n    type: count\n    drill_fields: [dashboard_id, user_id]\n  }",
	} {
		if !strings.Contains(string(lkml), want) {
			t.Errorf("the view lacks %q:\n%s", want, lkml)
		}
	}
	if err := b.execute(ExportLookMLWorkflow, ExportInput{Products: []string{"bi.dashboard_usage_daily"}}, &res); err != nil || res.Views[0].Changed {
		t.Errorf("a second export of the same port: %+v, %v", res, err)
	}
	for _, in := range []ExportInput{{}, {Products: []string{"dashboard_usage_daily"}}, {Products: []string{"bi.nope"}}} {
		if err := b.execute(ExportLookMLWorkflow, in, &res); err == nil {
			t.Errorf("export %v: no error", in)
		}
	}
}
