// Package identity is the platform's identity domain: which records of the source
// systems name the same company or person. It publishes the mapping from every source
// record to its global id (framework/globalid) and a report of how well they match.
// The data-platform team owns it.
package identity

import (
	"embed"
	"time"

	"github.com/meshflow/meshflow/framework/mesh"
)

// Name is the domain's name; its workers poll the task queue "meshflow.identity".
const Name = "identity"

var (
	//go:embed models/company_ids.sql
	companyIDsSQL string
	//go:embed models/person_ids.sql
	personIDsSQL string
	//go:embed models/identity_match_report.sql
	matchReportSQL string
)

// daily is the freshness SLO of the identity products, rebuilt every morning after the
// products they read: late after a missed run, stale after two.
var daily = mesh.Freshness{WarnAfter: 26 * time.Hour, FailAfter: 50 * time.Hour}

// folder is the domain's folder as the build embeds it: `mesh check` names a
// model's file and line, and finds a .sql file no product uses.
//
//go:embed models
var folder embed.FS

// Domain declares the identity domain and its products.
func Domain() mesh.Domain {
	return mesh.Domain{
		Name:        Name,
		Files:       folder,
		Owner:       "data-platform",
		Contact:     "#data-platform",
		Description: "Global ids for companies and people across the source systems, and how well they match.",
		Products:    []mesh.Product{companyIDs(), personIDs(), matchReport()},
	}
}

// sourceColumns are the leading columns of both mapping tables.
func sourceColumns(entity, systems string) []mesh.Column {
	return []mesh.Column{
		{Name: "source_system", Type: mesh.String, Required: true, Doc: "The system the record comes from: " + systems + "."},
		{Name: "source_id", Type: mesh.String, Required: true, Doc: "The record's id in that system (" + entity + ")."},
	}
}

// matchColumns are the trailing columns of both mapping tables.
func matchColumns(gid, key, none string) []mesh.Column {
	return []mesh.Column{
		{Name: "matched_sources", Type: mesh.Int64, Required: true, Doc: "How many source systems hold a record with this " + gid + ", this one included: 1 = no partner; 0 without a " + gid + "."},
		{Name: "same_source_records", Type: mesh.Int64, Required: true, Doc: "How many records of this source system share this " + gid + ", this one included. Above 1 is a conflict: reported, never merged. 0 without a " + gid + "."},
		{Name: "match_status", Type: mesh.String, Required: true, Doc: "matched (another system holds the " + gid + "), no_partner (no other system does) or " + none + " (no " + key + ", so no " + gid + ")."},
	}
}

func companyIDs() mesh.Product {
	cols := sourceColumns("HubSpot company id, Crunchbase uuid, Pendo account id, GitHub organisation id", "hubspot (marketing.crm_companies), crunchbase (market_intelligence.organizations), pendo (Pendo accounts) or github (GitHub organisations: the owner of our repositories and those that fork them, or once did: an organisation found once stays)")
	cols = append(cols,
		mesh.Column{Name: "source_name", Type: mesh.String, Doc: "The company's name as that system holds it."},
		mesh.Column{Name: "source_domain", Type: mesh.String, Doc: "The website or domain as the system's record holds it (for HubSpot, crm_companies.web_domain; for GitHub, the organisation's blog); null when none."},
		mesh.Column{Name: "web_domain", Type: mesh.String, Doc: "source_domain normalised by the web_domain macro: lower case, no scheme, www., port or path; null when it is not a domain."},
		mesh.Column{Name: "company_gid", Type: mesh.String, Doc: "Global company id: company_gid(web_domain), the same value every domain's ports carry; null without a web domain.", Tags: []string{"company-gid"}},
	)
	cols = append(cols, matchColumns("company_gid", "web domain", "no_domain")...)
	cols = append(cols, mesh.Column{Name: "updated_at", Type: mesh.Timestamp, Doc: "When the source last changed the record (UTC)."})
	return mesh.Product{
		Name: "company_ids",
		Description: "Every company record of HubSpot, Crunchbase, Pendo and GitHub (organisations) mapped to its global company id, derived from the normalised web domain. " +
			"One row per (source_system, source_id); records sharing an id are matched, never merged, and conflicts within one system are flagged.",
		UseCases: []string{
			"Translate a source system's company id into company_gid to join across domains.",
			"Find the HubSpot companies entered twice (same_source_records > 1) to clean them up.",
			"See which Pendo accounts or Crunchbase organizations have no CRM company.",
			"Find the customers whose GitHub organisation forks our repositories.",
		},
		Tags: []string{"identity", "accounts", "global-id"},
		// 1.1.0: GitHub organisations joined (source_system 'github').
		Version: "1.1.0",
		Inputs: []mesh.Input{
			mesh.FromProduct("marketing", "crm_companies"),
			mesh.FromProduct("market_intelligence", "organizations"),
			mesh.Raw("pendo", "accounts"),
			mesh.Raw("github", "organizations"),
		},
		Model:          companyIDsSQL,
		Tests:          companyIDsTests(),
		Schema:         cols,
		PrimaryKey:     []string{"source_system", "source_id"},
		Classification: mesh.Internal,
		Checks: []mesh.Check{
			mesh.RowCount(1, 0),
			mesh.AcceptedValues("source_system", "hubspot", "crunchbase", "pendo", "github"),
			mesh.AcceptedValues("match_status", "matched", "no_partner", "no_domain"),
			// GitHub is left out: repositories owned by a user, never forked by an
			// organisation, have no organisation to report.
			mesh.SQL("every_source_present", "SELECT * FROM (VALUES ('hubspot'), ('crunchbase'), ('pendo')) AS want(s) WHERE s NOT IN (SELECT source_system FROM model)").
				Describe("A source system with no records means its input broke, not that it has no companies."),
			mesh.SQL("company_gid_where_domain", "SELECT * FROM model WHERE web_domain IS NOT NULL AND company_gid IS NULL").
				Describe("Every record with a web domain has a global id."),
			mesh.SQL("company_gid_from_shared_macro", "SELECT * FROM model WHERE company_gid IS DISTINCT FROM company_gid(web_domain)").
				Describe("Every source computed its id with the shared company_gid macro, so ids mean the same everywhere."),
			mesh.SQL("same_source_conflicts", "SELECT * FROM model WHERE same_source_records > 1").AsWarn().
				Describe("Records of one system that share a global id (a company entered twice): the failing count is how many; they are reported, never merged."),
		},
		Freshness: daily,
		Cadence:   "0 7 * * *",
	}
}

func personIDs() mesh.Product {
	cols := sourceColumns("HubSpot contact id, Pendo visitor id, platform user id", "hubspot (marketing.crm_contacts), pendo (Pendo visitors) or platform (the platform's users, platform.user_ids)")
	cols = append(cols,
		mesh.Column{Name: "email", Type: mesh.String, Doc: "The e-mail address, trimmed and lower-cased; null when none, and for platform users, whose addresses are restricted (platform.users).", Tags: mesh.PII(mesh.TagEmail)},
		mesh.Column{Name: "person_gid", Type: mesh.String, Doc: "Global person id: person_gid(email), for platform users as platform.user_ids computed it; null when the address is not a valid one.", Tags: []string{"person-gid"}},
		mesh.Column{Name: "company_gid", Type: mesh.String, Doc: "Global company id of the person's company (HubSpot: the contact's company; Pendo: the visitor's account; platform: the user's account's website); null when unknown.", Tags: []string{"company-gid"}},
	)
	cols = append(cols, matchColumns("person_gid", "valid e-mail address", "no_email")...)
	cols = append(cols, mesh.Column{Name: "updated_at", Type: mesh.Timestamp, Doc: "When the source last changed the record (UTC)."})
	return mesh.Product{
		Name: "person_ids",
		Description: "Every HubSpot contact, Pendo visitor and platform user mapped to its global person id, derived from the normalised e-mail address, with the global id of the person's company. " +
			"One row per (source_system, source_id); records sharing an address are matched, never merged.",
		UseCases: []string{
			"Join CRM contacts to the product usage of the same person.",
			"Find contacts entered twice with one address.",
			"Find the CRM contacts who use the platform (matched to source_system platform).",
		},
		Tags: []string{"identity", "people", "global-id"},
		// 1.1.0: platform users joined (source_system 'platform', without their address).
		Version: "1.1.0",
		// Not incremental (mesh.Incremental), though it grows with every contact: a
		// record's row counts the other records of its person_gid (matched_sources,
		// same_source_records, match_status), so one contact landed changes the rows of
		// every record that shares its address, in other systems too — rows a merge by
		// the changed records' keys would leave stale. Its inputs are products and a
		// lookup-sized raw stream; it reads their current snapshots whole.
		Inputs: []mesh.Input{
			mesh.FromProduct("marketing", "crm_contacts"),
			mesh.Raw("pendo", "visitors"),
			mesh.FromProduct(Name, "company_ids"),
			mesh.FromProduct("platform", "user_ids"),
		},
		Model:          personIDsSQL,
		Tests:          personIDsTests(),
		Schema:         cols,
		PrimaryKey:     []string{"source_system", "source_id"},
		Classification: mesh.Internal,
		Checks: []mesh.Check{
			mesh.RowCount(1, 0),
			mesh.AcceptedValues("source_system", "hubspot", "pendo", "platform"),
			mesh.AcceptedValues("match_status", "matched", "no_partner", "no_email"),
			mesh.SQL("person_gid_where_email", "SELECT * FROM model WHERE email_address(email) IS NOT NULL AND person_gid IS NULL").
				Describe("Every record with a valid e-mail address has a global id."),
			mesh.SQL("same_source_conflicts", "SELECT * FROM model WHERE same_source_records > 1").AsWarn().
				Describe("Records of one system that share an address: the failing count is how many; they are reported, never merged."),
		},
		Freshness: daily,
		Cadence:   "15 7 * * *",
	}
}

func matchReport() mesh.Product {
	partner := func(system string) mesh.Column {
		return mesh.Column{Name: "matched_" + system, Type: mesh.Int64,
			Doc: "Records whose global id " + system + " also holds; null on " + system + "'s own row."}
	}
	return mesh.Product{
		Name: "identity_match_report",
		Description: "How well the global ids match, per entity (company, person) and source system: records, matched to another system, unmatched for want of a domain or a partner, and conflicts. " +
			"The numbers to watch when a source's data entry or a normalisation rule changes.",
		UseCases: []string{
			"Track the share of Pendo accounts, Crunchbase organizations and GitHub organisations matched to a CRM company.",
			"Spot a drop in matches after a source changes how it stores websites or e-mails.",
		},
		Tags: []string{"identity", "data-quality"},
		// 1.1.0: matched_github. 1.2.0: matched_platform (platform users, persons only).
		Version: "1.2.0",
		Inputs:  []mesh.Input{mesh.FromProduct(Name, "company_ids"), mesh.FromProduct(Name, "person_ids")},
		Model:   matchReportSQL,
		Schema: []mesh.Column{
			{Name: "entity", Type: mesh.String, Required: true, Doc: "company (identity.company_ids) or person (identity.person_ids)."},
			{Name: "source_system", Type: mesh.String, Required: true, Doc: "The source system (hubspot, crunchbase, pendo; github for companies; platform for persons)."},
			{Name: "records", Type: mesh.Int64, Required: true, Doc: "Records of the system."},
			{Name: "with_gid", Type: mesh.Int64, Required: true, Doc: "Records with a global id (a web domain, or a valid e-mail for persons)."},
			{Name: "distinct_gids", Type: mesh.Int64, Required: true, Doc: "Distinct global ids among them: fewer than with_gid when records conflict."},
			{Name: "matched", Type: mesh.Int64, Required: true, Doc: "Records whose global id at least one other system holds."},
			{Name: "unmatched_no_gid", Type: mesh.Int64, Required: true, Doc: "Records without a global id: no web domain (companies) or no valid e-mail (persons)."},
			{Name: "unmatched_no_partner", Type: mesh.Int64, Required: true, Doc: "Records with a global id that no other system holds."},
			{Name: "conflicts", Type: mesh.Int64, Required: true, Doc: "Records sharing their global id with another record of the same system; reported, never merged."},
			{Name: "conflict_gids", Type: mesh.Int64, Required: true, Doc: "Global ids held by more than one record of the system."},
			partner("hubspot"),
			partner("crunchbase"),
			partner("pendo"),
			partner("github"),
			partner("platform"),
		},
		PrimaryKey:     []string{"entity", "source_system"},
		Classification: mesh.Internal,
		Checks: []mesh.Check{
			mesh.RowCount(1, 0),
			mesh.AcceptedValues("entity", "company", "person"),
			mesh.SQL("counts_add_up", "SELECT * FROM model WHERE records <> matched + unmatched_no_gid + unmatched_no_partner OR with_gid <> records - unmatched_no_gid").
				Describe("Every record is matched, has no id, or has no partner: exactly one of them."),
		},
		Freshness: daily,
	}
}
