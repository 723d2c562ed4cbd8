package platform

import (
	_ "embed"

	"github.com/meshflow/meshflow/framework/mesh"
)

// The products of the platform's activity tables — follows, search sessions, talent
// sourcing — and the ports other domains build on without reading the platform's
// database (which the platform domain alone keeps): user_ids for identity,
// email_events and notifications for communications.

var (
	//go:embed models/social_graph.sql
	socialGraphSQL string
	//go:embed models/search_sessions.sql
	searchSessionsSQL string
	//go:embed models/talent_sourcing_funnel.sql
	talentFunnelSQL string
	//go:embed models/user_ids.sql
	userIDsSQL string
	//go:embed models/email_events.sql
	emailEventsSQL string
	//go:embed models/notifications.sql
	notificationsSQL string
)

func socialGraph() mesh.Product {
	return mesh.Product{
		Name: "social_graph",
		Description: "Who follows whom on the platform, one row per follow with since and until: an unfollow ends the edge (until is when the landing that read it ran), following again starts a new one. " +
			"Edges begun and ended between two landings are not seen.",
		UseCases: []string{
			"Measure network growth and churn: follows begun and ended per week.",
			"Find the accounts whose users follow each other's (cross-account edges) for expansion.",
		},
		Tags:    []string{"platform", "social", "graph", "postgres"},
		Version: "1.0.0",
		Inputs:  []mesh.Input{mesh.Raw("platform_db", "follows"), mesh.Raw("platform_db", "users")},
		Model:   socialGraphSQL,
		Schema: []mesh.Column{
			{Name: "follower_user_id", Type: mesh.Int64, Required: true, Doc: "The user who follows."},
			{Name: "followed_user_id", Type: mesh.Int64, Required: true, Doc: "The user followed."},
			{Name: "since", Type: mesh.Timestamp, Required: true, Doc: "When the follow began (UTC)."},
			{Name: "until", Type: mesh.Timestamp, Doc: "When the landing that read the unfollow ran (UTC): the unfollow happened before, after the previous landing. Null while the edge holds."},
			{Name: "active", Type: mesh.Bool, Required: true, Doc: "True while the edge holds (until is null)."},
			{Name: "follower_account_id", Type: mesh.Int64, Doc: "The follower's account; null when the user is gone."},
			{Name: "followed_account_id", Type: mesh.Int64, Doc: "The followed user's account; null when the user is gone."},
		},
		PrimaryKey:     []string{"follower_user_id", "followed_user_id", "since"},
		Classification: mesh.Internal,
		Checks: []mesh.Check{
			mesh.RowCount(1, 0),
			mesh.SQL("no_self_follow", "SELECT * FROM model WHERE follower_user_id = followed_user_id"),
			mesh.SQL("ends_after_start", "SELECT * FROM model WHERE until < since"),
			mesh.SQL("one_active_edge_per_pair", "SELECT follower_user_id, followed_user_id FROM model WHERE active GROUP BY ALL HAVING count(*) > 1").
				Describe("The database holds one row per pair, so at most one edge of a pair is active."),
		},
		Freshness: hourly,
		Cadence:   "@hourly",
	}
}

func searchSessions() mesh.Product {
	return mesh.Product{
		Name:        "search_sessions",
		Description: "The platform's search sessions with their length, results, clicks and dwell time (seconds on the opened results), without the query text. Deleted sessions disappear.",
		UseCases: []string{
			"Track search quality: zero-result sessions and dwell time per click, day over day.",
			"Compare search engagement per company_gid with revenue and usage.",
		},
		Tags:    []string{"platform", "search", "dwell", "postgres"},
		Version: "1.0.0",
		Inputs:  []mesh.Input{mesh.Raw("platform_db", "search_sessions"), mesh.Raw("platform_db", "accounts")},
		Model:   searchSessionsSQL,
		Schema: []mesh.Column{
			{Name: "session_id", Type: mesh.Int64, Required: true, Doc: "The session's id in the platform."},
			{Name: "user_id", Type: mesh.Int64, Required: true, Doc: "The user who searched."},
			{Name: "account_id", Type: mesh.Int64, Required: true, Doc: "The user's account."},
			{Name: "company_gid", Type: mesh.String, Doc: "Global company id of the account's website; null when the account is gone or has none."},
			{Name: "started_at", Type: mesh.Timestamp, Required: true, Doc: "When the session began (UTC)."},
			{Name: "ended_at", Type: mesh.Timestamp, Doc: "When it ended (UTC); null while it is open."},
			{Name: "search_date", Type: mesh.Date, Required: true, Doc: "The UTC day it began."},
			{Name: "duration_seconds", Type: mesh.Int64, Doc: "Seconds from start to end; null while open."},
			{Name: "results", Type: mesh.Int64, Required: true, Doc: "Results shown."},
			{Name: "clicks", Type: mesh.Int64, Required: true, Doc: "Results opened."},
			{Name: "dwell_seconds", Type: mesh.Int64, Required: true, Doc: "Seconds spent on the opened results (dwell time)."},
			{Name: "zero_results", Type: mesh.Bool, Required: true, Doc: "True when the search found nothing."},
		},
		PrimaryKey:     []string{"session_id"},
		Classification: mesh.Internal,
		Checks: []mesh.Check{
			mesh.RowCount(1, 0),
			mesh.SQL("clicks_within_results", "SELECT * FROM model WHERE clicks < 0 OR clicks > results"),
			mesh.SQL("dwell_needs_clicks", "SELECT * FROM model WHERE dwell_seconds < 0 OR (dwell_seconds > 0 AND clicks = 0)").
				Describe("Dwell time is time on opened results: none without a click."),
			mesh.SQL("ends_after_start", "SELECT * FROM model WHERE duration_seconds < 0"),
		},
		Freshness: hourly,
		Cadence:   "@hourly",
	}
}

func talentSourcingFunnel() mesh.Product {
	return mesh.Product{
		Name: "talent_sourcing_funnel",
		Description: "The talent-sourcing funnel per account and stage (sourced, contacted, replied, interviewed, offered, hired): candidates in the stage now, having reached it, rejected at it, and the conversion from the stage before. " +
			"Over the candidates the database holds now; no candidate names.",
		UseCases: []string{
			"See where each customer's hiring funnel leaks, for customer success.",
			"Compare conversion to hire across plans and companies (company_gid).",
		},
		Tags:    []string{"platform", "talent", "funnel", "postgres"},
		Version: "1.0.0",
		Inputs:  []mesh.Input{mesh.Raw("platform_db", "talent_sourcing"), mesh.Raw("platform_db", "accounts")},
		Model:   talentFunnelSQL,
		Schema: []mesh.Column{
			{Name: "account_id", Type: mesh.Int64, Required: true, Doc: "The account sourcing."},
			{Name: "company_gid", Type: mesh.String, Doc: "Global company id of the account's website; null when the account is gone or has none."},
			{Name: "stage", Type: mesh.String, Required: true, Doc: "The funnel stage: sourced, contacted, replied, interviewed, offered, hired."},
			{Name: "stage_order", Type: mesh.Int64, Required: true, Doc: "The stage's place in the funnel, 1 (sourced) to 6 (hired)."},
			{Name: "in_stage", Type: mesh.Int64, Required: true, Doc: "Candidates at this stage now and not rejected (for hired: hired)."},
			{Name: "reached", Type: mesh.Int64, Required: true, Doc: "Candidates who reached this stage or a later one, rejected or not."},
			{Name: "rejected", Type: mesh.Int64, Required: true, Doc: "Candidates rejected at this stage."},
			{Name: "conversion_from_previous", Type: mesh.Float64, Doc: "reached over the previous stage's reached; null for sourced or when none reached the previous stage."},
		},
		PrimaryKey:     []string{"account_id", "stage"},
		Classification: mesh.Internal,
		Checks: []mesh.Check{
			mesh.RowCount(1, 0),
			mesh.AcceptedValues("stage", "sourced", "contacted", "replied", "interviewed", "offered", "hired"),
			mesh.SQL("funnel_narrows", "SELECT * FROM model WHERE conversion_from_previous > 1 OR in_stage + rejected > reached").
				Describe("No stage holds more candidates than the one before it."),
		},
		Freshness: hourly,
		Cadence:   "@hourly",
	}
}

func userIDs() mesh.Product {
	return mesh.Product{
		Name:        "user_ids",
		Description: "The platform's users with their person_gid and their account's company_gid, and no e-mail address or name: the port the identity domain maps to person_gid. Deleted users disappear.",
		UseCases: []string{
			"Map platform users to people of other systems on person_gid (identity.person_ids).",
			"Count users per company_gid without access to their addresses.",
		},
		Tags:    []string{"platform", "people", "global-id", "postgres"},
		Version: "1.0.0",
		Inputs:  []mesh.Input{mesh.Raw("platform_db", "users"), mesh.Raw("platform_db", "accounts")},
		Model:   userIDsSQL,
		Schema: []mesh.Column{
			{Name: "user_id", Type: mesh.Int64, Required: true, Doc: "The user's id in the platform."},
			{Name: "account_id", Type: mesh.Int64, Required: true, Doc: "The user's account."},
			{Name: "person_gid", Type: mesh.String, Doc: "Global person id of the e-mail address (framework/globalid's person_gid); null when it does not parse."},
			{Name: "company_gid", Type: mesh.String, Doc: "Global company id of the account's website."},
			{Name: "created_at", Type: mesh.Timestamp, Required: true, Doc: "When the user joined (UTC)."},
			{Name: "updated_at", Type: mesh.Timestamp, Required: true, Doc: "When the user's record last changed (UTC)."},
		},
		PrimaryKey:     []string{"user_id"},
		Classification: mesh.Internal,
		Checks: []mesh.Check{
			mesh.RowCount(1, 0),
			mesh.SQL("has_person_gid", "SELECT * FROM model WHERE person_gid IS NULL").AsWarn().
				Describe("A user whose address does not parse joins no other system's people."),
		},
		Freshness: hourly,
		Cadence:   "@hourly",
	}
}

func emailEvents() mesh.Product {
	return mesh.Product{
		Name:        "email_events",
		Description: "Every e-mail event the platform's database holds (sent, delivered, opened, bounced, complained) with the recipient's address (PII: restricted). Purged messages disappear.",
		UseCases: []string{
			"Build the e-mail audit (communications.email_audit): each message's lifecycle.",
			"Investigate a user's deliverability problem (by those allowed to).",
		},
		Tags:    []string{"platform", "email", "pii", "postgres"},
		Version: "1.0.0",
		Inputs:  []mesh.Input{mesh.Raw("platform_db", "email_events")},
		Model:   emailEventsSQL,
		Schema: []mesh.Column{
			{Name: "event_id", Type: mesh.Int64, Required: true, Doc: "The event's id in the platform."},
			{Name: "message_id", Type: mesh.Int64, Required: true, Doc: "The message the event is about."},
			{Name: "user_id", Type: mesh.Int64, Required: true, Doc: "The user the message was sent to."},
			{Name: "recipient", Type: mesh.String, Doc: "The address, normalised (framework/globalid's email_address). PII."},
			{Name: "person_gid", Type: mesh.String, Doc: "Global person id of the address."},
			{Name: "template", Type: mesh.String, Required: true, Doc: "The message's template."},
			{Name: "kind", Type: mesh.String, Required: true, Doc: "sent, delivered, opened, bounced or complained."},
			{Name: "occurred_at", Type: mesh.Timestamp, Required: true, Doc: "When (UTC)."},
		},
		PrimaryKey:     []string{"event_id"},
		Classification: mesh.Restricted,
		AllowedGroups:  []string{"platform-data", "communications"},
		Checks: []mesh.Check{
			mesh.RowCount(1, 0),
			mesh.AcceptedValues("kind", "sent", "delivered", "opened", "bounced", "complained"),
		},
		Freshness: hourly,
		Cadence:   "@hourly",
	}
}

func notifications() mesh.Product {
	return mesh.Product{
		Name:        "notifications",
		Description: "The notifications the platform's database holds, with channel, kind, when sent and read. Dismissed notifications disappear.",
		UseCases: []string{
			"Count notifications and reads per day and channel (communications.notifications_daily).",
			"Find users flooded with unread notifications.",
		},
		Tags:    []string{"platform", "notifications", "postgres"},
		Version: "1.0.0",
		Inputs:  []mesh.Input{mesh.Raw("platform_db", "notifications"), mesh.Raw("platform_db", "accounts")},
		Model:   notificationsSQL,
		Schema: []mesh.Column{
			{Name: "notification_id", Type: mesh.Int64, Required: true, Doc: "The notification's id in the platform."},
			{Name: "user_id", Type: mesh.Int64, Required: true, Doc: "The user notified."},
			{Name: "account_id", Type: mesh.Int64, Required: true, Doc: "The user's account."},
			{Name: "company_gid", Type: mesh.String, Doc: "Global company id of the account's website."},
			{Name: "channel", Type: mesh.String, Required: true, Doc: "in_app, email or push."},
			{Name: "kind", Type: mesh.String, Required: true, Doc: "new_follower, message, search_alert or candidate_update."},
			{Name: "created_at", Type: mesh.Timestamp, Required: true, Doc: "When it was sent (UTC)."},
			{Name: "read_at", Type: mesh.Timestamp, Doc: "When it was read (UTC); null while unread."},
		},
		PrimaryKey:     []string{"notification_id"},
		Classification: mesh.Internal,
		Checks: []mesh.Check{
			mesh.RowCount(1, 0),
			mesh.AcceptedValues("channel", "in_app", "email", "push"),
			mesh.SQL("read_after_sent", "SELECT * FROM model WHERE read_at < created_at"),
		},
		Freshness: hourly,
		Cadence:   "@hourly",
	}
}
