package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
	"github.com/meshflow/meshflow/framework/source"
)

// incrementalGoal: a run of an incremental product that merges the changed rows into a
// long history may take this many times its first run over as many rows as changed.
const incrementalGoal = 2.0

// incrementalRounds: each of the two runs compared is measured this many times, the
// best kept.
const incrementalRounds = 3

// incrementalBench measures an incremental product (mesh.Incremental) the way a domain
// runs it — the RunProduct workflow with the real activities over a file lake and a
// SQLite catalog, in Temporal's test environment — on two lakes: one where its first
// run reads o.incChanges rows, and one with o.incHistory rows of history (landed and
// published first, not measured) where o.incChanges rows then change. The second run
// should cost about what the first does, not what the history does.
func incrementalBench(ctx context.Context, o options, dir string, logf func(string, ...any)) ([]Row, error) {
	const op = "meshbench: incremental"
	big, err := newIncrementalLake(ctx, filepath.Join(dir, "big"))
	if err != nil {
		return nil, err
	}
	defer big.close()
	big.src.queue(batch{from: 0, n: o.incHistory})
	start := time.Now()
	whole, res, err := big.run(false)
	if err == nil && res.Rows != int64(o.incHistory) {
		err = errs.Errorf(errs.Internal, op, "the first run over the history computed %d rows, want %d", res.Rows, o.incHistory)
	}
	if err != nil {
		return nil, err
	}
	logf("incremental: %s rows of history landed and published in %s (%s)", count(o.incHistory), elapsed(start), res.Incremental)
	// Measured after the history's run, so neither run pays for starting DuckDB and the
	// rest; each the best of incrementalRounds, as the machine's other work comes and goes.
	var first, merged time.Duration
	for round := range incrementalRounds {
		small, err := newIncrementalLake(ctx, filepath.Join(dir, fmt.Sprintf("small-%d", round)))
		if err != nil {
			return nil, err
		}
		small.src.queue(batch{from: 0, n: o.incChanges})
		took, res, err := small.run(false)
		small.close()
		if err != nil {
			return nil, err
		}
		logf("incremental: first run over %s rows in %s (%s; %s)", count(o.incChanges), took.Round(time.Millisecond), res.Incremental, small.last)
		if round == 0 || took < first {
			first = took
		}
		// Every tenth change a new record, the others updates spread over the history.
		big.src.queue(batch{from: round, n: o.incChanges, stride: max(1, o.incHistory/o.incChanges), version: round + 1, inserts: o.incHistory + round*o.incChanges})
		took, res, err = big.run(false)
		if err != nil {
			return nil, err
		}
		if !strings.HasPrefix(res.Incremental, "incremental: merged") || res.Rows != int64(o.incChanges) {
			return nil, errs.Errorf(errs.Internal, op, "the run after %s changes computed %d rows: %s", count(o.incChanges), res.Rows, res.Incremental)
		}
		logf("incremental: %s changed rows merged into %s in %s (%s; %s)", count(o.incChanges), count(o.incHistory), took.Round(time.Millisecond), res.Incremental, big.last)
		if round == 0 || took < merged {
			merged = took
		}
	}
	g := merged.Seconds() / first.Seconds()
	return []Row{
		{Benchmark: "incremental: first run", Size: count(o.incChanges) + " rows",
			Figures: figures(first.Seconds()), Unit: "s", Goal: none, Result: none, Values: []float64{first.Seconds()}},
		{Benchmark: "incremental: first run over the history (everything)", Size: count(o.incHistory) + " rows",
			Figures: figures(whole.Seconds()), Unit: "s", Goal: none, Result: none, Values: []float64{whole.Seconds()}},
		{Benchmark: "incremental: changed rows merged into the history", Size: count(o.incChanges) + " of " + count(o.incHistory) + " rows",
			Figures: figures(merged.Seconds()), Unit: "s", Goal: fmt.Sprintf("%s the first run / ≤ %s", ratio(g), ratio(incrementalGoal)),
			Result: verdict(g <= incrementalGoal), Values: []float64{merged.Seconds()}},
	}, nil
}

// incrementalProduct is the product measured: a record's newest version, merged by id.
func incrementalProduct() mesh.Domain {
	p := mesh.Product{Name: "records", Version: "1.0.0", Description: "The newest version of every record.",
		Inputs: []mesh.Input{mesh.Raw("bench", "records")},
		Model:  "SELECT id, value, updated_at FROM bench.records",
		Schema: []mesh.Column{{Name: "id", Type: mesh.String, Required: true, Doc: "record"}, {Name: "value", Type: mesh.Int64, Doc: "value"},
			{Name: "updated_at", Type: mesh.Timestamp, Doc: "when it changed"}},
		PrimaryKey: []string{"id"}, Classification: mesh.Internal, Cadence: "@hourly",
		// Checks as the mesh's incremental products have them: a row count and an SQL
		// check of each row, which a merge decides without reading the port.
		Checks:      []mesh.Check{mesh.RowCount(1, 0), mesh.SQL("value_not_negative", "SELECT * FROM model WHERE value < 0")},
		Freshness:   mesh.Freshness{WarnAfter: time.Hour, FailAfter: 2 * time.Hour},
		Incremental: mesh.IncrementalOn(mesh.Raw("bench", "records"), map[string]string{"id": "id"}),
	}
	return mesh.Domain{Name: "bench", Owner: "meshbench", Products: []mesh.Product{p}}
}

var recordsSpec = source.StreamSpec{Name: "records", PrimaryKey: []string{"id"}, CursorField: "updated_at", Fields: []source.Field{
	{Name: "id", Type: source.String, Path: []string{"id"}}, {Name: "value", Type: source.Int64, Path: []string{"value"}},
	{Name: "updated_at", Type: source.Timestamp, Path: []string{"updated_at"}}}}

// incrementalLake is a lake, a catalog and the activities of a worker over them.
type incrementalLake struct {
	acts  *flow.Activities
	src   *batches
	runs  int
	last  *activityTimes // of the latest run
	close func()
}

func newIncrementalLake(ctx context.Context, dir string) (*incrementalLake, error) {
	if err := os.MkdirAll(filepath.Join(dir, "work"), 0o755); err != nil {
		return nil, errs.E(errs.Internal, "meshbench: incremental", err)
	}
	l, err := lake.Open(ctx, "file://"+filepath.Join(dir, "lake"))
	if err != nil {
		return nil, err
	}
	ports, err := port.Open(ctx, port.Options{CatalogURI: "sqlite://" + filepath.Join(dir, "catalog.db"), Warehouse: "file://" + filepath.Join(dir, "warehouse")})
	if err != nil {
		l.Close()
		return nil, err
	}
	src := &batches{}
	acts := &flow.Activities{Mesh: mesh.Mesh{Domains: []mesh.Domain{incrementalProduct()}}, Lake: l, Ports: ports,
		Sources: map[string]source.Source{"bench": src}, WorkDir: filepath.Join(dir, "work"), Log: zerolog.Nop()}
	return &incrementalLake{acts: acts, src: src, close: func() { ports.Close(); l.Close() }}, nil
}

// run runs the product through RunProduct and returns its wall time.
func (il *incrementalLake) run(full bool) (time.Duration, flow.RunResult, error) {
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := s.NewTestWorkflowEnvironment()
	il.runs++
	// The activities run inside the test environment's workflow task: a long one is no deadlock.
	il.last = &activityTimes{}
	env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{&runNumber{n: il.runs, times: il.last}}, DeadlockDetectionTimeout: time.Hour})
	env.SetTestTimeout(2 * time.Hour)
	d := il.acts.Mesh.Domains[0]
	flow.Register(env, &flow.Workflows{Mesh: il.acts.Mesh}, il.acts, d)
	start := time.Now()
	env.ExecuteWorkflow(flow.RunProductWorkflow, flow.RunInput{Domain: d.Name, Product: d.Products[0].Name, FullRefresh: full})
	took := time.Since(start)
	if err := env.GetWorkflowError(); err != nil {
		return 0, flow.RunResult{}, errs.Errorf(errs.Internal, "meshbench: incremental", "run bench.records: %s", flow.Explain(err))
	}
	var res flow.RunResult
	if err := env.GetWorkflowResult(&res); err != nil {
		return 0, flow.RunResult{}, errs.E(errs.Internal, "meshbench: incremental", err)
	}
	return took, res, nil
}

// runNumber tells the landings of one lake's runs apart: every test environment gives
// its workflow the same run id, so a second run's landing would write the first's files.
type runNumber struct {
	interceptor.WorkerInterceptorBase
	n     int
	times *activityTimes
}

func (r *runNumber) InterceptActivity(_ context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	return &numberedLanding{ActivityInboundInterceptorBase: interceptor.ActivityInboundInterceptorBase{Next: next}, n: r.n, times: r.times}
}

type numberedLanding struct {
	interceptor.ActivityInboundInterceptorBase
	n     int
	times *activityTimes
}

func (l *numberedLanding) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	for i, a := range in.Args {
		if li, ok := a.(flow.LandInput); ok {
			li.RunID = fmt.Sprintf("%s-%d", li.RunID, l.n)
			in.Args[i] = li
		}
	}
	start := time.Now()
	defer func() {
		l.times.add(activity.GetInfo(ctx).ActivityType.Name, time.Since(start))
	}()
	return l.Next.ExecuteActivity(ctx, in)
}

// activityTimes sums the time of each activity type of one run.
type activityTimes struct {
	mu sync.Mutex
	by map[string]time.Duration
}

func (t *activityTimes) add(name string, d time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.by == nil {
		t.by = map[string]time.Duration{}
	}
	t.by[name] += d
}

func (t *activityTimes) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return byTypeText(t.by, 1)
}

// batch is what one landing of the records stream brings: n records, the i-th with id
// from + i×stride (or, every tenth of a version above 0, a new id from inserts on), at
// the version's time.
type batch struct {
	from, n, stride, version, inserts int
}

// batches is the source: its next landing brings the batches queued, generated as
// the pages are asked for, and nothing once they are taken.
type batches struct {
	mu      sync.Mutex
	pending []batch
	i       int // records of pending[0] served
	served  int // records served in all: the cursor, which must move with every page
}

func (b *batches) Name() string                { return "bench" }
func (b *batches) Check(context.Context) error { return nil }
func (b *batches) Streams() []source.Stream    { return []source.Stream{b} }
func (b *batches) Spec() source.StreamSpec     { return recordsSpec }

func (b *batches) queue(bt batch) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pending = append(b.pending, bt)
}

const benchPage = 5000

func (b *batches) NextPage(ctx context.Context, _ source.PageRequest) (source.Page, error) {
	if err := ctx.Err(); err != nil {
		return source.Page{}, errs.E(errs.Canceled, "meshbench: read records", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var buf []byte
	var ends []int
	for len(ends) < benchPage && len(b.pending) > 0 {
		bt := b.pending[0]
		if b.i >= bt.n {
			b.pending, b.i = b.pending[1:], 0
			continue
		}
		id := bt.from + b.i*max(bt.stride, 1)
		if bt.version > 0 && b.i%10 == 9 {
			id = bt.inserts + b.i
		}
		at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(bt.version) * time.Hour).Add(time.Duration(b.i%3600) * time.Second)
		buf = append(buf, `{"id":"r`...)
		buf = strconv.AppendInt(buf, int64(id), 10)
		buf = append(buf, `","value":`...)
		buf = strconv.AppendInt(buf, int64(id*7+bt.version), 10)
		buf = append(buf, `,"updated_at":"`...)
		buf = at.AppendFormat(buf, time.RFC3339)
		buf = append(buf, `"}`...)
		ends = append(ends, len(buf))
		b.i++
	}
	b.served += len(ends)
	p := source.Page{Records: make([]json.RawMessage, len(ends)), Next: json.RawMessage(`{"v":1,"served":` + strconv.Itoa(b.served) + `}`)}
	start := 0
	for i, end := range ends {
		p.Records[i] = json.RawMessage(buf[start:end:end])
		start = end
	}
	p.Done = len(b.pending) == 0 || (len(b.pending) == 1 && b.i >= b.pending[0].n)
	if p.Done {
		b.pending, b.i = nil, 0
	}
	return p, nil
}
