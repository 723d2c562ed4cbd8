// Package flow holds the Temporal building blocks that domains compose: the RunProduct
// workflow (land → transform → check → publish), its activities, the search attributes
// on-call filters by, and the client helpers that start runs with deterministic ids.
//
// Only references cross the activity boundary — bucket keys, counts, snapshot ids —
// never rows.
package flow

import (
	"time"

	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/quality"
)

// Search attributes registered on the Temporal namespace; the UI filters by them.
const (
	AttrDomain    = "MeshDomain"
	AttrProduct   = "MeshProduct"
	AttrPartition = "MeshPartition"
	AttrBackfill  = "MeshBackfill"
	// AttrTrigger says why a run started: manual, schedule, inputs, deadline or backfill
	// (Trigger* values); the run's input and record say which snapshots.
	AttrTrigger = "MeshTrigger"
)

// SearchAttributes lists them with their Temporal type, for `temporal server start-dev --search-attribute`.
var SearchAttributes = map[string]string{AttrDomain: "Keyword", AttrProduct: "Keyword", AttrPartition: "Keyword", AttrBackfill: "Keyword", AttrTrigger: "Keyword"}

// Workflow and query names.
const (
	RunProductWorkflow = "RunProduct"
	ProgressQuery      = "progress"
)

// RunInput asks for one run of one product.
type RunInput struct {
	Domain    string
	Product   string
	Partition string // "" = the whole product (unpartitioned)
	// FullRefresh re-reads every raw input from the beginning instead of from its
	// cursor, and has an incremental product (mesh.Incremental) compute everything.
	FullRefresh bool
	// Plan, when set, is the plan this run follows instead of resolving its own: a
	// backfill's days all run the plan the backfill started with. Callers leave it nil.
	Plan *Plan `json:",omitempty"`
	// Branch, when set, makes the run a preview: it publishes to that Iceberg branch
	// of the port, never to main (port.PublishRequest.Branch), and reads each product
	// input from the same branch when the input has one. "" = main.
	Branch string `json:",omitempty"`
	// TriggerKind and Trigger say why the run started: TriggerKind is a Trigger* value
	// (also the MeshTrigger search attribute), Trigger the whole reason ("inputs:
	// engineering.jira_issues snapshot 12 published"). "" = manual.
	TriggerKind string `json:",omitempty"`
	Trigger     string `json:",omitempty"`
	// CallerRuns are products the caller runs itself after this one (a selection, the
	// demo): this run's end does not trigger them, so they do not run twice.
	CallerRuns []string `json:",omitempty"`
}

// RunResult is what a successful run published.
type RunResult struct {
	Domain, Product, Table string
	SnapshotID             int64
	Rows                   int64            // rows this run published: the whole port, or its partition
	Landed                 map[string]int64 // rows landed per raw input
	Quality                string
	Watermark              time.Time
	PublishedAt            time.Time
	Legacy                 []LegacyRun `json:",omitempty"` // the legacy majors published beside the current one
	// Unchanged: the run computed the same rows as the current snapshot, so it added no
	// snapshot (SnapshotID is the current one) and refreshed the product's freshness.
	Unchanged bool     `json:",omitempty"`
	Warnings  []string `json:",omitempty"` // see TransformOutput.Warnings
	Branch    string   `json:",omitempty"` // see RunInput.Branch
	// Incremental says what an incremental product's run computed: merged N keys, or
	// everything and why (IncrementalRun.Text).
	Incremental string `json:",omitempty"`
}

// LegacyRun is what one run did to a legacy major's table (see mesh.Legacy).
type LegacyRun struct {
	Table      string
	Status     string // published, blocked, failed
	SnapshotID int64  `json:",omitempty"`
	Rows       int64
	Error      string `json:",omitempty"`
}

// Progress is what the progress query returns while a run goes on.
type Progress struct {
	Stage  string           `json:"stage"` // landing, transforming, checking, publishing, waiting for quota, done, failed
	Landed map[string]int64 `json:"landed,omitempty"`
	Rows   int64            `json:"rows,omitempty"`
	Until  time.Time        `json:"until,omitzero"` // when a quota wait ends
	// Waiting names the limit a quota wait is for ("GA4's daily token quota of property
	// 123"), when the source named it.
	Waiting string `json:"waiting,omitempty"`
	Error   string `json:"error,omitempty"`
}

// LandInput lands one raw stream.
type LandInput struct {
	Domain, Source, Stream string
	RunID                  string
	SyncStart              time.Time
	Partition              string
	FullRefresh            bool
	// Resume continues a landing an exhausted quota stopped, after the files it made
	// durable (see lake.Land); nil = from the stream's cursor.
	Resume *lake.Checkpoint `json:",omitempty"`
}

// LandOutput is a committed landing.
type LandOutput struct {
	ManifestKey string
	Rows        int64
	Files       int
	Pages       int
	Retries     int
	// Warnings are what the source reported while landing (lake.Manifest.Warnings):
	// a dropped file refused for its header. The run's result and record carry them.
	Warnings []string `json:",omitempty"`
}

// TransformInput runs a product's model.
type TransformInput struct {
	Domain, Product, RunID string
	Partition              string `json:",omitempty"` // keep only this day's rows of a partitioned product
	Major                  int    `json:",omitempty"` // a legacy major version to compute; 0 = the current
	Decl                   string `json:",omitempty"` // the run's declaration (Plan); "" = the worker's (runs from before plans)
	Branch                 string `json:",omitempty"` // read product inputs from this branch where they have one (RunInput.Branch)
	FullRefresh            bool   `json:",omitempty"` // an incremental product computes everything (RunInput.FullRefresh)
}

// TransformOutput is the staged model.
type TransformOutput struct {
	StagingKey string
	Rows       int64
	Watermark  time.Time
	Inputs     map[string]int64 `json:",omitempty"` // snapshot id of each port read: lineage
	// RowsHash identifies the staged row set (count and an order-independent hash of
	// every row), so a publish of the same rows can be recognised as unchanged.
	RowsHash string `json:",omitempty"`
	// Warnings say what the run read that on-call should know: an input whose latest
	// run failed, so this run read its previous snapshot.
	Warnings []string `json:",omitempty"`
	// Incremental, for an incremental product, is what the model computed: the rows of
	// some keys to merge, or everything.
	Incremental *IncrementalRun `json:",omitempty"`
}

// CheckInput runs a product's checks on the staged model.
type CheckInput struct {
	Domain, Product, StagingKey string
	Now                         time.Time
	Major                       int    `json:",omitempty"` // 0 = the current major
	Decl                        string `json:",omitempty"` // see TransformInput.Decl
	// RunID and Partition say whose offending rows a failing check keeps, and which day
	// of the port its SQL looks at; "" RunID keeps none (a legacy major's checks).
	RunID     string `json:",omitempty"`
	Partition string `json:",omitempty"`
	// Incremental, when it merges, has the checks that look across rows run on what
	// the merge would leave in the port (transform.CheckMerged).
	Incremental *IncrementalRun `json:",omitempty"`
}

// CheckOutput holds the check results.
type CheckOutput struct {
	Results []quality.Result
	Status  string
}

// PublishInput commits the staged model to the port.
type PublishInput struct {
	Domain, Product, RunID, Partition string
	StagingKey                        string
	Results                           []quality.Result
	Watermark                         time.Time
	PublishedAt                       time.Time
	Inputs                            map[string]int64 `json:",omitempty"`
	Major                             int              `json:",omitempty"` // 0 = the current major
	Decl                              string           `json:",omitempty"` // see TransformInput.Decl
	RowsHash                          string           `json:",omitempty"` // see TransformOutput.RowsHash
	Branch                            string           `json:",omitempty"` // publish to this branch, not main (RunInput.Branch)
	// Incremental, when it merges, publishes by key (port.MergeByKey); it records its
	// state either way (PropIncremental).
	Incremental *IncrementalRun `json:",omitempty"`
}

// PublishOutput is the new snapshot.
type PublishOutput struct {
	Table      string
	SnapshotID int64
	Rows       int64
	// Unchanged: the staged rows and declaration equal those of the current snapshot
	// (of the partition), so nothing was committed and SnapshotID is that snapshot.
	Unchanged bool `json:",omitempty"`
	// Warnings say what a publish to a branch previews that main would refuse (a
	// breaking change) or left out (a branch made again from main).
	Warnings []string `json:",omitempty"`
}

// RunRecord is kept in the lake for every finished run, published or not, so the
// catalog can show the latest check results and why a run did not publish.
type RunRecord struct {
	Domain, Product string
	WorkflowID      string
	RunID           string
	Partition       string           `json:",omitempty"`
	Branch          string           `json:",omitempty"` // a preview's branch (RunInput.Branch); kept apart from main's records
	Version         string           `json:",omitempty"` // the product's version the run used
	Status          string           // StatusPublished, StatusUnchanged, StatusBlocked, StatusFailed
	Error           string           `json:",omitempty"`
	Landed          map[string]int64 `json:",omitempty"`
	Rows            int64
	Checks          []quality.Result `json:",omitempty"`
	SnapshotID      int64            `json:",omitempty"`
	Legacy          []LegacyRun      `json:",omitempty"`
	Warnings        []string         `json:",omitempty"` // see TransformOutput.Warnings
	Watermark       time.Time        `json:",omitzero"`
	StartedAt       time.Time
	FinishedAt      time.Time
	Trigger         string `json:",omitempty"` // why it ran (RunInput.Trigger, or its kind)
	Incremental     string `json:",omitempty"` // see RunResult.Incremental
}
