package crunchbase

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/secret"
)

// Names of the environment variables cmd/ and workers/ read the config from. The
// connector never reads them itself; it names them in errors so a user knows what
// to fix.
const (
	UserKeyEnv           = "CRUNCHBASE_USER_KEY"
	BaseURLEnv           = "CRUNCHBASE_BASE_URL"
	RequestsPerMinuteEnv = "CRUNCHBASE_REQUESTS_PER_MINUTE"
	HTTPTimeoutEnv       = "CRUNCHBASE_HTTP_TIMEOUT"
)

// Defaults of the zero Config fields.
const (
	DefaultBaseURL = "https://api.crunchbase.com/api/v4"
	// DefaultRequestsPerMinute stays under Crunchbase's limit of 200 calls a
	// minute per key, MaxRequestsPerMinute; a 429 waits for the next minute.
	DefaultRequestsPerMinute = 180
	MaxRequestsPerMinute     = 200
	DefaultHTTPTimeout       = 60 * time.Second
	// MaxPageSize is the most entities one search returns (unconfirmed; the
	// default page size).
	MaxPageSize = 1000
)

// Config is what a user configures. Zero fields take the defaults above.
type Config struct {
	BaseURL string       // [DefaultBaseURL], API version included; a sandbox's Crunchbase URL in tests and demos
	UserKey secret.Value // from CRUNCHBASE_USER_KEY

	// PageSize is organizations per search request [MaxPageSize].
	PageSize int
	// RequestsPerMinute paces every call of this Source [DefaultRequestsPerMinute].
	// Negative: unpaced (tests).
	RequestsPerMinute int
}

// Validate reports a config that cannot work, naming the variable to fix.
func (c Config) Validate() error {
	const op = "crunchbase: config"
	key := c.UserKey.Reveal()
	switch {
	case key == "":
		return errs.Errorf(errs.Invalid, op, "%s is not set: copy the API user key of your Crunchbase account (Account settings → Integrations → Crunchbase API) into %s",
			UserKeyEnv, UserKeyEnv)
	case strings.ContainsAny(key, " \t\r\n"):
		return errs.Errorf(errs.Invalid, op, "%s contains whitespace: copy the key again without spaces or line breaks", UserKeyEnv)
	}
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return errs.Errorf(errs.Invalid, op, "%s %q is not an absolute http(s) URL such as %s", BaseURLEnv, c.BaseURL, DefaultBaseURL)
		}
	}
	if c.PageSize < 0 || c.PageSize > MaxPageSize {
		return errs.Errorf(errs.Invalid, op, "page size %d is outside 1..%d (0 = the maximum)", c.PageSize, MaxPageSize)
	}
	if c.RequestsPerMinute > MaxRequestsPerMinute {
		return errs.Errorf(errs.Invalid, op, "%s=%d is above Crunchbase's limit of %d calls a minute", RequestsPerMinuteEnv, c.RequestsPerMinute, MaxRequestsPerMinute)
	}
	return nil
}

// Options tunes the client beyond what users configure; nil means defaults.
type Options struct {
	HTTPClient *http.Client // [a client with HTTPTimeout]
	// HTTPTimeout bounds one request, its body included [DefaultHTTPTimeout].
	HTTPTimeout time.Duration
	Now         func() time.Time // the clock for minute boundaries and a missing SyncStart [time.Now]
	// Lookback is subtracted from the last sync's high-water mark: updated_at is
	// whole seconds and Crunchbase's index may lag. Organizations seen at the same
	// version are dropped, so it costs requests, not duplicates [1 h].
	Lookback time.Duration
	// Jitter is added to the wait until the next minute after a 429, so parallel
	// workers do not return at the same instant [a random 1–4 s].
	Jitter func() time.Duration
}
