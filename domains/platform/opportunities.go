package platform

import (
	_ "embed"

	"github.com/meshflow/meshflow/framework/mesh"
)

// The products of the job opportunities accounts post and of the time users spend
// on pages (dwell events): what the hiring side of the platform does.

var (
	//go:embed models/opportunities.sql
	opportunitiesSQL string
	//go:embed models/dwell_daily.sql
	dwellDailySQL string
)

func opportunities() mesh.Product {
	return mesh.Product{
		Name: "opportunities",
		Description: "The job opportunities accounts post on the platform — open, filled or closed — with the hiring company's company_gid, days open, and the views, viewers and dwell time of each opportunity's page. " +
			"Withdrawn drafts disappear.",
		UseCases: []string{
			"Time to fill per company and job title, for customer success and sales.",
			"Which opportunities draw attention (views, dwell) and which go unseen.",
		},
		Tags:    []string{"platform", "hiring", "opportunities", "dwell", "postgres"},
		Version: "1.0.0",
		Inputs:  []mesh.Input{mesh.Raw("platform_db", "opportunities"), mesh.Raw("platform_db", "accounts"), mesh.Raw("platform_db", "dwell_events")},
		Model:   opportunitiesSQL,
		Schema: []mesh.Column{
			{Name: "opportunity_id", Type: mesh.Int64, Required: true, Doc: "The opportunity's id in the platform."},
			{Name: "account_id", Type: mesh.Int64, Required: true, Doc: "The account hiring."},
			{Name: "company_gid", Type: mesh.String, Doc: "Global company id of the account's website; null when the account is gone or has none."},
			{Name: "posted_by_user_id", Type: mesh.Int64, Required: true, Doc: "The user who posted it (see platform.users, restricted)."},
			{Name: "title", Type: mesh.String, Required: true, Doc: "The job's title."},
			{Name: "status", Type: mesh.String, Required: true, Doc: "open, filled or closed (without a hire)."},
			{Name: "opened_at", Type: mesh.Timestamp, Required: true, Doc: "When it was posted (UTC)."},
			{Name: "closed_at", Type: mesh.Timestamp, Doc: "When it was filled or closed (UTC); null while open."},
			{Name: "days_open", Type: mesh.Int64, Doc: "Whole days from posting to closing (UTC day boundaries crossed); null while open."},
			{Name: "views", Type: mesh.Int64, Required: true, Doc: "Visits to the opportunity's page."},
			{Name: "viewers", Type: mesh.Int64, Required: true, Doc: "Distinct users who visited it."},
			{Name: "dwell_seconds", Type: mesh.Int64, Required: true, Doc: "Seconds spent on its page, summed over the visits."},
		},
		PrimaryKey:     []string{"opportunity_id"},
		Classification: mesh.Internal,
		Checks: []mesh.Check{
			mesh.RowCount(1, 0),
			mesh.AcceptedValues("status", "open", "filled", "closed"),
			mesh.SQL("closed_unless_open", "SELECT * FROM model WHERE (status = 'open') <> (closed_at IS NULL)").
				Describe("An open opportunity has no closing time; a filled or closed one has one."),
			mesh.SQL("closes_after_opening", "SELECT * FROM model WHERE closed_at < opened_at"),
			mesh.SQL("viewers_within_views", "SELECT * FROM model WHERE viewers > views OR dwell_seconds < 0"),
		},
		Freshness: hourly,
		Cadence:   "@hourly",
	}
}

func dwellDaily() mesh.Product {
	return mesh.Product{
		Name:        "dwell_daily",
		Description: "Time users spend on profile, opportunity and company pages, per viewer's account, UTC day and kind of page: visits, distinct viewers, seconds and the longest visit. Over the dwell events the database holds now.",
		UseCases: []string{
			"Track engagement depth per customer beside engagement_daily's event counts.",
			"Compare how long recruiters stay on profiles with their funnel's conversion (talent_sourcing_funnel).",
		},
		Tags:    []string{"platform", "dwell", "engagement", "postgres"},
		Version: "1.0.0",
		Inputs:  []mesh.Input{mesh.Raw("platform_db", "dwell_events"), mesh.Raw("platform_db", "accounts")},
		Model:   dwellDailySQL,
		Schema: []mesh.Column{
			{Name: "dwell_date", Type: mesh.Date, Required: true, Doc: "The UTC day the visits began."},
			{Name: "account_id", Type: mesh.Int64, Required: true, Doc: "The viewers' account."},
			{Name: "company_gid", Type: mesh.String, Doc: "Global company id of the account's website; null when the account is gone or has none."},
			{Name: "page_kind", Type: mesh.String, Required: true, Doc: "profile, opportunity or company."},
			{Name: "views", Type: mesh.Int64, Required: true, Doc: "Visits that day."},
			{Name: "viewers", Type: mesh.Int64, Required: true, Doc: "Distinct users who visited."},
			{Name: "dwell_seconds", Type: mesh.Int64, Required: true, Doc: "Seconds spent, summed over the visits."},
			{Name: "longest_dwell_seconds", Type: mesh.Int64, Required: true, Doc: "The longest visit's seconds."},
		},
		PrimaryKey:     []string{"dwell_date", "account_id", "page_kind"},
		Classification: mesh.Internal,
		Checks: []mesh.Check{
			mesh.RowCount(1, 0),
			mesh.AcceptedValues("page_kind", "profile", "opportunity", "company"),
			mesh.SQL("viewers_within_views", "SELECT * FROM model WHERE viewers < 1 OR viewers > views"),
			mesh.SQL("longest_within_total", "SELECT * FROM model WHERE longest_dwell_seconds > dwell_seconds OR longest_dwell_seconds <= 0"),
		},
		Freshness: hourly,
		Cadence:   "@hourly",
	}
}
