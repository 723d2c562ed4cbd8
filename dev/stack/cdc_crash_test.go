package stack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"github.com/meshflow/meshflow/dev/sandbox"
	"github.com/meshflow/meshflow/dev/sandbox/platformdb"
	"github.com/meshflow/meshflow/dev/stack"
	"github.com/meshflow/meshflow/domains"
	"github.com/meshflow/meshflow/domains/platform"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/port"
	"github.com/meshflow/meshflow/framework/source"
	"github.com/meshflow/meshflow/workers/host"
)

// TestCDCSurvivesWorkerKills runs the platform domain's products on the real dev
// server against the sandbox's real PostgreSQL, with bin/mesh-worker as its own
// process, and kill -9s that process three times: twice in the middle of
// engagements' first landing, its snapshot (while it creates its replication slot,
// and with its first chunk of 10,000 rows read and the second waiting), once in the
// middle of its change stream (some transactions read, none landed). Between and after the kills
// the sandbox's generator makes about 1,100 changes (inserts, updates, deletes) while
// the runs are in flight; each run completes on a new worker. Then every platform
// port must equal the same query on the database's final state (row-set hash), with
// no primary key twice, and at every point the test can observe — each kill, each
// run's end — no replication slot has confirmed a position past the newest committed
// manifest of its stream: the slot moves only after the landing holding the changes
// is durable, so a crash can only re-read, never lose.
//
// The moments are made by PostgreSQL's own locks, not by timing: the test holds a
// transaction open (a snapshot waits for it to end) or an ACCESS EXCLUSIVE lock on
// platform.engagements (which a chunk query, or the change stream's read of a value an
// update left out of line, waits on), and sees the worker waiting in pg_stat_activity
// before it kills.
func TestCDCSurvivesWorkerKills(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: needs bin/temporal and PostgreSQL")
	}
	began := time.Now()
	since := func() time.Duration { return time.Since(began).Round(100 * time.Millisecond) }
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	// Build the worker binary while the stack and the database start.
	type built struct {
		path string
		err  error
	}
	binc := make(chan built, 1)
	binDir := t.TempDir()
	go func() {
		path, err := buildWorker(ctx, binDir)
		binc <- built{path, err}
	}()
	worker := sync.OnceValue(func() built { return <-binc })
	t.Cleanup(func() { cancel(); worker() }) // a failing test still waits for the build to stop

	st := startStack(t, ctx, stack.Options{Log: testLog(t, zerolog.ErrorLevel),
		Sandbox: &sandbox.Options{Unlimited: true, Connectors: []source.Connector{platform.PlatformDB()}}})
	cfg := lakeConfig(t, st, t.TempDir()) // starts the database: SandboxConfig asks for its values
	db, err := sandbox.Get[*platformdb.Sandbox](st.Sandbox).DB()
	if err != nil {
		t.Fatal(err)
	}
	pg := &pgTruth{t: t, ctx: ctx, uri: db.AdminURI()}
	// Enough engagements for a snapshot of three chunks (the connector reads 10,000
	// rows a chunk), spread over the seeded users.
	pg.exec(`INSERT INTO platform.engagements
		SELECT 500000 + g, u.user_id, u.account_id, (ARRAY['login','search','profile_view','message_sent','job_post'])[1 + g % 5],
			now() - make_interval(mins => g), 5 + g % 1800
		FROM generate_series(1, 25000) g
		JOIN (SELECT user_id, account_id, row_number() OVER (ORDER BY user_id) - 1 AS i, count(*) OVER () AS n FROM platform.users) u
			ON u.i = g % u.n`)

	m := domains.Mesh()
	d, engagementDaily, err := m.Find("platform.engagement_daily")
	if err != nil {
		t.Fatal(err)
	}
	cfg.TemporalAddress = st.Dev.FrontendHostPort()
	cfg.Domains = []string{d.Name}
	cfg.LogLevel = "warn"
	env, err := stack.Env(cfg, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	lk, err := lake.Open(ctx, cfg.Lake)
	if err != nil {
		t.Fatal(err)
	}
	defer lk.Close()
	slots := &slotWatch{pg: pg, lake: lk, domain: d.Name}
	b := worker()
	if b.err != nil {
		t.Fatal(b.err)
	}
	t.Logf("%v: stack, database and worker ready", since())
	w := &workerProcess{bin: b.path, env: env, logDir: t.TempDir()}
	t.Cleanup(func() { w.stop(t) })
	w.start(t)

	changes := 0
	change := func(n int) {
		t.Helper()
		for range n / 100 {
			what, err := db.Change(ctx, 100)
			if err != nil {
				t.Fatal(err)
			}
			changes += 100
			t.Log(what)
		}
	}

	// accounts and users first, so that in the next run engagements is the only
	// stream taking a snapshot.
	runProduct(t, ctx, st, m, d.Name+".accounts")

	// The first sync of engagements: its snapshot, killed twice. First while it
	// creates its replication slot, which waits for a transaction of the test's (one
	// with a transaction id) to end.
	gate := pg.begin("SELECT pg_current_xact_id()")
	run, err := flow.StartRun(ctx, st.Client, d, engagementDaily, flow.RunInput{})
	if err != nil {
		t.Fatal(err)
	}
	pg.waitReaderWaiting(`%REPLICATION_SLOT%meshflow_engagements%`, "engagements' snapshot creating its replication slot")
	engagements := lake.StreamRef{Domain: d.Name, Source: "platform_db", Stream: "engagements"}
	if _, ok, err := lk.LatestManifest(ctx, engagements); err != nil || ok {
		t.Fatalf("engagements has a committed landing (%v) while its first snapshot is starting", err)
	}
	slots.check("creating the snapshot's slot, before the kill")
	w.kill(t)
	gate.release()
	// The server drops a slot whose creation did not finish. The test creates it as an
	// attempt that got past that would have left it (the connector takes a slot it
	// finds as its own), so that the retry's snapshot does not wait on the slot.
	pg.waitFor("the killed attempt's replication session to end",
		"SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE usename = $1 AND backend_type = 'walsender')", platformdb.Reader)
	pg.exec(`SELECT pg_create_logical_replication_slot('meshflow_engagements', 'pgoutput')
		WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = 'meshflow_engagements')`)
	slots.check("creating the snapshot's slot, after the kill")
	t.Logf("%v: killed the worker while engagements' snapshot created its slot", since())
	change(200) // while the run waits for its landing's retry

	// Then with its first chunk read and the second waiting. The retry's snapshot
	// waits for the transactions running when it fixes its LSN — the test holds one —
	// and meanwhile the test locks the table; releasing the transaction sends the first
	// chunk to wait on that lock, and a second lock queued behind the chunk's request
	// lets exactly that chunk through (PostgreSQL grants locks in queue order).
	var workerStart time.Time
	pg.scalar(&workerStart, "SELECT now()")
	// The gate is the newest transaction: the snapshot must see it running all the
	// same (pg_current_snapshot() would not list it; the connector reads pg_locks).
	gate = pg.begin("SELECT pg_current_xact_id()")
	w.start(t)
	pg.waitFor("the retried snapshot to wait for the test's transaction",
		"SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE usename = $1 AND backend_start > $2 AND query LIKE '%transactionid::text = ANY%')",
		platformdb.Reader, workerStart)
	first := pg.begin("LOCK TABLE platform.engagements IN ACCESS EXCLUSIVE MODE")
	gate.release()
	pg.waitReaderWaiting(`%FROM "platform"."engagements" ORDER BY%`, "the snapshot's first chunk")
	// The chunk asks for the table's lock more than once (pgx prepares a statement,
	// then executes it): pass the lock on until the second chunk's query waits.
	held := &first.tx
	for step := 0; !pg.readerWaiting(`%FROM "platform"."engagements" WHERE (%`); step++ {
		if step == 4 {
			t.Fatal("the snapshot's first chunk still waits for the table after 4 locks passed on")
		}
		next := pg.queueLock("platform.engagements")
		if err := (*held).Rollback(ctx); err != nil {
			t.Fatal(err)
		}
		next.acquired()
		held = &next.tx
		pg.waitReaderWaiting(`%FROM "platform"."engagements" %`, "the snapshot's next lock request")
	}
	if _, ok, err := lk.LatestManifest(ctx, engagements); err != nil || ok {
		t.Fatalf("engagements has a committed landing (%v) while its snapshot reads its second chunk", err)
	}
	slots.check("mid-snapshot, before the kill")
	w.kill(t)
	if err := (*held).Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	slots.check("mid-snapshot, after the kill")
	t.Logf("%v: killed the worker with engagements' first snapshot chunk read", since())
	change(200)
	w.start(t)
	waitRun(t, ctx, run, "the first sync")
	slots.check("after the first sync")
	t.Logf("%v: the first sync completed on a new worker", since())

	// The change stream: transactions before and after one that updates an engagement
	// whose kind PostgreSQL keeps out of line (pgoutput leaves such an unchanged value
	// out, and the connector reads it from the table — where the lock stops it).
	change(300)
	var toasted int64
	pg.scalar(&toasted, "SELECT max(engagement_id) FROM platform.engagements WHERE engagement_id < 1000000")
	pg.exec(`UPDATE platform.engagements SET kind = (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 200) g)
		WHERE engagement_id = $1`, toasted)
	pg.exec(`UPDATE platform.engagements SET duration_seconds = duration_seconds + 1 WHERE engagement_id = $1`, toasted)
	change(100)
	stream := pg.begin("LOCK TABLE platform.engagements IN ACCESS EXCLUSIVE MODE")
	run, err = flow.StartRun(ctx, st.Client, d, engagementDaily, flow.RunInput{})
	if err != nil {
		t.Fatal(err)
	}
	pg.waitReaderWaiting(`SELECT "kind"::text FROM "platform"."engagements" WHERE%`, "the change stream's read of an unchanged out-of-line value")
	if !pg.slotActive("meshflow_engagements") {
		t.Fatal("the connector reads a change's value but no replication session is open on meshflow_engagements")
	}
	slots.check("mid-stream, before the kill")
	w.kill(t)
	stream.release()
	slots.check("mid-stream, after the kill")
	t.Logf("%v: killed the worker in the middle of engagements' change stream", since())
	change(300)
	w.start(t)
	waitRun(t, ctx, run, "the change sync")
	slots.check("after the change sync")
	t.Logf("%v: the change sync completed on a new worker; %d generated changes in all", since(), changes)

	// A last run of each product compared reads what the runs above left (changes made after
	// a sync's start belong to the next one); the database no longer changes.
	for _, c := range platformTruths {
		runProduct(t, ctx, st, m, d.Name+"."+c.product)
	}
	slots.check("at the end")
	w.stop(t)
	t.Logf("%v: every platform product ran on the final state", since())

	stores, err := host.OpenStores(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer stores.Close()
	for _, c := range platformTruths {
		_, p, err := m.Find(d.Name + "." + c.product)
		if err != nil {
			t.Fatal(err)
		}
		id := port.TableID{Domain: d.Name, Name: p.PortName()}
		var skip []string
		for _, col := range p.Schema {
			if !strings.Contains(" "+c.columns+" ", " "+col.Name+" ") {
				skip = append(skip, col.Name)
			}
		}
		got, want := readRowSet(t, stores, id, skip...), pg.rowSet(c.columns, c.truth)
		t.Logf("%s: %d rows, hash %s; the database's query: %d rows, hash %s", id, len(got.rows), got.hash(), len(want.rows), want.hash())
		if len(want.rows) == 0 {
			t.Errorf("the database's query for %s returns no row: the comparison proves nothing", id)
		}
		if got.hash() != want.hash() {
			t.Errorf("%s holds %d rows (hash %s), the same query on the database %d (hash %s); first differences:\n%s",
				id, len(got.rows), got.hash(), len(want.rows), want.hash(), firstDifferences(got.rows, want.rows, 6))
		}
		if dups := duplicateKeys(t, stores, id, p.PrimaryKey); len(dups) > 0 {
			t.Errorf("%s holds %d primary keys twice or more, e.g. %s", id, len(dups), dups[0])
		}
	}
	if slots.samples == 0 {
		t.Error("no replication slot was sampled: the test proved nothing about acknowledgement")
	}
}

// platformTruths are each platform port's columns (in schema order, those the
// database can compute: no global ids, no timestamps) and the query on the source
// tables that must give the same rows, each column as text followed by \x1f as
// readRowSet writes it.
var platformTruths = []struct{ product, columns, truth string }{
	{"accounts", "account_id name web_domain plan users",
		`SELECT account_id, name, lower(regexp_replace(web_domain, '^www\.', '', 'i')), plan,
			(SELECT count(*) FROM platform.users u WHERE u.account_id = a.account_id) FROM platform.accounts a`},
	{"users", "user_id account_id email full_name",
		`SELECT user_id, account_id, lower(email), full_name FROM platform.users`},
	{"signups_daily", "signup_date account_id signups invited",
		`SELECT (signed_up_at AT TIME ZONE 'UTC')::date, account_id, count(*), count(*) FILTER (WHERE channel = 'invite')
			FROM platform.signups GROUP BY 1, 2`},
	{"engagement_daily", "activity_date account_id engagements active_users engaged_seconds",
		`SELECT (occurred_at AT TIME ZONE 'UTC')::date, account_id, count(*), count(DISTINCT user_id), sum(duration_seconds)
			FROM platform.engagements GROUP BY 1, 2`},
}

// waitRun waits for a product run and fails the test with its explanation.
func waitRun(t *testing.T, ctx context.Context, run interface {
	Get(context.Context, any) error
}, what string) {
	t.Helper()
	var res flow.RunResult
	if err := run.Get(ctx, &res); err != nil {
		t.Fatalf("%s: %s", what, flow.Explain(err))
	}
}

// firstDifferences lists up to n rows in one sorted row list and not the other.
func firstDifferences(got, want []string, n int) string {
	var out []string
	i, j := 0, 0
	for (i < len(got) || j < len(want)) && len(out) < n {
		switch {
		case j == len(want) || i < len(got) && got[i] < want[j]:
			out = append(out, "  port only:     "+strings.ReplaceAll(got[i], "\x1f", "|"))
			i++
		case i == len(got) || want[j] < got[i]:
			out = append(out, "  database only: "+strings.ReplaceAll(want[j], "\x1f", "|"))
			j++
		default:
			i, j = i+1, j+1
		}
	}
	return strings.Join(out, "\n")
}

// pgTruth is the test's own superuser connection to the platform database: the
// ground truth, the locks that stop the worker, and what the server says of it.
type pgTruth struct {
	t   *testing.T
	ctx context.Context
	uri string
}

func (p *pgTruth) connect() *pgx.Conn {
	p.t.Helper()
	conn, err := pgx.Connect(p.ctx, p.uri)
	if err != nil {
		p.t.Fatal(err)
	}
	p.t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func (p *pgTruth) exec(sql string, args ...any) {
	p.t.Helper()
	conn := p.connect()
	defer conn.Close(p.ctx)
	if _, err := conn.Exec(p.ctx, sql, args...); err != nil {
		p.t.Fatalf("%s: %v", sql, err)
	}
}

func (p *pgTruth) scalar(dst any, sql string, args ...any) {
	p.t.Helper()
	conn := p.connect()
	defer conn.Close(p.ctx)
	if err := conn.QueryRow(p.ctx, sql, args...).Scan(dst); err != nil {
		p.t.Fatalf("%s: %v", sql, err)
	}
}

// rowSet runs query and writes its rows as readRowSet does: each column as text
// (NULL as arrow's "(null)") followed by \x1f, sorted.
func (p *pgTruth) rowSet(columns, query string) rowSet {
	p.t.Helper()
	conn := p.connect()
	defer conn.Close(p.ctx)
	rows, err := conn.Query(p.ctx, query)
	if err != nil {
		p.t.Fatalf("%s: %v", query, err)
	}
	rs := rowSet{columns: strings.Fields(columns)}
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			p.t.Fatal(err)
		}
		var b strings.Builder
		for _, v := range vals {
			switch v := v.(type) {
			case nil:
				b.WriteString("(null)")
			case time.Time:
				b.WriteString(v.Format(time.DateOnly))
			default:
				fmt.Fprint(&b, v)
			}
			b.WriteByte('\x1f')
		}
		rs.rows = append(rs.rows, b.String())
	}
	if err := rows.Err(); err != nil {
		p.t.Fatalf("%s: %v", query, err)
	}
	slices.Sort(rs.rows)
	return rs
}

// waitReaderWaiting waits until a backend of the connector's role runs a command
// matching pattern (SQL LIKE) that waits on a lock (a table's, or a transaction's end).
func (p *pgTruth) waitReaderWaiting(pattern, what string) {
	p.t.Helper()
	p.waitFor(what, readerWaitingSQL, platformdb.Reader, pattern)
}

// readerWaiting reports whether a backend of the connector's role runs a command
// matching pattern that waits on a lock.
func (p *pgTruth) readerWaiting(pattern string) bool {
	p.t.Helper()
	var ok bool
	p.scalar(&ok, readerWaitingSQL, platformdb.Reader, pattern)
	return ok
}

const readerWaitingSQL = `SELECT count(*) > 0 FROM pg_stat_activity WHERE usename = $1 AND wait_event_type = 'Lock' AND query LIKE $2`

// waitFor polls sql until it is true. Past a minute it fails, listing what the
// server's sessions are doing.
func (p *pgTruth) waitFor(what, sql string, args ...any) {
	p.t.Helper()
	conn := p.connect()
	defer conn.Close(p.ctx)
	deadline := time.Now().Add(time.Minute)
	for {
		var ok bool
		if err := conn.QueryRow(p.ctx, sql, args...).Scan(&ok); err != nil {
			p.t.Fatalf("waiting for %s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) || p.ctx.Err() != nil {
			var doing []string
			rows, err := conn.Query(context.Background(), `SELECT concat_ws(' | ', backend_type, state, wait_event_type, wait_event, left(query, 160))
				FROM pg_stat_activity`)
			if err == nil {
				doing, _ = pgx.CollectRows(rows, pgx.RowTo[string])
			}
			p.t.Fatalf("waited a minute for %s; the server's sessions:\n%s", what, strings.Join(doing, "\n"))
		}
		select {
		case <-p.ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (p *pgTruth) slotActive(slot string) bool {
	var ok bool
	p.scalar(&ok, "SELECT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND active)", slot)
	return ok
}

// openTx is a transaction the test holds open on a connection of its own.
type openTx struct {
	p  *pgTruth
	tx pgx.Tx
}

// begin starts a transaction and runs stmt in it.
func (p *pgTruth) begin(stmt string) *openTx {
	p.t.Helper()
	conn := p.connect()
	tx, err := conn.Begin(p.ctx)
	if err != nil {
		p.t.Fatal(err)
	}
	if _, err := tx.Exec(p.ctx, stmt); err != nil {
		p.t.Fatalf("%s: %v", stmt, err)
	}
	return &openTx{p: p, tx: tx}
}

// queueLock asks for an ACCESS EXCLUSIVE lock on table in a transaction of its own
// and returns once the request is queued, granted or not; acquired waits for it.
func (p *pgTruth) queueLock(table string) *queuedLock {
	p.t.Helper()
	conn := p.connect()
	tx, err := conn.Begin(p.ctx)
	if err != nil {
		p.t.Fatal(err)
	}
	l := &queuedLock{openTx: openTx{p: p, tx: tx}, done: make(chan error, 1)}
	go func() {
		_, err := tx.Exec(p.ctx, "LOCK TABLE "+table+" IN ACCESS EXCLUSIVE MODE")
		l.done <- err
	}()
	p.waitFor("the test's lock on "+table+" to be queued",
		"SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = $1 AND mode = 'AccessExclusiveLock' AND locktype = 'relation')", conn.PgConn().PID())
	return l
}

type queuedLock struct {
	openTx
	done chan error
}

func (l *queuedLock) acquired() {
	l.p.t.Helper()
	select {
	case err := <-l.done:
		if err != nil {
			l.p.t.Fatal(err)
		}
	case <-l.p.ctx.Done():
		l.p.t.Fatal(l.p.ctx.Err())
	}
}

func (o *openTx) release() {
	o.p.t.Helper()
	if err := o.tx.Rollback(o.p.ctx); err != nil {
		o.p.t.Fatal(err)
	}
}

// slotWatch compares each platform table's replication slot with its stream's
// committed landings.
type slotWatch struct {
	pg      *pgTruth
	lake    *lake.Lake
	domain  string
	samples int
}

// check fails the test when a slot's confirmed_flush_lsn is past the LSN of its
// stream's newest committed manifest. The slot is read first: a manifest is written
// before its slot may move, so one committed between the two reads only makes the
// comparison kinder to a correct connector, never to a wrong one.
func (s *slotWatch) check(when string) {
	t := s.pg.t
	t.Helper()
	conn := s.pg.connect()
	defer conn.Close(s.pg.ctx)
	rows, err := conn.Query(s.pg.ctx, "SELECT slot_name, confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name LIKE 'meshflow\\_%'")
	if err != nil {
		t.Fatal(err)
	}
	confirmed := map[string]string{}
	for rows.Next() {
		var slot string
		var lsn *string
		if err := rows.Scan(&slot, &lsn); err != nil {
			t.Fatal(err)
		}
		if lsn != nil {
			confirmed[slot] = *lsn
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, table := range platformdb.Tables {
		slotLSN, ok := confirmed["meshflow_"+table]
		if !ok {
			continue
		}
		m, landed, err := s.lake.LatestManifest(s.pg.ctx, lake.StreamRef{Domain: s.domain, Source: "platform_db", Stream: table})
		if err != nil {
			t.Fatal(err)
		}
		if !landed {
			// The first snapshot is under way: nothing is acknowledged yet, and the
			// slot stands where it was created.
			seen = append(seen, fmt.Sprintf("%s %s (no landing yet)", table, slotLSN))
			continue
		}
		var cur struct {
			LSN string `json:"lsn"`
		}
		if err := json.Unmarshal(m.CursorEnd, &cur); err != nil {
			t.Fatalf("%s's newest manifest's cursor %s: %v", table, m.CursorEnd, err)
		}
		committed, err1 := pglogrepl.ParseLSN(cur.LSN)
		flushed, err2 := pglogrepl.ParseLSN(slotLSN)
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: LSNs %q (manifest) and %q (slot): %v %v", table, cur.LSN, slotLSN, err1, err2)
		}
		s.samples++
		seen = append(seen, fmt.Sprintf("%s %s ≤ %s", table, flushed, committed))
		if flushed > committed {
			t.Errorf("%s: the replication slot of %s confirmed %s, past %s, the end of its newest committed landing (run %s): changes acknowledged before they were durable",
				when, table, flushed, committed, m.RunID)
		}
	}
	t.Logf("%s: slots confirmed vs committed: %s", when, strings.Join(seen, "; "))
}
