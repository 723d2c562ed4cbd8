//go:build unix

package platform

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/meshflow/meshflow/dev/sandbox/platformdb"
	"github.com/meshflow/meshflow/domains/platform/platformtest"
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

// The products equal what the database holds, per account and UTC day, after the
// snapshot and again after changes read by change data capture — inserts, updates
// and deletes (a deleted signup or engagement no longer counts).
func TestProductsEqualTheDatabase(t *testing.T) {
	p := platformtest.Start(t, PlatformDB(), Domain())
	checks := []platformtest.Check{
		platformtest.Same(Name, "accounts", "account_id, name, web_domain, plan, users, company_gid IS NOT NULL",
			`SELECT concat_ws('|', account_id, name, lower(regexp_replace(web_domain, '^www\.', '', 'i')), plan,
				(SELECT count(*) FROM platform.users u WHERE u.account_id = a.account_id), 'true') FROM platform.accounts a`),
		platformtest.Same(Name, "signups_daily", "signup_date, account_id, signups, invited",
			`SELECT concat_ws('|', (signed_up_at AT TIME ZONE 'UTC')::date, account_id, count(*), count(*) FILTER (WHERE channel = 'invite'))
				FROM platform.signups GROUP BY (signed_up_at AT TIME ZONE 'UTC')::date, account_id`),
		platformtest.Same(Name, "engagement_daily", "activity_date, account_id, engagements, active_users, engaged_seconds",
			`SELECT concat_ws('|', (occurred_at AT TIME ZONE 'UTC')::date, account_id, count(*), count(DISTINCT user_id), sum(duration_seconds))
				FROM platform.engagements GROUP BY (occurred_at AT TIME ZONE 'UTC')::date, account_id`),
		platformtest.Same(Name, "users", "user_id, account_id, email, full_name, person_gid IS NOT NULL",
			`SELECT concat_ws('|', user_id, account_id, lower(email), full_name, 'true') FROM platform.users`),
		platformtest.Same(Name, "user_ids", "user_id, account_id, person_gid IS NOT NULL, company_gid IS NOT NULL",
			`SELECT concat_ws('|', user_id, account_id, 'true', 'true') FROM platform.users`),
		platformtest.Same(Name, "search_sessions", "session_id, user_id, account_id, search_date, results, clicks, dwell_seconds, duration_seconds, zero_results",
			`SELECT concat_ws('|', session_id, user_id, account_id, (started_at AT TIME ZONE 'UTC')::date, results, clicks, dwell_seconds,
				extract(epoch FROM ended_at - started_at)::bigint, (results = 0)::text) FROM platform.search_sessions`),
		platformtest.Same(Name, "opportunities", "opportunity_id, account_id, posted_by_user_id, title, status, days_open, views, viewers, dwell_seconds, company_gid IS NOT NULL",
			`SELECT concat_ws('|', o.opportunity_id, o.account_id, o.posted_by_user_id, o.title, o.status,
				(o.closed_at AT TIME ZONE 'UTC')::date - (o.opened_at AT TIME ZONE 'UTC')::date,
				count(d.dwell_event_id), count(DISTINCT d.user_id), coalesce(sum(d.dwell_seconds), 0), 'true')
			FROM platform.opportunities o LEFT JOIN platform.dwell_events d ON d.page_kind = 'opportunity' AND d.page_id = o.opportunity_id
			GROUP BY o.opportunity_id`),
		platformtest.Same(Name, "dwell_daily", "dwell_date, account_id, page_kind, views, viewers, dwell_seconds, longest_dwell_seconds",
			`SELECT concat_ws('|', (occurred_at AT TIME ZONE 'UTC')::date, account_id, page_kind, count(*), count(DISTINCT user_id),
				sum(dwell_seconds), max(dwell_seconds))
				FROM platform.dwell_events GROUP BY (occurred_at AT TIME ZONE 'UTC')::date, account_id, page_kind`),
		platformtest.Same(Name, "talent_sourcing_funnel", "account_id, stage, stage_order, in_stage, reached, rejected",
			`SELECT concat_ws('|', a.account_id, s.stage, s.n, count(t.stage) FILTER (WHERE t.stage = s.stage AND NOT t.rejected),
				count(t.stage) FILTER (WHERE array_position($$`+stages+`$$::text[], t.stage) >= s.n),
				count(t.stage) FILTER (WHERE t.stage = s.stage AND t.rejected))
			FROM (SELECT DISTINCT account_id FROM platform.talent_sourcing) a
			CROSS JOIN unnest($$`+stages+`$$::text[]) WITH ORDINALITY AS s(stage, n)
			LEFT JOIN platform.talent_sourcing t ON t.account_id = a.account_id
			GROUP BY a.account_id, s.stage, s.n`),
		platformtest.Same(Name, "email_events", "event_id, message_id, user_id, recipient, template, kind, CAST(epoch(occurred_at) AS BIGINT)",
			`SELECT concat_ws('|', event_id, message_id, user_id, lower(recipient), template, kind, extract(epoch FROM occurred_at)::bigint) FROM platform.email_events`),
		platformtest.Same(Name, "notifications", "notification_id, user_id, account_id, channel, kind, CAST(epoch(created_at) AS BIGINT), CAST(epoch(read_at) AS BIGINT)",
			`SELECT concat_ws('|', notification_id, user_id, account_id, channel, kind, extract(epoch FROM created_at)::bigint,
				extract(epoch FROM read_at)::bigint) FROM platform.notifications`),
	}
	p.Compare("after the snapshot", checks)
	followsBefore := p.Truth(followsTruth)
	compareSocialGraph(t, p, "after the snapshot", followsBefore, nil)

	ctx := context.Background()
	what, err := p.DB.Change(ctx, 120)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(what, "deleted") || strings.Contains(what, " 0 deleted") || strings.Contains(what, " 0 updated") {
		t.Fatalf("the changes %q should insert, update and delete", what)
	}
	t.Log(what)
	p.Compare("after changes", checks)
	followsAfter := p.Truth(followsTruth)
	var unfollowed []string
	for _, e := range followsBefore {
		if _, live := slices.BinarySearch(followsAfter, e); !live {
			unfollowed = append(unfollowed, e)
		}
	}
	if len(unfollowed) == 0 || len(followsAfter) <= len(followsBefore)-len(unfollowed) {
		t.Fatalf("the changes should follow and unfollow: %d edges before, %d after, %d ended", len(followsBefore), len(followsAfter), len(unfollowed))
	}
	compareSocialGraph(t, p, "after changes", followsAfter, unfollowed)
}

// stages is the talent funnel's stages as a PostgreSQL array.
var stages = "{" + strings.Join(platformdb.Stages, ",") + "}"

// followsTruth is the database's edges, as social_graph's compareSocialGraph reads them.
const followsTruth = `SELECT concat_ws('|', follower_user_id, followed_user_id, extract(epoch FROM since)::bigint) FROM platform.follows`

// compareSocialGraph runs social_graph and checks that its active edges are live,
// the edges the database holds, and its ended ones ended, those it no longer holds.
func compareSocialGraph(t *testing.T, p *platformtest.Mesh, when string, live, ended []string) {
	t.Helper()
	p.RunPassing(when, Name, "social_graph")
	rows := p.Port(Name, "social_graph", "follower_user_id, followed_user_id, CAST(epoch(since) AS BIGINT), active, until IS NULL")
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
		t.Errorf("%s social_graph: %d active edges (want the database's %d) and %d ended (want %d):\n got %v\nwant %v\n rows %v",
			when, len(got["true"]), len(live), len(got["ended:false"]), len(ended), platformtest.Head(got["true"]), platformtest.Head(live), platformtest.Head(rows))
	}
}
