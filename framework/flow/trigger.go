package flow

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/meshflow/meshflow/framework/alert"
	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/mesh"
)

// A product run by its inputs (mesh.Product.OnInputs) has one TriggerProduct workflow
// while something is pending for it, id TriggerWorkflowID, on its own domain's task
// queue. Every run and backfill of one of its inputs signals it when it ends (the
// Announce activity, SignalWithStart); it gathers what published, waits for what its
// trigger needs, and starts the product's run as its child with the run's
// deterministic id, so two publishes close together start one run. Domains never
// import each other: the signal crosses domains through Temporal.
const (
	TriggerWorkflow   = "TriggerProduct"
	InputEndedSignal  = "input-ended"
	triggerBusyRetry  = 10 * time.Minute // an input still running is expected to signal; this only covers one that never will (terminated)
	triggerStartRetry = time.Minute      // the product's run id is taken by a manual or scheduled run
	triggerMaxHistory = 5000             // continue as new past this many events
	triggerSeenKept   = 200              // announcements remembered, so a retried one is not counted twice
	triggerMaxRuns    = 4                // runs of the product's partitions started at once (a backfill's days)
)

// Values of the MeshTrigger search attribute: why a run started.
const (
	TriggerManual   = "manual"
	TriggerSchedule = "schedule"
	TriggerInputs   = "inputs"
	TriggerDeadline = "deadline"
	TriggerBackfill = "backfill"
)

// StatusWaiting is the run record of a product that did not run because an input's
// run failed: it runs when that input publishes again.
const StatusWaiting = "waiting"

// statusBackfillEnded is what a backfill announces when it ends: its days announced
// themselves; this says the input is no longer busy.
const statusBackfillEnded = "backfill ended"

// TriggerWorkflowID is the id of a product's trigger workflow.
func TriggerWorkflowID(domain, product string) string { return "trigger/" + domain + "." + product }

// InputEnded is how one run (or backfill) of an input ended, as its consumers'
// trigger workflows receive it.
type InputEnded struct {
	Input      string // domain.product
	Partition  string `json:",omitempty"`
	Status     string // the run record's status, or "backfill ended"
	SnapshotID int64  `json:",omitempty"`
	WorkflowID string
	RunID      string
	Error      string `json:",omitempty"`
	At         time.Time
}

// id names the announcement: a retried Announce sends the same one again.
func (e InputEnded) id() string {
	return e.WorkflowID + "/" + e.RunID + "/" + e.Partition + "/" + e.Status
}

func (e InputEnded) String() string {
	s := e.Input
	if e.SnapshotID != 0 {
		s += fmt.Sprintf(" snapshot %d", e.SnapshotID)
	}
	if e.Partition != "" {
		s += " (" + e.Partition + ")"
	}
	return s
}

// TriggerInput is a consumer's trigger, as declared when its trigger workflow started
// (the workflow decides from it alone), and what it carries across a continue-as-new.
type TriggerInput struct {
	Domain, Product string
	PartitionBy     string   `json:",omitempty"`
	Inputs          []string // its product inputs
	AllOf           []string `json:",omitempty"`
	MinInterval     time.Duration
	Deadline        string        `json:",omitempty"`
	State           *TriggerState `json:",omitempty"`
}

// TriggerState is what a trigger workflow knows, by partition key ("" = the whole
// product; a day for a partitioned product whose input published that day).
type TriggerState struct {
	Pending  map[string][]InputEnded          // publishes not yet run
	Failed   map[string]map[string]InputEnded // inputs whose last run failed, by input
	Reported map[string]string                // the waiting reason last recorded
	LastRun  map[string]time.Time
	Seen     []string
	// Announced are the run ids of runs and backfills that announced their end: they
	// are still open for a moment after, and must not count as running inputs.
	Announced []string
}

func triggerInputFor(e mesh.Entry) TriggerInput {
	t := e.Product.Trigger
	return TriggerInput{Domain: e.Domain.Name, Product: e.Product.Name, PartitionBy: e.Product.PartitionBy,
		Inputs: e.Product.ProductInputs(), AllOf: t.AllOf, MinInterval: t.MinInterval, Deadline: t.Deadline}
}

// key is the partition of the consumer an input's run concerns: the same day for a
// partitioned consumer, else the whole product.
func (in TriggerInput) key(e InputEnded) string {
	if in.PartitionBy != "" {
		return e.Partition
	}
	return ""
}

func (st *TriggerState) init() {
	if st.Pending == nil {
		st.Pending = map[string][]InputEnded{}
	}
	if st.Failed == nil {
		st.Failed = map[string]map[string]InputEnded{}
	}
	if st.Reported == nil {
		st.Reported = map[string]string{}
	}
	if st.LastRun == nil {
		st.LastRun = map[string]time.Time{}
	}
}

// add takes in one announcement; it reports whether it was new.
func (st *TriggerState) add(in TriggerInput, e InputEnded) bool {
	if slices.Contains(st.Seen, e.id()) {
		return false
	}
	st.Seen = keepLast(append(st.Seen, e.id()), triggerSeenKept)
	st.Announced = keepLast(append(st.Announced, e.RunID), triggerSeenKept)
	k := in.key(e)
	switch e.Status {
	case StatusPublished:
		st.Pending[k] = append(st.Pending[k], e)
		delete(st.Failed[k], e.Input)
	case StatusUnchanged:
		delete(st.Failed[k], e.Input) // recovered, with the same rows: what waited may run
	case StatusFailed, StatusBlocked, StatusWaiting:
		if st.Failed[k] == nil {
			st.Failed[k] = map[string]InputEnded{}
		}
		st.Failed[k][e.Input] = e
	}
	return true
}

func keepLast(s []string, n int) []string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// TriggerProduct is the workflow that runs a product when its inputs publish (see
// TriggerWorkflowID). It ends once nothing is pending, and the next announcement
// starts it again.
func (w *Workflows) TriggerProduct(ctx workflow.Context, in TriggerInput) error {
	st := in.State
	if st == nil {
		st = &TriggerState{}
	}
	st.init()
	info := workflow.GetInfo(ctx)
	logger := workflow.GetLogger(ctx)
	signals := workflow.GetSignalChannel(ctx, InputEndedSignal)
	sel := workflow.NewSelector(ctx)
	sel.AddReceive(signals, func(c workflow.ReceiveChannel, _ bool) {
		var e InputEnded
		c.Receive(ctx, &e)
		st.add(in, e)
	})
	drain := func() {
		for {
			var e InputEnded
			if !signals.ReceiveAsync(&e) {
				return
			}
			st.add(in, e)
		}
	}
	running := map[string]bool{}
	var cancelTimer workflow.CancelFunc
	var timerAt time.Time
	for {
		drain()
		now := workflow.Now(ctx)
		var wake time.Time
		later := func(t time.Time) {
			if wake.IsZero() || t.Before(wake) {
				wake = t
			}
		}
		keys := slices.Sorted(maps.Keys(st.Pending))
		for k := range st.Failed {
			if _, ok := st.Pending[k]; !ok && len(st.Failed[k]) > 0 {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			if running[k] || countRunning(running) >= triggerMaxRuns {
				continue
			}
			if len(st.Failed[k]) > 0 {
				reason := waitingReason(in, k, st.Failed[k])
				if st.Reported[k] != reason {
					st.Reported[k] = reason
					recordWaiting(ctx, in, k, reason)
				}
				continue
			}
			delete(st.Reported, k)
			pending := st.Pending[k]
			if len(pending) == 0 {
				delete(st.Pending, k)
				continue
			}
			kind, note := TriggerInputs, ""
			if missing := missingAllOf(in, pending); len(missing) > 0 {
				if in.Deadline == "" {
					continue // waits for the others, however long
				}
				due, err := mesh.NextDeadline(in.Deadline, pending[0].At)
				if err != nil {
					return temporal.NewNonRetryableApplicationError("trigger deadline "+in.Deadline+": "+err.Error(), "invalid", nil)
				}
				if now.Before(due) {
					later(due)
					continue
				}
				kind = TriggerDeadline
				note = fmt.Sprintf("ran at its deadline %s (UTC) without a new snapshot of %s", in.Deadline, strings.Join(missing, ", "))
			}
			if last, ok := st.LastRun[k]; ok && in.MinInterval > 0 && now.Before(last.Add(in.MinInterval)) {
				later(last.Add(in.MinInterval))
				continue
			}
			var inputs InputsState
			if err := workflow.ExecuteActivity(triggerOptions(ctx), (*Activities).InputsBusy, BusyInput{Inputs: in.Inputs, Partition: k, Except: st.Announced}).Get(ctx, &inputs); err != nil {
				logger.Warn("could not tell whether inputs are running; trying again later", "error", err)
				later(now.Add(triggerStartRetry))
				continue
			}
			if len(inputs.Failed) > 0 {
				// An input that failed before this trigger started (its announcement went
				// to an earlier trigger, which ended): hold back as if it had been told.
				for _, e := range inputs.Failed {
					st.add(in, e)
				}
				reason := waitingReason(in, k, st.Failed[k])
				st.Reported[k] = reason
				recordWaiting(ctx, in, k, reason)
				continue
			}
			if busy := inputs.Running; len(busy) > 0 {
				// Each will announce its end; the timer only covers one that never does.
				later(now.Add(triggerBusyRetry))
				continue
			}
			running[k] = true
			delete(st.Pending, k)
			run := RunInput{Domain: in.Domain, Product: in.Product, Partition: k, Trigger: triggerText(kind, pending, note), TriggerKind: kind}
			fut := workflow.ExecuteChildWorkflow(triggeredRunOptions(ctx, in, k, kind), RunProductWorkflow, run)
			sel.AddFuture(fut, func(f workflow.Future) {
				running[k] = false
				err := f.Get(ctx, nil)
				if temporal.IsWorkflowExecutionAlreadyStartedError(err) {
					// A manual or scheduled run of the same id is going on; it may have
					// read the inputs before they published, so run after it.
					st.Pending[k] = append(pending, st.Pending[k]...)
					return
				}
				st.LastRun[k] = workflow.Now(ctx)
			})
		}
		if len(st.Pending) == 0 && !anyRunning(running) {
			// What failed is recorded; with nothing published to run, there is nothing
			// for it to hold back. It stays only to keep a MinInterval since its last
			// run; after, the next announcement starts a new trigger.
			if until := holdUntil(in, st); now.Before(until) {
				later(until)
			} else {
				drain()
				if len(st.Pending) == 0 {
					return nil
				}
				continue
			}
		}
		if !anyRunning(running) && info.GetCurrentHistoryLength() > triggerMaxHistory {
			drain()
			next := in
			next.State = st
			return workflow.NewContinueAsNewError(ctx, TriggerWorkflow, next)
		}
		// One timer at a time, replaced only when the wake-up time changes: a canceled
		// timer is ready at once, and replacing it every turn would never block.
		if !wake.Equal(timerAt) {
			if cancelTimer != nil {
				cancelTimer()
				cancelTimer = nil
			}
			timerAt = wake
			if !wake.IsZero() {
				tctx, cancel := workflow.WithCancel(ctx)
				cancelTimer = cancel
				sel.AddFuture(workflow.NewTimer(tctx, wake.Sub(now)), func(workflow.Future) {
					if !workflow.Now(ctx).Before(timerAt) {
						timerAt = time.Time{} // fired: the next turn sets a new one if needed
					}
				})
			}
		}
		sel.Select(ctx)
	}
}

// holdUntil is when the last run's MinInterval ends (zero without one).
func holdUntil(in TriggerInput, st *TriggerState) time.Time {
	var until time.Time
	for _, last := range st.LastRun {
		if t := last.Add(in.MinInterval); in.MinInterval > 0 && t.After(until) {
			until = t
		}
	}
	return until
}

func anyRunning(r map[string]bool) bool { return countRunning(r) > 0 }

func countRunning(r map[string]bool) int {
	n := 0
	for _, v := range r {
		if v {
			n++
		}
	}
	return n
}

// missingAllOf returns the AllOf inputs with no publish among pending.
func missingAllOf(in TriggerInput, pending []InputEnded) []string {
	var missing []string
	for _, name := range in.AllOf {
		if !slices.ContainsFunc(pending, func(e InputEnded) bool { return e.Input == name }) {
			missing = append(missing, name)
		}
	}
	return missing
}

// triggerText is a triggered run's RunInput.Trigger: which snapshots started it.
func triggerText(kind string, pending []InputEnded, note string) string {
	seen := map[string]bool{}
	var parts []string
	for _, e := range pending {
		if s := e.String(); !seen[s] {
			seen[s] = true
			parts = append(parts, s)
		}
	}
	s := kind + ": " + strings.Join(parts, ", ") + " published"
	if note != "" {
		s += "; " + note
	}
	return s
}

// waitingReason says why a product (or one of its days) did not run, and what lets it.
func waitingReason(in TriggerInput, k string, failed map[string]InputEnded) string {
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(failed)) {
		e := failed[name]
		fix := "`mesh run " + name + "`"
		if e.Partition != "" {
			fix = "`mesh run " + name + " --partition " + e.Partition + "` (or `mesh backfill rerun-failed` of its backfill)"
		}
		what := "its run " + e.WorkflowID + " " + e.Status
		if e.Status == StatusWaiting {
			what = "it is waiting itself"
		}
		parts = append(parts, fmt.Sprintf("input %s did not publish (%s: %s); it runs when %s publishes again: %s", name, what, e.Error, name, fix))
	}
	day := ""
	if k != "" {
		day = " " + k
	}
	return fmt.Sprintf("%s.%s%s did not run: %s", in.Domain, in.Product, day, strings.Join(parts, "; "))
}

// recordWaiting keeps a run record saying the product waits for a failed input (the
// catalog's last run), and announces it to the product's own consumers and alerts.
func recordWaiting(ctx workflow.Context, in TriggerInput, k, reason string) {
	info := workflow.GetInfo(ctx)
	now := workflow.Now(ctx)
	rec := RunRecord{Domain: in.Domain, Product: in.Product, WorkflowID: info.WorkflowExecution.ID, RunID: info.WorkflowExecution.RunID,
		Partition: k, Status: StatusWaiting, Error: reason, StartedAt: now, FinishedAt: now, Trigger: TriggerInputs}
	_ = workflow.ExecuteActivity(recordOptions(ctx), (*Activities).RecordRun, rec).Get(ctx, nil)
	announce(ctx, rec, 0, nil)
}

func triggerOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 5},
	})
}

func triggeredRunOptions(ctx workflow.Context, in TriggerInput, partition, kind string) workflow.Context {
	attrs := []temporal.SearchAttributeUpdate{KeyDomain.ValueSet(in.Domain), KeyProduct.ValueSet(in.Product), KeyTrigger.ValueSet(kind)}
	if partition != "" {
		attrs = append(attrs, KeyPartition.ValueSet(partition))
	}
	return workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            WorkflowID(in.Domain, in.Product, partition),
		TaskQueue:             mesh.Domain{Name: in.Domain}.TaskQueue(),
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		// The run goes on if the trigger is terminated: it is a run like any other.
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
		TypedSearchAttributes: temporal.NewSearchAttributes(attrs...),
	})
}

// announce tells the products a run's end triggers, and the alerts, how it ended
// (skipped for a preview on a branch, and in histories from before announcements).
func announce(ctx workflow.Context, rec RunRecord, quotaWaited time.Duration, callerRuns []string) {
	if rec.Branch != "" || workflow.GetVersion(ctx, "announce", workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return
	}
	_ = workflow.ExecuteActivity(announceOptions(ctx), (*Activities).Announce, runAnnouncement(rec, quotaWaited, callerRuns)).Get(ctx, nil)
}

// runAnnouncement is what a run's end announces: to the trigger workflows of the
// products it triggers, and to the alerts.
func runAnnouncement(rec RunRecord, quotaWaited time.Duration, callerRuns []string) Announcement {
	return Announcement{
		Ended: InputEnded{Input: rec.Domain + "." + rec.Product, Partition: rec.Partition, Status: rec.Status, SnapshotID: rec.SnapshotID,
			WorkflowID: rec.WorkflowID, RunID: rec.RunID, Error: rec.Error, At: rec.FinishedAt},
		CallerRuns: callerRuns,
		Run: &alert.Run{Domain: rec.Domain, Product: rec.Product, Partition: rec.Partition, WorkflowID: rec.WorkflowID, RunID: rec.RunID,
			Status: rec.Status, Error: rec.Error, Checks: rec.Checks, QuotaWaited: quotaWaited, Trigger: rec.Trigger, At: rec.FinishedAt},
	}
}

func announceOptions(ctx workflow.Context) workflow.Context {
	// Announced even when the run was canceled: its consumers wait for it otherwise.
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute, MaximumAttempts: 30},
	})
}

// Announcement is what the Announce activity sends: a run's or backfill's end to the
// trigger workflows of the products it triggers, and to the alerts.
type Announcement struct {
	Ended InputEnded
	// CallerRuns are consumers the caller runs itself (a selection, the demo): not signalled.
	CallerRuns []string        `json:",omitempty"`
	Run        *alert.Run      `json:",omitempty"`
	Backfill   *alert.Backfill `json:",omitempty"`
}

// Announce signals (starting it when none runs) the trigger workflow of every product
// run by the announcing product's publishes, as currently declared, then the alerts.
// A retried attempt signals again; trigger workflows count an announcement once.
func (a *Activities) Announce(ctx context.Context, in Announcement) error {
	defer keepAlive(ctx, heartbeatEvery).stop()
	if a.Client == nil {
		return nil // a worker without a Temporal client (unit tests) has no one to tell
	}
	m := a.Mesh
	if a.Declared != nil {
		m = a.Declared()
	}
	dom, prod, _ := strings.Cut(in.Ended.Input, ".")
	var failed []error
	for _, e := range m.TriggeredBy(mesh.Ref{Domain: dom, Product: prod}) {
		if slices.Contains(in.CallerRuns, e.Ref().String()) {
			continue
		}
		id := TriggerWorkflowID(e.Domain.Name, e.Product.Name)
		_, err := a.Client.SignalWithStartWorkflow(ctx, id, InputEndedSignal, in.Ended, client.StartWorkflowOptions{
			ID: id, TaskQueue: e.Domain.TaskQueue(),
			TypedSearchAttributes: temporal.NewSearchAttributes(KeyDomain.ValueSet(e.Domain.Name), KeyProduct.ValueSet(e.Product.Name), KeyTrigger.ValueSet(TriggerInputs)),
		}, TriggerWorkflow, triggerInputFor(e))
		if err != nil {
			failed = append(failed, fmt.Errorf("signal %s: %w", id, err))
		}
	}
	if in.Run != nil {
		if err := a.Alerts.RunEnded(ctx, *in.Run); err != nil {
			failed = append(failed, fmt.Errorf("alerts: %w", err))
		}
	}
	if in.Backfill != nil {
		if err := a.Alerts.BackfillEnded(ctx, *in.Backfill); err != nil {
			failed = append(failed, fmt.Errorf("alerts: %w", err))
		}
	}
	if len(failed) > 0 {
		return toTemporal(ctx, errs.E(errs.Transient, "announce "+in.Ended.Input, errors.Join(failed...)))
	}
	return nil
}

// BusyInput asks which of a product's inputs are running.
type BusyInput struct {
	Inputs    []string
	Partition string   `json:",omitempty"` // "" = any run or backfill of them; a day = its run, or an unpartitioned one
	Except    []string `json:",omitempty"` // run ids that announced already (they end right after)
}

// InputsState is what holds a triggered run back: inputs still running, and inputs
// whose latest run did not publish.
type InputsState struct {
	Running []string     `json:",omitempty"` // their workflow ids
	Failed  []InputEnded `json:",omitempty"` // their latest run, failed, blocked or waiting
}

// InputsBusy lists the open runs and backfills of the inputs, from Temporal's
// visibility (by the MeshDomain and MeshProduct search attributes), and, for a
// whole-product run, the inputs whose latest run record did not publish.
func (a *Activities) InputsBusy(ctx context.Context, in BusyInput) (InputsState, error) {
	var st InputsState
	if in.Partition == "" && a.Lake != nil {
		for _, name := range in.Inputs {
			dom, prod, _ := strings.Cut(name, ".")
			rec, ok, err := LatestRun(ctx, a.Lake, dom, prod)
			if err != nil {
				return st, toTemporal(ctx, err)
			}
			if ok && rec.Partition == "" && (rec.Status == StatusFailed || rec.Status == StatusBlocked || rec.Status == StatusWaiting) {
				st.Failed = append(st.Failed, InputEnded{Input: name, Status: rec.Status, WorkflowID: rec.WorkflowID, RunID: rec.RunID, Error: rec.Error, At: rec.FinishedAt})
			}
		}
	}
	if a.Client == nil {
		return st, nil
	}
	busy, err := a.runningInputs(ctx, in)
	st.Running = busy
	return st, err
}

func (a *Activities) runningInputs(ctx context.Context, in BusyInput) ([]string, error) {
	var busy []string
	for _, name := range in.Inputs {
		dom, prod, _ := strings.Cut(name, ".")
		q := fmt.Sprintf("%s = %q AND %s = %q AND ExecutionStatus = 'Running' AND (WorkflowType = %q OR WorkflowType = %q)",
			AttrDomain, dom, AttrProduct, prod, RunProductWorkflow, BackfillWorkflow)
		var token []byte
		for {
			resp, err := a.Client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: q, NextPageToken: token})
			if err != nil {
				return nil, toTemporal(ctx, errs.E(errs.Transient, "inputs busy", err))
			}
			for _, ex := range resp.GetExecutions() {
				if slices.Contains(in.Except, ex.GetExecution().GetRunId()) {
					continue
				}
				id := ex.GetExecution().GetWorkflowId()
				if in.Partition != "" && (ex.GetType().GetName() != RunProductWorkflow ||
					id != WorkflowID(dom, prod, in.Partition) && id != WorkflowID(dom, prod, "")) {
					continue // another day of the input, or the backfill whose days announce themselves
				}
				busy = append(busy, id)
			}
			if token = resp.GetNextPageToken(); len(token) == 0 {
				break
			}
		}
	}
	return busy, nil
}
