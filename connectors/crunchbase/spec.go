package crunchbase

import (
	_ "embed"

	"github.com/meshflow/meshflow/connectors/rest"
	"github.com/meshflow/meshflow/framework/source"
)

//go:embed crunchbase.yaml
var specYAML []byte

// Spec is Crunchbase as a declarative REST source (crunchbase.yaml): the
// organizations the Go connector lands, read the same way, with the same variables.
var Spec = rest.Must("connectors/crunchbase/crunchbase.yaml", specYAML)

// SpecConnector is Crunchbase registered from its spec, with the Go connector's
// sandbox: both read the same variables, so either can take Connector's place in the
// registry (connectors.All).
var SpecConnector = func() source.Connector {
	c := Spec.Connector()
	c.Sandbox, c.SandboxFlags = Connector.Sandbox, Connector.SandboxFlags
	return c
}()
