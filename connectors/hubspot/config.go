package hubspot

import (
	"github.com/meshflow/meshflow/framework/secret"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/meshflow/meshflow/framework/errs"
)

// Names of the environment variables cmd/ and workers/ read the config from. The
// connector never reads them itself; it names them in errors so a user knows what
// to fix.
const (
	TokenEnv                   = "HUBSPOT_TOKEN"
	BaseURLEnv                 = "HUBSPOT_BASE_URL"
	RequestsPerSecondEnv       = "HUBSPOT_REQUESTS_PER_SECOND"
	SearchRequestsPerSecondEnv = "HUBSPOT_SEARCH_REQUESTS_PER_SECOND"
	HTTPTimeoutEnv             = "HUBSPOT_HTTP_TIMEOUT"
)

// Pacing and timeout defaults, and the most HubSpot allows. Its limits are per
// account: every stream of a Source shares them.
const (
	// DefaultRequestsPerSecond stays under the burst limit of the smallest plans
	// (Free, Starter): 100 requests per 10 seconds.
	DefaultRequestsPerSecond = 9
	// MaxRequestsPerSecond is HubSpot's highest burst limit, 250 requests per 10
	// seconds (Professional or Enterprise with the API limit increase pack;
	// without it 190).
	MaxRequestsPerSecond = 25
	// DefaultSearchRequestsPerSecond and MaxSearchRequestsPerSecond pace the CRM
	// search endpoints, which HubSpot limits to 5 requests a second per account.
	DefaultSearchRequestsPerSecond = 4
	MaxSearchRequestsPerSecond     = 5
	DefaultHTTPTimeout             = 60 * time.Second
)

// DefaultBaseURL is HubSpot's production API.
const DefaultBaseURL = "https://api.hubapi.com"

// RequiredScopes are the private app scopes the three streams need.
var RequiredScopes = []string{"crm.objects.contacts.read", "crm.objects.companies.read", "crm.objects.deals.read"}

// Config is what a user configures. The zero values of BaseURL, Lookback and
// PageSize take defaults.
type Config struct {
	BaseURL string // [DefaultBaseURL]; a sandbox's HubSpot URL in tests and demos
	Token   Secret // private app access token (pat-…), from HUBSPOT_TOKEN

	// Lookback is how long before the last sync's start the next sync's window
	// begins, because the search index lags writes: records indexed late still fall
	// in the next window. It must cover that lag plus any clock difference between
	// HubSpot and the worker. Records seen at the same version are dropped, so it
	// costs requests, not duplicates; a bulk update of more than a few hundred
	// records within it lands partly in the next sync, so the cursor stays small [5m].
	Lookback time.Duration
	// PageSize is records per request, capped at each endpoint's maximum (100 for
	// lists, 200 for search) [the maximum].
	PageSize int
}

// Validate reports a config that cannot work, naming the variable to fix.
func (c Config) Validate() error {
	const op = "hubspot: config"
	tok := c.Token.Reveal()
	switch {
	case tok == "":
		return errs.Errorf(errs.Invalid, op, "%s is not set: create a private app in HubSpot (Settings → Integrations → Private Apps) with the scopes %s and put its access token in %s",
			TokenEnv, strings.Join(RequiredScopes, ", "), TokenEnv)
	case strings.HasPrefix(strings.ToLower(tok), "bearer "):
		return errs.Errorf(errs.Invalid, op, "%s must hold the bare token, without the \"Bearer \" prefix", TokenEnv)
	case strings.ContainsAny(tok, " \t\r\n"):
		return errs.Errorf(errs.Invalid, op, "%s contains whitespace: copy the token again without spaces or line breaks", TokenEnv)
	}
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return errs.Errorf(errs.Invalid, op, "%s %q is not an absolute http(s) URL such as %s", BaseURLEnv, c.BaseURL, DefaultBaseURL)
		}
	}
	if c.Lookback < 0 {
		return errs.Errorf(errs.Invalid, op, "lookback %v is negative", c.Lookback)
	}
	if c.PageSize < 0 || c.PageSize > maxSearchLimit {
		return errs.Errorf(errs.Invalid, op, "page size %d is outside 1..%d (0 = the maximum)", c.PageSize, maxSearchLimit)
	}
	return nil
}

// Options tunes the client beyond what users configure; nil means defaults.
type Options struct {
	HTTPClient *http.Client // [a client with HTTPTimeout]
	// HTTPTimeout bounds one request, its body included [DefaultHTTPTimeout].
	HTTPTimeout time.Duration
	// AccountTimeZone is where the account's day ends: the DAILY quota resets at
	// its midnight [UTC].
	AccountTimeZone *time.Location
	// RequestsPerSecond paces list calls of all streams of this Source together
	// [DefaultRequestsPerSecond]; negative = unpaced.
	RequestsPerSecond float64
	// SearchRequestsPerSecond paces search calls of all streams together
	// [DefaultSearchRequestsPerSecond]; negative = unpaced.
	SearchRequestsPerSecond float64
	// Now is the clock for quota reset times and for a missing SyncStart [time.Now].
	Now func() time.Time
}

// Secret is a credential that never prints (see framework/secret).
type Secret = secret.Value
