//go:build unix

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/meshflow/meshflow/connectors/postgres"
	"github.com/meshflow/meshflow/dev/pgcluster"
	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/secret"
	"github.com/meshflow/meshflow/framework/source"
)

// pgTarget is the throwaway cluster a postgres job reads, and the change load of a
// CDC job. The password is the cluster's own, made up at its start and gone with it.
type pgTarget struct {
	Host     string  `json:"host"`
	Port     int     `json:"port"`
	Database string  `json:"database"`
	Password string  `json:"password"`
	Rate     float64 `json:"rate,omitempty"`    // pg-cdc: changes a second
	Seconds  float64 `json:"seconds,omitempty"` // pg-cdc: how long they go on
}

// pgTable is the benchmark's table: an application's orders, a realistic mix of
// columns (bigint key, text, numeric, timestamptz, jsonb, boolean). changed_at is set
// by every write, just before its transaction commits: the CDC lag is measured from it.
const pgTable = "orders"

var pgStream = lake.StreamRef{Domain: "platform", Source: "postgres", Stream: pgTable}

const pgCreate = `CREATE TABLE orders (
	id bigint PRIMARY KEY, customer text NOT NULL, status text NOT NULL, amount numeric(12,2) NOT NULL,
	created_at timestamptz NOT NULL, changed_at timestamptz NOT NULL, attrs jsonb, paid boolean NOT NULL)`

// pgRow is the select list of one generated order whose id is the column i (the seed
// and the change load's inserts write the same shape).
func pgRow(changedAt string) string {
	return `i, 'customer-' || (i % 50000) || '@example.test', (ARRAY['new','paid','shipped','returned'])[1 + i % 4],
		round((i % 100000) / 7.0, 2), timestamptz '2024-01-01 00:00:00+00' + i * interval '17 seconds', ` + changedAt + `,
		jsonb_build_object('channel', (ARRAY['web','app','partner'])[1 + i % 3], 'items', i % 7 + 1,
			'coupon', CASE WHEN i % 5 = 0 THEN 'SPRING' || (i % 13) END), i % 3 = 0`
}

// postgresBench starts a throwaway cluster, seeds the orders table, and measures, each
// in a child process of its own: PostgreSQL's COPY of the table (the floor), the
// connector's change-data-capture snapshot landed with lake.Land, and the lag from
// commit to landed under a steady change load while landings follow each other. No
// PostgreSQL installed: the section is skipped and says why.
func postgresBench(ctx context.Context, o options, dir string, logf func(string, ...any)) ([]Row, string, error) {
	const op = "meshbench: postgres"
	if _, err := pgcluster.BinDir(); err != nil {
		return nil, "postgres: skipped: " + err.Error(), nil
	}
	start := time.Now()
	cluster, err := pgcluster.Start(ctx, nil)
	if err != nil {
		return nil, "", errs.E(errs.Internal, op, err)
	}
	defer cluster.Stop()
	err = cluster.Exec(ctx, "", pgCreate,
		fmt.Sprintf("INSERT INTO orders SELECT %s FROM generate_series(1, %d) i", pgRow("now()"), o.pgRows),
		"VACUUM ANALYZE orders", "CREATE PUBLICATION meshflow FOR TABLE orders")
	if err != nil {
		return nil, "", errs.E(errs.Internal, op, err)
	}
	logf("postgres: seeded %s orders in a throwaway cluster (%s)", count(o.pgRows), elapsed(start))
	target := &pgTarget{Host: cluster.Host, Port: cluster.Port, Database: cluster.Database, Password: cluster.Password}

	sz := count(o.pgRows) + " rows"
	if o.repeat > 1 {
		sz += fmt.Sprintf(", best of %d", o.repeat)
	}
	lakeDir := filepath.Join(dir, "lake")
	var floor, ours result
	for round := 1; round <= o.repeat; round++ {
		start = time.Now()
		r, err := measure(ctx, job{Kind: "pg-copy", Postgres: target})
		if err != nil {
			return nil, "", serverSays(cluster, err)
		}
		floor = best(floor, r)
		logf("postgres: round %d: COPY %s rows/s (%s)", round, num(r.rate()), elapsed(start))

		// Each round is a first sync: a new lake, so no cursor.
		start = time.Now()
		os.RemoveAll(lakeDir)
		if r, err = measure(ctx, job{Kind: "pg-snapshot", Postgres: target, Dir: lakeDir}); err != nil {
			return nil, "", serverSays(cluster, err)
		}
		ours = best(ours, r)
		logf("postgres: round %d: snapshot → lake.Land %s rows/s (%s)", round, num(r.rate()), elapsed(start))
		for _, r := range []result{floor, ours} {
			if r.Rows != int64(o.pgRows) {
				return nil, "", errs.Errorf(errs.Internal, op, "read %d rows of %d", r.Rows, o.pgRows)
			}
		}
	}

	// The changes go on from the last snapshot's landing, as the next syncs would.
	start = time.Now()
	cdc := *target
	cdc.Rate, cdc.Seconds = o.pgRate, o.pgSeconds.Seconds()
	lag, err := measure(ctx, job{Kind: "pg-cdc", Postgres: &cdc, Dir: lakeDir})
	if err != nil {
		return nil, "", serverSays(cluster, err)
	}
	logf("postgres: %d changes landed in %d landings, lag p50 %.0f ms p99 %.0f ms (%s)", lag.Rows, lag.Landings, lag.LagP50, lag.LagP99, elapsed(start))

	vsCopy := ours.rate() / floor.rate()
	return []Row{
		{Benchmark: "postgres: COPY (SELECT * FROM orders) TO STDOUT (floor)", Size: sz,
			Figures: figures(floor.rate(), mb(floor.Bytes)), Unit: "rows/s · MB of text", Goal: none, Result: none,
			Values: []float64{floor.rate(), mb(floor.Bytes)}},
		{Benchmark: "postgres: CDC snapshot → lake.Land (ours)", Size: sz,
			Figures: figures(ours.rate(), mib(ours.RSS), mb(ours.Bytes)), Unit: "rows/s · MiB peak RSS · MB Parquet",
			Goal: ratio(vsCopy) + " COPY", Result: none, Values: []float64{ours.rate(), mib(ours.RSS), mb(ours.Bytes)}},
		{Benchmark: "postgres: CDC lag, commit → landed", Size: fmt.Sprintf("%s changes/s × %s, %d landings", num(o.pgRate), o.pgSeconds, lag.Landings),
			Figures: figures(lag.LagP50, lag.LagP99, lag.rate(), mib(lag.RSS)), Unit: "ms p50 · ms p99 · changes/s landed · MiB peak RSS",
			Goal: none, Result: none, Values: []float64{lag.LagP50, lag.LagP99, lag.rate(), mib(lag.RSS)}},
	}, "", nil
}

// serverSays adds the server's last lines to a failed measurement's error: a server
// that stopped (its directory removed under it, killed) says so there.
func serverSays(c *pgcluster.Cluster, err error) error {
	return errs.Errorf(errs.KindOf(err), "meshbench: postgres", "%v\nthe server's last lines:\n%s", err, lastLines(c.Output(), 5))
}

// pgJob runs one of the postgres section's measurements in its child process.
func pgJob(ctx context.Context, j job) (result, error) {
	if j.Postgres == nil {
		return result{}, errs.Errorf(errs.Invalid, "meshbench: "+j.Kind, "the job names no cluster")
	}
	switch j.Kind {
	case "pg-copy":
		return pgCopyJob(ctx, j.Postgres)
	case "pg-snapshot":
		return pgSnapshotJob(ctx, j)
	default:
		return pgCDCJob(ctx, j)
	}
}

func (t *pgTarget) uri() string {
	c := pgcluster.Cluster{Host: t.Host, Port: t.Port, Password: t.Password, Database: t.Database}
	return c.URI("", "", "")
}

// source is the connector on the orders table in change-data-capture mode, read as
// the superuser (the benchmark measures reading, not grants).
func (t *pgTarget) source() (*postgres.Source, *postgres.Stream, error) {
	src, err := postgres.New(postgres.Config{Host: t.Host, Port: t.Port, Database: t.Database, User: pgcluster.Superuser,
		Password: secret.Value(t.Password), SSLMode: "disable", Tables: []postgres.Table{{Name: pgTable, Mode: postgres.CDC}}})
	if err != nil {
		return nil, nil, err
	}
	return src, src.Streams()[0].(*postgres.Stream), nil
}

// pgCopyJob has PostgreSQL write the whole table as COPY text to a sink that counts
// it: the floor of reading it out of the server, with no work on our side.
func pgCopyJob(ctx context.Context, t *pgTarget) (result, error) {
	const op = "meshbench: pg-copy"
	conn, err := pgx.Connect(ctx, t.uri())
	if err != nil {
		return result{}, errs.E(errs.Internal, op, err)
	}
	defer conn.Close(context.Background())
	var w countingWriter
	start := time.Now()
	tag, err := conn.PgConn().CopyTo(ctx, &w, "COPY (SELECT * FROM "+pgTable+") TO STDOUT")
	secs := time.Since(start).Seconds()
	if err != nil {
		return result{}, errs.E(errs.Internal, op, err)
	}
	return result{Rows: tag.RowsAffected(), Seconds: secs, Bytes: w.n}, nil
}

type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

// pgSnapshotJob lands the table's first sync — the snapshot in primary-key chunks
// that a change-data-capture stream starts with — into a file:// lake.
func pgSnapshotJob(ctx context.Context, j job) (result, error) {
	src, st, err := j.Postgres.source()
	if err != nil {
		return result{}, err
	}
	defer src.Close()
	return landTimed(ctx, st, pgStream, j.Dir)
}

// pgCDCJob writes a steady mix of inserts, updates and deletes for j.Postgres.Seconds
// while landings follow each other as the platform runs them (the lake's cursor, the
// connector, lake.Land), and measures each change's lag from its commit to the commit
// of the manifest that holds it. Once the writes stop, one more landing collects the
// rest, and every change written must have landed.
func pgCDCJob(ctx context.Context, j job) (result, error) {
	const op = "meshbench: pg-cdc"
	t := j.Postgres
	src, st, err := t.source()
	if err != nil {
		return result{}, err
	}
	defer src.Close()
	l, err := lake.Open(ctx, j.Dir)
	if err != nil {
		return result{}, err
	}
	defer l.Close()
	conn, err := pgx.Connect(ctx, t.uri())
	if err != nil {
		return result{}, errs.E(errs.Internal, op, err)
	}
	defer conn.Close(context.Background())
	var first int64
	if err := conn.QueryRow(ctx, "SELECT coalesce(max(id), 0) + 1 FROM "+pgTable).Scan(&first); err != nil {
		return result{}, errs.E(errs.Internal, op, err)
	}
	w := &changeWriter{conn: conn, next: first, deleted: map[string]time.Time{}}
	if err := w.loadLive(ctx); err != nil {
		return result{}, err
	}
	timed := &lagStream{Stream: st, w: w}

	wctx, stopWriting := context.WithCancel(ctx)
	written := make(chan error, 1)
	start := time.Now()
	go func() { written <- w.run(wctx, t.Rate, time.Duration(t.Seconds*float64(time.Second))) }()
	writing := true
	defer func() {
		// A failed landing returns early: the writer must be off the connection first.
		stopWriting()
		if writing {
			<-written
		}
	}()

	var lags []time.Duration
	var landed int64
	var landings int
	var last time.Time
	for {
		select {
		case err := <-written:
			writing = false
			if err != nil {
				return result{}, err
			}
		default:
		}
		cursor, err := l.Cursor(ctx, pgStream)
		if err != nil {
			return result{}, err
		}
		timed.changed = timed.changed[:0]
		res, err := l.Land(ctx, timed, lake.LandRequest{Stream: pgStream, RunID: fmt.Sprintf("cdc-%d", landings), SyncStart: time.Now(), Cursor: cursor})
		if err != nil {
			return result{}, err
		}
		if timed.err != nil {
			return result{}, timed.err
		}
		landings++
		landed += res.Manifest.Rows
		last = res.Manifest.CommittedAt
		for _, c := range timed.changed {
			lags = append(lags, last.Sub(c))
		}
		if !writing {
			break // this landing started after the last write committed
		}
	}
	if landed != w.count || int64(len(lags)) != landed {
		return result{}, errs.Errorf(errs.Internal, op, "%d changes written, %d landed, %d of them timed: the change stream lost or repeated some", w.count, landed, len(lags))
	}
	return result{Rows: landed, Seconds: last.Sub(start).Seconds(), Landings: landings,
		LagP50: ms(percentile(lags, 50)), LagP99: ms(percentile(lags, 99))}, nil
}

// changeWriter commits a transaction of changes every 10 ms: inserts of new orders,
// updates and deletes of random live ones, no row twice in one transaction (its
// versions would land as one). A deleted order's tombstone holds only its key, so
// the writer notes its delete time by id before the commit.
type changeWriter struct {
	conn  *pgx.Conn
	next  int64   // the next new order's id
	live  []int64 // ids that exist
	count int64   // changes committed

	mu      sync.Mutex
	deleted map[string]time.Time // id → when its delete ran
}

func (w *changeWriter) loadLive(ctx context.Context) error {
	rows, err := w.conn.Query(ctx, "SELECT id FROM "+pgTable)
	if err != nil {
		return errs.E(errs.Internal, "meshbench: pg-cdc", err)
	}
	if w.live, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
		return errs.E(errs.Internal, "meshbench: pg-cdc", err)
	}
	return nil
}

func (w *changeWriter) run(ctx context.Context, rate float64, d time.Duration) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	rng := rand.New(rand.NewPCG(1, 2))
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		elapsed := min(time.Since(start), d)
		due := int64(elapsed.Seconds()*rate) - w.count
		if due > 0 {
			if err := w.commit(ctx, rng, int(min(due, 200))); err != nil {
				return err
			}
		}
		if elapsed >= d && w.count >= int64(d.Seconds()*rate) {
			return nil
		}
	}
}

// commit writes n changes in one transaction: four in ten inserts, the rest updates
// and deletes (three to one) while there are orders to change.
func (w *changeWriter) commit(ctx context.Context, rng *rand.Rand, n int) error {
	const op = "meshbench: pg-cdc: write"
	var inserts, updates, deletes []int64
	picked := map[int64]bool{}
	for range n {
		k := rng.IntN(20)
		if k < 8 || len(w.live) <= len(picked) {
			inserts = append(inserts, w.next)
			w.next++
			continue
		}
		i := rng.IntN(len(w.live))
		for picked[w.live[i]] {
			i = rng.IntN(len(w.live))
		}
		picked[w.live[i]] = true
		if k < 17 {
			updates = append(updates, w.live[i])
		} else {
			deletes = append(deletes, w.live[i])
		}
	}
	tx, err := w.conn.Begin(ctx)
	if err != nil {
		return errs.E(errs.Internal, op, err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, "INSERT INTO "+pgTable+" SELECT "+pgRow("clock_timestamp()")+" FROM unnest($1::bigint[]) i", inserts); err != nil {
		return errs.E(errs.Internal, op, err)
	}
	if _, err := tx.Exec(ctx, `UPDATE `+pgTable+` SET status = 'paid', paid = true, amount = amount + 1,
		attrs = attrs || '{"updated": true}', changed_at = clock_timestamp() WHERE id = ANY($1)`, updates); err != nil {
		return errs.E(errs.Internal, op, err)
	}
	rows, err := tx.Query(ctx, "DELETE FROM "+pgTable+" WHERE id = ANY($1) RETURNING id::text, clock_timestamp()", deletes)
	if err != nil {
		return errs.E(errs.Internal, op, err)
	}
	w.mu.Lock()
	for rows.Next() {
		var id string
		var at time.Time
		if err := rows.Scan(&id, &at); err != nil {
			w.mu.Unlock()
			return errs.E(errs.Internal, op, err)
		}
		w.deleted[id] = at
	}
	w.mu.Unlock()
	if err := rows.Err(); err != nil {
		return errs.E(errs.Internal, op, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return errs.E(errs.Internal, op, err)
	}
	// Only now are the deleted ids gone and the new ones live.
	w.live = removeIDs(w.live, deletes)
	w.live = append(w.live, inserts...)
	w.count += int64(n)
	return nil
}

// removeIDs removes ids from live (order does not matter: picks are random).
func removeIDs(live, ids []int64) []int64 {
	gone := map[int64]bool{}
	for _, id := range ids {
		gone[id] = true
	}
	for i := 0; i < len(live); {
		if gone[live[i]] {
			live[i] = live[len(live)-1]
			live = live[:len(live)-1]
			continue
		}
		i++
	}
	return live
}

// lagStream is the connector's stream (its Describe and Committed included) noting
// when each change it hands to the landing was made: changed_at, or for a tombstone
// the writer's delete time.
type lagStream struct {
	*postgres.Stream
	w       *changeWriter
	changed []time.Time
	err     error
}

func (s *lagStream) NextPage(ctx context.Context, req source.PageRequest) (source.Page, error) {
	p, err := s.Stream.NextPage(ctx, req)
	for _, rec := range p.Records {
		var c struct {
			ID        json.Number `json:"id"`
			ChangedAt time.Time   `json:"changed_at"`
			Deleted   bool        `json:"_deleted"`
		}
		if err := json.Unmarshal(rec, &c); err != nil {
			s.err = errs.Errorf(errs.Internal, "meshbench: pg-cdc", "a change record %s: %v", rec, err)
			continue
		}
		if c.Deleted {
			s.w.mu.Lock()
			at, ok := s.w.deleted[c.ID.String()]
			s.w.mu.Unlock()
			if !ok {
				s.err = errs.Errorf(errs.Internal, "meshbench: pg-cdc", "a tombstone of order %s, which the writer never deleted", c.ID)
			}
			c.ChangedAt = at
		}
		s.changed = append(s.changed, c.ChangedAt)
	}
	return p, err
}
