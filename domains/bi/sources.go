package bi

import (
	_ "embed"
	"flag"

	"github.com/meshflow/meshflow/connectors/rest"
	sblooker "github.com/meshflow/meshflow/dev/sandbox/looker"
	"github.com/meshflow/meshflow/framework/source"
)

//go:embed sources/looker.yaml
var lookerYAML []byte

// lookerSpec is the parsed spec, validated when the package loads.
var lookerSpec = rest.Must("domains/bi/sources/looker.yaml", lookerYAML)

// Looker is the looker source, which the bi domain alone reads (mesh.Domain.Sources):
// a spec, sources/looker.yaml, with the imitation of dev/sandbox/looker as its
// sandbox.
func Looker() source.Connector {
	c := lookerSpec.Connector()
	c.Sandbox = sblooker.Start
	c.SandboxFlags = func(fs *flag.FlagSet) any {
		o := &sblooker.Options{}
		o.Flags(fs)
		return o
	}
	return c
}
