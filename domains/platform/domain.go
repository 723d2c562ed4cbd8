// Package platform is the platform domain: the company's own product data — customer
// accounts, their users, signups and engagement, who follows whom, search sessions,
// time on pages (dwell), job opportunities, talent sourcing, e-mails and
// notifications — read from the platform's database by change data capture (a
// source the domain keeps for itself, platform_db). The platform data team owns it.
package platform

import (
	"embed"
	"time"

	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/source"
)

// Name is the domain's name; its workers poll the task queue "meshflow.platform".
const Name = "platform"

var (
	//go:embed models/accounts.sql
	accountsSQL string
	//go:embed models/users.sql
	usersSQL string
	//go:embed models/signups_daily.sql
	signupsDailySQL string
	//go:embed models/engagement_daily.sql
	engagementDailySQL string
)

// folder is the domain's folder as the build embeds it: `mesh check` names a
// model's file and line, and finds a .sql file no product uses.
//
//go:embed models
var folder embed.FS

// Domain declares the platform domain and its products.
func Domain() mesh.Domain {
	return mesh.Domain{
		Name:        Name,
		Files:       folder,
		Owner:       "platform-data",
		Contact:     "#platform-data",
		Description: "The platform's own data: customer accounts, their users, signups and engagement, the social graph, search sessions and dwell time, job opportunities, talent sourcing, e-mails and notifications, from the platform's database.",
		Products: []mesh.Product{accounts(), users(), signupsDaily(), engagementDaily(),
			socialGraph(), searchSessions(), dwellDaily(), opportunities(), talentSourcingFunnel(), userIDs(), emailEvents(), notifications()},
		Sources: []source.Connector{PlatformDB()},
	}
}

// hourly: change data capture makes a landing cheap, so the ports follow the
// database within the hour.
var hourly = mesh.Freshness{WarnAfter: 2 * time.Hour, FailAfter: 6 * time.Hour}

func accounts() mesh.Product {
	return mesh.Product{
		Name: "accounts",
		Description: "The platform's customer accounts as the database holds them now, with plan, live users and the company_gid of their website. " +
			"Deleted accounts disappear.",
		UseCases: []string{
			"Join platform usage to CRM companies, funding and finance on company_gid.",
			"Count accounts per plan, and users per account, for customer success.",
		},
		Tags:    []string{"platform", "accounts", "postgres"},
		Version: "1.0.0",
		Inputs:  []mesh.Input{mesh.Raw("platform_db", "accounts"), mesh.Raw("platform_db", "users")},
		Model:   accountsSQL,
		Schema: []mesh.Column{
			{Name: "account_id", Type: mesh.Int64, Required: true, Doc: "The account's id in the platform."},
			{Name: "name", Type: mesh.String, Required: true, Doc: "The account's (company's) name."},
			{Name: "web_domain", Type: mesh.String, Doc: "The website domain the account entered, normalised (framework/globalid's web_domain); null without one."},
			{Name: "company_gid", Type: mesh.String, Doc: "Global company id of the website (framework/globalid's company_gid), as in marketing.crm_companies; null without a website.", Tags: []string{"company-gid"}},
			{Name: "plan", Type: mesh.String, Required: true, Doc: "Subscription plan: free, team, business or enterprise."},
			{Name: "created_at", Type: mesh.Timestamp, Required: true, Doc: "When the account was created (UTC)."},
			{Name: "updated_at", Type: mesh.Timestamp, Required: true, Doc: "When the account last changed (UTC)."},
			{Name: "users", Type: mesh.Int64, Required: true, Doc: "Users the account has now."},
		},
		PrimaryKey:     []string{"account_id"},
		Classification: mesh.Internal,
		Checks: []mesh.Check{
			mesh.RowCount(1, 0),
			mesh.AcceptedValues("plan", "free", "team", "business", "enterprise"),
			mesh.SQL("company_gid_from_shared_macro", "SELECT * FROM model WHERE company_gid IS DISTINCT FROM company_gid(web_domain)").
				Describe("The global id is the shared macro's, so the rows join every other domain's."),
			mesh.SQL("has_web_domain", "SELECT * FROM model WHERE web_domain IS NULL").AsWarn().
				Describe("Accounts without a website cannot be matched to other systems."),
		},
		Freshness: hourly,
		Cadence:   "@hourly",
	}
}

func users() mesh.Product {
	return mesh.Product{
		Name: "users",
		Description: "The platform's users with e-mail address and name (PII: restricted), their person_gid and their account's company_gid. " +
			"Deleted users disappear.",
		UseCases: []string{
			"Map platform users to people in the CRM and support on person_gid.",
			"Reach an account's users for customer success (by those allowed to).",
		},
		Tags:    []string{"platform", "people", "pii", "postgres"},
		Version: "1.0.0",
		Inputs:  []mesh.Input{mesh.Raw("platform_db", "users"), mesh.Raw("platform_db", "accounts")},
		Model:   usersSQL,
		Schema: []mesh.Column{
			{Name: "user_id", Type: mesh.Int64, Required: true, Doc: "The user's id in the platform."},
			{Name: "account_id", Type: mesh.Int64, Required: true, Doc: "The user's account."},
			{Name: "email", Type: mesh.String, Doc: "E-mail address, normalised (framework/globalid's email_address).", Tags: mesh.PII(mesh.TagEmail)},
			{Name: "full_name", Type: mesh.String, Doc: "The user's name.", Tags: mesh.PII(mesh.TagName)},
			{Name: "person_gid", Type: mesh.String, Doc: "Global person id of the e-mail address (framework/globalid's person_gid).", Tags: []string{"person-gid"}},
			{Name: "company_gid", Type: mesh.String, Doc: "Global company id of the account's website.", Tags: []string{"company-gid"}},
			{Name: "created_at", Type: mesh.Timestamp, Required: true, Doc: "When the user joined (UTC)."},
		},
		PrimaryKey:     []string{"user_id"},
		Classification: mesh.Restricted,
		AllowedGroups:  []string{"platform-data", "customer-success"},
		Checks: []mesh.Check{
			mesh.RowCount(1, 0),
			mesh.SQL("has_email", "SELECT * FROM model WHERE email IS NULL").AsWarn().
				Describe("A user whose address does not parse has no person_gid and joins nothing."),
		},
		Freshness: hourly,
		Cadence:   "@hourly",
	}
}

func signupsDaily() mesh.Product {
	return mesh.Product{
		Name:        "signups_daily",
		Description: "Signups per account and UTC day, with those that came by invitation. Deleted signups are not counted.",
		UseCases: []string{
			"Track growth of accounts week over week, and invitation-led growth.",
			"Join signups to marketing campaigns and CRM companies on company_gid.",
		},
		Tags:    []string{"platform", "signups", "growth", "postgres"},
		Version: "1.0.0",
		Inputs:  []mesh.Input{mesh.Raw("platform_db", "signups"), mesh.Raw("platform_db", "accounts")},
		Model:   signupsDailySQL,
		Schema: []mesh.Column{
			{Name: "signup_date", Type: mesh.Date, Required: true, Doc: "The UTC day of the signups."},
			{Name: "account_id", Type: mesh.Int64, Required: true, Doc: "The account signed up to."},
			{Name: "company_gid", Type: mesh.String, Doc: "Global company id of the account's website; null when the account is gone or has none.", Tags: []string{"company-gid"}},
			{Name: "signups", Type: mesh.Int64, Required: true, Doc: "Signups that day."},
			{Name: "invited", Type: mesh.Int64, Required: true, Doc: "Of those, signups by invitation."},
		},
		PrimaryKey:     []string{"signup_date", "account_id"},
		Classification: mesh.Internal,
		Checks: []mesh.Check{
			mesh.RowCount(1, 0),
			mesh.SQL("positive_signups", "SELECT * FROM model WHERE signups <= 0 OR invited > signups"),
			mesh.SQL("not_in_future", "SELECT * FROM model WHERE signup_date > current_date + 1"),
		},
		Freshness: hourly,
		Cadence:   "@hourly",
	}
}

func engagementDaily() mesh.Product {
	return mesh.Product{
		Name:        "engagement_daily",
		Description: "Engagement per account and UTC day: events, distinct active users and time spent, over the events the database holds now.",
		UseCases: []string{
			"Spot accounts whose engagement drops, for churn risk.",
			"Compare engagement with product usage and revenue per company_gid.",
		},
		Tags:    []string{"platform", "engagement", "usage", "postgres"},
		Version: "1.0.0",
		Inputs:  []mesh.Input{mesh.Raw("platform_db", "engagements"), mesh.Raw("platform_db", "accounts")},
		Model:   engagementDailySQL,
		Schema: []mesh.Column{
			{Name: "activity_date", Type: mesh.Date, Required: true, Doc: "The UTC day of the events."},
			{Name: "account_id", Type: mesh.Int64, Required: true, Doc: "The account whose users acted."},
			{Name: "company_gid", Type: mesh.String, Doc: "Global company id of the account's website; null when the account is gone or has none.", Tags: []string{"company-gid"}},
			{Name: "engagements", Type: mesh.Int64, Required: true, Doc: "Events that day."},
			{Name: "active_users", Type: mesh.Int64, Required: true, Doc: "Distinct users with an event that day."},
			{Name: "engaged_seconds", Type: mesh.Int64, Required: true, Doc: "Seconds spent, summed over the events."},
		},
		PrimaryKey:     []string{"activity_date", "account_id"},
		Classification: mesh.Internal,
		Checks: []mesh.Check{
			mesh.RowCount(1, 0),
			mesh.SQL("users_within_events", "SELECT * FROM model WHERE active_users < 1 OR active_users > engagements"),
			mesh.SQL("time_not_negative", "SELECT * FROM model WHERE engaged_seconds < 0"),
		},
		Freshness: hourly,
		Cadence:   "@hourly",
	}
}
