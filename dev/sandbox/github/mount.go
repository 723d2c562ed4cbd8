package github

import "flag"

// Path is where the composite sandbox serves the imitation: a client's base URL is
// the sandbox's root followed by it (see URL).
const Path = "/github"

// URL is the GitHub API base URL of a sandbox served at root, e.g.
// URL("http://127.0.0.1:8280") = "http://127.0.0.1:8280/github".
func URL(root string) string { return root + Path }

// Flags registers the imitation's command-line flags (cmd/sandbox), bound to o.
func (o *Options) Flags(fs *flag.FlagSet) {
	fs.IntVar(&o.Issues, "github-issues", 400, "GitHub issues to generate per repository")
	fs.IntVar(&o.PullRequests, "github-pulls", 600, "GitHub pull requests to generate per repository")
	fs.IntVar(&o.Commits, "github-commits", 150, "GitHub direct commits on main per repository (besides one per merged pull request)")
	fs.IntVar(&o.PageCap, "github-page-cap", 10_000, "GitHub results page-numbered paging reaches before 422 (links switch to after= cursors)")
	fs.IntVar(&o.RateLimit, "github-rate-limit", 5000, "GitHub primary limit, requests per hour (-1 = unlimited)")
	fs.IntVar(&o.SecondaryPerMinute, "github-secondary-per-minute", 900, "GitHub requests per rolling minute before the secondary limit (-1 = unlimited)")
	fs.StringVar(&o.Token, "github-token", DefaultToken, "GitHub personal access token to accept")
	fs.IntVar(&o.Orgs, "github-orgs", 60, "GitHub organisations that fork the repositories (customers and partners)")
	fs.IntVar(&o.UserForks, "github-user-forks", 20, "GitHub forks owned by users")
	fs.Float64Var(&o.MatchedShare, "github-matched-share", 0.7, "share of the forking organisations whose blog names a HubSpot company's domain (0..1)")
}
