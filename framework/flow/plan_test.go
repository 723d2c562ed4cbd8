package flow

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
	"github.com/meshflow/meshflow/framework/quality"
	"github.com/meshflow/meshflow/framework/transform"
)

// deployed is testMesh after a deploy that changed crm_contacts three ways: an added
// raw input, an added check and a new major (1.x kept as legacy).
func deployed() mesh.Mesh {
	m := legacyMesh("2099-12-31")
	p := &m.Domains[0].Products[0]
	p.Inputs = append(slices.Clone(p.Inputs), mesh.Raw("hubspot", "deals"))
	p.Checks = append(slices.Clone(p.Checks), mesh.RowCount(0, 1))
	return m
}

// TestRunKeepsItsPlanAcrossADeploy: a run waiting out a quota when the worker's
// declarations change finishes with what it planned at its start — the inputs it lands,
// the declaration its activities read (model, checks), the majors it publishes — and
// the next run plans with the new declarations.
func TestRunKeepsItsPlanAcrossADeploy(t *testing.T) {
	env, wf, a := newRunEnv(t)
	until := env.Now().Add(5 * time.Hour)
	var landed []string
	quota := true
	env.OnActivity(a.Land, mock.Anything, mock.Anything).Return(func(_ context.Context, in LandInput) (LandOutput, error) {
		landed = append(landed, in.Stream)
		if in.Stream == "contacts" && quota {
			quota = false
			return LandOutput{}, temporal.NewApplicationErrorWithOptions("quota", ErrTypeQuotaExhausted, temporal.ApplicationErrorOptions{NonRetryable: true, Details: []any{until}})
		}
		return LandOutput{Rows: 1}, nil
	})
	var decls []string
	env.OnActivity(a.Transform, mock.Anything, mock.Anything).Return(func(_ context.Context, in TransformInput) (TransformOutput, error) {
		decls = append(decls, in.Decl)
		return TransformOutput{StagingKey: "k", Rows: 1}, nil
	})
	env.OnActivity(a.Check, mock.Anything, mock.Anything).Return(CheckOutput{Results: passing}, nil)
	var tables []string
	env.OnActivity(a.Publish, mock.Anything, mock.Anything).Return(func(_ context.Context, in PublishInput) (PublishOutput, error) {
		tables = append(tables, fmt.Sprint(in.Major))
		return PublishOutput{SnapshotID: 1}, nil
	})
	env.OnActivity(a.RecordRun, mock.Anything, mock.Anything).Return(nil)
	// The deploy, halfway through the quota wait: new code, new declarations.
	env.RegisterDelayedCallback(func() { wf.Mesh, a.Mesh = deployed(), deployed() }, time.Hour)

	env.ExecuteWorkflow(RunProductWorkflow, RunInput{Domain: "marketing", Product: "crm_contacts"})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(landed, "deals") {
		t.Errorf("landed %v: the run landed an input added after it started", landed)
	}
	if len(tables) != 1 || len(decls) != 1 {
		t.Fatalf("published majors %v from declarations %v, want the current major alone", tables, decls)
	}
	_, p, _, err := a.declaration(context.Background(), decls[0], "marketing", "crm_contacts", 0)
	if err != nil {
		t.Fatal(err)
	}
	if p.Version != "1.0.0" || len(p.Checks) != 0 || len(p.Inputs) != 2 {
		t.Errorf("the run's activities read version %s with checks %v and inputs %v, want the declaration it started with", p.Version, p.Checks, p.Inputs)
	}

	// The next run plans with the deployed declarations.
	next, err := a.ResolvePlan(context.Background(), RunInput{Domain: "marketing", Product: "crm_contacts"})
	if err != nil {
		t.Fatal(err)
	}
	if len(next.Majors) != 2 || next.Majors[0].Table != "crm_contacts_v2" || len(next.Raw) != 3 {
		t.Errorf("next plan = %+v, want v2 and legacy v1 over three raw inputs", next)
	}
}

// TestPlanNamesDeclarationsByContent: the same declaration gets the same key; any
// change to model, checks or inputs gets another; the stored declaration reads back.
func TestPlanNamesDeclarationsByContent(t *testing.T) {
	a := &Activities{Mesh: testMesh(), Lake: memLake(t)}
	in := RunInput{Domain: "marketing", Product: "crm_contacts"}
	first, err := a.ResolvePlan(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := a.ResolvePlan(context.Background(), in)
	if first.Majors[0].Decl != again.Majors[0].Decl || !strings.HasPrefix(first.Majors[0].Decl, "plans/marketing/crm_contacts_v1/") {
		t.Fatalf("keys %q and %q: want one content-addressed key under plans/", first.Majors[0].Decl, again.Majors[0].Decl)
	}
	a.Mesh = deployed()
	changed, _ := a.ResolvePlan(context.Background(), in)
	if changed.Majors[0].Decl == first.Majors[0].Decl || changed.Majors[0].Checks == first.Majors[0].Checks {
		t.Fatal("a changed declaration kept its key or its checks hash")
	}
	// Another worker (nothing cached) reads the declaration from the lake.
	a = &Activities{Lake: a.Lake}
	_, p, _, err := a.declaration(context.Background(), first.Majors[0].Decl, "", "", 0)
	if err != nil || p.Name != "crm_contacts" || p.Version != "1.0.0" {
		t.Fatalf("declaration read back = %s %s, %v", p.Name, p.Version, err)
	}
	if _, err := a.ResolvePlan(context.Background(), RunInput{Domain: "marketing", Product: "nope"}); err == nil {
		t.Fatal("a plan for an unknown product resolved")
	}
}

// TestInterruptedAttemptIsRetried: an attempt whose context ended without the workflow
// asking (the server no longer took its heartbeats, the worker is stopping) fails
// retryably, so the next attempt resumes from the checkpoint; only a cancel the
// workflow requested is final.
func TestInterruptedAttemptIsRetried(t *testing.T) {
	landErr := errors.New("hubspot: list contacts: context canceled")
	lost, stop := context.WithCancelCause(context.Background())
	stop(errors.New("heartbeat: activity not found"))
	err := toTemporal(lost, landErr)
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.NonRetryable() || app.Type() != ErrTypeInterrupted {
		t.Fatalf("interrupted attempt = %v, want a retryable %q error", err, ErrTypeInterrupted)
	}
	asked, cancel := context.WithCancelCause(context.Background())
	cancel(temporal.NewCanceledError())
	if err := toTemporal(asked, landErr); !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancel the workflow asked for = %v, want context.Canceled (reported as canceled)", err)
	}
}

// publishEnv is a file lake, a SQLite catalog and the Activities over them, with a
// test environment to run Publish in.
type publishEnv struct {
	t     *testing.T
	a     *Activities
	ports *port.Catalog
	env   *testsuite.TestActivityEnvironment
}

func newPublishEnv(t *testing.T) *publishEnv {
	ctx := context.Background()
	dir := t.TempDir()
	l, err := lake.Open(ctx, "file://"+filepath.Join(dir, "lake"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	ports, err := port.Open(ctx, port.Options{CatalogURI: "sqlite://" + filepath.Join(dir, "catalog.db"), Warehouse: "file://" + filepath.Join(dir, "warehouse")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ports.Close() })
	a := &Activities{Mesh: testMesh(), Lake: l, Ports: ports}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	return &publishEnv{t: t, a: a, ports: ports, env: env}
}

// decl is the declaration key a run of product would use now.
func (e *publishEnv) decl(product string) string {
	e.t.Helper()
	plan, err := e.a.ResolvePlan(context.Background(), RunInput{Domain: "marketing", Product: product})
	if err != nil {
		e.t.Fatal(err)
	}
	return plan.Majors[0].Decl
}

// publish stages rows (a DuckDB SELECT) as run's model output, hashed as a transform
// hashes it, and publishes them.
func (e *publishEnv) publish(product, run, partition, rows, decl string, results []quality.Result) PublishOutput {
	t := e.t
	t.Helper()
	ctx := context.Background()
	key := StagingKey("marketing", product+"_v1", run)
	path := filepath.Join(e.a.Lake.LocalRoot(), filepath.FromSlash(key))
	db, err := transform.Open(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE model AS ` + rows); err != nil {
		t.Fatal(err)
	}
	_, hash, err := transform.RowsHash(ctx, db, "model")
	if err != nil {
		t.Fatal(err)
	}
	if err := mkdirFor(path); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(fmt.Sprintf(`COPY model TO '%s' (FORMAT parquet)`, path)); err != nil {
		t.Fatal(err)
	}
	v, err := e.env.ExecuteActivity(e.a.Publish, PublishInput{Domain: "marketing", Product: product, RunID: run, Partition: partition,
		StagingKey: key, Results: results, PublishedAt: time.Now(), Decl: decl, RowsHash: hash})
	if err != nil {
		t.Fatal(err)
	}
	var out PublishOutput
	if err := v.Get(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPublishOfTheSameRowsAddsNoSnapshot: a run that staged exactly the rows of the
// current snapshot, under the same declaration and with the same check outcomes, adds
// no snapshot and says unchanged; other rows, the same rows under a changed
// declaration, or a check whose outcome changed, publish.
func TestPublishOfTheSameRowsAddsNoSnapshot(t *testing.T) {
	e := newPublishEnv(t)
	ids := func(list string) string { return fmt.Sprintf("SELECT unnest(%s)::VARCHAR AS id", list) }
	decl := e.decl("crm_contacts")
	first := e.publish("crm_contacts", "run-1", "", ids("['a', 'b']"), decl, passing)
	same := e.publish("crm_contacts", "run-2", "", ids("['b', 'a']"), decl, passing)
	if !same.Unchanged || same.SnapshotID != first.SnapshotID || same.Rows != 2 {
		t.Fatalf("the same rows again = %+v, want unchanged at snapshot %d", same, first.SnapshotID)
	}
	if other := e.publish("crm_contacts", "run-3", "", ids("['a', 'b', 'c']"), decl, passing); other.Unchanged || other.SnapshotID == first.SnapshotID {
		t.Fatalf("other rows = %+v, want a new snapshot", other)
	}
	if back := e.publish("crm_contacts", "run-4", "", ids("['a', 'b']"), decl, passing); back.Unchanged {
		t.Fatal("rows equal to an older snapshot but not the current one were taken as unchanged")
	}
	warned := []quality.Result{{Name: "unique_id", Status: "warn"}}
	if w := e.publish("crm_contacts", "run-5", "", ids("['a', 'b']"), decl, warned); w.Unchanged {
		t.Fatal("the same rows with a check that now warns were taken as unchanged: the catalog would keep showing the old outcome")
	}
	e.a.Mesh.Domains[0].Products[0].Description = "Contacts, described anew."
	if again := e.publish("crm_contacts", "run-6", "", ids("['a', 'b']"), e.decl("crm_contacts"), warned); again.Unchanged {
		t.Fatal("the same rows under a changed declaration (its table properties) were taken as unchanged")
	}
	snaps, _ := e.ports.Snapshots(context.Background(), port.TableID{Domain: "marketing", Name: "crm_contacts_v1"})
	if len(snaps) != 5 {
		t.Fatalf("%d snapshots, want 5 (run-2 unchanged)", len(snaps))
	}

	// An unchanged publish retried after its first attempt deleted the staged file (its
	// worker died before reporting) decides again without the file.
	e.env.SetHeartbeatDetails(nil)
	v, err := e.env.ExecuteActivity(e.a.Publish, PublishInput{Domain: "marketing", Product: "crm_contacts", RunID: "run-7",
		StagingKey: StagingKey("marketing", "crm_contacts_v1", "run-7"), Results: warned, PublishedAt: time.Now(), Decl: e.decl("crm_contacts"), RowsHash: rowsHashOf(t, ids("['a', 'b']"))})
	var retried PublishOutput
	if err != nil || v.Get(&retried) != nil || !retried.Unchanged {
		t.Fatalf("an unchanged publish without its staged file = %+v, %v; want unchanged", retried, err)
	}
}

// TestUnchangedDayAndWholePort: a day is unchanged when the newest snapshot that wrote
// it holds the same content, whatever other days did since; a whole-port run compares
// with the current snapshot only, never with an older whole-port one that day runs
// have changed since.
func TestUnchangedDayAndWholePort(t *testing.T) {
	e := newPublishEnv(t)
	day := func(d string, sessions int) string {
		return fmt.Sprintf("SELECT DATE '%s' AS date, %d AS sessions", d, sessions)
	}
	decl := e.decl("web_traffic")
	whole := e.publish("web_traffic", "run-w", "", "SELECT * FROM ("+day("2026-05-01", 1)+" UNION ALL "+day("2026-05-02", 1)+")", decl, passing)
	d1 := e.publish("web_traffic", "run-d1", "2026-05-01", day("2026-05-01", 5), decl, passing)
	e.publish("web_traffic", "run-d2", "2026-05-02", day("2026-05-02", 7), decl, passing)
	if again := e.publish("web_traffic", "run-d1b", "2026-05-01", day("2026-05-01", 5), decl, passing); !again.Unchanged || again.SnapshotID == d1.SnapshotID {
		t.Fatalf("the same day again after another day's publish = %+v, want unchanged, reporting the current snapshot", again)
	}
	if w := e.publish("web_traffic", "run-w2", "", "SELECT * FROM ("+day("2026-05-01", 1)+" UNION ALL "+day("2026-05-02", 1)+")", decl, passing); w.Unchanged || w.SnapshotID == whole.SnapshotID {
		t.Fatalf("a whole-port run equal to an old whole-port snapshot that days changed since = %+v, want published", w)
	}
}

// rowsHashOf hashes the rows of a SELECT as a transform does.
func rowsHashOf(t *testing.T, rows string) string {
	t.Helper()
	db, err := transform.Open(context.Background(), "", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE model AS ` + rows); err != nil {
		t.Fatal(err)
	}
	_, hash, err := transform.RowsHash(context.Background(), db, "model")
	if err != nil {
		t.Fatal(err)
	}
	return hash
}

func mkdirFor(path string) error { return os.MkdirAll(filepath.Dir(path), 0o755) }

// TestQuotaResetSurvivesTheHistory: a reset time in a zone whose offset has seconds
// (JSON keeps offsets to the minute) reaches the workflow unmoved.
func TestQuotaResetSurvivesTheHistory(t *testing.T) {
	until := time.Date(2026, 12, 3, 0, 0, 0, 0, time.FixedZone("account", -(21*3600+56*60+50)))
	e := errs.Errorf(errs.Quota, "hubspot: list contacts", "daily limit")
	e.Until = until
	var app *temporal.ApplicationError
	if !errors.As(toTemporal(context.Background(), e), &app) {
		t.Fatal("not an application error")
	}
	var got time.Time
	if err := app.Details(&got); err != nil {
		t.Fatal(err)
	}
	// Through the history: encoded and decoded as Temporal does.
	p, err := converter.GetDefaultDataConverter().ToPayload(got)
	if err != nil {
		t.Fatal(err)
	}
	var back time.Time
	if err := converter.GetDefaultDataConverter().FromPayload(p, &back); err != nil {
		t.Fatal(err)
	}
	if !back.Equal(until) {
		t.Fatalf("reset %v came through as %v", until, back)
	}
}
