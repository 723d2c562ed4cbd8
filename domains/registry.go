// Package domains is the registry of every domain the mesh runs. A new domain adds
// one line here; a new product inside a domain needs no edit outside its folder.
package domains

import (
	"github.com/meshflow/meshflow/domains/bi"
	"github.com/meshflow/meshflow/domains/communications"
	"github.com/meshflow/meshflow/domains/engineering"
	"github.com/meshflow/meshflow/domains/finance"
	"github.com/meshflow/meshflow/domains/identity"
	"github.com/meshflow/meshflow/domains/marketing"
	"github.com/meshflow/meshflow/domains/marketintel"
	"github.com/meshflow/meshflow/domains/metrics"
	"github.com/meshflow/meshflow/domains/partners"
	"github.com/meshflow/meshflow/domains/platform"
	"github.com/meshflow/meshflow/domains/product"
	"github.com/meshflow/meshflow/framework/mesh"
)

// Mesh returns every registered domain.
func Mesh() mesh.Mesh {
	return mesh.Mesh{Domains: []mesh.Domain{
		bi.Domain(),
		engineering.Domain(),
		identity.Domain(),
		marketing.Domain(),
		marketintel.Domain(),
		metrics.Domain(),
		product.Domain(),
		finance.Domain(),
		partners.Domain(),
		platform.Domain(),
		communications.Domain(),
	}}
}
