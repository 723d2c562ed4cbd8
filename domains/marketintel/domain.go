// Package marketintel is the market intelligence domain: the companies in our market,
// from Crunchbase. The market-intelligence team owns it.
package marketintel

import (
	_ "embed"
	"time"

	"github.com/meshflow/meshflow/framework/mesh"
)

// Name is the domain's name; its workers poll the task queue "meshflow.market_intelligence".
const Name = "market_intelligence"

//go:embed models/organizations.sql
var organizationsSQL string

// Domain declares the market intelligence domain and its products.
func Domain() mesh.Domain {
	return mesh.Domain{
		Name:        Name,
		Owner:       "market-intelligence",
		Contact:     "#market-intel",
		Description: "Companies in our market: funding, size, categories and websites.",
		Products:    []mesh.Product{organizations()},
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
			{Name: "company_gid", Type: mesh.String, Doc: "Global company id from the website (framework/globalid's company_gid), as in marketing.crm_companies; null without a website. Since 1.1.0."},
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
