package peopledatalabs

import (
	"flag"
	"fmt"
	"strconv"
)

// Path is where the composite sandbox serves the imitation. A client's base URL
// includes the API version, as PDL's own does (see URL).
const Path = "/peopledatalabs"

// URL is the PDL API base URL of a sandbox served at root, e.g.
// URL("http://127.0.0.1:8280") = "http://127.0.0.1:8280/peopledatalabs/v5".
func URL(root string) string { return root + Path + "/v5" }

// Flags registers the imitation's command-line flags (cmd/sandbox), bound to o.
func (o *Options) Flags(fs *flag.FlagSet) {
	fs.IntVar(&o.Strangers, "peopledatalabs-strangers", 200, "People Data Labs companies HubSpot does not know (found by search)")
	fs.IntVar(&o.CompanyEnrichPerMinute, "peopledatalabs-enrich-per-minute", 1000, "People Data Labs company enrichment requests per clock minute (-1 = unlimited)")
	fs.IntVar(&o.PersonEnrichPerMinute, "peopledatalabs-person-enrich-per-minute", 1000, "People Data Labs person enrichment requests per clock minute (-1 = unlimited)")
	fs.IntVar(&o.SearchPerMinute, "peopledatalabs-search-per-minute", 10, "People Data Labs company search requests per clock minute (-1 = unlimited)")
	fs.Func("peopledatalabs-credits", "People Data Labs credits in each pool (company enrichment, person enrichment, company search) [100000]", func(s string) error {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return fmt.Errorf("a non-negative integer, not %q", s)
		}
		o.Credits = map[string]int{}
		for _, typ := range CreditTypes {
			o.Credits[typ] = n
		}
		return nil
	})
	fs.StringVar(&o.Key, "peopledatalabs-key", DefaultKey, "People Data Labs API key to accept")
}
