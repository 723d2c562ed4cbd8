package marketintel

import (
	_ "embed"
	"flag"

	"github.com/meshflow/meshflow/connectors/rest"
	sbpdl "github.com/meshflow/meshflow/dev/sandbox/peopledatalabs"
	"github.com/meshflow/meshflow/framework/source"
)

//go:embed sources/peopledatalabs.yaml
var peopleDataLabsYAML []byte

// peopleDataLabsSpec is the parsed spec, validated when the package loads.
var peopleDataLabsSpec = rest.Must("domains/marketintel/sources/peopledatalabs.yaml", peopleDataLabsYAML)

// PeopleDataLabs is the peopledatalabs source, which the market intelligence domain
// alone reads (mesh.Domain.Sources): a spec, sources/peopledatalabs.yaml, with the
// imitation of dev/sandbox/peopledatalabs as its sandbox.
func PeopleDataLabs() source.Connector {
	c := peopleDataLabsSpec.Connector()
	c.Sandbox = sbpdl.Start
	c.SandboxFlags = func(fs *flag.FlagSet) any {
		o := &sbpdl.Options{}
		o.Flags(fs)
		return o
	}
	return c
}
