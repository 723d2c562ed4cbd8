package domains

import (
	"testing"

	"github.com/meshflow/meshflow/connectors"
	"github.com/meshflow/meshflow/framework/transform"
)

// Every model compiles against its inputs as declared and selects what its schema
// declares, every check compiles, and no model file is left without its product —
// what `mesh check` says, failing here in the domain team's `go test ./domains/...`.
func TestModelsCheck(t *testing.T) {
	m := Mesh()
	problems, err := transform.CheckMesh(t.Context(), m, connectors.Of(m))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}
