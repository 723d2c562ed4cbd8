package partners

import (
	_ "embed"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/meshflow/meshflow/connectors/files"
	"github.com/meshflow/meshflow/dev/sandbox/bucket"
	"github.com/meshflow/meshflow/framework/source"
)

//go:embed sources/partner_files.yaml
var partnerFilesYAML []byte

// partnerFiles is the parsed spec, validated when the package loads.
var partnerFiles = files.Must("domains/partners/sources/partner_files.yaml", partnerFilesYAML)

// PartnerFiles is the partner_files source, which the partners domain alone reads
// (mesh.Domain.Sources): the partner list dropped into a bucket, with a sandbox that
// drops one built from the sandbox's companies.
func PartnerFiles() source.Connector {
	c := partnerFiles.Connector()
	c.Sandbox = partnerFiles.Sandbox(seedPartnerList)
	return c
}

var header = []any{"Partner ID", "Partner", "Website", "Tier", "Type", "Region", "Partner manager", "Signed", "Active"}

// seedPartnerList drops partners.xlsx: every third of the sandbox's companies is a
// partner (so partners join the mesh on company_gid). The demo's second run promotes
// a partner, ends another's agreement and drops the list again.
func seedPartnerList(o source.SandboxOptions, b *bucket.API) (func(int) []string, error) {
	companies := o.Companies
	if len(companies) == 0 {
		companies = []source.SandboxCompany{{Name: "Acme Corp", Domain: "acme.example"}, {Name: "Globex", Domain: "globex.example"}, {Name: "Initech", Domain: "initech.example"}}
	}
	r := rand.New(rand.NewPCG(uint64(o.Seed), 17))
	tiers := []string{"gold", "silver", "silver", "registered", "registered"}
	types := []string{"reseller", "referral", "technology"}
	regions := []string{"AMER", "EMEA", "APAC"}
	managers := []string{"Priya Nair", "Tom Becker", "Ana Souza"}
	rows := [][]any{header}
	for i := 0; i < len(companies); i += 3 {
		c := companies[i]
		site := c.Domain
		if r.IntN(2) == 0 {
			site = "https://www." + c.Domain
		}
		signed := time.Date(2021+r.IntN(5), time.Month(1+r.IntN(12)), 1+r.IntN(28), 0, 0, 0, 0, time.UTC)
		rows = append(rows, []any{fmt.Sprintf("P-%04d", len(rows)), c.Name, site, tiers[r.IntN(len(tiers))], types[r.IntN(len(types))],
			regions[r.IntN(len(regions))], managers[r.IntN(len(managers))], signed, "yes"})
	}
	put := func() error {
		x, err := files.XLSXFile("Partners", rows)
		if err != nil {
			return err
		}
		b.Put("partners.xlsx", x)
		return nil
	}
	if err := put(); err != nil {
		return nil, err
	}
	return func(n int) []string {
		if n <= 0 || len(rows) < 3 {
			return nil
		}
		rows[1][3] = "gold"
		rows[2][8] = "no"
		if put() != nil {
			return nil
		}
		return []string{fmt.Sprintf("dropped partners.xlsx again (%s promoted to gold, %s's agreement ended)", rows[1][1], rows[2][1])}
	}, nil
}
