package github

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/secret"
)

// Names of the environment variables cmd/ and workers/ read the config from. The
// connector never reads them itself; it names them in errors so a user knows what
// to fix.
const (
	TokenEnv    = "GITHUB_TOKEN"
	ReposEnv    = "GITHUB_REPOS"    // comma-separated owner/name list
	BaseURLEnv  = "GITHUB_BASE_URL" // GitHub Enterprise Server: https://HOST/api/v3
	BranchesEnv = "GITHUB_BRANCHES" // optional, comma-separated

	RequestsPerSecondEnv = "GITHUB_REQUESTS_PER_SECOND"
	HTTPTimeoutEnv       = "GITHUB_HTTP_TIMEOUT"
)

// Pacing and timeout defaults. GitHub's secondary rate limit allows 900 points a
// minute of REST requests per token (a GET costs one: 15 a second) besides the
// primary 5,000 requests an hour; the default keeps a third below it, for the other
// clients of the same token.
const (
	DefaultRequestsPerSecond = 10
	DefaultHTTPTimeout       = 60 * time.Second
)

// DefaultBaseURL is GitHub's production API.
const DefaultBaseURL = "https://api.github.com"

// RequiredPermissions are what a fine-grained personal access token needs on each
// configured repository (a classic token needs the repo scope for private ones).
var RequiredPermissions = []string{"Metadata: read", "Issues: read", "Pull requests: read", "Contents: read"}

// Config is what a user configures. Zero values of BaseURL, Lookback and
// PageSize take defaults.
type Config struct {
	BaseURL string       // [DefaultBaseURL]; a sandbox's GitHub URL in tests and demos
	Token   secret.Value // personal access token (ghp_… or github_pat_…), from GITHUB_TOKEN
	// Repos are the repositories read, "owner/name", at least one. Every stream
	// reads all of them, one after the other, within one cursor.
	Repos []string
	// Branches are read by the commits stream in every repository besides its
	// default branch; a repository without one of them skips it.
	Branches []string

	// Lookback is subtracted from each repository's high-water mark when the next
	// sync starts, for writes GitHub makes visible late. Records seen at the same
	// version are dropped, so it costs requests, not duplicates [2m].
	Lookback time.Duration
	// PageSize is items per request (per_page), at most 100 [100].
	PageSize int
}

var repoName = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$`)

// Validate reports a config that cannot work, naming the variable to fix.
func (c Config) Validate() error {
	const op = "github: config"
	tok := c.Token.Reveal()
	switch {
	case tok == "":
		return errs.Errorf(errs.Invalid, op, "%s is not set: create a fine-grained personal access token (GitHub → Settings → Developer settings) with %s on the repositories in %s, and put it in %s",
			TokenEnv, strings.Join(RequiredPermissions, ", "), ReposEnv, TokenEnv)
	case strings.HasPrefix(strings.ToLower(tok), "bearer ") || strings.HasPrefix(strings.ToLower(tok), "token "):
		return errs.Errorf(errs.Invalid, op, "%s must hold the bare token, without a \"Bearer \" or \"token \" prefix", TokenEnv)
	case strings.ContainsAny(tok, " \t\r\n"):
		return errs.Errorf(errs.Invalid, op, "%s contains whitespace: copy the token again without spaces or line breaks", TokenEnv)
	}
	if len(c.Repos) == 0 {
		return errs.Errorf(errs.Invalid, op, "%s is empty: list the repositories to read as owner/name, comma-separated (e.g. acme/app,acme/api)", ReposEnv)
	}
	for i, r := range c.Repos {
		if !repoName.MatchString(r) {
			return errs.Errorf(errs.Invalid, op, "%s entry %q is not owner/name (e.g. acme/app; no URL, no .git)", ReposEnv, r)
		}
		if slices.ContainsFunc(c.Repos[:i], func(x string) bool { return strings.EqualFold(x, r) }) {
			return errs.Errorf(errs.Invalid, op, "%s lists %q twice", ReposEnv, r)
		}
	}
	for _, b := range c.Branches {
		if b == "" || strings.ContainsAny(b, " \t~^:?*[\\") || strings.HasPrefix(b, "-") {
			return errs.Errorf(errs.Invalid, op, "%s entry %q is not a branch name", BranchesEnv, b)
		}
	}
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
			return errs.Errorf(errs.Invalid, op, "%s %q is not an absolute http(s) URL such as %s (GitHub Enterprise Server: https://HOST/api/v3)", BaseURLEnv, c.BaseURL, DefaultBaseURL)
		}
	}
	if c.Lookback < 0 {
		return errs.Errorf(errs.Invalid, op, "lookback %v is negative", c.Lookback)
	}
	if c.PageSize < 0 || c.PageSize > maxPerPage {
		return errs.Errorf(errs.Invalid, op, "page size %d is outside 1..%d (0 = the maximum)", c.PageSize, maxPerPage)
	}
	return nil
}

// Options tunes the client beyond what users configure; nil means defaults.
type Options struct {
	HTTPClient *http.Client // [a client with HTTPTimeout]
	// HTTPTimeout bounds one request, its body included [DefaultHTTPTimeout].
	HTTPTimeout time.Duration
	// RequestsPerSecond paces the requests of all streams of this Source
	// together [DefaultRequestsPerSecond]; negative = unpaced.
	RequestsPerSecond float64
	// LongWait is the longest primary-limit wait reported as RateLimited; a
	// longer one (the hour's reset) is a Quota with Until, for a durable timer
	// [2m].
	LongWait time.Duration
	// Now is the clock for limit resets and for a missing SyncStart [time.Now].
	Now func() time.Time
	// RESTReviews reads pull_request_reviews with one REST request per pull
	// request, as before GraphQL was used: for a proxy that passes only the REST
	// API. Its records are the same [false: 100 pull requests per GraphQL query].
	RESTReviews bool
}
