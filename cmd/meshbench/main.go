// Command meshbench measures Meshflow and prints one table (issue #8): landing
// throughput against the JSON decode floor and DuckDB, peak memory as the stream
// grows, Temporal's overhead per backfill partition on the dev server, and catalog
// latency with 1,000 products, and the PostgreSQL source's snapshot against COPY and
// its change-data-capture lag under a steady change load.
//
// Figures are reported, not asserted: `make bench` runs this command, and its smoke
// test runs every benchmark at tiny sizes so it cannot rot. Each measurement that
// reports a peak RSS runs in a child process of its own (this binary re-executed with
// a hidden subcommand), so one measurement's memory never shows up in another's.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	_ "gocloud.dev/blob/fileblob"

	"github.com/meshflow/meshflow/framework/errs"
)

const usage = `meshbench — Meshflow's benchmarks, printed as one table

Usage:
  meshbench [flags]

Flags:
  --rows N                 landing rows: decode floor, lake.Land and DuckDB on the same file [1000000]
  --repeat N               landing rounds (floor, ours, DuckDB in turn); each figure is its best round [1]
  --memory-rows N,N        landing sizes whose peak RSS is compared [1000000,3000000]
  --full                   the memory rows at 1M and 10M, the postgres table at 1M rows and 20 s of changes (about 12 minutes more)
  --hubspot-contacts N     HubSpot contacts of the full refresh measured with and without a bulk update [25000]
  --hubspot-bulk N         of them, how many a bulk update left on one lastmodifieddate [12000]
  --orchestration-days N   days of the marketing.web_traffic backfill on the dev server; 0 skips it [365]
  --concurrency N          backfill days at once [2: one per core]
  --products N             generated products in the catalog [1000]
  --requests N             requests to product pages, the search API and the indexed home page; the home page read live gets a fifth [300]
  --duckdb-threads N       DuckDB's threads; 0 = its default (every core) [0]
  --pg-rows N              rows of the PostgreSQL table: COPY and the CDC snapshot [200000; --full 1000000]
  --pg-rate N              changes a second (inserts, updates, deletes) while landings follow each other [1000]
  --pg-seconds D           how long the changes go on, e.g. 10s [10s; --full 20s]
  --incremental-history N  rows of history of the incremental product measured [10000000]
  --incremental-changes N  of them, how many change before its measured run; also its first run's rows [10000]
  --only LIST              comma-separated: landing, memory, orchestration, catalog, postgres, incremental [all]
  --workdir DIR            scratch space (needs ~0.5 GB per million rows) [a temporary directory, removed after]
  --json                   print the rows as JSON instead of a table
`

// childCmd is the hidden subcommand a measurement runs under in its own process.
const childCmd = "_measure"

func main() {
	if len(os.Args) > 1 && os.Args[1] == childCmd {
		os.Exit(childMain(os.Args[2:], os.Stdout, os.Stderr))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

type options struct {
	rows          int
	repeat        int
	memoryRows    []int
	bulkContacts  int // HubSpot contacts of the bulk-update memory rows
	bulkShared    int // of them, how many share one lastmodifieddate
	days          int
	concurrency   int
	products      int
	requests      int
	duckdbThreads int
	pgRows        int           // rows of the postgres section's table
	pgRate        float64       // its changes a second during the CDC lag measurement
	pgSeconds     time.Duration // how long they go on
	incHistory    int           // rows of history of the incremental product
	incChanges    int           // rows changed before its measured run
	only          map[string]bool
	workdir       string
	json          bool
}

func parse(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("meshbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	var o options
	var memRows, only string
	var full bool
	fs.IntVar(&o.rows, "rows", 1_000_000, "")
	fs.IntVar(&o.repeat, "repeat", 1, "")
	fs.StringVar(&memRows, "memory-rows", "1000000,3000000", "")
	fs.BoolVar(&full, "full", false, "")
	fs.IntVar(&o.bulkContacts, "hubspot-contacts", 25_000, "")
	fs.IntVar(&o.bulkShared, "hubspot-bulk", 12_000, "")
	fs.IntVar(&o.days, "orchestration-days", 365, "")
	fs.IntVar(&o.concurrency, "concurrency", 2, "")
	fs.IntVar(&o.products, "products", 1000, "")
	fs.IntVar(&o.requests, "requests", 300, "")
	fs.IntVar(&o.duckdbThreads, "duckdb-threads", 0, "")
	fs.IntVar(&o.pgRows, "pg-rows", 200_000, "")
	fs.Float64Var(&o.pgRate, "pg-rate", 1000, "")
	fs.DurationVar(&o.pgSeconds, "pg-seconds", 10*time.Second, "")
	fs.IntVar(&o.incHistory, "incremental-history", 10_000_000, "")
	fs.IntVar(&o.incChanges, "incremental-changes", 10_000, "")
	fs.StringVar(&only, "only", "", "")
	fs.StringVar(&o.workdir, "workdir", "", "")
	fs.BoolVar(&o.json, "json", false, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, errs.E(errs.Invalid, "meshbench", err)
	}
	const op = "meshbench"
	if fs.NArg() > 0 {
		return o, errs.Errorf(errs.Invalid, op, "unexpected arguments %q (see --help)", fs.Args())
	}
	if full {
		memRows = "1000000,10000000"
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["pg-rows"] {
			o.pgRows = 1_000_000
		}
		if !set["pg-seconds"] {
			o.pgSeconds = 20 * time.Second
		}
	}
	for _, s := range strings.Split(memRows, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			return o, errs.Errorf(errs.Invalid, op, "--memory-rows %q: want positive row counts separated by commas, e.g. 1000000,3000000", memRows)
		}
		o.memoryRows = append(o.memoryRows, n)
	}
	switch {
	case o.rows <= 0:
		return o, errs.Errorf(errs.Invalid, op, "--rows %d: want a positive row count", o.rows)
	case o.repeat <= 0:
		return o, errs.Errorf(errs.Invalid, op, "--repeat %d: want at least 1 round", o.repeat)
	case o.bulkContacts <= 0 || o.bulkShared <= 0 || o.bulkShared > o.bulkContacts:
		return o, errs.Errorf(errs.Invalid, op, "--hubspot-contacts %d --hubspot-bulk %d: want positive counts, the bulk update at most every contact", o.bulkContacts, o.bulkShared)
	case o.days < 0:
		return o, errs.Errorf(errs.Invalid, op, "--orchestration-days %d: want 0 (skip) or more", o.days)
	case o.concurrency <= 0:
		return o, errs.Errorf(errs.Invalid, op, "--concurrency %d: want at least 1", o.concurrency)
	case o.products <= 0 || o.requests <= 0:
		return o, errs.Errorf(errs.Invalid, op, "--products and --requests want positive counts")
	case o.incChanges <= 0 || o.incHistory < o.incChanges:
		return o, errs.Errorf(errs.Invalid, op, "--incremental-history %d --incremental-changes %d: want positive counts, the changes at most the history", o.incHistory, o.incChanges)
	case o.pgRows <= 0 || !(o.pgRate > 0) || o.pgSeconds <= 0:
		return o, errs.Errorf(errs.Invalid, op, "--pg-rows %d --pg-rate %v --pg-seconds %s: want a positive row count, rate and duration (e.g. 10s)", o.pgRows, o.pgRate, o.pgSeconds)
	}
	o.only = map[string]bool{}
	for _, s := range strings.Split(only, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if !benchmarks[s] {
			return o, errs.Errorf(errs.Invalid, op, "--only %q: want some of landing, memory, orchestration, catalog, postgres, incremental", s)
		}
		o.only[s] = true
	}
	return o, nil
}

var benchmarks = map[string]bool{"landing": true, "memory": true, "orchestration": true, "catalog": true, "postgres": true, "incremental": true}

func (o options) runs(name string) bool { return len(o.only) == 0 || o.only[name] }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) }
	dir := o.workdir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "meshbench-"); err != nil {
			return errs.E(errs.Internal, "meshbench", err)
		}
		defer os.RemoveAll(dir)
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return errs.Errorf(errs.Invalid, "meshbench", "--workdir: %v", err)
	}

	loadStart := loadAverage()
	var rows []Row
	if o.runs("landing") {
		r, err := landingBench(ctx, o, filepath.Join(dir, "landing"), logf)
		if err != nil {
			return err
		}
		rows = append(rows, r...)
	}
	if o.runs("memory") {
		r, err := memoryBench(ctx, o, filepath.Join(dir, "memory"), logf)
		if err != nil {
			return err
		}
		rows = append(rows, r...)
	}
	if o.runs("catalog") {
		r, err := catalogBench(ctx, o, filepath.Join(dir, "catalog"), logf)
		if err != nil {
			return err
		}
		rows = append(rows, r...)
	}
	if o.runs("incremental") {
		r, err := incrementalBench(ctx, o, filepath.Join(dir, "incremental"), logf)
		if err != nil {
			return err
		}
		rows = append(rows, r...)
	}
	var notes []string // sections skipped, and why
	if o.runs("postgres") {
		r, note, err := postgresBench(ctx, o, filepath.Join(dir, "postgres"), logf)
		if err != nil {
			return err
		}
		if note != "" {
			logf("%s", note)
			notes = append(notes, note)
		}
		rows = append(rows, r...)
	}
	if o.runs("orchestration") && o.days > 0 {
		r, err := orchestrationBench(ctx, o, filepath.Join(dir, "orchestration"), logf)
		if err != nil {
			return err
		}
		rows = append(rows, r...)
	}
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	printTable(stdout, rows)
	for _, n := range notes {
		fmt.Fprintln(stdout, n)
	}
	fmt.Fprintln(stdout, machineNote(loadStart, loadAverage()))
	return nil
}

// machineNote says how busy the machine was: the figures are wall-clock rates, and on
// a machine shared with builds they drop with its load.
func machineNote(start, end float64) string {
	note := fmt.Sprintf("machine: %d cores, %s", runtime.NumCPU(), runtime.GOOS+"/"+runtime.GOARCH)
	if start >= 0 && end >= 0 {
		note += fmt.Sprintf("; 1-minute load average %.1f at the start, %.1f at the end (meshbench's own work is 1–2 of it)", start, end)
		if max(start, end) > float64(runtime.NumCPU()+1) {
			note += ": shared with other work, so the rates above are low"
		}
	}
	return note
}

// loadAverage is the 1-minute load average, or -1 where /proc/loadavg does not say.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}

// elapsed formats a duration for progress lines.
func elapsed(start time.Time) string { return time.Since(start).Round(100 * time.Millisecond).String() }
