package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/source"
)

// statusEvery is how often a reading session tells the server it is alive (well
// within wal_sender_timeout, 60 s by default). It confirms nothing: the slot moves
// only in Committed.
const statusEvery = 10 * time.Second

var pgconnConnect = pgconn.ConnectConfig

// session is an open replication stream of one table's slot.
type session struct {
	conn *pgconn.PgConn
	// pos is where the stream stands: the end of the last whole transaction handed
	// out, which the next page's cursor names.
	pos pglogrepl.LSN
	// until is the server's WAL position when the session started: a sync ends once
	// every transaction committed before it is read, so a landing ends while writes go on.
	until      pglogrepl.LSN
	block      pglogrepl.LSN // wal_block_size
	relations  map[uint32]*pglogrepl.RelationMessage
	lastStatus time.Time
}

func (s *Stream) closeSession() {
	s.mu.Lock()
	sess := s.sess
	s.sess = nil
	s.mu.Unlock()
	if sess != nil {
		sess.conn.Close(context.Background())
	}
}

// changesPage reads whole transactions from the cursor's LSN until a page is full or
// the stream has caught up with the server's position at the session's start. The
// page's cursor is the end of its last transaction: a page never splits one.
func (s *Stream) changesPage(ctx context.Context, t *table, pos *position) (source.Page, error) {
	from, _ := pglogrepl.ParseLSN(pos.LSN)
	s.mu.Lock()
	sess := s.sess
	s.mu.Unlock()
	if sess == nil || sess.pos != from {
		// A retried page or a new landing: start again from the cursor.
		s.closeSession()
		var err error
		if sess, err = s.openSession(ctx, from); err != nil {
			return source.Page{}, err
		}
		s.mu.Lock()
		s.sess = sess
		s.mu.Unlock()
	}
	recs, done, err := s.readChanges(ctx, t, sess)
	if err != nil {
		s.closeSession()
		return source.Page{}, err
	}
	if done {
		s.closeSession()
	}
	next := position{V: 1, Phase: phaseCDC, LSN: sess.pos.String(), Cols: t.signature()}
	return source.Page{Records: recs, Next: next.encode(), Done: done}, nil
}

// openSession starts replication from the slot at from (the server starts at the
// slot's confirmed position when that is later).
func (s *Stream) openSession(ctx context.Context, from pglogrepl.LSN) (*session, error) {
	slot := s.src.cfg.slot(s.conf.Name)
	op := "postgres: replicate " + s.src.cfg.Schema + "." + s.conf.Name
	cfg, err := s.src.cfg.replicationConfig()
	if err != nil {
		return nil, err
	}
	var exists bool
	if err := s.src.db.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)", slot).Scan(&exists); err != nil {
		return nil, classify(op, err)
	}
	if !exists {
		return nil, errs.Errorf(errs.Invalid, op, "the replication slot %s is gone (dropped, or invalidated past max_slot_wal_keep_size): the changes since %s cannot be read; run a full refresh of the stream (mesh run --full-refresh), which creates it again", slot, from)
	}
	conn, err := pgconnConnect(ctx, cfg)
	if err != nil {
		return nil, classify(op, err)
	}
	// The sync reads up to where the WAL is now. Not IDENTIFY_SYSTEM's position: that
	// is the flushed one, which trails the commits of synchronous_commit=off sessions.
	var untilText string
	var block uint64
	if err := s.src.db.QueryRow(ctx, "SELECT pg_current_wal_insert_lsn()::text, current_setting('wal_block_size')::int8").Scan(&untilText, &block); err != nil {
		conn.Close(context.Background())
		return nil, classify(op, err)
	}
	until, err := pglogrepl.ParseLSN(untilText)
	if err != nil {
		conn.Close(context.Background())
		return nil, errs.E(errs.Internal, op, err)
	}
	err = pglogrepl.StartReplication(ctx, conn, slot, from, pglogrepl.StartReplicationOptions{Mode: pglogrepl.LogicalReplication,
		PluginArgs: []string{"proto_version '1'", "publication_names '" + s.src.cfg.Publication + "'"}})
	if err != nil {
		conn.Close(context.Background())
		return nil, classify(op, err)
	}
	return &session{conn: conn, pos: from, until: until, block: pglogrepl.LSN(block), relations: map[uint32]*pglogrepl.RelationMessage{}}, nil
}

// change is one row version of a transaction being read.
type change struct {
	key string
	rec json.RawMessage
}

// readChanges reads transactions until the page holds PageRows records or the
// session has caught up (done).
func (s *Stream) readChanges(ctx context.Context, t *table, sess *session) (recs []json.RawMessage, done bool, err error) {
	op := "postgres: replicate " + s.src.cfg.Schema + "." + s.conf.Name
	if sess.pos >= sess.until {
		return nil, true, nil
	}
	var txn []change // the open transaction's versions of this table, newest per key
	inTxn := false
	for {
		if time.Since(sess.lastStatus) >= statusEvery {
			if err := sess.status(ctx, false); err != nil {
				return nil, false, classify(op, err)
			}
		}
		rctx, cancel := context.WithTimeout(ctx, statusEvery)
		msg, err := sess.conn.ReceiveMessage(rctx)
		cancel()
		if err != nil {
			if pgconn.Timeout(err) && ctx.Err() == nil {
				// Quiet: ask the server where it stands, which it answers with a keepalive.
				if err := sess.status(ctx, true); err != nil {
					return nil, false, classify(op, err)
				}
				continue
			}
			return nil, false, classify(op, err)
		}
		var data []byte
		switch m := msg.(type) {
		case *pgproto3.CopyData:
			data = m.Data
		case *pgproto3.ErrorResponse:
			return nil, false, classify(op, pgconn.ErrorResponseToPgError(m))
		default:
			continue
		}
		if len(data) == 0 {
			continue
		}
		switch data[0] {
		case pglogrepl.PrimaryKeepaliveMessageByteID:
			ka, err := pglogrepl.ParsePrimaryKeepaliveMessage(data[1:])
			if err != nil {
				return nil, false, errs.E(errs.Internal, op, err)
			}
			if !inTxn && sess.reached(ka.ServerWALEnd) {
				// Everything committed before the target has been sent. The cursor
				// never passes what the server sent (nor so the slot, which cannot
				// be advanced past the flushed WAL).
				sess.pos = max(sess.pos, min(ka.ServerWALEnd, sess.until))
				return recs, true, nil
			}
			if ka.ReplyRequested {
				if err := sess.status(ctx, false); err != nil {
					return nil, false, classify(op, err)
				}
			}
		case pglogrepl.XLogDataByteID:
			xld, err := pglogrepl.ParseXLogData(data[1:])
			if err != nil {
				return nil, false, errs.E(errs.Internal, op, err)
			}
			m, err := pglogrepl.Parse(xld.WALData)
			if err != nil {
				return nil, false, errs.E(errs.Internal, op, err)
			}
			switch m := m.(type) {
			case *pglogrepl.RelationMessage:
				sess.relations[m.RelationID] = m
				if s.ours(m) {
					if err := t.checkRelation(s.src.cfg.Schema, m); err != nil {
						return nil, false, err
					}
				}
			case *pglogrepl.BeginMessage:
				inTxn, txn = true, txn[:0]
			case *pglogrepl.InsertMessage:
				if rel := sess.relations[m.RelationID]; rel != nil && s.ours(rel) {
					if txn, err = s.addVersion(ctx, t, txn, rel, m.Tuple, false); err != nil {
						return nil, false, err
					}
				}
			case *pglogrepl.UpdateMessage:
				if rel := sess.relations[m.RelationID]; rel != nil && s.ours(rel) {
					if m.OldTuple != nil {
						// The key changed: the old key is gone.
						if txn, err = s.addVersion(ctx, t, txn, rel, m.OldTuple, true); err != nil {
							return nil, false, err
						}
					}
					if txn, err = s.addVersion(ctx, t, txn, rel, m.NewTuple, false); err != nil {
						return nil, false, err
					}
				}
			case *pglogrepl.DeleteMessage:
				if rel := sess.relations[m.RelationID]; rel != nil && s.ours(rel) {
					if txn, err = s.addVersion(ctx, t, txn, rel, m.OldTuple, true); err != nil {
						return nil, false, err
					}
				}
			case *pglogrepl.TruncateMessage:
				for _, id := range m.RelationIDs {
					if rel := sess.relations[id]; rel != nil && s.ours(rel) {
						return nil, false, errs.Errorf(errs.Invalid, op, "table %s.%s was truncated, which deletes rows without naming their keys: run a full refresh of the stream (mesh run --full-refresh)", s.src.cfg.Schema, s.conf.Name)
					}
				}
			case *pglogrepl.CommitMessage:
				inTxn = false
				end := m.TransactionEndLSN
				for _, c := range txn {
					recs = append(recs, stamp(c.rec, end))
				}
				sess.pos = end
				if end >= sess.until {
					return recs, true, nil
				}
				if len(recs) >= s.src.cfg.PageRows {
					return recs, false, nil
				}
			}
		}
	}
}

// status tells the server the session is alive, confirming nothing (zero positions
// leave the slot where it is); reply asks for a keepalive at once.
func (sess *session) status(ctx context.Context, reply bool) error {
	sess.lastStatus = time.Now()
	return pglogrepl.SendStandbyStatusUpdate(ctx, sess.conn, pglogrepl.StandbyStatusUpdate{ClientTime: sess.lastStatus, ReplyRequested: reply})
}

// reached reports whether the server has sent everything before the sync's end. An
// insert position at the start of a WAL page points past the page's header, where no
// record ends: the end of the previous page is as good.
func (sess *session) reached(sent pglogrepl.LSN) bool {
	const longPageHeader = 40
	return sent >= sess.until || sess.block > 0 && sent%sess.block == 0 && sess.until-sent <= longPageHeader
}

// ours reports whether a relation is the stream's table.
func (s *Stream) ours(rel *pglogrepl.RelationMessage) bool {
	return rel.Namespace == s.src.cfg.Schema && rel.RelationName == s.conf.Name
}

// checkRelation fails when the table's columns in the change stream lost or retyped a
// column this landing reads (an ALTER TABLE while the sync runs). A new column is
// kept in the records' raw JSON and typed from the next sync on.
func (t *table) checkRelation(schema string, rel *pglogrepl.RelationMessage) error {
	have := map[string]uint32{}
	for _, c := range rel.Columns {
		have[c.Name] = c.DataType
	}
	op := fmt.Sprintf("postgres: %s.%s", schema, t.Name)
	for _, c := range t.cols {
		oid, ok := have[c.Name]
		switch {
		case !ok:
			return errs.Errorf(errs.Invalid, op, "column %s (%s) of table %s.%s was dropped while its changes were read: the products built on it keep their current snapshot; restore the column, or change the products that read it and run a full refresh", c.Name, c.Type, schema, t.Name)
		case oid != c.OID:
			return errs.Errorf(errs.Invalid, op, "column %s of table %s.%s changed type (it was %s) while its changes were read: the products built on it keep their current snapshot; change them for the new type and run a full refresh", c.Name, schema, t.Name, c.Type)
		}
	}
	return nil
}

// addVersion adds a row version from a tuple to the transaction, replacing an earlier
// version of the same key in it: every version of a transaction has its commit's LSN,
// so only the last can say what the transaction left.
func (s *Stream) addVersion(ctx context.Context, t *table, txn []change, rel *pglogrepl.RelationMessage, tuple *pglogrepl.TupleData, deleted bool) ([]change, error) {
	if tuple == nil {
		return nil, errs.Errorf(errs.Invalid, "postgres: "+s.conf.Name, "a change without its row: set REPLICA IDENTITY DEFAULT (the primary key) or FULL on %s.%s", s.src.cfg.Schema, s.conf.Name)
	}
	vals := make([]*string, len(t.cols))
	var unchanged []int // TOASTed values an update left as they were: not sent
	for i, c := range t.cols {
		for j, rc := range rel.Columns {
			if rc.Name != c.Name || j >= len(tuple.Columns) {
				continue
			}
			switch col := tuple.Columns[j]; col.DataType {
			case pglogrepl.TupleDataTypeText:
				v := string(col.Data)
				vals[i] = &v
			case pglogrepl.TupleDataTypeToast:
				unchanged = append(unchanged, i)
			}
		}
	}
	key, keyVals := t.keyOf(vals)
	if deleted {
		// A tombstone holds the key only.
		kept := make([]*string, len(vals))
		for _, i := range t.pkIndex() {
			kept[i] = vals[i]
		}
		vals = kept
	} else if len(unchanged) > 0 {
		if err := s.fillUnchanged(ctx, t, vals, unchanged, keyVals); err != nil {
			return nil, err
		}
	}
	rec, err := t.record(vals, 0, deleted)
	if err != nil {
		return nil, errs.E(errs.Internal, "postgres: "+s.conf.Name, err)
	}
	for i := range txn {
		if txn[i].key == key {
			txn[i].rec = rec
			return txn, nil
		}
	}
	return append(txn, change{key: key, rec: rec}), nil
}

// fillUnchanged reads the values an update did not send (large values it left
// unchanged, which PostgreSQL stores out of line) from the row as it is now. That row
// is at least as new as the change, and any later change of those columns arrives
// with a larger LSN, so the newest version is right; a row deleted since keeps NULLs
// until its tombstone, which is newer.
func (s *Stream) fillUnchanged(ctx context.Context, t *table, vals []*string, unchanged []int, keyVals []string) error {
	names := make([]string, len(unchanged))
	for i, j := range unchanged {
		names[i] = t.cols[j].Name
	}
	where := make([]string, len(t.pk))
	args := make([]any, len(t.pk))
	for i, k := range t.pk {
		c, _ := t.col(k)
		where[i] = fmt.Sprintf("%s = $%d::%s", pgx.Identifier{k}.Sanitize(), i+1, c.Type)
		args[i] = keyVals[i]
	}
	sel := make([]string, len(names))
	for i, n := range names {
		sel[i] = pgx.Identifier{n}.Sanitize() + "::text"
	}
	got := make([]*string, len(names))
	dest := make([]any, len(names))
	for i := range got {
		dest[i] = &got[i]
	}
	err := s.src.db.QueryRow(ctx, "SELECT "+strings.Join(sel, ", ")+" FROM "+s.qualified()+" WHERE "+strings.Join(where, " AND "), args...).Scan(dest...)
	if err != nil && !isNoRows(err) {
		return classify("postgres: read "+s.conf.Name, err)
	}
	for i, j := range unchanged {
		vals[j] = got[i]
	}
	return nil
}

func (t *table) pkIndex() []int {
	out := make([]int, len(t.pk))
	for i, k := range t.pk {
		for j, c := range t.cols {
			if c.Name == k {
				out[i] = j
			}
		}
	}
	return out
}

// keyOf is a row's key as one string (for matching within a transaction) and as its
// columns' text.
func (t *table) keyOf(vals []*string) (string, []string) {
	parts := make([]string, len(t.pk))
	for i, j := range t.pkIndex() {
		if vals[j] != nil {
			parts[i] = *vals[j]
		}
	}
	b, _ := json.Marshal(parts)
	return string(b), parts
}

// stamp sets a version's _lsn, written as 0 when the record was built.
func stamp(rec json.RawMessage, lsn pglogrepl.LSN) json.RawMessage {
	zero := fmt.Sprintf(`%q:0,`, FieldLSN)
	i := strings.LastIndex(string(rec), zero)
	if i < 0 {
		return rec
	}
	out := make([]byte, 0, len(rec)+20)
	out = append(out, rec[:i]...)
	out = fmt.Appendf(out, `%q:%d,`, FieldLSN, lsnInt(uint64(lsn)))
	return append(out, rec[i+len(zero):]...)
}
