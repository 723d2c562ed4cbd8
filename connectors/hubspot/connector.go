package hubspot

import (
	"cmp"
	"flag"
	"fmt"
	"net/http"
	"time"

	sbhubspot "github.com/meshflow/meshflow/dev/sandbox/hubspot"
	"github.com/meshflow/meshflow/framework/source"
)

// Connector is HubSpot as the platform registers it (connectors.All): its
// variables, streams, constructor and sandbox.
var Connector = source.Connector{
	Name:  "hubspot",
	Title: "HubSpot",
	Vars: []source.Var{
		{Name: TokenEnv, Credential: true, File: true, Secret: true, Doc: "HubSpot private app token"},
		{Name: BaseURLEnv, Locates: true, Default: "`" + DefaultBaseURL + "`", Doc: "HubSpot API"},
		listPace.Var("list calls a second, all HubSpot streams together: HubSpot allows 100 per 10 s on Free and Starter, 190 on Professional and Enterprise, 250 with the API limit increase pack"),
		searchPace.Var("search calls a second (incremental syncs): HubSpot allows 5 per account"),
		httpTimeout.Var("HubSpot"),
	},
	Streams: source.Specs(streams(&Source{})),
	Open:    open,
	Sandbox: startSandbox,
	SandboxFlags: func(fs *flag.FlagSet) any {
		o := &sbhubspot.Options{}
		o.Flags(fs)
		return o
	},
}

var (
	listPace    = source.PaceVar{Name: RequestsPerSecondEnv, Default: DefaultRequestsPerSecond, Max: MaxRequestsPerSecond}
	searchPace  = source.PaceVar{Name: SearchRequestsPerSecondEnv, Default: DefaultSearchRequestsPerSecond, Max: MaxSearchRequestsPerSecond}
	httpTimeout = source.TimeoutVar{Name: HTTPTimeoutEnv, Default: DefaultHTTPTimeout}
)

// open builds the connector from its variables.
func open(v source.Values) (source.Source, error) {
	list, err := listPace.Read(v)
	if err != nil {
		return nil, err
	}
	search, err := searchPace.Read(v)
	if err != nil {
		return nil, err
	}
	timeout, err := httpTimeout.Read(v)
	if err != nil {
		return nil, err
	}
	s, err := New(Config{BaseURL: v.Get(BaseURLEnv), Token: Secret(v.Get(TokenEnv))},
		&Options{RequestsPerSecond: list, SearchRequestsPerSecond: search, HTTPTimeout: timeout})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// startSandbox starts the HubSpot imitation of dev/sandbox/hubspot. It keeps its
// limits when Unlimited: the connector's default pacing stays within them.
func startSandbox(o source.SandboxOptions) (source.Sandbox, error) {
	so, _ := source.SettingOf[sbhubspot.Options](o)
	so.Seed = cmp.Or(so.Seed, o.Seed)
	if so.Now == nil {
		so.Now = o.Now
	}
	so.Middleware = o.Middleware(func(w http.ResponseWriter, retryAfter time.Duration) {
		sbhubspot.WriteRateLimited(w, sbhubspot.PolicyTenSecondly, retryAfter)
	})
	api := sbhubspot.New(so)
	return &source.Imitation{API: api, Mount: sbhubspot.Path, Point: func(baseURL string) source.Values {
		return source.Values{BaseURLEnv: baseURL, TokenEnv: api.Token()}
	}, Changes: func(n int) []string {
		return []string{fmt.Sprintf("changed %d contacts", len(api.Touch("contacts", n))), fmt.Sprintf("changed %d deals", len(api.Touch("deals", n/5+1)))}
	}}, nil
}
