package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/meshflow/meshflow/framework/errs"
)

// job is one measurement run in a child process.
type job struct {
	Kind    string `json:"kind"`              // idle, decode, land, land-hubspot, duckdb, pg-copy, pg-snapshot or pg-cdc
	File    string `json:"file,omitempty"`    // the JSON-lines records
	URL     string `json:"url,omitempty"`     // land-hubspot: the HubSpot API's base URL
	Rows    int    `json:"rows,omitempty"`    // generated records, for a land without a file
	Dir     string `json:"dir,omitempty"`     // land, duckdb: where the Parquet goes
	Threads int    `json:"threads,omitempty"` // duckdb: threads (0 = its default)
	// Postgres is the cluster a pg- job reads (and the change load of pg-cdc).
	Postgres *pgTarget `json:"postgres,omitempty"`
}

// result is what a child measured; the parent adds the child's peak RSS.
type result struct {
	Rows    int64   `json:"rows"`
	Seconds float64 `json:"seconds"`
	Bytes   int64   `json:"bytes,omitempty"` // output written
	// Decoders holds each decoder's seconds for Rows (decode jobs); Seconds is the
	// first decoder's, today's.
	Decoders map[string]float64 `json:"decoders,omitempty"`
	Cursor   int64              `json:"cursor,omitempty"` // land-hubspot: the largest page cursor, bytes
	// pg-cdc: landings run, and the lag from a change's commit to its landing's, ms.
	Landings int     `json:"landings,omitempty"`
	LagP50   float64 `json:"lag_p50,omitempty"`
	LagP99   float64 `json:"lag_p99,omitempty"`
	RSS      int64   `json:"-"` // peak resident set, bytes
}

func (r result) rate() float64 {
	if r.Seconds <= 0 {
		return 0
	}
	return float64(r.Rows) / r.Seconds
}

// measure runs j in a child process and returns its result with the child's peak RSS.
func measure(ctx context.Context, j job) (result, error) {
	op := "meshbench: " + j.Kind
	exe, err := os.Executable()
	if err != nil {
		return result{}, errs.E(errs.Internal, op, err)
	}
	spec, err := json.Marshal(j)
	if err != nil {
		return result{}, errs.E(errs.Internal, op, err)
	}
	cmd := exec.CommandContext(ctx, exe, childCmd, string(spec))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return result{}, errs.Errorf(errs.Internal, op, "the measuring process failed (%v): %s", err, childFailure(stderr.String()))
	}
	var r result
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		return result{}, errs.Errorf(errs.Internal, op, "the measuring process printed %q, not a result: %v", lastLines(stdout.String(), 3), err)
	}
	r.RSS = peakRSS(cmd.ProcessState)
	return r, nil
}

// childMain runs one job (args[0], JSON) and prints its result as JSON.
func childMain(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "meshbench "+childCmd+": want one job as JSON (this subcommand is internal)")
		return 2
	}
	var j job
	if err := json.Unmarshal([]byte(args[0]), &j); err != nil {
		fmt.Fprintln(stderr, "meshbench "+childCmd+":", err)
		return 2
	}
	ctx := context.Background()
	var r result
	var err error
	switch j.Kind {
	case "idle": // the process's own footprint: runtime, package initialisation, DuckDB's static data
	case "decode":
		r, err = decodeJob(ctx, j)
	case "land":
		r, err = landJob(ctx, j)
	case "land-hubspot":
		r, err = hubspotJob(ctx, j)
	case "duckdb":
		r, err = duckdbJob(ctx, j)
	case "pg-copy", "pg-snapshot", "pg-cdc":
		r, err = pgJob(ctx, j)
	default:
		err = errs.Errorf(errs.Invalid, "meshbench "+childCmd, "unknown job kind %q", j.Kind)
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if err := json.NewEncoder(stdout).Encode(r); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}

// childFailure is what a failed child printed that says why: from a panic's first
// line (its goroutine trace after it), else the last lines.
func childFailure(stderr string) string {
	for _, mark := range []string{"panic: ", "fatal error: "} {
		if i := strings.Index(stderr, mark); i >= 0 {
			lines := strings.Split(stderr[i:], "\n")
			return strings.Join(lines[:min(15, len(lines))], "\n")
		}
	}
	return strings.TrimSpace(lastLines(stderr, 5))
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
