package pendo

import (
	"cmp"
	"flag"
	"fmt"
	"strconv"
	"time"

	sbpendo "github.com/meshflow/meshflow/dev/sandbox/pendo"
	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/secret"
	"github.com/meshflow/meshflow/framework/source"
)

// HistoryDaysSetting is a setting no variable carries, which an in-process caller
// may put in the connector's Values: how many days a first event sync reads
// (Config.HistoryDays). The local sandbox reads 90.
const HistoryDaysSetting = "history_days"

// Connector is Pendo as the platform registers it (connectors.All): its variables,
// streams, constructor and sandbox.
var Connector = source.Connector{
	Name:  "pendo",
	Title: "Pendo",
	Vars: []source.Var{
		{Name: IntegrationKeyEnv, Credential: true, File: true, Secret: true, Doc: "Pendo integration key"},
		{Name: TimeZoneEnv, Default: "`" + DefaultTimeZone + "`", Doc: "the subscription's time zone (it aligns Pendo's day buckets)"},
		{Name: BaseURLEnv, Locates: true, Default: "`" + DefaultBaseURL + "`", Doc: "`https://app.eu.pendo.io` for EU subscriptions"},
		pace.Var("requests a second, all Pendo streams together: Pendo publishes no limit (public taps pace at one per 2 s, integrators report up to 100 a second per endpoint), and a 429 backs off from 30 s"),
		httpTimeout.Var("Pendo"),
	},
	Streams: source.Specs(streams(&Source{})),
	Open:    open,
	Sandbox: startSandbox,
	SandboxFlags: func(fs *flag.FlagSet) any {
		o := &sbpendo.Options{}
		o.Flags(fs)
		return o
	},
}

var (
	pace        = source.PaceVar{Name: RequestsPerSecondEnv, Default: float64(time.Second) / float64(DefaultMinInterval), Max: MaxRequestsPerSecond}
	httpTimeout = source.TimeoutVar{Name: HTTPTimeoutEnv, Default: DefaultHTTPTimeout}
)

// open builds the connector from its variables.
func open(v source.Values) (source.Source, error) {
	perSecond, err := pace.Read(v)
	if err != nil {
		return nil, err
	}
	timeout, err := httpTimeout.Read(v)
	if err != nil {
		return nil, err
	}
	var interval time.Duration // 0: the default
	switch {
	case perSecond < 0:
		interval = -1
	case perSecond > 0:
		interval = time.Duration(float64(time.Second) / perSecond)
	}
	history := 0
	if h := v.Get(HistoryDaysSetting); h != "" {
		if history, err = strconv.Atoi(h); err != nil {
			return nil, errs.Errorf(errs.Invalid, "pendo: config", "%s %q is not a number of days", HistoryDaysSetting, h)
		}
	}
	cfg := Config{BaseURL: v.Get(BaseURLEnv), IntegrationKey: secret.Value(v.Get(IntegrationKeyEnv)), TimeZone: v.Get(TimeZoneEnv),
		HistoryDays: history, MinInterval: interval}
	s, err := New(cfg, &Options{HTTPTimeout: timeout})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// sandboxHistoryDays is how far back a first event sync of the sandbox reads.
const sandboxHistoryDays = 90

// startSandbox starts the Pendo imitation of dev/sandbox/pendo; Unlimited turns its
// rate limit off, and the connector reads it unpaced. Its accounts derive from the
// companies the sandboxes before it describe.
func startSandbox(o source.SandboxOptions) (source.Sandbox, error) {
	so, _ := source.SettingOf[sbpendo.Options](o)
	if err := so.Validate(); err != nil {
		return nil, err
	}
	so.Seed = cmp.Or(so.Seed, o.Seed)
	if so.Now == nil {
		so.Now = o.Now
	}
	if so.Companies == nil {
		so.Companies = o.Companies
	}
	if o.Unlimited {
		so.RateLimit = -1
	}
	so.Middleware = o.Middleware(sbpendo.WriteRateLimited)
	api := sbpendo.New(so)
	return &source.Imitation{API: api, Mount: sbpendo.Path, Point: func(baseURL string) source.Values {
		return source.Values{BaseURLEnv: baseURL, IntegrationKeyEnv: api.Key(), TimeZoneEnv: api.TimeZone().String(),
			HistoryDaysSetting: strconv.Itoa(sandboxHistoryDays), source.Unpaced: "true"}
	}, Changes: func(n int) []string {
		return []string{fmt.Sprintf("changed %d Pendo accounts", len(api.TouchAccounts(n/5)))}
	}}, nil
}
