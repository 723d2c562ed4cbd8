package peopledatalabs

import (
	"cmp"

	"github.com/meshflow/meshflow/framework/source"
)

// The variables of the peopledatalabs source that point it at an imitation: the
// spec's API key and the base URL every spec source has.
const (
	BaseURLVar = "PEOPLEDATALABS_BASE_URL"
	KeyVar     = "PEOPLEDATALABS_API_KEY"
)

// Start starts the imitation as the peopledatalabs source's sandbox
// (source.Connector.Sandbox): its settings from cmd/sandbox's flags (Options), the
// seed, clock and companies of the sandboxes started before it, its per-minute
// limits off when Unlimited (its credits stay: a stack never spends 100,000), and
// the composite sandbox's faults answering PDL's own 429.
func Start(o source.SandboxOptions) (source.Sandbox, error) {
	so, _ := source.SettingOf[Options](o)
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
		so.CompanyEnrichPerMinute, so.PersonEnrichPerMinute, so.SearchPerMinute = -1, -1, -1
	}
	so.Middleware = o.Middleware(WriteRateLimited)
	api := New(so)
	return &source.Imitation{API: api, Mount: Path, Point: func(baseURL string) source.Values {
		// The API's address includes its version, as PDL's own does.
		return source.Values{BaseURLVar: baseURL + "/v5", KeyVar: api.Key(), source.Unpaced: "true"}
	}}, nil
}
