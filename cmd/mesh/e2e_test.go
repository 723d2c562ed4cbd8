package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/meshflow/meshflow/dev/sandbox"
	sbga "github.com/meshflow/meshflow/dev/sandbox/googleanalytics"
	"github.com/meshflow/meshflow/dev/stack"
	"github.com/meshflow/meshflow/domains"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/workers/host"
)

// devStack starts the dev server and the sandbox and points mesh at them, with a
// fresh lake and nothing else from the machine's configuration.
func devStack(t *testing.T, ctx context.Context) *stack.Stack {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end: needs bin/temporal")
	}
	st, err := stack.Start(ctx, stack.Options{Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Stop() })
	for _, v := range host.Vars() {
		t.Setenv(v.Name, "")
		if v.File {
			t.Setenv(v.Name+"_FILE", "")
		}
	}
	t.Setenv("MESHFLOW_TEMPORAL_ADDRESS", st.Dev.FrontendHostPort())
	t.Setenv("MESHFLOW_LAKE", t.TempDir())
	return st
}

// devWorker runs a worker hosting every domain on st, with mesh's configuration
// (devStack's), reading the sandbox.
func devWorker(t *testing.T, ctx context.Context, st *stack.Stack) {
	t.Helper()
	cfg, err := host.ConfigFromEnv(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ = st.SandboxConfig(cfg)
	stores, err := host.OpenStores(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stores.Close() })
	if _, err := st.StartWorker(cfg, domains.Mesh(), stores); err != nil {
		t.Fatal(err)
	}
}

// output is a command's standard output, safe to read while the command writes, that
// says when a line containing some text has been written.
type output struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	want    string
	written chan struct{}
}

func watchFor(want string) *output { return &output{want: want, written: make(chan struct{})} }

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n, err := o.buf.Write(p)
	if o.want != "" && strings.Contains(o.buf.String(), o.want) {
		close(o.written)
		o.want = ""
	}
	return n, err
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// interruptWhen runs mesh with args until its output says want, then interrupts it as
// Ctrl-C does (the signal cancels run's context) and returns the output, stderr and
// exit code.
func interruptWhen(t *testing.T, ctx context.Context, want string, args ...string) (string, string, int) {
	t.Helper()
	runCtx, interrupt := context.WithCancel(ctx)
	defer interrupt()
	out, errOut := watchFor(want), &bytes.Buffer{}
	done := make(chan error, 1)
	go func() { done <- run(runCtx, args, out, errOut) }()
	select {
	case <-out.written:
	case err := <-done:
		t.Fatalf("mesh %v ended before saying %q: %v\n%s", args, want, err, out.String())
	case <-ctx.Done():
		t.Fatalf("mesh %v never said %q:\n%s", args, want, out.String())
	}
	interrupt()
	err := <-done
	code := report(runCtx, err, errOut)
	return out.String(), errOut.String(), code
}

// meshCmd runs one command line to its end and returns its output and exit code.
func meshCmd(ctx context.Context, args ...string) (string, int) {
	var out bytes.Buffer
	code := report(ctx, run(ctx, args, &out, &out), &out)
	return out.String(), code
}

// Without a worker on the domain's queue, mesh run and backfill start say so at once
// and wait; Ctrl-C leaves the workflow running in Temporal, says how to follow it and
// exits 130. Starting what is already running is refused, naming the running run.
func TestNoWorkerCtrlCAndRunsAlreadyGoingOn(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	st := devStack(t, ctx)
	day := time.Now().UTC().AddDate(0, 0, -3).Format(time.DateOnly)

	out, errOut, code := interruptWhen(t, ctx, "no worker polls task queue meshflow.marketing", "run", "marketing.crm_contacts")
	t.Logf("mesh run, interrupted:\n%s%s", out, errOut)
	for _, want := range []string{
		"start one with `bin/mesh-worker --domains marketing` or `make dev`",
		"interrupted: marketing.crm_contacts/current goes on in Temporal",
		"temporal workflow show --address " + st.Dev.FrontendHostPort() + " --namespace default -w marketing.crm_contacts/current",
		"/namespaces/default/workflows/marketing.crm_contacts%2Fcurrent/",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("mesh run without a worker, interrupted, does not say %q:\n%s", want, out)
		}
	}
	if code != exitInterrupted || strings.Contains(out+errOut, "failed") {
		t.Errorf("interrupted mesh run: exit %d (want %d), output\n%s%s", code, exitInterrupted, out, errOut)
	}
	desc, err := st.Client.DescribeWorkflowExecution(ctx, "marketing.crm_contacts/current", "")
	if err != nil {
		t.Fatal(err)
	}
	info := desc.GetWorkflowExecutionInfo()
	if info.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Fatalf("after Ctrl-C the run is %s, want it still running", info.GetStatus())
	}
	running := info.GetExecution().GetRunId()

	// A full refresh while that run goes on is refused, naming it.
	out, code = meshCmd(ctx, "run", "marketing.crm_contacts", "--full-refresh")
	if code != exitFailure || !strings.Contains(out, "marketing.crm_contacts/current is already running (run "+running) || strings.Contains(out, "started marketing") {
		t.Errorf("mesh run --full-refresh during a run: exit %d\n%s", code, out)
	}

	// The same for one day of a partitioned product, and for a backfill of the same days.
	d, p, err := domains.Mesh().Find("marketing.web_traffic")
	if err != nil {
		t.Fatal(err)
	}
	partRun, err := flow.StartRun(ctx, st.Client, d, p, flow.RunInput{Partition: day})
	if err != nil {
		t.Fatal(err)
	}
	out, code = meshCmd(ctx, "run", "marketing.web_traffic", "--partition", day)
	if code != exitFailure || !strings.Contains(out, "marketing.web_traffic/"+day+" is already running (run "+partRun.GetRunID()) {
		t.Errorf("mesh run --partition during that day's run: exit %d\n%s", code, out)
	}
	out, _, code = interruptWhen(t, ctx, "no worker polls task queue meshflow.marketing",
		"backfill", "start", "marketing.web_traffic", "--from", day, "--to", day, "--wait")
	id := flow.BackfillID("marketing", "web_traffic", day, day)
	if code != exitInterrupted || !strings.Contains(out, "interrupted: "+id+" goes on in Temporal") || !strings.Contains(out, "mesh backfill status "+id) {
		t.Errorf("interrupted backfill start --wait: exit %d\n%s", code, out)
	}
	out, code = meshCmd(ctx, "backfill", "start", "marketing.web_traffic", "--from", day, "--to", day)
	if code != exitFailure || !strings.Contains(out, id+" is already running") {
		t.Errorf("backfill start of a running backfill: exit %d\n%s", code, out)
	}

	// Days after today are refused before anything starts.
	tomorrow := time.Now().UTC().AddDate(0, 0, 1).Format(time.DateOnly)
	out, code = meshCmd(ctx, "backfill", "start", "marketing.web_traffic", "--from", day, "--to", tomorrow)
	if code != exitFailure || !strings.Contains(out, "after today") || strings.Contains(out, "started backfill") {
		t.Errorf("backfill start into tomorrow: exit %d\n%s", code, out)
	}
}

// backfill start --wait and rerun-failed --wait exit 1 when a day fails, naming the
// day, its error and the command that reruns it; a rerun that succeeds exits 0.
func TestBackfillWaitExitsNonZeroOnAFailedDay(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	st := devStack(t, ctx)
	devWorker(t, ctx, st)
	day := func(back int) string { return time.Now().UTC().AddDate(0, 0, -back).Format(time.DateOnly) }
	from, to := day(8), day(7)
	id := flow.BackfillID("marketing", "web_traffic", from, to)
	sandbox.Get[*sbga.API](st.Sandbox).FailDays(to)

	out, code := meshCmd(ctx, "backfill", "start", "marketing.web_traffic", "--from", from, "--to", to, "--wait")
	t.Logf("backfill with a failing day:\n%s", out)
	for _, want := range []string{"1 of 2 day(s) did not succeed:", "  " + to + "  failed", "FailDays", "rerun them with: mesh backfill rerun-failed " + id} {
		if !strings.Contains(out, want) {
			t.Errorf("backfill start --wait does not say %q", want)
		}
	}
	if code != exitFailure {
		t.Errorf("backfill start --wait with a failed day: exit %d, want %d", code, exitFailure)
	}

	out, code = meshCmd(ctx, "backfill", "rerun-failed", id, "--wait")
	if code != exitFailure || !strings.Contains(out, "1 of 1 day(s) did not succeed") || !strings.Contains(out, "rerun them with: mesh backfill rerun-failed "+flow.RerunID(id, 1)) {
		t.Errorf("rerun-failed --wait of a day that fails again: exit %d\n%s", code, out)
	}
	sandbox.Get[*sbga.API](st.Sandbox).ClearFailures()
	out, code = meshCmd(ctx, "backfill", "rerun-failed", flow.RerunID(id, 1), "--wait")
	if code != exitOK || !strings.Contains(out, "succeeded 1") || strings.Contains(out, "did not succeed") {
		t.Errorf("rerun-failed --wait that succeeds: exit %d\n%s", code, out)
	}
}
