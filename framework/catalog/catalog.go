// Package catalog is the read side of the mesh: it joins the products' declarations
// with what their ports and run records say now (version, rows, snapshots, quality,
// freshness, sample rows), for the CLI and, later, the web catalog.
package catalog

import (
	"context"
	"encoding/json"
	"path"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/meshflow/meshflow/framework/access"
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
	Rows           int64      `json:"rows"`
	Snapshot       int64      `json:"snapshot"`
	PublishedAt    *time.Time `json:"published_at"`
	Quality        Quality    `json:"quality"`
	Freshness      Freshness  `json:"freshness"`
	LastRun        *LastRun   `json:"last_run,omitempty"`
	// Legacy lists the product's earlier major versions, still published until their
	// sunset day so consumers can move to Table.
	Legacy []PortVersion `json:"legacy,omitempty"`
}

// Quality is the check summary of the current snapshot.
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
	Age         string      `json:"age,omitempty"`
	WarnAfter   string      `json:"warn_after"`
	FailAfter   string      `json:"fail_after"`
	// Reason says why the state is worse than the product's own publish time implies:
	// an input it reads is late or stale.
	Reason string           `json:"reason,omitempty"`
	Inputs []InputFreshness `json:"inputs,omitempty"` // inputs that are not fresh
}

// LastRun is the newest run record, which may be newer than the current snapshot
// when a run was blocked by a check or failed.
type LastRun struct {
	Status     string    `json:"status"`
	Error      string    `json:"error,omitempty"`
	FinishedAt time.Time `json:"finished_at"`
	WorkflowID string    `json:"workflow_id"`
}

func (c *Catalog) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// List returns the status of every product.
func (c *Catalog) List(ctx context.Context) ([]Status, error) {
	var out []Status
	for _, e := range c.Mesh.Products() {
		st, _, err := c.status(ctx, e.Domain, e.Product)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

func (c *Catalog) status(ctx context.Context, d mesh.Domain, p mesh.Product) (Status, *port.Snapshot, error) {
	id := port.TableID{Domain: d.Name, Name: p.PortName()}
	st := Status{
		Name: p.Name, Domain: d.Name, Owner: p.EffectiveOwner(d), Description: p.Summary(), Version: p.Version,
		Table: id.String(), Classification: string(p.Classification), Cadence: p.Cadence,
		Quality:   Quality{Status: mesh.StatusUnknown},
		Freshness: Freshness{Status: mesh.StatusUnknown, WarnAfter: p.Freshness.WarnAfter.String(), FailAfter: p.Freshness.FailAfter.String()},
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
	if runs, err := c.runs(ctx, d.Name, p.Name, 1); err == nil && len(runs) > 0 {
		r := runs[0]
		st.LastRun = &LastRun{Status: r.Status, Error: r.Error, FinishedAt: r.FinishedAt, WorkflowID: r.WorkflowID}
		redact(p, &st)
	}
	if !ok {
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
	st.Freshness.Status = p.Freshness.At(*st.PublishedAt, now)
	st.Freshness.Age = now.Sub(*st.PublishedAt).Round(time.Second).String()
	if t, err := time.Parse(time.RFC3339, snap.Properties[flow.PropWatermark]); err == nil {
		st.Freshness.DataTime = &t
	}
	return st, &snap, c.followInputs(ctx, p, &st.Freshness)
}

func snapshotChecks(s port.Snapshot) []quality.Result {
	var rs []quality.Result
	_ = json.Unmarshal([]byte(s.Properties[flow.PropChecks]), &rs)
	return rs
}

// runs returns up to n newest run records of a product, newest first.
func (c *Catalog) runs(ctx context.Context, domain, product string, n int) ([]flow.RunRecord, error) {
	keys, err := c.Lake.List(ctx, path.Join("runs", domain, product)+"/")
	if err != nil {
		return nil, err
	}
	var out []flow.RunRecord
	for i := len(keys) - 1; i >= 0 && len(out) < n; i-- {
		var r flow.RunRecord
		if err := c.Lake.GetJSON(ctx, keys[i], &r); err != nil {
			continue // a corrupt record must not hide the product
		}
		out = append(out, r)
	}
	return out, nil
}

// Detail is everything `mesh show` prints about a product.
type Detail struct {
	Status
	// ExampleQuery is a ready-to-run `mesh query` over the port.
	ExampleQuery string           `json:"example_query"`
	Contact      string           `json:"contact"`
	FullDesc     string           `json:"full_description"`
	UseCases     []string         `json:"use_cases"`
	Tags         []string         `json:"tags,omitempty"`
	PrimaryKey   []string         `json:"primary_key"`
	Schema       []mesh.Column    `json:"schema"`
	Checks       []CheckState     `json:"checks"`
	Inputs       []string         `json:"inputs"`
	InputsRead   map[string]int64 `json:"inputs_read,omitempty"` // port → snapshot id the current snapshot was computed from
	Consumers    []string         `json:"consumers"`
	Snapshots    []port.Snapshot  `json:"snapshots"`
	Sample       Sample           `json:"sample"`
	RecentRuns   []flow.RunRecord `json:"recent_runs"`
	// AllowedGroups are the groups that may read a restricted product.
	AllowedGroups []string `json:"allowed_groups,omitempty"`
	// Withheld says why the schema, checks, runs, snapshots and rows are absent: the
	// caller may not read this restricted product. Set only with Show's access error.
	Withheld string `json:"withheld,omitempty"`
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
}

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
	det := Detail{Status: st, Contact: d.Contact, FullDesc: p.Description, UseCases: p.UseCases, Tags: p.Tags,
		ExampleQuery: query.Example(d, p)}
	for _, in := range p.Inputs {
		det.Inputs = append(det.Inputs, in.String())
	}
	for _, r := range c.Mesh.Consumers(d.Name, p.Name) {
		det.Consumers = append(det.Consumers, r.String())
	}
	if err := c.reveal(ctx, d, p, sampleRows, &det); err != nil {
		return det, err
	}
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
		det.Sample = sample
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
