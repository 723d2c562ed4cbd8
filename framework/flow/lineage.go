package flow

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/lineage"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
	"github.com/meshflow/meshflow/framework/source"
)

// lineageVersion marks runs that tell an OpenLineage receiver their start and end
// (Activities.Lineage). Histories from before replay without it.
const lineageVersion = "openlineage"

// LineageInput is a run's start or end as the EmitLineage local activity hands it on.
type LineageInput struct {
	Event lineage.EventType
	Decl  string    // the current major's declaration (PlannedMajor.Decl)
	Run   RunRecord // the run so far, without its checks, warnings and legacy majors
}

// startLineage sends the run's START event and returns what sends its end: COMPLETE
// when it published (or found its rows unchanged), ABORT when it was canceled, FAIL
// otherwise. A preview on a branch sends none. Each is a local activity that only
// hands the event to the run's lineage workflow (package lineage), which sends it
// whenever the receiver answers: the run never waits for the receiver, and a receiver
// that is down fails nothing.
func startLineage(ctx workflow.Context, plan Plan, rec RunRecord) (end func(RunRecord)) {
	if rec.Branch != "" || workflow.GetVersion(ctx, lineageVersion, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return func(RunRecord) {}
	}
	decl := plan.Majors[0].Decl
	emit := func(t lineage.EventType, rec RunRecord) {
		rec.Checks, rec.Warnings, rec.Legacy = nil, nil, nil
		var a *Activities // the worker's registered Activities run it
		// Best effort: a run's lineage never fails the run.
		_ = workflow.ExecuteLocalActivity(lineageOptions(ctx), a.EmitLineage, LineageInput{Event: t, Decl: decl, Run: rec}).Get(ctx, nil)
	}
	emit(lineage.Start, rec)
	return func(rec RunRecord) {
		switch {
		case rec.Status == "":
			return // the run did not end through a return (a panic): nothing to say
		case ctx.Err() != nil:
			emit(lineage.Abort, rec)
		case rec.Status == StatusPublished || rec.Status == StatusUnchanged:
			emit(lineage.Complete, rec)
		default:
			emit(lineage.Fail, rec)
		}
	}
}

// lineageOptions run EmitLineage: one signal to Temporal, also for a canceled run.
func lineageOptions(ctx workflow.Context) workflow.Context {
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	return workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		ScheduleToCloseTimeout: 2 * time.Minute,
		StartToCloseTimeout:    30 * time.Second,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 5},
	})
}

// EmitLineage hands a run's OpenLineage event to the run's lineage workflow, which
// sends it (lineage.Sender.Emit). Without a configured receiver it does nothing.
func (a *Activities) EmitLineage(ctx context.Context, in LineageInput) error {
	if !a.Lineage.Enabled() {
		return nil
	}
	r := in.Run
	d, p, decl, err := a.declaration(ctx, in.Decl, r.Domain, r.Product, 0)
	if err != nil {
		return toTemporal(ctx, err)
	}
	at := r.StartedAt
	if in.Event.Ends() {
		at = r.FinishedAt
	}
	if at.IsZero() {
		at = time.Now()
	}
	info := a.lineageRun(d, p, decl, r)
	if in.Event == lineage.Complete {
		a.inputsRead(ctx, p, r, &info)
	}
	ev := info.Event(in.Event, at)
	return toTemporal(ctx, a.Lineage.Emit(ctx, d.TaskQueue(), ev))
}

// lineageRun describes run r of product p for its OpenLineage events: its raw inputs
// as the lake keeps them (raw/<domain>/<source>/<stream>, their columns as the
// connector declares them, the rows this run landed), its product inputs as the
// Iceberg tables it read (<domain>.<table>, their declared schemas) and its port.
func (a *Activities) lineageRun(d mesh.Domain, p mesh.Product, decl Declaration, r RunRecord) lineage.RunInfo {
	cfg := a.Lineage.Config()
	rawDS, portDS := cfg.Namespaces(a.Lake.URL)
	m := a.Mesh
	if a.Declared != nil {
		m = a.Declared()
	}
	info := lineage.RunInfo{Namespace: cfg.Namespace, Domain: r.Domain, Product: r.Product, Description: p.Description,
		Owner: p.EffectiveOwner(d), Model: p.Model, WorkflowID: r.WorkflowID, RunID: r.RunID, Error: r.Error}
	for _, in := range p.Inputs {
		if in.IsRaw() {
			ds := lineage.DatasetInfo{Namespace: rawDS.Namespace(), Source: rawDS,
				Name: lake.StreamRef{Domain: r.Domain, Source: in.Source, Stream: in.Stream}.Prefix()}
			if src, ok := a.Sources[in.Source]; ok {
				if st, ok := source.Lookup(src, in.Stream); ok {
					for _, f := range st.Spec().Fields {
						ds.Columns = append(ds.Columns, lineage.Column{Name: f.Name, Type: rawColumnType(f.Type), Doc: f.Doc})
					}
				}
			}
			if n, ok := r.Landed[in.String()]; ok {
				ds.Rows = lineage.Rows(n)
			}
			info.Inputs = append(info.Inputs, ds)
			continue
		}
		table := decl.Upstream[in.String()].Table
		var cols []lineage.Column
		if _, up, err := m.Find(in.String()); err == nil {
			if table == "" {
				table = up.PortName()
			}
			cols = portColumns(up.Schema)
		}
		info.Inputs = append(info.Inputs, lineage.DatasetInfo{Namespace: portDS.Namespace(), Source: portDS, Name: in.Domain + "." + table, Columns: cols})
	}
	info.Output = lineage.DatasetInfo{Namespace: portDS.Namespace(), Source: portDS, Name: r.Domain + "." + p.PortName(), Columns: portColumns(p.Schema)}
	if r.Status == StatusPublished || r.Status == StatusUnchanged {
		info.Output.Rows, info.Output.Version = lineage.Rows(r.Rows), lineage.Version(r.SnapshotID)
	}
	return info
}

// inputsRead adds to a published run's product inputs the snapshot each was read at,
// as the publish recorded it (PropInputs), and — when the run read them whole: not a
// partition's run, not a merge of changed keys — their rows at that snapshot. What
// cannot be read is left out: the events say less, nothing fails.
func (a *Activities) inputsRead(ctx context.Context, p mesh.Product, r RunRecord, info *lineage.RunInfo) {
	if r.Status != StatusPublished || r.SnapshotID == 0 || a.Ports == nil {
		return
	}
	snaps, err := a.Ports.Snapshots(ctx, port.TableID{Domain: r.Domain, Name: p.PortName()})
	if err != nil {
		return
	}
	i := slices.IndexFunc(snaps, func(s port.Snapshot) bool { return s.ID == r.SnapshotID })
	if i < 0 {
		return
	}
	var read map[string]int64 // "domain.table" → snapshot id
	if json.Unmarshal([]byte(snaps[i].Properties[PropInputs]), &read) != nil {
		return
	}
	whole := r.Partition == "" && !strings.HasPrefix(r.Incremental, "incremental: merged")
	for j := range info.Inputs {
		in := &info.Inputs[j]
		id, ok := read[in.Name]
		if !ok {
			continue
		}
		in.Version = lineage.Version(id)
		domain, table, _ := strings.Cut(in.Name, ".")
		if !whole {
			continue
		}
		if up, err := a.Ports.Snapshots(ctx, port.TableID{Domain: domain, Name: table}); err == nil {
			if k := slices.IndexFunc(up, func(s port.Snapshot) bool { return s.ID == id }); k >= 0 {
				in.Rows = lineage.Rows(up[k].Rows)
			}
		}
	}
}

func portColumns(schema []mesh.Column) []lineage.Column {
	cols := make([]lineage.Column, len(schema))
	for i, c := range schema {
		cols[i] = lineage.Column{Name: c.Name, Type: string(c.Type), Doc: c.Doc}
	}
	return cols
}

// rawColumnType is a raw column's type as the raw views have it in SQL.
func rawColumnType(t source.Type) string {
	switch t {
	case source.Int64:
		return string(mesh.Int64)
	case source.Float64:
		return string(mesh.Float64)
	case source.Bool:
		return string(mesh.Bool)
	case source.Timestamp:
		return string(mesh.Timestamp)
	case source.Date:
		return string(mesh.Date)
	}
	return string(mesh.String)
}
