package host

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/meshflow/meshflow/connectors/crunchbase"
	"github.com/meshflow/meshflow/connectors/github"
	"github.com/meshflow/meshflow/connectors/googleanalytics"
	"github.com/meshflow/meshflow/connectors/hubspot"
	"github.com/meshflow/meshflow/connectors/jira"
	"github.com/meshflow/meshflow/connectors/pendo"
	"github.com/meshflow/meshflow/framework/errs"
)

// Bounds shared by the sources' pacing and timeout variables.
const (
	// MaxRequestsPerSecond bounds the pace of a source whose vendor publishes no
	// ceiling (Jira, GitHub Enterprise, GA4): past it, pacing paces nothing.
	MaxRequestsPerSecond = 1000
	// MinHTTPTimeout and MaxHTTPTimeout bound a request's timeout: below a second
	// nothing answers, and a landing heartbeats on its own while a request waits.
	MinHTTPTimeout = time.Second
	MaxHTTPTimeout = 30 * time.Minute
)

// pace is a variable pacing a source's requests, in requests per unit: unset, the
// connector's default applies; set, it must be more than 0 and at most max (the
// vendor's own ceiling where it publishes one).
type pace struct {
	name     string
	def, max float64
	unit     string // "second" or "minute"
	whole    bool   // a whole number (the connector counts calls a minute)
}

// The pacing variables, with the connectors' defaults and the vendors' ceilings.
var (
	hubspotPace       = pace{hubspot.RequestsPerSecondEnv, hubspot.DefaultRequestsPerSecond, hubspot.MaxRequestsPerSecond, "second", false}
	hubspotSearchPace = pace{hubspot.SearchRequestsPerSecondEnv, hubspot.DefaultSearchRequestsPerSecond, hubspot.MaxSearchRequestsPerSecond, "second", false}
	jiraPace          = pace{jira.RequestsPerSecondEnv, jira.DefaultRequestsPerSecond, MaxRequestsPerSecond, "second", false}
	githubPace        = pace{github.RequestsPerSecondEnv, github.DefaultRequestsPerSecond, MaxRequestsPerSecond, "second", false}
	ga4Pace           = pace{googleanalytics.RequestsPerSecondEnv, googleanalytics.DefaultRequestsPerSecond, MaxRequestsPerSecond, "second", false}
	pendoPace         = pace{pendo.RequestsPerSecondEnv, float64(time.Second) / float64(pendo.DefaultMinInterval), pendo.MaxRequestsPerSecond, "second", false}
	crunchbasePace    = pace{crunchbase.RequestsPerMinuteEnv, crunchbase.DefaultRequestsPerMinute, crunchbase.MaxRequestsPerMinute, "minute", true}
)

// Var is the variable's line in Vars; doc says what is paced and the vendor's limit.
func (p pace) Var(source, doc string) Var {
	return Var{Name: p.name, Source: source, Default: "`" + number(p.def) + "`", Doc: doc + " (" + p.bounds() + ")"}
}

func (p pace) bounds() string {
	if p.whole {
		return "a whole number from 1 to " + number(p.max)
	}
	return "more than 0, at most " + number(p.max)
}

func (p pace) allowed() string { return fmt.Sprintf("requests a %s: %s", p.unit, p.bounds()) }

// read returns the variable's value, 0 when unset (the connector's default).
func (p pace) read(getenv func(string) string) (float64, error) {
	v := strings.TrimSpace(getenv(p.name))
	if v == "" {
		return 0, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || f <= 0 || f > p.max || (p.whole && f != math.Trunc(f)) {
		return 0, errs.Errorf(errs.Invalid, "configure", "%s=%q is not %s (unset: %s)", p.name, v, p.allowed(), number(p.def))
	}
	return f, nil
}

func number(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// timeout is a variable bounding one HTTP request of a source.
type timeout struct {
	name string
	def  time.Duration
}

var (
	hubspotTimeout    = timeout{hubspot.HTTPTimeoutEnv, hubspot.DefaultHTTPTimeout}
	jiraTimeout       = timeout{jira.HTTPTimeoutEnv, jira.DefaultHTTPTimeout}
	githubTimeout     = timeout{github.HTTPTimeoutEnv, github.DefaultHTTPTimeout}
	ga4Timeout        = timeout{googleanalytics.HTTPTimeoutEnv, googleanalytics.DefaultHTTPTimeout}
	pendoTimeout      = timeout{pendo.HTTPTimeoutEnv, pendo.DefaultHTTPTimeout}
	crunchbaseTimeout = timeout{crunchbase.HTTPTimeoutEnv, crunchbase.DefaultHTTPTimeout}
)

// Var is the variable's line in Vars.
func (t timeout) Var(source, vendor string) Var {
	return Var{Name: t.name, Source: source, Default: "`" + seconds(t.def) + "`",
		Doc: "how long one request to " + vendor + " may take, its answer read (" + timeoutRange + ")"}
}

var timeoutRange = "a duration from " + seconds(MinHTTPTimeout) + " to " + MaxHTTPTimeout.String() + ", such as `90s`"

func seconds(d time.Duration) string { return strconv.Itoa(int(d/time.Second)) + "s" }

// read returns the variable's value, 0 when unset (the connector's default).
func (t timeout) read(getenv func(string) string) (time.Duration, error) {
	v := strings.TrimSpace(getenv(t.name))
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < MinHTTPTimeout || d > MaxHTTPTimeout {
		return 0, errs.Errorf(errs.Invalid, "configure", "%s=%q is not %s (unset: %s)", t.name, v, timeoutRange, seconds(t.def))
	}
	return d, nil
}

// readPacing reads every source's pacing and HTTP timeout. Unset, each stays 0 and
// the connector applies its default, so that the defaults live in one place.
func readPacing(getenv func(string) string, c *Config) error {
	for _, r := range []struct {
		p   pace
		dst *float64
	}{
		{hubspotPace, &c.HubSpot.RequestsPerSecond}, {hubspotSearchPace, &c.HubSpot.SearchRequestsPerSecond},
		{jiraPace, &c.Jira.RequestsPerSecond}, {githubPace, &c.GitHub.RequestsPerSecond}, {ga4Pace, &c.GA4.RequestsPerSecond},
	} {
		v, err := r.p.read(getenv)
		if err != nil {
			return err
		}
		*r.dst = v
	}
	perSecond, err := pendoPace.read(getenv)
	if err != nil {
		return err
	}
	if perSecond > 0 {
		c.Pendo.MinInterval = time.Duration(float64(time.Second) / perSecond)
	}
	perMinute, err := crunchbasePace.read(getenv)
	if err != nil {
		return err
	}
	c.Crunchbase.RequestsPerMinute = int(perMinute)
	for _, r := range []struct {
		t   timeout
		dst *time.Duration
	}{
		{hubspotTimeout, &c.HubSpot.HTTPTimeout}, {jiraTimeout, &c.Jira.HTTPTimeout}, {githubTimeout, &c.GitHub.HTTPTimeout},
		{ga4Timeout, &c.GA4.HTTPTimeout}, {pendoTimeout, &c.Pendo.HTTPTimeout}, {crunchbaseTimeout, &c.Crunchbase.HTTPTimeout},
	} {
		v, err := r.t.read(getenv)
		if err != nil {
			return err
		}
		*r.dst = v
	}
	return nil
}
