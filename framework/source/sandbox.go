package source

import "net/http"

// SandboxCompany is one company several sandboxes describe alike: its name and its
// canonical web domain (lower case, no scheme, no www.).
type SandboxCompany struct {
	Name   string
	Domain string
}

// Imitation is the Sandbox most connectors return: a vendor's imitation from
// dev/sandbox/<name> and the values that point the connector at it.
type Imitation struct {
	// API is the imitation. Tests and the demo reach its Go admin methods through
	// the composite sandbox's Get, and the composite discovers its optional
	// abilities (Admin, Companies, Serving) on it.
	API http.Handler
	// Mount is where the composite sandbox serves it ["/" + the connector's name].
	Mount string
	// Point returns the Values that make the connector read the imitation served
	// at baseURL (the sandbox's root followed by Mount).
	Point func(baseURL string) Values
	// Changes, when set, changes about n records the way a day of work would and
	// says what it changed ("changed 5 contacts", "merged 2 pull requests"): the
	// demo's second run is then incremental.
	Changes func(n int) []string
}

// ChangeSome changes about n records (see Changes); nil when it cannot.
func (i *Imitation) ChangeSome(n int) []string {
	if i.Changes == nil {
		return nil
	}
	return i.Changes(n)
}

// ServeHTTP serves the imitation's API.
func (i *Imitation) ServeHTTP(w http.ResponseWriter, r *http.Request) { i.API.ServeHTTP(w, r) }

// Values points the connector at the imitation served at baseURL.
func (i *Imitation) Values(baseURL string) Values { return i.Point(baseURL) }

// Path is where the composite sandbox serves it.
func (i *Imitation) Path() string { return i.Mount }

// Unwrap returns the imitation itself.
func (i *Imitation) Unwrap() http.Handler { return i.API }

// SettingOf returns the settings of type T among o.Settings (a T, or a *T as
// SandboxFlags returns it), and whether there was one.
func SettingOf[T any](o SandboxOptions) (T, bool) {
	for _, s := range o.Settings {
		switch v := s.(type) {
		case T:
			return v, true
		case *T:
			if v != nil {
				return *v, true
			}
		}
	}
	var zero T
	return zero, false
}

// SandboxRequestsPerSecond paces a connector reading a local sandbox: a stack turns
// the sandbox's burst limits off (SandboxOptions.Unlimited), and a full sync of
// per-issue changelogs at a SaaS pace would take minutes.
const SandboxRequestsPerSecond = 500
