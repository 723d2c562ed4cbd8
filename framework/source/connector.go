package source

import (
	"net/http"
	"strings"
	"time"
)

// Connector is one source as the platform knows it, registered once — in the
// connectors' registry, or by the one domain that uses it — so that everything else is
// derived from this value: the worker's configuration and the connectors it builds,
// `mesh doctor`'s credential check, the sandbox, the README's configuration table and
// the compose checks. Nothing outside the connector's own folder names a source.
type Connector struct {
	Name  string // the source's name in raw inputs: mesh.Raw(Name, stream), e.g. "hubspot"
	Title string // how people call it in messages, e.g. "HubSpot"
	// Vars are the environment variables that configure it, in the README's order.
	Vars []Var
	// Streams are its streams' specs, known without credentials (docs, checks of
	// declarations that name a raw stream).
	Streams []StreamSpec
	// Open builds the configured connector from its variables' values. It is called
	// only when Configured says the credentials are there; an error names the
	// variable to fix.
	Open func(Values) (Source, error)
	// Sandbox starts an offline imitation of the source's API for demos and tests;
	// nil when there is none.
	Sandbox func(SandboxOptions) (Sandbox, error)
}

// Var is one environment variable a connector (or the mesh) reads.
type Var struct {
	Name    string
	Default string // what applies when it is unset, as the README says it ("" = nothing)
	Doc     string // what it means (Markdown)
	// File: NAME_FILE may name a file holding the value instead (a mounted secret);
	// setting both is an error.
	File bool
	// Secret: the value is a credential. A deployment sets NAME_FILE, never the value.
	Secret bool
	// Credential marks the variables that authenticate to the source: the connector
	// is configured when one of them is set.
	Credential bool
	// Locates marks the variables that say where the source's data is (a base URL,
	// a site, ids), named when the API answers 404.
	Locates bool
}

// Values are a connector's configuration: each of its Vars' value by name ("" when
// unset), a NAME_FILE already read.
type Values map[string]string

// Get returns the value of name, trimmed.
func (v Values) Get(name string) string { return strings.TrimSpace(v[name]) }

// Or returns the value of name, or def when it is unset.
func (v Values) Or(name, def string) string {
	if s := v.Get(name); s != "" {
		return s
	}
	return def
}

// List splits a comma-separated value, dropping empty items.
func (v Values) List(name string) []string {
	var out []string
	for _, s := range strings.Split(v[name], ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Configured reports whether vals hold the connector's credentials.
func (c Connector) Configured(vals Values) bool {
	for _, v := range c.Vars {
		if v.Credential && vals.Get(v.Name) != "" {
			return true
		}
	}
	return false
}

// Sandbox is a running imitation of a source's API: its handler serves the API's
// paths, and Values point the connector at it.
type Sandbox interface {
	http.Handler
	// Values are the configuration that makes the connector read this sandbox when
	// its handler is served at baseURL: the base URL and the sandbox's credentials.
	Values(baseURL string) Values
}

// SandboxOptions size a sandbox and fix its randomness and clock.
type SandboxOptions struct {
	Seed int64            // the same seed gives the same data
	Now  func() time.Time // the sandbox's clock [time.Now]
}
