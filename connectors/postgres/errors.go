package postgres

import (
	"context"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/meshflow/meshflow/framework/errs"
)

// classify wraps a database error once with its kind: refused credentials and
// missing privileges are not retried; a lost connection, a server shutting down or
// a serialization conflict are transient.
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	var e *errs.Error
	if errors.As(err, &e) {
		return err
	}
	if errors.Is(err, context.Canceled) {
		return errs.E(errs.Canceled, op, err)
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch {
		case pg.Code == "28P01" || pg.Code == "28000":
			// The variables are named by the source's Config.named (a declared source
			// reads them under its own prefix).
			return errs.E(errs.Permission, op, &fixVars{what: "PostgreSQL refused the credentials (" + pg.Message + ")", vars: []string{UserEnv, PasswordEnv}})
		case pg.Code == "42501":
			return errs.Errorf(errs.Permission, op, "%s: the role needs SELECT on the tables and the REPLICATION attribute (see the connector's doc for the GRANTs)", pg.Message)
		case pg.Code == "3D000":
			return errs.E(errs.Invalid, op, &fixVars{what: pg.Message, vars: []string{DatabaseEnv}})
		case pg.Code == "55006" || pg.Code == "40001" || pg.Code == "40P01" || pg.Code == "53300" || pg.Code[:2] == "57" || pg.Code[:2] == "08":
			// object in use (a slot another connection holds), conflicts, too many
			// connections, shutdown, connection failures
			return errs.E(errs.Transient, op, err)
		case pg.Code[:2] == "42" || pg.Code[:2] == "22":
			return errs.E(errs.Invalid, op, err)
		}
		return errs.E(errs.Internal, op, err)
	}
	// Connection failures, timeouts, a server going away: worth another attempt.
	return errs.E(errs.Transient, op, err)
}

// fixVars is a refusal the connector's variables fix: vars are the generic
// connector's names until Config.named writes those the source reads.
type fixVars struct {
	what  string
	vars  []string
	named bool
}

func (f *fixVars) Error() string { return f.what + ": fix " + strings.Join(f.vars, " and ") }

// named names, in err, the variables this source reads for those a refusal's fix
// names (PLATFORM_DB_PASSWORD for POSTGRES_PASSWORD): every error leaving the
// source passes here once.
func (c *Config) named(err error) error {
	var f *fixVars
	if errors.As(err, &f) && !f.named {
		for i, v := range f.vars {
			f.vars[i] = c.name(v)
		}
		f.named = true
	}
	return err
}

func isNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }

// isDuplicate reports a "already exists" error (a slot another attempt created).
func isDuplicate(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && pg.Code == "42710"
}

// isInUse reports a slot held by another connection (object_in_use).
func isInUse(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && pg.Code == "55006"
}
