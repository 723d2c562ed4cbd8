// Package catalog is the read side of the mesh: it joins the products' declarations
// with what their ports and run records say now (version, rows, snapshots, quality,
// freshness, sample rows), for the CLI and, later, the web catalog.
package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/meshflow/meshflow/framework/access"
	"github.com/meshflow/meshflow/framework/alert"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
	"github.com/meshflow/meshflow/framework/quality"
	"github.com/meshflow/meshflow/framework/query"
)

// Catalog reads product state.
type Catalog struct {
	Mesh  mesh.Mesh
	Ports *port.Catalog
	Lake  *lake.Lake
	Now   func() time.Time // default time.Now

	// Access says who may read restricted products; nil = nobody may. The caller is
	// the one in the context (access.NewContext), anonymous without one.
	Access *access.Policy
	// Audit records every read of a restricted product, allowed or refused; without
	// it restricted products are not shown.
	Audit access.Auditor

	// PublicURL is where browsers reach the catalog, e.g. https://catalog.example.com
	// behind a TLS proxy: with https the sign-in cookie is sent only over TLS.
	PublicURL string
	// SessionTTL is how long a sign-in lasts; default access.DefaultSessionTTL.
	SessionTTL time.Duration

	// TemporalUI is the Temporal UI (MESHFLOW_TEMPORAL_UI_URL) and Namespace the
	// namespace (default "default"), for links to workflows; "" = no links.
	TemporalUI, Namespace string

	// Index, when set (StartIndex: mesh serve), holds every product's status for the
	// listings; nil reads each product live.
	Index *StatusIndex
}

// Status is one product's current state, as `mesh products` lists it.
type Status struct {
	Name           string     `json:"name"`
	Domain         string     `json:"domain"`
	Owner          string     `json:"owner"`
	Description    string     `json:"description"`
	Version        string     `json:"version"`
	Table          string     `json:"table"`
	Classification string     `json:"classification"`
	Cadence        string     `json:"cadence"`
	Trigger        string     `json:"trigger"` // what starts its runs, in words (mesh.Product.TriggerText)
	Rows           int64      `json:"rows"`
	Snapshot       int64      `json:"snapshot"`
	PublishedAt    *time.Time `json:"published_at"`
	Quality        Quality    `json:"quality"`
	Freshness      Freshness  `json:"freshness"`
	LastRun        *LastRun   `json:"last_run,omitempty"`
	// Problem says, in one sentence, that the newest run failed or was blocked: when,
	// why, and which snapshot is still the one served. Empty while runs succeed.
	Problem string `json:"problem,omitempty"`
	// Legacy lists the product's earlier major versions, still published until their
	// sunset day so consumers can move to Table.
	Legacy []PortVersion `json:"legacy,omitempty"`
	// OpenAlerts counts the product's open alerts (listings; the product's page lists them).
	OpenAlerts int `json:"open_alerts"`
}

// Quality is the summary of the newest checks: those of the current snapshot, or of a
// newer run that a failing check blocked.
type Quality struct {
	Status mesh.Status `json:"status"`
	Passed int         `json:"passed"`
	Warned int         `json:"warned"`
	Failed int         `json:"failed"`
}

// Freshness compares the last publish (and the data it holds) with the SLO.
type Freshness struct {
	Status      mesh.Status `json:"status"`
	PublishedAt *time.Time  `json:"published_at"`
	DataTime    *time.Time  `json:"data_time"` // the data watermark: newest value of the freshness column
	// CheckedAt is set when a run newer than the snapshot computed the same rows and so
	// published nothing new: the data is unchanged since the snapshot (Status.PublishedAt)
	// and known current at CheckedAt, which PublishedAt then is.
	CheckedAt *time.Time `json:"checked_at,omitempty"`
	Age       string     `json:"age,omitempty"`
	WarnAfter string     `json:"warn_after"`
	FailAfter string     `json:"fail_after"`
	// Reason says why the state is worse than the product's own publish time implies:
	// an input it reads is late or stale.
	Reason string           `json:"reason,omitempty"`
	Inputs []InputFreshness `json:"inputs,omitempty"` // inputs that are not fresh
}

// LastRun is the newest run record, which may be newer than the current snapshot
// when a run was blocked by a check or failed.
type LastRun struct {
	Status     string    `json:"status"` // published, unchanged, blocked, failed or waiting (flow.Status*)
	Error      string    `json:"error,omitempty"`
	FinishedAt time.Time `json:"finished_at"`
	WorkflowID string    `json:"workflow_id"`
	Partition  string    `json:"partition,omitempty"`
	// FailedChecks are the run's checks that failed or warned, with their offending rows.
	FailedChecks []quality.Result `json:"failed_checks,omitempty"`
	// Warnings are what the run warned of though it published (an input read at an
	// older snapshot, a dropped file refused for its header, a column new in a table).
	Warnings []string `json:"warnings,omitempty"`
	// Trigger says why the run started: manual, schedule …, inputs: <which snapshots>, backfill <id>.
	Trigger string `json:"trigger,omitempty"`
	// Incremental says what an incremental product's run computed: merged N keys, or
	// everything and why (flow.RunRecord.Incremental).
	Incremental string `json:"incremental,omitempty"`
}

// Failed reports whether the run published nothing because it failed, a check blocked
// it, or it is waiting for an input whose run failed.
func (r *LastRun) Failed() bool {
	return r != nil && (r.Status == flow.StatusFailed || r.Status == flow.StatusBlocked || r.Status == flow.StatusWaiting)
}

func (c *Catalog) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// List returns the status of every product, as the caller in ctx (access.NewContext)
// may see it: a restricted product's failure reasons and data time only to a caller
// allowed to read it.
func (c *Catalog) List(ctx context.Context) ([]Status, error) {
	var out []Status
	for _, e := range c.Mesh.Products() {
		st, _, err := c.status(ctx, e.Domain, e.Product)
		if err != nil {
			return nil, err
		}
		c.listed(ctx, e.Domain, e.Product, &st)
		out = append(out, st)
	}
	return out, nil
}

// status reads a product's whole status, data times and run errors of restricted
// products included: whatever returns it to a caller redacts it for that caller first
// (List and Search through listed, Show through reveal).
func (c *Catalog) status(ctx context.Context, d mesh.Domain, p mesh.Product) (Status, *port.Snapshot, error) {
	id := port.TableID{Domain: d.Name, Name: p.PortName()}
	st := Status{
		Name: p.Name, Domain: d.Name, Owner: p.EffectiveOwner(d), Description: p.Summary(), Version: p.Version,
		Table: id.String(), Classification: string(p.Classification), Cadence: p.Cadence, Trigger: p.TriggerText(),
		Quality:   Quality{Status: mesh.StatusUnknown},
		Freshness: Freshness{Status: mesh.StatusUnknown, WarnAfter: humanDuration(p.Freshness.WarnAfter), FailAfter: humanDuration(p.Freshness.FailAfter)},
	}
	snap, ok, err := c.Ports.Current(ctx, id)
	if err != nil {
		return st, nil, err
	}
	if len(p.Legacy) > 0 {
		if st.Legacy, err = c.legacyVersions(ctx, d, p); err != nil {
			return st, nil, err
		}
	}
	var current *port.Snapshot
	if ok {
		current = &snap
	}
	last, checked, err := c.lastRuns(ctx, d.Name, p.Name, current)
	if err != nil {
		return st, nil, err
	}
	if last != nil {
		st.LastRun = &LastRun{Status: last.Status, Error: last.Error, FinishedAt: last.FinishedAt, WorkflowID: last.WorkflowID, Partition: last.Partition, Warnings: last.Warnings,
			Trigger: last.Trigger, Incremental: last.Incremental}
		for _, r := range last.Checks {
			if r.Status != mesh.StatusPass {
				st.LastRun.FailedChecks = append(st.LastRun.FailedChecks, r)
			}
		}
	}
	if !ok {
		st.Problem = problem(st)
		return st, nil, c.followInputs(ctx, p, &st.Freshness)
	}
	st.Rows, st.Snapshot = snap.Rows, snap.ID
	if v := snap.Properties[flow.PropVersion]; v != "" {
		st.Version = v
	}
	if t, err := time.Parse(time.RFC3339, snap.Properties[flow.PropPublishedAt]); err == nil {
		st.PublishedAt = &t
	} else {
		t := snap.Timestamp
		st.PublishedAt = &t
	}
	results := snapshotChecks(snap)
	if st.LastRun.Failed() && len(last.Checks) > 0 {
		results = last.Checks // a blocked run's checks are newer than the snapshot's
	}
	st.Quality.Status = quality.Summary(results)
	for _, r := range results {
		switch r.Status {
		case mesh.StatusPass:
			st.Quality.Passed++
		case mesh.StatusWarn:
			st.Quality.Warned++
		default:
			st.Quality.Failed++
		}
	}
	now := c.now()
	st.Freshness.PublishedAt = st.PublishedAt
	if checked != nil && checked.After(*st.PublishedAt) {
		st.Freshness.PublishedAt, st.Freshness.CheckedAt = checked, checked
	}
	st.Freshness.Status = p.Freshness.At(*st.Freshness.PublishedAt, now)
	st.Freshness.Age = humanDuration(now.Sub(*st.Freshness.PublishedAt))
	if t, err := time.Parse(time.RFC3339, snap.Properties[flow.PropWatermark]); err == nil {
		st.Freshness.DataTime = &t
	}
	st.Problem = problem(st)
	return st, &snap, c.followInputs(ctx, p, &st.Freshness)
}

// problem is Status.Problem: the newest run's failure and what is still served.
func problem(st Status) string {
	r := st.LastRun
	if !r.Failed() {
		return ""
	}
	what := "the last run"
	if r.Partition != "" {
		what += " (partition " + r.Partition + ")"
	}
	served := "nothing has been published yet, so there is nothing to read"
	if st.PublishedAt != nil {
		served = fmt.Sprintf("snapshot %d, published %s, is still the one served", st.Snapshot, st.PublishedAt.UTC().Format(timeFormat))
	}
	why := r.Error
	if why == "" {
		why = "no error recorded"
	}
	if r.Status == flow.StatusWaiting {
		return fmt.Sprintf("waiting since %s: %s; %s", r.FinishedAt.UTC().Format(timeFormat), why, served)
	}
	return fmt.Sprintf("%s %s at %s: %s; %s", what, r.Status, r.FinishedAt.UTC().Format(timeFormat), why, served)
}

// timeFormat is how the catalog's sentences give a time.
const timeFormat = "2006-01-02 15:04 UTC"

// snapshotChecks are the checks recorded with s; the page shows none when they do not parse.
func snapshotChecks(s port.Snapshot) []quality.Result {
	rs, _ := flow.SnapshotChecks(s)
	return rs
}

// runs returns up to n newest run records of a product, newest first.
func (c *Catalog) runs(ctx context.Context, domain, product string, n int) ([]flow.RunRecord, error) {
	var out []flow.RunRecord
	err := c.eachRun(ctx, domain, product, n, func(r flow.RunRecord) bool {
		out = append(out, r)
		return true
	})
	return out, err
}

// eachRun calls fn with up to n newest run records of a product, newest first, until
// fn returns false.
func (c *Catalog) eachRun(ctx context.Context, domain, product string, n int, fn func(flow.RunRecord) bool) error {
	keys, err := c.Lake.List(ctx, path.Join("runs", domain, product)+"/")
	if err != nil {
		return err
	}
	for i := len(keys) - 1; i >= 0 && n > 0; i-- {
		var r flow.RunRecord
		if err := c.Lake.GetJSON(ctx, keys[i], &r); err != nil {
			continue // a corrupt record must not hide the product
		}
		n--
		if !fn(r) {
			break
		}
	}
	return nil
}

// lastRuns returns the newest run record of a product and, when a run since the
// current snapshot found the same rows (flow.StatusUnchanged), when the newest such
// run finished: the data was known current then. It reads back no further than the
// run that published the current snapshot, and at most historyRuns records.
func (c *Catalog) lastRuns(ctx context.Context, domain, product string, current *port.Snapshot) (last *flow.RunRecord, checked *time.Time, err error) {
	err = c.eachRun(ctx, domain, product, historyRuns, func(r flow.RunRecord) bool {
		if last == nil {
			last = &r
		}
		if current == nil || r.Status == flow.StatusPublished {
			return false
		}
		if r.Status == flow.StatusUnchanged && r.SnapshotID == current.ID {
			t := r.FinishedAt
			checked = &t
			return false
		}
		return true
	})
	return last, checked, err
}

// Detail is everything `mesh show` prints about a product.
type Detail struct {
	Status
	// ExampleQuery is a ready-to-run `mesh query` over the port.
	ExampleQuery string        `json:"example_query"`
	Contact      string        `json:"contact"`
	FullDesc     string        `json:"full_description"`
	UseCases     []string      `json:"use_cases"`
	Tags         []string      `json:"tags,omitempty"`
	PrimaryKey   []string      `json:"primary_key"`
	Schema       []mesh.Column `json:"schema"`
	Checks       []CheckState  `json:"checks"`
	// FailingRows are, for each check that failed or warned in the newest run that ran
	// checks, the offending rows that run kept and the SQL that finds them all.
	FailingRows []FailingRows `json:"failing_rows,omitempty"`
	// Alerts are the product's open alerts (package alert), as its alert workflow
	// last wrote them to the lake.
	Alerts []alert.Alert `json:"alerts"`
	Inputs []string      `json:"inputs"`
	// RawInputs are the landed source streams among Inputs, with how each is read.
	RawInputs  []RawInput       `json:"raw_inputs,omitempty"`
	InputsRead map[string]int64 `json:"inputs_read,omitempty"` // port → snapshot id the current snapshot was computed from
	Consumers  []string         `json:"consumers"`
	Snapshots  []port.Snapshot  `json:"snapshots"`
	// Storage is each port table's data files, size and snapshots, and its last
	// maintenance (the current major first, then the legacy ones).
	Storage    []PortStorage    `json:"storage,omitempty"`
	Sample     Sample           `json:"sample"`
	RecentRuns []flow.RunRecord `json:"recent_runs"`
	// AllowedGroups are the groups that may read a restricted product.
	AllowedGroups []string `json:"allowed_groups,omitempty"`
	// Withheld says why the schema, checks, runs, snapshots and rows are absent: the
	// caller may not read this restricted product. Set only with Show's access error.
	Withheld string `json:"withheld,omitempty"`
	// Charts draw the product's history on its page (drawCharts); not in the API.
	Charts *Charts `json:"-"`
	// Usage is who read the port's rows or table in the last 30 days (mesh query, the
	// Iceberg REST catalog), from the audit and usage logs; the product's page only.
	Usage *access.PortUsage `json:"usage,omitempty"`
	// Lineage draws Inputs and Consumers a few hops each way (Catalog.Lineage): set
	// for the product's page.
	Lineage *Graph `json:"lineage,omitempty"`
}

// RawInput is a source stream a product reads, as its newest landing says.
type RawInput struct {
	Name string `json:"name"` // source.stream
	// ReadMode is how the source reads the stream and what that cannot see
	// (source.StreamSpec.ReadMode); "" when it reads as its API pages.
	ReadMode string     `json:"read_mode,omitempty"`
	LandedAt *time.Time `json:"landed_at,omitempty"` // nil: never landed
}

// rawInputs describes the raw streams among ins from their newest landings. A
// stream whose manifests cannot be read is listed without them: the page still
// names the input.
func (c *Catalog) rawInputs(ctx context.Context, domain string, ins []mesh.Input) []RawInput {
	var out []RawInput
	for _, in := range ins {
		if !in.IsRaw() {
			continue
		}
		ri := RawInput{Name: in.String()}
		if c.Lake != nil {
			m, ok, err := c.Lake.LatestManifest(ctx, lake.StreamRef{Domain: domain, Source: in.Source, Stream: in.Stream})
			if err == nil && ok {
				t := m.CommittedAt
				ri.ReadMode, ri.LandedAt = m.ReadMode, &t
			}
		}
		out = append(out, ri)
	}
	return out
}

// CheckState is a declared check and its latest result.
type CheckState struct {
	Name     string          `json:"name"`
	Kind     mesh.CheckKind  `json:"kind"`
	Severity mesh.Severity   `json:"severity"`
	Doc      string          `json:"doc,omitempty"`
	Last     *quality.Result `json:"last,omitempty"`
	// History is the check's outcome in each recent run that checked, newest first
	// ("" where that run did not have the check yet).
	History []mesh.Status `json:"history,omitempty"`
}

// historyRuns is how many recent runs the product page shows, with each check's
// outcome in them.
const historyRuns = 20

// Sample is a few rows of the current snapshot, as text.
type Sample struct {
	Columns []string   `json:"columns"`
	Rows    [][]string `json:"rows"`
	// Masked are the columns of personal data whose values the caller may not see
	// (mesh.Column.Sensitive), each value replaced by Mask.
	Masked []string `json:"masked,omitempty"`
}

// Mask stands for a value of personal data a caller may not see.
const Mask = "•••"

// Show returns a product's detail. name is "domain.product" or an unambiguous product name.
//
// A restricted product is shown only to a caller (see Catalog.Access) in one of its
// AllowedGroups, and the read is audited. For any other caller Show returns an error
// for which access.IsDenied holds together with the part of the detail anyone may see
// (declaration, status, who may read it), without schema, checks, runs, snapshots or rows.
func (c *Catalog) Show(ctx context.Context, name string, sampleRows int) (Detail, error) {
	d, p, err := c.Mesh.Find(name)
	if err != nil {
		return Detail{}, err
	}
	st, snap, err := c.status(ctx, d, p)
	if err != nil {
		return Detail{}, err
	}
	det := Detail{Status: st, Contact: d.Contact, FullDesc: p.Description, UseCases: p.UseCases, Tags: p.Tags}
	for _, in := range p.Inputs {
		det.Inputs = append(det.Inputs, in.String())
	}
	det.RawInputs = c.rawInputs(ctx, d.Name, p.Inputs)
	for _, r := range c.Mesh.Consumers(d.Name, p.Name) {
		det.Consumers = append(det.Consumers, r.String())
	}
	if err := c.reveal(ctx, d, p, sampleRows, &det); err != nil {
		return det, err
	}
	if det.Alerts, err = openAlerts(ctx, c.Lake, d, p); err != nil {
		return Detail{}, err
	}
	det.ExampleQuery = query.Example(d, p)
	runs, _ := c.runs(ctx, d.Name, p.Name, historyRuns)
	det.RecentRuns = runs
	if len(det.RecentRuns) > 5 {
		det.RecentRuns = det.RecentRuns[:5]
	}
	// The latest results come from the newest run that checked anything, which may be
	// a blocked run newer than the current snapshot.
	var latest []quality.Result
	for _, r := range runs {
		if len(r.Checks) > 0 {
			latest = r.Checks
			det.FailingRows = c.failingRows(ctx, d, p, r, snap)
			break
		}
	}
	if latest == nil && snap != nil {
		latest = snapshotChecks(*snap)
	}
	byName := map[string]quality.Result{}
	for _, r := range latest {
		byName[r.Name] = r
	}
	for _, ch := range p.AllChecks() {
		cs := CheckState{Name: ch.Name, Kind: ch.Kind, Severity: ch.Severity, Doc: ch.Doc}
		if r, ok := byName[ch.Name]; ok {
			cs.Last = &r
		}
		for _, run := range runs {
			if len(run.Checks) == 0 {
				continue
			}
			var st mesh.Status
			for _, r := range run.Checks {
				if r.Name == ch.Name {
					st = r.Status
				}
			}
			cs.History = append(cs.History, st)
		}
		det.Checks = append(det.Checks, cs)
	}
	if det.Storage, err = c.storage(ctx, d, p); err != nil {
		return Detail{}, err
	}
	if snap == nil {
		return det, nil
	}
	_ = json.Unmarshal([]byte(snap.Properties[flow.PropInputs]), &det.InputsRead)
	id := port.TableID{Domain: d.Name, Name: p.PortName()}
	snaps, err := c.Ports.Snapshots(ctx, id)
	if err != nil {
		return Detail{}, err
	}
	if len(snaps) > 5 {
		snaps = snaps[:5]
	}
	det.Snapshots = snaps
	if sampleRows > 0 {
		sample, err := c.sample(ctx, id, sampleRows)
		if err != nil {
			return Detail{}, err
		}
		sortByKey(p.PrimaryKey, &sample)
		det.Sample = sample
	}
	if !c.seesPersonalData(ctx) {
		det.Sample.Masked = maskSample(p, &det.Sample)
		for i := range det.FailingRows {
			maskFailingRows(p, &det.FailingRows[i])
		}
	}
	return det, nil
}

func (c *Catalog) sample(ctx context.Context, id port.TableID, n int) (Sample, error) {
	tbl, err := c.Ports.ReadAll(ctx, id, 0, n)
	if err != nil {
		return Sample{}, err
	}
	defer tbl.Release()
	var s Sample
	for _, f := range tbl.Schema().Fields() {
		s.Columns = append(s.Columns, f.Name)
	}
	tr := array.NewTableReader(tbl, int64(n))
	defer tr.Release()
	for tr.Next() && len(s.Rows) < n {
		rec := tr.RecordBatch()
		for r := 0; r < int(rec.NumRows()) && len(s.Rows) < n; r++ {
			row := make([]string, rec.NumCols())
			for c := range row {
				col := rec.Column(c)
				if col.IsNull(r) {
					row[c] = ""
					continue
				}
				row[c] = strings.Trim(col.ValueStr(r), `"`)
			}
			s.Rows = append(s.Rows, row)
		}
	}
	return s, nil
}
