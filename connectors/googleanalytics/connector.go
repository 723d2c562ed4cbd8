package googleanalytics

import (
	"cmp"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	sbga "github.com/meshflow/meshflow/dev/sandbox/googleanalytics"
	"github.com/meshflow/meshflow/framework/secret"
	"github.com/meshflow/meshflow/framework/source"
)

// Connector is Google Analytics 4 as the platform registers it (connectors.All):
// its variables, streams, constructor and sandbox.
var Connector = source.Connector{
	Name:  "googleanalytics",
	Title: "GA4",
	Vars: []source.Var{
		{Name: CredentialsFileEnv, Credential: true, FileContents: true, Doc: "service-account key file (JSON) with Viewer access to the properties"},
		{Name: PropertyIDsEnv, Locates: true, Doc: "numeric GA4 property ids (comma-separated)"},
		{Name: StartDateEnv, Default: "`" + DefaultStartDate + "`", Doc: "first day of a full refresh (`YYYY-MM-DD` or `NdaysAgo`)"},
		{Name: BaseURLEnv, Locates: true, Default: "`" + DefaultBaseURL + "`", Doc: "GA4 Data API"},
		{Name: TokenURLEnv, Default: "the key file's `token_uri`", Doc: "OAuth token endpoint"},
		pace.Var("report calls a second: GA4 limits a property's tokens per hour and per day (a run waits them out) and its concurrent requests, not a rate"),
		httpTimeout.Var("GA4"),
	},
	Streams: source.Specs([]source.Stream{specStream()}),
	Open:    open,
	Sandbox: startSandbox,
	SandboxFlags: func(fs *flag.FlagSet) any {
		o := &sbga.Options{}
		o.Flags(fs)
		return o
	},
}

var (
	pace        = source.PaceVar{Name: RequestsPerSecondEnv, Default: DefaultRequestsPerSecond, Max: source.MaxRequestsPerSecond}
	httpTimeout = source.TimeoutVar{Name: HTTPTimeoutEnv, Default: DefaultHTTPTimeout}
)

// specStream is the report stream of the default shape, for its spec.
func specStream() source.Stream {
	src := &Source{}
	src.dims, src.metrics = shape(Config{})
	return newStream(src)
}

// open builds the connector from its variables; the key file is already read.
func open(v source.Values) (source.Source, error) {
	rps, err := pace.Read(v)
	if err != nil {
		return nil, err
	}
	timeout, err := httpTimeout.Read(v)
	if err != nil {
		return nil, err
	}
	cfg := Config{PropertyIDs: v.List(PropertyIDsEnv), CredentialsJSON: secret.Value(v[CredentialsFileEnv]),
		TokenURL: v.Get(TokenURLEnv), BaseURL: v.Get(BaseURLEnv), StartDate: v.Get(StartDateEnv)}
	s, err := New(cfg, &Options{RequestsPerSecond: rps, HTTPTimeout: timeout})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// sandboxStartDate is how far back a full refresh of the sandbox reads.
const sandboxStartDate = "90daysAgo"

// startSandbox starts the GA4 imitation of dev/sandbox/googleanalytics. It keeps
// its token quotas when Unlimited: a run waits them out, as on GA4.
func startSandbox(o source.SandboxOptions) (source.Sandbox, error) {
	so, _ := source.SettingOf[sbga.Options](o)
	so.Seed = cmp.Or(so.Seed, o.Seed)
	if so.Now == nil {
		so.Now = o.Now
	}
	so.Prefix = sbga.Path
	so.Middleware = o.Middleware(sbga.WriteRateLimited)
	api := sbga.New(so)
	return &source.Imitation{API: api, Mount: sbga.Path, Point: func(baseURL string) source.Values {
		tokenURL := baseURL + "/token"
		return source.Values{BaseURLEnv: baseURL, TokenURLEnv: tokenURL, CredentialsFileEnv: string(api.ServiceAccountJSON(tokenURL)),
			PropertyIDsEnv: strings.Join(api.Properties(), ","), StartDateEnv: sandboxStartDate,
			RequestsPerSecondEnv: strconv.Itoa(source.SandboxRequestsPerSecond)}
	}, Changes: func(n int) []string {
		late, _ := LateHits(api, n/5)
		return []string{fmt.Sprintf("%d GA4 rows of yesterday got late hits", len(late))}
	}}, nil
}

// LateHits makes hits arrive late for n rows of yesterday in the sandbox's first
// property, so the next sync re-pulls that day with changed numbers; it returns the
// rows that change.
func LateHits(api *sbga.API, n int) ([][]string, error) {
	p := api.Properties()[0]
	today, err := time.Parse(time.DateOnly, api.Today(p))
	if err != nil {
		return nil, err
	}
	return api.LateHits(p, today.AddDate(0, 0, -1).Format(time.DateOnly), DefaultDimensions, n)
}
