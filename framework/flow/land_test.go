package flow

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/source"
)

// pagedSource is a connector with one stream, "contacts", of n records in pages of
// 100, counting the pages it serves.
type pagedSource struct {
	n     int
	mu    sync.Mutex
	pages int
}

func (s *pagedSource) Name() string                    { return "fake" }
func (s *pagedSource) Streams() []source.Stream        { return []source.Stream{s} }
func (s *pagedSource) Check(ctx context.Context) error { return nil }

func (s *pagedSource) Spec() source.StreamSpec {
	return source.StreamSpec{Name: "contacts", PrimaryKey: []string{"id"},
		Fields: []source.Field{{Name: "id", Type: source.String, Path: []string{"id"}, Doc: "id"}}}
}

func (s *pagedSource) NextPage(_ context.Context, req source.PageRequest) (source.Page, error) {
	s.mu.Lock()
	s.pages++
	s.mu.Unlock()
	var c struct{ Off int }
	if len(req.Cursor) > 0 {
		if err := json.Unmarshal(req.Cursor, &c); err != nil {
			return source.Page{}, err
		}
	}
	var p source.Page
	for i := c.Off; i < min(c.Off+100, s.n); i++ {
		p.Records = append(p.Records, json.RawMessage(fmt.Sprintf(`{"id":"%d"}`, i)))
	}
	next := c.Off + len(p.Records)
	p.Next, p.Done = json.RawMessage(fmt.Sprintf(`{"off":%d}`, next)), next >= s.n
	return p, nil
}

// loseFirstCompletion fails attempt 1 of every activity after it ran to the end, as a
// worker that dies between an activity's commit and reporting it does, and counts the
// attempts.
type loseFirstCompletion struct {
	interceptor.WorkerInterceptorBase
	attempts int
}

func (l *loseFirstCompletion) InterceptActivity(_ context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	return &lostCompletion{ActivityInboundInterceptorBase: interceptor.ActivityInboundInterceptorBase{Next: next}, of: l}
}

type lostCompletion struct {
	interceptor.ActivityInboundInterceptorBase
	of *loseFirstCompletion
}

func (l *lostCompletion) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	l.of.attempts++
	out, err := l.Next.ExecuteActivity(ctx, in)
	if err == nil && activity.GetInfo(ctx).Attempt == 1 {
		return nil, temporal.NewApplicationError("the worker died before reporting the completion", "lost")
	}
	return out, err
}

// TestLandRetriedAfterALostCommitReturnsIt: a Land attempt that committed its manifest
// and was lost before reporting it is retried; the retry returns that manifest instead
// of reading the stream again and committing the run's rows a second time.
func TestLandRetriedAfterALostCommitReturnsIt(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := s.NewTestWorkflowEnvironment()
	lost := &loseFirstCompletion{}
	env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{lost}})
	src := &pagedSource{n: 250}
	acts := &Activities{Mesh: testMesh(), Lake: memLake(t), Sources: map[string]source.Source{"fake": src}}
	env.RegisterActivity(acts)
	env.RegisterWorkflowWithOptions(func(ctx workflow.Context, in LandInput) (LandOutput, error) {
		var out LandOutput
		err := workflow.ExecuteActivity(landOptions(ctx), (*Activities).Land, in).Get(ctx, &out)
		return out, err
	}, workflow.RegisterOptions{Name: "land"})

	env.ExecuteWorkflow("land", LandInput{Domain: "marketing", Source: "fake", Stream: "contacts", RunID: "marketing.crm_contacts/current/r1", SyncStart: time.Now()})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var out LandOutput
	if err := env.GetWorkflowResult(&out); err != nil {
		t.Fatal(err)
	}
	ms, err := acts.Lake.Manifests(context.Background(), lake.StreamRef{Domain: "marketing", Source: "fake", Stream: "contacts"})
	if err != nil {
		t.Fatal(err)
	}
	if lost.attempts != 2 {
		t.Fatalf("Land ran %d times, want the lost attempt and its retry", lost.attempts)
	}
	if len(ms) != 1 {
		t.Fatalf("%d manifests committed for one run, want 1", len(ms))
	}
	if out.Rows != 250 || out.Files != len(ms[0].Files) || !strings.HasSuffix(out.ManifestKey, "-marketing.crm_contacts_current_r1.json") {
		t.Errorf("the retry returned %+v, want the committed manifest's key, rows and files", out)
	}
	// Attempt 1 wrote them: its activity id and attempt number are in their keys.
	for _, f := range ms[0].Files {
		if !regexp.MustCompile(`/part-\d{5}-a\d+-1\.parquet$`).MatchString(f.Key) {
			t.Errorf("file %s does not name the attempt that wrote it", f.Key)
		}
	}
	if src.pages != 3 {
		t.Errorf("the stream served %d pages, want the 3 of the first attempt only", src.pages)
	}
}

// TestLocalLandRunAgainReturnsItsCommit: a day's Land runs as a local activity, whose
// attempt count starts at 1 again when the workflow task it ran in is lost. Run again
// after its commit (as the replacing task does), it returns the committed manifest
// instead of committing the run's rows a second time.
func TestLocalLandRunAgainReturnsItsCommit(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := s.NewTestWorkflowEnvironment()
	src := &pagedSource{n: 250}
	acts := &Activities{Mesh: testMesh(), Lake: memLake(t), Sources: map[string]source.Source{"fake": src}}
	env.RegisterActivity(acts)
	env.RegisterWorkflowWithOptions(func(ctx workflow.Context, in LandInput) ([]LandOutput, error) {
		outs := make([]LandOutput, 2)
		for i := range outs { // the lost task's run, and the run of the task that replaced it
			if err := dayStep(ctx, true, landOptions, landActivity, in.Source+"."+in.Stream, in, &outs[i]); err != nil {
				return nil, err
			}
		}
		return outs, nil
	}, workflow.RegisterOptions{Name: "land twice"})

	env.ExecuteWorkflow("land twice", LandInput{Domain: "marketing", Source: "fake", Stream: "contacts", RunID: "marketing.crm_contacts/2026-11-01/r1",
		SyncStart: time.Now()})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var outs []LandOutput
	if err := env.GetWorkflowResult(&outs); err != nil {
		t.Fatal(err)
	}
	ms, err := acts.Lake.Manifests(context.Background(), lake.StreamRef{Domain: "marketing", Source: "fake", Stream: "contacts"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 {
		t.Fatalf("%d manifests committed for one run, want 1", len(ms))
	}
	if outs[1].ManifestKey != outs[0].ManifestKey || outs[1].Rows != 250 {
		t.Errorf("the second run returned %+v, want the first's manifest %s with 250 rows", outs[1], outs[0].ManifestKey)
	}
	if src.pages != 3 {
		t.Errorf("the stream served %d pages, want the 3 of the first run only", src.pages)
	}
}
