// Package metrics is the domain of cross-domain products: figures that join other
// domains' ports on the global ids (framework/globalid), so no single source team owns
// them. The business-analytics team owns it.
package metrics

import (
	"embed"
	"time"

	"github.com/meshflow/meshflow/framework/mesh"
)

// Name is the domain's name; its workers poll the task queue "meshflow.metrics".
const Name = "metrics"

//go:embed models/revenue_engagement_weekly.sql
var revenueEngagementSQL string

//go:embed models/delivery_quarterly.sql
var deliveryQuarterlySQL string

// folder is the domain's folder as the build embeds it: `mesh check` names a
// model's file and line, and finds a .sql file no product uses.
//
//go:embed models tests
var folder embed.FS

// Domain declares the metrics domain and its products.
func Domain() mesh.Domain {
	return mesh.Domain{
		Name:        Name,
		Files:       folder,
		Owner:       "business-analytics",
		Contact:     "#business-analytics",
		Description: "Cross-domain business metrics: revenue, product engagement and firmographics per company, joined on the global ids.",
		Products:    []mesh.Product{revenueEngagement(), deliveryQuarterly()},
	}
}

func revenueEngagement() mesh.Product {
	return mesh.Product{
		Name: "revenue_engagement_weekly",
		Description: "Weekly revenue and product engagement per company, joined across domains on company_gid: deals won and open pipeline, product usage, signups and engagement on the platform, and Crunchbase firmographics, with quarter-to-date and year-over-year figures. " +
			"One row per ISO week and company that won a deal, had an open deal expected to close, used the product, or signed up or engaged on the platform that week.",
		UseCases: []string{
			"Do the companies that use the product more win more, and sooner?",
			"Quarter-to-date bookings per account next to its engagement trend.",
			"Year-over-year change of revenue and usage per account for business reviews.",
			"Do companies whose people sign up and engage on the platform buy more?",
		},
		Tags: []string{"revenue", "engagement", "cross-domain", "weekly"},
		// 1.1.0: signups and platform engagement (platform.signups_daily, platform.engagement_daily).
		Version: "1.1.0",
		Inputs: []mesh.Input{
			mesh.FromProduct("marketing", "crm_deals"),
			mesh.FromProduct("marketing", "web_traffic"),
			mesh.FromProduct("product", "account_usage_daily"),
			mesh.FromProduct("market_intelligence", "organizations"),
			mesh.FromProduct("platform", "signups_daily"),
			mesh.FromProduct("platform", "engagement_daily"),
		},
		Model: revenueEngagementSQL,
		Schema: []mesh.Column{
			{Name: "week_start", Type: mesh.Date, Required: true, Doc: "Monday of the ISO week (UTC dates: deals by close date, usage by usage date)."},
			{Name: "company_gid", Type: mesh.String, Required: true, Doc: "Global company id (framework/globalid), as in marketing.crm_deals, product.account_usage_daily and market_intelligence.organizations.", Tags: []string{"company-gid"}},
			{Name: "organization_name", Type: mesh.String, Doc: "The company's name in Crunchbase; null when Crunchbase does not know the company."},
			{Name: "won_amount", Type: mesh.Float64, Required: true, Doc: "Amount of the deals won that closed this week, in the account currency (marketing.crm_deals)."},
			{Name: "won_deals", Type: mesh.Int64, Required: true, Doc: "Number of deals won that closed this week."},
			{Name: "open_pipeline_amount", Type: mesh.Float64, Required: true, Doc: "Amount of the deals still open whose expected close date falls this week: the pipeline as it stands now, not as it stood then."},
			{Name: "open_deals", Type: mesh.Int64, Required: true, Doc: "Number of those open deals."},
			{Name: "events", Type: mesh.Int64, Required: true, Doc: "Page views and feature clicks of the company's Pendo accounts this week (product.account_usage_daily)."},
			{Name: "minutes", Type: mesh.Int64, Required: true, Doc: "Minutes with at least one event, summed over visitors."},
			{Name: "max_daily_visitors", Type: mesh.Int64, Required: true, Doc: "Most distinct visitors of one page or feature on one day of the week: a lower bound of daily active users (the usage port counts visitors per page or feature, so they cannot be summed)."},
			{Name: "active_days", Type: mesh.Int64, Required: true, Doc: "Days of the week with any usage."},
			{Name: "funding_total_usd", Type: mesh.Float64, Doc: "Total funding raised in US dollars (market_intelligence.organizations, as of now); null when unknown."},
			{Name: "last_funding_type", Type: mesh.String, Doc: "Type of the latest funding round (seed, series_a, …)."},
			{Name: "employees_range", Type: mesh.String, Doc: "Crunchbase employee range code (c_00001_00010 … c_10001_max)."},
			{Name: "site_sessions", Type: mesh.Int64, Doc: "Web sessions of the whole site that week, every GA4 property and channel (marketing.web_traffic). Site-wide, not the company's: web traffic carries no company, so every company's row of a week shows the same value. Null when no traffic is recorded."},
			{Name: "site_conversions", Type: mesh.Int64, Doc: "Conversions of the whole site that week; site-wide like site_sessions."},
			{Name: "quarter_start", Type: mesh.Date, Required: true, Doc: "First day of the quarter the week's Monday falls in."},
			{Name: "quarter_to_date_won_amount", Type: mesh.Float64, Required: true, Doc: "won_amount of the company summed over the quarter's weeks up to and including this one."},
			{Name: "won_amount_last_year", Type: mesh.Float64, Doc: "won_amount of the company in the same ISO week a year earlier; null when it has no row then."},
			{Name: "won_amount_yoy_change", Type: mesh.Float64, Doc: "won_amount minus won_amount_last_year; null when there is no data a year ago."},
			{Name: "events_last_year", Type: mesh.Int64, Doc: "events of the company in the same ISO week a year earlier; null when it has no row then."},
			{Name: "events_yoy_change", Type: mesh.Int64, Doc: "events minus events_last_year; null when there is no data a year ago."},
			{Name: "signups", Type: mesh.Int64, Required: true, Doc: "Signups to the company's platform accounts this week (platform.signups_daily, UTC days)."},
			{Name: "platform_engagements", Type: mesh.Int64, Required: true, Doc: "Events of the company's platform users this week (platform.engagement_daily)."},
			{Name: "platform_engaged_seconds", Type: mesh.Int64, Required: true, Doc: "Seconds the company's platform users spent, summed over the week's events."},
			{Name: "platform_max_daily_active_users", Type: mesh.Int64, Required: true, Doc: "Most distinct platform users of the company active on one day of the week (a user belongs to one account, so accounts add up)."},
		},
		PrimaryKey: []string{"week_start", "company_gid"},
		// Won amounts per company come from marketing.crm_deals, which is restricted:
		// summing them per company and week must not make them readable to everyone.
		Classification: mesh.Restricted,
		AllowedGroups:  []string{"sales", "finance"},
		Checks: []mesh.Check{
			mesh.RowCount(1, 0),
			mesh.SQL("week_starts_on_monday", "SELECT * FROM model WHERE isodow(week_start) <> 1"),
			mesh.SQL("no_negative_figures", "SELECT * FROM model WHERE won_amount < 0 OR open_pipeline_amount < 0 OR events < 0 OR minutes < 0 OR signups < 0 OR platform_engagements < 0 OR platform_engaged_seconds < 0"),
			mesh.SQL("platform_users_within_events", "SELECT * FROM model WHERE platform_max_daily_active_users > platform_engagements").
				Describe("Every active user had at least one event."),
			mesh.SQL("quarter_to_date_covers_week", "SELECT * FROM model WHERE quarter_to_date_won_amount < won_amount OR quarter_start > week_start"),
			mesh.SQL("company_gid_is_global", "SELECT * FROM model WHERE NOT starts_with(company_gid, 'co_')").
				Describe("Rows join on the global company id, never a source system's own id."),
		},
		Freshness: mesh.Freshness{WarnAfter: 8 * 24 * time.Hour, FailAfter: 15 * 24 * time.Hour},
		Tests:     revenueEngagementTests(),
	}
}

// deliveryQuarterly reads only another domain's product, so it runs whenever
// engineering.delivery_metrics publishes (the default trigger), never on a clock.
func deliveryQuarterly() mesh.Product {
	return mesh.Product{
		Name: "delivery_quarterly",
		Description: "Quarterly delivery per team: Jira issues completed and pull requests merged per quarter, with the same quarter a year earlier and the year-over-year change. " +
			"Built from engineering.delivery_metrics' weeks.",
		UseCases: []string{
			"Quarterly business reviews: is each team delivering more than a year ago?",
			"Which teams ship through pull requests without Jira issues, and the other way round?",
		},
		Tags:    []string{"delivery", "quarterly", "yoy", "cross-domain"},
		Version: "1.0.0",
		Inputs:  []mesh.Input{mesh.FromProduct("engineering", "delivery_metrics")},
		Model:   deliveryQuarterlySQL,
		Schema: []mesh.Column{
			{Name: "quarter_start", Type: mesh.Date, Required: true, Doc: "First day of the calendar quarter (UTC) the weeks' Mondays fall in."},
			{Name: "scope_kind", Type: mesh.String, Required: true, Doc: "jira_project (issues completed) or repository (pull requests merged)."},
			{Name: "team", Type: mesh.String, Required: true, Doc: "Owning team (lower case); unassigned when the project or repository has none."},
			{Name: "items_completed", Type: mesh.Int64, Required: true, Doc: "Issues completed or pull requests merged in the quarter."},
			{Name: "active_weeks", Type: mesh.Int64, Required: true, Doc: "Weeks of the quarter with at least one completion."},
			{Name: "scopes", Type: mesh.Int64, Required: true, Doc: "Distinct projects or repositories that completed work."},
			{Name: "items_completed_last_year", Type: mesh.Int64, Doc: "items_completed of the same quarter a year earlier; null when the team completed nothing of this kind then."},
			{Name: "yoy_change_pct", Type: mesh.Float64, Doc: "Year-over-year change of items_completed in percent, one decimal; null without last year's figure."},
			{Name: "last_completed_at", Type: mesh.Timestamp, Required: true, Doc: "The latest completion in the quarter (UTC)."},
		},
		PrimaryKey:     []string{"quarter_start", "scope_kind", "team"},
		Classification: mesh.Internal,
		Checks: []mesh.Check{
			mesh.AcceptedValues("scope_kind", "jira_project", "repository"),
			mesh.SQL("quarter_starts_on_first_day", "SELECT * FROM model WHERE quarter_start <> CAST(date_trunc('quarter', quarter_start) AS DATE)"),
			mesh.SQL("active_weeks_fit_a_quarter", "SELECT * FROM model WHERE active_weeks < 1 OR active_weeks > 14"),
		},
		Freshness: mesh.Freshness{Column: "last_completed_at", WarnAfter: 6 * time.Hour, FailAfter: 26 * time.Hour},
		Tests: []mesh.ModelTest{{
			Name: "quarters_and_year_over_year",
			Doc:  "Weeks add up in the quarter of their Monday; a team without a name counts as unassigned; last year's quarter gives the change.",
			Given: []mesh.Given{{Input: mesh.FromProduct("engineering", "delivery_metrics"),
				Columns: []string{"week", "scope_kind", "scope", "team", "items_completed", "last_completed_at"},
				Rows: [][]any{
					{"2025-01-06", "jira_project", "OPS", "platform", 4, "2025-01-09 10:00:00"},
					{"2026-01-05", "jira_project", "OPS", "platform", 5, "2026-01-08 10:00:00"},
					{"2026-03-30", "jira_project", "WEB", "platform", 1, "2026-04-02 09:00:00"}, // Monday in Q1
					{"2026-01-12", "repository", "acme/api", nil, 3, "2026-01-14 12:00:00"},
				}}},
			Expect: mesh.Expect{
				Columns: []string{"quarter_start", "scope_kind", "team", "items_completed", "active_weeks", "scopes", "items_completed_last_year", "yoy_change_pct"},
				Rows: [][]any{
					{"2025-01-01", "jira_project", "platform", 4, 1, 1, nil, nil},
					{"2026-01-01", "jira_project", "platform", 6, 2, 2, 4, 50.0},
					{"2026-01-01", "repository", "unassigned", 3, 1, 1, nil, nil},
				},
			},
		}},
	}
}
