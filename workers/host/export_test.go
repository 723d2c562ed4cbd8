package host

import (
	"testing"

	"github.com/meshflow/meshflow/framework/source"
)

// Register registers c beside the registry's connectors until t ends, as a
// connector's line in connectors.All would.
func Register(t testing.TB, c source.Connector) {
	before := extra
	extra = append(extra[:len(extra):len(extra)], c)
	t.Cleanup(func() { extra = before })
}
