// Package marketing is the marketing domain: the CRM data products built from HubSpot.
// The marketing-analytics team owns everything in this folder.
package marketing

import (
	"embed"
	"time"

	"github.com/meshflow/meshflow/framework/mesh"
)

// Name is the domain's name; its workers poll the task queue "meshflow.marketing".
const Name = "marketing"

var (
	//go:embed models/crm_contacts.sql
	contactsSQL string
	//go:embed models/crm_companies.sql
	companiesSQL string
	//go:embed models/crm_deals.sql
	dealsSQL string
	//go:embed models/web_traffic.sql
	webTrafficSQL string
	//go:embed models/channel_daily.sql
	channelDailySQL string
)

// daily is the freshness SLO of products refreshed every day: late after a missed run,
// stale after two.
var daily = mesh.Freshness{Column: "updated_at", WarnAfter: 26 * time.Hour, FailAfter: 50 * time.Hour}

// folder is the domain's folder as the build embeds it: `mesh check` names a
// model's file and line, and finds a .sql file no product uses.
//
//go:embed models
var folder embed.FS

// Domain declares the marketing domain and its products.
func Domain() mesh.Domain {
	return mesh.Domain{
		Name:        Name,
		Files:       folder,
		Owner:       "marketing-analytics",
		Contact:     "#marketing-data",
		Description: "Customer relationship data (who our contacts and companies are, how deals progress) and web traffic.",
		Products:    []mesh.Product{contacts(), companies(), deals(), webTraffic(), channelDaily()},
	}
}

func contacts() mesh.Product {
	return mesh.Product{
		Name: "crm_contacts",
		Description: "Every live contact in the CRM, one row per contact with its newest values. " +
			"Deleted (archived) contacts are left out; e-mail addresses are lower-cased.",
		UseCases: []string{
			"Size and segment the funnel by lifecycle stage and country.",
			"Join people to companies (company_id) and, through e-mail, to product usage.",
		},
		Tags:    []string{"crm", "hubspot", "people"},
		Version: "1.1.0",
		Inputs:  []mesh.Input{mesh.Raw("hubspot", "contacts"), mesh.FromProduct(Name, "crm_companies")},
		Model:   contactsSQL,
		// Incremental: a contact's row comes from that contact's versions alone, joined
		// to crm_companies as a whole, so a run recomputes only the contacts landed since
		// the last publish and merges them by contact_id (an archived one is removed). A
		// new snapshot of crm_companies computes everything, as it may change any
		// contact's company_gid.
		Incremental: mesh.IncrementalOn(mesh.Raw("hubspot", "contacts"), map[string]string{"contact_id": "id"}),
		Schema: []mesh.Column{
			{Name: "contact_id", Type: mesh.String, Required: true, Doc: "HubSpot contact id."},
			{Name: "email", Type: mesh.String, Doc: "E-mail address, trimmed and lower-cased; null if none.", Tags: mesh.PII(mesh.TagEmail)},
			{Name: "first_name", Type: mesh.String, Doc: "First name as entered.", Tags: mesh.PII(mesh.TagName)},
			{Name: "last_name", Type: mesh.String, Doc: "Last name as entered.", Tags: mesh.PII(mesh.TagName)},
			{Name: "company_id", Type: mesh.String, Doc: "The contact's primary company (crm_companies.company_id)."},
			{Name: "lifecycle_stage", Type: mesh.String, Doc: "Funnel stage (subscriber … customer, evangelist, other)."},
			{Name: "country", Type: mesh.String, Doc: "Country as entered."},
			{Name: "created_at", Type: mesh.Timestamp, Required: true, Doc: "When the contact was created (UTC)."},
			{Name: "updated_at", Type: mesh.Timestamp, Required: true, Doc: "When the contact last changed (UTC)."},
			{Name: "person_gid", Type: mesh.String, Doc: "Global person id from the e-mail address (framework/globalid's person_gid); null without a valid address. Since 1.1.0.", Tags: []string{"person-gid"}},
			{Name: "company_gid", Type: mesh.String, Doc: "Global company id of the contact's company (crm_companies.company_gid); null when the company has no web domain. Since 1.1.0.", Tags: []string{"company-gid"}},
		},
		PrimaryKey:     []string{"contact_id"},
		Classification: mesh.Internal,
		Checks: []mesh.Check{
			mesh.AcceptedValues("lifecycle_stage", "subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer", "evangelist", "other"),
			mesh.RowCount(1, 0).Describe("An empty CRM means the extraction broke, not that we lost every contact."),
			mesh.SQL("email_has_at_sign", "SELECT * FROM model WHERE email IS NOT NULL AND email NOT LIKE '%_@_%'").AsWarn().
				Describe("E-mail addresses look like addresses; a few typos are expected, so this only warns."),
		},
		Freshness: daily,
		Cadence:   "0 5 * * *",
	}
}

func companies() mesh.Product {
	return mesh.Product{
		Name: "crm_companies",
		Description: "Every live company in the CRM with its normalised web domain, size and industry. " +
			"company_gid, derived from web_domain, is the key other domains match companies on.",
		UseCases: []string{
			"Account segmentation by industry, size and country.",
			"Match CRM companies to other systems on company_gid (identity.company_ids maps every system's ids to it).",
		},
		Tags:    []string{"crm", "hubspot", "accounts"},
		Version: "1.1.0",
		Inputs:  []mesh.Input{mesh.Raw("hubspot", "companies")},
		Model:   companiesSQL,
		Schema: []mesh.Column{
			{Name: "company_id", Type: mesh.String, Required: true, Doc: "HubSpot company id."},
			{Name: "name", Type: mesh.String, Doc: "Company name."},
			{Name: "web_domain", Type: mesh.String, Doc: "Website domain, lower case, without scheme, www., port or path (framework/globalid's web_domain); null when none is set or it is not a domain."},
			{Name: "industry", Type: mesh.String, Doc: "HubSpot industry code."},
			{Name: "employees", Type: mesh.Int64, Doc: "Number of employees."},
			{Name: "annual_revenue", Type: mesh.Float64, Doc: "Annual revenue in the account currency."},
			{Name: "country", Type: mesh.String, Doc: "Country as entered."},
			{Name: "created_at", Type: mesh.Timestamp, Required: true, Doc: "When the company was created (UTC)."},
			{Name: "updated_at", Type: mesh.Timestamp, Required: true, Doc: "When the company last changed (UTC)."},
			{Name: "company_gid", Type: mesh.String, Doc: "Global company id from web_domain (framework/globalid's company_gid), the same in every domain's ports; null without a web domain. A company entered twice shares it. Since 1.1.0.", Tags: []string{"company-gid"}},
		},
		PrimaryKey:     []string{"company_id"},
		Classification: mesh.Internal,
		Checks: []mesh.Check{
			mesh.RowCount(1, 0),
			mesh.SQL("employees_not_negative", "SELECT * FROM model WHERE employees < 0"),
			mesh.SQL("web_domain_is_normalised", "SELECT * FROM model WHERE web_domain <> lower(web_domain) OR web_domain LIKE 'www.%' OR web_domain LIKE '%/%'"),
		},
		Freshness: daily,
		Cadence:   "0 5 * * *",
	}
}

func deals() mesh.Product {
	return mesh.Product{
		Name: "crm_deals",
		Description: "Every live deal in the CRM with amount, stage and outcome. " +
			"is_won and is_closed spell out the stage so reports need not know pipeline ids.",
		UseCases: []string{
			"Pipeline and revenue reporting by stage, company and close date.",
			"Win-rate analysis joined with crm_companies on company_id.",
		},
		Tags:    []string{"crm", "hubspot", "revenue"},
		Version: "1.1.0",
		Inputs:  []mesh.Input{mesh.Raw("hubspot", "deals"), mesh.FromProduct(Name, "crm_companies")},
		Model:   dealsSQL,
		Schema: []mesh.Column{
			{Name: "deal_id", Type: mesh.String, Required: true, Doc: "HubSpot deal id."},
			{Name: "deal_name", Type: mesh.String, Doc: "Deal name."},
			{Name: "amount", Type: mesh.Float64, Doc: "Deal amount in the account currency."},
			{Name: "deal_stage", Type: mesh.String, Required: true, Doc: "Stage id in the default pipeline."},
			{Name: "is_won", Type: mesh.Bool, Doc: "True when the deal is closed won."},
			{Name: "is_closed", Type: mesh.Bool, Doc: "True when the deal is closed, won or lost."},
			{Name: "pipeline", Type: mesh.String, Doc: "Pipeline id."},
			{Name: "company_id", Type: mesh.String, Doc: "The deal's company (crm_companies.company_id)."},
			{Name: "close_date", Type: mesh.Timestamp, Doc: "Expected or actual close date (UTC)."},
			{Name: "created_at", Type: mesh.Timestamp, Required: true, Doc: "When the deal was created (UTC)."},
			{Name: "updated_at", Type: mesh.Timestamp, Required: true, Doc: "When the deal last changed (UTC)."},
			{Name: "company_gid", Type: mesh.String, Doc: "Global company id of the deal's company (crm_companies.company_gid); null when it has no company or the company no web domain. Since 1.1.0.", Tags: []string{"company-gid"}},
		},
		PrimaryKey:     []string{"deal_id"},
		Classification: mesh.Restricted, // amounts and deal names: sales and finance only
		AllowedGroups:  []string{"sales", "finance"},
		Checks: []mesh.Check{
			mesh.AcceptedValues("deal_stage", "appointmentscheduled", "qualifiedtobuy", "presentationscheduled", "decisionmakerboughtin", "contractsent", "closedwon", "closedlost"),
			mesh.SQL("amount_not_negative", "SELECT * FROM model WHERE amount < 0"),
			mesh.RowCount(1, 0),
		},
		Freshness: daily,
		Cadence:   "0 5 * * *",
	}
}

func webTraffic() mesh.Product {
	return mesh.Product{
		Name: "web_traffic",
		Description: "Daily web sessions, users and conversions per GA4 property, channel and landing page. " +
			"Recent days are re-pulled while GA4 numbers settle and replace, never duplicate, their rows.",
		UseCases: []string{
			"Channel mix and landing-page performance over time.",
			"Conversion rate trends, joined with deals by week.",
		},
		Tags:    []string{"ga4", "web", "acquisition"},
		Version: "1.0.0",
		// A day's rows come only from that day's report: a day's run reads that day's landings.
		Inputs: []mesh.Input{mesh.RawSamePartition("googleanalytics", "daily_report")},
		Model:  webTrafficSQL,
		Schema: []mesh.Column{
			{Name: "property_id", Type: mesh.String, Required: true, Doc: "GA4 property id."},
			{Name: "date", Type: mesh.Date, Required: true, Doc: "Day in the property's time zone."},
			{Name: "channel", Type: mesh.String, Doc: "GA4 default channel group of the session (Organic Search, Direct, …)."},
			{Name: "landing_page", Type: mesh.String, Doc: "Path of the session's first page."},
			{Name: "sessions", Type: mesh.Int64, Required: true, Doc: "Sessions."},
			{Name: "users", Type: mesh.Int64, Doc: "Total users (not additive across rows)."},
			{Name: "conversions", Type: mesh.Int64, Doc: "Key events counted as conversions."},
			{Name: "conversion_rate", Type: mesh.Float64, Doc: "conversions / sessions; null without sessions."},
			{Name: "pulled_at", Type: mesh.Timestamp, Required: true, Doc: "When this version of the row was pulled (UTC); newer pulls replace older ones."},
		},
		PrimaryKey:     []string{"property_id", "date", "channel", "landing_page"},
		Classification: mesh.Internal,
		Checks: []mesh.Check{
			mesh.RowCount(1, 0),
			mesh.SQL("no_negative_counts", "SELECT * FROM model WHERE sessions < 0 OR users < 0 OR conversions < 0"),
			mesh.SQL("conversions_within_sessions", "SELECT * FROM model WHERE conversions > sessions * 10").AsWarn().
				Describe("More than ten conversions per session usually means a mis-tagged conversion event."),
		},
		Freshness: mesh.Freshness{Column: "date", WarnAfter: 30 * time.Hour, FailAfter: 54 * time.Hour},
		Cadence:   "0 6 * * *",
		// Days are the unit of backfill and of GA4/Pendo re-pulls: a re-run replaces its day.
		PartitionBy: "date",
	}
}

// channelDaily is partitioned like web_traffic and reads only it, so each day
// web_traffic publishes (a daily pull, a re-pull, a backfill's day) re-runs that day.
func channelDaily() mesh.Product {
	return mesh.Product{
		Name:        "channel_daily",
		Description: "Daily sessions and conversions per GA4 property and channel: web_traffic summed over its landing pages. One row per property, day and default channel group.",
		UseCases: []string{
			"Channel mix over time: which channels bring sessions and conversions.",
			"Conversion rate per channel, without the landing-page detail.",
		},
		Tags:    []string{"ga4", "web", "acquisition", "daily"},
		Version: "1.0.0",
		Inputs:  []mesh.Input{mesh.FromProduct(Name, "web_traffic")},
		Model:   channelDailySQL,
		Schema: []mesh.Column{
			{Name: "property_id", Type: mesh.String, Required: true, Doc: "GA4 property id."},
			{Name: "date", Type: mesh.Date, Required: true, Doc: "Day in the property's time zone, as in web_traffic."},
			{Name: "channel", Type: mesh.String, Required: true, Doc: "GA4 default channel group; (not set) when GA4 gave none."},
			{Name: "sessions", Type: mesh.Int64, Required: true, Doc: "Sessions, summed over landing pages."},
			{Name: "conversions", Type: mesh.Int64, Required: true, Doc: "Conversions, summed over landing pages (0 when none were counted)."},
			{Name: "landing_pages", Type: mesh.Int64, Required: true, Doc: "Distinct landing pages with sessions from the channel."},
			{Name: "conversion_rate", Type: mesh.Float64, Doc: "conversions / sessions; null without sessions."},
			{Name: "pulled_at", Type: mesh.Timestamp, Required: true, Doc: "When the newest of the day's rows was pulled from GA4 (UTC)."},
		},
		PrimaryKey:     []string{"property_id", "date", "channel"},
		Classification: mesh.Internal,
		Checks: []mesh.Check{
			mesh.SQL("no_negative_counts", "SELECT * FROM model WHERE sessions < 0 OR conversions < 0"),
		},
		Freshness:   mesh.Freshness{Column: "date", WarnAfter: 30 * time.Hour, FailAfter: 54 * time.Hour},
		PartitionBy: "date",
		Tests: []mesh.ModelTest{{
			Name: "channels_sum_their_landing_pages",
			Doc:  "A day's landing pages add up per channel; a channel GA4 left out is (not set); no conversions count as 0.",
			Given: []mesh.Given{{Input: mesh.FromProduct(Name, "web_traffic"),
				Columns: []string{"property_id", "date", "channel", "landing_page", "sessions", "conversions", "pulled_at"},
				Rows: [][]any{
					{"p1", "2026-11-02", "Direct", "/", 10, 1, "2026-11-03 06:00:00"},
					{"p1", "2026-11-02", "Direct", "/pricing", 30, 5, "2026-11-03 06:00:00"},
					{"p1", "2026-11-02", nil, "/", 4, nil, "2026-11-03 06:00:00"},
					{"p1", "2026-11-03", "Direct", "/", 0, nil, "2026-11-04 06:00:00"},
				}}},
			Expect: mesh.Expect{
				Columns: []string{"property_id", "date", "channel", "sessions", "conversions", "landing_pages", "conversion_rate"},
				Rows: [][]any{
					{"p1", "2026-11-02", "(not set)", 4, 0, 1, 0.0},
					{"p1", "2026-11-02", "Direct", 40, 6, 2, 0.15},
					{"p1", "2026-11-03", "Direct", 0, 0, 1, nil},
				},
			},
		}},
	}
}
