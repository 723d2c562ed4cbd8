package catalog

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/meshflow/meshflow/framework/access"
	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
	"github.com/meshflow/meshflow/framework/quality"
)

// FailingRows is what a check that failed or warned in a run found: the sample of its
// offending rows the run kept, and the SQL that finds all of them now.
type FailingRows struct {
	quality.FailingRows
	Status     mesh.Status   `json:"status"`
	Severity   mesh.Severity `json:"severity"`
	Message    string        `json:"message,omitempty"`
	WorkflowID string        `json:"workflow_id"`
	RunID      string        `json:"run_id"`
	RunStatus  string        `json:"run_status"`
	FinishedAt time.Time     `json:"finished_at"`
	Partition  string        `json:"partition,omitempty"`
	// Command runs SQL with `mesh query`, quoted for a POSIX shell.
	Command string `json:"command,omitempty"`
	// Note says what the sample and the SQL are of: the rows of a run that published
	// nothing were never readable, and the SQL reads the current snapshot.
	Note string `json:"note,omitempty"`
	// Masked are the columns of personal data whose values the caller may not see,
	// each value replaced by Mask (Sample.Masked).
	Masked []string `json:"masked,omitempty"`
}

// Head is the first n sampled rows as text, NULL as mesh query prints it.
func (f FailingRows) Head(n int) [][]string {
	rows := f.Rows[:min(n, len(f.Rows))]
	out := make([][]string, len(rows))
	for i, r := range rows {
		out[i] = make([]string, len(r))
		for j, v := range r {
			out[i][j] = "NULL"
			if v != nil {
				out[i][j] = *v
			}
		}
	}
	return out
}

// ColumnNames are the sampled columns' names.
func (f FailingRows) ColumnNames() []string {
	out := make([]string, len(f.Columns))
	for i, c := range f.Columns {
		out[i] = c.Name
	}
	return out
}

// failingRows reads what each check that failed or warned in run kept. A run from
// before samples were kept, or one whose sample is gone, still gets the SQL, from the
// check as declared now.
func (c *Catalog) failingRows(ctx context.Context, d mesh.Domain, p mesh.Product, run flow.RunRecord, current *port.Snapshot) []FailingRows {
	var out []FailingRows
	for _, r := range run.Checks {
		if r.Status == mesh.StatusPass {
			continue
		}
		f := FailingRows{Status: r.Status, Severity: r.Severity, Message: r.Message, WorkflowID: run.WorkflowID, RunID: run.RunID,
			RunStatus: run.Status, FinishedAt: run.FinishedAt, Partition: run.Partition}
		if r.RowsKey == "" || c.Lake.GetJSON(ctx, r.RowsKey, &f.FailingRows) != nil {
			f.FailingRows = quality.FailingRows{Check: r.Name, Kind: r.Kind, Failing: r.Failing}
			if ch, ok := declaredCheck(p, r.Name); ok {
				f.SQL = quality.PortSQL(ch, d.Name+"."+p.PortName(), p.PartitionBy, run.Partition)
			}
		}
		if f.SQL != "" {
			f.Command = "mesh query " + shellQuote(f.SQL)
		}
		f.Note = failingNote(run, current)
		out = append(out, f)
	}
	return out
}

// failingNote says where the sampled rows were and what the SQL reads.
func failingNote(run flow.RunRecord, current *port.Snapshot) string {
	now := "the SQL reads the port's current snapshot"
	if current != nil {
		now = fmt.Sprintf("the SQL reads the port's current snapshot (%d)", current.ID)
	}
	switch {
	case run.Status == flow.StatusBlocked || run.Status == flow.StatusFailed:
		return fmt.Sprintf("the run %s, so these rows were in its output, which was never published; %s, which may hold other rows", run.Status, now)
	case current != nil && run.SnapshotID != current.ID:
		return fmt.Sprintf("these rows are from the run's snapshot %d; %s", run.SnapshotID, now)
	}
	return "these rows are in the port's current snapshot; the SQL finds every one"
}

func declaredCheck(p mesh.Product, name string) (mesh.Check, bool) {
	i := slices.IndexFunc(p.AllChecks(), func(c mesh.Check) bool { return c.Name == name })
	if i < 0 {
		return mesh.Check{}, false
	}
	return p.AllChecks()[i], true
}

// shellQuote quotes s as one word for a POSIX shell: SQL holds both kinds of quote.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// CheckRows returns what check found in a run of the product name ("domain.product"):
// in the newest run that ran checks, or in the run whose run id or workflow id is run.
// A restricted product's rows go only to a caller who may read it, as Show's.
func (c *Catalog) CheckRows(ctx context.Context, name, check, run string) (FailingRows, error) {
	d, p, err := c.Mesh.Find(name)
	if err != nil {
		return FailingRows{}, err
	}
	op := "rows of check " + check + " of " + d.Name + "." + p.Name
	if err := c.authorize(ctx, d, p, access.Sample); err != nil {
		return FailingRows{}, err
	}
	var names []string
	for _, ch := range p.AllChecks() {
		names = append(names, ch.Name)
	}
	if !slices.Contains(names, check) {
		return FailingRows{}, errs.Errorf(errs.NotFound, op, "%s.%s has no check %q; its checks are %s", d.Name, p.Name, check, strings.Join(names, ", "))
	}
	rec, err := c.checkedRun(ctx, d, p, run, op)
	if err != nil {
		return FailingRows{}, err
	}
	current, ok, err := c.Ports.Current(ctx, port.TableID{Domain: d.Name, Name: p.PortName()})
	if err != nil {
		return FailingRows{}, err
	}
	var snap *port.Snapshot
	if ok {
		snap = &current
	}
	which := fmt.Sprintf("run %s (%s, finished %s)", rec.RunID, rec.WorkflowID, rec.FinishedAt.UTC().Format(timeFormat))
	i := slices.IndexFunc(rec.Checks, func(r quality.Result) bool { return r.Name == check })
	switch {
	case len(rec.Checks) == 0:
		return FailingRows{}, errs.Errorf(errs.NotFound, op, "%s %s before its checks ran: %s", which, rec.Status, rec.Error)
	case i < 0:
		return FailingRows{}, errs.Errorf(errs.NotFound, op, "%s did not run %s: the check was declared after it", which, check)
	case rec.Checks[i].Status == mesh.StatusPass:
		return FailingRows{}, errs.Errorf(errs.NotFound, op, "%s passed in %s: no row offends it", check, which)
	}
	rec.Checks = rec.Checks[i : i+1]
	f := c.failingRows(ctx, d, p, rec, snap)[0]
	if !c.seesPersonalData(ctx) {
		maskFailingRows(p, &f)
	}
	return f, nil
}

// checkedRun is the newest run of the product that ran checks, or the one named run
// (its run id or workflow id).
func (c *Catalog) checkedRun(ctx context.Context, d mesh.Domain, p mesh.Product, run, op string) (flow.RunRecord, error) {
	var found *flow.RunRecord
	var recent []string
	err := c.eachRun(ctx, d.Name, p.Name, allRuns, func(r flow.RunRecord) bool {
		if run == "" && len(r.Checks) > 0 || run != "" && (r.RunID == run || r.WorkflowID == run) {
			found = &r
			return false
		}
		if len(recent) < 5 {
			recent = append(recent, r.RunID)
		}
		return true
	})
	name := d.Name + "." + p.Name
	switch {
	case err != nil:
		return flow.RunRecord{}, err
	case found != nil:
		return *found, nil
	case run == "":
		return flow.RunRecord{}, errs.Errorf(errs.NotFound, op, "%s has no run that ran its checks yet: mesh run %s", name, name)
	case len(recent) == 0:
		return flow.RunRecord{}, errs.Errorf(errs.NotFound, op, "%s has no runs yet, so none is %s", name, run)
	}
	return flow.RunRecord{}, errs.Errorf(errs.NotFound, op, "%s has no run %s; its newest runs are %s", name, run, strings.Join(recent, ", "))
}

// allRuns reads every run record a product has kept.
const allRuns = 1 << 30
