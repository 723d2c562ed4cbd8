package platform

import (
	"strconv"

	"github.com/meshflow/meshflow/connectors/postgres"
	"github.com/meshflow/meshflow/dev/sandbox/platformdb"
	"github.com/meshflow/meshflow/framework/source"
)

// platformDB declares the platform's own database as the domain reads it: the
// tables of its "platform" schema, by change data capture (deletes land as
// tombstones, which the raw views <source>.<stream> leave out).
var platformDB = postgres.Declared{
	Name:   "platform_db",
	Title:  "the platform's database",
	Prefix: "PLATFORM_DB",
	Schema: platformdb.Schema,
	Tables: []postgres.Table{
		{Name: "accounts", PrimaryKey: []string{"account_id"}, Fields: []source.Field{
			{Name: "account_id", Type: source.Int64, Doc: "The customer account's id in the platform."},
			{Name: "name", Type: source.String, Doc: "The account's (company's) name."},
			{Name: "web_domain", Type: source.String, Doc: "The company's website domain, as the account entered it."},
			{Name: "plan", Type: source.String, Doc: "Subscription plan: free, team, business or enterprise."},
			{Name: "created_at", Type: source.Timestamp, Doc: "When the account was created (UTC)."},
			{Name: "updated_at", Type: source.Timestamp, Doc: "When the account was last changed (UTC)."},
		}},
		{Name: "users", PrimaryKey: []string{"user_id"}, Fields: []source.Field{
			{Name: "user_id", Type: source.Int64, Doc: "The user's id in the platform."},
			{Name: "account_id", Type: source.Int64, Doc: "The account the user belongs to."},
			{Name: "email", Type: source.String, Doc: "The user's e-mail address. PII: a product exposing it is restricted."},
			{Name: "full_name", Type: source.String, Doc: "The user's name. PII: a product exposing it is restricted."},
			{Name: "created_at", Type: source.Timestamp, Doc: "When the user joined (UTC)."},
			{Name: "updated_at", Type: source.Timestamp, Doc: "When the user's record last changed (UTC)."},
		}},
		{Name: "signups", PrimaryKey: []string{"signup_id"}, Fields: []source.Field{
			{Name: "signup_id", Type: source.Int64, Doc: "The signup's id."},
			{Name: "account_id", Type: source.Int64, Doc: "The account signed up to."},
			{Name: "user_id", Type: source.Int64, Doc: "The user who signed up."},
			{Name: "channel", Type: source.String, Doc: "How the user came: organic, referral, paid_search or invite."},
			{Name: "signed_up_at", Type: source.Timestamp, Doc: "When (UTC)."},
		}},
		{Name: "engagements", PrimaryKey: []string{"engagement_id"}, Fields: []source.Field{
			{Name: "engagement_id", Type: source.Int64, Doc: "The event's id."},
			{Name: "user_id", Type: source.Int64, Doc: "The user who acted."},
			{Name: "account_id", Type: source.Int64, Doc: "The user's account."},
			{Name: "kind", Type: source.String, Doc: "What the user did: login, search, profile_view, message_sent, job_post."},
			{Name: "occurred_at", Type: source.Timestamp, Doc: "When (UTC)."},
			{Name: "duration_seconds", Type: source.Int64, Doc: "Seconds the user spent on it."},
		}},
		{Name: "follows", PrimaryKey: []string{"follower_user_id", "followed_user_id"}, Fields: []source.Field{
			{Name: "follower_user_id", Type: source.Int64, Doc: "The user who follows."},
			{Name: "followed_user_id", Type: source.Int64, Doc: "The user followed."},
			{Name: "since", Type: source.Timestamp, Doc: "When the follow began (UTC). An unfollow deletes the row; following again inserts a new one."},
		}},
		{Name: "search_sessions", PrimaryKey: []string{"session_id"}, Fields: []source.Field{
			{Name: "session_id", Type: source.Int64, Doc: "The search session's id."},
			{Name: "user_id", Type: source.Int64, Doc: "The user who searched."},
			{Name: "account_id", Type: source.Int64, Doc: "The user's account."},
			{Name: "query", Type: source.String, Doc: "The search as typed. Free text that may name people: no product exposes it."},
			{Name: "results", Type: source.Int64, Doc: "Results shown."},
			{Name: "clicks", Type: source.Int64, Doc: "Results the user opened."},
			{Name: "dwell_seconds", Type: source.Int64, Doc: "Seconds spent on the opened results (dwell time)."},
			{Name: "started_at", Type: source.Timestamp, Doc: "When the session began (UTC)."},
			{Name: "ended_at", Type: source.Timestamp, Doc: "When it ended (UTC); null while it is open."},
		}},
		{Name: "dwell_events", PrimaryKey: []string{"dwell_event_id"}, Fields: []source.Field{
			{Name: "dwell_event_id", Type: source.Int64, Doc: "The event's id."},
			{Name: "user_id", Type: source.Int64, Doc: "The user who stayed on the page."},
			{Name: "account_id", Type: source.Int64, Doc: "The user's account."},
			{Name: "page_kind", Type: source.String, Doc: "What the page shows: profile (page_id is a user), opportunity (an opportunity) or company (an account)."},
			{Name: "page_id", Type: source.Int64, Doc: "The user, opportunity or account the page shows."},
			{Name: "dwell_seconds", Type: source.Int64, Doc: "Seconds the user stayed on the page."},
			{Name: "occurred_at", Type: source.Timestamp, Doc: "When the visit began (UTC). Old events are purged (deleted)."},
		}},
		{Name: "opportunities", PrimaryKey: []string{"opportunity_id"}, Fields: []source.Field{
			{Name: "opportunity_id", Type: source.Int64, Doc: "The job opportunity's id."},
			{Name: "account_id", Type: source.Int64, Doc: "The account hiring."},
			{Name: "posted_by_user_id", Type: source.Int64, Doc: "The user who posted it."},
			{Name: "title", Type: source.String, Doc: "The job's title."},
			{Name: "status", Type: source.String, Doc: "open, filled or closed (without a hire). A withdrawn draft is deleted."},
			{Name: "opened_at", Type: source.Timestamp, Doc: "When it was posted (UTC)."},
			{Name: "closed_at", Type: source.Timestamp, Doc: "When it was filled or closed (UTC); null while open."},
			{Name: "updated_at", Type: source.Timestamp, Doc: "When it last changed (UTC)."},
		}},
		{Name: "talent_sourcing", PrimaryKey: []string{"candidate_id"}, Fields: []source.Field{
			{Name: "candidate_id", Type: source.Int64, Doc: "The candidate's id."},
			{Name: "account_id", Type: source.Int64, Doc: "The account sourcing the candidate."},
			{Name: "recruiter_user_id", Type: source.Int64, Doc: "The user who sourced them."},
			{Name: "candidate_name", Type: source.String, Doc: "The candidate's name. PII: a product exposing it is restricted."},
			{Name: "stage", Type: source.String, Doc: "The furthest funnel stage reached: sourced, contacted, replied, interviewed, offered, hired."},
			{Name: "rejected", Type: source.Bool, Doc: "True when the candidate left the funnel at that stage."},
			{Name: "sourced_at", Type: source.Timestamp, Doc: "When the candidate was sourced (UTC)."},
			{Name: "stage_changed_at", Type: source.Timestamp, Doc: "When the stage or rejection last changed (UTC)."},
		}},
		{Name: "email_events", PrimaryKey: []string{"event_id"}, Fields: []source.Field{
			{Name: "event_id", Type: source.Int64, Doc: "The event's id."},
			{Name: "message_id", Type: source.Int64, Doc: "The e-mail message the event is about; a message has several events."},
			{Name: "user_id", Type: source.Int64, Doc: "The user the message was sent to."},
			{Name: "recipient", Type: source.String, Doc: "The address it was sent to. PII: a product exposing it is restricted."},
			{Name: "template", Type: source.String, Doc: "The message's template: welcome, weekly_digest, new_message, password_reset."},
			{Name: "kind", Type: source.String, Doc: "sent, delivered, opened (once per open), bounced or complained (reported as spam)."},
			{Name: "occurred_at", Type: source.Timestamp, Doc: "When (UTC). Old messages' events are purged (deleted)."},
		}},
		{Name: "notifications", PrimaryKey: []string{"notification_id"}, Fields: []source.Field{
			{Name: "notification_id", Type: source.Int64, Doc: "The notification's id."},
			{Name: "user_id", Type: source.Int64, Doc: "The user notified."},
			{Name: "account_id", Type: source.Int64, Doc: "The user's account."},
			{Name: "channel", Type: source.String, Doc: "in_app, email or push."},
			{Name: "kind", Type: source.String, Doc: "new_follower, message, search_alert or candidate_update."},
			{Name: "created_at", Type: source.Timestamp, Doc: "When it was sent (UTC)."},
			{Name: "read_at", Type: source.Timestamp, Doc: "When the user read it (UTC); null while unread. A dismissed notification is deleted."},
		}},
	},
}

// PlatformDB is the platform_db source, which the platform domain alone reads
// (mesh.Domain.Sources): the declared database, with a seeded throwaway PostgreSQL
// cluster as its sandbox (dev/sandbox/platformdb).
func PlatformDB() source.Connector {
	c := platformDB.Connector()
	c.Open = platformdb.Open(c.Open)
	c.Sandbox = func(o source.SandboxOptions) (source.Sandbox, error) { return platformdb.New(o, sandboxValues), nil }
	return c
}

// sandboxValues point the connector at the sandbox's database, as its reader role.
func sandboxValues(db *platformdb.DB) source.Values {
	v := source.Values{
		platformDB.Env(postgres.HostEnv):        db.Host,
		platformDB.Env(postgres.DatabaseEnv):    db.Database,
		platformDB.Env(postgres.UserEnv):        db.User,
		platformDB.Env(postgres.PasswordEnv):    db.Password,
		platformDB.Env(postgres.SSLModeEnv):     "disable",
		platformDB.Env(postgres.PublicationEnv): platformdb.Publication,
		platformDB.Env(postgres.SlotPrefixEnv):  "meshflow",
	}
	if db.Port != 0 {
		v[platformDB.Env(postgres.PortEnv)] = strconv.Itoa(db.Port)
	}
	return v
}
