package crunchbase

import "flag"

// Path is where the composite sandbox serves the imitation. A client's base URL
// includes the API version, as Crunchbase's own does (see URL).
const Path = "/crunchbase"

// URL is the Crunchbase API base URL of a sandbox served at root, e.g.
// URL("http://127.0.0.1:8280") = "http://127.0.0.1:8280/crunchbase/api/v4".
func URL(root string) string { return root + Path + "/api/v4" }

// Flags registers the imitation's command-line flags (cmd/sandbox), bound to o.
func (o *Options) Flags(fs *flag.FlagSet) {
	fs.IntVar(&o.Organizations, "crunchbase-organizations", 400, "Crunchbase organizations to generate (most describe HubSpot's companies)")
	fs.IntVar(&o.RateLimit, "crunchbase-rate-limit", 200, "Crunchbase calls per clock minute before a bare 429 (-1 = unlimited)")
	fs.StringVar(&o.Key, "crunchbase-key", DefaultKey, "Crunchbase user key to accept")
}
