// Package postgres reads tables of a PostgreSQL database: each configured table is a
// stream whose fields come from the catalog when a landing starts.
//
// A table in change-data-capture mode (the default) is read first as a snapshot in
// primary-key chunks, then through logical replication (pgoutput): inserts, updates
// and deletes in commit order, deletes as tombstones (_deleted), each version
// carrying its transaction's LSN (_lsn, the stream's cursor field). Each such table
// has its own replication slot, <prefix>_<table>, which the connector creates; the
// slot is advanced only after the landing holding the changes is committed
// (source.Acknowledger), so a crash re-reads them and none is lost.
//
// A table in cursor mode (a replica without logical replication) is read by a cursor
// column (updated_at) with a lookback; it cannot see hard deletes.
//
// The role needs only SELECT on the tables and the REPLICATION attribute; the
// publication is created by the tables' owner:
//
//	CREATE ROLE meshflow_reader LOGIN REPLICATION PASSWORD '…';
//	GRANT USAGE ON SCHEMA public TO meshflow_reader;
//	GRANT SELECT ON public.accounts, public.users TO meshflow_reader;
//	CREATE PUBLICATION meshflow FOR TABLE public.accounts, public.users;  -- as the owner
//
// and the server runs with wal_level=logical and a max_replication_slots and
// max_wal_senders of at least one per change-data-capture table.
package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/source"
)

// Connector is PostgreSQL as the platform registers it: its variables and
// constructor. Its streams are the configured tables, whose columns only the
// database knows, so it declares none without one.
var Connector = source.Connector{
	Name:  "postgres",
	Title: "PostgreSQL",
	Vars:  vars,
	Open: func(v source.Values) (source.Source, error) {
		c, err := configFrom(v)
		if err != nil {
			return nil, err
		}
		return New(c)
	},
}

// Source is a configured database and its tables' streams.
type Source struct {
	cfg     Config
	db      *pgxpool.Pool
	streams []source.Stream
}

// New builds the source; it connects lazily, on the first read.
func New(c Config) (*Source, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	pc, err := pgxpool.ParseConfig(c.connString())
	if err != nil {
		return nil, errs.Errorf(errs.Invalid, "configure postgres", "the connection settings do not parse (%s, %s, %s, %s): %s",
			c.name(HostEnv), c.name(PortEnv), c.name(SSLModeEnv), c.name(SSLRootCertEnv), scrub(err, c.Password))
	}
	for k, v := range sessionParams {
		pc.ConnConfig.RuntimeParams[k] = v
	}
	pc.MaxConns = 4
	db, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		return nil, c.named(classify("postgres: connect", err))
	}
	s := &Source{cfg: c, db: db}
	for _, t := range c.Tables {
		s.streams = append(s.streams, &Stream{src: s, conf: t})
	}
	return s, nil
}

// Name is the source's name in raw inputs.
func (s *Source) Name() string { return cmp.Or(s.cfg.source, Connector.Name) }

// Streams are the configured tables.
func (s *Source) Streams() []source.Stream { return s.streams }

// Close closes the source's connections.
func (s *Source) Close() { s.db.Close() }

// Check connects and checks the role: it must have REPLICATION when a table is read
// by change data capture, and SELECT on every table.
func (s *Source) Check(ctx context.Context) (err error) {
	defer func() { err = s.cfg.named(err) }()
	const op = "postgres: check"
	var replication bool
	var user string
	if err := s.db.QueryRow(ctx, "SELECT current_user, rolreplication FROM pg_roles WHERE rolname = current_user").Scan(&user, &replication); err != nil {
		return classify(op, err)
	}
	for _, t := range s.cfg.Tables {
		if t.Mode == CDC && !replication {
			return errs.Errorf(errs.Permission, op, "role %s lacks the REPLICATION attribute that change data capture of %s needs: ALTER ROLE %s REPLICATION (or read the table in cursor mode, %s)", user, t.Name, user, s.cfg.name(CursorTablesEnv))
		}
		if _, err := describe(ctx, s.db, &s.cfg, t); err != nil {
			return err
		}
	}
	return nil
}

// Stream is one table.
type Stream struct {
	src  *Source
	conf Table

	mu    sync.Mutex
	table *table   // as the catalog described it when this landing started
	added []string // columns new since the cursor's landing, reported on the first page
	sess  *session // the open replication session of a change-data-capture read
}

// Spec is the stream's spec as last described (Describe); before that it is the
// declared one (Table.Fields) or else read from the catalog, and is only the
// stream's name when the database cannot be reached.
func (s *Stream) Spec() source.StreamSpec {
	s.mu.Lock()
	t := s.table
	s.mu.Unlock()
	if t == nil && s.conf.Fields != nil {
		return s.conf.spec()
	}
	if t == nil {
		ctx, cancel := context.WithTimeout(context.Background(), specTimeout)
		defer cancel()
		var err error
		if t, err = describe(ctx, s.src.db, &s.src.cfg, s.conf); err != nil {
			return source.StreamSpec{Name: s.conf.Name}
		}
	}
	return t.spec()
}

// Describe reads the table's columns from the catalog and compares them with those
// the cursor's landing had (see source.Describer).
func (s *Stream) Describe(ctx context.Context, cursor json.RawMessage) (_ source.StreamSpec, err error) {
	defer func() { err = s.src.cfg.named(err) }()
	t, added, err := s.describe(ctx, cursor)
	if err != nil {
		return source.StreamSpec{}, err
	}
	s.mu.Lock()
	s.table, s.added = t, added
	s.mu.Unlock()
	return t.spec(), nil
}

func (s *Stream) describe(ctx context.Context, cursor json.RawMessage) (*table, []string, error) {
	pos, err := decodePosition(s.conf.Name, cursor)
	if err != nil {
		return nil, nil, err
	}
	t, err := describe(ctx, s.src.db, &s.src.cfg, s.conf)
	if err != nil {
		return nil, nil, err
	}
	if s.conf.Mode == CDC {
		if err := s.checkPublication(ctx); err != nil {
			return nil, nil, err
		}
	}
	if pos == nil {
		return t, nil, nil
	}
	added, err := t.drift(s.src.cfg.Schema, pos.Cols)
	return t, added, err
}

// checkPublication fails with the statement to run when the table is not in the
// publication its changes are read through.
func (s *Stream) checkPublication(ctx context.Context) error {
	c := s.src.cfg
	var in bool
	err := s.src.db.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_publication_tables WHERE pubname = $1 AND schemaname = $2 AND tablename = $3)",
		c.Publication, c.Schema, s.conf.Name).Scan(&in)
	if err != nil {
		return classify("postgres: publication", err)
	}
	if !in {
		return errs.Errorf(errs.Invalid, "postgres: publication", "table %s.%s is not in the publication %s that its changes are read through: as the table's owner, run ALTER PUBLICATION %s ADD TABLE %s.%s (or CREATE PUBLICATION %s FOR TABLE %s.%s); or set %s",
			c.Schema, s.conf.Name, c.Publication, c.Publication, c.Schema, s.conf.Name, c.Publication, c.Schema, s.conf.Name, c.name(PublicationEnv))
	}
	return nil
}

// described returns the table as described for this landing, describing it now when
// the caller did not (a reader outside lake.Land).
func (s *Stream) described(ctx context.Context, cursor json.RawMessage) (*table, []string, error) {
	s.mu.Lock()
	t, added := s.table, s.added
	s.added = nil // reported once
	s.mu.Unlock()
	if t != nil {
		return t, added, nil
	}
	t, added, err := s.describe(ctx, cursor)
	if err != nil {
		return nil, nil, err
	}
	s.mu.Lock()
	s.table = t
	s.mu.Unlock()
	return t, added, nil
}

// NextPage reads the next page: a snapshot chunk, a batch of committed transactions,
// or a cursor-mode chunk.
func (s *Stream) NextPage(ctx context.Context, req source.PageRequest) (_ source.Page, err error) {
	defer func() { err = s.src.cfg.named(err) }()
	t, added, err := s.described(ctx, req.Cursor)
	if err != nil {
		return source.Page{}, err
	}
	pos, err := decodePosition(s.conf.Name, req.Cursor)
	if err != nil {
		return source.Page{}, err
	}
	var p source.Page
	switch {
	case s.conf.Mode == Cursor:
		p, err = s.cursorPage(ctx, t, pos, req)
	case pos == nil || pos.Phase == phaseSnapshot:
		p, err = s.snapshotPage(ctx, t, pos)
	default:
		p, err = s.changesPage(ctx, t, pos)
	}
	if err != nil {
		return source.Page{}, err
	}
	for _, a := range added {
		p.Warnings = append(p.Warnings, "postgres table "+s.src.cfg.Schema+"."+s.conf.Name+": new column "+a+" lands from this sync on")
	}
	return p, nil
}

// Committed advances the table's replication slot to the committed landing's end
// (see source.Acknowledger): PostgreSQL may then recycle the WAL before it.
func (s *Stream) Committed(ctx context.Context, cursor json.RawMessage) (err error) {
	defer func() { err = s.src.cfg.named(err) }()
	if s.conf.Mode != CDC {
		return nil
	}
	pos, err := decodePosition(s.conf.Name, cursor)
	if err != nil || pos == nil || pos.Phase != phaseCDC {
		// A snapshot's chunks are not changes: the slot stays where the snapshot
		// started until the snapshot is whole.
		return err
	}
	s.closeSession()
	slot := s.src.cfg.slot(s.conf.Name)
	// A session that just ended (ours, or a crashed attempt's) holds the slot until
	// its server process has exited: wait a little for it.
	wait := 10 * time.Millisecond
	for deadline := time.Now().Add(10 * time.Second); ; {
		// Only forward: advancing to a position the slot has passed is an error.
		_, err = s.src.db.Exec(ctx, `SELECT pg_replication_slot_advance(slot_name, $2::pg_lsn) FROM pg_replication_slots
			WHERE slot_name = $1 AND confirmed_flush_lsn < $2::pg_lsn`, slot, pos.LSN)
		if !isInUse(err) || time.Now().After(deadline) {
			return classify("postgres: advance slot "+slot, err)
		}
		if err := source.Sleep(ctx, wait); err != nil {
			return err
		}
		wait = min(2*wait, time.Second)
	}
}

// connString is the libpq keyword/value string for the database (it holds the
// password: never print it).
func (c *Config) connString() string {
	kv := []string{"host=" + quote(c.Host), "port=" + itoa(c.Port), "dbname=" + quote(c.Database),
		"user=" + quote(c.User), "password=" + quote(c.Password.Reveal()), "sslmode=" + c.SSLMode,
		"application_name=meshflow", "connect_timeout=30"}
	if c.SSLRootCert != "" {
		kv = append(kv, "sslrootcert="+quote(c.SSLRootCert))
	}
	return strings.Join(kv, " ")
}
