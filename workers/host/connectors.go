package host

import (
	"slices"
	"sync"

	"github.com/meshflow/meshflow/connectors"
	"github.com/meshflow/meshflow/domains"
	"github.com/meshflow/meshflow/framework/source"
)

// registered are the connectors of the registry and of the mesh's domains
// (connectors.Of), computed once.
var registered = sync.OnceValue(func() []source.Connector { return connectors.Of(domains.Mesh()) })

// extra are connectors a test registers beside them (export_test.go).
var extra []source.Connector

// Connectors are every connector a worker can host, in the README's order: each
// one registered in connectors.All, then the ones domains keep for themselves
// (mesh.Domain.Sources). The configuration, the connectors a worker builds, `mesh
// doctor`'s checks and the README's configuration table all derive from them.
func Connectors() []source.Connector {
	return append(slices.Clip(registered()), extra...)
}
