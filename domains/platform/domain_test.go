package platform

import (
	"testing"

	"github.com/meshflow/meshflow/framework/mesh"
)

func TestDomainValidates(t *testing.T) {
	if err := (mesh.Mesh{Domains: []mesh.Domain{Domain()}}).Validate(); err != nil {
		t.Fatal(err)
	}
}
