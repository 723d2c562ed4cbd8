package hubspot

import (
	"github.com/meshflow/meshflow/dev/sandbox/internal/fake"
)

// CompanyDomains returns the live companies that have a domain, as name and
// canonical domain, once per domain (a company entered twice appears once), in id
// order. The sandbox derives Pendo accounts and Crunchbase organizations from
// them, so the same companies show up across vendors.
func (a *API) CompanyDomains() []fake.Company {
	a.mu.RLock()
	defer a.mu.RUnlock()
	var out []fake.Company
	seen := map[string]bool{}
	for _, rec := range a.stores["companies"].recs {
		d := fake.CanonicalDomain(rec.props["domain"])
		if rec.archived() || d == "" || seen[d] {
			continue
		}
		seen[d] = true
		out = append(out, fake.Company{Name: rec.props["name"], Domain: d})
	}
	return out
}
