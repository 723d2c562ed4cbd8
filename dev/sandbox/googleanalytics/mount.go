package googleanalytics

import (
	"flag"
	"os"
)

// Path is where the composite sandbox serves the imitation: a client's base URL is
// the sandbox's root followed by it (see URL); its token endpoint is TokenURL.
const Path = "/ga4"

// URL is the GA4 Data API base URL of a sandbox served at root, e.g.
// URL("http://127.0.0.1:8280") = "http://127.0.0.1:8280/ga4"; runReport is under
// it at /v1beta/properties/{id}:runReport.
func URL(root string) string { return root + Path }

// TokenURL is the OAuth token endpoint of a sandbox served at root: the token_uri
// of its service-account key file (API.ServiceAccountJSON).
func TokenURL(root string) string { return URL(root) + "/token" }

// Flags registers the imitation's command-line flags (cmd/sandbox), bound to o.
func (o *Options) Flags(fs *flag.FlagSet) {
	fs.IntVar(&o.Days, "ga4-days", 365, "GA4 days of daily traffic before today")
	fs.IntVar(&o.TokensPerHour, "ga4-tokens-per-hour", 40_000, "GA4 quota tokens per property per hour (-1 = unlimited)")
	fs.IntVar(&o.TokensPerDay, "ga4-tokens-per-day", 200_000, "GA4 quota tokens per property per day (-1 = unlimited)")
	fs.StringVar(&o.KeyFile, "ga4-key-file", "", "once listening, write the GA4 service-account key file (token_uri pointing here) to this path")
}

// Serving writes the key file Options.KeyFile names, once the imitation is served
// at baseURL: its token_uri is baseURL's token endpoint.
func (a *API) Serving(baseURL string) error {
	if a.opts.KeyFile == "" {
		return nil
	}
	return os.WriteFile(a.opts.KeyFile, a.ServiceAccountJSON(baseURL+"/token"), 0o600)
}
