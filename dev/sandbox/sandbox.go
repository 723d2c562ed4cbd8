// Package sandbox serves imitations of the SaaS APIs Meshflow's connectors read,
// over real HTTP, so connectors, end-to-end tests and demos run offline against
// seeded data with the vendors' boundary behaviour and injectable faults.
//
// It knows no vendor by name: it serves the sandbox of each connector it is given
// (source.Connector.Sandbox, which starts the imitation in dev/sandbox/<name>),
// each under its own path prefix (HubSpot under /hubspot, so its base URL is the
// root followed by /hubspot), which keeps vendors' paths from colliding. Admin
// endpoints live under /_sandbox/ and are never faulted, counted or authenticated
// (the sandbox is for local use only):
//
//	GET      /_sandbox/health           → {"ok":true,"vendors":{"hubspot":"/hubspot",...}}
//	GET      /_sandbox/faults           → the current Faults as JSON
//	PUT|POST /_sandbox/faults           ← {"rate_limited":0.1,"server_error":0.05,"slow":0,"truncate":0,"slow_delay":"2s","retry_after":"1s","rate_limit_next":1}
//	*        /_sandbox/<path>/...       → that vendor's admin endpoints (its Admin method documents them:
//	                                      touch, count, requests, exhaust a quota, ground truth of matches)
package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/meshflow/meshflow/framework/source"
)

// Options configures a Server; nil or zero fields take defaults.
type Options struct {
	Seed   int64            // drives data and fault decisions [1]
	Now    func() time.Time // the data clock handed to every vendor [time.Now]
	Faults Faults           // initial faults; change them with SetFaults

	// Connectors are the sources it imitates, in order: each with a Sandbox is
	// served under its sandbox's path. A sandbox gets the companies the ones
	// before it describe (source.SandboxOptions.Companies), so HubSpot comes first.
	Connectors []source.Connector
	// Unlimited turns off the vendors' limits that a local stack's repeated full
	// syncs would only wait on (source.SandboxOptions.Unlimited).
	Unlimited bool
	// Settings are the vendors' own options (sizes, the credentials they accept,
	// their limits), such as a hubspot.Options: each vendor takes the one of its
	// type, and its Seed and Now default to the ones above.
	Settings []any
	// StateDir is handed to each vendor (source.SandboxOptions.StateDir): where one
	// that runs a server keeps its data across restarts ["" = throwaway].
	StateDir string

	// Logger, when set, logs every request at debug level.
	Logger *zerolog.Logger
}

// Server is the sandbox: one http.Handler mounting every vendor.
type Server struct {
	handler http.Handler
	faults  *faultInjector
	vendors []vendor
}

// vendor is one mounted sandbox.
type vendor struct {
	name, path string
	sb         source.Sandbox
	conn       source.Connector
}

// New builds a sandbox. It panics when Open fails: invalid Faults or settings are
// a programming error in a test, or a flag check the caller skipped.
func New(opts *Options) *Server {
	s, err := Open(opts)
	if err != nil {
		panic(err)
	}
	return s
}

// Open builds a sandbox, or says which fault or vendor setting is wrong.
func Open(opts *Options) (*Server, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if err := o.Faults.Validate(); err != nil {
		return nil, err
	}
	s := &Server{faults: &faultInjector{seed: o.Seed, f: o.Faults}}
	mux := http.NewServeMux()
	paths := map[string]string{}
	var companies []source.SandboxCompany // the first vendor's that describes some
	for _, c := range o.Connectors {
		if c.Sandbox == nil {
			continue
		}
		sb, err := c.Sandbox(source.SandboxOptions{Seed: o.Seed, Now: o.Now, Faults: s.faults.middleware,
			Companies: companies, Unlimited: o.Unlimited, Settings: o.Settings, StateDir: o.StateDir})
		if err != nil {
			return nil, fmt.Errorf("sandbox of %s: %w", c.Name, err)
		}
		path := "/" + c.Name
		if p, ok := sb.(mounted); ok && p.Path() != "" {
			path = p.Path()
		}
		if other, ok := paths[path]; ok {
			return nil, fmt.Errorf("the sandboxes of %s and %s are both served under %s", other, c.Name, path)
		}
		paths[path] = c.Name
		s.vendors = append(s.vendors, vendor{name: c.Name, path: path, sb: sb, conn: c})
		mux.Handle(path+"/", http.StripPrefix(path, sb))
		api := imitation(sb)
		if a, ok := api.(administered); ok {
			mux.Handle("/_sandbox"+path+"/", http.StripPrefix("/_sandbox"+path, a.Admin()))
		}
		if d, ok := api.(describesCompanies); ok && companies == nil {
			companies = d.Companies()
		}
	}
	mux.HandleFunc("GET /_sandbox/health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "vendors": s.Paths()})
	})
	mux.HandleFunc("GET /_sandbox/faults", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Faults())
	})
	setFaults := func(w http.ResponseWriter, r *http.Request) {
		var f Faults
		if err := json.NewDecoder(r.Body).Decode(&f); err != nil {
			http.Error(w, "faults: "+err.Error(), http.StatusBadRequest)
			return
		}
		if err := f.Validate(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.SetFaults(f)
		writeJSON(w, http.StatusOK, f)
	}
	mux.HandleFunc("PUT /_sandbox/faults", setFaults)
	mux.HandleFunc("POST /_sandbox/faults", setFaults)

	s.handler = mux
	if o.Logger != nil {
		s.handler = logRequests(*o.Logger, mux)
	}
	return s, nil
}

// The optional abilities of a sandbox and its imitation (see source.Sandbox).
type (
	mounted            interface{ Path() string }
	unwrapper          interface{ Unwrap() http.Handler }
	administered       interface{ Admin() http.Handler }
	describesCompanies interface {
		Companies() []source.SandboxCompany
	}
	served  interface{ Serving(baseURL string) error }
	changer interface{ ChangeSome(n int) []string }
	counted interface{ Requests() int }
	// local is a sandbox that is a server of its own on this machine (a database
	// cluster), not served over the composite's HTTP root.
	local interface{ LocalOnly() bool }
)

// Close stops what the sandboxes started besides their handlers (a database
// cluster: the sandboxes that are an io.Closer).
func (s *Server) Close() error {
	var problems []error
	for _, v := range s.vendors {
		if c, ok := v.sb.(io.Closer); ok {
			if err := c.Close(); err != nil {
				problems = append(problems, fmt.Errorf("sandbox of %s: %w", v.name, err))
			}
		}
	}
	return errors.Join(problems...)
}

// Local are the connectors whose sandbox is a server on this machine, which other
// machines cannot reach through the sandbox's root (compose's sandbox service).
func (s *Server) Local() []string {
	var out []string
	for _, v := range s.vendors {
		if l, ok := v.sb.(local); ok && l.LocalOnly() {
			out = append(out, v.name)
		}
	}
	return out
}

// imitation is the vendor's imitation behind a sandbox (source.Imitation's API), or
// the sandbox itself.
func imitation(sb source.Sandbox) any {
	if u, ok := sb.(unwrapper); ok {
		return u.Unwrap()
	}
	return sb
}

// ServeHTTP routes to the vendor or admin handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Paths are where each connector's sandbox is served, by connector name: its base
// URL is the sandbox's root followed by it.
func (s *Server) Paths() map[string]string {
	out := map[string]string{}
	for _, v := range s.vendors {
		out[v.name] = v.path
	}
	return out
}

// Values are the configurations that point each served connector, by name, at the
// sandbox served at root (source.Sandbox.Values).
func (s *Server) Values(root string) map[string]source.Values {
	out := map[string]source.Values{}
	for _, v := range s.vendors {
		out[v.name] = v.sb.Values(root + v.path)
	}
	return out
}

// Serving tells each vendor that can use it that the sandbox is served at root
// (the GA4 imitation writes its key file then).
func (s *Server) Serving(root string) error {
	for _, v := range s.vendors {
		if sv, ok := imitation(v.sb).(served); ok {
			if err := sv.Serving(root + v.path); err != nil {
				return fmt.Errorf("sandbox of %s: %w", v.name, err)
			}
		}
	}
	return nil
}

// ChangeSome changes about n records across the vendors, the way a day of work
// would, and says what it changed: "changed 25 contacts, 6 deals, 12 Jira issues;
// merged 6 pull requests" (what each vendor's source.Imitation.Changes did).
func (s *Server) ChangeSome(n int) string {
	var changed, other []string
	for _, v := range s.vendors {
		c, ok := v.sb.(changer)
		if !ok {
			continue
		}
		for _, what := range c.ChangeSome(n) {
			if rest, ok := strings.CutPrefix(what, "changed "); ok {
				changed = append(changed, rest)
			} else {
				other = append(other, what)
			}
		}
	}
	if len(changed) > 0 {
		other = append([]string{"changed " + strings.Join(changed, ", ")}, other...)
	}
	return strings.Join(other, "; ")
}

// Requests counts the requests each vendor has answered, faulted ones included, by
// connector name (the imitations that count them).
func (s *Server) Requests() map[string]int {
	out := map[string]int{}
	for _, v := range s.vendors {
		if c, ok := imitation(v.sb).(counted); ok {
			out[v.name] = c.Requests()
		}
	}
	return out
}

// Get returns the served imitation of type T (a *hubspot.API), for its Go admin
// methods. It panics when the sandbox serves none: add its connector to
// Options.Connectors.
func Get[T any](s *Server) T {
	for _, v := range s.vendors {
		if t, ok := imitation(v.sb).(T); ok {
			return t
		}
	}
	var zero T
	panic(fmt.Sprintf("sandbox: no %T is served: add its connector to Options.Connectors", zero))
}

// SetFaults replaces the injected faults from the next request on. It panics on
// invalid rates (see Faults.Validate).
func (s *Server) SetFaults(f Faults) {
	if err := f.Validate(); err != nil {
		panic(err)
	}
	s.faults.set(f)
}

// Faults returns the faults currently injected.
func (s *Server) Faults() Faults { return s.faults.get() }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

func logRequests(log zerolog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		ev := log.Debug().Str("method", r.Method).Str("path", r.URL.Path).Int("status", sw.status).Dur("took", time.Since(start))
		if f := w.Header().Get(FaultHeader); f != "" {
			ev = ev.Str("fault", f)
		}
		ev.Msg("request")
	})
}
