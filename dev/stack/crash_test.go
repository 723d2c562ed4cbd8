package stack_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"

	"github.com/meshflow/meshflow/dev/stack"
	"github.com/meshflow/meshflow/domains"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/port"
	"github.com/meshflow/meshflow/workers/host"
)

// heavy reports whether MESHFLOW_HEAVY asks for the long variants of the
// fault-tolerance tests.
func heavy() bool { return os.Getenv("MESHFLOW_HEAVY") != "" }

// testSeed is MESHFLOW_SEED, or 1: it picks the moments the crash test kills the
// worker at, so a failing run can be repeated.
func testSeed(t *testing.T) uint64 {
	t.Helper()
	v := os.Getenv("MESHFLOW_SEED")
	if v == "" {
		return 1
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		t.Fatalf("MESHFLOW_SEED=%q is not a number", v)
	}
	return n
}

// TestCrashWorkerDuringBackfill backfills days of web_traffic with bin/mesh-worker
// running as its own process, and kill -9s that process (its whole process group)
// several times while some days have succeeded and others are running, restarting it
// each time. The backfill must complete with every day succeeded and the port must
// hold exactly the rows a clean backfill on another lake holds: nothing lost, nothing
// duplicated. MESHFLOW_HEAVY=1 backfills 120 days with 10 kills.
func TestCrashWorkerDuringBackfill(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: needs bin/temporal")
	}
	// After a kill the first status query can wait out the dead worker's sticky queue
	// (seconds) while the new worker goes on: 32 days leave work for the next kill.
	days, kills, timeout := 32, 3, 8*time.Minute
	if heavy() {
		days, kills, timeout = 120, 10, 30*time.Minute
	}
	seed := testSeed(t)
	t.Logf("%d days, %d kills, seed %d (MESHFLOW_SEED)", days, kills, seed)
	began := time.Now()
	since := func() time.Duration { return time.Since(began).Round(100 * time.Millisecond) }
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	// Build the worker binary while the clean backfill runs.
	type built struct {
		path string
		err  error
	}
	binc := make(chan built, 1)
	binDir := t.TempDir()
	go func() {
		path, err := buildWorker(ctx, binDir)
		binc <- built{path, err}
	}()
	worker := sync.OnceValue(func() built { return <-binc })
	t.Cleanup(func() { cancel(); worker() }) // a failing test still waits for the build to stop

	st := startStack(t, ctx, stack.Options{Log: testLog(t, zerolog.ErrorLevel)})
	m := domains.Mesh()
	d, p, err := m.Find("marketing.web_traffic")
	if err != nil {
		t.Fatal(err)
	}
	traffic := port.TableID{Domain: d.Name, Name: p.PortName()}
	// Days old enough that GA4's numbers have settled: both backfills see the same data.
	day := func(back int) string { return time.Now().UTC().AddDate(0, 0, -back).Format(time.DateOnly) }
	from, to := day(4+days-1), day(4)

	cfg, clean := openLake(t, ctx, st, t.TempDir())
	stop := startWorker(t, st, cfg, m, clean)
	if s := backfill(t, ctx, st, d, p, from, to); s.Totals[flow.StateSucceeded] != days {
		t.Fatalf("clean backfill: %v", s.Totals)
	}
	want := readRowSet(t, clean, traffic, runTimeColumns...)
	stop()
	t.Logf("%v: clean backfill done", since())

	b := worker()
	if b.err != nil {
		t.Fatal(b.err)
	}
	t.Logf("%v: worker built", since())
	crashCfg := lakeConfig(t, st, t.TempDir())
	crashCfg.TemporalAddress = st.Dev.FrontendHostPort()
	crashCfg.Domains = []string{d.Name}
	crashCfg.LogLevel = "warn"
	env, err := stack.Env(crashCfg, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	w := &workerProcess{bin: b.path, env: env, logDir: t.TempDir()}
	t.Cleanup(func() { w.stop(t) })
	w.start(t)

	// Halfway it continues as new, which the kills must not disturb either.
	run, err := flow.StartBackfill(ctx, st.Client, d, p, flow.BackfillInput{From: from, To: to, Concurrency: 4, ContinueAfter: days / 2})
	if err != nil {
		t.Fatal(err)
	}
	// Each kill waits until 1 to 3 more days (seeded) have succeeded since the last
	// one — so the new worker is doing work, not waiting for the server to give the
	// killed one's attempts up — and some are still running.
	rng := rand.New(rand.NewPCG(seed, 0x6b696c6c))
	done := 0
	for i := range kills {
		more := 1 + rng.IntN(3)
		s := waitBackfill(t, ctx, st.Client, run.GetID(), func(s flow.BackfillStatus) bool {
			return s.Totals[flow.StateSucceeded] >= done+more && s.Totals[flow.StateRunning] > 0
		})
		w.kill(t)
		done = s.Totals[flow.StateSucceeded]
		t.Logf("%v: kill %d with %d days succeeded, %d running", since(), i+1, done, s.Totals[flow.StateRunning])
		w.start(t)
	}
	res, err := flow.WaitBackfill(ctx, run)
	if err != nil {
		t.Fatalf("backfill: %s", flow.Explain(err))
	}
	w.stop(t)
	t.Logf("%v: backfill done", since())
	if res.Totals[flow.StateSucceeded] != days {
		for _, ps := range res.Partitions {
			if ps.State != flow.StateSucceeded {
				t.Errorf("%s %s: %s", ps.Partition, ps.State, ps.Error)
			}
		}
		t.Fatalf("after %d kills the backfill ended with %v, want all %d days succeeded", kills, res.Totals, days)
	}
	retried, lostTasks := interruptedWork(t, ctx, st.Client, res)
	t.Logf("the kills interrupted %d steps (run again: %s) and %d workflow tasks; %d publishes were retried after their commit",
		len(retried), strings.Join(retried, ", "), lostTasks, w.logged("an earlier attempt published this run's snapshot"))
	if len(retried) == 0 {
		t.Error("no activity was retried: the kills hit no running work, so the test proved nothing")
	}

	stores, err := host.OpenStores(ctx, crashCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer stores.Close()
	got := readRowSet(t, stores, traffic, runTimeColumns...)
	if got.hash() != want.hash() {
		t.Errorf("after %d kills web_traffic holds %d rows (hash %s), a clean backfill %d (hash %s)", kills, len(got.rows), got.hash(), len(want.rows), want.hash())
	}
	if dups := duplicateKeys(t, stores, traffic, p.PrimaryKey); len(dups) > 0 {
		t.Errorf("web_traffic holds %d primary keys twice or more, e.g. %s", len(dups), dups[0])
	}
}

// waitBackfill polls the backfill's status until ok holds, failing the test if the
// backfill ends first or ctx does.
func waitBackfill(t *testing.T, ctx context.Context, c client.Client, id string, ok func(flow.BackfillStatus) bool) flow.BackfillStatus {
	t.Helper()
	var last error
	for ctx.Err() == nil {
		qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		s, err := flow.GetBackfillStatus(qctx, c, id)
		cancel()
		switch {
		case err != nil:
			last = err // the worker may still be starting
		case ok(s):
			return s
		case s.Done:
			t.Fatalf("backfill ended (%v) before the moment the test waits for: make it longer", s.Totals)
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("waiting on backfill %s: %v (last status error: %v)", id, ctx.Err(), last)
	return flow.BackfillStatus{}
}

// interruptedWork lists, over the children of a finished backfill, the activities
// that took more than one attempt (as "Type after Ns", the time from scheduling to
// the last attempt's start) and the days whose workflow task was lost while running
// their local steps, and counts the workflow tasks that timed out.
func interruptedWork(t *testing.T, ctx context.Context, c client.Client, s flow.BackfillStatus) (retried []string, timedOut int) {
	t.Helper()
	for _, ps := range s.Partitions {
		scheduled := map[int64]*historypb.HistoryEvent{}
		it := c.GetWorkflowHistory(ctx, ps.WorkflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			if ev.GetActivityTaskScheduledEventAttributes() != nil {
				scheduled[ev.GetEventId()] = ev
			}
			if a := ev.GetActivityTaskStartedEventAttributes(); a != nil && a.GetAttempt() > 1 {
				sch := scheduled[a.GetScheduledEventId()]
				wait := ev.GetEventTime().AsTime().Sub(sch.GetEventTime().AsTime()).Round(time.Second)
				retried = append(retried, fmt.Sprintf("%s after %v", sch.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName(), wait))
			}
			if a := ev.GetWorkflowTaskTimedOutEventAttributes(); a != nil {
				timedOut++
				// A day's steps run as local activities inside its workflow task
				// (flow's local-day change): a task lost while running is those steps
				// interrupted, and the next task runs them again.
				if a.GetTimeoutType() == enumspb.TIMEOUT_TYPE_START_TO_CLOSE {
					retried = append(retried, ps.Partition+"'s local steps")
				}
			}
		}
	}
	return retried, timedOut
}

// lakeConfig is openLake's configuration without opening the stores in this process.
func lakeConfig(t *testing.T, st *stack.Stack, dir string) host.Config {
	t.Helper()
	cfg, err := host.ConfigFromEnv(func(k string) string {
		if k == "MESHFLOW_LAKE" {
			return dir
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg.WorkDir = t.TempDir()
	cfg, _ = st.SandboxConfig(cfg)
	return cfg
}

// buildWorker builds bin/mesh-worker into dir.
func buildWorker(ctx context.Context, dir string) (string, error) {
	out := filepath.Join(dir, "mesh-worker")
	// Without a symbol table and DWARF: the link takes a quarter less CPU.
	cmd := exec.CommandContext(ctx, "go", "build", "-ldflags=-s -w", "-o", out, "github.com/meshflow/meshflow/workers")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./workers: %v\n%s", err, b)
	}
	return out, nil
}

// workerProcess is bin/mesh-worker running in its own process group, with only the
// environment the test gives it (a developer's HUBSPOT_TOKEN must not leak in).
type workerProcess struct {
	bin    string
	env    []string
	logDir string

	cmd  *exec.Cmd
	done chan error
	n    int
}

func (w *workerProcess) start(t *testing.T) {
	t.Helper()
	w.n++
	logPath := filepath.Join(w.logDir, fmt.Sprintf("worker-%d.log", w.n))
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(w.bin)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TMPDIR=" + os.TempDir()}, w.env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("start %s: %v", w.bin, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait(); f.Close() }()
	w.cmd, w.done = cmd, done
	t.Cleanup(func() {
		if t.Failed() {
			if b, err := os.ReadFile(logPath); err == nil && len(b) > 0 {
				t.Logf("worker %d (pid %d) log:\n%s", w.n, cmd.Process.Pid, tail(string(b), 40))
			}
		}
	})
}

// logged counts the lines of every incarnation's log that contain s.
func (w *workerProcess) logged(s string) int {
	n := 0
	for i := 1; i <= w.n; i++ {
		b, _ := os.ReadFile(filepath.Join(w.logDir, fmt.Sprintf("worker-%d.log", i)))
		n += strings.Count(string(b), s)
	}
	return n
}

// kill sends SIGKILL to the worker's process group and waits until it is gone.
func (w *workerProcess) kill(t *testing.T) {
	t.Helper()
	if w.cmd == nil {
		return
	}
	if err := syscall.Kill(-w.cmd.Process.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("kill -9 worker: %v", err)
	}
	<-w.done
	w.cmd = nil
}

// stop asks the worker to stop as an operator would (SIGTERM), and kills it if it
// has not stopped within 30 s.
func (w *workerProcess) stop(t *testing.T) {
	t.Helper()
	if w.cmd == nil {
		return
	}
	_ = syscall.Kill(-w.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-w.done:
		w.cmd = nil
	case <-time.After(30 * time.Second):
		t.Errorf("the worker did not stop within 30 s of SIGTERM")
		w.kill(t)
	}
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(l[max(0, len(l)-lines):], "\n")
}
