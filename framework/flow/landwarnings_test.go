package flow

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"

	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/source"
)

// warningSource has one stream, "contacts", of two pages: the first reports a
// warning (a file it refused), the second holds a record.
type warningSource struct{}

func (warningSource) Name() string                    { return "fake" }
func (warningSource) Streams() []source.Stream        { return []source.Stream{warningSource{}} }
func (warningSource) Check(ctx context.Context) error { return nil }
func (warningSource) Spec() source.StreamSpec         { return (&pagedSource{}).Spec() }

func (warningSource) NextPage(_ context.Context, req source.PageRequest) (source.Page, error) {
	if len(req.Cursor) == 0 {
		return source.Page{Warnings: []string{"refused a.csv"}, Next: json.RawMessage(`{"p":1}`)}, nil
	}
	return source.Page{Records: []json.RawMessage{json.RawMessage(`{"id":"1"}`)}, Next: json.RawMessage(`{"p":2}`), Done: true}, nil
}

// TestLandReportsThePagesWarnings: what a source reports while landing is in the
// Land activity's output and in the landing's manifest, which a retried attempt
// that finds the landing committed returns.
func TestLandReportsThePagesWarnings(t *testing.T) {
	a := &Activities{Mesh: testMesh(), Lake: memLake(t), Sources: map[string]source.Source{"fake": warningSource{}}}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	v, err := env.ExecuteActivity(a.Land, LandInput{Domain: "marketing", Source: "fake", Stream: "contacts", RunID: "run-1", SyncStart: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	var out LandOutput
	if err := v.Get(&out); err != nil {
		t.Fatal(err)
	}
	if out.Rows != 1 || !slices.Equal(out.Warnings, []string{"refused a.csv"}) {
		t.Fatalf("land output %+v", out)
	}
	_, m, ok, err := a.Lake.CommittedBy(context.Background(), lake.StreamRef{Domain: "marketing", Source: "fake", Stream: "contacts"}, "run-1", "")
	if err != nil || !ok || !slices.Equal(m.Warnings, out.Warnings) {
		t.Fatalf("manifest warnings %q (%v, %v)", m.Warnings, ok, err)
	}
}

// TestRunProductCarriesTheLandingsWarnings: a landing's warnings are the run's, in
// its result and its record, named by input and before the transform's.
func TestRunProductCarriesTheLandingsWarnings(t *testing.T) {
	env, a := newEnv(t)
	env.OnActivity(a.Land, mock.Anything, mock.Anything).Return(func(_ context.Context, in LandInput) (LandOutput, error) {
		if in.Stream == "contacts" {
			return LandOutput{Rows: 1, Warnings: []string{"refused a.csv: column \"email\" is missing"}}, nil
		}
		return LandOutput{Rows: 1}, nil
	})
	env.OnActivity(a.Transform, mock.Anything, mock.Anything).Return(TransformOutput{StagingKey: "staging/x", Rows: 1, Warnings: []string{"read an old snapshot"}}, nil)
	env.OnActivity(a.Check, mock.Anything, mock.Anything).Return(CheckOutput{Results: passing, Status: "pass"}, nil)
	env.OnActivity(a.Publish, mock.Anything, mock.Anything).Return(PublishOutput{Table: "marketing.crm_contacts_v1", SnapshotID: 1, Rows: 1}, nil)
	var rec RunRecord
	env.OnActivity(a.RecordRun, mock.Anything, mock.Anything).Return(func(_ context.Context, r RunRecord) error { rec = r; return nil })

	env.ExecuteWorkflow(RunProductWorkflow, RunInput{Domain: "marketing", Product: "crm_contacts"})
	var res RunResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	want := []string{`land hubspot.contacts: refused a.csv: column "email" is missing`, "read an old snapshot"}
	if !slices.Equal(res.Warnings, want) || !slices.Equal(rec.Warnings, want) {
		t.Fatalf("result warnings %q, record %q; want %q", res.Warnings, rec.Warnings, want)
	}
}
