// Package connectors is the registry of every source connector the platform
// hosts. A new connector adds one line here; everything else — the worker's
// configuration, `mesh doctor`, the sandbox, the README's configuration table — is
// derived from its source.Connector value.
package connectors

import (
	"github.com/meshflow/meshflow/connectors/crunchbase"
	"github.com/meshflow/meshflow/connectors/github"
	"github.com/meshflow/meshflow/connectors/googleanalytics"
	"github.com/meshflow/meshflow/connectors/hubspot"
	"github.com/meshflow/meshflow/connectors/jira"
	"github.com/meshflow/meshflow/connectors/pendo"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/source"
)

// All returns every registered connector, in the order of the README's
// configuration table. HubSpot comes first: the sandboxes after it describe its
// companies (source.SandboxOptions.Companies).
func All() []source.Connector {
	return []source.Connector{
		hubspot.Connector,
		jira.Connector,
		github.Connector,
		googleanalytics.Connector,
		pendo.Connector,
		crunchbase.Connector,
	}
}

// Of returns every registered connector and then the ones m's domains keep for
// themselves (mesh.Domain.Sources): all that a worker of m can host.
func Of(m mesh.Mesh) []source.Connector {
	out := All()
	for _, d := range m.Domains {
		out = append(out, d.Sources...)
	}
	return out
}
