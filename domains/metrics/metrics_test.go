package metrics

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/meshflow/meshflow/framework/globalid"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/quality"
	"github.com/meshflow/meshflow/framework/transform"
)

// The model's week, quarter-to-date and year-over-year figures on a small hand-made
// set of input ports: company a won deals in the same ISO week (10) of 2025 and 2026
// and earlier in Q1 2026; company b only used the product; company c only signed up
// on the platform.
func TestRevenueEngagementFigures(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := transform.Open(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a, b, c := globalid.CompanyGID("a.example"), globalid.CompanyGID("b.example"), globalid.CompanyGID("c.example")
	write := func(name, query string) string {
		t.Helper()
		p := filepath.Join(dir, name+".parquet")
		if _, err := db.ExecContext(ctx, "COPY ("+query+") TO "+quality.Literal(p)+" (FORMAT parquet)"); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return p
	}
	deals := write("crm_deals", `SELECT * FROM (VALUES
		('`+a+`', TIMESTAMP '2025-03-05 10:00:00', 100.0, true,  true),  -- week 2025-03-03, ISO 2025-W10
		('`+a+`', TIMESTAMP '2026-03-04 23:59:59', 50.0,  true,  true),  -- week 2026-03-02, ISO 2026-W10
		('`+a+`', TIMESTAMP '2026-02-10 09:00:00', 30.0,  true,  true),  -- week 2026-02-09, same quarter
		('`+a+`', TIMESTAMP '2026-03-06 12:00:00', 70.0,  false, false), -- open, expected to close in W10
		('`+a+`', TIMESTAMP '2026-03-03 12:00:00', 999.0, false, true),  -- lost: in no figure
		(NULL,    TIMESTAMP '2026-03-03 12:00:00', 5.0,   true,  true)   -- no company: no row
		) AS d(company_gid, close_date, amount, is_won, is_closed)`)
	usage := write("account_usage_daily", `SELECT * FROM (VALUES
		('`+a+`', DATE '2026-03-02', 10, 4, 3),
		('`+a+`', DATE '2026-03-03', 5, 2, 4),
		('`+a+`', DATE '2025-03-04', 8, 1, 1),
		('`+b+`', DATE '2026-03-08', 1, 1, 1),
		(NULL,    DATE '2026-03-08', 7, 7, 7)
		) AS u(company_gid, usage_date, events, minutes, visitors)`)
	traffic := write("web_traffic", `SELECT * FROM (VALUES
		(DATE '2026-03-02', 60, 3), (DATE '2026-03-08', 40, 2), (DATE '2026-02-16', 9, 0)
		) AS w(date, sessions, conversions)`)
	orgs := write("organizations", `SELECT * FROM (VALUES
		('`+a+`', 'A Inc.', 1000000.0, 'seed', 'c_00011_00050', TIMESTAMP '2026-01-01 00:00:00')
		) AS o(company_gid, name, funding_total_usd, last_funding_type, employees_range, updated_at)`)
	// Platform: a's two accounts (1, 2) in 2026-W10, c's signups alone in 2026-W11.
	signups := write("signups_daily", `SELECT * FROM (VALUES
		(DATE '2026-03-02', 1, '`+a+`', 2, 1),
		(DATE '2026-03-04', 2, '`+a+`', 1, 0),
		(DATE '2026-03-09', 3, '`+c+`', 4, 4),
		(DATE '2026-03-04', 4, NULL,    9, 0)
		) AS s(signup_date, account_id, company_gid, signups, invited)`)
	engagement := write("engagement_daily", `SELECT * FROM (VALUES
		(DATE '2026-03-03', 1, '`+a+`', 10, 3, 600),
		(DATE '2026-03-03', 2, '`+a+`', 5, 2, 300),
		(DATE '2026-03-05', 1, '`+a+`', 4, 4, 120),
		(DATE '2026-03-05', 4, NULL,    50, 20, 9000)
		) AS e(activity_date, account_id, company_gid, engagements, active_users, engaged_seconds)`)

	out := filepath.Join(dir, "model.parquet")
	res, err := transform.Run(ctx, transform.Request{Product: revenueEngagement(), Output: out, Ports: []transform.PortInput{
		{Domain: "marketing", Product: "crm_deals", Files: []string{deals}},
		{Domain: "marketing", Product: "web_traffic", Files: []string{traffic}},
		{Domain: "product", Product: "account_usage_daily", Files: []string{usage}},
		{Domain: "market_intelligence", Product: "organizations", Files: []string{orgs}},
		{Domain: "platform", Product: "signups_daily", Files: []string{signups}},
		{Domain: "platform", Product: "engagement_daily", Files: []string{engagement}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 5 {
		t.Errorf("rows = %d, want 5: a in weeks 2025-03-03, 2026-02-09, 2026-03-02, b in 2026-03-02 and c in 2026-03-09", res.Rows)
	}

	type row struct {
		won, open, qtd               float64
		wonDeals, openDeals, events  int64
		maxVisitors, activeDays      int64
		quarter, org                 sql.NullString
		sessions                     sql.NullInt64
		wonLastYear, wonChange       sql.NullFloat64
		eventsLastYear, eventsChange sql.NullInt64
		signups, platformEvents      int64
		platformSeconds, platformDAU int64
	}
	get := func(week, gid string) row {
		t.Helper()
		var r row
		err := db.QueryRowContext(ctx, `SELECT won_amount, open_pipeline_amount, quarter_to_date_won_amount, won_deals, open_deals,
			events, max_daily_visitors, active_days, CAST(quarter_start AS VARCHAR), organization_name, site_sessions,
			won_amount_last_year, won_amount_yoy_change, events_last_year, events_yoy_change,
			signups, platform_engagements, platform_engaged_seconds, platform_max_daily_active_users
			FROM read_parquet(?) WHERE week_start = CAST(? AS DATE) AND company_gid = ?`, out, week, gid).
			Scan(&r.won, &r.open, &r.qtd, &r.wonDeals, &r.openDeals, &r.events, &r.maxVisitors, &r.activeDays,
				&r.quarter, &r.org, &r.sessions, &r.wonLastYear, &r.wonChange, &r.eventsLastYear, &r.eventsChange,
				&r.signups, &r.platformEvents, &r.platformSeconds, &r.platformDAU)
		if err != nil {
			t.Fatalf("week %s of %s: %v", week, gid, err)
		}
		return r
	}

	w := get("2026-03-02", a)
	if w.won != 50 || w.wonDeals != 1 || w.open != 70 || w.openDeals != 1 {
		t.Errorf("a, 2026-W10 deals: won %v in %d, open %v in %d; want 50 in 1, 70 in 1", w.won, w.wonDeals, w.open, w.openDeals)
	}
	if w.events != 15 || w.maxVisitors != 4 || w.activeDays != 2 {
		t.Errorf("a, 2026-W10 usage: %d events, %d max visitors, %d days; want 15, 4, 2", w.events, w.maxVisitors, w.activeDays)
	}
	if w.quarter.String != "2026-01-01" || w.qtd != 80 {
		t.Errorf("a, 2026-W10 quarter %s to date %v, want 2026-01-01 and 30 + 50", w.quarter.String, w.qtd)
	}
	if w.wonLastYear.Float64 != 100 || w.wonChange.Float64 != -50 || w.eventsLastYear.Int64 != 8 || w.eventsChange.Int64 != 7 {
		t.Errorf("a, 2026-W10 year over year: won %v (%v), events %v (%v); want 100 (-50), 8 (+7)", w.wonLastYear, w.wonChange, w.eventsLastYear, w.eventsChange)
	}
	if w.org.String != "A Inc." || w.sessions.Int64 != 100 {
		t.Errorf("a, 2026-W10: organization %v, site sessions %v; want A Inc. and 60 + 40 (the whole site's week)", w.org, w.sessions)
	}
	if w.signups != 3 || w.platformEvents != 19 || w.platformSeconds != 1020 || w.platformDAU != 5 {
		t.Errorf("a, 2026-W10 platform: %d signups, %d events, %d seconds, %d most daily users; want 2 + 1, 10 + 5 + 4, 600 + 300 + 120, 3 + 2 (both accounts on 03-03)",
			w.signups, w.platformEvents, w.platformSeconds, w.platformDAU)
	}

	feb := get("2026-02-09", a)
	if feb.qtd != 30 || feb.wonLastYear.Valid || feb.eventsChange.Valid || feb.sessions.Valid {
		t.Errorf("a, 2026-02-09: to date %v, last year %v, change %v, sessions %v; want 30 and no year-ago data or traffic", feb.qtd, feb.wonLastYear, feb.eventsChange, feb.sessions)
	}
	old := get("2025-03-03", a)
	if old.won != 100 || old.quarter.String != "2025-01-01" || old.qtd != 100 || old.events != 8 {
		t.Errorf("a, 2025-W10 = %+v", old)
	}
	bw := get("2026-03-02", b)
	if bw.events != 1 || bw.won != 0 || bw.org.Valid || bw.wonLastYear.Valid || bw.signups != 0 || bw.platformEvents != 0 {
		t.Errorf("b, 2026-W10 = %+v: want its usage, no deals, no organization, no year-ago data, nothing on the platform", bw)
	}
	if cw := get("2026-03-09", c); cw.signups != 4 || cw.events != 0 || cw.won != 0 || cw.platformEvents != 0 || cw.quarter.String != "2026-01-01" {
		t.Errorf("c, 2026-W11 = %+v: want a row for its 4 platform signups alone", cw)
	}

	results, err := transform.CheckStaged(ctx, out, revenueEngagement().AllChecks(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if r.Status != mesh.StatusPass {
			t.Errorf("check %s: %s (%d failing)", r.Name, r.Status, r.Failing)
		}
	}
}
