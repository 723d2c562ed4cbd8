package product

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	_ "gocloud.dev/blob/fileblob"

	"github.com/meshflow/meshflow/connectors/pendo"
	sbpendo "github.com/meshflow/meshflow/dev/sandbox/pendo"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/quality"
	"github.com/meshflow/meshflow/framework/secret"
	"github.com/meshflow/meshflow/framework/source"
	"github.com/meshflow/meshflow/framework/transform"
)

// A year of Pendo usage in subscriptions from UTC−12 to UTC+14, landed by the
// connector from the sandbox serving that zone's day buckets and modelled by
// account_usage_daily: every local day publishes under its own date, once, with
// exactly its own events — none merged into a neighbour, none lost — and a
// partition run of a day publishes that day's rows, not the next day's. The old
// rule (the UTC date 12 hours after the bucket starts) fails in Auckland's summer
// (UTC+13), in Kiritimati (UTC+14) all year and in Etc/GMT+12 (UTC−12).
func TestUsageDatesInEveryZone(t *testing.T) {
	if testing.Short() {
		t.Skip("lands a year of events per zone")
	}
	p := accountUsage()
	for _, zone := range []string{"Etc/GMT+12", "America/Los_Angeles", "UTC", "Asia/Kolkata", "Pacific/Auckland", "Pacific/Kiritimati"} {
		t.Run(zone, func(t *testing.T) {
			tz, err := time.LoadLocation(zone)
			if err != nil {
				t.Fatal(err)
			}
			y := landYear(t, zone)

			got := usageByDate(t, runModel(t, p, y.inputs, ""))
			if len(got) != len(y.truth) {
				t.Errorf("%d dates published, the year has %d local days with events", len(got), len(y.truth))
			}
			for day, want := range y.truth {
				if g := got[day]; g != want {
					t.Errorf("%s: published %+v, the sandbox served %+v", day, g, want)
				}
			}
			for day := range got {
				if _, ok := y.truth[day]; !ok {
					t.Errorf("%s published, but no local day of %s has that date", day, zone)
				}
			}

			// A day's partition run reads that day's landing beside the whole sync,
			// as mesh.RawSamePartition hands it, and keeps the rows of that date.
			for _, day := range y.sample(tz) {
				part := y.landPartition(t, day)
				rows := usageByDate(t, runModel(t, p, y.withPartition(part), day))
				if len(rows) != 1 || rows[day] != y.truth[day] {
					t.Errorf("partition %s published %+v, want only %+v", day, rows, y.truth[day])
				}
			}
		})
	}
}

// usage sums up a date's rows.
type usage struct{ Rows, Events int64 }

type year struct {
	lake   *lake.Lake
	src    *pendo.Source
	start  time.Time
	inputs []transform.RawInput
	truth  map[string]usage // local date → what the sandbox served that day
}

var now = time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC)

// landYear lands 365 days of page and feature events, and the accounts, pages and
// features they name, from a sandbox in zone; truth sums what it served per day.
func landYear(t *testing.T, zone string) *year {
	t.Helper()
	api := sbpendo.New(sbpendo.Options{
		Seed: 3, Now: func() time.Time { return now }, TimeZone: zone,
		Accounts: 6, Visitors: 30, Pages: 3, Features: 3, Days: 366, RateLimit: -1,
	})
	ts := httptest.NewServer(api)
	t.Cleanup(ts.Close)
	src, err := pendo.New(pendo.Config{BaseURL: ts.URL, IntegrationKey: secret.Value(api.Key()), TimeZone: zone, HistoryDays: 365, MinInterval: -1},
		&pendo.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	l, err := lake.Open(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	y := &year{lake: l, src: src, start: now, truth: map[string]usage{}}
	for _, name := range []string{"page_events", "feature_events", "accounts", "pages", "features"} {
		y.inputs = append(y.inputs, y.land(t, name, ""))
	}

	tz := api.TimeZone()
	yesterday := api.DayStart(now).AddDate(0, 0, -1)
	for d := yesterday.AddDate(0, 0, -364); !d.After(yesterday); d = d.AddDate(0, 0, 1) {
		var u usage
		keys := map[string]bool{}
		for _, kind := range []string{sbpendo.PageEvents, sbpendo.FeatureEvents} {
			for _, raw := range api.Events(kind, d) {
				var r struct {
					Account   string `json:"accountId"`
					Page      string `json:"pageId"`
					Feature   string `json:"featureId"`
					NumEvents int64  `json:"numEvents"`
				}
				if err := json.Unmarshal(raw, &r); err != nil {
					t.Fatal(err)
				}
				if r.Account == "" {
					continue
				}
				keys[r.Account+"|"+r.Page+"|"+r.Feature] = true
				u.Events += r.NumEvents
			}
		}
		if u.Rows = int64(len(keys)); u.Rows > 0 {
			y.truth[d.In(tz).Format(time.DateOnly)] = u
		}
	}
	if len(y.truth) < 300 {
		t.Fatalf("only %d days with events: the sandbox's year is too thin to tell days apart", len(y.truth))
	}
	return y
}

// land lands one stream (one day of it with a partition) and returns it as the
// model's raw input.
func (y *year) land(t *testing.T, stream, partition string) transform.RawInput {
	t.Helper()
	st, ok := source.Lookup(y.src, stream)
	if !ok {
		t.Fatalf("no stream %s", stream)
	}
	res, err := y.lake.Land(t.Context(), st, lake.LandRequest{
		Stream: lake.StreamRef{Domain: Name, Source: "pendo", Stream: stream}, RunID: "run-" + stream + partition,
		SyncStart: y.start, Partition: partition,
	})
	if err != nil {
		t.Fatalf("land %s %s: %v", stream, partition, err)
	}
	spec := st.Spec()
	in := transform.RawInput{Source: "pendo", Stream: stream, PrimaryKey: spec.PrimaryKey, CursorField: spec.CursorField, Fields: spec.Fields}
	for _, f := range res.Manifest.Files {
		in.Files = append(in.Files, filepath.Join(y.lake.LocalRoot(), filepath.FromSlash(f.Key)))
	}
	return in
}

// landPartition lands day's page and feature events as a partition run does.
func (y *year) landPartition(t *testing.T, day string) []transform.RawInput {
	return []transform.RawInput{y.land(t, "page_events", day), y.land(t, "feature_events", day)}
}

// withPartition is what a partition run's model reads: the partition's landings of
// the event streams added to every other landing.
func (y *year) withPartition(part []transform.RawInput) []transform.RawInput {
	out := make([]transform.RawInput, len(y.inputs))
	copy(out, y.inputs)
	for _, p := range part {
		for i := range out {
			if out[i].Stream == p.Stream {
				out[i].Files = append(append([]string(nil), out[i].Files...), p.Files...)
			}
		}
	}
	return out
}

// sample is the days whose partitions are run: the year's first and last, the days
// around the zone's changes of offset, and a few ordinary ones.
func (y *year) sample(tz *time.Location) []string {
	var days []string
	add := func(d string) {
		if _, ok := y.truth[d]; ok && len(days) < 12 {
			for _, x := range days {
				if x == d {
					return
				}
			}
			days = append(days, d)
		}
	}
	yesterday := civil(y.start.In(tz)).AddDate(0, 0, -1)
	first := yesterday.AddDate(0, 0, -364)
	add(first.Format(time.DateOnly))
	add(yesterday.Format(time.DateOnly))
	for d := first; d.Before(yesterday); d = d.AddDate(0, 0, 1) {
		if _, off := d.Zone(); func() bool { _, next := d.AddDate(0, 0, 1).Zone(); return next != off }() {
			add(d.Format(time.DateOnly))
			add(d.AddDate(0, 0, 1).Format(time.DateOnly))
		}
	}
	for _, k := range []int{40, 150, 250} {
		add(first.AddDate(0, 0, k).Format(time.DateOnly))
	}
	return days
}

func civil(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, t.Location())
}

func runModel(t *testing.T, p mesh.Product, raws []transform.RawInput, partition string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "usage.parquet")
	if _, err := transform.Run(t.Context(), transform.Request{Product: p, Raw: raws, Output: out, Partition: partition}); err != nil {
		t.Fatalf("model (partition %q): %v", partition, err)
	}
	return out
}

// usageByDate reads a staged output: rows and events per usage_date, and fails on
// a repeated primary key.
func usageByDate(t *testing.T, path string) map[string]usage {
	t.Helper()
	ctx := context.Background()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	from := "read_parquet(" + quality.Literal(path) + ")"
	var dups int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM (SELECT 1 FROM "+from+" GROUP BY usage_date, account_id, object_kind, object_id HAVING count(*) > 1)").Scan(&dups); err != nil || dups > 0 {
		t.Fatalf("%d repeated keys (%v)", dups, err)
	}
	rows, err := db.QueryContext(ctx, "SELECT strftime(usage_date, '%Y-%m-%d'), count(*), sum(events) FROM "+from+" GROUP BY 1")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]usage{}
	for rows.Next() {
		var day string
		var u usage
		if err := rows.Scan(&day, &u.Rows, &u.Events); err != nil {
			t.Fatal(err)
		}
		out[day] = u
	}
	if err := rows.Err(); err != nil {
		t.Fatal(fmt.Errorf("reading %s: %w", path, err))
	}
	return out
}
