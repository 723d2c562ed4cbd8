package port

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/apache/iceberg-go/table"

	"github.com/meshflow/meshflow/framework/errs"
)

// defaultMaxAttempts bounds commits on a stale base. Each lost race means another
// publisher landed a snapshot, so eight attempts cover far more concurrent writers to
// one table than a port has (one per partition being backfilled, at most a few).
const defaultMaxAttempts = 8

// commit is the one way this package commits to a table. It builds a transaction on
// the table's latest metadata and commits it; when another writer committed first it
// reloads the table and builds again. Rebuilding, not resubmitting, is the point: a
// transaction planned on an old snapshot (which files an overwrite deletes, which
// columns to add) is wrong on the new one. iceberg-go's own refresh-and-replay
// (commit.retry.num-retries) is no substitute: it runs only on table.ErrCommitFailed,
// which the SQL catalog seldom returns for a stale base (see isStale), and it keeps the
// files the winner added, which under snapshot isolation would survive a whole-table
// overwrite.
//
// build stages the changes on a new transaction of tbl and wraps its errors with a
// kind. A base still stale after the last attempt is errs.Conflict.
func (c *Catalog) commit(ctx context.Context, op string, id TableID, tbl *table.Table,
	build func(ctx context.Context, tbl *table.Table, attempt int) (*table.Transaction, error)) (*table.Table, error) {
	return c.retryStale(ctx, op, id, tbl, func(ctx context.Context, tbl *table.Table, attempt int) (func() (*table.Table, error), error) {
		txn, err := build(ctx, tbl, attempt)
		if err != nil {
			return nil, err
		}
		return func() (*table.Table, error) { return txn.Commit(ctx) }, nil
	})
}

// commitUpdates is commit for a change no Transaction method stages (removing chosen
// snapshots): build returns the requirements and updates for tbl's metadata, committed
// through the catalog with the same reload-and-rebuild on a stale base. No updates
// commit nothing.
func (c *Catalog) commitUpdates(ctx context.Context, op string, id TableID, tbl *table.Table,
	build func(tbl *table.Table) ([]table.Requirement, []table.Update, error)) (*table.Table, error) {
	return c.retryStale(ctx, op, id, tbl, func(ctx context.Context, tbl *table.Table, _ int) (func() (*table.Table, error), error) {
		reqs, updates, err := build(tbl)
		if err != nil || len(updates) == 0 {
			return func() (*table.Table, error) { return tbl, nil }, err
		}
		return func() (*table.Table, error) {
			if _, _, err := c.cat.CommitTable(ctx, id.ident(), reqs, updates); err != nil {
				return nil, err
			}
			return c.cat.LoadTable(ctx, id.ident())
		}, nil
	})
}

// retryStale is the loop of commit and commitUpdates: prepare builds an attempt on
// tbl's latest metadata and returns what commits it.
func (c *Catalog) retryStale(ctx context.Context, op string, id TableID, tbl *table.Table,
	prepare func(ctx context.Context, tbl *table.Table, attempt int) (func() (*table.Table, error), error)) (*table.Table, error) {
	var stale error
	for attempt := range c.maxAttempts {
		if attempt > 0 {
			if err := sleep(ctx, backoff(attempt)); err != nil {
				return nil, errs.E(errs.Canceled, op, err)
			}
			fresh, err := c.loadTable(ctx, id)
			if err != nil {
				return nil, errs.E(kindOf(err), op, err)
			}
			tbl = fresh
		}
		commitAttempt, err := prepare(ctx, tbl, attempt)
		if err != nil {
			if _, ok := errs.As(err); ok {
				return nil, err
			}
			return nil, errs.E(kindOf(err), op, err)
		}
		if c.beforeCommit != nil {
			c.beforeCommit(id, attempt)
		}
		committed, err := commitAttempt()
		if err == nil {
			c.remember(id, committed) // the next load of the table parses nothing
			return committed, nil
		}
		if !isStale(err) {
			// The catalog may or may not have accepted the commit: retrying could
			// apply it twice, so the caller (a Temporal activity) decides.
			return nil, errs.E(kindOf(err), op, err)
		}
		stale = err
	}
	return nil, errs.E(errs.Conflict, op, fmt.Errorf("table changed under each of %d commit attempts: %w", c.maxAttempts, stale))
}

// isStale reports whether a commit failed only because its base was no longer the
// table's latest state, so nothing was written and a rebuilt commit may succeed.
//
// iceberg-go's SQL catalog checks the transaction's requirements against the metadata
// it loads and reports a violation as a plain error — "requirement failed: branch
// main has changed: expected id …", "Requirement failed: current schema id has
// changed" (sic, capital R), "branch main was created concurrently" — not as
// table.ErrCommitFailed, which it returns only when the metadata pointer moved between
// that load and its UPDATE. A locked SQLite database rolled the write back, and so did
// a PostgreSQL serialization failure or deadlock (SQLSTATE 40001, 40P01) that outlasted
// the catalog's own three quick retries.
func isStale(err error) bool {
	if errors.Is(err, table.ErrCommitFailed) || errors.Is(err, table.ErrCommitDiverged) {
		return true
	}
	var pg interface{ SQLState() string }
	if errors.As(err, &pg) && (pg.SQLState() == "40001" || pg.SQLState() == "40P01") {
		return true
	}
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "requirement failed") ||
		strings.Contains(msg, "database is locked") ||
		strings.Contains(msg, "sqlite_busy")
}

// backoff grows from ~25 ms to at most ~1 s with jitter, so two losers of the same
// race do not collide again in lockstep.
func backoff(attempt int) time.Duration {
	d := min(25*time.Millisecond<<(attempt-1), time.Second)
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}
