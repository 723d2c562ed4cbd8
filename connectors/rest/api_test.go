package rest_test

import (
	"github.com/meshflow/meshflow/connectors/conformance"
	"github.com/meshflow/meshflow/dev/sandbox/stub"
)

// The engine's tests read dev/sandbox/stub's API: records paged every way a spec can
// describe (one endpoint per paginator), an incremental filter, a child collection
// per record, a lookup by name, bearer auth and injected faults. The vendors'
// imitations live in dev/sandbox; this one exists to reach every paginator, and
// scaffolded sources start on it.
type thingsAPI = stub.API

const thingsToken = stub.Token

func newThingsAPI(n int, f conformance.Faults) *thingsAPI {
	return stub.New(stub.Options{Things: n, Faults: f})
}
