package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	_ "github.com/duckdb/duckdb-go/v2" // registers the "duckdb" database/sql driver
	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	jsonexp "github.com/go-json-experiment/json/v1"
	gojson "github.com/goccy/go-json"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/source"
)

// decoders decode one record of the stream. The first is what lake.Land runs: a token
// walk that materialises only the stream's fields (source.Extractor). The others
// decode the whole record into a map[string]any with numbers kept as their literal
// text (UseNumber, so a 64-bit id survives), the shape a generic landing needs: the
// way lake.Land decoded until the walk was measured faster, and candidate decoders
// measured on the same records. Each returns how many values it produced.
var decoders = []struct {
	name    string
	decoder func(fields []source.Field) func(rec []byte) (int, error)
}{
	{"source.Extractor", func(fields []source.Field) func([]byte) (int, error) {
		x := source.NewExtractor(fields)
		var out []any
		return func(rec []byte) (n int, err error) {
			out, err = x.Extract(rec, out)
			for _, v := range out {
				if v != nil {
					n++
				}
			}
			return n, err
		}
	}},
	{"encoding/json → map", mapDecoder(func(rec []byte) (map[string]any, error) {
		var root map[string]any
		dec := json.NewDecoder(bytes.NewReader(rec))
		dec.UseNumber()
		return root, dec.Decode(&root)
	})},
	{"goccy/go-json → map", mapDecoder(func(rec []byte) (map[string]any, error) {
		var root map[string]any
		dec := gojson.NewDecoder(bytes.NewReader(rec))
		dec.UseNumber()
		return root, dec.Decode(&root)
	})},
	// The v2 engine behind the v1 API: what encoding/json becomes under
	// GOEXPERIMENT=jsonv2, taken from the module proxy so one binary measures both.
	// Its numbers are the module's own Number type (an alias of json.Number only
	// under that experiment); the records' shape is otherwise the same.
	{"go-json-experiment (v1 API on v2) → map", mapDecoder(func(rec []byte) (map[string]any, error) {
		var root map[string]any
		dec := jsonexp.NewDecoder(bytes.NewReader(rec))
		dec.UseNumber()
		return root, dec.Decode(&root)
	})},
	// The v2 API itself, told to keep numbers as text and to accept what v1 accepts.
	{"go-json-experiment (v2 API) → map", mapDecoder(func(rec []byte) (map[string]any, error) {
		var root map[string]any
		return root, jsonv2.Unmarshal(rec, &root, v2Options)
	})},
}

func mapDecoder(decode func(rec []byte) (map[string]any, error)) func([]source.Field) func([]byte) (int, error) {
	return func([]source.Field) func([]byte) (int, error) {
		return func(rec []byte) (int, error) {
			m, err := decode(rec)
			return len(m), err
		}
	}
}

// v2Options make the v2 API decode like source.Extract's decoder: numbers as
// json.Number, duplicate names and invalid UTF-8 accepted (v2 refuses both by default).
var v2Options = jsonv2.JoinOptions(
	jsontext.AllowDuplicateNames(true),
	jsontext.AllowInvalidUTF8(true),
	jsonv2.WithUnmarshalers(jsonv2.UnmarshalFromFunc(func(dec *jsontext.Decoder, v *any) error {
		if dec.PeekKind() != '0' {
			return errors.ErrUnsupported // not a number: decode it the default way
		}
		num, err := dec.ReadValue()
		*v = json.Number(num)
		return err
	})),
)

// rawStream names the landing's raw stream in the scratch lake.
var rawStream = lake.StreamRef{Domain: "marketing", Source: "hubspot", Stream: "contacts"}

// decodeJob reads the file in pages the way the landing does and decodes every record
// with every decoder, keeping nothing: the floor under any landing written in Go with
// that decoder. The decoders take turns on each page, which one goes first rotating
// page by page, so a machine whose load drifts slows them alike and none gets its page
// from a warmer cache more often than another. A decoder's rate counts the reading it
// would need alone: the whole run less the other decoders' time.
func decodeJob(ctx context.Context, j job) (result, error) {
	spec, err := contactsSpec()
	if err != nil {
		return result{}, err
	}
	st, closeFile, err := fileStream(spec, j.File)
	if err != nil {
		return result{}, err
	}
	defer closeFile()
	spent := make([]time.Duration, len(decoders))
	decode := make([]func([]byte) (int, error), len(decoders))
	for i, d := range decoders {
		decode[i] = d.decoder(spec.Fields)
	}
	var rows int64
	values := make([]int64, len(decoders)) // per decoder: a decoder that finds nothing measures nothing
	page := 0
	start := time.Now()
	_, err = source.NewReader(st, nil).Read(ctx, source.PageRequest{}, func(p source.Page) error {
		for k := range decoders {
			i := (page + k) % len(decoders)
			t := time.Now()
			for n, rec := range p.Records {
				k, err := decode[i](rec)
				if err != nil {
					return errs.Errorf(errs.Invalid, "meshbench: decode", "%s: record %d: %v", decoders[i].name, rows+int64(n)+1, err)
				}
				values[i] += int64(k)
			}
			spent[i] += time.Since(t)
		}
		rows += int64(len(p.Records))
		page++
		return nil
	})
	total := time.Since(start)
	if err != nil {
		return result{}, err
	}
	for i, n := range values {
		if n == 0 && rows > 0 {
			return result{}, errs.Errorf(errs.Internal, "meshbench: decode", "%s: %d records decoded into no values", decoders[i].name, rows)
		}
	}
	read := total
	for _, d := range spent {
		read -= d
	}
	r := result{Rows: rows, Seconds: (read + spent[0]).Seconds(), Decoders: map[string]float64{}}
	for i, d := range decoders {
		r.Decoders[d.name] = (read + spent[i]).Seconds()
	}
	return r, nil
}

// landJob lands the file (or j.Rows generated records) into a file:// lake with
// lake.Land: the production path from a stream's pages to committed Parquet.
func landJob(ctx context.Context, j job) (result, error) {
	spec, err := contactsSpec()
	if err != nil {
		return result{}, err
	}
	var st *pagedStream
	if j.File != "" {
		var closeFile func() error
		if st, closeFile, err = fileStream(spec, j.File); err != nil {
			return result{}, err
		}
		defer closeFile()
	} else {
		st = generatedStream(spec, j.Rows)
	}
	return landTimed(ctx, st, rawStream, j.Dir)
}

// landTimed lands st as ref into a file:// lake at dir with lake.Land and times it.
func landTimed(ctx context.Context, st source.Stream, ref lake.StreamRef, dir string) (result, error) {
	l, err := lake.Open(ctx, dir)
	if err != nil {
		return result{}, err
	}
	defer l.Close()
	start := time.Now()
	res, err := l.Land(ctx, st, lake.LandRequest{Stream: ref, RunID: "meshbench", SyncStart: start})
	secs := time.Since(start).Seconds()
	if err != nil {
		return result{}, err
	}
	return result{Rows: res.Manifest.Rows, Seconds: secs, Bytes: dirBytes(dir)}, nil
}

// duckdbJob has DuckDB do the same job in one statement: read_json over the file,
// the stream's typed columns and the landing's metadata columns, COPY to Parquet.
func duckdbJob(ctx context.Context, j job) (result, error) {
	const op = "meshbench: duckdb"
	spec, err := contactsSpec()
	if err != nil {
		return result{}, err
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return result{}, errs.E(errs.Internal, op, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // SET threads must reach the connection that copies
	if j.Threads > 0 {
		if _, err := db.ExecContext(ctx, fmt.Sprintf("SET threads = %d", j.Threads)); err != nil {
			return result{}, errs.E(errs.Internal, op, err)
		}
	}
	if err := os.MkdirAll(j.Dir, 0o755); err != nil {
		return result{}, errs.E(errs.Internal, op, err)
	}
	q, err := duckdbCopySQL(spec, j.File, filepath.Join(j.Dir, "contacts.parquet"))
	if err != nil {
		return result{}, err
	}
	start := time.Now()
	r, err := db.ExecContext(ctx, q)
	secs := time.Since(start).Seconds()
	if err != nil {
		return result{}, errs.Errorf(errs.Internal, op, "%v\nquery: %s", err, q)
	}
	n, err := r.RowsAffected()
	if err != nil {
		return result{}, errs.E(errs.Internal, op, err)
	}
	return result{Rows: n, Seconds: secs, Bytes: dirBytes(j.Dir)}, nil
}

// duckdbCopySQL builds the COPY from the stream's fields, so DuckDB writes the same
// columns with the same types as lake.Land. DuckDB's JSON reader parses the
// timestamps itself. read_json keeps no raw text, so _raw is the record as DuckDB read
// it (the stream's keys) re-serialised by to_json: a string column of the same order
// of size, written the same way.
func duckdbCopySQL(spec source.StreamSpec, in, out string) (string, error) {
	top := map[string]string{}   // top-level key → DuckDB type
	var topOrder []string        // in field order, for a stable statement
	props := map[string]string{} // properties.<key> → type
	var propOrder []string
	var sel []string
	for _, f := range spec.Fields {
		typ, ok := duckTypes[f.Type]
		if !ok {
			return "", errs.Errorf(errs.Internal, "meshbench: duckdb", "field %s has type %s, which this benchmark does not map to DuckDB", f.Name, f.Type)
		}
		switch {
		case len(f.Path) == 1:
			if _, seen := top[f.Path[0]]; !seen {
				topOrder = append(topOrder, f.Path[0])
			}
			top[f.Path[0]] = typ
			sel = append(sel, fmt.Sprintf("r.%s AS %s", quoteIdent(f.Path[0]), quoteIdent(f.Name)))
		case len(f.Path) == 2 && f.Path[0] == "properties":
			if _, seen := props[f.Path[1]]; !seen {
				propOrder = append(propOrder, f.Path[1])
			}
			props[f.Path[1]] = typ
			sel = append(sel, fmt.Sprintf("r.properties.%s AS %s", quoteIdent(f.Path[1]), quoteIdent(f.Name)))
		default:
			return "", errs.Errorf(errs.Internal, "meshbench: duckdb", "field %s reads %v, deeper than this benchmark maps", f.Name, f.Path)
		}
	}
	var cols []string
	for _, k := range topOrder {
		cols = append(cols, fmt.Sprintf("%s: '%s'", quoteIdent(k), top[k]))
	}
	if len(propOrder) > 0 {
		var ps []string
		for _, k := range propOrder {
			ps = append(ps, quoteIdent(k)+" "+props[k])
		}
		cols = append(cols, fmt.Sprintf("properties: 'STRUCT(%s)'", strings.Join(ps, ", ")))
	}
	sel = append(sel,
		"now()::TIMESTAMP AS "+lake.ColExtractedAt,
		"'meshbench' AS "+lake.ColRunID,
		"to_json(r)::VARCHAR AS "+lake.ColRaw,
	)
	return fmt.Sprintf("COPY (SELECT %s FROM read_json(%s, format = 'newline_delimited', columns = {%s}) AS r) TO %s (FORMAT parquet, COMPRESSION snappy)",
		strings.Join(sel, ", "), quoteString(in), strings.Join(cols, ", "), quoteString(out)), nil
}

var duckTypes = map[source.Type]string{
	source.String: "VARCHAR", source.Int64: "BIGINT", source.Float64: "DOUBLE", source.Bool: "BOOLEAN",
	source.Timestamp: "TIMESTAMP", source.Date: "DATE",
}

func quoteIdent(s string) string  { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
func quoteString(s string) string { return `'` + strings.ReplaceAll(s, `'`, `''`) + `'` }

// dirBytes is the size of every file under dir (0 when it cannot be read).
func dirBytes(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// landingBench generates the records once, then measures on that same file, each in
// a process of its own: the decode floor (every decoder, taking turns), lake.Land,
// and DuckDB.
func landingBench(ctx context.Context, o options, dir string, logf func(string, ...any)) ([]Row, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, errs.E(errs.Internal, "meshbench: landing", err)
	}
	file := filepath.Join(dir, "contacts.jsonl")
	start := time.Now()
	size, err := writeContacts(file, o.rows)
	if err != nil {
		return nil, err
	}
	logf("landing: generated %s HubSpot-shaped contacts, %.0f MB, in %s", count(o.rows), mb(size), elapsed(start))
	defer os.Remove(file)
	sz := count(o.rows) + " rows"
	if o.repeat > 1 {
		sz += fmt.Sprintf(", best of %d", o.repeat)
	}
	// With --repeat the three take turns, so a spell of load on a shared machine does
	// not land on one of them only.
	var floor, ours, duck result
	for round := 1; round <= o.repeat; round++ {
		start = time.Now()
		r, err := measure(ctx, job{Kind: "decode", File: file})
		if err != nil {
			return nil, err
		}
		floor = best(floor, r)
		logf("landing: round %d: decoded with %d decoders taking turns (%s)", round, len(decoders), elapsed(start))

		start = time.Now()
		lakeDir := filepath.Join(dir, "lake")
		if r, err = measure(ctx, job{Kind: "land", File: file, Dir: lakeDir}); err != nil {
			return nil, err
		}
		os.RemoveAll(lakeDir)
		if r.Rows != int64(o.rows) {
			return nil, errs.Errorf(errs.Internal, "meshbench: landing", "lake.Land landed %d rows of %d", r.Rows, o.rows)
		}
		ours = best(ours, r)
		logf("landing: round %d: lake.Land %s rows/s (%s)", round, num(r.rate()), elapsed(start))

		start = time.Now()
		duckDir := filepath.Join(dir, "duckdb")
		if r, err = measure(ctx, job{Kind: "duckdb", File: file, Dir: duckDir, Threads: o.duckdbThreads}); err != nil {
			return nil, err
		}
		os.RemoveAll(duckDir)
		if r.Rows != int64(o.rows) {
			return nil, errs.Errorf(errs.Internal, "meshbench: landing", "DuckDB copied %d rows of %d", r.Rows, o.rows)
		}
		duck = best(duck, r)
		logf("landing: round %d: DuckDB %s rows/s (%s)", round, num(r.rate()), elapsed(start))
	}

	var rows []Row
	for i, d := range decoders {
		rate := float64(floor.Rows) / floor.Decoders[d.name]
		if i == 0 {
			rows = append(rows, Row{Benchmark: "decode floor: " + d.name + " (today's decoder)", Size: sz, Figures: figures(rate, mib(floor.RSS)),
				Unit: "rows/s · MiB peak RSS", Goal: none, Result: none, Values: []float64{rate, mib(floor.RSS)}})
			continue
		}
		rows = append(rows, Row{Benchmark: "decode floor: " + d.name, Size: sz, Figures: figures(rate), Unit: "rows/s",
			Goal: ratio(rate/floor.rate()) + " " + decoders[0].name, Result: none, Values: []float64{rate}})
	}

	vsFloor, vsDuck := ours.rate()/floor.rate(), ours.rate()/duck.rate()
	threads := "default threads"
	if o.duckdbThreads > 0 {
		threads = fmt.Sprintf("%d threads", o.duckdbThreads)
	}
	return append(rows,
		Row{Benchmark: "landing: lake.Land → Parquet (ours)", Size: sz,
			Figures: figures(ours.rate(), mib(ours.RSS), mb(ours.Bytes)), Unit: "rows/s · MiB peak RSS · MB Parquet",
			Goal: ratio(vsFloor) + " floor / ≥ 0.50×", Result: verdict(vsFloor >= 0.5),
			Values: []float64{ours.rate(), mib(ours.RSS), mb(ours.Bytes)}},
		Row{Benchmark: "landing: DuckDB read_json → COPY parquet (" + threads + ")", Size: sz,
			Figures: figures(duck.rate(), mib(duck.RSS), mb(duck.Bytes)), Unit: "rows/s · MiB peak RSS · MB Parquet",
			Goal: "ours " + ratio(vsDuck) + " / ≥ 1.00×", Result: verdict(vsDuck >= 1),
			Values: []float64{duck.rate(), mib(duck.RSS), mb(duck.Bytes)}},
	), nil
}

// best keeps the faster of two rounds of one measurement (the slower one also measured
// the machine's other work), each decoder's fastest, and the larger peak RSS.
func best(a, b result) result {
	if a.Rows == 0 {
		return b
	}
	out := a
	if b.rate() > a.rate() {
		out = b
	}
	out.RSS = max(a.RSS, b.RSS)
	if len(a.Decoders) > 0 {
		out.Decoders = map[string]float64{}
		for name, s := range a.Decoders {
			out.Decoders[name] = min(s, b.Decoders[name])
		}
		out.Seconds = out.Decoders[decoders[0].name]
	}
	return out
}

// memoryGrowthGoal is how much the landing's peak memory may grow from the smallest
// to the largest stream and still count as flat: the landing holds one page and one
// batch at a time, so growth beyond GC noise would be a leak along the stream.
const memoryGrowthGoal = 1.25

// memoryBench lands generated streams of growing length, each in its own process, and
// compares their peak RSS above the footprint of a child that does nothing (the
// binary's runtime and package initialisation, the same in every child).
func memoryBench(ctx context.Context, o options, dir string, logf func(string, ...any)) ([]Row, error) {
	base, err := measure(ctx, job{Kind: "idle"})
	if err != nil {
		return nil, err
	}
	rows := []Row{{Benchmark: "memory: baseline (a child that does nothing)", Size: "0 rows", Figures: figures(mib(base.RSS)),
		Unit: "MiB peak RSS", Goal: none, Result: none, Values: []float64{mib(base.RSS)}}}
	var first int64
	for i, n := range o.memoryRows {
		start := time.Now()
		lakeDir := filepath.Join(dir, "lake-"+strconv.Itoa(n))
		r, err := measure(ctx, job{Kind: "land", Rows: n, Dir: lakeDir})
		if err != nil {
			return nil, err
		}
		os.RemoveAll(lakeDir)
		if r.Rows != int64(n) {
			return nil, errs.Errorf(errs.Internal, "meshbench: memory", "lake.Land landed %d rows of %d", r.Rows, n)
		}
		logf("memory: landed %s generated rows, peak RSS %.0f MiB (%s)", count(n), mib(r.RSS), elapsed(start))
		net := max(r.RSS-base.RSS, 1)
		row := Row{Benchmark: "memory: lake.Land peak RSS", Size: count(n) + " rows", Figures: figures(mib(r.RSS), mib(net), r.rate()),
			Unit: "MiB peak RSS · MiB above baseline · rows/s", Goal: none, Result: none, Values: []float64{mib(r.RSS), mib(net), r.rate()}}
		if i == 0 {
			first = net
		} else {
			g := float64(net) / float64(first)
			row.Goal = fmt.Sprintf("%s the %s run above baseline / ≤ %s", ratio(g), count(o.memoryRows[0]), ratio(memoryGrowthGoal))
			row.Result = verdict(g <= memoryGrowthGoal)
		}
		rows = append(rows, row)
	}
	bulk, err := hubspotBulkBench(ctx, o, dir, logf)
	if err != nil {
		return nil, err
	}
	return append(rows, bulk...), nil
}
