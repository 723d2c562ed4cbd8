package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"github.com/meshflow/meshflow/framework/catalog"
	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
	"github.com/meshflow/meshflow/workers/host"
)

func (e *env) maintainCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "maintain [product...] [--dry-run] [--json]",
		Short: "compact small files, merge manifests, expire old snapshots and delete orphan files of the ports",
		Long: `Maintain the port tables of the products named (every product without a name): for each
table, one MaintainTable workflow on the domain's task queue (maintain/<domain>.<table>, a
worker must poll it) compacts the small data files of each partition, merges the manifests,
expires the snapshots past the product's Retention (default: older than 30 days and beyond
the last 10 publishes) and deletes the files of the table no metadata references, older
than 3 days. It never expires a snapshot a branch, a consumer's lineage or a maintenance
snapshot still needs, and leaves a legacy major past its sunset as it is. The schedules
(mesh schedules apply) run it every night; this runs it now and waits.

The raw streams the products read are maintained too, one MaintainStream workflow each
(maintain/<domain>.raw.<source>.<stream>): a stream's small landings (under 32 MB, at least
5 of one partition, never the newest: it holds the cursor) are copied into one landing that
supersedes them, which readers read instead, and superseded landings are deleted 7 days
after their compaction unless a product's last publish recorded reading them.

--dry-run prints what it would do per table and stream and changes nothing (no Temporal
needed). Exits 1 when a table's or stream's maintenance failed.`,
		Args:              cobra.ArbitraryArgs,
		ValidArgsFunction: e.completeProducts(-1, false),
	}
	dry := cmd.Flags().Bool("dry-run", false, "print what would be compacted, expired and deleted per table, and change nothing")
	asJSON := cmd.Flags().Bool("json", false, "print JSON")
	cmd.RunE = func(cmd *cobra.Command, args []string) error { return e.maintain(cmd.Context(), args, *dry, *asJSON) }
	return cmd
}

// maintainedTable is one port table maintenance looks after, or leaves as it is.
type maintainedTable struct {
	domain  mesh.Domain
	product mesh.Product // at the table's major
	frozen  bool         // a legacy major past its sunset
}

func (t maintainedTable) id() port.TableID {
	return port.TableID{Domain: t.domain.Name, Name: t.product.PortName()}
}

// maintainedEntries are the named products (every product without names).
func (e *env) maintainedEntries(names []string) ([]mesh.Entry, error) {
	entries := e.mesh.Products()
	if len(names) > 0 {
		entries = entries[:0:0]
		for _, n := range names {
			d, p, err := e.mesh.Find(n)
			if err != nil {
				return nil, err
			}
			entries = append(entries, mesh.Entry{Domain: d, Product: p})
		}
	}
	return entries, nil
}

// maintainedTables are the tables of the named products (every product without names).
func (e *env) maintainedTables(names []string, now time.Time) ([]maintainedTable, error) {
	entries, err := e.maintainedEntries(names)
	if err != nil {
		return nil, err
	}
	var out []maintainedTable
	for _, en := range entries {
		maintained, frozen := flow.MaintainedMajors(en.Product, now)
		for _, v := range maintained {
			out = append(out, maintainedTable{domain: en.Domain, product: v})
		}
		for _, v := range frozen {
			out = append(out, maintainedTable{domain: en.Domain, product: v, frozen: true})
		}
	}
	return out, nil
}

// maintained is what mesh maintain did (or in a dry run would do), as --json prints it.
type maintained struct {
	Tables  []flow.MaintainResult       `json:"tables"`
	Streams []flow.MaintainStreamResult `json:"streams"`
}

func (e *env) maintain(ctx context.Context, names []string, dry, asJSON bool) error {
	now := time.Now()
	tables, err := e.maintainedTables(names, now)
	if err != nil {
		return err
	}
	entries, _ := e.maintainedEntries(names) // resolved above
	streams := flow.RawStreams(entries)
	if dry {
		return e.maintainDryRun(ctx, tables, streams, now, asJSON)
	}
	c, err := e.dialTemporal()
	if err != nil {
		return err
	}
	defer c.Close()
	type started struct {
		table  maintainedTable
		stream *lake.StreamRef
		run    client.WorkflowRun
	}
	var runs []started
	var results []flow.MaintainResult
	var streamResults []flow.MaintainStreamResult
	var failed []string
	for _, t := range tables {
		if t.frozen {
			results = append(results, frozenResult(t))
			continue
		}
		run, err := flow.StartMaintain(ctx, c, t.domain, t.product, flow.MaintainInput{})
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", t.id(), err))
			continue
		}
		if !asJSON {
			fmt.Fprintf(e.stdout, "started %s (run %s) on task queue %s\n", run.GetID(), run.GetRunID(), t.domain.TaskQueue())
		}
		runs = append(runs, started{table: t, run: run})
	}
	for _, s := range streams {
		d, _ := e.mesh.Domain(s.Domain)
		run, err := flow.StartMaintainStream(ctx, c, d, s, "")
		if err != nil {
			failed = append(failed, fmt.Sprintf("raw %s: %v", s, err))
			continue
		}
		if !asJSON {
			fmt.Fprintf(e.stdout, "started %s (run %s) on task queue %s\n", run.GetID(), run.GetRunID(), d.TaskQueue())
		}
		runs = append(runs, started{table: maintainedTable{domain: d}, stream: &s, run: run})
	}
	warned := map[string]bool{}
	for _, r := range runs {
		if q := r.table.domain.TaskQueue(); !warned[q] && !asJSON {
			warned[q] = true
			e.warnIfNoWorker(ctx, c, r.table.domain)
		}
	}
	for i, r := range runs {
		var res flow.MaintainResult
		var sres flow.MaintainStreamResult
		what := r.table.id().String()
		var err error
		if r.stream != nil {
			what = "raw " + r.stream.String()
			err = r.run.Get(ctx, &sres)
		} else {
			err = r.run.Get(ctx, &res)
		}
		if ctx.Err() != nil {
			var others []string
			for _, o := range runs[i+1:] {
				others = append(others, o.run.GetID())
			}
			var also []string
			if len(others) > 0 {
				also = append(also, "also going on: "+strings.Join(others, ", "))
			}
			return e.interrupted("maintain "+what, r.run, also...)
		}
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s: %s", what, flow.Explain(err)))
			continue
		}
		if r.stream != nil {
			streamResults = append(streamResults, sres)
		} else {
			results = append(results, res)
		}
	}
	if err := e.printMaintained(maintained{Tables: results, Streams: streamResults}, asJSON); err != nil {
		return err
	}
	if len(failed) > 0 {
		return errs.Errorf(errs.Internal, "maintain", "%d of %d tables and raw streams were not maintained:\n  %s", len(failed), len(tables)+len(streams), strings.Join(failed, "\n  "))
	}
	return nil
}

// printMaintained prints what maintenance did to each table and raw stream.
func (e *env) printMaintained(m maintained, asJSON bool) error {
	if asJSON {
		return writeJSON(e.stdout, m)
	}
	for _, res := range m.Tables {
		printMaintenance(e.stdout, res)
	}
	for _, res := range m.Streams {
		printStreamMaintenance(e.stdout, res)
	}
	return nil
}

// frozenResult is the result of a legacy major past its sunset: nothing done.
func frozenResult(t maintainedTable) flow.MaintainResult {
	return flow.MaintainResult{Maintenance: port.Maintenance{Table: t.id().String()}, Domain: t.domain.Name, Product: t.product.Name, Skipped: flow.PastSunset(t.product)}
}

// maintainDryRun plans every table's maintenance against the lake and catalog
// directly, as the workflow would at now, and prints it.
func (e *env) maintainDryRun(ctx context.Context, tables []maintainedTable, streams []lake.StreamRef, now time.Time, asJSON bool) error {
	stores, err := host.OpenStores(ctx, e.cfg)
	if err != nil {
		return err
	}
	defer stores.Close()
	var results []flow.MaintainResult
	for _, t := range tables {
		if t.frozen {
			results = append(results, frozenResult(t))
			continue
		}
		id, req, err := flow.MaintainRequest(ctx, e.mesh, stores.Ports, t.domain, t.product, now)
		if err != nil {
			return err
		}
		req.DryRun = true
		res := flow.MaintainResult{Maintenance: port.Maintenance{Table: id.String(), DryRun: true}, Domain: t.domain.Name, Product: t.product.Name}
		res.Maintenance, err = stores.Ports.Maintain(ctx, id, req)
		switch {
		case errs.Is(err, errs.NotFound):
			res.Maintenance = port.Maintenance{Table: id.String(), DryRun: true}
			res.Skipped = "never published"
		case err != nil:
			return err
		}
		results = append(results, res)
	}
	var streamResults []flow.MaintainStreamResult
	for _, s := range streams {
		res := flow.MaintainStreamResult{Stream: s.String()}
		if res.Compacted, err = stores.Lake.CompactStream(ctx, s, lake.CompactOptions{DryRun: true}); err != nil {
			return err
		}
		keep, err := flow.RawKeep(ctx, e.mesh, stores.Ports, s)
		if err != nil {
			return err
		}
		if res.Expired, err = stores.Lake.ExpireSuperseded(ctx, s, lake.ExpireRequest{Keep: keep, Now: now, DryRun: true}); err != nil {
			return err
		}
		streamResults = append(streamResults, res)
	}
	return e.printMaintained(maintained{Tables: results, Streams: streamResults}, asJSON)
}

// printStreamMaintenance says what a maintenance did to a raw stream, or in a dry run
// would do.
func printStreamMaintenance(w io.Writer, res flow.MaintainStreamResult) {
	c, x := res.Compacted, res.Expired
	if c.Landings == 0 {
		fmt.Fprintf(w, "raw %s: left as it is: nothing landed yet\n", res.Stream)
		return
	}
	verb := func(done, would string) string {
		if c.DryRun {
			return would
		}
		return done
	}
	fmt.Fprintf(w, "raw %s: %s, %s (%s) read\n", res.Stream, plural(c.Landings, "landing"), plural(c.Files, "file"), catalog.BytesText(c.Bytes))
	if len(c.Groups) == 0 {
		fmt.Fprintf(w, "  compact:   none: no partition has enough small landings besides the newest (it holds the cursor)\n")
	}
	for _, g := range c.Groups {
		part := ""
		if g.Partition != "" {
			part = " of partition " + g.Partition
		}
		fmt.Fprintf(w, "  compact:   %s %s%s (%s, %s, %d rows) with one", verb("superseded", "would supersede"), plural(len(g.Supersedes), "landing"), part,
			plural(g.Files, "file"), catalog.BytesText(g.Bytes), g.Rows)
		if g.Seq > 0 {
			fmt.Fprintf(w, " (landing %d, %s)", g.Seq, catalog.BytesText(g.BytesOut))
		}
		fmt.Fprintln(w)
	}
	for _, why := range c.Skipped {
		fmt.Fprintf(w, "  skipped:   %s\n", why)
	}
	if len(x.Landings) > 0 {
		fmt.Fprintf(w, "  expire:    %s %s superseded over %s ago (%s, %s)\n", verb("deleted", "would delete"), plural(len(x.Landings), "landing"), x.Retention,
			plural(x.Files, "file"), catalog.BytesText(x.Bytes))
	} else {
		fmt.Fprintf(w, "  expire:    none: no landing superseded over %s ago that nothing needs\n", x.Retention)
	}
	if x.Waiting > 0 {
		fmt.Fprintf(w, "  wait:      %s superseded within the last %s (readers may still be reading them)\n", plural(x.Waiting, "landing"), x.Retention)
	}
	for _, k := range x.Kept {
		fmt.Fprintf(w, "  keep:      landing %d, superseded: %s\n", k.Seq, k.Why)
	}
	if x.Orphans > 0 {
		fmt.Fprintf(w, "  orphans:   %s %s no landing committed, older than %s (%s)\n", verb("deleted", "would delete"), plural(x.Orphans, "file"), x.OrphanAge,
			catalog.BytesText(x.OrphanBytes))
	}
}

// printMaintenance says what a maintenance did to a table, or in a dry run would do.
func printMaintenance(w io.Writer, res flow.MaintainResult) {
	if res.Skipped != "" {
		fmt.Fprintf(w, "%s: left as it is: %s\n", res.Table, res.Skipped)
		return
	}
	m := res.Maintenance
	verb := func(done, would string) string {
		if m.DryRun {
			return would
		}
		return done
	}
	stats := func(s port.Stats) string {
		return fmt.Sprintf("%s (%s), %s, %s", plural(s.DataFiles, "data file"), catalog.BytesText(s.DataBytes), plural(s.Manifests, "manifest"), plural(s.Snapshots, "snapshot"))
	}
	fmt.Fprintf(w, "%s: %s", m.Table, stats(m.Before))
	if !m.DryRun {
		fmt.Fprintf(w, " → %s", stats(m.After))
	}
	fmt.Fprintln(w)
	switch c := m.Compacted; {
	case c.Skipped != "":
		fmt.Fprintf(w, "  compact:   none: %s\n", c.Skipped)
	case c.Files == 0:
		fmt.Fprintf(w, "  compact:   none: no partition has enough small files\n")
	default:
		fmt.Fprintf(w, "  compact:   %s %d small files (%s) in %d groups into %s%d (%s)\n", verb("rewrote", "would rewrite"), c.Files, catalog.BytesText(c.Bytes), c.Groups,
			verb("", "about "), c.FilesOut, catalog.BytesText(c.BytesOut))
	}
	if mf := m.Manifests; mf.After < mf.Before {
		fmt.Fprintf(w, "  manifests: %s %d into %s%d\n", verb("merged", "would merge"), mf.Before, verb("", "about "), mf.After)
	} else {
		fmt.Fprintf(w, "  manifests: none to merge (%d)\n", mf.Before)
	}
	if ex := m.Expired; len(ex.Snapshots) > 0 {
		fmt.Fprintf(w, "  expire:    %s %d snapshots, oldest first: %s\n", verb("expired", "would expire"), len(ex.Snapshots), idList(ex.Snapshots, 10))
	} else {
		fmt.Fprintf(w, "  expire:    none: every snapshot is within the retention or needed\n")
	}
	for _, k := range m.Expired.KeptPastRetention {
		fmt.Fprintf(w, "  keep:      snapshot %d, past the retention: %s\n", k.ID, k.Why)
	}
	if m.Expired.Warning != "" {
		fmt.Fprintf(w, "  warning:   %s\n", m.Expired.Warning)
	}
	o := m.Orphans
	n := len(o.Files)
	if !m.DryRun {
		n = o.Deleted
	}
	if n == 0 {
		fmt.Fprintf(w, "  orphans:   none older than %s\n", o.OlderThan)
		return
	}
	fmt.Fprintf(w, "  orphans:   %s %s (%s) older than %s, no metadata references them\n", verb("deleted", "would delete"), plural(n, "file"), catalog.BytesText(o.Bytes), o.OlderThan)
	for _, f := range o.Files[:min(len(o.Files), 10)] {
		fmt.Fprintf(w, "    %s\n", f.Path)
	}
	if n > 10 {
		fmt.Fprintf(w, "    and %d more\n", n-10)
	}
}

// idList prints at most n snapshot ids, then how many more.
func idList(ids []int64, n int) string {
	var parts []string
	for _, id := range ids[:min(len(ids), n)] {
		parts = append(parts, fmt.Sprint(id))
	}
	if len(ids) > n {
		parts = append(parts, fmt.Sprintf("and %d more", len(ids)-n))
	}
	return strings.Join(parts, ", ")
}
