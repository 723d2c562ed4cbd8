package jira

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/secret"
)

// Names of the environment variables cmd/ and workers/ read the config from. The
// connector never reads them itself; it names them in errors so a user knows what
// to fix.
const (
	BaseURLEnv           = "JIRA_BASE_URL"
	EmailEnv             = "JIRA_EMAIL"
	TokenEnv             = "JIRA_API_TOKEN"
	RequestsPerSecondEnv = "JIRA_REQUESTS_PER_SECOND"
	HTTPTimeoutEnv       = "JIRA_HTTP_TIMEOUT"
)

// Pacing and timeout defaults. Jira Cloud limits API-token traffic with per-second
// burst limits per site and endpoint that it does not publish; it answers 429 with
// Retry-After past them, which the connector follows.
const (
	DefaultRequestsPerSecond = 10
	DefaultHTTPTimeout       = 60 * time.Second
)

// TokenURL is where an Atlassian account creates API tokens.
const TokenURL = "https://id.atlassian.com/manage-profile/security/api-tokens"

// MinLookback is the smallest Lookback: Jira resolves JQL dates to the minute and
// its search index lags writes.
const MinLookback = time.Minute

// Config is what a user configures. The zero values of Projects, Lookback and
// PageSize take defaults.
type Config struct {
	// BaseURL is the site root, e.g. https://acme.atlassian.net (JIRA_BASE_URL);
	// a sandbox's Jira URL in tests and demos. The connector adds /rest/api/3.
	BaseURL string
	Email   string       // the Atlassian account's email address (JIRA_EMAIL)
	Token   secret.Value // an API token of that account (JIRA_API_TOKEN)

	// Projects are the project keys to read (OPS, WEB, …) [every project the
	// account can browse].
	Projects []string
	// Lookback is subtracted from the last sync's high-water mark, because Jira's
	// search index lags writes: issues indexed late still fall in the next window.
	// Versions seen before are dropped, so it costs requests, not duplicates.
	// At least MinLookback [5m].
	Lookback time.Duration
	// PageSize is items per request, capped at each endpoint's maximum (100 issues
	// or changelog entries, 50 projects) [the maximum].
	PageSize int
}

var projectKey = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,254}$`)

// Validate reports a config that cannot work, naming the variable to fix.
func (c Config) Validate() error {
	const op = "jira: config"
	const example = "https://acme.atlassian.net"
	switch u, err := url.Parse(c.BaseURL); {
	case c.BaseURL == "":
		return errs.Errorf(errs.Invalid, op, "%s is not set: set it to your Jira site's root URL, such as %s", BaseURLEnv, example)
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return errs.Errorf(errs.Invalid, op, "%s %q is not an absolute http(s) URL such as %s", BaseURLEnv, c.BaseURL, example)
	case strings.Contains(u.Path, "/rest/"):
		return errs.Errorf(errs.Invalid, op, "%s %q must be the site root, such as %s, without /rest/api/…: the connector adds the API path", BaseURLEnv, c.BaseURL, example)
	}
	switch {
	case c.Email == "":
		return errs.Errorf(errs.Invalid, op, "%s is not set: set it to the email address of the Atlassian account whose API token is in %s", EmailEnv, TokenEnv)
	case !strings.Contains(c.Email, "@") || strings.ContainsAny(c.Email, " \t\r\n:"):
		return errs.Errorf(errs.Invalid, op, "%s %q is not an email address", EmailEnv, c.Email)
	}
	tok := c.Token.Reveal()
	switch {
	case tok == "":
		return errs.Errorf(errs.Invalid, op, "%s is not set: create an API token at %s while signed in as %s and put it in %s", TokenEnv, TokenURL, EmailEnv, TokenEnv)
	case strings.HasPrefix(strings.ToLower(tok), "basic ") || strings.HasPrefix(strings.ToLower(tok), "bearer "):
		return errs.Errorf(errs.Invalid, op, "%s must hold the bare API token, without a \"Basic \" or \"Bearer \" prefix", TokenEnv)
	case strings.ContainsAny(tok, " \t\r\n"):
		return errs.Errorf(errs.Invalid, op, "%s contains whitespace: copy the token again without spaces or line breaks", TokenEnv)
	}
	for _, p := range c.Projects {
		if !projectKey.MatchString(strings.ToUpper(p)) {
			return errs.Errorf(errs.Invalid, op, "project key %q is not a Jira project key (letters, digits and underscores, starting with a letter, such as OPS)", p)
		}
	}
	switch {
	case c.Lookback < 0:
		return errs.Errorf(errs.Invalid, op, "lookback %v is negative", c.Lookback)
	case c.Lookback > 0 && c.Lookback < MinLookback:
		return errs.Errorf(errs.Invalid, op, "lookback %v is under %v: Jira resolves JQL dates to the minute and its search index lags writes", c.Lookback, MinLookback)
	}
	if c.PageSize < 0 || c.PageSize > maxIssues {
		return errs.Errorf(errs.Invalid, op, "page size %d is outside 1..%d (0 = the maximum)", c.PageSize, maxIssues)
	}
	return nil
}

// Options tunes the client beyond what users configure; nil means defaults.
type Options struct {
	HTTPClient *http.Client // [a client with HTTPTimeout]
	// HTTPTimeout bounds one request, its body included [DefaultHTTPTimeout].
	HTTPTimeout time.Duration
	// RequestsPerSecond paces the calls of all streams of this Source together
	// [DefaultRequestsPerSecond]; negative = unpaced.
	RequestsPerSecond float64
	// Now is the clock for a missing SyncStart [time.Now].
	Now func() time.Time
}
