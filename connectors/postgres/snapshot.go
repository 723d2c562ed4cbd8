package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/source"
)

// Phases of a stream's cursor.
const (
	phaseSnapshot = "snapshot" // reading the table in key order; LSN is where changes start
	phaseCDC      = "cdc"      // reading changes; LSN is the end of the last whole transaction read
	phaseCursor   = "cursor"   // cursor mode
)

// position is a stream's cursor.
type position struct {
	V     int    `json:"v"`
	Phase string `json:"phase"`
	// LSN: see the phases.
	LSN string `json:"lsn,omitempty"`
	// After is the key of the last row read, as text: the snapshot's primary key, or
	// in cursor mode the cursor column and then the key.
	After []string `json:"after,omitempty"`
	// High is, in cursor mode, the newest cursor value read; the next sync starts
	// its lookback before it.
	High string `json:"high,omitempty"`
	// Sync is, in cursor mode, the sync After belongs to.
	Sync time.Time `json:"sync,omitzero"`
	// Cols are the columns landed, "name type", to tell dropped and retyped ones.
	Cols []string `json:"cols,omitempty"`
}

func decodePosition(table string, raw json.RawMessage) (*position, error) {
	if len(bytes.TrimSpace(raw)) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var p position
	if err := json.Unmarshal(raw, &p); err != nil || p.V != 1 {
		return nil, errs.Errorf(errs.Invalid, "postgres: "+table, "the cursor %.200s is not this connector's (v1): run a full refresh", raw)
	}
	if p.LSN != "" {
		if _, err := pglogrepl.ParseLSN(p.LSN); err != nil {
			return nil, errs.Errorf(errs.Invalid, "postgres: "+table, "the cursor's LSN %q: %v", p.LSN, err)
		}
	}
	return &p, nil
}

func (p position) encode() json.RawMessage {
	b, _ := json.Marshal(p)
	return b
}

// selectList selects every column as text, so snapshot rows and replicated changes
// (pgoutput sends text) go through one conversion.
func (t *table) selectList() string {
	cols := make([]string, len(t.cols))
	for i, c := range t.cols {
		// Aliased: ORDER BY a name that is also an output column sorts the output
		// column, here its text, and 36 would come after 360.
		cols[i] = fmt.Sprintf("%s::text AS c%d", pgx.Identifier{c.Name}.Sanitize(), i)
	}
	return strings.Join(cols, ", ")
}

// qualified is schema.table, quoted.
func (s *Stream) qualified() string {
	return pgx.Identifier{s.src.cfg.Schema, s.conf.Name}.Sanitize()
}

// keyset is "(a, b) > ($n::ta, $n+1::tb)" over cols, the values given as text.
func (t *table) keyset(cols []string, firstParam int) string {
	names, params := make([]string, len(cols)), make([]string, len(cols))
	for i, name := range cols {
		c, _ := t.col(name)
		names[i] = pgx.Identifier{name}.Sanitize()
		params[i] = fmt.Sprintf("$%d::%s", firstParam+i, c.Type)
	}
	return "(" + strings.Join(names, ", ") + ") > (" + strings.Join(params, ", ") + ")"
}

func orderBy(cols []string) string {
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = pgx.Identifier{c}.Sanitize()
	}
	return strings.Join(q, ", ")
}

// snapshotPage reads the chunk of rows after the cursor's key. The first chunk of a
// snapshot first fixes where the changes will be read from (startSnapshot); every
// snapshot row carries that LSN, so any change after it — which the chunk may or may
// not have seen — wins over the snapshot's version by its larger LSN. The chunks are
// separate statements, not one transaction: a snapshot resumed after a crash reads
// its remaining chunks later, and each is still at least as new as the LSN.
func (s *Stream) snapshotPage(ctx context.Context, t *table, pos *position) (source.Page, error) {
	if pos == nil {
		lsn, err := s.startSnapshot(ctx)
		if err != nil {
			return source.Page{}, err
		}
		pos = &position{V: 1, Phase: phaseSnapshot, LSN: lsn.String()}
	}
	lsn, _ := pglogrepl.ParseLSN(pos.LSN)
	q := "SELECT " + t.selectList() + " FROM " + s.qualified()
	args := make([]any, 0, len(t.pk)+1)
	if len(pos.After) == len(t.pk) {
		q += " WHERE " + t.keyset(t.pk, 1)
		for _, v := range pos.After {
			args = append(args, v)
		}
	}
	q += fmt.Sprintf(" ORDER BY %s LIMIT %d", orderBy(t.pk), s.src.cfg.PageRows)
	recs, last, err := s.query(ctx, t, q, args, t.pk, lsn)
	if err != nil {
		return source.Page{}, err
	}
	next := position{V: 1, Phase: phaseSnapshot, LSN: pos.LSN, After: pos.After, Cols: t.signature()}
	if last != nil {
		next.After = last
	}
	done := len(recs) < s.src.cfg.PageRows
	if done {
		// The table is read: later syncs read the changes from the snapshot's LSN.
		next = position{V: 1, Phase: phaseCDC, LSN: pos.LSN, Cols: t.signature()}
	}
	return source.Page{Records: recs, Next: next.encode(), Done: done}, nil
}

// query runs a chunk query and returns its rows as records and the values of keyCols
// of the last row (nil without rows). lsn > 0 stamps the records as change-data-capture
// versions.
func (s *Stream) query(ctx context.Context, t *table, q string, args []any, keyCols []string, lsn pglogrepl.LSN) ([]json.RawMessage, []string, error) {
	op := "postgres: read " + s.src.cfg.Schema + "." + s.conf.Name
	rows, err := s.src.db.Query(ctx, q, args...)
	if err != nil {
		return nil, nil, classify(op, err)
	}
	defer rows.Close()
	vals := make([]*string, len(t.cols))
	dest := make([]any, len(t.cols))
	for i := range vals {
		dest[i] = &vals[i]
	}
	idx := make([]int, len(keyCols))
	for i, k := range keyCols {
		for j, c := range t.cols {
			if c.Name == k {
				idx[i] = j
			}
		}
	}
	var recs []json.RawMessage
	var last []string
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, nil, classify(op, err)
		}
		rec, err := t.record(vals, lsn, false)
		if err != nil {
			return nil, nil, errs.E(errs.Internal, op, err)
		}
		recs = append(recs, rec)
		last = make([]string, len(idx))
		for i, j := range idx {
			if vals[j] != nil {
				last[i] = *vals[j]
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, classify(op, err)
	}
	return recs, last, nil
}

// record writes one row (its columns' text, nil for NULL) as a JSON object in column
// order; a change-data-capture row (lsn > 0) adds _lsn and _deleted.
func (t *table) record(vals []*string, lsn pglogrepl.LSN, deleted bool) (json.RawMessage, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, c := range t.cols {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(c.Name)
		v, err := json.Marshal(c.value(vals[i]))
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", c.Name, err)
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	if t.Mode == CDC {
		fmt.Fprintf(&b, `,%q:%d,%q:%t`, FieldLSN, lsnInt(uint64(lsn)), FieldDeleted, deleted)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// startSnapshot makes sure the table's replication slot exists, so PostgreSQL keeps
// every change from now on, and returns the LSN the snapshot starts at: the changes
// are read from there once the snapshot is whole.
//
// A transaction whose commit record is in the WAL before that LSN can still be
// invisible for a moment (its commit is being flushed); a chunk that missed it would
// lose it, since its changes are older than the LSN. So the snapshot waits for the
// transactions running when the LSN was taken to end — as creating a slot waits for
// the transactions running then — before it reads its first chunk.
func (s *Stream) startSnapshot(ctx context.Context) (pglogrepl.LSN, error) {
	slot := s.src.cfg.slot(s.conf.Name)
	op := "postgres: snapshot " + s.src.cfg.Schema + "." + s.conf.Name
	var exists bool
	if err := s.src.db.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)", slot).Scan(&exists); err != nil {
		return 0, classify(op, err)
	}
	if !exists {
		if err := s.createSlot(ctx, slot); err != nil {
			return 0, err
		}
	}
	var lsnText string
	if err := s.src.db.QueryRow(ctx, "SELECT pg_current_wal_insert_lsn()::text").Scan(&lsnText); err != nil {
		return 0, classify(op, err)
	}
	// The transactions running now, read after the LSN: each holds the lock on its own
	// transaction id until it has ended and become visible, so one whose commit is
	// already in the WAL before the LSN is still here. pg_current_snapshot() would not
	// do: it leaves out running transactions newer than the newest one finished.
	var running []string
	if err := s.src.db.QueryRow(ctx, "SELECT coalesce(array_agg(transactionid::text), '{}') FROM pg_locks WHERE locktype = 'transactionid' AND granted AND mode = 'ExclusiveLock' AND pid <> pg_backend_pid()").Scan(&running); err != nil {
		return 0, classify(op, err)
	}
	wait := 5 * time.Millisecond
	for len(running) > 0 {
		if err := s.src.db.QueryRow(ctx, "SELECT coalesce(array_agg(transactionid::text), '{}') FROM pg_locks WHERE locktype = 'transactionid' AND granted AND mode = 'ExclusiveLock' AND transactionid::text = ANY($1)", running).Scan(&running); err != nil {
			return 0, classify(op, err)
		}
		if len(running) == 0 {
			break
		}
		if err := source.Sleep(ctx, wait); err != nil {
			return 0, err
		}
		wait = min(2*wait, time.Second)
	}
	return pglogrepl.ParseLSN(lsnText)
}

// createSlot creates the table's logical replication slot (pgoutput). Another attempt
// may have created it first, which is as good.
func (s *Stream) createSlot(ctx context.Context, slot string) error {
	op := "postgres: create replication slot " + slot
	cfg, err := s.src.cfg.replicationConfig()
	if err != nil {
		return err
	}
	conn, err := pgconnConnect(ctx, cfg)
	if err != nil {
		return classify(op, err)
	}
	defer conn.Close(context.Background())
	_, err = pglogrepl.CreateReplicationSlot(ctx, conn, slot, "pgoutput",
		pglogrepl.CreateReplicationSlotOptions{Mode: pglogrepl.LogicalReplication, SnapshotAction: "NOEXPORT_SNAPSHOT"})
	if err != nil && !isDuplicate(err) {
		return classify(op, err)
	}
	return nil
}

// cursorPage reads, in cursor mode, the rows after the cursor in (cursor column, key)
// order. A new sync starts at the newest value seen less the lookback; versions read
// twice are the same version.
func (s *Stream) cursorPage(ctx context.Context, t *table, pos *position, req source.PageRequest) (source.Page, error) {
	order := append([]string{t.CursorColumn}, t.pk...)
	next := position{V: 1, Phase: phaseCursor, Sync: req.SyncStart.UTC(), Cols: t.signature()}
	q := "SELECT " + t.selectList() + " FROM " + s.qualified()
	var args []any
	cc, _ := t.col(t.CursorColumn)
	switch {
	case pos != nil && pos.Sync.Equal(next.Sync) && len(pos.After) == len(order):
		// Within a sync: after the last row read.
		q += " WHERE " + t.keyset(order, 1)
		for _, v := range pos.After {
			args = append(args, v)
		}
		next.High = pos.High
	case pos != nil && pos.High != "":
		// A new sync: from the lookback before the newest value seen.
		next.High = pos.High
		col := pgx.Identifier{t.CursorColumn}.Sanitize()
		if cc.kind == kInt {
			q += fmt.Sprintf(" WHERE %s >= $1::%s", col, cc.Type)
			args = append(args, pos.High)
		} else {
			q += fmt.Sprintf(" WHERE %s >= $1::%s - $2::interval", col, cc.Type)
			args = append(args, pos.High, fmt.Sprintf("%d microseconds", t.Lookback.Microseconds()))
		}
	default:
		// The first sync reads every row with a cursor value (NULLs never order).
		q += " WHERE " + pgx.Identifier{t.CursorColumn}.Sanitize() + " IS NOT NULL"
	}
	q += fmt.Sprintf(" ORDER BY %s LIMIT %d", orderBy(order), s.src.cfg.PageRows)
	recs, last, err := s.query(ctx, t, q, args, order, 0)
	if err != nil {
		return source.Page{}, err
	}
	if last != nil {
		next.After = last
		next.High = s.newer(ctx, cc, next.High, last[0])
	} else if pos != nil && pos.Sync.Equal(next.Sync) {
		next.After = pos.After
	}
	return source.Page{Records: recs, Next: next.encode(), Done: len(recs) < s.src.cfg.PageRows}, nil
}

// newer returns the later of two cursor values (text of column c), as PostgreSQL
// orders them; a ends "" when unset.
func (s *Stream) newer(ctx context.Context, c column, a, b string) string {
	if a == "" {
		return b
	}
	var later bool
	if err := s.src.db.QueryRow(ctx, fmt.Sprintf("SELECT $1::%s > $2::%s", c.Type, c.Type), b, a).Scan(&later); err == nil && later {
		return b
	}
	return a
}
