package flow

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
)

// A raw stream's landings are maintained by a workflow of their own beside the
// tables', MaintainStream (maintain/<domain>.raw.<source>.<stream>, on the domain's
// queue): its small landings compacted into one that supersedes them, and the
// superseded ones deleted past a retention unless a product's last publish recorded
// reading them (see lake.CompactStream, lake.ExpireSuperseded).

// MaintainStreamWorkflow is the name the raw stream maintenance is registered under.
const MaintainStreamWorkflow = "MaintainStream"

// MaintainStreamID is the workflow id of a raw stream's maintenance. One id per
// stream means two maintenances of a stream never run at once.
func MaintainStreamID(s lake.StreamRef) string {
	return "maintain/" + s.Domain + ".raw." + s.Source + "." + s.Stream
}

// MaintainStreamInput asks for the maintenance of one raw stream of a domain.
type MaintainStreamInput struct {
	Domain, Source, Stream string
	Trigger                string `json:",omitempty"` // manual or schedule
}

// StreamStep is what each raw maintenance activity is asked: the stream, the run
// (it names the compaction's files) and the time retention counts from.
type StreamStep struct {
	Domain, Source, Stream string
	RunID                  string
	Now                    time.Time
}

func (s StreamStep) ref() lake.StreamRef {
	return lake.StreamRef{Domain: s.Domain, Source: s.Source, Stream: s.Stream}
}

// MaintainStreamResult is what a maintenance did to a raw stream.
type MaintainStreamResult struct {
	Stream    string               `json:"stream"` // domain/source.stream
	Compacted lake.StreamCompacted `json:"compacted"`
	Expired   lake.RawExpired      `json:"expired"`
}

// MaintainStream compacts a raw stream's small landings, then deletes the superseded
// landings past the retention that nothing needs.
func (w *Workflows) MaintainStream(ctx workflow.Context, in MaintainStreamInput) (MaintainStreamResult, error) {
	info := workflow.GetInfo(ctx)
	step := StreamStep{Domain: in.Domain, Source: in.Source, Stream: in.Stream, RunID: info.WorkflowExecution.RunID, Now: workflow.Now(ctx)}
	res := MaintainStreamResult{Stream: step.ref().String()}
	if err := workflow.ExecuteActivity(transformOptions(ctx), (*Activities).CompactRawStream, step).Get(ctx, &res.Compacted); err != nil {
		return res, stepError{"compact raw landings", err}
	}
	if err := workflow.ExecuteActivity(shortOptions(ctx), (*Activities).ExpireRawStream, step).Get(ctx, &res.Expired); err != nil {
		return res, stepError{"expire superseded raw landings", err}
	}
	return res, nil
}

// StartMaintainStream starts a raw stream's maintenance on its domain's queue; one
// already running for the stream is refused, naming it.
func StartMaintainStream(ctx context.Context, c client.Client, d mesh.Domain, s lake.StreamRef, trigger string) (client.WorkflowRun, error) {
	if trigger == "" {
		trigger = TriggerManual
	}
	id := MaintainStreamID(s)
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                                       id,
		TaskQueue:                                d.TaskQueue(),
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes:                    temporal.NewSearchAttributes(KeyDomain.ValueSet(d.Name)),
	}, MaintainStreamWorkflow, MaintainStreamInput{Domain: s.Domain, Source: s.Source, Stream: s.Stream, Trigger: trigger})
	return run, alreadyRunning(ctx, c, "maintain raw "+s.String(), id, err)
}

// RawStreams are the raw streams the given products read, each once, sorted: what
// their maintenance looks after besides their tables.
func RawStreams(entries []mesh.Entry) []lake.StreamRef {
	var out []lake.StreamRef
	for _, e := range entries {
		for _, in := range e.Product.Inputs {
			if !in.IsRaw() {
				continue
			}
			ref := lake.StreamRef{Domain: e.Domain.Name, Source: in.Source, Stream: in.Stream}
			if !slices.Contains(out, ref) {
				out = append(out, ref)
			}
		}
	}
	slices.SortFunc(out, func(a, b lake.StreamRef) int {
		switch {
		case a.String() < b.String():
			return -1
		case a.String() > b.String():
			return 1
		}
		return 0
	})
	return out
}

// RawKeep names the landings of stream s a product still needs: those the snapshot
// at the head of main or a branch of any major of a product reading s recorded
// reading (an incremental product's state, PropIncremental). Superseded, they stay
// until that product publishes again.
func RawKeep(ctx context.Context, m mesh.Mesh, ports *port.Catalog, s lake.StreamRef) (map[int]string, error) {
	keep := map[int]string{}
	d, ok := m.Domain(s.Domain)
	if !ok {
		return keep, nil
	}
	name := s.Source + "." + s.Stream
	for _, p := range d.Products {
		if !slices.Contains(p.Inputs, mesh.Raw(s.Source, s.Stream)) && !slices.Contains(p.Inputs, mesh.RawSamePartition(s.Source, s.Stream)) {
			continue
		}
		for _, v := range p.Majors() {
			id := port.TableID{Domain: d.Name, Name: v.PortName()}
			heads, err := ports.Heads(ctx, id)
			if err != nil {
				return nil, err
			}
			for branch, snap := range heads {
				var st IncrementalState
				if json.Unmarshal([]byte(snap.Properties[PropIncremental]), &st) != nil {
					continue
				}
				read, ok := parseSeqs(st.Raw[name])
				if !ok {
					continue
				}
				for seq := range read {
					if keep[seq] == "" {
						keep[seq] = fmt.Sprintf("%s's snapshot %d recorded reading it (kept until it publishes again)", branchTable(id, branch), snap.ID)
					}
				}
			}
		}
	}
	return keep, nil
}

// CompactRawStream supersedes the stream's small landings (see lake.CompactStream).
func (a *Activities) CompactRawStream(ctx context.Context, in StreamStep) (lake.StreamCompacted, error) {
	defer keepAlive(ctx, heartbeatEvery).stop()
	res, err := a.Lake.CompactStream(ctx, in.ref(), lake.CompactOptions{RunID: "maintain-" + in.RunID})
	return res, toTemporal(ctx, err)
}

// ExpireRawStream deletes the stream's superseded landings past the retention that
// no product's last publish needs (see lake.ExpireSuperseded, RawKeep).
func (a *Activities) ExpireRawStream(ctx context.Context, in StreamStep) (lake.RawExpired, error) {
	defer keepAlive(ctx, heartbeatEvery).stop()
	keep, err := RawKeep(ctx, a.Mesh, a.Ports, in.ref())
	if err != nil {
		return lake.RawExpired{}, toTemporal(ctx, err)
	}
	res, err := a.Lake.ExpireSuperseded(ctx, in.ref(), lake.ExpireRequest{Keep: keep, Now: in.Now})
	return res, toTemporal(ctx, err)
}
