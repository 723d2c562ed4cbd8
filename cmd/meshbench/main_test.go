package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

// TestMain lets this test binary stand in for meshbench when a measurement re-executes
// it as a child process.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == childCmd {
		os.Exit(childMain(os.Args[2:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestSmoke runs every benchmark at tiny sizes and checks the table has every row with
// positive figures. It asserts nothing about speed: the figures are make bench's to
// report. The orchestration rows need the dev server, so -short leaves them out; the
// postgres section has a test of its own (TestPostgresSmoke).
func TestSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	days := "3"
	if testing.Short() {
		days = "0"
	}
	var out, log bytes.Buffer
	args := []string{"--rows", "2000", "--repeat", "2", "--memory-rows", "2000,4000", "--hubspot-contacts", "600", "--hubspot-bulk", "300", "--orchestration-days", days,
		"--products", "20", "--requests", "5", "--incremental-history", "2000", "--incremental-changes", "200",
		"--only", "landing,memory,catalog,incremental,orchestration", "--workdir", t.TempDir(), "--json"}
	if err := run(ctx, args, &out, &log); err != nil {
		t.Fatalf("meshbench %s: %v\n%s", strings.Join(args, " "), err, log.String())
	}
	var rows []Row
	if err := json.Unmarshal(out.Bytes(), &rows); err != nil {
		t.Fatalf("output is not the rows as JSON: %v\n%s", err, out.String())
	}
	want := []string{}
	for i, d := range decoders {
		if i == 0 {
			want = append(want, "decode floor: "+d.name+" (today's decoder)")
		} else {
			want = append(want, "decode floor: "+d.name)
		}
	}
	want = append(want,
		"landing: lake.Land → Parquet (ours)",
		"landing: DuckDB read_json → COPY parquet (default threads)",
		"memory: baseline (a child that does nothing)", "memory: lake.Land peak RSS", "memory: lake.Land peak RSS",
		"memory: HubSpot full refresh, no shared timestamp", "memory: HubSpot full refresh, bulk update on one timestamp",
		"catalog: product page", "catalog: search API", "catalog: home page (every product, status index)", "catalog: home page (every product, read live: the peer)",
		"incremental: first run", "incremental: first run over the history (everything)", "incremental: changed rows merged into the history",
	)
	if !testing.Short() {
		want = append(want,
			"orchestration: backfill wall time (marketing.web_traffic alone)",
			"orchestration: activity time",
			"orchestration: activity time per day, first and last tenth",
			"orchestration: Temporal overhead per day",
		)
	}
	checkRows(t, rows, want)
	for _, r := range rows[len(decoders) : len(decoders)+2] {
		if r.Goal == none {
			t.Errorf("landing row %q carries no ratio against its goal", r.Benchmark)
		}
	}

	var table bytes.Buffer
	printTable(&table, rows)
	lines := strings.Split(strings.TrimSpace(table.String()), "\n")
	if len(lines) != len(rows)+1 || !strings.HasPrefix(lines[0], "BENCHMARK") {
		t.Fatalf("table:\n%s\nwant a header and %d rows", table.String(), len(rows))
	}
	t.Logf("smoke table (tiny sizes, not figures):\n%s", table.String())
}

func TestUnionCountsOverlapOnce(t *testing.T) {
	at := func(s int) time.Time { return time.Unix(int64(s), 0) }
	spans := [][2]time.Time{{at(10), at(12)}, {at(0), at(4)}, {at(2), at(6)}, {at(11), at(13)}, {at(20), at(20)}}
	if got := union(spans); got != 9*time.Second {
		t.Fatalf("union = %v, want 9s ([0,6] and [10,13])", got)
	}
	if got := union(nil); got != 0 {
		t.Fatalf("union(nil) = %v", got)
	}
}

func TestPercentileIsNearestRank(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	if p50, p99 := percentile(ds, 50), percentile(ds, 99); p50 != 50*time.Millisecond || p99 != 99*time.Millisecond {
		t.Fatalf("p50 %v p99 %v, want 50ms 99ms", p50, p99)
	}
	if got := percentile(ds[:1], 99); got != 100*time.Millisecond {
		t.Fatalf("p99 of one = %v", got)
	}
}

func TestCountAndNum(t *testing.T) {
	for n, want := range map[int]string{1_000_000: "1M", 10_000_000: "10M", 2000: "2k", 1500: "1.5k", 365: "365", 1_234_567: "1234567"} {
		if got := count(n); got != want {
			t.Errorf("count(%d) = %q, want %q", n, got, want)
		}
	}
	if got := num(123456.7); got != "123,457" {
		t.Errorf("num(123456.7) = %q", got)
	}
}

// TestPostgresSmoke runs the postgres section tiny — 2k rows, 2 s of changes — against
// a throwaway cluster: COPY, the snapshot landing and the CDC lag rows all there with
// positive figures (the lag job itself fails unless every change written landed).
func TestPostgresSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL server (dev/pgcluster)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, log bytes.Buffer
	args := []string{"--only", "postgres", "--pg-rows", "2000", "--pg-seconds", "2s", "--workdir", t.TempDir(), "--json"}
	if err := run(ctx, args, &out, &log); err != nil {
		t.Fatalf("meshbench %s: %v\n%s", strings.Join(args, " "), err, log.String())
	}
	if strings.Contains(log.String(), "postgres: skipped") {
		t.Skip(log.String())
	}
	var rows []Row
	if err := json.Unmarshal(out.Bytes(), &rows); err != nil {
		t.Fatalf("output is not the rows as JSON: %v\n%s", err, out.String())
	}
	checkRows(t, rows, []string{
		"postgres: COPY (SELECT * FROM orders) TO STDOUT (floor)",
		"postgres: CDC snapshot → lake.Land (ours)",
		"postgres: CDC lag, commit → landed",
	})
	if !strings.HasSuffix(rows[1].Goal, " COPY") {
		t.Errorf("the snapshot row carries no ratio to COPY: goal %q", rows[1].Goal)
	}
	t.Logf("postgres rows (tiny sizes, not figures):\n%s", log.String())
}

// checkRows checks the rows are want, in order, each complete with positive figures
// and a result exactly when it has a goal.
func checkRows(t *testing.T, rows []Row, want []string) {
	t.Helper()
	var got []string
	for _, r := range rows {
		got = append(got, r.Benchmark)
		if len(r.Values) == 0 || r.Figures == "" || r.Unit == "" || r.Size == "" {
			t.Errorf("row %q is incomplete: %+v", r.Benchmark, r)
		}
		for i, v := range r.Values {
			if !(v > 0) {
				t.Errorf("row %q figure %d is %v, want a positive measurement", r.Benchmark, i, v)
			}
		}
		if strings.ContainsAny(r.Goal, "≥≤") != (r.Result == "pass" || r.Result == "miss") {
			t.Errorf("row %q has goal %q but result %q", r.Benchmark, r.Goal, r.Result)
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("rows:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}
