// Package rest builds a source from a spec file instead of Go: a YAML file declares a
// REST API's base URL, auth, requests, record selector, pagination, incremental
// cursor, parent streams, rate limit, error classification and typed fields, and
// Spec.Connector makes it a source.Connector like a hand-written one — paged through
// source.Reader, resumed from small versioned cursors, held to the same conformance
// suite and fuzz tests. SPEC.md documents every key, with an example.
//
// A spec is validated when it is loaded (a worker embedding it fails to start) and by
// `go test ./connectors/rest` (TestEverySpecInTheTree loads every spec of the tree);
// every error names the file, the line and the field, and how to fix it.
package rest
