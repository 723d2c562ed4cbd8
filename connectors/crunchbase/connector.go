// Package crunchbase is the Crunchbase API v4 source, declared as a spec
// (crunchbase.yaml): organizations, read through the search endpoint with an
// explicit field list, keyset paging on uuid and an `updated_at gte` window for
// incremental syncs. It works against api.crunchbase.com or the dev/sandbox
// imitation alike.
//
// It was a Go connector first (640 lines); the spec landed
// market_intelligence.organizations with the same row-set hash, clean and under
// faults, and replaced it: what the Go code did by hand — dedupe of versions seen
// within the lookback, versioned cursors, keyset paging, secret scrubbing, the
// bare 429's wait for the next minute — the REST engine does for every spec.
package crunchbase

import (
	"cmp"
	_ "embed"
	"flag"
	"fmt"

	"github.com/meshflow/meshflow/connectors/rest"
	sbcrunchbase "github.com/meshflow/meshflow/dev/sandbox/crunchbase"
	"github.com/meshflow/meshflow/framework/source"
)

// Variables the spec declares (crunchbase.yaml, and the engine's <PREFIX>_BASE_URL,
// _REQUESTS_PER_MINUTE and _HTTP_TIMEOUT) that the sandbox and the tests set.
const (
	UserKeyEnv     = "CRUNCHBASE_USER_KEY"
	BaseURLEnv     = "CRUNCHBASE_BASE_URL"
	HTTPTimeoutEnv = "CRUNCHBASE_HTTP_TIMEOUT"
)

//go:embed crunchbase.yaml
var specYAML []byte

// Spec is Crunchbase as a declarative REST source.
var Spec = rest.Must("connectors/crunchbase/crunchbase.yaml", specYAML)

// Connector is Crunchbase as the platform registers it (connectors.All): the
// spec's variables, streams and constructor, and the Crunchbase sandbox.
var Connector = func() source.Connector {
	c := Spec.Connector()
	c.Sandbox = startSandbox
	c.SandboxFlags = func(fs *flag.FlagSet) any {
		o := &sbcrunchbase.Options{}
		o.Flags(fs)
		return o
	}
	return c
}()

// startSandbox starts the Crunchbase imitation of dev/sandbox/crunchbase;
// Unlimited turns its per-minute limit off, and the source reads it unpaced. Its
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
