package flow

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/source"
)

// enrichStream is a keyed stream: one record per key it is handed, its cursor the
// number of keys done; it remembers the keys it was asked about.
type enrichStream struct{ asked *[]string }

func (s enrichStream) Spec() source.StreamSpec {
	return source.StreamSpec{Name: "company_enrichment", PrimaryKey: []string{"domain"}, CursorField: "enriched_at",
		Fields: []source.Field{{Name: "domain", Type: source.String, Path: []string{"domain"}}, {Name: "enriched_at", Type: source.Timestamp, Path: []string{"enriched_at"}}},
		Keys: &source.Keys{Inputs: []string{"marketing.crm_contacts"},
			SQL: `SELECT DISTINCT id AS domain FROM marketing.crm_contacts
			      WHERE id NOT IN (SELECT domain FROM enrich.company_enrichment) ORDER BY domain`}}
}

func (s enrichStream) NextPage(_ context.Context, req source.PageRequest) (source.Page, error) {
	done := 0
	if len(req.Cursor) > 0 {
		if err := json.Unmarshal(req.Cursor, &done); err != nil {
			return source.Page{}, errs.E(errs.Invalid, "cursor", err)
		}
	}
	if done >= len(req.Keys) {
		return source.Page{Done: true}, nil
	}
	k := req.Keys[done]
	*s.asked = append(*s.asked, k["domain"])
	rec := fmt.Sprintf(`{"domain": %q, "enriched_at": %q}`, k["domain"], time.Now().UTC().Format(time.RFC3339))
	next, _ := json.Marshal(done + 1)
	return source.Page{Records: []json.RawMessage{json.RawMessage(rec)}, Next: next, Done: done+1 == len(req.Keys)}, nil
}

type enrichSource struct{ stream enrichStream }

func (s enrichSource) Name() string                    { return "enrich" }
func (s enrichSource) Streams() []source.Stream        { return []source.Stream{s.stream} }
func (s enrichSource) Check(ctx context.Context) error { return nil }

// TestKeyedStreamAsksAboutTheMeshsOwnRows: a keyed stream is handed the rows its
// query selects from a port's current snapshot, leaving out what its own landings
// already hold, so each key is asked about once.
func TestKeyedStreamAsksAboutTheMeshsOwnRows(t *testing.T) {
	e := newPublishEnv(t)
	e.publish("crm_contacts", "run-1", "", "SELECT unnest(['b', 'a', 'a'])::VARCHAR AS id", e.decl("crm_contacts"), passing)
	var asked []string
	e.a.Sources = map[string]source.Source{"enrich": enrichSource{enrichStream{&asked}}}
	e.a.WorkDir = t.TempDir()
	land := func(run string) LandOutput {
		t.Helper()
		var s testsuite.WorkflowTestSuite
		env := s.NewTestActivityEnvironment()
		env.RegisterActivity(e.a)
		v, err := env.ExecuteActivity(e.a.Land, LandInput{Domain: "market_intelligence", Source: "enrich", Stream: "company_enrichment", RunID: run, SyncStart: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		var out LandOutput
		if err := v.Get(&out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if out := land("run-1"); out.Rows != 2 || !slices.Equal(asked, []string{"a", "b"}) {
		t.Fatalf("first landing: %d rows, asked %v; want a and b once each, in the query's order", out.Rows, asked)
	}
	e.publish("crm_contacts", "run-2", "", "SELECT unnest(['a', 'b', 'c'])::VARCHAR AS id", e.decl("crm_contacts"), passing)
	if out := land("run-2"); out.Rows != 1 || !slices.Equal(asked, []string{"a", "b", "c"}) {
		t.Fatalf("second landing: %d rows, asked %v; want only the new key c", out.Rows, asked)
	}
}
