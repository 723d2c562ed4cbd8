package catalog

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/meshflow/meshflow/framework/access"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/port"
)

// The product page draws its history (rows and data lag per snapshot, duration per
// run, each check per run) as SVG, links runs to the Temporal UI when its address is
// configured, and a signed-in caller's header names them with a sign-out button.
func TestProductPageChartsLinksAndSignedInHeader(t *testing.T) {
	f := newAccessFixture(t) // sales.deals: a snapshot with a watermark, a failed run that checked
	f.cat.TemporalUI = "http://ui.example:8233"
	resp, page := f.do(t, "GET", "/products/sales.deals", salesToken, nil, nil)
	for _, want := range []string{
		`<svg class="chart" viewBox="0 0 640 150" width="640" height="150" role="img" aria-label="rows per snapshot">`,
		`aria-label="duration per run"`, `aria-label="check results per run"`,
		`<a href="http://ui.example:8233/namespaces/default/workflows/sales.deals%2Fcurrent/r2/history">sales.deals/current</a>`,
		`Signed in as <b>sales-analyst</b> <form method="post" action="/logout"`,
	} {
		if resp.StatusCode != 200 || !strings.Contains(page, want) {
			t.Errorf("product page (%d) lacks %q", resp.StatusCode, want)
		}
	}
	if strings.Contains(page, signInLink) {
		t.Error("a signed-in caller is offered to sign in")
	}
	_, anon := f.do(t, "GET", "/", "", nil, nil)
	if !strings.Contains(anon, signInLink) || strings.Contains(anon, "Signed in as") {
		t.Error("an anonymous caller's header does not offer to sign in")
	}
	// A caller who may not read it sees no history: the charts come from its runs.
	if _, refused := f.do(t, "GET", "/products/sales.deals", "", nil, nil); strings.Contains(refused, `class="chart"`) {
		t.Error("the refused page draws the restricted product's history")
	}
}

// The calendar of a partitioned product colours each day by its newest run's outcome
// and links the day to that run.
func TestCalendarOfDays(t *testing.T) {
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC) // a Friday
	runs := []flow.RunRecord{                            // newest first
		{Partition: "2026-12-03", Status: flow.StatusPublished, RunID: "r3", FinishedAt: now.Add(-time.Hour)},
		{Partition: "2026-12-02", Status: flow.StatusFailed, RunID: "r2", FinishedAt: now.Add(-2 * time.Hour)},
		{Partition: "2026-12-03", Status: flow.StatusFailed, RunID: "r1", FinishedAt: now.Add(-3 * time.Hour)}, // superseded
	}
	svg := string(calendar(runs, now, map[string]string{"r3": "http://ui/r3"}))
	for _, want := range []string{
		`<a href="http://ui/r3"><rect class="day published"`, `<title>2026-12-03: published</title>`,
		`<title>2026-12-02: failed</title>`, `<title>2026-12-04: missing</title>`,
		"2026-09-07 to 2026-12-04: 1 published, 1 failed, 0 waiting, 87 missing",
	} {
		if !strings.Contains(svg, want) {
			t.Errorf("calendar lacks %q:\n%s", want, svg)
		}
	}
}

// The data lag of a snapshot is its publish time less the newest data time it holds;
// a snapshot without a watermark, or with one after its publish, has none drawn.
func TestDataLagPerSnapshot(t *testing.T) {
	at := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	snaps := []port.Snapshot{ // newest first
		{ID: 3, Timestamp: at, Rows: 30, Properties: map[string]string{flow.PropWatermark: "2026-12-03T08:00:00Z", flow.PropRunID: "r3"}},
		{ID: 2, Timestamp: at.Add(-time.Hour), Rows: 20, Properties: map[string]string{flow.PropWatermark: "2031-01-01T00:00:00Z"}},
		{ID: 1, Timestamp: at.Add(-2 * time.Hour), Rows: 10, Properties: map[string]string{}},
	}
	rows, lag := snapshotCharts(snaps, map[string]string{"r3": "http://ui/r3"})
	if strings.Count(string(rows), "<rect") != 3 || !strings.Contains(string(rows), "snapshot 1, 2026-12-04 08:00 UTC: 10 rows") ||
		!strings.Contains(string(rows), `<text x="58" y="18" text-anchor="end" font-size="11">30 rows</text>`) {
		t.Errorf("rows per snapshot:\n%s", rows)
	}
	if strings.Count(string(lag), "<rect") != 1 || !strings.Contains(string(lag), `<a href="http://ui/r3">`) ||
		!strings.Contains(string(lag), "published 2026-12-04 10:00 UTC with data up to 2026-12-03 08:00 UTC: 26h behind") {
		t.Errorf("data lag per snapshot:\n%s", lag)
	}
}

// The contract history lists each version the snapshots recorded once, with what
// changed in its contract since the version before.
func TestContractHistory(t *testing.T) {
	v1 := "schema:\n  - name: t\n    properties:\n      - {name: id, physicalType: VARCHAR, logicalType: string, required: true}\n"
	v2 := v1 + "      - {name: email, physicalType: VARCHAR, logicalType: string}\n"
	v3 := "schema:\n  - name: t\n    properties:\n      - {name: email, physicalType: VARCHAR, logicalType: string}\n"
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	snap := func(id int64, version, text string) port.Snapshot {
		return port.Snapshot{ID: id, Timestamp: at.Add(time.Duration(id) * time.Hour), Properties: map[string]string{flow.PropVersion: version, flow.PropContract: text}}
	}
	hist := contractHistory([]port.Snapshot{ // newest first
		snap(5, "2.0.0", v3), snap(4, "1.1.0", v2), snap(3, "1.1.0", v2), snap(2, "1.0.0", v1), snap(1, "1.0.0", v1)})
	var got []string
	for _, v := range hist {
		line := v.Version + " " + v.Since.Format("15:04") + ":"
		for _, c := range v.Changes {
			line += " " + c.Message
		}
		got = append(got, line)
	}
	want := []string{"1.0.0 01:00:", "1.1.0 03:00: new optional field email", "2.0.0 05:00: field id was removed (or renamed)"}
	if strings.Join(got, "|") != strings.Join(want, "|") || !hist[0].First || !hist[2].Changes[0].Breaking {
		t.Errorf("contract history:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// The product page's usage counts the reads of its port's rows (mesh query) and table
// (the Iceberg REST catalog) by principal and path over 30 days: those of an open port
// from the usage log, those of a restricted one from the audit log's allowed reads.
func TestProductPageShowsUsage(t *testing.T) {
	f := newAccessFixture(t)
	ctx := context.Background()
	mkt, err := f.cat.Access.Authenticate(mktToken)
	if err != nil {
		t.Fatal(err)
	}
	sales, err := f.cat.Access.Authenticate(salesToken)
	if err != nil {
		t.Fatal(err)
	}
	d, leads, _ := f.cat.Mesh.Find("sales.leads")
	_, deals, _ := f.cat.Mesh.Find("sales.deals")
	for _, r := range []access.Read{
		{Principal: mkt, Domain: d, Product: leads, What: access.Query, Path: access.PathQuery},
		{Principal: mkt, Domain: d, Product: leads, What: access.Query, Path: access.PathQuery},
		{Principal: sales, Domain: d, Product: leads, What: access.Table, Path: access.PathIceberg},
		{Principal: mkt, Domain: d, Product: leads, What: access.Schema, Path: access.PathCLI}, // not a read of data
		{Principal: sales, Domain: d, Product: deals, What: access.Query, Path: access.PathQuery},
	} {
		if err := f.cat.Access.Authorize(ctx, f.log, r); err != nil {
			t.Fatal(err)
		}
	}
	_, page := f.do(t, "GET", "/products/sales.leads", "", nil, nil)
	for _, want := range []string{"<h2>Usage</h2>", "3 read(s) since", "<td>web-analyst</td><td>query</td><td>2</td>", "<td>sales-analyst</td><td>iceberg</td><td>1</td>"} {
		if !strings.Contains(page, want) {
			t.Errorf("sales.leads' page lacks %q", want)
		}
	}
	_, page = f.do(t, "GET", "/products/sales.deals", salesToken, nil, nil)
	if !strings.Contains(page, "1 read(s) since") || !strings.Contains(page, "<td>sales-analyst</td><td>query</td><td>1</td>") {
		t.Errorf("sales.deals' page does not count its audited read:\n%s", page)
	}
}
