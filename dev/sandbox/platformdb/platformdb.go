// Package platformdb is the sandbox of the platform's own database: a throwaway
// PostgreSQL cluster (dev/pgcluster, wal_level=logical) seeded with a "platform"
// schema — accounts on the sandbox companies' web domains, their users, signups and
// engagements, who follows whom, search sessions, time spent on pages (dwell
// events), job opportunities, talent sourcing, e-mails and notifications — and a generator of changes (inserts, updates, deletes), so that a
// second landing reads them through change data capture.
//
// The connector reads it as a role holding only LOGIN, SELECT on the tables and
// REPLICATION; the tables' owner (the cluster's superuser) creates the publication.
package platformdb

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
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
var Tables = []string{"accounts", "users", "signups", "engagements",
	"follows", "search_sessions", "dwell_events", "opportunities", "talent_sourcing", "email_events", "notifications"}

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
	// One row per live edge: an unfollow deletes it, a follow back inserts it anew.
	`CREATE TABLE platform.follows (follower_user_id bigint NOT NULL, followed_user_id bigint NOT NULL,
		since timestamptz NOT NULL, PRIMARY KEY (follower_user_id, followed_user_id))`,
	// ended_at is null while the session is open; dwell is the time spent on the
	// results the user opened.
	`CREATE TABLE platform.search_sessions (session_id bigint PRIMARY KEY, user_id bigint NOT NULL, account_id bigint NOT NULL,
		query text NOT NULL, results integer NOT NULL, clicks integer NOT NULL, dwell_seconds integer NOT NULL,
		started_at timestamptz NOT NULL, ended_at timestamptz)`,
	// One row per page a user stayed on: a profile (page_id a user), an opportunity
	// (an opportunity) or a company page (an account). Old events are purged.
	`CREATE TABLE platform.dwell_events (dwell_event_id bigint PRIMARY KEY, user_id bigint NOT NULL, account_id bigint NOT NULL,
		page_kind text NOT NULL, page_id bigint NOT NULL, dwell_seconds integer NOT NULL, occurred_at timestamptz NOT NULL)`,
	// Job openings the accounts post: open until filled or closed; a draft posted
	// by mistake is deleted.
	`CREATE TABLE platform.opportunities (opportunity_id bigint PRIMARY KEY, account_id bigint NOT NULL,
		posted_by_user_id bigint NOT NULL, title text NOT NULL, status text NOT NULL, opened_at timestamptz NOT NULL,
		closed_at timestamptz, updated_at timestamptz NOT NULL)`,
	// A candidate's furthest stage so far; rejected when they left the funnel there.
	`CREATE TABLE platform.talent_sourcing (candidate_id bigint PRIMARY KEY, account_id bigint NOT NULL,
		recruiter_user_id bigint NOT NULL, candidate_name text NOT NULL, stage text NOT NULL, rejected boolean NOT NULL,
		sourced_at timestamptz NOT NULL, stage_changed_at timestamptz NOT NULL)`,
	`CREATE TABLE platform.email_events (event_id bigint PRIMARY KEY, message_id bigint NOT NULL, user_id bigint NOT NULL,
		recipient text NOT NULL, template text NOT NULL, kind text NOT NULL, occurred_at timestamptz NOT NULL)`,
	`CREATE TABLE platform.notifications (notification_id bigint PRIMARY KEY, user_id bigint NOT NULL, account_id bigint NOT NULL,
		channel text NOT NULL, kind text NOT NULL, created_at timestamptz NOT NULL, read_at timestamptz)`,
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

// Start starts a cluster and seeds it from o (its Seed, Now and Companies). With
// o.StateDir the cluster lives in its platformdb folder: a restarted stack finds the
// database, and the replication slots the lake's cursors point into, as it left them
// (no new seed). Without PostgreSQL's binaries the error says to run `make postgres`.
func Start(ctx context.Context, o source.SandboxOptions) (_ *DB, err error) {
	if _, err := pgcluster.BinDir(); err != nil {
		return nil, fmt.Errorf("the platform database's sandbox needs a PostgreSQL server: run `make postgres` (%v)", err)
	}
	opts := &pgcluster.Options{Database: "platform"}
	if o.StateDir != "" {
		opts.Dir = filepath.Join(o.StateDir, "platformdb")
	}
	c, err := pgcluster.Start(ctx, opts)
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
	if c.Reused {
		// The generator's ids go on above every id the database holds.
		if err := db.resumeIDs(ctx); err != nil {
			return nil, fmt.Errorf("the platform database kept in %s did not start as it was (%v): remove that folder to seed a new one, and run the platform products with --full-refresh", opts.Dir, err)
		}
		return db, nil
	}
	companies := o.Companies
	if len(companies) == 0 {
		companies = fallbackCompanies
	}
	if err := db.seed(ctx, companies); err != nil {
		return nil, fmt.Errorf("seed the platform database: %w", err)
	}
	return db, nil
}

// resumeIDs moves the generator's next id above the largest id of a kept database.
func (db *DB) resumeIDs(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, db.AdminURI())
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var top int64
	q := `SELECT greatest((SELECT max(engagement_id) FROM platform.engagements), (SELECT max(signup_id) FROM platform.signups),
		(SELECT max(session_id) FROM platform.search_sessions), (SELECT max(candidate_id) FROM platform.talent_sourcing),
		(SELECT max(event_id) FROM platform.email_events), (SELECT max(message_id) FROM platform.email_events),
		(SELECT max(notification_id) FROM platform.notifications), (SELECT max(opportunity_id) FROM platform.opportunities),
		(SELECT max(dwell_event_id) FROM platform.dwell_events), 0)`
	if err := conn.QueryRow(ctx, q).Scan(&top); err != nil {
		return err
	}
	db.nextID = max(db.nextID, top)
	return nil
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
	queries     = []string{"go engineer", "data analyst berlin", "product manager remote", "sre kubernetes", "designer", "sales lead"}
	// Stages are the talent funnel's, in order; Stages[0] is where every candidate starts.
	Stages         = []string{"sourced", "contacted", "replied", "interviewed", "offered", "hired"}
	templates      = []string{"welcome", "weekly_digest", "new_message", "password_reset"}
	notifyChannels = []string{"in_app", "email", "push"}
	notifyKinds    = []string{"new_follower", "message", "search_alert", "candidate_update"}
	// PageKinds are what a dwell event's page_id names: a user, an opportunity, an account.
	PageKinds = []string{"profile", "opportunity", "company"}
	// OpportunityStatuses: open until filled or closed without a hire.
	OpportunityStatuses = []string{"open", "filled", "closed"}
	jobTitles           = []string{"Backend Engineer", "Data Analyst", "Product Manager", "Site Reliability Engineer", "Product Designer", "Account Executive"}
)

// E-mail events, in the order a message's lifecycle goes.
const (
	EmailSent       = "sent"
	EmailDelivered  = "delivered"
	EmailOpened     = "opened"
	EmailBounced    = "bounced"
	EmailComplained = "complained"
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
	var people []person
	userID, engagementID := int64(0), int64(0)
	for i, c := range companies {
		accountID := int64(i + 1)
		created := now.Add(-time.Duration(60+r.IntN(300)) * 24 * time.Hour)
		accounts = append(accounts, []any{accountID, c.Name, strings.ToLower(c.Domain), plans[r.IntN(len(plans))], created, created})
		for range 2 + r.IntN(5) {
			userID++
			first, family := firstNames[r.IntN(len(firstNames))], familyNames[r.IntN(len(familyNames))]
			joined := now.Add(-time.Duration(r.IntN(60*24*60)) * time.Minute)
			email := fmt.Sprintf("%s.%s%d@%s", first, family, userID, strings.ToLower(c.Domain))
			users = append(users, []any{userID, accountID, email, titled(first) + " " + titled(family), joined, joined})
			people = append(people, person{userID, accountID, email})
			signups = append(signups, []any{userID, accountID, userID, channels[r.IntN(len(channels))], joined})
			for range r.IntN(16) {
				engagementID++
				at := now.Add(-time.Duration(r.IntN(30*24*60)) * time.Minute)
				engagements = append(engagements, []any{engagementID, userID, accountID, kinds[r.IntN(len(kinds))], at, int32(5 + r.IntN(1800))})
			}
		}
	}
	rows := map[string][][]any{"accounts": accounts, "users": users, "signups": signups, "engagements": engagements}
	db.seedActivity(rows, people, now)
	for _, name := range Tables {
		cols := columns[name]
		if _, err := conn.CopyFrom(ctx, pgx.Identifier{Schema, name}, cols, pgx.CopyFromRows(rows[name])); err != nil {
			return fmt.Errorf("seed %s: %w", name, err)
		}
	}
	return nil
}

// columns are each table's columns in the order the seed's rows hold them.
var columns = map[string][]string{
	"accounts":        {"account_id", "name", "web_domain", "plan", "created_at", "updated_at"},
	"users":           {"user_id", "account_id", "email", "full_name", "created_at", "updated_at"},
	"signups":         {"signup_id", "account_id", "user_id", "channel", "signed_up_at"},
	"engagements":     {"engagement_id", "user_id", "account_id", "kind", "occurred_at", "duration_seconds"},
	"follows":         {"follower_user_id", "followed_user_id", "since"},
	"search_sessions": {"session_id", "user_id", "account_id", "query", "results", "clicks", "dwell_seconds", "started_at", "ended_at"},
	"talent_sourcing": {"candidate_id", "account_id", "recruiter_user_id", "candidate_name", "stage", "rejected", "sourced_at", "stage_changed_at"},
	"email_events":    {"event_id", "message_id", "user_id", "recipient", "template", "kind", "occurred_at"},
	"notifications":   {"notification_id", "user_id", "account_id", "channel", "kind", "created_at", "read_at"},
	"dwell_events":    {"dwell_event_id", "user_id", "account_id", "page_kind", "page_id", "dwell_seconds", "occurred_at"},
	"opportunities":   {"opportunity_id", "account_id", "posted_by_user_id", "title", "status", "opened_at", "closed_at", "updated_at"},
}

// person is a seeded user, as the activity tables refer to them.
type person struct {
	userID, accountID int64
	email             string
}

// seedActivity adds to rows the follows between users, their search sessions, the
// opportunities their accounts post, the pages they stay on, the candidates their
// accounts source, the e-mails sent to them and their notifications.
// Ids start at 1 per table; the change generator's are above 1,000,000.
func (db *DB) seedActivity(rows map[string][][]any, people []person, now time.Time) {
	r := db.rng
	ago := func(maxMinutes int) time.Time { return now.Add(-time.Duration(1+r.IntN(maxMinutes)) * time.Minute) }
	followed := map[[2]int64]bool{}
	var sessionID, candidateID, eventID, messageID, notificationID, opportunityID, dwellID int64
	for _, p := range people {
		if r.IntN(3) == 0 {
			opportunityID++
			rows["opportunities"] = append(rows["opportunities"], opportunity(r, opportunityID, p, ago(90*24*60), now))
		}
		for range r.IntN(6) {
			dwellID++
			rows["dwell_events"] = append(rows["dwell_events"], dwellEvent(r, dwellID, p, people, opportunityID, ago(30*24*60)))
		}
		for range r.IntN(4) {
			other := people[r.IntN(len(people))].userID
			if edge := [2]int64{p.userID, other}; other != p.userID && !followed[edge] {
				followed[edge] = true
				rows["follows"] = append(rows["follows"], []any{p.userID, other, ago(90 * 24 * 60)})
			}
		}
		for range r.IntN(5) {
			sessionID++
			rows["search_sessions"] = append(rows["search_sessions"], searchSession(r, sessionID, p, ago(30*24*60)))
		}
		for range r.IntN(3) {
			candidateID++
			rows["talent_sourcing"] = append(rows["talent_sourcing"], candidate(r, candidateID, p, ago(60*24*60), now))
		}
		for range r.IntN(4) {
			messageID++
			// An hour back at least, so that the whole lifecycle lies in the past.
			for _, e := range emailLifecycle(r, messageID, p, ago(30*24*60).Add(-time.Hour)) {
				eventID++
				rows["email_events"] = append(rows["email_events"], append([]any{eventID}, e...))
			}
		}
		for range r.IntN(6) {
			notificationID++
			rows["notifications"] = append(rows["notifications"], notification(r, notificationID, p, ago(14*24*60), now))
		}
	}
}

// searchSession is a finished session that began at start: results shown, clicks on
// them and seconds spent on the clicked ones.
func searchSession(r *rand.Rand, id int64, p person, start time.Time) []any {
	results := r.IntN(40)
	clicks := 0
	if results > 0 {
		clicks = r.IntN(min(results, 6) + 1)
	}
	dwell := clicks * (10 + r.IntN(120))
	end := start.Add(time.Duration(dwell+5+r.IntN(60)) * time.Second)
	return []any{id, p.userID, p.accountID, queries[r.IntN(len(queries))], int32(results), int32(clicks), int32(dwell), start, end}
}

// opportunity is a job the person posted for their account at opened: open, or
// filled or closed since.
func opportunity(r *rand.Rand, id int64, p person, opened, now time.Time) []any {
	status := OpportunityStatuses[r.IntN(len(OpportunityStatuses))]
	var closed any
	updated := opened
	if status != "open" {
		updated = opened.Add(time.Duration(r.Int64N(int64(now.Sub(opened)) + 1)))
		closed = updated
	}
	return []any{id, p.accountID, p.userID, jobTitles[r.IntN(len(jobTitles))], status, opened, closed, updated}
}

// dwellEvent is the person staying on a page at at: another user's profile, one of
// the opportunities up to lastOpportunity, or an account's company page.
func dwellEvent(r *rand.Rand, id int64, p person, people []person, lastOpportunity int64, at time.Time) []any {
	kind := PageKinds[r.IntN(len(PageKinds))]
	var page int64
	switch {
	case kind == "opportunity" && lastOpportunity > 0:
		page = 1 + r.Int64N(lastOpportunity)
	case kind == "company":
		page = people[r.IntN(len(people))].accountID
	default:
		kind, page = "profile", people[r.IntN(len(people))].userID
	}
	return []any{id, p.userID, p.accountID, kind, page, int32(1 + r.IntN(600)), at}
}

// candidate is a candidate the person's account sourced at sourced, somewhere along
// the funnel now.
func candidate(r *rand.Rand, id int64, p person, sourced, now time.Time) []any {
	stage := r.IntN(len(Stages))
	rejected := stage < len(Stages)-1 && r.IntN(3) == 0
	changed := sourced.Add(time.Duration(r.Int64N(int64(now.Sub(sourced)) + 1)))
	name := titled(firstNames[r.IntN(len(firstNames))]) + " " + titled(familyNames[r.IntN(len(familyNames))])
	return []any{id, p.accountID, p.userID, name, Stages[stage], rejected, sourced, changed}
}

// emailLifecycle is a message's events from sent on, without their ids: delivered or
// bounced, then opened some times, perhaps reported as spam.
func emailLifecycle(r *rand.Rand, message int64, p person, sent time.Time) [][]any {
	template := templates[r.IntN(len(templates))]
	at := sent
	event := func(kind string) []any {
		e := []any{message, p.userID, p.email, template, kind, at}
		at = at.Add(time.Duration(1+r.IntN(600)) * time.Second)
		return e
	}
	out := [][]any{event(EmailSent)}
	if r.IntN(10) == 0 {
		return append(out, event(EmailBounced))
	}
	out = append(out, event(EmailDelivered))
	for range r.IntN(3) {
		out = append(out, event(EmailOpened))
	}
	if r.IntN(10) == 0 { // far above a real list's rate, so that a small seed has some
		out = append(out, event(EmailComplained))
	}
	return out
}

// notification is one sent to the person at created, read by now or not yet.
func notification(r *rand.Rand, id int64, p person, created, now time.Time) []any {
	var read any
	if r.IntN(3) > 0 {
		read = created.Add(time.Duration(r.Int64N(int64(now.Sub(created)) + 1)))
	}
	return []any{id, p.userID, p.accountID, notifyChannels[r.IntN(len(notifyChannels))], notifyKinds[r.IntN(len(notifyKinds))], created, read}
}

// Change inserts, updates and deletes about n rows in one transaction, the way a
// day of the platform would — new engagements and signups, engagements and
// accounts edited, engagements and signups deleted; half of them follows and
// unfollows, search sessions begun, ended and deleted, candidates sourced and moved
// along the funnel, e-mails sent, opened and purged, notifications sent, read and
// dismissed, opportunities posted, filled, closed and withdrawn, pages dwelt on and
// old dwell events purged — and says what it did.
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
	for i := range n - n/2 {
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
	if err := db.changeActivity(ctx, tx, exec, users, n/2, now); err != nil {
		return "", err
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

// changeActivity makes n changes to the activity tables (follows, search sessions,
// talent sourcing, e-mail events, notifications, opportunities, dwell events)
// through exec, in tx.
func (db *DB) changeActivity(ctx context.Context, tx pgx.Tx, exec func(string, ...any) error, users []int64, n int, now time.Time) error {
	if n == 0 || len(users) == 0 {
		return nil
	}
	lists := map[string][]int64{}
	for name, q := range map[string]string{
		"sessions":      "SELECT session_id FROM platform.search_sessions ORDER BY 1",
		"candidates":    "SELECT candidate_id FROM platform.talent_sourcing WHERE NOT rejected AND stage <> 'hired' ORDER BY 1",
		"messages":      "SELECT DISTINCT message_id FROM platform.email_events ORDER BY 1",
		"notifications": "SELECT notification_id FROM platform.notifications ORDER BY 1",
		"open jobs":     "SELECT opportunity_id FROM platform.opportunities WHERE status = 'open' ORDER BY 1",
		"dwell":         "SELECT dwell_event_id FROM platform.dwell_events ORDER BY 1",
	} {
		l, err := ids(ctx, tx, q)
		if err != nil {
			return err
		}
		lists[name] = l
	}
	type edge = struct{ Follower, Followed int64 }
	rows, err := tx.Query(ctx, "SELECT follower_user_id, followed_user_id FROM platform.follows ORDER BY 1, 2")
	if err != nil {
		return err
	}
	edges, err := pgx.CollectRows(rows, pgx.RowToStructByPos[edge])
	if err != nil {
		return err
	}
	unfollowed := map[edge]bool{} // not followed again in this call: see take
	r := db.rng
	user := func() int64 { return users[r.IntN(len(users))] }
	next := func() int64 { db.nextID++; return db.nextID }
	some := func(name string) (int64, bool) {
		l := lists[name]
		if len(l) == 0 {
			return 0, false
		}
		id := take(r, &l)
		lists[name] = l
		return id, true
	}
	for i := range n {
		var err error
		switch i % 12 {
		case 0: // a follow (none when the edge exists)
			if e := (edge{user(), user()}); !unfollowed[e] {
				err = exec(`INSERT INTO platform.follows SELECT $1::bigint, $2::bigint, $3::timestamptz WHERE $1::bigint <> $2::bigint ON CONFLICT DO NOTHING`,
					e.Follower, e.Followed, now)
			}
		case 1: // an unfollow
			if len(edges) > 0 {
				e := take(r, &edges)
				unfollowed[e] = true
				err = exec("DELETE FROM platform.follows WHERE follower_user_id = $1 AND followed_user_id = $2", e.Follower, e.Followed)
			}
		case 2: // a search begins
			err = exec(`INSERT INTO platform.search_sessions SELECT $2, user_id, account_id, $3, $4, 0, 0, $5, NULL FROM platform.users WHERE user_id = $1`,
				user(), next(), queries[r.IntN(len(queries))], r.IntN(40), now.Add(-time.Duration(r.IntN(30))*time.Minute))
		case 3: // a search ends after more clicks, or is deleted
			if id, ok := some("sessions"); ok && i%20 == 13 {
				err = exec("DELETE FROM platform.search_sessions WHERE session_id = $1", id)
			} else if ok {
				err = exec(`UPDATE platform.search_sessions SET clicks = least(results, clicks + $2),
					dwell_seconds = dwell_seconds + CASE WHEN results > 0 THEN $3 ELSE 0 END,
					ended_at = coalesce(ended_at, $4) WHERE session_id = $1`, id, 1+r.IntN(3), 10+r.IntN(300), now)
			}
		case 4: // a candidate moves one stage on, or is rejected
			if id, ok := some("candidates"); ok && r.IntN(4) == 0 {
				err = exec("UPDATE platform.talent_sourcing SET rejected = true, stage_changed_at = $2 WHERE candidate_id = $1", id, now)
			} else if ok {
				err = exec(`UPDATE platform.talent_sourcing SET stage = ($2::text[])[array_position($2::text[], stage) + 1], stage_changed_at = $3
					WHERE candidate_id = $1`, id, Stages, now)
			}
		case 5: // a candidate is sourced
			err = exec(`INSERT INTO platform.talent_sourcing SELECT $2, account_id, user_id, $3, $4, false, $5, $5 FROM platform.users WHERE user_id = $1`,
				user(), next(), titled(firstNames[r.IntN(len(firstNames))])+" "+titled(familyNames[r.IntN(len(familyNames))]), Stages[0], now)
		case 6: // an e-mail is sent and delivered
			message, sent := next(), now.Add(-time.Minute)
			err = exec(`INSERT INTO platform.email_events SELECT $2::bigint + k, $3::bigint, user_id, email, $4::text, (ARRAY[$5::text, $6::text])[k + 1], $7::timestamptz + k * interval '10 seconds'
				FROM platform.users, generate_series(0, 1) AS k WHERE user_id = $1`, user(), next(), message, templates[r.IntN(len(templates))], EmailSent, EmailDelivered, sent)
			db.nextID++ // the second event's id
		case 7: // a delivered e-mail is opened or reported as spam; an old one is purged
			kind := EmailOpened
			if r.IntN(5) == 0 {
				kind = EmailComplained
			}
			if id, ok := some("messages"); ok && i%30 == 7 {
				err = exec("DELETE FROM platform.email_events WHERE message_id = $1", id)
			} else if ok {
				err = exec(`INSERT INTO platform.email_events SELECT $2, message_id, user_id, recipient, template, $3, $4
					FROM platform.email_events WHERE message_id = $1 AND kind = $5`, id, next(), kind, now, EmailDelivered)
			}
		case 8: // a notification is sent
			err = exec(`INSERT INTO platform.notifications SELECT $2, user_id, account_id, $3, $4, $5, NULL FROM platform.users WHERE user_id = $1`,
				user(), next(), notifyChannels[r.IntN(len(notifyChannels))], notifyKinds[r.IntN(len(notifyKinds))], now)
		case 9: // a notification is read, or dismissed
			if id, ok := some("notifications"); ok && r.IntN(3) == 0 {
				err = exec("DELETE FROM platform.notifications WHERE notification_id = $1", id)
			} else if ok {
				err = exec("UPDATE platform.notifications SET read_at = $2 WHERE notification_id = $1 AND read_at IS NULL", id, now)
			}
		case 10: // an opportunity is posted, or an open one filled, closed or withdrawn (deleted)
			id, ok := some("open jobs")
			switch n := r.IntN(4); {
			case !ok || n == 0:
				err = exec(`INSERT INTO platform.opportunities SELECT $2, account_id, user_id, $3, 'open', $4, NULL, $4 FROM platform.users WHERE user_id = $1`,
					user(), next(), jobTitles[r.IntN(len(jobTitles))], now)
			case n == 1:
				err = exec("DELETE FROM platform.opportunities WHERE opportunity_id = $1", id)
			default:
				err = exec("UPDATE platform.opportunities SET status = $2, closed_at = $3, updated_at = $3 WHERE opportunity_id = $1",
					id, OpportunityStatuses[n-1], now)
			}
		case 11: // a user stays on a page, or an old dwell event is purged
			if id, ok := some("dwell"); ok && r.IntN(8) == 0 {
				err = exec("DELETE FROM platform.dwell_events WHERE dwell_event_id = $1", id)
			} else {
				kind := PageKinds[r.IntN(len(PageKinds))]
				err = exec(`INSERT INTO platform.dwell_events SELECT $2, user_id, account_id, $3,
					CASE $3 WHEN 'company' THEN account_id WHEN 'opportunity' THEN coalesce((SELECT max(opportunity_id) FROM platform.opportunities), 0) ELSE $6::bigint END,
					$4, $5 FROM platform.users WHERE user_id = $1`, user(), next(), kind, 1+r.IntN(600), now.Add(-time.Duration(r.IntN(60))*time.Minute), user())
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
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
func take[T any](r *rand.Rand, ids *[]T) T {
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
