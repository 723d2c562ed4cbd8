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
)

// Defaults of the zero Config fields.
const (
	DefaultBaseURL      = "https://app.pendo.io" // US; the EU region is https://app.eu.pendo.io
	DefaultTimeZone     = "America/Los_Angeles"
	DefaultMinInterval  = 2 * time.Second // what public taps throttle to: Pendo's limits are undocumented
	DefaultLookbackDays = 7               // Pendo accepts events up to a week late
	DefaultHistoryDays  = 365
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
	HTTPClient *http.Client     // [a client with a 120 s timeout: aggregations can be slow]
	Now        func() time.Time // the clock for a missing SyncStart [time.Now]
}
