package identity

import (
	"github.com/meshflow/meshflow/framework/globalid"
	"github.com/meshflow/meshflow/framework/mesh"
)

// The global ids the tests' records share, as the shared macros compute them.
var (
	acmeGID     = globalid.CompanyGID("acme.example")
	strangerGID = globalid.CompanyGID("stranger.example")
	janeGID     = globalid.PersonGID("jane@acme.example")
	bobGID      = globalid.PersonGID("bob@nowhere.example")
)

// companyIDsTests are company_ids' unit tests (mesh test identity).
func companyIDsTests() []mesh.ModelTest {
	return []mesh.ModelTest{{
		Name: "one_domain_across_systems",
		Doc: "Spellings of one website in four systems get one company_gid and match; a company entered twice in HubSpot is counted, not merged; " +
			"Pendo's newest version of an account is the one mapped; a record without a usable website has no id.",
		Given: []mesh.Given{{Input: mesh.FromProduct("marketing", "crm_companies"), Columns: []string{"company_id", "name", "web_domain", "company_gid", "updated_at"}, Rows: [][]any{
			{"h1", "Acme", "acme.example", acmeGID, "2026-01-01 00:00:00"},
			{"h2", "Acme (duplicate)", "acme.example", acmeGID, "2026-01-02 00:00:00"},
			{"h3", "No Site", nil, nil, "2026-01-03 00:00:00"},
		}}, {Input: mesh.FromProduct("market_intelligence", "organizations"), Columns: []string{"organization_id", "name", "website_url", "company_gid", "updated_at"}, Rows: [][]any{
			{"c1", "Acme, Inc.", "https://www.ACME.example/", acmeGID, "2026-02-01 00:00:00"},
			{"c2", "Stranger", "https://stranger.example", strangerGID, "2026-02-02 00:00:00"},
		}}, {Input: mesh.Raw("pendo", "accounts"), Columns: []string{"account_id", "name", "domain", "last_updated_at"}, Rows: [][]any{
			{"acct-1", "Acme", "www.acme.example", "2026-03-05 00:00:00"},
			{"acct-1", "Acme", "old-acme.example", "2026-03-01 00:00:00"}, // an older version, landed later
			{nil, "Ghost", "ghost.example", "2026-03-01 00:00:00"},        // no account id
		}}, {Input: mesh.Raw("github", "organizations"), Columns: []string{"id", "login", "name", "blog", "updated_at"}, Rows: [][]any{
			{101, "acme-corp", nil, "https://www.acme.example/", "2026-04-01 00:00:00"}, // no name: the login stands in
			{102, "octo", "Octo", "  ", "2026-04-02 00:00:00"},                          // a blank blog
		}}},
		Expect: mesh.Expect{
			Columns: []string{"source_system", "source_id", "source_name", "source_domain", "web_domain", "company_gid", "matched_sources", "same_source_records", "match_status"},
			Rows: [][]any{
				{"hubspot", "h1", "Acme", "acme.example", "acme.example", acmeGID, 4, 2, "matched"},
				{"hubspot", "h2", "Acme (duplicate)", "acme.example", "acme.example", acmeGID, 4, 2, "matched"},
				{"hubspot", "h3", "No Site", nil, nil, nil, 0, 0, "no_domain"},
				{"crunchbase", "c1", "Acme, Inc.", "https://www.ACME.example/", "acme.example", acmeGID, 4, 1, "matched"},
				{"crunchbase", "c2", "Stranger", "https://stranger.example", "stranger.example", strangerGID, 1, 1, "no_partner"},
				{"pendo", "acct-1", "Acme", "www.acme.example", "acme.example", acmeGID, 4, 1, "matched"},
				{"github", "101", "acme-corp", "https://www.acme.example/", "acme.example", acmeGID, 4, 1, "matched"},
				{"github", "102", "Octo", nil, nil, nil, 0, 0, "no_domain"},
			},
		},
	}}
}

// personIDsTests are person_ids' unit tests (mesh test identity).
func personIDsTests() []mesh.ModelTest {
	return []mesh.ModelTest{{
		Name: "visitors_take_their_accounts_company",
		Doc: "A Pendo visitor's address is normalised and its company is its Pendo account's (never another system's record with the same id); " +
			"a visitor of an unknown account has no company; platform users match by person_gid without an address; no address, no id.",
		Given: []mesh.Given{{Input: mesh.FromProduct("marketing", "crm_contacts"), Columns: []string{"contact_id", "email", "person_gid", "company_gid", "updated_at"}, Rows: [][]any{
			{"p1", "jane@acme.example", janeGID, acmeGID, "2026-01-01 00:00:00"},
			{"p2", nil, nil, nil, "2026-01-01 00:00:00"},
		}}, {Input: mesh.Raw("pendo", "visitors"), Columns: []string{"visitor_id", "account_id", "email", "last_updated_at"}, Rows: [][]any{
			{"v1", "acct-1", " Jane@Acme.example", "2026-03-01 00:00:00"},
			{"v2", "acct-9", "bob@nowhere.example", "2026-03-01 00:00:00"},
			{"v3", "acct-1", "", "2026-03-01 00:00:00"},
		}}, {Input: mesh.FromProduct(Name, "company_ids"), Columns: []string{"source_system", "source_id", "company_gid"}, Rows: [][]any{
			{"pendo", "acct-1", acmeGID},
			{"hubspot", "acct-9", strangerGID}, // a HubSpot company whose id happens to be a Pendo account's
		}}, {Input: mesh.FromProduct("platform", "user_ids"), Columns: []string{"user_id", "account_id", "person_gid", "company_gid", "updated_at"}, Rows: [][]any{
			{7, 1, janeGID, acmeGID, "2026-05-02 00:00:00"},
		}}},
		Expect: mesh.Expect{
			Columns: []string{"source_system", "source_id", "email", "person_gid", "company_gid", "matched_sources", "same_source_records", "match_status"},
			Rows: [][]any{
				{"hubspot", "p1", "jane@acme.example", janeGID, acmeGID, 3, 1, "matched"},
				{"hubspot", "p2", nil, nil, nil, 0, 0, "no_email"},
				{"pendo", "v1", "jane@acme.example", janeGID, acmeGID, 3, 1, "matched"},
				{"pendo", "v2", "bob@nowhere.example", bobGID, nil, 1, 1, "no_partner"},
				{"pendo", "v3", nil, nil, acmeGID, 0, 0, "no_email"},
				{"platform", "7", nil, janeGID, acmeGID, 3, 1, "matched"},
			},
		},
	}}
}
