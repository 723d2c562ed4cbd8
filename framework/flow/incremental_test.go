package flow_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/flow/flowtest"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
	"github.com/meshflow/meshflow/framework/quality"
	"github.com/meshflow/meshflow/framework/source"
)

// scripted is a source whose next landing of each stream brings the records the test
// queued for it, and nothing once they are taken.
type scripted struct {
	mu      sync.Mutex
	pending map[string][]string
}

func (s *scripted) Name() string                { return "crm" }
func (s *scripted) Check(context.Context) error { return nil }
func (s *scripted) Streams() []source.Stream {
	return []source.Stream{scriptedStream{s, contactsSpec}, scriptedStream{s, companiesSpec}}
}

// queue adds records (JSON objects) to a stream's next landing.
func (s *scripted) queue(stream string, records ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending[stream] = append(s.pending[stream], records...)
}

type scriptedStream struct {
	s    *scripted
	spec source.StreamSpec
}

func (st scriptedStream) Spec() source.StreamSpec { return st.spec }
func (st scriptedStream) NextPage(context.Context, source.PageRequest) (source.Page, error) {
	st.s.mu.Lock()
	defer st.s.mu.Unlock()
	var recs []json.RawMessage
	for _, r := range st.s.pending[st.spec.Name] {
		recs = append(recs, json.RawMessage(r))
	}
	delete(st.s.pending, st.spec.Name)
	return source.Page{Records: recs, Next: json.RawMessage(`{"v":1}`), Done: true}, nil
}

var (
	contactsSpec = source.StreamSpec{Name: "contacts", PrimaryKey: []string{"id"}, CursorField: "updated_at", Deleted: "deleted", Fields: []source.Field{
		{Name: "id", Type: source.String, Path: []string{"id"}}, {Name: "name", Type: source.String, Path: []string{"name"}},
		{Name: "company", Type: source.String, Path: []string{"company"}}, {Name: "updated_at", Type: source.Timestamp, Path: []string{"updated_at"}},
		{Name: "deleted", Type: source.Bool, Path: []string{"deleted"}}}}
	companiesSpec = source.StreamSpec{Name: "companies", PrimaryKey: []string{"id"}, Fields: []source.Field{
		{Name: "id", Type: source.String, Path: []string{"id"}}, {Name: "name", Type: source.String, Path: []string{"name"}}}}
)

// contactsModel reads every version of a contact (_history) besides its newest, and a
// lookup of companies read whole: what an incremental run must get right.
const contactsModel = `SELECT c.id AS contact_id, c.name, co.name AS company_name, c.updated_at,
  (SELECT count(*) FROM crm.contacts_history AS h WHERE h.id = c.id) AS versions
FROM crm.contacts AS c LEFT JOIN crm.companies AS co ON co.id = c.company`

// namesModel reads another product's port: incremental on it, it compares snapshots.
const namesModel = `SELECT contact_id, upper(name) AS name_upper FROM %s`

func incrementalMesh() mesh.Mesh {
	product := func(name, model string, in []mesh.Input, inc *mesh.Incremental, cols ...mesh.Column) mesh.Product {
		return mesh.Product{Name: name, Version: "1.0.0", Description: name + ".", Inputs: in, Model: model, Schema: cols,
			PrimaryKey: []string{"contact_id"}, Classification: mesh.Internal, Cadence: "@daily", Incremental: inc,
			Freshness: mesh.Freshness{WarnAfter: time.Hour, FailAfter: 2 * time.Hour},
			// A check across rows runs on what the merge leaves in the port.
			Checks: []mesh.Check{mesh.RowCount(1, 0)}}
	}
	raw := []mesh.Input{mesh.Raw("crm", "contacts"), mesh.Raw("crm", "companies")}
	contactCols := []mesh.Column{{Name: "contact_id", Type: mesh.String, Doc: "contact", Required: true}, {Name: "name", Type: mesh.String, Doc: "name"},
		{Name: "company_name", Type: mesh.String, Doc: "company"}, {Name: "updated_at", Type: mesh.Timestamp, Doc: "updated"},
		{Name: "versions", Type: mesh.Int64, Doc: "versions landed"}}
	nameCols := []mesh.Column{{Name: "contact_id", Type: mesh.String, Doc: "contact", Required: true}, {Name: "name_upper", Type: mesh.String, Doc: "name"}}
	blocking := mesh.SQL("no_blocked_names", "SELECT * FROM model WHERE upper(name) LIKE 'BLOCK%'")
	contactsInc := product("contacts_inc", contactsModel, raw, mesh.IncrementalOn(mesh.Raw("crm", "contacts"), map[string]string{"contact_id": "id"}), contactCols...)
	contactsFull := product("contacts_full", contactsModel, raw, nil, contactCols...)
	contactsInc.Checks = append(contactsInc.Checks, blocking)
	contactsFull.Checks = append(contactsFull.Checks, blocking)
	return mesh.Mesh{Domains: []mesh.Domain{{Name: "sales", Owner: "team", Products: []mesh.Product{
		contactsInc, contactsFull,
		product("names_inc", fmt.Sprintf(namesModel, "sales.contacts_inc"), []mesh.Input{mesh.FromProduct("sales", "contacts_inc")},
			mesh.IncrementalOn(mesh.FromProduct("sales", "contacts_inc"), map[string]string{"contact_id": "contact_id"}), nameCols...),
		product("names_full", fmt.Sprintf(namesModel, "sales.contacts_full"), []mesh.Input{mesh.FromProduct("sales", "contacts_full")}, nil, nameCols...),
	}}}}
}

// TestIncrementalEqualsFull runs the same landings — inserts, updates, a delete, a late
// arrival, a compaction of the raw landings, a changed lookup, a run a check blocks, a
// key deleted and back — through incremental products (on
// a raw stream, and on another product) and the same products declared full, with the
// real workflow, activities and lake, and compares the ports' row sets after every
// run. It also checks each run merged or computed everything when it should, and
// says so.
func TestIncrementalEqualsFull(t *testing.T) {
	src := &scripted{pending: map[string][]string{}}
	m := flowtest.New(t, incrementalMesh().Domains, map[string]source.Source{"crm": src})
	contact := func(id, name, company, at string) string {
		return fmt.Sprintf(`{"id":%q,"name":%q,"company":%q,"updated_at":%q}`, id, name, company, at)
	}
	run := func(product string, full bool) flow.RunResult {
		t.Helper()
		var res flow.RunResult
		if err := m.Execute("sales", flow.RunProductWorkflow, flow.RunInput{Domain: "sales", Product: product, FullRefresh: full}, &res); err != nil {
			t.Fatalf("run %s: %v", product, err)
		}
		return res
	}
	rowsHash := func(table string) string {
		t.Helper()
		rows := m.Query("sales", table, "SELECT count(*)::VARCHAR || ':' || coalesce(sum(hash(p)::HUGEINT), 0)::VARCHAR FROM port AS p")
		defer rows.Close()
		var h string
		for rows.Next() {
			if err := rows.Scan(&h); err != nil {
				t.Fatal(err)
			}
		}
		return h
	}
	steps := []struct {
		name    string
		land    func()
		full    bool   // --full-refresh
		want    string // what the incremental run says, a prefix
		wantKey string // of names_inc
	}{
		{"inserts", func() {
			src.queue("companies", `{"id":"x","name":"Acme"}`, `{"id":"y","name":"Globex"}`)
			src.queue("contacts", contact("a", "Ann", "x", "2026-01-01T00:00:00Z"), contact("b", "Bob", "y", "2026-01-01T00:00:00Z"), contact("c", "Cy", "x", "2026-01-01T00:00:00Z"))
		}, false, "incremental: computed everything: the first run", "incremental: computed everything: the first run"},
		{"an update and an insert", func() {
			src.queue("contacts", contact("b", "Bobby", "y", "2026-01-02T00:00:00Z"), contact("d", "Di", "y", "2026-01-02T00:00:00Z"))
		}, false, "incremental: merged 2 changed keys of crm.contacts", "incremental: merged 2 changed keys of sales.contacts_inc"},
		{"a delete", func() {
			src.queue("contacts", `{"id":"c","deleted":true,"updated_at":"2026-01-03T00:00:00Z"}`)
		}, false, "incremental: merged 1 changed key of crm.contacts", "incremental: merged 1 changed key of sales.contacts_inc"},
		{"a late arrival", func() {
			// Older than a's newest version: a's row keeps its name, its versions grow.
			src.queue("contacts", contact("a", "Annie (stale)", "x", "2025-12-31T00:00:00Z"))
		}, false, "incremental: merged 1 changed key of crm.contacts", "incremental: merged 1 changed key of sales.contacts_inc"},
		{"the raw landings compacted", func() {
			// A compaction's landing holds landings the last publish read: nothing new.
			for _, stream := range []string{"contacts", "companies"} {
				res, err := m.Acts.Lake.CompactStream(context.Background(), lake.StreamRef{Domain: "sales", Source: "crm", Stream: stream}, lake.CompactOptions{MinLandings: 2, RunID: "compaction-" + stream})
				if err != nil || len(res.Groups) == 0 {
					t.Fatalf("compact crm.%s: %+v, %v", stream, res, err)
				}
			}
		}, false, "incremental: merged 0 changed keys of crm.contacts", "incremental: merged 0 changed keys of sales.contacts_inc"},
		{"a changed lookup", func() {
			src.queue("companies", `{"id":"x","name":"Acme Inc"}`)
		}, false, "incremental: computed everything: crm.companies changed since the last publish", "incremental: merged 1 changed key of sales.contacts_inc"},
		{"a run blocked by a check", func() {
			// Merges nothing: the next run finds this landing new still.
			src.queue("contacts", contact("e", "Block me", "x", "2026-01-04T00:00:00Z"))
		}, false, "blocked", "blocked"},
		{"the blocked record fixed", func() {
			src.queue("contacts", contact("e", "Eve", "x", "2026-01-04T01:00:00Z"))
		}, false, "incremental: merged 1 changed key of crm.contacts", "incremental: merged 1 changed key of sales.contacts_inc"},
		{"a deleted key back, an update", func() {
			src.queue("contacts", contact("c", "Cy again", "y", "2026-01-04T00:00:00Z"), contact("d", "Dee", "x", "2026-01-04T00:00:00Z"))
		}, false, "incremental: merged 2 changed keys of crm.contacts", "incremental: merged 2 changed keys of sales.contacts_inc"},
		{"--full-refresh", func() {}, true, "incremental: computed everything: --full-refresh", "incremental: computed everything: --full-refresh"},
		{"nothing new", func() {}, false, "incremental: merged 0 changed keys of crm.contacts", "incremental: merged 0 changed keys of sales.contacts_inc"},
	}
	for _, s := range steps {
		s.land()
		if s.want == "blocked" {
			before := rowsHash("contacts_inc_v1")
			for _, product := range []string{"contacts_inc", "contacts_full"} {
				var res flow.RunResult
				err := m.Execute("sales", flow.RunProductWorkflow, flow.RunInput{Domain: "sales", Product: product}, &res)
				if err == nil || !strings.Contains(err.Error(), "no_blocked_names") {
					t.Fatalf("%s: run %s: %v, want blocked by no_blocked_names", s.name, product, err)
				}
			}
			if after := rowsHash("contacts_inc_v1"); after != before {
				t.Errorf("%s: the blocked run changed contacts_inc: %s, was %s", s.name, after, before)
			}
			continue
		}
		inc := run("contacts_inc", s.full)
		run("contacts_full", s.full)
		names := run("names_inc", s.full)
		run("names_full", s.full)
		t.Logf("%s: contacts_inc %s (%d rows, unchanged %v); names_inc %s", s.name, inc.Incremental, inc.Rows, inc.Unchanged, names.Incremental)
		if !strings.HasPrefix(inc.Incremental, s.want) {
			t.Errorf("%s: contacts_inc says %q, want %q…", s.name, inc.Incremental, s.want)
		}
		if !strings.HasPrefix(names.Incremental, s.wantKey) {
			t.Errorf("%s: names_inc says %q, want %q…", s.name, names.Incremental, s.wantKey)
		}
		if got, want := rowsHash("contacts_inc_v1"), rowsHash("contacts_full_v1"); got != want {
			t.Errorf("%s: contacts_inc rows %s, contacts_full rows %s", s.name, got, want)
			dump(t, m, "contacts_inc_v1")
			dump(t, m, "contacts_full_v1")
		}
		if got, want := rowsHash("names_inc_v1"), rowsHash("names_full_v1"); got != want {
			t.Errorf("%s: names_inc rows %s, names_full rows %s", s.name, got, want)
		}
		// The snapshot's row count (records less position deletes) is the rows read:
		// no merge deleted a row twice.
		for _, table := range []string{"contacts_inc_v1", "names_inc_v1"} {
			snap, _, err := m.Ports.Current(context.Background(), port.TableID{Domain: "sales", Name: table})
			if h := rowsHash(table); err != nil || !strings.HasPrefix(h, fmt.Sprintf("%d:", snap.Rows)) {
				t.Errorf("%s: snapshot %d of %s says %d rows, its rows are %s (%v)", s.name, snap.ID, table, snap.Rows, h, err)
			}
			// The row count check counted them too: a merge decides it from its counts
			// (the port's rows, less those replaced, plus the changed rows), a full run
			// by reading them.
			var results []quality.Result
			if err := json.Unmarshal([]byte(snap.Properties[flow.PropChecks]), &results); err != nil {
				t.Fatal(err)
			}
			if i := slices.IndexFunc(results, func(r quality.Result) bool { return r.Kind == string(mesh.KindRowCount) }); i < 0 || results[i].Failing != snap.Rows {
				t.Errorf("%s: the row count check of %s's snapshot %d: %+v, want %d rows", s.name, table, snap.ID, results, snap.Rows)
			}
		}
	}
	rec, ok, err := flow.LatestRun(context.Background(), m.Acts.Lake, "sales", "contacts_inc")
	if err != nil || !ok || !strings.HasPrefix(rec.Incremental, "incremental: merged 0") || rec.Status != flow.StatusUnchanged {
		t.Errorf("latest run record of contacts_inc: %q %s (%v, %v), want the merge of 0 keys, unchanged", rec.Incremental, rec.Status, ok, err)
	}
}

func dump(t *testing.T, m *flowtest.Mesh, table string) {
	t.Helper()
	rows := m.Query("sales", table, "SELECT CAST(to_json(p) AS VARCHAR) FROM port AS p ORDER BY ALL")
	defer rows.Close()
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		t.Logf("  %s: %s", table, s)
	}
}
