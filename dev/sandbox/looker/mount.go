package looker

import "flag"

// Path is where the composite sandbox serves the imitation. A client's base URL
// is the instance's, as Looker's SDKs take it (looker.ini's base_url): the API is
// under it at /api/4.0 (see URL).
const Path = "/looker"

// URL is the Looker base URL of a sandbox served at root, e.g.
// URL("http://127.0.0.1:8280") = "http://127.0.0.1:8280/looker"; login is at
// URL(root) + "/api/4.0/login".
func URL(root string) string { return root + Path }

// Flags registers the imitation's command-line flags (cmd/sandbox), bound to o.
func (o *Options) Flags(fs *flag.FlagSet) {
	fs.IntVar(&o.Days, "looker-days", 90, "days of Looker System Activity history before today")
	fs.IntVar(&o.Staff, "looker-staff", 24, "Looker users from the business (besides the Jira and GitHub people)")
	fs.DurationVar(&o.TokenTTL, "looker-token-ttl", 0, "Looker access token lifetime (0 = Looker's 1h)")
	fs.StringVar(&o.ClientID, "looker-client-id", DefaultClientID, "Looker API client_id to accept")
	fs.StringVar(&o.ClientSecret, "looker-client-secret", DefaultClientSecret, "Looker API client_secret to accept")
}
