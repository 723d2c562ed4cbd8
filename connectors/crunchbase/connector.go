package crunchbase

import (
	"cmp"
	"flag"
	"fmt"

	sbcrunchbase "github.com/meshflow/meshflow/dev/sandbox/crunchbase"
	"github.com/meshflow/meshflow/framework/secret"
	"github.com/meshflow/meshflow/framework/source"
)

// Connector is Crunchbase as the platform registers it (connectors.All): its
// variables, streams, constructor and sandbox.
var Connector = source.Connector{
	Name:  "crunchbase",
	Title: "Crunchbase",
	Vars: []source.Var{
		{Name: UserKeyEnv, Credential: true, File: true, Secret: true, Doc: "Crunchbase API key"},
		{Name: BaseURLEnv, Locates: true, Default: "`" + DefaultBaseURL + "`", Doc: "Crunchbase API"},
		pace.Var("calls a minute: Crunchbase allows 200 per key, and a 429 waits for the next minute"),
		httpTimeout.Var("Crunchbase"),
	},
	Streams: source.Specs([]source.Stream{newOrganizations(&Source{})}),
	Open:    open,
	Sandbox: startSandbox,
	SandboxFlags: func(fs *flag.FlagSet) any {
		o := &sbcrunchbase.Options{}
		o.Flags(fs)
		return o
	},
}

var (
	pace        = source.PaceVar{Name: RequestsPerMinuteEnv, Default: DefaultRequestsPerMinute, Max: MaxRequestsPerMinute, PerMinute: true}
	httpTimeout = source.TimeoutVar{Name: HTTPTimeoutEnv, Default: DefaultHTTPTimeout}
)

// open builds the connector from its variables.
func open(v source.Values) (source.Source, error) {
	perMinute, err := pace.Read(v)
	if err != nil {
		return nil, err
	}
	timeout, err := httpTimeout.Read(v)
	if err != nil {
		return nil, err
	}
	cfg := Config{BaseURL: v.Get(BaseURLEnv), UserKey: secret.Value(v.Get(UserKeyEnv)), RequestsPerMinute: int(perMinute)}
	s, err := New(cfg, &Options{HTTPTimeout: timeout})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// startSandbox starts the Crunchbase imitation of dev/sandbox/crunchbase;
// Unlimited turns its per-minute limit off, and the connector reads it unpaced. Its
// organizations derive from the companies the sandboxes before it describe.
func startSandbox(o source.SandboxOptions) (source.Sandbox, error) {
	so, _ := source.SettingOf[sbcrunchbase.Options](o)
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
	so.Middleware = o.Middleware(sbcrunchbase.WriteRateLimited)
	api := sbcrunchbase.New(so)
	return &source.Imitation{API: api, Mount: sbcrunchbase.Path, Point: func(baseURL string) source.Values {
		// The API's address includes its version, as Crunchbase's own does.
		return source.Values{BaseURLEnv: baseURL + "/api/v4", UserKeyEnv: api.Key(), source.Unpaced: "true"}
	}, Changes: func(n int) []string {
		return []string{fmt.Sprintf("changed %d Crunchbase organizations", len(api.Touch(n/5)))}
	}}, nil
}
