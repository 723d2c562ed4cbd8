package pendo

import "flag"

// Path is where the composite sandbox serves the imitation: a client's base URL is
// the sandbox's root followed by it (see URL); the API is under it at /api/v1.
const Path = "/pendo"

// URL is the Pendo base URL of a sandbox served at root, e.g.
// URL("http://127.0.0.1:8280") = "http://127.0.0.1:8280/pendo".
func URL(root string) string { return root + Path }

// Flags registers the imitation's command-line flags (cmd/sandbox), bound to o.
func (o *Options) Flags(fs *flag.FlagSet) {
	fs.IntVar(&o.Accounts, "pendo-accounts", 200, "Pendo accounts to generate (most describe HubSpot's companies)")
	fs.IntVar(&o.Visitors, "pendo-visitors", 2000, "Pendo visitors to generate")
	fs.IntVar(&o.Days, "pendo-days", 365, "Pendo days of events before today")
	fs.StringVar(&o.TimeZone, "pendo-time-zone", DefaultTimeZone, "Pendo subscription time zone: day buckets start at its midnights")
	fs.IntVar(&o.RateLimit, "pendo-rate-limit", 60, "Pendo requests per rolling minute before 429 (-1 = unlimited)")
	fs.StringVar(&o.Key, "pendo-key", DefaultKey, "Pendo integration key to accept")
}
