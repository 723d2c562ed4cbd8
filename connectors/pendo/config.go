package pendo

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
	IntegrationKeyEnv = "PENDO_INTEGRATION_KEY"
	BaseURLEnv        = "PENDO_BASE_URL"
	TimeZoneEnv       = "PENDO_TIME_ZONE"

	RequestsPerSecondEnv = "PENDO_REQUESTS_PER_SECOND"
	HTTPTimeoutEnv       = "PENDO_HTTP_TIMEOUT"
)

// Defaults of the zero Config fields.
const (
	DefaultBaseURL  = "https://app.pendo.io" // US; the EU region is https://app.eu.pendo.io
	DefaultTimeZone = "America/Los_Angeles"
	// DefaultMinInterval paces one request a second. Pendo publishes no limit:
	// public taps pace at one per 2 s (a first sync of 733 requests then takes 24
	// minutes however fast Pendo answers), integrators report up to 100 calls a
	// second per endpoint (MaxRequestsPerSecond), the sandbox allows 60 a minute.
	// Pacing spaces the starts of requests: one that takes a second itself waits
	// no more. A 429 backs off from 30 s.
	DefaultMinInterval   = time.Second
	MaxRequestsPerSecond = 100
	DefaultHTTPTimeout   = 120 * time.Second // an aggregation of a day of events can be slow
	DefaultLookbackDays  = 7                 // Pendo accepts events up to a week late
	DefaultHistoryDays   = 365
)

// Config is what a user configures. Zero fields take the defaults above.
type Config struct {
	BaseURL        string       // [DefaultBaseURL]; a sandbox's Pendo URL in tests and demos
	IntegrationKey secret.Value // from PENDO_INTEGRATION_KEY

	// TimeZone is the subscription's time zone (Settings → Subscription settings),
	// an IANA name. Pendo's day buckets start at its midnights, so it decides which
	// instant "2024-03-02" is [DefaultTimeZone]. A wrong zone is detected from the
	// rows' day values and reported naming PENDO_TIME_ZONE.
	TimeZone string
	// LookbackDays is how many already-read days each event sync reads again,
	// because events arrive late; a day whose rows did not change lands nothing
	// [DefaultLookbackDays]. Negative: none.
	LookbackDays int
	// HistoryDays is how many days, ending yesterday, a first event sync reads
	// [DefaultHistoryDays].
	HistoryDays int
	// MinInterval is the least time between two requests of this Source, all
	// streams together [DefaultMinInterval]. Negative: unpaced (tests).
	MinInterval time.Duration
}

// Validate reports a config that cannot work, naming the variable to fix.
func (c Config) Validate() error {
	const op = "pendo: config"
	key := c.IntegrationKey.Reveal()
	switch {
	case key == "":
		return errs.Errorf(errs.Invalid, op, "%s is not set: create an integration key in Pendo (Settings → Integrations → Integration Keys; read access is enough) and put it in %s",
			IntegrationKeyEnv, IntegrationKeyEnv)
	case strings.ContainsAny(key, " \t\r\n"):
		return errs.Errorf(errs.Invalid, op, "%s contains whitespace: copy the key again without spaces or line breaks", IntegrationKeyEnv)
	}
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return errs.Errorf(errs.Invalid, op, "%s %q is not an absolute http(s) URL such as %s", BaseURLEnv, c.BaseURL, DefaultBaseURL)
		}
	}
	if c.TimeZone != "" {
		if _, err := time.LoadLocation(c.TimeZone); err != nil {
			return errs.Errorf(errs.Invalid, op, "%s %q is not an IANA time zone such as %s: %v", TimeZoneEnv, c.TimeZone, DefaultTimeZone, err)
		}
	}
	if c.HistoryDays < 0 {
		return errs.Errorf(errs.Invalid, op, "history of %d days is negative", c.HistoryDays)
	}
	if c.LookbackDays > 90 {
		return errs.Errorf(errs.Invalid, op, "a lookback of %d days re-reads too much: Pendo accepts events at most a week late", c.LookbackDays)
	}
	return nil
}

// Options tunes the client beyond what users configure; nil means defaults.
type Options struct {
	HTTPClient *http.Client // [a client with HTTPTimeout]
	// HTTPTimeout bounds one request, its body included [DefaultHTTPTimeout].
	HTTPTimeout time.Duration
	Now         func() time.Time // the clock for a missing SyncStart [time.Now]
}
