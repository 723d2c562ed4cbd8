package partners

import (
	"strings"
	"testing"
	"time"

	"github.com/meshflow/meshflow/connectors/files"
	"github.com/meshflow/meshflow/connectors/files/filestest"
	"github.com/meshflow/meshflow/framework/globalid"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/source"
)

func TestDomainValidates(t *testing.T) {
	if err := (mesh.Mesh{Domains: []mesh.Domain{Domain()}}).Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestPartnerAccountsIsTheListLastDropped: the port holds the sandbox's partner list
// on its companies' company_gid; the list dropped again with a partner promoted and
// one taken off replaces it whole.
func TestPartnerAccountsIsTheListLastDropped(t *testing.T) {
	var companies []source.SandboxCompany
	for _, d := range []string{"acme", "globex", "initech", "umbrella", "hooli", "vandelay", "stark"} {
		companies = append(companies, source.SandboxCompany{Name: strings.ToUpper(d[:1]) + d[1:], Domain: d + ".example"})
	}
	now := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	m := filestest.New(t, Domain(), PartnerFiles(), source.SandboxOptions{Seed: 5, Now: func() time.Time { return now }, Companies: companies})
	first := m.Run("partner_accounts")
	if first.Quality != "pass" || first.Rows != 3 {
		t.Fatalf("partner_accounts: %+v, want the 3 partners (every third company)", first)
	}
	list := func() map[string]string {
		got := map[string]string{}
		rows := m.Query("partner_accounts_v1", `SELECT company_gid, tier || ' ' || active FROM port`)
		for rows.Next() {
			var gid, state string
			if err := rows.Scan(&gid, &state); err != nil {
				t.Fatal(err)
			}
			got[gid] = state
		}
		return got
	}
	got := list()
	for _, d := range []string{"acme.example", "umbrella.example", "stark.example"} {
		if _, ok := got[globalid.CompanyGID(d)]; !ok {
			t.Fatalf("partners %v lack %s", got, d)
		}
	}

	if what := m.Change(5); len(what) != 1 {
		t.Fatalf("changes %q", what)
	}
	m.Run("partner_accounts")
	after := list()
	umbrella := globalid.CompanyGID("umbrella.example")
	if after[globalid.CompanyGID("acme.example")] != "gold true" || after[umbrella] != strings.TrimSuffix(got[umbrella], "true")+"false" {
		t.Fatalf("after the change: %v (before %v)", after, got)
	}

	// The list dropped again without two partners: they leave the port.
	x, err := files.XLSXFile("Partners", [][]any{header, {"P-0001", "Acme", "acme.example", "Gold", "Reseller", "amer", "Priya Nair", "2024-01-02", "yes"}})
	if err != nil {
		t.Fatal(err)
	}
	m.Bucket.Put("partners.xlsx", x)
	m.Run("partner_accounts")
	if final := list(); len(final) != 1 || final[globalid.CompanyGID("acme.example")] != "gold true" {
		t.Fatalf("after two partners left the list: %v", final)
	}
}
