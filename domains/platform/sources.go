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
