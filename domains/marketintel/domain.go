// Package marketintel is the market intelligence domain: the companies in our market,
// from Crunchbase, and People Data Labs' firmographics of the companies the mesh
// knows (a source the domain keeps for itself, sources/peopledatalabs.yaml). The
// market-intelligence team owns it.
package marketintel

import (
	"embed"
	"time"

	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/source"
)

// Name is the domain's name; its workers poll the task queue "meshflow.market_intelligence".
const Name = "market_intelligence"

//go:embed models/organizations.sql
var organizationsSQL string

//go:embed models/company_enrichment.sql
var companyEnrichmentSQL string

// folder is the domain's folder as the build embeds it: `mesh check` names a
// model's file and line, and finds a .sql file no product uses.
//
//go:embed models
var folder embed.FS

// Domain declares the market intelligence domain and its products.
func Domain() mesh.Domain {
	return mesh.Domain{
		Name:        Name,
		Files:       folder,
		Owner:       "market-intelligence",
		Contact:     "#market-intel",
		Description: "Companies in our market: funding, size, categories and websites.",
		Products:    []mesh.Product{organizations(), companyEnrichment()},
		Sources:     []source.Connector{PeopleDataLabs()},
	}
}

func organizations() mesh.Product {
	return mesh.Product{
		Name: "organizations",
		Description: "Organizations from Crunchbase with funding, employee range, categories and normalised web domain. " +
			"Keyed on Crunchbase's uuid, which survives renames.",
		UseCases: []string{
			"Enrich CRM accounts with funding and size by web domain.",
			"Size segments of the market by category and funding stage.",
		},
		Tags:    []string{"crunchbase", "firmographics", "accounts"},
		Version: "1.1.0",
		Inputs:  []mesh.Input{mesh.Raw("crunchbase", "organizations")},
		Model:   organizationsSQL,
		Schema: []mesh.Column{
			{Name: "organization_id", Type: mesh.String, Required: true, Doc: "Crunchbase uuid."},
			{Name: "permalink", Type: mesh.String, Doc: "Crunchbase permalink; can change when an organization is renamed."},
			{Name: "name", Type: mesh.String, Required: true, Doc: "Organization name."},
			{Name: "short_description", Type: mesh.String, Doc: "One-line description."},
			{Name: "website_url", Type: mesh.String, Doc: "Website as Crunchbase holds it."},
			{Name: "web_domain", Type: mesh.String, Doc: "Website domain, lower case, without scheme, www., port or path (framework/globalid's web_domain); null without a website."},
			{Name: "founded_on", Type: mesh.Date, Doc: "Founding date (its precision may be a month or a year)."},
			{Name: "employees_range", Type: mesh.String, Doc: "Crunchbase employee range code, c_00001_00010 … c_10001_max."},
			{Name: "employees_min", Type: mesh.Int64, Doc: "Lower bound of the employee range."},
			{Name: "employees_max", Type: mesh.Int64, Doc: "Upper bound of the employee range; null when open-ended."},
			{Name: "categories", Type: mesh.String, Doc: "Category names, comma-separated."},
			{Name: "last_funding_type", Type: mesh.String, Doc: "Type of the latest funding round (seed, series_a, …)."},
			{Name: "funding_total_usd", Type: mesh.Float64, Doc: "Total funding raised, in US dollars."},
			{Name: "operating_status", Type: mesh.String, Doc: "active or closed."},
			{Name: "updated_at", Type: mesh.Timestamp, Required: true, Doc: "When Crunchbase last changed the organization (UTC)."},
			{Name: "company_gid", Type: mesh.String, Doc: "Global company id from the website (framework/globalid's company_gid), as in marketing.crm_companies; null without a website. Since 1.1.0.", Tags: []string{"company-gid"}},
		},
		PrimaryKey:     []string{"organization_id"},
		Classification: mesh.Internal,
		Checks: []mesh.Check{
			mesh.RowCount(1, 0),
			mesh.SQL("funding_not_negative", "SELECT * FROM model WHERE funding_total_usd < 0"),
			mesh.SQL("employee_range_ordered", "SELECT * FROM model WHERE employees_max < employees_min"),
			mesh.SQL("has_web_domain", "SELECT * FROM model WHERE web_domain IS NULL").AsWarn().
				Describe("Organizations without a website cannot be matched to other systems."),
		},
		Freshness: mesh.Freshness{WarnAfter: 8 * 24 * time.Hour, FailAfter: 15 * 24 * time.Hour},
		Cadence:   "@weekly",
	}
}

// companyEnrichment lands People Data Labs' answer for every web domain of
// identity.company_ids not asked within PEOPLEDATALABS_REFRESH_DAYS (the stream's
// keys query reads its own landings), so each run spends credits on new and stale
// domains only.
func companyEnrichment() mesh.Product {
	return mesh.Product{
		Name: "company_enrichment",
		Description: "People Data Labs firmographics (size, industry, headquarters, funding) for every web domain the mesh knows, " +
			"matched or not, keyed on the domain asked and carrying its company_gid. A domain is asked again after PEOPLEDATALABS_REFRESH_DAYS.",
		UseCases: []string{
			"Segment CRM accounts by employee range and industry where HubSpot has no size.",
			"Find companies whose website moved (website_differs): a rebrand or an acquisition.",
			"See how much of the company base PDL knows (matched) before buying more credits.",
		},
		Tags:    []string{"peopledatalabs", "firmographics", "accounts", "enrichment"},
		Version: "1.0.0",
		// identity.company_ids is what the stream's keys query reads: declared, it runs
		// first and the lineage names it.
		Inputs: []mesh.Input{mesh.Raw("peopledatalabs", "company_enrichment"), mesh.FromProduct("identity", "company_ids")},
		Model:  companyEnrichmentSQL,
		Schema: []mesh.Column{
			{Name: "web_domain", Type: mesh.String, Required: true, Doc: "The web domain asked about, as identity.company_ids normalises it."},
			{Name: "company_gid", Type: mesh.String, Required: true, Doc: "Global company id of web_domain (framework/globalid's company_gid), as in marketing.crm_companies.", Tags: []string{"company-gid"}},
			{Name: "matched", Type: mesh.Bool, Required: true, Doc: "True when PDL has a company with that website; the other columns are null otherwise."},
			{Name: "likelihood", Type: mesh.Int64, Doc: "How sure PDL is of the match, 1 to 10 (logarithmic)."},
			{Name: "pdl_id", Type: mesh.String, Doc: "People Data Labs' company id."},
			{Name: "name", Type: mesh.String, Doc: "Company name, lower case as PDL holds names."},
			{Name: "website", Type: mesh.String, Doc: "Website as PDL holds it."},
			{Name: "website_differs", Type: mesh.Bool, Doc: "True when PDL's website is another domain than the one asked (a rebrand, or the domain is an alternative one)."},
			{Name: "employee_range", Type: mesh.String, Doc: "PDL's employee range: 1-10, 11-50, … 10001+."},
			{Name: "employee_count", Type: mesh.Int64, Doc: "Employees PDL counts."},
			{Name: "founded_year", Type: mesh.Int64, Doc: "Year founded."},
			{Name: "industry", Type: mesh.String, Doc: "Industry, lower case."},
			{Name: "country", Type: mesh.String, Doc: "Country of the headquarters, lower case."},
			{Name: "locality", Type: mesh.String, Doc: "City of the headquarters, lower case."},
			{Name: "company_type", Type: mesh.String, Doc: "public, private, nonprofit, …"},
			{Name: "ticker", Type: mesh.String, Doc: "Stock ticker of a public company."},
			{Name: "total_funding_usd", Type: mesh.Float64, Doc: "Total funding raised, in US dollars."},
			{Name: "latest_funding_stage", Type: mesh.String, Doc: "Latest funding stage (seed, series_a, …)."},
			{Name: "last_funding_date", Type: mesh.Date, Doc: "Date of the latest funding round."},
			{Name: "pulled_at", Type: mesh.Timestamp, Required: true, Doc: "When the mesh asked PDL about the domain (UTC): the answer is as of then."},
		},
		PrimaryKey:     []string{"web_domain"},
		Classification: mesh.Internal,
		Checks: []mesh.Check{
			mesh.RowCount(1, 0),
			mesh.SQL("company_gid_from_shared_macro", "SELECT * FROM model WHERE company_gid IS DISTINCT FROM company_gid(web_domain)").
				Describe("The global id is the shared macro's, so the rows join every other domain's."),
			mesh.SQL("match_has_company", "SELECT * FROM model WHERE matched AND pdl_id IS NULL"),
			mesh.SQL("likelihood_in_range", "SELECT * FROM model WHERE likelihood NOT BETWEEN 1 AND 10"),
			mesh.SQL("mostly_matched", "SELECT * FROM model WHERE NOT matched AND (SELECT avg(CASE WHEN matched THEN 0 ELSE 1 END) FROM model) > 0.5").AsWarn().
				Describe("More than half the domains unmatched: the keys are not companies' websites, or the account's data set changed."),
		},
		Freshness: mesh.Freshness{WarnAfter: 8 * 24 * time.Hour, FailAfter: 15 * 24 * time.Hour},
		Cadence:   "0 8 * * 1",
	}
}
