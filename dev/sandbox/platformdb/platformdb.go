// Package platformdb is the sandbox of the platform's own database: a throwaway
// PostgreSQL cluster (dev/pgcluster, wal_level=logical) seeded with a "platform"
// schema — accounts on the sandbox companies' web domains, their users, signups and
// engagements — and a generator of changes (inserts, updates, deletes), so that a
// second landing reads them through change data capture.
//
// The connector reads it as a role holding only LOGIN, SELECT on the tables and
// REPLICATION; the tables' owner (the cluster's superuser) creates the publication.
package platformdb

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/meshflow/meshflow/dev/pgcluster"
	"github.com/meshflow/meshflow/framework/source"
)

// Schema, tables, role and publication of the seeded database.
const (
	Schema      = "platform"
	Reader      = "meshflow_reader"
	Publication = "meshflow"
)

// Tables are the seeded tables, in the order they are created.
var Tables = []string{"accounts", "users", "signups", "engagements"}

// ddl creates the schema. Times are timestamptz (UTC on the way out); ids are the
// application's bigints.
var ddl = []string{
	"CREATE SCHEMA " + Schema,
	`CREATE TABLE platform.accounts (account_id bigint PRIMARY KEY, name text NOT NULL, web_domain text,
		plan text NOT NULL, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL)`,
	`CREATE TABLE platform.users (user_id bigint PRIMARY KEY, account_id bigint NOT NULL, email text NOT NULL,
		full_name text, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL)`,
	`CREATE TABLE platform.signups (signup_id bigint PRIMARY KEY, account_id bigint NOT NULL, user_id bigint NOT NULL,
		channel text NOT NULL, signed_up_at timestamptz NOT NULL)`,
	`CREATE TABLE platform.engagements (engagement_id bigint PRIMARY KEY, user_id bigint NOT NULL, account_id bigint NOT NULL,
		kind text NOT NULL, occurred_at timestamptz NOT NULL, duration_seconds integer NOT NULL)`,
}

// DB is a running, seeded database. Close stops it.
type DB struct {
	Host     string
	Port     int
	Database string
	User     string // Reader
	Password string // Reader's

	cluster *pgcluster.Cluster
	now     func() time.Time

	mu     sync.Mutex // one change at a time
	rng    *rand.Rand
	nextID int64 // ids of inserted rows, above the seed's
}

// fallbackCompanies are the accounts of a sandbox started without HubSpot's companies.
var fallbackCompanies = []source.SandboxCompany{
	{Name: "Acme Corp", Domain: "acme.example"}, {Name: "Globex", Domain: "globex.example"},
	{Name: "Initech", Domain: "initech.example"}, {Name: "Umbrella", Domain: "umbrella.example"},
	{Name: "Hooli", Domain: "hooli.example"}, {Name: "Vandelay Industries", Domain: "vandelay.example"},
}

// Start starts a cluster and seeds it from o (its Seed, Now and Companies). Without
// PostgreSQL's binaries the error says to run `make postgres`.
func Start(ctx context.Context, o source.SandboxOptions) (_ *DB, err error) {
	if _, err := pgcluster.BinDir(); err != nil {
		return nil, fmt.Errorf("the platform database's sandbox needs a PostgreSQL server: run `make postgres` (%v)", err)
	}
	c, err := pgcluster.Start(ctx, &pgcluster.Options{Database: "platform"})
	if err != nil {
		return nil, fmt.Errorf("the platform database's sandbox: %w", err)
	}
	defer func() {
		if err != nil {
			c.Stop()
		}
	}()
	now := o.Now
	if now == nil {
		now = time.Now
	}
	db := &DB{Host: c.Host, Port: c.Port, Database: c.Database, User: Reader, Password: fmt.Sprintf("reader-%d", o.Seed),
		cluster: c, now: now, rng: rand.New(rand.NewPCG(uint64(o.Seed), 0x706c6174)), nextID: 1_000_000}
	companies := o.Companies
	if len(companies) == 0 {
		companies = fallbackCompanies
	}
	if err := db.seed(ctx, companies); err != nil {
		return nil, fmt.Errorf("seed the platform database: %w", err)
	}
	return db, nil
}

// AdminURI is the superuser's connection URI, for tests' ground truth.
func (db *DB) AdminURI() string { return db.cluster.URI("", "", "") }

// Close stops the cluster and removes its files.
func (db *DB) Close() error { return db.cluster.Stop() }

var (
	plans       = []string{"free", "team", "business", "enterprise"}
	channels    = []string{"organic", "referral", "paid_search", "invite"}
	kinds       = []string{"login", "search", "profile_view", "message_sent", "job_post"}
	firstNames  = []string{"ada", "grace", "alan", "edsger", "barbara", "donald", "frances", "ken", "radia", "tim"}
	familyNames = []string{"lovelace", "hopper", "turing", "dijkstra", "liskov", "knuth", "allen", "thompson", "perlman", "lee"}
)

// seed creates the schema, the reader role and the publication, and inserts the
// accounts, users, signups and engagements.
func (db *DB) seed(ctx context.Context, companies []source.SandboxCompany) error {
	stmts := append([]string{}, ddl...)
	stmts = append(stmts,
		fmt.Sprintf("CREATE ROLE %s LOGIN REPLICATION PASSWORD '%s'", Reader, db.Password),
		"GRANT USAGE ON SCHEMA "+Schema+" TO "+Reader,
		"GRANT SELECT ON ALL TABLES IN SCHEMA "+Schema+" TO "+Reader,
		"CREATE PUBLICATION "+Publication+" FOR TABLE "+qualified(Tables...))
	if err := db.cluster.Exec(ctx, "", stmts...); err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, db.AdminURI())
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())

	now := db.now().UTC().Truncate(time.Second)
	r := db.rng
	var accounts, users, signups, engagements [][]any
	userID, engagementID := int64(0), int64(0)
	for i, c := range companies {
		accountID := int64(i + 1)
		created := now.Add(-time.Duration(60+r.IntN(300)) * 24 * time.Hour)
		accounts = append(accounts, []any{accountID, c.Name, strings.ToLower(c.Domain), plans[r.IntN(len(plans))], created, created})
		for range 2 + r.IntN(5) {
			userID++
			first, family := firstNames[r.IntN(len(firstNames))], familyNames[r.IntN(len(familyNames))]
			joined := now.Add(-time.Duration(r.IntN(60*24*60)) * time.Minute)
			users = append(users, []any{userID, accountID, fmt.Sprintf("%s.%s%d@%s", first, family, userID, strings.ToLower(c.Domain)),
				titled(first) + " " + titled(family), joined, joined})
			signups = append(signups, []any{userID, accountID, userID, channels[r.IntN(len(channels))], joined})
			for range r.IntN(16) {
				engagementID++
				at := now.Add(-time.Duration(r.IntN(30*24*60)) * time.Minute)
				engagements = append(engagements, []any{engagementID, userID, accountID, kinds[r.IntN(len(kinds))], at, int32(5 + r.IntN(1800))})
			}
		}
	}
	for _, t := range []struct {
		name string
		cols []string
		rows [][]any
	}{
		{"accounts", []string{"account_id", "name", "web_domain", "plan", "created_at", "updated_at"}, accounts},
		{"users", []string{"user_id", "account_id", "email", "full_name", "created_at", "updated_at"}, users},
		{"signups", []string{"signup_id", "account_id", "user_id", "channel", "signed_up_at"}, signups},
		{"engagements", []string{"engagement_id", "user_id", "account_id", "kind", "occurred_at", "duration_seconds"}, engagements},
	} {
		if _, err := conn.CopyFrom(ctx, pgx.Identifier{Schema, t.name}, t.cols, pgx.CopyFromRows(t.rows)); err != nil {
			return fmt.Errorf("seed %s: %w", t.name, err)
		}
	}
	return nil
}

// Change inserts, updates and deletes about n rows in one transaction, the way a
// day of the platform would — new engagements and signups, engagements and
// accounts edited, engagements and signups deleted — and says what it did.
func (db *DB) Change(ctx context.Context, n int) (string, error) {
	if n <= 0 {
		return "", nil
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	conn, err := pgx.Connect(ctx, db.AdminURI())
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	tx, err := conn.Begin(ctx)
	if err != nil {
		return "", err
	}
	defer tx.Rollback(context.Background())
	engagements, err := ids(ctx, tx, "SELECT engagement_id FROM platform.engagements ORDER BY 1")
	if err != nil {
		return "", err
	}
	users, err := ids(ctx, tx, "SELECT user_id FROM platform.users ORDER BY 1")
	if err != nil {
		return "", err
	}
	signups, err := ids(ctx, tx, "SELECT signup_id FROM platform.signups ORDER BY 1")
	if err != nil {
		return "", err
	}
	r, now := db.rng, db.now().UTC().Truncate(time.Second)
	inserted, updated, deleted := 0, 0, 0
	exec := func(sql string, args ...any) error {
		tag, err := tx.Exec(ctx, sql, args...)
		if err != nil {
			return fmt.Errorf("%s: %w", sql, err)
		}
		switch {
		case tag.Insert():
			inserted += int(tag.RowsAffected())
		case tag.Update():
			updated += int(tag.RowsAffected())
		case tag.Delete():
			deleted += int(tag.RowsAffected())
		}
		return nil
	}
	for i := range n {
		var err error
		switch {
		case i%10 == 9 && len(users) > 0:
			// A colleague joins an account: a user and a signup today.
			db.nextID++
			err = exec(`WITH u AS (SELECT account_id FROM platform.users WHERE user_id = $1)
				INSERT INTO platform.signups SELECT $2, account_id, $1, $3, $4 FROM u`, users[r.IntN(len(users))], db.nextID, channels[r.IntN(len(channels))], now)
		case i%4 < 2 && len(users) > 0:
			db.nextID++
			err = exec(`INSERT INTO platform.engagements SELECT $2, user_id, account_id, $3, $4, $5 FROM platform.users WHERE user_id = $1`,
				users[r.IntN(len(users))], db.nextID, kinds[r.IntN(len(kinds))], now.Add(-time.Duration(r.IntN(48*60))*time.Minute), 5+r.IntN(1800))
		case i%4 == 2 && len(engagements) > 0:
			err = exec("UPDATE platform.engagements SET duration_seconds = $2, kind = $3 WHERE engagement_id = $1",
				take(r, &engagements), 5+r.IntN(1800), kinds[r.IntN(len(kinds))])
		case i%20 == 7 && len(signups) > 0:
			err = exec("DELETE FROM platform.signups WHERE signup_id = $1", take(r, &signups))
		case len(engagements) > 0:
			err = exec("DELETE FROM platform.engagements WHERE engagement_id = $1", take(r, &engagements))
		}
		if err != nil {
			return "", err
		}
	}
	if err := exec("UPDATE platform.accounts SET plan = $1, updated_at = $2 WHERE account_id = (SELECT min(account_id) FROM platform.accounts)",
		plans[r.IntN(len(plans))], now); err != nil {
		return "", err
	}
	if err := tx.Commit(ctx); err != nil {
		return "", err
	}
	return fmt.Sprintf("changed %d platform database rows (%d inserted, %d updated, %d deleted)", inserted+updated+deleted, inserted, updated, deleted), nil
}

// ids reads a column of ids.
func ids(ctx context.Context, tx pgx.Tx, sql string) ([]int64, error) {
	rows, err := tx.Query(ctx, sql)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// take takes one id out of ids at random, so that no later change of the same call
// touches a row an earlier one deleted.
func take(r *rand.Rand, ids *[]int64) int64 {
	s := *ids
	i := r.IntN(len(s))
	id := s[i]
	s[i] = s[len(s)-1]
	*ids = s[:len(s)-1]
	return id
}

func qualified(tables ...string) string {
	out := make([]string, len(tables))
	for i, t := range tables {
		out[i] = Schema + "." + t
	}
	return strings.Join(out, ", ")
}

func titled(s string) string { return strings.ToUpper(s[:1]) + s[1:] }
