package github

import (
	"cmp"
	"flag"
	"fmt"
	"strconv"
	"strings"

	sbgithub "github.com/meshflow/meshflow/dev/sandbox/github"
	"github.com/meshflow/meshflow/framework/secret"
	"github.com/meshflow/meshflow/framework/source"
)

// Connector is GitHub as the platform registers it (connectors.All): its
// variables, streams, constructor and sandbox.
var Connector = source.Connector{
	Name:  "github",
	Title: "GitHub",
	Vars: []source.Var{
		{Name: TokenEnv, Credential: true, File: true, Secret: true, Doc: "GitHub token"},
		{Name: ReposEnv, Locates: true, Doc: "`owner/name` repositories to read (comma-separated)"},
		{Name: BranchesEnv, Doc: "branches read besides each repository's default"},
		{Name: BaseURLEnv, Locates: true, Default: "`" + DefaultBaseURL + "`", Doc: "GitHub API (or GitHub Enterprise: `https://HOST/api/v3`)"},
		pace.Var("requests a second, all GitHub streams together: GitHub's secondary rate limit allows 900 points a minute (15 reads a second) per token"),
		httpTimeout.Var("GitHub"),
	},
	Streams: source.Specs(streams(&Source{})),
	Open:    open,
	Sandbox: startSandbox,
	SandboxFlags: func(fs *flag.FlagSet) any {
		o := &sbgithub.Options{}
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
	cfg := Config{BaseURL: v.Get(BaseURLEnv), Token: secret.Value(v.Get(TokenEnv)), Repos: v.List(ReposEnv), Branches: v.List(BranchesEnv)}
	s, err := New(cfg, &Options{RequestsPerSecond: rps, HTTPTimeout: timeout})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// sandboxBranch is the branch the sandbox's repositories have besides main.
const sandboxBranch = "release"

// startSandbox starts the GitHub imitation of dev/sandbox/github; Unlimited turns
// its primary and secondary limits off. Its forking organisations derive from the
// companies the sandboxes before it describe.
func startSandbox(o source.SandboxOptions) (source.Sandbox, error) {
	so, _ := source.SettingOf[sbgithub.Options](o)
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
		so.RateLimit, so.SecondaryPerMinute = -1, -1
	}
	so.Middleware = o.Middleware(sbgithub.WriteRateLimited)
	api := sbgithub.New(so)
	return &source.Imitation{API: api, Mount: sbgithub.Path, Point: func(baseURL string) source.Values {
		return source.Values{BaseURLEnv: baseURL, TokenEnv: api.Token(), ReposEnv: strings.Join(api.Repos(), ","),
			BranchesEnv: sandboxBranch, RequestsPerSecondEnv: strconv.Itoa(source.SandboxRequestsPerSecond)}
	}, Changes: func(n int) []string {
		return []string{fmt.Sprintf("merged %d pull requests", len(api.MergePRs(n/5+1)))}
	}}, nil
}
