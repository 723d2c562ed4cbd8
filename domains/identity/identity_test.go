package identity

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/meshflow/meshflow/framework/globalid"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/quality"
	"github.com/meshflow/meshflow/framework/source"
	"github.com/meshflow/meshflow/framework/transform"
)

// The three identity models on a small hand-made set of inputs: spellings of one
// domain match across systems, a company entered twice is a conflict that is reported
// and not merged, and records without a domain or a partner are counted as such.
func TestIdentityModels(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := transform.Open(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	write := func(name, query string) string {
		t.Helper()
		p := filepath.Join(dir, name+".parquet")
		if _, err := db.ExecContext(ctx, "COPY ("+query+") TO "+quality.Literal(p)+" (FORMAT parquet)"); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return p
	}
	// A raw landing: the stream's fields plus the lake's bookkeeping columns.
	raw := func(name, fields, values string) string {
		return write(name, `SELECT *, TIMESTAMP '2026-11-23 00:00:00' AS _extracted_at, 'run' AS _run_id,
			NULL::VARCHAR AS _cursor, '{}' AS _raw FROM (VALUES `+values+`) AS v(`+fields+`)`)
	}
	gid := globalid.CompanyGID
	companies := write("crm_companies", `SELECT *, company_gid(web_domain) AS company_gid FROM (VALUES
		('h1', 'Acme', 'acme.example', TIMESTAMP '2026-01-01 00:00:00'),
		('h2', 'Acme (duplicate)', 'acme.example', TIMESTAMP '2026-01-02 00:00:00'),
		('h3', 'Nimbus', 'nimbus.example', TIMESTAMP '2026-01-03 00:00:00'),
		('h4', 'No Site', NULL, TIMESTAMP '2026-01-04 00:00:00')
		) AS c(company_id, name, web_domain, updated_at)`)
	orgs := write("organizations", `SELECT *, company_gid(website_url) AS company_gid FROM (VALUES
		('c1', 'Acme, Inc.', 'https://www.ACME.example/', TIMESTAMP '2026-02-01 00:00:00'),
		('c2', 'Stranger', 'https://stranger.example', TIMESTAMP '2026-02-02 00:00:00'),
		('c3', 'Hidden', NULL, TIMESTAMP '2026-02-03 00:00:00')
		) AS o(organization_id, name, website_url, updated_at)`)
	accounts := raw("accounts", "account_id, name, domain, last_updated_at", `
		('acct-1', 'Acme', 'www.acme.example', TIMESTAMP '2026-03-01 00:00:00'),
		('acct-2', 'Nimbus', 'Nimbus.Example', TIMESTAMP '2026-03-02 00:00:00'),
		('acct-3', 'Solo', 'solo.example', TIMESTAMP '2026-03-03 00:00:00')`)
	// GitHub: id is a number; name may be null (the login stands in); blog is free text.
	ghOrgs := raw("github_organizations", "id, login, name, blog, updated_at", `
		(101::BIGINT, 'acme-corp', NULL, 'https://www.acme.example/', TIMESTAMP '2026-04-01 00:00:00'),
		(102::BIGINT, 'octo', 'Octo', '', TIMESTAMP '2026-04-02 00:00:00')`)
	contacts := write("crm_contacts", `SELECT *, person_gid(email) AS person_gid FROM (VALUES
		('p1', 'jane@acme.example', '`+gid("acme.example")+`', TIMESTAMP '2026-01-01 00:00:00'),
		('p2', NULL, NULL, TIMESTAMP '2026-01-01 00:00:00')
		) AS c(contact_id, email, company_gid, updated_at)`)
	visitors := raw("visitors", "visitor_id, account_id, email, last_updated_at", `
		('v1', 'acct-1', ' Jane@Acme.example', TIMESTAMP '2026-03-01 00:00:00'),
		('v2', 'acct-3', 'solo@solo.example', TIMESTAMP '2026-03-01 00:00:00')`)
	// Platform users as platform.user_ids publishes them: global ids, no address.
	platformUsers := write("user_ids", `SELECT user_id, account_id, person_gid(email) AS person_gid, company_gid(domain) AS company_gid,
		TIMESTAMP '2026-05-01 00:00:00' AS created_at, TIMESTAMP '2026-05-02 00:00:00' AS updated_at FROM (VALUES
		(7::BIGINT, 1::BIGINT, 'JANE@acme.example', 'acme.example'),
		(8::BIGINT, 2::BIGINT, 'solo@solo.example', 'solo.example'),
		(9::BIGINT, 2::BIGINT, 'not an address', 'solo.example')
		) AS u(user_id, account_id, email, domain)`)

	var products = map[string]mesh.Product{}
	for _, p := range Domain().Products {
		products[p.Name] = p
	}
	run := func(name string, ports []transform.PortInput, raws []transform.RawInput) string {
		t.Helper()
		out := filepath.Join(dir, name+"_out.parquet")
		p := products[name]
		if _, err := transform.Run(ctx, transform.Request{Product: p, Output: out, Ports: ports, Raw: raws}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		results, err := transform.CheckStaged(ctx, out, p.AllChecks(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range results {
			// The duplicate HubSpot company must show up in the warn-level conflict check.
			want := mesh.StatusPass
			if name == "company_ids" && r.Name == "same_source_conflicts" {
				want = mesh.StatusWarn
				if r.Failing != 2 {
					t.Errorf("company_ids same_source_conflicts counts %d records, want the 2 HubSpot records of acme.example", r.Failing)
				}
			}
			if r.Status != want {
				t.Errorf("%s check %s: %s (%d failing), want %s", name, r.Name, r.Status, r.Failing, want)
			}
		}
		return out
	}
	field := func(names ...string) []source.Field {
		out := make([]source.Field, len(names))
		for i, n := range names {
			out[i] = source.Field{Name: n, Type: source.String}
		}
		return out
	}
	companyIDs := run("company_ids", []transform.PortInput{
		{Domain: "marketing", Product: "crm_companies", Files: []string{companies}},
		{Domain: "market_intelligence", Product: "organizations", Files: []string{orgs}},
	}, []transform.RawInput{{Source: "pendo", Stream: "accounts", Files: []string{accounts}, PrimaryKey: []string{"account_id"},
		CursorField: "last_updated_at", Fields: field("account_id", "name", "domain")},
		{Source: "github", Stream: "organizations", Files: []string{ghOrgs}, PrimaryKey: []string{"id"},
			CursorField: "updated_at", Fields: field("id", "login", "name", "blog")}})

	type idRow struct {
		gid           sql.NullString
		sources, same int64
		status        string
	}
	rows := map[string]idRow{}
	q, err := db.QueryContext(ctx, "SELECT source_system || '/' || source_id, company_gid, matched_sources, same_source_records, match_status FROM read_parquet(?)", companyIDs)
	if err != nil {
		t.Fatal(err)
	}
	for q.Next() {
		var k string
		var r idRow
		if err := q.Scan(&k, &r.gid, &r.sources, &r.same, &r.status); err != nil {
			t.Fatal(err)
		}
		rows[k] = r
	}
	q.Close()
	names := map[string]string{}
	nq, err := db.QueryContext(ctx, "SELECT source_id, source_name FROM read_parquet(?) WHERE source_system = 'github'", companyIDs)
	if err != nil {
		t.Fatal(err)
	}
	for nq.Next() {
		var id, name string
		if err := nq.Scan(&id, &name); err != nil {
			t.Fatal(err)
		}
		names[id] = name
	}
	nq.Close()
	if names["101"] != "acme-corp" || names["102"] != "Octo" {
		t.Errorf("github source names = %v, want the login where the name is null", names)
	}
	acme, nimbus := gid("acme.example"), gid("nimbus.example")
	want := map[string]idRow{
		"hubspot/h1":    {sql.NullString{String: acme, Valid: true}, 4, 2, "matched"},
		"hubspot/h2":    {sql.NullString{String: acme, Valid: true}, 4, 2, "matched"},
		"hubspot/h3":    {sql.NullString{String: nimbus, Valid: true}, 2, 1, "matched"},
		"hubspot/h4":    {sql.NullString{}, 0, 0, "no_domain"},
		"crunchbase/c1": {sql.NullString{String: acme, Valid: true}, 4, 1, "matched"},
		"crunchbase/c2": {sql.NullString{String: gid("stranger.example"), Valid: true}, 1, 1, "no_partner"},
		"crunchbase/c3": {sql.NullString{}, 0, 0, "no_domain"},
		"pendo/acct-1":  {sql.NullString{String: acme, Valid: true}, 4, 1, "matched"},
		"pendo/acct-2":  {sql.NullString{String: nimbus, Valid: true}, 2, 1, "matched"},
		"pendo/acct-3":  {sql.NullString{String: gid("solo.example"), Valid: true}, 1, 1, "no_partner"},
		"github/101":    {sql.NullString{String: acme, Valid: true}, 4, 1, "matched"},
		"github/102":    {sql.NullString{}, 0, 0, "no_domain"},
	}
	if len(rows) != len(want) {
		t.Errorf("company_ids has %d rows, want one per source record (%d): records are never merged", len(rows), len(want))
	}
	for k, w := range want {
		if got := rows[k]; got != w {
			t.Errorf("company_ids %s = %+v, want %+v", k, got, w)
		}
	}

	personIDs := run("person_ids", []transform.PortInput{
		{Domain: "marketing", Product: "crm_contacts", Files: []string{contacts}},
		{Domain: "identity", Product: "company_ids", Files: []string{companyIDs}},
		{Domain: "platform", Product: "user_ids", Files: []string{platformUsers}},
	}, []transform.RawInput{{Source: "pendo", Stream: "visitors", Files: []string{visitors}, PrimaryKey: []string{"visitor_id"},
		CursorField: "last_updated_at", Fields: field("visitor_id", "account_id", "email")}})
	var visitorCompany, visitorStatus string
	if err := db.QueryRowContext(ctx, "SELECT company_gid, match_status FROM read_parquet(?) WHERE source_id = 'v1'", personIDs).Scan(&visitorCompany, &visitorStatus); err != nil {
		t.Fatal(err)
	}
	if visitorCompany != acme || visitorStatus != "matched" {
		t.Errorf("visitor v1: company %s, %s; want acme's id (through its account) and matched to contact p1", visitorCompany, visitorStatus)
	}
	// Platform users map to person_gid by their address, matching the CRM contact and
	// Pendo visitor with it (whatever its case), and carry no address themselves.
	pq, err := db.QueryContext(ctx, `SELECT source_id, coalesce(email, '-'), coalesce(person_gid, '-'), coalesce(company_gid, '-'), matched_sources, match_status
		FROM read_parquet(?) WHERE source_system = 'platform' ORDER BY source_id`, personIDs)
	if err != nil {
		t.Fatal(err)
	}
	var platformRows []string
	for pq.Next() {
		var id, email, person, company, status string
		var sources int64
		if err := pq.Scan(&id, &email, &person, &company, &sources, &status); err != nil {
			t.Fatal(err)
		}
		platformRows = append(platformRows, fmt.Sprintf("%s %s %s %s %d %s", id, email, person, company, sources, status))
	}
	pq.Close()
	pgid := globalid.PersonGID
	wantPlatform := []string{
		"7 - " + pgid("jane@acme.example") + " " + acme + " 3 matched",
		"8 - " + pgid("solo@solo.example") + " " + gid("solo.example") + " 2 matched",
		"9 - - " + gid("solo.example") + " 0 no_email",
	}
	if !slices.Equal(platformRows, wantPlatform) {
		t.Errorf("person_ids' platform users:\n got %q\nwant %q", platformRows, wantPlatform)
	}

	report := run("identity_match_report", []transform.PortInput{
		{Domain: "identity", Product: "company_ids", Files: []string{companyIDs}},
		{Domain: "identity", Product: "person_ids", Files: []string{personIDs}},
	}, nil)
	type reportRow struct {
		records, withGID, distinct, matched, noGID, noPartner, conflicts, conflictGIDs int64
		hubspot, crunchbase, pendo, github, platform                                   sql.NullInt64
	}
	get := func(entity, system string) reportRow {
		t.Helper()
		var r reportRow
		if err := db.QueryRowContext(ctx, `SELECT records, with_gid, distinct_gids, matched, unmatched_no_gid, unmatched_no_partner,
			conflicts, conflict_gids, matched_hubspot, matched_crunchbase, matched_pendo, matched_github, matched_platform FROM read_parquet(?)
			WHERE entity = ? AND source_system = ?`, report, entity, system).Scan(&r.records, &r.withGID, &r.distinct, &r.matched,
			&r.noGID, &r.noPartner, &r.conflicts, &r.conflictGIDs, &r.hubspot, &r.crunchbase, &r.pendo, &r.github, &r.platform); err != nil {
			t.Fatalf("report %s/%s: %v", entity, system, err)
		}
		return r
	}
	n := func(v int64) sql.NullInt64 { return sql.NullInt64{Int64: v, Valid: true} }
	for _, c := range []struct {
		entity, system string
		want           reportRow
	}{
		{"company", "hubspot", reportRow{4, 3, 2, 3, 1, 0, 2, 1, sql.NullInt64{}, n(2), n(3), n(2), n(0)}},
		{"company", "crunchbase", reportRow{3, 2, 2, 1, 1, 1, 0, 0, n(1), sql.NullInt64{}, n(1), n(1), n(0)}},
		{"company", "pendo", reportRow{3, 3, 3, 2, 0, 1, 0, 0, n(2), n(1), sql.NullInt64{}, n(1), n(0)}},
		{"company", "github", reportRow{2, 1, 1, 1, 1, 0, 0, 0, n(1), n(1), n(1), sql.NullInt64{}, n(0)}},
		{"person", "hubspot", reportRow{2, 1, 1, 1, 1, 0, 0, 0, sql.NullInt64{}, n(0), n(1), n(0), n(1)}},
		// v2 has a partner now: platform user 8 shares its address.
		{"person", "pendo", reportRow{2, 2, 2, 2, 0, 0, 0, 0, n(1), n(0), sql.NullInt64{}, n(0), n(2)}},
		{"person", "platform", reportRow{3, 2, 2, 2, 1, 0, 0, 0, n(1), n(0), n(2), n(0), sql.NullInt64{}}},
	} {
		if got := get(c.entity, c.system); got != c.want {
			t.Errorf("report %s/%s = %+v, want %+v", c.entity, c.system, got, c.want)
		}
	}
}
