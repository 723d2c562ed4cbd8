// Package partners is the partners domain: the partner list the partnerships team
// keeps as a spreadsheet and drops into a bucket whenever it changes (a files source
// the domain keeps, sources/partner_files.yaml). The partnerships team owns
// everything in this folder.
package partners

import (
	"embed"
	"time"

	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/source"
)

// Name is the domain's name; its workers poll the task queue "meshflow.partners".
const Name = "partners"

//go:embed models/partner_accounts.sql
var partnerAccountsSQL string

// folder is the domain's folder as the build embeds it: `mesh check` names a
// model's file and line, and finds a .sql file no product uses.
//
//go:embed models
var folder embed.FS

// Domain declares the partners domain and its products.
func Domain() mesh.Domain {
	return mesh.Domain{
		Name:        Name,
		Files:       folder,
		Owner:       "partnerships",
		Contact:     "#partnerships-data",
		Description: "Our resellers, referral and technology partners, from the partnerships team's spreadsheet, on company_gid.",
		Products:    []mesh.Product{partnerAccounts()},
		Sources:     []source.Connector{PartnerFiles()},
	}
}

func partnerAccounts() mesh.Product {
	return mesh.Product{
		Name: "partner_accounts",
		Description: "Every partner on the partnerships team's list as last dropped: tier, type, region, manager, when the agreement was " +
			"signed and whether it is in force, with the partner's company_gid. A partner taken off the list leaves the port.",
		UseCases: []string{
			"Tell sales which accounts are partners before a deal (join marketing.crm_companies on company_gid).",
			"Count partner-sourced bookings per tier (finance.bookings_monthly on company_gid).",
			"Route partner questions to their manager.",
		},
		Tags:    []string{"partners", "channel", "accounts"},
		Version: "1.0.0",
		Inputs:  []mesh.Input{mesh.Raw("partner_files", "partners")},
		Model:   partnerAccountsSQL,
		Schema: []mesh.Column{
			{Name: "partner_id", Type: mesh.String, Required: true, Doc: "The partnerships team's id of the partner (P-0042)."},
			{Name: "partner_name", Type: mesh.String, Required: true, Doc: "The partner's name."},
			{Name: "company_gid", Type: mesh.String, Doc: "Global company id of the partner's website (framework/globalid's company_gid), as in marketing.crm_companies; null without one.", Tags: []string{"company-gid"}},
			{Name: "web_domain", Type: mesh.String, Doc: "The partner's website domain, normalised."},
			{Name: "tier", Type: mesh.String, Required: true, Doc: "gold, silver or registered."},
			{Name: "partner_type", Type: mesh.String, Required: true, Doc: "reseller, referral or technology."},
			{Name: "region", Type: mesh.String, Doc: "AMER, EMEA or APAC."},
			{Name: "partner_manager", Type: mesh.String, Doc: "Who on the partnerships team looks after the partner."},
			{Name: "signed_on", Type: mesh.Date, Doc: "The day the partner agreement was signed."},
			{Name: "active", Type: mesh.Bool, Required: true, Doc: "Whether the agreement is in force."},
			{Name: "source_file", Type: mesh.String, Required: true, Doc: "The file the row was read from."},
			{Name: "source_row", Type: mesh.Int64, Required: true, Doc: "Its row in the sheet, as Excel numbers rows."},
		},
		PrimaryKey:     []string{"partner_id"},
		Classification: mesh.Internal,
		Checks: []mesh.Check{
			mesh.RowCount(1, 0),
			mesh.AcceptedValues("tier", "gold", "silver", "registered"),
			mesh.AcceptedValues("partner_type", "reseller", "referral", "technology"),
			mesh.SQL("company_gid_from_shared_macro", "SELECT * FROM model WHERE company_gid IS DISTINCT FROM company_gid(web_domain)").
				Describe("The global id is the shared macro's, so the rows join every other domain's."),
			mesh.SQL("has_company", "SELECT * FROM model WHERE company_gid IS NULL").AsWarn().
				Describe("A partner without a website matches no company: add it to the list."),
		},
		// The list changes a few times a month; a month without a drop is worth a look.
		Freshness: mesh.Freshness{WarnAfter: 35 * 24 * time.Hour, FailAfter: 95 * 24 * time.Hour},
		Cadence:   "0 6 * * *",
	}
}
