package metrics

import "github.com/meshflow/meshflow/framework/mesh"

// revenueEngagementTests are revenue_engagement_weekly's unit tests (mesh test metrics);
// their larger rows are files under tests/revenue_engagement_weekly/.
func revenueEngagementTests() []mesh.ModelTest {
	const dir = "tests/revenue_engagement_weekly/"
	deals := mesh.FromProduct("marketing", "crm_deals")
	usage := mesh.FromProduct("product", "account_usage_daily")
	return []mesh.ModelTest{{
		Name: "deals_by_close_week_and_quarter",
		Doc: "A deal counts in the UTC week of its close date (a Sunday 23:30 in the week before); a week belongs to the quarter its Monday falls in, " +
			"where the quarter-to-date sum restarts; lost deals, deals without a company or a close date count nowhere.",
		Given:  []mesh.Given{{Input: deals, File: dir + "quarter_deals.csv"}},
		Expect: mesh.Expect{File: dir + "quarter_expected.csv"},
	}, {
		Name: "year_over_year_by_iso_week",
		Doc: "Last year's figures are the same ISO week's a year earlier (ISO week 1 of 2026 begins on 2025-12-29): zero when the company had a row " +
			"then without deals, null when it had no row at all.",
		Given: []mesh.Given{{Input: deals, Columns: []string{"deal_id", "company_gid", "amount", "is_won", "is_closed", "close_date"}, Rows: [][]any{
			{"d1", "co_acme", 40, true, true, "2025-01-08 10:00:00"},
			{"d2", "co_acme", 100, true, true, "2026-01-06 10:00:00"},
		}}, {Input: usage, Columns: []string{"account_id", "object_id", "company_gid", "usage_date", "events", "minutes", "visitors"}, Rows: [][]any{
			{"a1", "home", "co_acme", "2024-12-31", 3, 1, 1}, // ISO week 1 of 2025
			{"a1", "home", "co_acme", "2025-01-06", 10, 5, 2},
			{"a1", "home", "co_acme", "2026-01-01", 8, 2, 1}, // ISO week 1 of 2026
			{"a1", "home", "co_acme", "2026-01-05", 25, 9, 3},
			{"a1", "home", "co_acme", "2026-01-07", 5, 1, 4},
			{"b1", "home", "co_beta", "2026-01-05", 7, 1, 1},
		}}},
		Expect: mesh.Expect{
			Columns: []string{"week_start", "company_gid", "won_amount", "won_amount_last_year", "won_amount_yoy_change", "events", "events_last_year",
				"events_yoy_change", "max_daily_visitors", "active_days", "quarter_start", "quarter_to_date_won_amount"},
			Rows: [][]any{
				{"2024-12-30", "co_acme", 0, nil, nil, 3, nil, nil, 1, 1, "2024-10-01", 0},
				{"2025-01-06", "co_acme", 40, nil, nil, 10, nil, nil, 2, 1, "2025-01-01", 40},
				{"2025-12-29", "co_acme", 0, 0, 0, 8, 3, 5, 1, 1, "2025-10-01", 0},
				{"2026-01-05", "co_acme", 100, 40, 60, 30, 10, 20, 4, 2, "2026-01-01", 100},
				{"2026-01-05", "co_beta", 0, nil, nil, 7, nil, nil, 1, 1, "2026-01-01", 0},
			},
		},
	}, {
		Name: "a_row_for_each_source_of_activity",
		Doc: "A company has a row for a week it used the product or only signed up and engaged on the platform; the newest Crunchbase organization " +
			"speaks for a company; a company's platform accounts add up per day before the busiest day is taken; web traffic is the whole site's; " +
			"usage without a company is left out.",
		Given: []mesh.Given{{Input: usage, Columns: []string{"account_id", "object_id", "company_gid", "usage_date", "events", "minutes", "visitors"}, Rows: [][]any{
			{"a1", "home", "co_acme", "2026-01-05", 5, 2, 4},
			{"a1", "home", "co_acme", "2026-01-11", 7, 4, 1}, // Sunday: the same week
			{"x1", "home", nil, "2026-01-05", 100, 50, 9},
		}}, {Input: mesh.FromProduct("platform", "signups_daily"), Columns: []string{"account_id", "company_gid", "signup_date", "signups"}, Rows: [][]any{
			{1, "co_plat", "2026-01-06", 1},
			{1, "co_plat", "2026-01-07", 2},
		}}, {Input: mesh.FromProduct("platform", "engagement_daily"), Columns: []string{"account_id", "company_gid", "activity_date", "engagements", "engaged_seconds", "active_users"}, Rows: [][]any{
			{1, "co_plat", "2026-01-06", 15, 600, 3},
			{2, "co_plat", "2026-01-06", 20, 1000, 4}, // the same day, another account: 7 users that day
			{1, "co_plat", "2026-01-08", 5, 200, 2},
			{1, "co_plat", "2026-01-12", 10, 60, 2},
		}}, {Input: mesh.FromProduct("marketing", "web_traffic"), Columns: []string{"property_id", "date", "sessions", "conversions"}, Rows: [][]any{
			{"p1", "2026-01-05", 100, 4},
			{"p2", "2026-01-10", 200, 8},
		}}, {Input: mesh.FromProduct("market_intelligence", "organizations"), File: dir + "sources_organizations.json"}},
		Expect: mesh.Expect{File: dir + "sources_expected.csv"},
	}}
}
