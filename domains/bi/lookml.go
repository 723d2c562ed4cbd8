package bi

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/meshflow/meshflow/framework/contract"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
)

// ExportLookMLWorkflow is the name the bi domain's worker registers ExportLookML
// under, on the task queue meshflow.bi.
const ExportLookMLWorkflow = "ExportLookML"

// ExportPrefix is where the exported views go in the lake's bucket, one file per
// port: exports/looker/<domain>/<product>_v<major>.view.lkml. The company's Looker
// project pulls them from there.
const ExportPrefix = "exports/looker/"

// StartExport starts ExportLookML on the bi domain's task queue for products
// (domain.product), as `temporal workflow start --task-queue meshflow.bi --type
// ExportLookML --input '{"Products":["marketing.crm_deals"]}'` does. An export of
// the same products already running is joined, not started twice.
func StartExport(ctx context.Context, c client.Client, products ...string) (client.WorkflowRun, error) {
	return c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:        "bi.export-lookml/" + strings.Join(products, ","),
		TaskQueue: mesh.Domain{Name: Name}.TaskQueue(),
	}, ExportLookMLWorkflow, ExportInput{Products: products})
}

// ExportInput names the products whose ports to export, as domain.product.
type ExportInput struct {
	Products []string
}

// ExportResult lists the view files written, one per published major of each
// product, in the order asked.
type ExportResult struct {
	Views []ViewFile
}

// ViewFile is one exported LookML view.
type ViewFile struct {
	Product  string // domain.product
	Table    string // the port: domain.product_vN
	Key      string // where it is in the lake's bucket
	Snapshot int64  // the port's snapshot when it was exported
	Version  string // the product version the port was published under
	Fields   int    // dimensions, dimension groups and measures
	Changed  bool   // false when the file already held this view
}

// ViewRequest asks WriteLookMLView for one port.
type ViewRequest struct {
	Domain, Product, Table string
}

// ExportLookML writes each product's ports as LookML views (see LookMLView) into
// the lake's bucket. Like a product run, it decides from what its activities
// recorded, never from the worker's declarations: the framework's ResolvePlan
// activity names the tables each product publishes (current and legacy majors),
// and WriteLookMLView reads each published port's data contract, so a replay — on
// this worker or one running other code — takes the same steps.
func ExportLookML(ctx workflow.Context, in ExportInput) (ExportResult, error) {
	if len(in.Products) == 0 {
		return ExportResult{}, temporal.NewNonRetryableApplicationError("export LookML: name at least one product (domain.product)", "invalid", nil)
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 5, NonRetryableErrorTypes: []string{"invalid", "not found"}},
	})
	var fw *flow.Activities
	var ex *Exporter
	var res ExportResult
	for _, name := range in.Products {
		domain, product, ok := strings.Cut(name, ".")
		if !ok {
			return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf("export LookML: %q is not domain.product", name), "invalid", nil)
		}
		var plan flow.Plan
		if err := workflow.ExecuteActivity(ctx, fw.ResolvePlan, flow.RunInput{Domain: domain, Product: product}).Get(ctx, &plan); err != nil {
			return res, fmt.Errorf("export LookML of %s: %w", name, err)
		}
		futures := make([]workflow.Future, len(plan.Majors))
		for i, m := range plan.Majors {
			futures[i] = workflow.ExecuteActivity(ctx, ex.WriteLookMLView, ViewRequest{Domain: plan.Domain, Product: plan.Product, Table: m.Table})
		}
		for i, f := range futures {
			var v ViewFile
			if err := f.Get(ctx, &v); err != nil {
				return res, fmt.Errorf("export LookML of %s.%s: %w", plan.Domain, plan.Majors[i].Table, err)
			}
			res.Views = append(res.Views, v)
		}
	}
	return res, nil
}

// Exporter holds the bi domain's own activity. It writes into the framework's lake
// and reads its port catalog (flow.Framework), so the files land where the mesh's
// other data does, under the same credentials.
type Exporter struct {
	fw *flow.Activities
}

// register puts the export workflow and its activity on the bi domain's worker.
func register(r mesh.Registry) {
	fw, ok := flow.Framework(r)
	if !ok {
		panic("bi: Register was not given the framework's worker registry")
	}
	r.RegisterWorkflow(ExportLookML)
	r.RegisterActivity(&Exporter{fw: fw})
}

// WriteLookMLView writes the LookML view of one published port from the data
// contract it was published with, unless the file already holds it. A port not
// published yet is an error that names the command that publishes it.
func (e *Exporter) WriteLookMLView(ctx context.Context, in ViewRequest) (ViewFile, error) {
	id := port.TableID{Domain: in.Domain, Name: in.Table}
	out := ViewFile{Product: in.Domain + "." + in.Product, Table: id.String(), Key: path.Join(ExportPrefix, in.Domain, in.Table+".view.lkml")}
	snap, ok, err := e.fw.Ports.Current(ctx, id)
	if err != nil {
		return out, err
	}
	if !ok {
		return out, temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s has no published snapshot to export: publish it first (bin/mesh run %s)", id, out.Product), "not found", nil)
	}
	props, err := e.fw.Ports.TableProperties(ctx, id)
	if err != nil {
		return out, err
	}
	raw := props[flow.PropContract]
	if raw == "" {
		return out, temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s was published without a data contract (before contracts were recorded): run %s once more, then export", id, out.Product), "not found", nil)
	}
	c, err := contract.Parse([]byte(raw))
	if err != nil {
		return out, temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: its recorded data contract does not parse: %v", id, err), "invalid", nil)
	}
	view, fields, err := LookMLView(c)
	if err != nil {
		return out, temporal.NewNonRetryableApplicationError(err.Error(), "invalid", nil)
	}
	out.Snapshot, out.Version, out.Fields = snap.ID, c.Version, fields
	bucket := e.fw.Lake.Bucket
	if old, err := bucket.ReadAll(ctx, out.Key); err == nil && bytes.Equal(old, view) {
		return out, nil
	}
	// The same contract gives the same bytes, so a retried attempt rewrites what an
	// earlier one may have written.
	if err := bucket.WriteAll(ctx, out.Key, view, nil); err != nil {
		return out, err
	}
	out.Changed = true
	return out, nil
}

// timeframes of the dimension groups made from timestamp and date columns.
var (
	timeFrames = []string{"raw", "time", "date", "week", "month", "quarter", "year"}
	dateFrames = []string{"raw", "date", "week", "month", "quarter", "year"}
)

// LookMLView writes the LookML view of a port from its data contract, and counts
// its fields: the view is named after the port and reads its table, so an explore
// built on it carries the port's name into Looker's System Activity (query.view),
// which is how bi.dashboard_sources tells which products feed which dashboards.
// Each column becomes a dimension with its doc as description (the primary key
// marked); a DATE or TIMESTAMP column becomes a dimension group named without its
// _at/_date/_on/_time suffix (unless that name is taken); measures are count and
// a total_<column> sum of each numeric column that is no key, id or number.
func LookMLView(c contract.Contract) ([]byte, int, error) {
	if len(c.Schema) != 1 {
		return nil, 0, fmt.Errorf("contract %s: expected one table, found %d", c.Name, len(c.Schema))
	}
	obj := c.Schema[0]
	table := obj.PhysicalName
	if table == "" {
		table = c.Domain + "." + obj.Name
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Generated by Meshflow's bi domain from the data contract of %s (version %s).\n", table, c.Version)
	b.WriteString("# Do not edit: the next export rewrites it. Name explores on it after the port, so\n")
	b.WriteString("# Looker's System Activity tells which products each dashboard reads.\n\n")
	fmt.Fprintf(&b, "view: %s {\n  sql_table_name: %s ;;\n", obj.Name, table)

	taken := map[string]bool{}
	for _, p := range obj.Properties {
		taken[p.Name] = true
	}
	fields := 0
	var keys []string
	for _, p := range obj.Properties {
		fields++
		b.WriteString("\n")
		switch p.PhysicalType {
		case string(mesh.Timestamp), string(mesh.Date):
			name := groupName(p.Name, taken)
			taken[name] = true
			fmt.Fprintf(&b, "  dimension_group: %s {\n    type: time\n", name)
			frames := timeFrames
			if p.PhysicalType == string(mesh.Date) {
				frames = dateFrames
				b.WriteString("    datatype: date\n    convert_tz: no\n")
			}
			fmt.Fprintf(&b, "    timeframes: [%s]\n", strings.Join(frames, ", "))
		default:
			fmt.Fprintf(&b, "  dimension: %s {\n", p.Name)
			if p.PrimaryKey {
				b.WriteString("    primary_key: yes\n")
				keys = append(keys, p.Name)
			}
			fmt.Fprintf(&b, "    type: %s\n", lookmlType(p.PhysicalType))
		}
		fmt.Fprintf(&b, "    sql: ${TABLE}.%s ;;\n", p.Name)
		if p.Description != "" {
			fmt.Fprintf(&b, "    description: %s\n", quote(p.Description))
		}
		b.WriteString("  }\n")
	}
	b.WriteString("\n  measure: count {\n    type: count\n")
	if len(keys) > 0 {
		fmt.Fprintf(&b, "    drill_fields: [%s]\n", strings.Join(keys, ", "))
	}
	b.WriteString("  }\n")
	fields++
	for _, p := range obj.Properties {
		if !summable(p) || taken["total_"+p.Name] {
			continue
		}
		fields++
		fmt.Fprintf(&b, "\n  measure: total_%s {\n    type: sum\n    sql: ${%s} ;;\n", p.Name, p.Name)
		if p.Description != "" {
			fmt.Fprintf(&b, "    description: %s\n", quote("Sum of: "+p.Description))
		}
		b.WriteString("  }\n")
	}
	b.WriteString("}\n")
	return []byte(b.String()), fields, nil
}

// groupName names a time column's dimension group: without its suffix, unless the
// fields the group makes (name_date, name_week, …) or the name itself collide with
// another column.
func groupName(col string, taken map[string]bool) string {
	for _, suffix := range []string{"_at", "_date", "_on", "_time", "_ts"} {
		name, ok := strings.CutSuffix(col, suffix)
		if !ok || name == "" || (taken[name] && name != col) {
			continue
		}
		clash := slices.ContainsFunc(timeFrames, func(tf string) bool { return taken[name+"_"+tf] && name+"_"+tf != col })
		if !clash {
			return name
		}
	}
	return col
}

func lookmlType(physical string) string {
	switch physical {
	case string(mesh.Int64), string(mesh.Float64):
		return "number"
	case string(mesh.Bool):
		return "yesno"
	}
	return "string"
}

// summable: a numeric column whose sum means something — not a key, an id or a
// number such as a pull request's.
func summable(p contract.Property) bool {
	if p.PhysicalType != string(mesh.Int64) && p.PhysicalType != string(mesh.Float64) {
		return false
	}
	n := p.Name
	return !p.PrimaryKey && n != "number" && !strings.HasSuffix(n, "_id") && !strings.HasSuffix(n, "_number") &&
		!strings.HasSuffix(n, "_year") && !strings.HasSuffix(n, "_rank") && n != "year" && n != "rank"
}

// quote writes a LookML string: double quotes, backslashes and quotes escaped, on
// one line.
func quote(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
