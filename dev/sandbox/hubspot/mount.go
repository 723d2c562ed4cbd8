package hubspot

import (
	"flag"

	"github.com/meshflow/meshflow/dev/sandbox/internal/fake"
)

// Path is where the composite sandbox serves the imitation: a client's base URL is
// the sandbox's root followed by it (see URL).
const Path = "/hubspot"

// URL is the HubSpot base URL of a sandbox served at root, e.g.
// URL("http://127.0.0.1:8280") = "http://127.0.0.1:8280/hubspot".
func URL(root string) string { return root + Path }

// Flags registers the imitation's command-line flags (cmd/sandbox), bound to o.
func (o *Options) Flags(fs *flag.FlagSet) {
	fs.IntVar(&o.Contacts, "hubspot-contacts", 3000, "HubSpot contacts to generate")
	fs.IntVar(&o.Companies, "hubspot-companies", 800, "HubSpot companies to generate")
	fs.IntVar(&o.Deals, "hubspot-deals", 1500, "HubSpot deals to generate")
	fs.IntVar(&o.BulkContacts, "hubspot-bulk-contacts", 0, "HubSpot contacts a last batch job rewrote at one instant, the newest lastmodifieddate (a month-end bulk update)")
	fs.IntVar(&o.SearchCap, "hubspot-search-cap", 10_000, "HubSpot search results one query can page through")
	fs.IntVar(&o.RateLimit, "hubspot-rate-limit", 190, "HubSpot requests per rolling 10 s (-1 = unlimited)")
	fs.IntVar(&o.SearchPerSecond, "hubspot-search-per-second", 5, "HubSpot search requests per second (-1 = unlimited)")
	fs.IntVar(&o.DailyLimit, "hubspot-daily-limit", 500_000, "HubSpot requests per day (-1 = unlimited)")
	fs.StringVar(&o.Token, "hubspot-token", DefaultToken, "HubSpot private app token to accept")
}

// Companies are the live companies with a domain (CompanyDomains): the sandbox's
// other vendors derive some of their records from them.
func (a *API) Companies() []fake.Company { return a.CompanyDomains() }
