package looker

import (
	"cmp"
	"fmt"

	"github.com/meshflow/meshflow/framework/source"
)

// The variables of the looker source (domains/bi/sources/looker.yaml) that point
// it at an imitation: its API key and the base URL every spec source has.
const (
	BaseURLVar      = "LOOKER_BASE_URL"
	ClientIDVar     = "LOOKER_CLIENT_ID"
	ClientSecretVar = "LOOKER_CLIENT_SECRET"
)

// Start starts the imitation as the looker source's sandbox
// (source.Connector.Sandbox): its settings from cmd/sandbox's flags (Options), the
// seed and clock of the composite sandbox, and the composite's faults answering
// with Looker's 429. Looker limits none of these endpoints, so Unlimited changes
// nothing. Between two demo runs, Changes opens dashboards and runs queries, which
// the next sync reads incrementally.
func Start(o source.SandboxOptions) (source.Sandbox, error) {
	so, _ := source.SettingOf[Options](o)
	if err := so.Validate(); err != nil {
		return nil, err
	}
	so.Seed = cmp.Or(so.Seed, o.Seed)
	if so.Now == nil {
		so.Now = o.Now
	}
	so.Middleware = o.Middleware(WriteRateLimited)
	api := New(so)
	return &source.Imitation{API: api, Mount: Path, Point: func(baseURL string) source.Values {
		return source.Values{BaseURLVar: baseURL + APIPath, ClientIDVar: api.ClientID(), ClientSecretVar: api.ClientSecret(), source.Unpaced: "true"}
	}, Changes: func(n int) []string {
		views := api.AddViews(max(1, n/5))
		return []string{fmt.Sprintf("opened %d Looker dashboards", len(views))}
	}}, nil
}
