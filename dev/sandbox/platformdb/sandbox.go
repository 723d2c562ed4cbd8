package platformdb

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/source"
)

// StartError is the in-process setting (source.Values) under which a Sandbox's
// Values carry why its database did not start; the connector's Open (see Open)
// returns it, so the run that would read the database says what to fix.
const StartError = "platformdb.start_error"

// Sandbox is the database as a source.Sandbox. The cluster starts when the
// connector's values are first asked for (a stack pointing the connector at it),
// not when the composite sandbox is built: tools that only list the sandboxes
// (compose-env, the flag registry) start no server. Close stops it.
type Sandbox struct {
	opts  source.SandboxOptions
	point func(*DB) source.Values

	once    sync.Once
	db      *DB
	err     error
	started atomic.Pointer[DB] // db, once started: ChangeSome and Close may come from other goroutines
}

// New returns the sandbox for opts; point makes the connector's values for a
// running database (host, port, database, the reader's credentials).
func New(opts source.SandboxOptions, point func(*DB) source.Values) *Sandbox {
	return &Sandbox{opts: opts, point: point}
}

// DB starts the database once and returns it.
func (s *Sandbox) DB() (*DB, error) {
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		s.db, s.err = Start(ctx, s.opts)
		if s.err == nil {
			s.started.Store(s.db)
		}
	})
	return s.db, s.err
}

// ServeHTTP answers that the database is no HTTP API: the connector reaches it on
// its own port (Values).
func (s *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "the platform database's sandbox is a PostgreSQL server, reached on its own port (see the connector's values), not over HTTP", http.StatusNotFound)
}

// Values start the database and point the connector at it; baseURL is not used.
// When it cannot start they carry the reason under StartError.
func (s *Sandbox) Values(string) source.Values {
	db, err := s.DB()
	if err != nil {
		v := s.point(&DB{Password: "unstarted"}) // configured, so that the run says why it cannot read
		v[StartError] = err.Error()
		return v
	}
	return s.point(db)
}

// ChangeSome changes about n rows of a started database (source.Imitation's
// Changes); nil before it started.
func (s *Sandbox) ChangeSome(n int) []string {
	db := s.started.Load()
	if db == nil {
		return nil
	}
	what, err := db.Change(context.Background(), n)
	if err != nil {
		return []string{fmt.Sprintf("could not change the platform database: %v", err)}
	}
	if what == "" {
		return nil
	}
	return []string{what}
}

// LocalOnly says the sandbox is a server on this machine, which the composite
// sandbox's HTTP root does not serve to other machines (compose's sandbox service).
func (s *Sandbox) LocalOnly() bool { return true }

// Close stops the database if it started.
func (s *Sandbox) Close() error {
	s.once.Do(func() { s.err = errs.Errorf(errs.Invalid, "platform database sandbox", "the sandbox is closed") })
	db := s.started.Swap(nil)
	if db == nil {
		return nil
	}
	return db.Close()
}

// Open wraps a connector's Open: values carrying StartError fail with it.
func Open(open func(source.Values) (source.Source, error)) func(source.Values) (source.Source, error) {
	return func(v source.Values) (source.Source, error) {
		if msg := v.Get(StartError); msg != "" {
			return nil, errs.Errorf(errs.Invalid, "platform database sandbox", "%s", msg)
		}
		return open(v)
	}
}
