package source

import (
	"flag"
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
	// SandboxFlags registers the sandbox's own command-line flags (sizes, the
	// credentials it accepts, its limits) on fs for cmd/sandbox, and returns the
	// settings value they fill, which Sandbox then finds in SandboxOptions.Settings;
	// nil when it has none.
	SandboxFlags func(fs *flag.FlagSet) any
	// SpecFile is the repository path of the spec the connector is built from ("" for
	// a connector written in Go), and Reload builds it again from that file's text:
	// a worker started on a checkout (mesh dev) reads a saved spec at its next landing.
	SpecFile string
	Reload   func(spec []byte) (Connector, error)
}

// SpecReload is Connector.Reload for a connector built from the spec file by parse
// and its Connector method.
func SpecReload[S interface{ Connector() Connector }](file string, parse func(file string, data []byte) (S, error)) func([]byte) (Connector, error) {
	return func(data []byte) (Connector, error) {
		s, err := parse(file, data)
		if err != nil {
			return Connector{}, err
		}
		return s.Connector(), nil
	}
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
	// Credential marks the variables that authenticate to the source, named when it
	// refuses them. The connector is configured when a secret one (Secret, or
	// FileContents: a key file) is set; an identity alone (an email) is not enough.
	Credential bool
	// Locates marks the variables that say where the source's data is (a base URL,
	// a site, ids), named when the API answers 404. The one named *_BASE_URL is the
	// API's address, which `mesh doctor` names (its literal Default when unset).
	Locates bool
	// FileContents: the value is a file's path (a service-account key file), and
	// Values hold that file's contents under the variable's name.
	FileContents bool
	// Tuning marks a pace or a timeout (PaceVar, TimeoutVar): the deployment's choice,
	// which a sandbox's own values (sized for an in-process stack) do not set for
	// another deployment.
	Tuning bool
	// Check, when set, refuses a value that cannot work when the configuration is
	// read, whether or not the connector is configured; its error names the
	// variable and what it must be (see PaceVar and TimeoutVar).
	Check func(value string) error
}

// Values are a connector's configuration: each of its Vars' value by name ("" when
// unset), a NAME_FILE already read. In-process callers (a sandbox) may add settings
// no variable carries under other keys (Unpaced, or the connector's own); the
// environment never sets those.
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

// Configured reports whether vals hold the connector's credentials: one of its
// secret credentials is set (see Var.Credential). A connector with no secret of its
// own — a bucket of dropped files, read with the worker's own role — is configured
// once one of its Credential variables (the bucket's URL) is set.
func (c Connector) Configured(vals Values) bool {
	secretless := true
	for _, v := range c.Vars {
		if v.Credential && (v.Secret || v.FileContents) {
			secretless = false
			if vals.Get(v.Name) != "" {
				return true
			}
		}
	}
	for _, v := range c.Vars {
		if secretless && v.Credential && vals.Get(v.Name) != "" {
			return true
		}
	}
	return false
}

// Specs are the specs of streams, for Connector.Streams.
func Specs(streams []Stream) []StreamSpec {
	out := make([]StreamSpec, len(streams))
	for i, st := range streams {
		out[i] = st.Spec()
	}
	return out
}

// Sandbox is a running imitation of a source's API: its handler serves the API's
// paths, and Values point the connector at it.
//
// The composite sandbox (dev/sandbox) discovers optional abilities with type
// assertions: Path() string, where it is served ["/" + the connector's name];
// Unwrap() http.Handler, the imitation itself (see Imitation); and on that
// imitation: Admin() http.Handler, its admin endpoints under /_sandbox<path>/;
// Companies() []SandboxCompany, the companies it describes, which the sandboxes
// started after it describe too; Serving(baseURL string) error, called once a
// command serves it (to write a key file that names its address). On the sandbox
// itself: io.Closer, to stop what it started besides its handler (a database
// cluster), called by the composite's Close; LocalOnly() bool, true for a server of
// its own on this machine (a database), which other machines cannot reach through
// the composite's root.
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
	// Faults wraps the imitation's routes, inside its request counting, with the
	// composite sandbox's injected faults; rateLimited writes the API's own 429.
	// nil: no faults.
	Faults func(rateLimited func(w http.ResponseWriter, retryAfter time.Duration)) func(http.Handler) http.Handler
	// Companies are what the sandboxes started before it describe (HubSpot's
	// companies), for it to derive some of its records from, so that the same
	// companies show up across sources.
	Companies []SandboxCompany
	// Unlimited turns off the limits that a local stack's repeated full syncs at
	// its own pace would only wait on (the demo, the end-to-end tests); a
	// connector's own tests exercise them.
	Unlimited bool
	// Settings are sandboxes' own settings (sizes, credentials, limits), as
	// SandboxFlags filled them or a test built them: each sandbox takes the one of
	// its type (see SettingOf) and defaults without one.
	Settings []any
	// StateDir is where a sandbox that holds state outside this process (a database
	// server) keeps it across restarts of the stack, beside the lake whose cursors
	// point into it; "" = throwaway.
	StateDir string
}

// Middleware is the faults' middleware for an imitation whose own 429 rateLimited
// writes, for its options' Middleware; nil without faults.
func (o SandboxOptions) Middleware(rateLimited func(w http.ResponseWriter, retryAfter time.Duration)) func(http.Handler) http.Handler {
	if o.Faults == nil {
		return nil
	}
	return o.Faults(rateLimited)
}
