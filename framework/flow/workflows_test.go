package flow

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
	_ "gocloud.dev/blob/memblob"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
	"github.com/meshflow/meshflow/framework/quality"
)

func testMesh() mesh.Mesh {
	return mesh.Mesh{Domains: []mesh.Domain{{Name: "marketing", Owner: "team", Products: []mesh.Product{{
		Name: "crm_contacts", Version: "1.0.0", Description: "Contacts.",
		Inputs: []mesh.Input{mesh.Raw("hubspot", "contacts"), mesh.Raw("hubspot", "companies")},
		Model:  "SELECT 1", Schema: []mesh.Column{{Name: "id", Type: mesh.String, Doc: "id"}}, PrimaryKey: []string{"id"},
		Classification: mesh.Internal, Freshness: mesh.Freshness{WarnAfter: time.Hour, FailAfter: 2 * time.Hour}, Cadence: "@daily",
	}, {
		Name: "web_traffic", Version: "1.0.0", Description: "Traffic.",
		Inputs: []mesh.Input{mesh.Raw("googleanalytics", "daily_report")},
		Model:  "SELECT 1", Schema: []mesh.Column{{Name: "date", Type: mesh.Date, Doc: "day"}}, PrimaryKey: []string{"date"},
		Classification: mesh.Internal, Freshness: mesh.Freshness{WarnAfter: time.Hour, FailAfter: 2 * time.Hour}, Cadence: "@daily",
		PartitionBy: "date",
	}}}}}
}

func newEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *Activities) {
	env, _, acts := newRunEnv(t)
	return env, acts
}

// newRunEnv also returns the registered Workflows, whose declarations a test may
// change mid-run (a deploy).
func newRunEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *Workflows, *Activities) {
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := s.NewTestWorkflowEnvironment()
	wf := &Workflows{Mesh: testMesh()}
	env.RegisterWorkflowWithOptions(wf.RunProduct, workflow.RegisterOptions{Name: RunProductWorkflow})
	acts := &Activities{Mesh: testMesh(), Lake: memLake(t)}
	env.RegisterActivity(acts)
	env.OnActivity(acts.DiscardStaged, mock.Anything, mock.Anything).Return(nil).Maybe()
	return env, wf, acts
}

// stagedByThisRun matches the staging key of the test run of crm_contacts.
var stagedByThisRun = mock.MatchedBy(func(key string) bool {
	return strings.HasPrefix(key, "staging/marketing/crm_contacts_v1/") && strings.HasSuffix(key, "/model.parquet")
})

var passing = []quality.Result{{Name: "unique_id", Status: "pass"}}

func TestRunProductPublishesAfterLandingEveryInput(t *testing.T) {
	env, a := newEnv(t)
	var landed []string
	env.OnActivity(a.Land, mock.Anything, mock.Anything).Return(func(_ context.Context, in LandInput) (LandOutput, error) {
		landed = append(landed, in.Stream)
		return LandOutput{Rows: 10}, nil
	})
	env.OnActivity(a.Transform, mock.Anything, mock.Anything).Return(TransformOutput{StagingKey: "staging/x", Rows: 7}, nil)
	env.OnActivity(a.Check, mock.Anything, mock.Anything).Return(CheckOutput{Results: passing, Status: "pass"}, nil)
	env.OnActivity(a.Publish, mock.Anything, mock.MatchedBy(func(in PublishInput) bool { return in.StagingKey == "staging/x" })).
		Return(PublishOutput{Table: "marketing.crm_contacts_v1", SnapshotID: 42, Rows: 7}, nil).Once()
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
	if res.SnapshotID != 42 || res.Rows != 7 || res.Landed["hubspot.contacts"] != 10 || res.Landed["hubspot.companies"] != 10 {
		t.Fatalf("result = %+v", res)
	}
	if len(landed) != 2 {
		t.Fatalf("landed %v, want both raw inputs", landed)
	}
	if rec.Status != "published" || rec.SnapshotID != 42 {
		t.Fatalf("run record = %+v", rec)
	}
	env.AssertExpectations(t)
	env.AssertNotCalled(t, "DiscardStaged", mock.Anything, mock.Anything) // Publish deletes it once published
}

func TestRunProductErrorCheckBlocksThePublish(t *testing.T) {
	env, a := newEnv(t)
	env.OnActivity(a.Land, mock.Anything, mock.Anything).Return(LandOutput{Rows: 10}, nil)
	env.OnActivity(a.Transform, mock.Anything, mock.Anything).Return(TransformOutput{StagingKey: "staging/x", Rows: 7}, nil)
	env.OnActivity(a.Check, mock.Anything, mock.Anything).Return(CheckOutput{Status: "fail", Results: []quality.Result{
		{Name: "not_null_email", Status: "fail", Severity: "error", Failing: 3, Message: "3 null values"},
		{Name: "row_count", Status: "warn", Severity: "warn"},
	}}, nil)
	var rec RunRecord
	env.OnActivity(a.RecordRun, mock.Anything, mock.Anything).Return(func(_ context.Context, r RunRecord) error { rec = r; return nil })

	env.ExecuteWorkflow(RunProductWorkflow, RunInput{Domain: "marketing", Product: "crm_contacts"})
	err := env.GetWorkflowError()
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != ErrTypeQualityGate {
		t.Fatalf("err = %v, want a quality gate error", err)
	}
	for _, want := range []string{"not_null_email", "3 null values", "previous snapshot", "crm_contacts_v1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	env.AssertNotCalled(t, "Publish", mock.Anything, mock.Anything)
	if rec.Status != "blocked" || len(rec.Checks) != 2 {
		t.Fatalf("run record = %+v", rec)
	}
	env.AssertCalled(t, "DiscardStaged", mock.Anything, stagedByThisRun)
}

func TestRunProductFailedPublishDiscardsWhatItStaged(t *testing.T) {
	env, a := newEnv(t)
	env.OnActivity(a.Land, mock.Anything, mock.Anything).Return(LandOutput{Rows: 10}, nil)
	env.OnActivity(a.Transform, mock.Anything, mock.Anything).Return(TransformOutput{StagingKey: "staging/x", Rows: 7}, nil)
	env.OnActivity(a.Check, mock.Anything, mock.Anything).Return(CheckOutput{Results: passing, Status: "pass"}, nil)
	env.OnActivity(a.Publish, mock.Anything, mock.Anything).Return(PublishOutput{},
		temporal.NewNonRetryableApplicationError("breaking change", "invalid", nil))
	env.OnActivity(a.RecordRun, mock.Anything, mock.Anything).Return(nil)

	env.ExecuteWorkflow(RunProductWorkflow, RunInput{Domain: "marketing", Product: "crm_contacts"})
	if err := env.GetWorkflowError(); err == nil || !strings.Contains(err.Error(), "breaking change") {
		t.Fatalf("err = %v, want the publish error", err)
	}
	env.AssertCalled(t, "DiscardStaged", mock.Anything, stagedByThisRun)
}

func TestDiscardStagedDeletesOnlyStagingKeys(t *testing.T) {
	ctx := context.Background()
	l, err := lake.Open(ctx, "mem://")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	a := &Activities{Lake: l}
	key := StagingKey("marketing", "crm_contacts_v1", "run-1")
	if err := l.Bucket.WriteAll(ctx, key, []byte("rows"), nil); err != nil {
		t.Fatal(err)
	}
	if err := l.Bucket.WriteAll(ctx, "raw/keep.parquet", []byte("rows"), nil); err != nil {
		t.Fatal(err)
	}
	if err := a.DiscardStaged(ctx, key); err != nil {
		t.Fatal(err)
	}
	if ok, _ := l.Bucket.Exists(ctx, key); ok {
		t.Error("the staged file is still there")
	}
	if err := a.DiscardStaged(ctx, key); err != nil {
		t.Errorf("discarding it again = %v, want nil (already gone is fine)", err)
	}
	for _, bad := range []string{"raw/keep.parquet", "staging/../raw/keep.parquet"} {
		if err := a.DiscardStaged(ctx, bad); err == nil || !strings.Contains(err.Error(), "not a staging key") {
			t.Errorf("DiscardStaged(%q) = %v, want a refusal", bad, err)
		}
	}
	if ok, _ := l.Bucket.Exists(ctx, "raw/keep.parquet"); !ok {
		t.Error("a file outside staging/ was deleted")
	}
}

func TestRunProductWaitsOutAnExhaustedQuota(t *testing.T) {
	env, a := newEnv(t)
	start := env.Now()
	until := start.Add(7 * time.Hour)
	calls := 0
	env.OnActivity(a.Land, mock.Anything, mock.MatchedBy(func(in LandInput) bool { return in.Stream == "contacts" })).Return(func(_ context.Context, in LandInput) (LandOutput, error) {
		calls++
		if calls == 1 {
			return LandOutput{}, temporal.NewApplicationErrorWithOptions("hubspot: DAILY quota exhausted", ErrTypeQuotaExhausted, temporal.ApplicationErrorOptions{NonRetryable: true, Details: []any{until}})
		}
		return LandOutput{Rows: 5}, nil
	})
	env.OnActivity(a.Land, mock.Anything, mock.Anything).Return(LandOutput{Rows: 1}, nil)
	env.OnActivity(a.Transform, mock.Anything, mock.Anything).Return(TransformOutput{StagingKey: "k"}, nil)
	env.OnActivity(a.Check, mock.Anything, mock.Anything).Return(CheckOutput{Results: passing}, nil)
	var publishedAt time.Time
	env.OnActivity(a.Publish, mock.Anything, mock.Anything).Return(func(_ context.Context, in PublishInput) (PublishOutput, error) {
		publishedAt = in.PublishedAt
		return PublishOutput{SnapshotID: 1}, nil
	})
	env.OnActivity(a.RecordRun, mock.Anything, mock.Anything).Return(nil)
	var during Progress
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(ProgressQuery)
		if err == nil {
			_ = v.Get(&during)
		}
	}, time.Hour)

	env.ExecuteWorkflow(RunProductWorkflow, RunInput{Domain: "marketing", Product: "crm_contacts"})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if calls != 2 {
		t.Fatalf("contacts landed %d times, want a retry after the wait", calls)
	}
	if publishedAt.Before(until) {
		t.Fatalf("published at %v, before the quota reset at %v", publishedAt, until)
	}
	if during.Stage != "waiting for quota" || !during.Until.Equal(until) {
		t.Fatalf("progress during the wait = %+v", during)
	}
}

// A day's landing runs as a local activity (localDay); an exhausted quota is waited out
// on a durable timer all the same, and the day lands again after it, from what the
// stopped landing made durable. A local activity's error reaches the workflow with its
// details as values, not encoded: the three Land sends, and the reset time alone.
func TestDayRunWaitsOutAnExhaustedQuota(t *testing.T) {
	stopped := lake.Checkpoint{Cursor: json.RawMessage(`{"page":3}`), Pages: 3}
	for _, tc := range []struct {
		name    string
		details []any
		resume  *lake.Checkpoint
	}{{"as Land sends them", []any{time.Time{}, stopped, "tokensPerDay"}, &stopped}, {"the reset time alone", []any{time.Time{}}, nil}} {
		t.Run(tc.name, func(t *testing.T) {
			env, a := newEnv(t)
			until := env.Now().Add(7 * time.Hour)
			tc.details[0] = until
			var calls []LandInput
			env.OnActivity(a.Land, mock.Anything, mock.Anything).Return(func(ctx context.Context, in LandInput) (LandOutput, error) {
				if !activity.GetInfo(ctx).IsLocalActivity {
					return LandOutput{}, temporal.NewNonRetryableApplicationError("a day's landing ran as an activity", "test", nil)
				}
				calls = append(calls, in)
				if len(calls) == 1 {
					return LandOutput{}, temporal.NewApplicationErrorWithOptions("googleanalytics: daily tokens exhausted", ErrTypeQuotaExhausted,
						temporal.ApplicationErrorOptions{NonRetryable: true, Details: tc.details})
				}
				return LandOutput{Rows: 3}, nil
			})
			var producedAt time.Time
			env.OnActivity(a.Produce, mock.Anything, mock.Anything).Return(func(_ context.Context, in ProduceInput) (ProduceOutput, error) {
				producedAt = in.PublishedAt
				return ProduceOutput{Transform: TransformOutput{StagingKey: "k", Rows: 2}, Check: CheckOutput{Results: passing}, Published: true,
					Publish: PublishOutput{SnapshotID: 1, Rows: 2}}, nil
			})
			env.OnActivity(a.RecordRun, mock.Anything, mock.Anything).Return(nil)

			env.ExecuteWorkflow(RunProductWorkflow, RunInput{Domain: "marketing", Product: "web_traffic", Partition: "2026-05-02"})
			if err := env.GetWorkflowError(); err != nil {
				t.Fatal(err)
			}
			if len(calls) != 2 {
				t.Fatalf("the day landed %d times, want once more after the wait", len(calls))
			}
			if producedAt.Before(until) {
				t.Fatalf("produced at %v, before the quota reset at %v", producedAt, until)
			}
			if got := calls[1].Resume; (got == nil) != (tc.resume == nil) || (got != nil && string(got.Cursor) != string(tc.resume.Cursor)) {
				t.Errorf("the landing after the wait resumed from %+v, want %+v", got, tc.resume)
			}
		})
	}
}

// A day's run computes, checks and publishes that day in one activity (Produce).
func TestRunProductPartitionFiltersAndReplacesThatDay(t *testing.T) {
	env, a := newEnv(t)
	env.OnActivity(a.Land, mock.Anything, mock.Anything).Return(LandOutput{Rows: 3}, nil)
	env.OnActivity(a.Produce, mock.Anything, mock.MatchedBy(func(in ProduceInput) bool { return in.Transform.Partition == "2026-05-02" })).
		Return(ProduceOutput{Transform: TransformOutput{StagingKey: "k", Rows: 2}, Check: CheckOutput{Results: passing}, Published: true,
			Publish: PublishOutput{SnapshotID: 1, Rows: 2}}, nil).Once()
	var rec RunRecord
	env.OnActivity(a.RecordRun, mock.Anything, mock.Anything).Return(func(_ context.Context, r RunRecord) error { rec = r; return nil })

	env.ExecuteWorkflow(RunProductWorkflow, RunInput{Domain: "marketing", Product: "web_traffic", Partition: "2026-05-02"})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	env.AssertExpectations(t)
	for _, step := range []string{"Transform", "Check", "Publish"} {
		env.AssertNotCalled(t, step, mock.Anything, mock.Anything)
	}
	var res RunResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.SnapshotID != 1 || res.Rows != 2 || rec.Status != StatusPublished || rec.Partition != "2026-05-02" || rec.SnapshotID != 1 {
		t.Fatalf("result %+v, record %+v: want snapshot 1 of 2 rows published for 2026-05-02", res, rec)
	}
}

// A day whose Error check fails publishes nothing, is recorded blocked, and its staged
// model is discarded, as when the steps run apart; a failed step is named.
func TestRunProductPartitionBlockedOrFailedInProduce(t *testing.T) {
	for _, tc := range []struct {
		name        string
		out         ProduceOutput
		err         error
		status      string
		errContains string
	}{
		{name: "blocked", out: ProduceOutput{Transform: TransformOutput{StagingKey: "k", Rows: 2},
			Check: CheckOutput{Status: "fail", Results: []quality.Result{{Name: "row_count", Status: mesh.StatusFail, Message: "0 rows"}}}},
			status: StatusBlocked, errContains: "quality gate: 1 error check(s) failed: row_count (0 rows)"},
		{name: "publish failed", err: temporal.NewNonRetryableApplicationError("publish: breaking change", "invalid", nil),
			status: StatusFailed, errContains: "publish: breaking change"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, a := newEnv(t)
			env.OnActivity(a.Land, mock.Anything, mock.Anything).Return(LandOutput{Rows: 3}, nil)
			env.OnActivity(a.Produce, mock.Anything, mock.Anything).Return(tc.out, tc.err)
			var rec RunRecord
			env.OnActivity(a.RecordRun, mock.Anything, mock.Anything).Return(func(_ context.Context, r RunRecord) error { rec = r; return nil })

			env.ExecuteWorkflow(RunProductWorkflow, RunInput{Domain: "marketing", Product: "web_traffic", Partition: "2026-05-02"})
			err := env.GetWorkflowError()
			if err == nil || !strings.Contains(err.Error(), tc.errContains) {
				t.Fatalf("err = %v, want it to say %q", err, tc.errContains)
			}
			if rec.Status != tc.status || !strings.Contains(rec.Error, tc.errContains) || strings.HasPrefix(rec.Error, ": ") {
				t.Fatalf("record status %q error %q, want %s saying %q", rec.Status, rec.Error, tc.status, tc.errContains)
			}
			env.AssertCalled(t, "DiscardStaged", mock.Anything, mock.MatchedBy(func(key string) bool { return strings.HasPrefix(key, "staging/marketing/web_traffic_v1/") }))
		})
	}
}

func TestRunProductRefusesAPartitionOfAnUnpartitionedProduct(t *testing.T) {
	env, _ := newEnv(t)
	env.ExecuteWorkflow(RunProductWorkflow, RunInput{Domain: "marketing", Product: "crm_contacts", Partition: "2026-05-02"})
	err := env.GetWorkflowError()
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != "invalid" || !app.NonRetryable() || !strings.Contains(err.Error(), "not partitioned") {
		t.Fatalf("err = %v, want a non-retryable invalid error saying the product is not partitioned", err)
	}
	env.AssertNotCalled(t, "Land", mock.Anything, mock.Anything)
}

func TestPartitionPublished(t *testing.T) {
	snaps := []port.Snapshot{
		{ID: 2, Properties: map[string]string{PropPartition: "2026-11-20"}},
		{ID: 3, Properties: map[string]string{PropPartition: "2026-11-22"}},
	}
	if !PartitionPublished(snaps, "2026-11-20") {
		t.Error("a published partition is not found")
	}
	if PartitionPublished(snaps, "2026-11-21") {
		t.Error("an unpublished partition counts as published")
	}
	whole := append(snaps, port.Snapshot{ID: 1, Properties: map[string]string{PropPartition: ""}})
	if !PartitionPublished(whole, "2026-11-21") {
		t.Error("a whole-port publish covers every day")
	}
}

func memLake(t *testing.T) *lake.Lake {
	t.Helper()
	l, err := lake.Open(context.Background(), "mem://")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// TestQuotaWaitResumesFromWhatLanded: a landing stopped by an exhausted quota hands the
// workflow its checkpoint, and the landing after the wait resumes from it instead of
// reading everything again.
func TestQuotaWaitResumesFromWhatLanded(t *testing.T) {
	env, a := newEnv(t)
	until := env.Now().Add(3 * time.Hour)
	kept := lake.Checkpoint{Files: []lake.DataFile{{Key: "raw/marketing/hubspot/contacts/run=r/part-00000.parquet", Rows: 100}}, Cursor: []byte(`{"v":1,"page":7}`), Pages: 7, Rows: 100}
	var resumed []*lake.Checkpoint
	env.OnActivity(a.Land, mock.Anything, mock.MatchedBy(func(in LandInput) bool { return in.Stream == "contacts" })).Return(func(ctx context.Context, in LandInput) (LandOutput, error) {
		resumed = append(resumed, in.Resume)
		if len(resumed) == 1 {
			return LandOutput{}, toTemporal(ctx, quotaErr(until), kept)
		}
		return LandOutput{Rows: 150}, nil
	})
	env.OnActivity(a.Land, mock.Anything, mock.Anything).Return(LandOutput{Rows: 1}, nil)
	env.OnActivity(a.Transform, mock.Anything, mock.Anything).Return(TransformOutput{StagingKey: "k"}, nil)
	env.OnActivity(a.Check, mock.Anything, mock.Anything).Return(CheckOutput{Results: passing}, nil)
	env.OnActivity(a.Publish, mock.Anything, mock.Anything).Return(PublishOutput{SnapshotID: 1}, nil)
	env.OnActivity(a.RecordRun, mock.Anything, mock.Anything).Return(nil)
	var during Progress
	env.RegisterDelayedCallback(func() {
		if v, err := env.QueryWorkflow(ProgressQuery); err == nil {
			_ = v.Get(&during)
		}
	}, time.Hour)

	env.ExecuteWorkflow(RunProductWorkflow, RunInput{Domain: "marketing", Product: "crm_contacts"})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if during.Stage != "waiting for quota" || during.Waiting != "GA4's daily token quota of property 1" || !during.Until.Equal(until) {
		t.Errorf("progress during the wait = %+v, want it to name the limit and its reset", during)
	}
	if len(resumed) != 2 || resumed[0] != nil || resumed[1] == nil || resumed[1].Rows != 100 || string(resumed[1].Cursor) != `{"v":1,"page":7}` || len(resumed[1].Files) != 1 {
		t.Fatalf("landings resumed from %+v, want nothing and then the stopped landing's checkpoint", resumed)
	}
}

func quotaErr(until time.Time) error {
	e := errs.Errorf(errs.Quota, "googleanalytics: run report", "tokensPerDay exhausted")
	e.Until, e.Limit = until, "GA4's daily token quota of property 1"
	return e
}

// TestRunFailureSaysTheStepAndTheCause: a failed run's error (what the Temporal UI,
// a backfill's day and the run record show) names the step and the activity's own
// message, without the SDK's activity-error layers.
func TestRunFailureSaysTheStepAndTheCause(t *testing.T) {
	env, a := newEnv(t)
	env.OnActivity(a.Land, mock.Anything, mock.MatchedBy(func(in LandInput) bool { return in.Stream == "contacts" })).
		Return(LandOutput{}, temporal.NewNonRetryableApplicationError("hubspot: HTTP 401: set HUBSPOT_TOKEN", "permission", nil))
	env.OnActivity(a.Land, mock.Anything, mock.Anything).Return(LandOutput{Rows: 1}, nil)
	var rec RunRecord
	env.OnActivity(a.RecordRun, mock.Anything, mock.Anything).Return(func(_ context.Context, r RunRecord) error { rec = r; return nil })
	env.ExecuteWorkflow(RunProductWorkflow, RunInput{Domain: "marketing", Product: "crm_contacts"})
	var app *temporal.ApplicationError
	if err := env.GetWorkflowError(); !errors.As(err, &app) || app.Message() != "land hubspot.contacts: hubspot: HTTP 401: set HUBSPOT_TOKEN" {
		t.Fatalf("run error = %v, want the step and the activity's message alone", err)
	}
	if rec.Error != "land hubspot.contacts: hubspot: HTTP 401: set HUBSPOT_TOKEN" || rec.Status != StatusFailed {
		t.Fatalf("run record = %+v", rec)
	}
}
