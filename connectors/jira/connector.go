package jira

import (
	"cmp"
	"flag"
	"fmt"
	"net/http"
	"strconv"
	"time"

	sbjira "github.com/meshflow/meshflow/dev/sandbox/jira"
	"github.com/meshflow/meshflow/framework/secret"
	"github.com/meshflow/meshflow/framework/source"
)

// ProjectsEnv names the project keys to read, comma-separated [every project the
// account can browse].
const ProjectsEnv = "JIRA_PROJECTS"

// Connector is Jira Cloud as the platform registers it (connectors.All): its
// variables, streams, constructor and sandbox.
var Connector = source.Connector{
	Name:  "jira",
	Title: "Jira",
	Vars: []source.Var{
		{Name: BaseURLEnv, Locates: true, Doc: "Jira Cloud site (`https://acme.atlassian.net`)"},
		{Name: EmailEnv, Credential: true, Doc: "the Atlassian account the API token belongs to"},
		{Name: TokenEnv, Credential: true, File: true, Secret: true, Doc: "that account's API token"},
		{Name: ProjectsEnv, Default: "all visible", Doc: "project keys to read (comma-separated)"},
		pace.Var("calls a second, all Jira streams together: Jira Cloud does not publish its burst limits, and its 429s are followed"),
		httpTimeout.Var("Jira"),
	},
	Streams: source.Specs(streams(&Source{})),
	Open:    open,
	Sandbox: startSandbox,
	SandboxFlags: func(fs *flag.FlagSet) any {
		o := &sbjira.Options{}
		o.Flags(fs)
		return o
	},
}

var (
	pace        = source.PaceVar{Name: RequestsPerSecondEnv, Default: DefaultRequestsPerSecond, Max: source.MaxRequestsPerSecond}
	httpTimeout = source.TimeoutVar{Name: HTTPTimeoutEnv, Default: DefaultHTTPTimeout}
)

// open builds the connector from its variables.
func open(v source.Values) (source.Source, error) {
	rps, err := pace.Read(v)
	if err != nil {
		return nil, err
	}
	timeout, err := httpTimeout.Read(v)
	if err != nil {
		return nil, err
	}
	cfg := Config{BaseURL: v.Get(BaseURLEnv), Email: v.Get(EmailEnv), Token: secret.Value(v.Get(TokenEnv)), Projects: v.List(ProjectsEnv)}
	s, err := New(cfg, &Options{RequestsPerSecond: rps, HTTPTimeout: timeout})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// startSandbox starts the Jira imitation of dev/sandbox/jira; Unlimited turns its
// burst limit off.
func startSandbox(o source.SandboxOptions) (source.Sandbox, error) {
	so, _ := source.SettingOf[sbjira.Options](o)
	if err := so.Validate(); err != nil {
		return nil, err
	}
	so.Seed = cmp.Or(so.Seed, o.Seed)
	if so.Now == nil {
		so.Now = o.Now
	}
	if o.Unlimited {
		so.RateLimit = -1
	}
	var api *sbjira.API
	so.Middleware = o.Middleware(func(w http.ResponseWriter, retryAfter time.Duration) { api.WriteFaultRateLimited(w, retryAfter) })
	api = sbjira.New(so)
	return &source.Imitation{API: api, Mount: sbjira.Path, Point: func(baseURL string) source.Values {
		return source.Values{BaseURLEnv: baseURL, EmailEnv: api.Email(), TokenEnv: api.Token(),
			RequestsPerSecondEnv: strconv.Itoa(source.SandboxRequestsPerSecond)}
	}, Changes: func(n int) []string {
		return []string{fmt.Sprintf("changed %d Jira issues", len(api.Transition(n/2)))}
	}}, nil
}
