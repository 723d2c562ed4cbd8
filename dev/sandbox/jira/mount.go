package jira

import "flag"

// Path is where the composite sandbox serves the imitation: a client's site URL is
// the sandbox's root followed by it (see URL); the API is under it at /rest/api/3.
const Path = "/jira"

// URL is the Jira site URL of a sandbox served at root, e.g.
// URL("http://127.0.0.1:8280") = "http://127.0.0.1:8280/jira".
func URL(root string) string { return root + Path }

// Flags registers the imitation's command-line flags (cmd/sandbox), bound to o.
func (o *Options) Flags(fs *flag.FlagSet) {
	fs.IntVar(&o.Issues, "jira-issues", 1500, "Jira issues to generate over the past year")
	fs.IntVar(&o.Projects, "jira-projects", 4, "Jira projects: OPS, WEB, DATA, MOB, then SEC, PAY, SUP, PPL (1..8)")
	fs.StringVar(&o.TimeZone, "jira-time-zone", DefaultTimeZone, "Jira API user's profile time zone: timestamps are written in it, bare JQL datetimes read in it")
	fs.IntVar(&o.RateLimit, "jira-rate-limit", 20, "Jira requests per rolling second (-1 = unlimited)")
	fs.StringVar(&o.Email, "jira-email", DefaultEmail, "Jira account email to accept")
	fs.StringVar(&o.Token, "jira-token", DefaultToken, "Jira API token to accept")
}
