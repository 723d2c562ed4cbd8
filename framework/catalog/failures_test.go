package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
	"github.com/meshflow/meshflow/framework/quality"
	"github.com/meshflow/meshflow/framework/source"
)

// publishLeads publishes sales.leads at publishedAt and records the run that did.
func (f *accessFixture) publishLeads(t *testing.T, publishedAt time.Time) port.Snapshot {
	t.Helper()
	ctx := context.Background()
	sc := arrow.NewSchema([]arrow.Field{{Name: "lead_id", Type: arrow.BinaryTypes.String}}, nil)
	rec, _, err := array.RecordFromJSON(memory.DefaultAllocator, sc, strings.NewReader(`[{"lead_id": "l1"}, {"lead_id": "l2"}]`))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	rdr, _ := array.NewRecordReader(sc, []arrow.RecordBatch{rec})
	defer rdr.Release()
	snap, err := f.cat.Ports.Publish(ctx, port.PortTable("sales", "leads", 1), rdr, port.PublishRequest{Mode: port.Replace{},
		SnapshotProperties: map[string]string{flow.PropPublishedAt: publishedAt.Format(time.RFC3339), flow.PropVersion: "1.0.0",
			flow.PropChecks: `[{"name": "unique_lead_id", "status": "pass"}]`}})
	if err != nil {
		t.Fatal(err)
	}
	f.recordRun(t, flow.RunRecord{Status: flow.StatusPublished, SnapshotID: snap.ID, Rows: 2, FinishedAt: publishedAt,
		Checks: []quality.Result{{Name: "unique_lead_id", Status: mesh.StatusPass}}})
	return snap
}

func (f *accessFixture) recordRun(t *testing.T, r flow.RunRecord) {
	t.Helper()
	if r.Domain == "" {
		r.Domain, r.Product = "sales", "leads"
	}
	r.WorkflowID, r.RunID, r.StartedAt = r.Domain+"."+r.Product+"/current", fmt.Sprint("run-", r.FinishedAt.UnixMilli()), r.FinishedAt
	if err := f.lake.PutJSON(context.Background(), flow.RunRecordKey(r.Domain, r.Product, r.FinishedAt, r.RunID), r); err != nil {
		t.Fatal(err)
	}
}

// A run blocked by a check after a good publish shows, on every page and in the API,
// that it was blocked, why and when, with the failing check and its offending rows,
// and that the previous snapshot is still the one served.
func TestBlockedRunShowsEverywhere(t *testing.T) {
	f := newAccessFixture(t)
	published := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Second)
	snap := f.publishLeads(t, published)
	blockedAt := published.Add(2 * time.Hour)
	reason := "quality gate: 1 error check(s) failed: unique_lead_id (3 duplicate rows); nothing was published and the previous snapshot of sales.leads_v1 stays current"
	f.recordRun(t, flow.RunRecord{Status: flow.StatusBlocked, Error: reason, FinishedAt: blockedAt, Rows: 5,
		Checks: []quality.Result{{Name: "unique_lead_id", Kind: "unique", Severity: mesh.Error, Status: mesh.StatusFail, Failing: 3, Message: "3 duplicate rows"}}})

	served := fmt.Sprintf("snapshot %d, published %s, is still the one served", snap.ID, published.Format("2006-01-02 15:04 UTC"))
	want := []string{"the last run blocked at " + blockedAt.Format("2006-01-02 15:04 UTC"), "unique_lead_id (3 duplicate rows)", served}
	contains := func(t *testing.T, what, text string, wants ...string) {
		t.Helper()
		for _, w := range wants {
			if !strings.Contains(text, w) {
				t.Errorf("%s lacks %q:\n%s", what, w, text)
			}
		}
	}

	_, body := f.do(t, "GET", "/api/products", "", nil, nil)
	var list []Status
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatal(err)
	}
	leads := list[1]
	if leads.Name != "leads" || !leads.LastRun.Failed() || leads.LastRun.Status != flow.StatusBlocked || len(leads.LastRun.FailedChecks) != 1 ||
		leads.LastRun.FailedChecks[0].Failing != 3 || leads.Snapshot != snap.ID || leads.Quality.Status != mesh.StatusFail {
		t.Errorf("API list: %+v %+v", leads, leads.LastRun)
	}
	contains(t, "the API list's problem", leads.Problem, want...)

	_, home := f.do(t, "GET", "/", "", nil, nil)
	contains(t, "the home page", home, append(want, ">blocked</span>")...)
	_, dom := f.do(t, "GET", "/domains/sales", "", nil, nil)
	contains(t, "the domain page", dom, want...)
	_, failing := f.do(t, "GET", "/?state=fail", "", nil, nil)
	contains(t, "the fail filter", failing, "2 product(s)")

	_, page := f.do(t, "GET", "/products/sales.leads", "", nil, nil)
	contains(t, "the product page", page, append(want, `<td>unique_lead_id</td><td>error</td><td class="fail">fail</td><td>3</td><td>3 duplicate rows</td>`,
		"sales.leads/current")...)
	_, body = f.do(t, "GET", "/api/products/sales.leads", "", nil, nil)
	var det Detail
	if err := json.Unmarshal([]byte(body), &det); err != nil {
		t.Fatal(err)
	}
	if det.Checks[0].Name != "unique_lead_id" || det.Checks[0].Last == nil || det.Checks[0].Last.Failing != 3 || det.Problem != leads.Problem {
		t.Errorf("API product: checks %+v, problem %q", det.Checks, det.Problem)
	}

	// The restricted product's failure shows too, without its error to callers who
	// may not read it.
	_, home = f.do(t, "GET", "/", "", nil, nil)
	contains(t, "the home page", home, "the last run failed at", withheldError)
	noSecrets(t, "the home page", home)
	_, page = f.do(t, "GET", "/products/sales.deals", salesToken, nil, nil)
	contains(t, "the restricted page for its reader", page, "the last run failed at", "transform: cast failed on Zephyr")
}

// A run that found the same rows as the current snapshot adds none, and refreshes
// the product's freshness.
func TestUnchangedRunRefreshesFreshness(t *testing.T) {
	f := newAccessFixture(t)
	now := time.Now().UTC().Truncate(time.Second)
	published := now.Add(-30 * time.Hour) // past the 26 h warning
	snap := f.publishLeads(t, published)
	if st, _ := f.cat.List(context.Background()); st[1].Freshness.Status != mesh.StatusWarn {
		t.Fatalf("before the unchanged run: %+v", st[1].Freshness)
	}
	checked := now.Add(-time.Hour)
	f.recordRun(t, flow.RunRecord{Status: flow.StatusUnchanged, SnapshotID: snap.ID, Rows: 2, FinishedAt: checked})
	// A later failure does not hide it.
	f.recordRun(t, flow.RunRecord{Status: flow.StatusFailed, Error: "land crm.leads: 503", FinishedAt: now.Add(-time.Minute)})

	list, err := f.cat.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	fr := list[1].Freshness
	if fr.Status != mesh.StatusPass || fr.PublishedAt == nil || !fr.PublishedAt.Equal(checked) || fr.CheckedAt == nil ||
		!list[1].PublishedAt.Equal(published) || list[1].Snapshot != snap.ID {
		t.Fatalf("freshness after an unchanged run: %+v (published %v)", fr, list[1].PublishedAt)
	}
	_, page := f.do(t, "GET", "/products/sales.leads", "", nil, nil)
	if w := fmt.Sprintf("unchanged since %s UTC, checked %s UTC", published.Format("2006-01-02 15:04"), checked.Format("2006-01-02 15:04")); !strings.Contains(page, w) {
		t.Errorf("product page lacks %q", w)
	}
}

// A run that published with warnings (a dropped file refused for its header, an
// input read at an older snapshot) says so in `mesh show`'s source, the API and the
// product page; a restricted product's warnings, which can quote values, are withheld
// from callers who may not read it.
func TestRunWarningsShowEverywhere(t *testing.T) {
	f := newAccessFixture(t)
	published := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	snap := f.publishLeads(t, published)
	warning := `input crm_files.leads: refused leads/2026-10-emea.csv: column "amount" has the header "Amount (EUR)", expected "Amount"`
	f.recordRun(t, flow.RunRecord{Status: flow.StatusPublished, SnapshotID: snap.ID, Rows: 2, FinishedAt: published.Add(time.Minute), Warnings: []string{warning}})
	f.recordRun(t, flow.RunRecord{Domain: "sales", Product: "deals", Status: flow.StatusPublished, Rows: 2, FinishedAt: published.Add(time.Minute),
		Warnings: []string{"input crm_files.deals: refused deals/zephyr.csv: row 3, column \"amount\": Zephyr"}})

	_, body := f.do(t, "GET", "/api/products/sales.leads", "", nil, nil)
	var det Detail
	if err := json.Unmarshal([]byte(body), &det); err != nil {
		t.Fatal(err)
	}
	if det.LastRun == nil || len(det.LastRun.Warnings) != 1 || det.LastRun.Warnings[0] != warning {
		t.Errorf("API product: last run %+v, want its warning", det.LastRun)
	}
	_, page := f.do(t, "GET", "/products/sales.leads", "", nil, nil)
	if !strings.Contains(page, "refused leads/2026-10-emea.csv") {
		t.Errorf("the product page lacks the run's warning")
	}
	_, list := f.do(t, "GET", "/api/products", "", nil, nil)
	if strings.Contains(list, "Zephyr") || !strings.Contains(list, withheldError) {
		t.Errorf("the restricted product's warning shows to an anonymous caller:\n%s", list)
	}
	_, page = f.do(t, "GET", "/products/sales.deals", salesToken, nil, nil)
	if !strings.Contains(page, "Zephyr") {
		t.Errorf("the restricted product's reader does not see its warning")
	}
}

// oneRecord is a stream of one record read in a way the catalog must repeat.
type oneRecord struct{ mode string }

func (s oneRecord) Spec() source.StreamSpec {
	return source.StreamSpec{Name: "deals", PrimaryKey: []string{"id"}, ReadMode: s.mode,
		Fields: []source.Field{{Name: "id", Type: source.String, Path: []string{"id"}}}}
}

func (s oneRecord) NextPage(context.Context, source.PageRequest) (source.Page, error) {
	return source.Page{Records: []json.RawMessage{json.RawMessage(`{"id": "d1"}`)}, Done: true}, nil
}

// The product page, the API and `mesh show` say how each source stream the product
// reads is read — a database table by cursor cannot see hard deletes — from the
// stream's newest landing.
func TestProductPageSaysHowEachSourceStreamIsRead(t *testing.T) {
	f := newAccessFixture(t)
	f.publishLeads(t, time.Now().UTC().Add(-time.Hour))
	const mode = "cursor on updated_at: a row deleted from the table stays in the lake"
	_, body := f.do(t, "GET", "/api/products/sales.leads", "", nil, nil)
	var before Detail
	if err := json.Unmarshal([]byte(body), &before); err != nil {
		t.Fatal(err, body)
	}
	if len(before.RawInputs) != 1 || before.RawInputs[0].Name != "crm.deals" || before.RawInputs[0].LandedAt != nil || before.RawInputs[0].ReadMode != "" {
		t.Fatalf("before any landing: raw inputs %+v, want crm.deals never landed", before.RawInputs)
	}
	res, err := f.lake.Land(t.Context(), oneRecord{mode}, lake.LandRequest{Stream: lake.StreamRef{Domain: "sales", Source: "crm", Stream: "deals"}, RunID: "land-1", SyncStart: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	_, body = f.do(t, "GET", "/api/products/sales.leads", "", nil, nil)
	var after Detail
	if err := json.Unmarshal([]byte(body), &after); err != nil {
		t.Fatal(err, body)
	}
	if len(after.RawInputs) != 1 || after.RawInputs[0].ReadMode != mode || after.RawInputs[0].LandedAt == nil || !after.RawInputs[0].LandedAt.Equal(res.Manifest.CommittedAt) {
		t.Fatalf("raw inputs %+v, want crm.deals read by %q, landed at %s", after.RawInputs, mode, res.Manifest.CommittedAt)
	}
	_, page := f.do(t, "GET", "/products/sales.leads", "", nil, nil)
	if want := "<code>crm.deals</code> — read by " + mode; !strings.Contains(page, want) {
		t.Errorf("product page lacks %q", want)
	}
}
