//go:build unix

package platform

import (
	"context"
	"database/sql"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/meshflow/meshflow/dev/sandbox/platformdb"
	"github.com/meshflow/meshflow/framework/flow/flowtest"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/source"
)

// Every raw input names a stream the source declares, so the products are checked
// without a database.
func TestRawInputsAreDeclared(t *testing.T) {
	d := Domain()
	declared := map[string]bool{}
	for _, c := range d.Sources {
		for _, st := range c.Streams {
			declared[c.Name+"."+st.Name] = len(st.Fields) > 2 && len(st.PrimaryKey) > 0 && st.Deleted != ""
		}
	}
	for _, p := range d.Products {
		for _, in := range p.Inputs {
			if in.IsRaw() && !declared[in.Source+"."+in.Stream] {
				t.Errorf("%s reads %s.%s, which platform_db does not declare with fields, a key and tombstones", p.Name, in.Source, in.Stream)
			}
		}
	}
}

// platformMesh is the platform domain (flowtest: RunProduct in Temporal's test
// environment, each run's landings its own) reading the sandbox's seeded cluster.
type platformMesh struct {
	*flowtest.Mesh
	t  *testing.T
	db *platformdb.DB
}

var clock = time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)

func startPlatform(t *testing.T) *platformMesh {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a PostgreSQL server (dev/pgcluster)")
	}
	conn := PlatformDB()
	sb, err := conn.Sandbox(source.SandboxOptions{Seed: 5, Now: func() time.Time { return clock },
		Companies: []source.SandboxCompany{{Name: "Acme", Domain: "ACME.example"}, {Name: "Globex", Domain: "globex.example"}, {Name: "Initech", Domain: "www.initech.example"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := sb.(io.Closer).Close(); err != nil {
			t.Error(err)
		}
	})
	vals := sb.Values("")
	if msg := vals[platformdb.StartError]; msg != "" {
		t.Fatal(msg)
	}
	db, _ := sb.(*platformdb.Sandbox).DB()
	src, err := conn.Open(vals)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.(interface{ Close() }).Close() })
	return &platformMesh{Mesh: flowtest.New(t, []mesh.Domain{Domain()}, map[string]source.Source{conn.Name: src}), t: t, db: db}
}

// port reads a published port as sorted rows of text.
func (p *platformMesh) port(product, columns string) []string {
	p.t.Helper()
	rs := p.Query(Name, product+"_v1", "SELECT concat_ws('|', "+columns+") FROM port")
	defer rs.Close()
	var out []string
	for rs.Next() {
		var s sql.NullString
		if err := rs.Scan(&s); err != nil {
			p.t.Fatal(err)
		}
		out = append(out, s.String)
	}
	slices.Sort(out)
	return out
}

// truth is the database's answer to query, as sorted rows of text: the ground truth.
func (p *platformMesh) truth(query string) []string {
	p.t.Helper()
	conn, err := pgx.Connect(context.Background(), p.db.AdminURI())
	if err != nil {
		p.t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(context.Background(), query)
	if err != nil {
		p.t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		p.t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// The products equal what the database holds, per account and UTC day, after the
// snapshot and again after changes read by change data capture — inserts, updates
// and deletes (a deleted signup or engagement no longer counts).
func TestProductsEqualTheDatabase(t *testing.T) {
	p := startPlatform(t)
	checks := []struct{ product, columns, truth string }{
		{"accounts", "account_id, name, web_domain, plan, users, company_gid IS NOT NULL",
			`SELECT concat_ws('|', account_id, name, lower(regexp_replace(web_domain, '^www\.', '', 'i')), plan,
				(SELECT count(*) FROM platform.users u WHERE u.account_id = a.account_id), 'true') FROM platform.accounts a`},
		{"signups_daily", "signup_date, account_id, signups, invited",
			`SELECT concat_ws('|', (signed_up_at AT TIME ZONE 'UTC')::date, account_id, count(*), count(*) FILTER (WHERE channel = 'invite'))
				FROM platform.signups GROUP BY (signed_up_at AT TIME ZONE 'UTC')::date, account_id`},
		{"engagement_daily", "activity_date, account_id, engagements, active_users, engaged_seconds",
			`SELECT concat_ws('|', (occurred_at AT TIME ZONE 'UTC')::date, account_id, count(*), count(DISTINCT user_id), sum(duration_seconds))
				FROM platform.engagements GROUP BY (occurred_at AT TIME ZONE 'UTC')::date, account_id`},
		{"users", "user_id, account_id, email, full_name, person_gid IS NOT NULL",
			`SELECT concat_ws('|', user_id, account_id, lower(email), full_name, 'true') FROM platform.users`},
		{"user_ids", "user_id, account_id, person_gid IS NOT NULL, company_gid IS NOT NULL",
			`SELECT concat_ws('|', user_id, account_id, 'true', 'true') FROM platform.users`},
		{"search_sessions", "session_id, user_id, account_id, search_date, results, clicks, dwell_seconds, duration_seconds, zero_results",
			`SELECT concat_ws('|', session_id, user_id, account_id, (started_at AT TIME ZONE 'UTC')::date, results, clicks, dwell_seconds,
				extract(epoch FROM ended_at - started_at)::bigint, (results = 0)::text) FROM platform.search_sessions`},
		{"talent_sourcing_funnel", "account_id, stage, stage_order, in_stage, reached, rejected",
			`SELECT concat_ws('|', a.account_id, s.stage, s.n, count(t.stage) FILTER (WHERE t.stage = s.stage AND NOT t.rejected),
				count(t.stage) FILTER (WHERE array_position($$` + stages + `$$::text[], t.stage) >= s.n),
				count(t.stage) FILTER (WHERE t.stage = s.stage AND t.rejected))
			FROM (SELECT DISTINCT account_id FROM platform.talent_sourcing) a
			CROSS JOIN unnest($$` + stages + `$$::text[]) WITH ORDINALITY AS s(stage, n)
			LEFT JOIN platform.talent_sourcing t ON t.account_id = a.account_id
			GROUP BY a.account_id, s.stage, s.n`},
		{"email_events", "event_id, message_id, user_id, recipient, template, kind, CAST(epoch(occurred_at) AS BIGINT)",
			`SELECT concat_ws('|', event_id, message_id, user_id, lower(recipient), template, kind, extract(epoch FROM occurred_at)::bigint) FROM platform.email_events`},
		{"notifications", "notification_id, user_id, account_id, channel, kind, CAST(epoch(created_at) AS BIGINT), CAST(epoch(read_at) AS BIGINT)",
			`SELECT concat_ws('|', notification_id, user_id, account_id, channel, kind, extract(epoch FROM created_at)::bigint,
				extract(epoch FROM read_at)::bigint) FROM platform.notifications`},
	}
	compare := func(when string) {
		t.Helper()
		for _, c := range checks {
			if res := p.Run(Name, c.product); res.Quality != "pass" {
				t.Fatalf("%s %s: quality %s (%v)", when, c.product, res.Quality, res.Warnings)
			}
			got, want := p.port(c.product, c.columns), p.truth(c.truth)
			if !slices.Equal(got, want) {
				t.Errorf("%s %s: the port has %d rows, the database %d:\n got %v\nwant %v", when, c.product, len(got), len(want), head(got), head(want))
			}
		}
	}
	compare("after the snapshot")
	followsBefore := p.truth(followsTruth)
	p.compareSocialGraph("after the snapshot", followsBefore, nil)

	ctx := context.Background()
	what, err := p.db.Change(ctx, 120)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(what, "deleted") || strings.Contains(what, " 0 deleted") || strings.Contains(what, " 0 updated") {
		t.Fatalf("the changes %q should insert, update and delete", what)
	}
	t.Log(what)
	compare("after changes")
	followsAfter := p.truth(followsTruth)
	var unfollowed []string
	for _, e := range followsBefore {
		if _, live := slices.BinarySearch(followsAfter, e); !live {
			unfollowed = append(unfollowed, e)
		}
	}
	if len(unfollowed) == 0 || len(followsAfter) <= len(followsBefore)-len(unfollowed) {
		t.Fatalf("the changes should follow and unfollow: %d edges before, %d after, %d ended", len(followsBefore), len(followsAfter), len(unfollowed))
	}
	p.compareSocialGraph("after changes", followsAfter, unfollowed)
}

// stages is the talent funnel's stages as a PostgreSQL array.
var stages = "{" + strings.Join(platformdb.Stages, ",") + "}"

// followsTruth is the database's edges, as social_graph's compareSocialGraph reads them.
const followsTruth = `SELECT concat_ws('|', follower_user_id, followed_user_id, extract(epoch FROM since)::bigint) FROM platform.follows`

// compareSocialGraph runs social_graph and checks that its active edges are live,
// the edges the database holds, and its ended ones ended, those it no longer holds.
func (p *platformMesh) compareSocialGraph(when string, live, ended []string) {
	p.t.Helper()
	if res := p.Run(Name, "social_graph"); res.Quality != "pass" {
		p.t.Fatalf("%s social_graph: quality %s (%v)", when, res.Quality, res.Warnings)
	}
	rows := p.port("social_graph", "follower_user_id, followed_user_id, CAST(epoch(since) AS BIGINT), active, until IS NULL")
	got := map[string][]string{}
	for _, r := range rows {
		edge, state, _ := strings.Cut(r, "|true|")
		if state == "" {
			edge, state, _ = strings.Cut(r, "|false|")
			state = "ended:" + state
		}
		got[state] = append(got[state], edge)
	}
	slices.Sort(got["true"])
	slices.Sort(got["ended:false"])
	// An active edge has no until; an ended one has one.
	if !slices.Equal(got["true"], live) || !slices.Equal(got["ended:false"], ended) || len(rows) != len(live)+len(ended) {
		p.t.Errorf("%s social_graph: %d active edges (want the database's %d) and %d ended (want %d):\n got %v\nwant %v\n rows %v",
			when, len(got["true"]), len(live), len(got["ended:false"]), len(ended), head(got["true"]), head(live), head(rows))
	}
}

func head(rows []string) []string { return rows[:min(len(rows), 8)] }
