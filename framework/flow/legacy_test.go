package flow

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/quality"
)

// legacyMesh declares crm_contacts at 2.0.0 with its 1.x table kept until sunset.
func legacyMesh(sunset string) mesh.Mesh {
	m := testMesh()
	p := &m.Domains[0].Products[0]
	p.Version = "2.0.0"
	p.Legacy = []mesh.Legacy{{
		Version: "1.4.0", Sunset: sunset, Model: "SELECT 1 AS id",
		Schema:    []mesh.Column{{Name: "id", Type: mesh.String, Doc: "id"}},
		Migration: "read crm_contacts_v2",
	}}
	return m
}

func legacyEnv(t *testing.T, m mesh.Mesh, now time.Time) (*testsuite.TestWorkflowEnvironment, *Activities) {
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(now)
	wf := &Workflows{Mesh: m}
	env.RegisterWorkflowWithOptions(wf.RunProduct, workflow.RegisterOptions{Name: RunProductWorkflow})
	acts := &Activities{Mesh: m, Lake: memLake(t)}
	env.RegisterActivity(acts)
	env.OnActivity(acts.DiscardStaged, mock.Anything, mock.Anything).Return(nil).Maybe()
	return env, acts
}

func TestLegacyMajorPublishesUntilItsSunset(t *testing.T) {
	day := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		sunset      string
		wantLegacy  bool
		description string
	}{
		{"2026-11-23", true, "on its sunset day the old table still publishes"},
		{"2026-11-22", false, "after its sunset day it no longer does"},
	} {
		t.Run(tc.sunset, func(t *testing.T) {
			env, a := legacyEnv(t, legacyMesh(tc.sunset), day)
			var mu sync.Mutex
			published := map[int]bool{}
			env.OnActivity(a.Land, mock.Anything, mock.Anything).Return(LandOutput{Rows: 10}, nil)
			env.OnActivity(a.Transform, mock.Anything, mock.Anything).Return(func(_ context.Context, in TransformInput) (TransformOutput, error) {
				return TransformOutput{StagingKey: "staging/v" + string(rune('0'+in.Major)), Rows: 7}, nil
			})
			env.OnActivity(a.Check, mock.Anything, mock.Anything).Return(CheckOutput{Results: passing, Status: "pass"}, nil)
			env.OnActivity(a.Publish, mock.Anything, mock.Anything).Return(func(_ context.Context, in PublishInput) (PublishOutput, error) {
				mu.Lock()
				defer mu.Unlock()
				published[in.Major] = true
				if in.Major == 1 && in.StagingKey != "staging/v1" {
					t.Errorf("legacy publish got staging key %q", in.StagingKey)
				}
				table := "marketing.crm_contacts_v2"
				if in.Major == 1 {
					table = "marketing.crm_contacts_v1"
				}
				return PublishOutput{Table: table, SnapshotID: int64(100 + in.Major), Rows: 7}, nil
			})
			var rec RunRecord
			env.OnActivity(a.RecordRun, mock.Anything, mock.Anything).Return(func(_ context.Context, r RunRecord) error { rec = r; return nil })

			env.ExecuteWorkflow(RunProductWorkflow, RunInput{Domain: "marketing", Product: "crm_contacts"})
			if err := env.GetWorkflowError(); err != nil {
				t.Fatal(err)
			}
			var res RunResult
			if err := env.GetWorkflowResult(&res); err != nil {
				t.Fatal(err)
			}
			if !published[0] || published[1] != tc.wantLegacy {
				t.Fatalf("%s: published majors %v", tc.description, published)
			}
			if tc.wantLegacy {
				if len(res.Legacy) != 1 || res.Legacy[0].Table != "crm_contacts_v1" || res.Legacy[0].SnapshotID != 101 || len(rec.Legacy) != 1 {
					t.Fatalf("result legacy = %+v, record legacy = %+v", res.Legacy, rec.Legacy)
				}
			} else if len(res.Legacy) != 0 {
				t.Fatalf("legacy published after sunset: %+v", res.Legacy)
			}
		})
	}
}

func TestFailedLegacyMajorKeepsTheCurrentPublishAndSaysSo(t *testing.T) {
	env, a := legacyEnv(t, legacyMesh("2099-01-01"), time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	env.OnActivity(a.Land, mock.Anything, mock.Anything).Return(LandOutput{Rows: 10}, nil)
	env.OnActivity(a.Transform, mock.Anything, mock.Anything).Return(TransformOutput{StagingKey: "staging/x", Rows: 7}, nil)
	env.OnActivity(a.Check, mock.Anything, mock.MatchedBy(func(in CheckInput) bool { return in.Major == 0 })).Return(CheckOutput{Results: passing, Status: "pass"}, nil)
	env.OnActivity(a.Check, mock.Anything, mock.MatchedBy(func(in CheckInput) bool { return in.Major == 1 })).Return(CheckOutput{Status: "fail",
		Results: []quality.Result{{Name: "unique_id", Status: "fail", Severity: "error"}}}, nil)
	env.OnActivity(a.Publish, mock.Anything, mock.MatchedBy(func(in PublishInput) bool { return in.Major == 0 })).
		Return(PublishOutput{Table: "marketing.crm_contacts_v2", SnapshotID: 7, Rows: 7}, nil).Once()
	var rec RunRecord
	env.OnActivity(a.RecordRun, mock.Anything, mock.Anything).Return(func(_ context.Context, r RunRecord) error { rec = r; return nil })

	env.ExecuteWorkflow(RunProductWorkflow, RunInput{Domain: "marketing", Product: "crm_contacts"})
	err := env.GetWorkflowError()
	if err == nil {
		t.Fatal("a run whose legacy major was blocked succeeded")
	}
	for _, want := range []string{"crm_contacts_v2 (snapshot 7)", "crm_contacts_v1", "unique_id"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if rec.Status != "published" || rec.SnapshotID != 7 || len(rec.Legacy) != 1 || rec.Legacy[0].Status != "blocked" {
		t.Fatalf("run record = %+v", rec)
	}
	env.AssertExpectations(t)
}
