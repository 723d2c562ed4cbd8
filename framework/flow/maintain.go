package flow

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"strconv"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
)

// Table maintenance runs as one workflow per port table, MaintainTable, on the
// product's domain queue: compaction, manifest merge, snapshot expiry and orphan
// deletion, each an activity of its own (retried, heartbeating, visible in the UI).
// It never races a publish of the same table into a wrong state: every maintenance
// commit asserts the table is as it was planned on and rebuilds on the new state when
// a publish landed meanwhile (port's commit loop).

// MaintainWorkflow is the name the maintenance workflow is registered under.
const MaintainWorkflow = "MaintainTable"

// MaintainID is the workflow id of a table's maintenance: maintain/<domain>.<table>.
// One id per table means two maintenances of a table never run at once.
func MaintainID(domain, table string) string { return "maintain/" + domain + "." + table }

// MaintainInput asks for the maintenance of one port table: a product's major.
type MaintainInput struct {
	Domain, Product string
	Major           int    `json:",omitempty"` // 0 = the current major
	Trigger         string `json:",omitempty"` // manual or schedule
}

// MaintainStep is what each maintenance activity is asked: the table, and the time
// retention counts from (the workflow's start, so every attempt counts alike).
type MaintainStep struct {
	Domain, Product string
	Major           int `json:",omitempty"`
	Now             time.Time
}

// MaintainResult is what a maintenance did to a table.
type MaintainResult struct {
	port.Maintenance
	Domain  string `json:"domain"`
	Product string `json:"product"`
	// Skipped says why the table was left as it is (never published, past its sunset).
	Skipped string `json:"skipped,omitempty"`
}

// MaintenanceRecord is kept in the lake for every finished maintenance, so the
// catalog shows when a table was last maintained and what it did.
type MaintenanceRecord struct {
	MaintainResult
	WorkflowID string    `json:"workflow_id"`
	RunID      string    `json:"run_id"`
	Status     string    `json:"status"` // StatusMaintained or StatusFailed
	Error      string    `json:"error,omitempty"`
	Trigger    string    `json:"trigger,omitempty"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
}

// StatusMaintained is a maintenance record's status when every step succeeded.
const StatusMaintained = "maintained"

// maxListedOrphans bounds the orphan paths a result carries: results live in the
// workflow's history, and a table that never had a clean-up may hold thousands.
const maxListedOrphans = 100

// MaintainTable maintains one port table: it compacts its small data files, merges
// its manifests, expires the snapshots past the product's retention that nothing
// needs and deletes orphan files, then records what it did in the lake.
func (w *Workflows) MaintainTable(ctx workflow.Context, in MaintainInput) (MaintainResult, error) {
	info := workflow.GetInfo(ctx)
	step := MaintainStep{Domain: in.Domain, Product: in.Product, Major: in.Major, Now: workflow.Now(ctx)}
	res := MaintainResult{Domain: in.Domain, Product: in.Product}
	rec := MaintenanceRecord{WorkflowID: info.WorkflowExecution.ID, RunID: info.WorkflowExecution.RunID, Trigger: in.Trigger, StartedAt: step.Now}
	record := func(err error) (MaintainResult, error) {
		rec.MaintainResult, rec.Status, rec.FinishedAt = res, StatusMaintained, workflow.Now(ctx)
		if err != nil {
			rec.Status, rec.Error = StatusFailed, Explain(err)
		}
		if res.Table != "" {
			// Best effort: the maintenance's own outcome is what matters to its caller.
			_ = workflow.ExecuteActivity(recordOptions(ctx), (*Activities).RecordMaintenance, rec).Get(ctx, nil)
		}
		return res, err
	}
	var plan MaintainResult
	if err := workflow.ExecuteActivity(shortOptions(ctx), (*Activities).PlanMaintenance, step).Get(ctx, &plan); err != nil {
		return record(stepError{"plan maintenance", err})
	}
	res.Table, res.Before, res.Skipped = plan.Table, plan.Before, plan.Skipped
	if res.Skipped != "" {
		res.After = res.Before
		return record(nil)
	}
	// In order: compaction and the manifest merge add the newest snapshots, and expiry
	// and orphan deletion then see the table as they left it.
	steps := []struct {
		name string
		opts func(workflow.Context) workflow.Context
		act  any
		out  any
	}{
		{"compact", transformOptions, (*Activities).CompactTable, &res.Compacted},
		{"rewrite manifests", shortOptions, (*Activities).RewriteTableManifests, &res.Manifests},
		{"expire snapshots", shortOptions, (*Activities).ExpireTableSnapshots, &res.Expired},
		{"delete orphan files", transformOptions, (*Activities).DeleteTableOrphans, &res.Orphans},
		{"read table stats", shortOptions, (*Activities).TableStats, &res.After},
	}
	for _, s := range steps {
		if err := workflow.ExecuteActivity(s.opts(ctx), s.act, step).Get(ctx, s.out); err != nil {
			return record(stepError{s.name, err})
		}
	}
	return record(nil)
}

// StartMaintain starts a table's maintenance on its domain's queue; one already
// running for the table is refused, naming it.
func StartMaintain(ctx context.Context, c client.Client, d mesh.Domain, v mesh.Product, in MaintainInput) (client.WorkflowRun, error) {
	in.Domain, in.Product, in.Major = d.Name, v.Name, v.Major()
	if in.Trigger == "" {
		in.Trigger = TriggerManual
	}
	id := MaintainID(d.Name, v.PortName())
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                                       id,
		TaskQueue:                                d.TaskQueue(),
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes:                    temporal.NewSearchAttributes(KeyDomain.ValueSet(d.Name), KeyProduct.ValueSet(v.Name)),
	}, MaintainWorkflow, in)
	return run, alreadyRunning(ctx, c, "maintain "+d.Name+"."+v.PortName(), id, err)
}

// MaintainedMajors are the majors of a product whose tables maintenance looks after
// on day: the current one and each legacy major still published. A legacy major past
// its sunset is left exactly as its consumers last read it: nothing publishes to it
// any more, so nothing piles up, and the history they migrate from stays whole.
func MaintainedMajors(p mesh.Product, day time.Time) (maintained []mesh.Product, frozen []mesh.Product) {
	for _, v := range p.Majors() {
		if v.PublishesOn(day) {
			maintained = append(maintained, v)
		} else {
			frozen = append(frozen, v)
		}
	}
	return maintained, frozen
}

// PastSunset is why maintenance leaves legacy major v alone (MaintainedMajors).
func PastSunset(v mesh.Product) string {
	return fmt.Sprintf("past its sunset %s: left as its consumers last read it", v.Deprecation.Sunset)
}

// MaintainRequest is what maintenance may do to the table of product v (a major of
// a product of domain d) at now: the product's declared retention, compaction within
// its partitions, and the snapshots its consumers' current snapshots were computed
// from kept (their lineage, PropInputs, on main and on every branch).
func MaintainRequest(ctx context.Context, m mesh.Mesh, ports *port.Catalog, d mesh.Domain, v mesh.Product, now time.Time) (port.TableID, port.MaintainRequest, error) {
	id := port.TableID{Domain: d.Name, Name: v.PortName()}
	r := v.Retention.OrDefault()
	req := port.MaintainRequest{
		Retention:  port.Retention{MaxAge: r.MaxAge, MinSnapshots: r.MinSnapshots},
		Compaction: port.CompactOptions{PartitionColumn: v.PartitionBy},
		Now:        now,
		Keep:       map[int64]string{},
	}
	for _, c := range m.Consumers(d.Name, v.Name) {
		_, cp, err := m.Find(c.String())
		if err != nil {
			return id, req, err
		}
		for _, cv := range cp.Majors() {
			cid := port.TableID{Domain: c.Domain, Name: cv.PortName()}
			heads, err := ports.Heads(ctx, cid)
			if err != nil {
				return id, req, err
			}
			for branch, s := range heads {
				var read map[string]int64
				if json.Unmarshal([]byte(s.Properties[PropInputs]), &read) != nil {
					continue
				}
				if snap, ok := read[id.String()]; ok {
					req.Keep[snap] = fmt.Sprintf("read by %s: its snapshot %d was computed from it", branchTable(cid, branch), s.ID)
				}
			}
		}
	}
	return id, req, nil
}

// maintained resolves the table and request of a maintenance step.
func (a *Activities) maintained(ctx context.Context, in MaintainStep) (port.TableID, port.MaintainRequest, error) {
	d, v, err := a.product(in.Domain, in.Product, in.Major)
	if err != nil {
		return port.TableID{}, port.MaintainRequest{}, err
	}
	return MaintainRequest(ctx, a.Mesh, a.Ports, d, v, in.Now)
}

// PlanMaintenance says which table a maintenance works on, its size before, and
// whether it is left alone: never published, or a legacy major past its sunset.
func (a *Activities) PlanMaintenance(ctx context.Context, in MaintainStep) (MaintainResult, error) {
	defer keepAlive(ctx, heartbeatEvery).stop()
	d, v, err := a.product(in.Domain, in.Product, in.Major)
	if err != nil {
		return MaintainResult{}, toTemporal(ctx, err)
	}
	id := port.TableID{Domain: d.Name, Name: v.PortName()}
	res := MaintainResult{Maintenance: port.Maintenance{Table: id.String()}, Domain: d.Name, Product: v.Name}
	if !v.PublishesOn(in.Now) {
		res.Skipped = PastSunset(v)
		return res, nil
	}
	res.Before, err = a.Ports.Stats(ctx, id)
	if errs.Is(err, errs.NotFound) {
		res.Skipped = "never published"
		return res, nil
	}
	return res, toTemporal(ctx, err)
}

// CompactTable rewrites the table's small data files (see port.Catalog.Compact).
func (a *Activities) CompactTable(ctx context.Context, in MaintainStep) (port.Compacted, error) {
	defer keepAlive(ctx, heartbeatEvery).stop()
	id, req, err := a.maintained(ctx, in)
	if err != nil {
		return port.Compacted{}, toTemporal(ctx, err)
	}
	res, err := a.Ports.Compact(ctx, id, req.Compaction)
	return res, toTemporal(ctx, err)
}

// RewriteTableManifests merges the table's manifests (see port.Catalog.RewriteManifests).
func (a *Activities) RewriteTableManifests(ctx context.Context, in MaintainStep) (port.ManifestsRewritten, error) {
	defer keepAlive(ctx, heartbeatEvery).stop()
	id, _, err := a.maintained(ctx, in)
	if err != nil {
		return port.ManifestsRewritten{}, toTemporal(ctx, err)
	}
	res, err := a.Ports.RewriteManifests(ctx, id, false)
	return res, toTemporal(ctx, err)
}

// ExpireTableSnapshots expires the snapshots past the product's retention that no
// branch, consumer or compaction needs (see port.Catalog.ExpireSnapshots).
func (a *Activities) ExpireTableSnapshots(ctx context.Context, in MaintainStep) (port.Expired, error) {
	defer keepAlive(ctx, heartbeatEvery).stop()
	id, req, err := a.maintained(ctx, in)
	if err != nil {
		return port.Expired{}, toTemporal(ctx, err)
	}
	res, err := a.Ports.ExpireSnapshots(ctx, id, port.ExpireRequest{Retention: req.Retention, Keep: req.Keep, Now: req.Now})
	return res, toTemporal(ctx, err)
}

// DeleteTableOrphans deletes the table's orphan files older than the safety age (see
// port.Catalog.DeleteOrphanFiles); the result lists at most maxListedOrphans of them.
func (a *Activities) DeleteTableOrphans(ctx context.Context, in MaintainStep) (port.Orphans, error) {
	defer keepAlive(ctx, heartbeatEvery).stop()
	id, req, err := a.maintained(ctx, in)
	if err != nil {
		return port.Orphans{}, toTemporal(ctx, err)
	}
	res, err := a.Ports.DeleteOrphanFiles(ctx, id, req.OrphanAge, false)
	res.Files = res.Files[:min(len(res.Files), maxListedOrphans)]
	return res, toTemporal(ctx, err)
}

// TableStats reads the table's size after maintenance.
func (a *Activities) TableStats(ctx context.Context, in MaintainStep) (port.Stats, error) {
	defer keepAlive(ctx, heartbeatEvery).stop()
	id, _, err := a.maintained(ctx, in)
	if err != nil {
		return port.Stats{}, toTemporal(ctx, err)
	}
	res, err := a.Ports.Stats(ctx, id)
	return res, toTemporal(ctx, err)
}

// RecordMaintenance keeps a maintenance's outcome in the lake for the catalog.
func (a *Activities) RecordMaintenance(ctx context.Context, rec MaintenanceRecord) error {
	defer keepAlive(ctx, heartbeatEvery).stop()
	key := path.Join(maintenancePrefix(rec.Table), strconv.FormatInt(rec.FinishedAt.UTC().UnixMilli(), 10)+"-"+rec.RunID+".json")
	return toTemporal(ctx, a.Lake.PutJSON(ctx, key, rec))
}

// maintenancePrefix is where a table's maintenance records are kept, ordered by time.
func maintenancePrefix(table string) string { return path.Join("maintenance", table) + "/" }

// LatestMaintenance is the newest maintenance record of a port table (domain.table);
// ok false before its first.
func LatestMaintenance(ctx context.Context, l *lake.Lake, table string) (MaintenanceRecord, bool, error) {
	return latestJSON[MaintenanceRecord](ctx, l, maintenancePrefix(table))
}

// latestJSON reads the newest record under prefix, whose keys sort by time.
func latestJSON[T any](ctx context.Context, l *lake.Lake, prefix string) (T, bool, error) {
	var rec T
	keys, err := l.List(ctx, prefix)
	if err != nil || len(keys) == 0 {
		return rec, false, err
	}
	if err := l.GetJSON(ctx, keys[len(keys)-1], &rec); err != nil {
		return rec, false, err
	}
	return rec, true, nil
}
