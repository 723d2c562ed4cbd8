// Package sandbox serves imitations of the SaaS APIs Meshflow's connectors read,
// over real HTTP, so connectors, end-to-end tests and demos run offline against
// seeded data with the vendors' boundary behaviour and injectable faults.
//
// Each vendor lives in a sub-package and is mounted under its own path prefix
// (HubSpot under /hubspot, so its base URL is root+HubSpotPath), which keeps
// vendors' paths from colliding. Admin endpoints live under /_sandbox/ and are
// never faulted, counted or authenticated (the sandbox is for local use only):
//
//	GET      /_sandbox/health                        → {"ok":true,"vendors":{...}}
//	GET      /_sandbox/faults                        → the current Faults as JSON
//	PUT|POST /_sandbox/faults                        ← {"rate_limited":0.1,"server_error":0.05,"slow":0,"truncate":0,"slow_delay":"2s","retry_after":"1s","rate_limit_next":1}
//	POST     /_sandbox/hubspot/touch?object=contacts&n=5   → {"ids":[...]}
//	POST     /_sandbox/hubspot/archive?object=deals&n=2    → {"ids":[...]}
//	GET      /_sandbox/hubspot/count?object=companies      → {"object":...,"live":N,"archived":M}
//	GET      /_sandbox/hubspot/requests                    → {"requests":N}
//	POST     /_sandbox/hubspot/exhaust-daily               → 204; every call answers 429 DAILY until the next day
//	POST     /_sandbox/jira/transition?n=5                 → {"keys":[...],"changes":[...]}
//	GET      /_sandbox/jira/count                          → {"issues":N,"histories":M,"projects":[...]}
//	GET      /_sandbox/jira/requests                       → {"requests":N}
//	GET|PUT  /_sandbox/jira/timezone?name=Asia/Kolkata     → {"timeZone":...} (the API user's profile zone)
//	POST     /_sandbox/github/merge-prs?n=3                → {"keys":["acme/app#12",...]} (also update-issues, review-prs, add-commits, update-repos, update-orgs)
//	GET      /_sandbox/github/org-matches                  → which HubSpot company each organisation derives from (ground truth)
//	GET      /_sandbox/github/count?stream=issues          → {"stream":"issues","count":N}
//	GET      /_sandbox/github/requests                     → {"requests":N,"used":M}
//	POST     /_sandbox/github/exhaust-primary              → 204; every call answers 403 with x-ratelimit-remaining 0 until the hour's reset
//	GET      /_sandbox/ga4/service-account                 → the service-account key file, token_uri pointing at this sandbox
//	POST     /_sandbox/ga4/late-hits?property=P&date=D&n=3&dimensions=a,b → {"rows":[[...]]} (rows of D that change)
//	POST     /_sandbox/ga4/advance?by=24h                  → {"now":...,"today":{...}} (moves the GA4 clock)
//	GET      /_sandbox/ga4/requests                        → {"requests":N,"token_requests":M}
//	POST     /_sandbox/ga4/exhaust-hourly                  → 204; runReport answers 429 RESOURCE_EXHAUSTED until the next hour (also exhaust-daily)
//	POST     /_sandbox/ga4/malform-day?property=P&date=D   → 204; P's report of D has a first row whose first metric is "n/a" (undo: clear-failures)
//	POST     /_sandbox/pendo/touch-accounts?n=5            → {"ids":[...]} (also touch-visitors)
//	POST     /_sandbox/pendo/add-events?source=pageEvents&day=2026-03-09&n=4 → {"rows":[...]} (late events on a subscription-local day)
//	GET      /_sandbox/pendo/count                         → {"accounts":N,"visitors":N,"pages":N,"features":N}
//	GET      /_sandbox/pendo/matches                       → which HubSpot company each account derives from (ground truth)
//	GET      /_sandbox/pendo/requests                      → {"requests":N}
//	POST     /_sandbox/crunchbase/touch?n=5                → {"uuids":[...]}
//	GET      /_sandbox/crunchbase/count                    → {"organizations":N}
//	GET      /_sandbox/crunchbase/matches                  → which HubSpot company each organization derives from (ground truth)
//	GET      /_sandbox/crunchbase/requests                 → {"requests":N}
package sandbox

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/meshflow/meshflow/dev/sandbox/crunchbase"
	"github.com/meshflow/meshflow/dev/sandbox/github"
	"github.com/meshflow/meshflow/dev/sandbox/googleanalytics"
	"github.com/meshflow/meshflow/dev/sandbox/hubspot"
	"github.com/meshflow/meshflow/dev/sandbox/jira"
	"github.com/meshflow/meshflow/dev/sandbox/pendo"
)

// HubSpotToken is the private app token the HubSpot imitation accepts by default.
const HubSpotToken = hubspot.DefaultToken

// HubSpotPath is where the HubSpot imitation is mounted: a client's base URL is
// the sandbox root followed by it (see HubSpotURL).
const HubSpotPath = "/hubspot"

// HubSpotURL is the HubSpot base URL of a sandbox served at root, e.g.
// HubSpotURL("http://127.0.0.1:8280") = "http://127.0.0.1:8280/hubspot".
func HubSpotURL(root string) string { return root + HubSpotPath }

// GitHubToken is the personal access token the GitHub imitation accepts by default.
const GitHubToken = github.DefaultToken

// GitHubPath is where the GitHub imitation is mounted: a client's base URL is the
// sandbox root followed by it (see GitHubURL).
const GitHubPath = "/github"

// GitHubURL is the GitHub API base URL of a sandbox served at root, e.g.
// GitHubURL("http://127.0.0.1:8280") = "http://127.0.0.1:8280/github".
func GitHubURL(root string) string { return root + GitHubPath }

// JiraEmail and JiraToken are the Basic auth credentials the Jira imitation
// accepts by default.
const (
	JiraEmail = jira.DefaultEmail
	JiraToken = jira.DefaultToken
)

// JiraPath is where the Jira imitation is mounted: a client's site URL is the
// sandbox root followed by it (see JiraURL); the API is under it at /rest/api/3.
const JiraPath = "/jira"

// JiraURL is the Jira site URL of a sandbox served at root, e.g.
// JiraURL("http://127.0.0.1:8280") = "http://127.0.0.1:8280/jira".
func JiraURL(root string) string { return root + JiraPath }

// GA4Path is where the Google Analytics Data API imitation is mounted: a client's
// base URL is the sandbox root followed by it (see GA4URL); its token endpoint is
// GA4TokenURL.
const GA4Path = "/ga4"

// GA4URL is the GA4 Data API base URL of a sandbox served at root, e.g.
// GA4URL("http://127.0.0.1:8280") = "http://127.0.0.1:8280/ga4"; runReport is
// under it at /v1beta/properties/{id}:runReport.
func GA4URL(root string) string { return root + GA4Path }

// GA4TokenURL is the OAuth token endpoint of a sandbox served at root: the
// token_uri of its service-account key file (Server.GA4().ServiceAccountJSON).
func GA4TokenURL(root string) string { return root + GA4Path + "/token" }

// PendoKey is the integration key the Pendo imitation accepts by default.
const PendoKey = pendo.DefaultKey

// PendoPath is where the Pendo imitation is mounted: a client's base URL is the
// sandbox root followed by it (see PendoURL); the API is under it at /api/v1.
const PendoPath = "/pendo"

// PendoURL is the Pendo base URL of a sandbox served at root, e.g.
// PendoURL("http://127.0.0.1:8280") = "http://127.0.0.1:8280/pendo".
func PendoURL(root string) string { return root + PendoPath }

// CrunchbaseKey is the user key the Crunchbase imitation accepts by default.
const CrunchbaseKey = crunchbase.DefaultKey

// CrunchbasePath is where the Crunchbase imitation is mounted. A client's base
// URL includes the API version, as Crunchbase's own does (see CrunchbaseURL).
const CrunchbasePath = "/crunchbase"

// CrunchbaseURL is the Crunchbase API base URL of a sandbox served at root, e.g.
// CrunchbaseURL("http://127.0.0.1:8280") = "http://127.0.0.1:8280/crunchbase/api/v4".
func CrunchbaseURL(root string) string { return root + CrunchbasePath + "/api/v4" }

// Options configures a Server; nil or zero fields take defaults.
type Options struct {
	Seed   int64            // drives data and fault decisions [1]
	Now    func() time.Time // the data clock handed to every vendor [time.Now]
	Faults Faults           // initial faults; change them with SetFaults

	// HubSpot configures the HubSpot imitation (sizes, token, SearchCap, limits).
	// Its Seed and Now default to the ones above.
	HubSpot hubspot.Options
	// GitHub configures the GitHub imitation (sizes, token, PageCap, limits).
	// Its Seed and Now default to the ones above, its Companies to the HubSpot
	// imitation's, so forking organisations describe the same companies.
	GitHub github.Options
	// Jira configures the Jira imitation (sizes, credentials, profile time zone,
	// limits). Its Seed and Now default to the ones above.
	Jira jira.Options
	// GA4 configures the Google Analytics imitation (properties, days of history,
	// token budgets). Its Seed and Now default to the ones above.
	GA4 googleanalytics.Options
	// Pendo configures the Pendo imitation (sizes, key, subscription time zone,
	// rate). Its Seed and Now default to the ones above, its Companies to the
	// HubSpot imitation's, so accounts describe the same companies.
	Pendo pendo.Options
	// Crunchbase configures the Crunchbase imitation (size, key, calls per
	// minute). Its Seed and Now default to the ones above, its Companies to the
	// HubSpot imitation's.
	Crunchbase crunchbase.Options

	// Logger, when set, logs every request at debug level.
	Logger *zerolog.Logger
}

// Server is the sandbox: one http.Handler mounting every vendor.
type Server struct {
	handler http.Handler
	faults  *faultInjector
	hubspot *hubspot.API
	github  *github.API
	jira    *jira.API
	ga4     *googleanalytics.API
	pendo   *pendo.API
	cb      *crunchbase.API
}

// New builds a sandbox. It panics on invalid Faults, a programming error in a
// test or a flag check the caller skipped.
func New(opts *Options) *Server {
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
		panic(err)
	}
	s := &Server{faults: &faultInjector{seed: o.Seed, f: o.Faults}}

	hs := o.HubSpot
	if hs.Seed == 0 {
		hs.Seed = o.Seed
	}
	if hs.Now == nil {
		hs.Now = o.Now
	}
	hs.Middleware = s.faults.middleware(func(w http.ResponseWriter, retryAfter time.Duration) {
		hubspot.WriteRateLimited(w, hubspot.PolicyTenSecondly, retryAfter)
	})
	s.hubspot = hubspot.New(hs)

	companies := s.hubspot.CompanyDomains() // GitHub, Pendo and Crunchbase describe some of them too

	gh := o.GitHub
	if gh.Seed == 0 {
		gh.Seed = o.Seed
	}
	if gh.Now == nil {
		gh.Now = o.Now
	}
	if gh.Companies == nil {
		gh.Companies = companies
	}
	gh.Middleware = s.faults.middleware(github.WriteRateLimited)
	s.github = github.New(gh)

	js := o.Jira
	if js.Seed == 0 {
		js.Seed = o.Seed
	}
	if js.Now == nil {
		js.Now = o.Now
	}
	js.Middleware = s.faults.middleware(func(w http.ResponseWriter, retryAfter time.Duration) {
		s.jira.WriteFaultRateLimited(w, retryAfter)
	})
	s.jira = jira.New(js)

	ga := o.GA4
	if ga.Seed == 0 {
		ga.Seed = o.Seed
	}
	if ga.Now == nil {
		ga.Now = o.Now
	}
	ga.Prefix = GA4Path
	ga.Middleware = s.faults.middleware(googleanalytics.WriteRateLimited)
	s.ga4 = googleanalytics.New(ga)

	pd := o.Pendo
	if pd.Seed == 0 {
		pd.Seed = o.Seed
	}
	if pd.Now == nil {
		pd.Now = o.Now
	}
	if pd.Companies == nil {
		pd.Companies = companies
	}
	pd.Middleware = s.faults.middleware(pendo.WriteRateLimited)
	s.pendo = pendo.New(pd)

	cb := o.Crunchbase
	if cb.Seed == 0 {
		cb.Seed = o.Seed
	}
	if cb.Now == nil {
		cb.Now = o.Now
	}
	if cb.Companies == nil {
		cb.Companies = companies
	}
	cb.Middleware = s.faults.middleware(crunchbase.WriteRateLimited)
	s.cb = crunchbase.New(cb)

	mux := http.NewServeMux()
	mux.Handle(HubSpotPath+"/", http.StripPrefix(HubSpotPath, s.hubspot))
	mux.Handle("/_sandbox/hubspot/", http.StripPrefix("/_sandbox/hubspot", s.hubspot.Admin()))
	mux.Handle(GitHubPath+"/", http.StripPrefix(GitHubPath, s.github))
	mux.Handle("/_sandbox/github/", http.StripPrefix("/_sandbox/github", s.github.Admin()))
	mux.Handle(JiraPath+"/", http.StripPrefix(JiraPath, s.jira))
	mux.Handle("/_sandbox/jira/", http.StripPrefix("/_sandbox/jira", s.jira.Admin()))
	mux.Handle(GA4Path+"/", http.StripPrefix(GA4Path, s.ga4))
	mux.Handle("/_sandbox/ga4/", http.StripPrefix("/_sandbox/ga4", s.ga4.Admin()))
	mux.Handle(PendoPath+"/", http.StripPrefix(PendoPath, s.pendo))
	mux.Handle("/_sandbox/pendo/", http.StripPrefix("/_sandbox/pendo", s.pendo.Admin()))
	mux.Handle(CrunchbasePath+"/", http.StripPrefix(CrunchbasePath, s.cb))
	mux.Handle("/_sandbox/crunchbase/", http.StripPrefix("/_sandbox/crunchbase", s.cb.Admin()))
	mux.HandleFunc("GET /_sandbox/health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "vendors": map[string]string{"hubspot": HubSpotPath, "github": GitHubPath, "jira": JiraPath, "ga4": GA4Path, "pendo": PendoPath, "crunchbase": CrunchbasePath}})
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
	return s
}

// ServeHTTP routes to the vendor or admin handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// HubSpot is the HubSpot imitation, for its admin methods (Touch, Archive, Count,
// Requests, ExhaustDaily).
func (s *Server) HubSpot() *hubspot.API { return s.hubspot }

// GitHub is the GitHub imitation, for its admin methods (MergePRs, UpdateIssues,
// ReviewPRs, AddCommits, UpdateRepos, UpdateOrgs, OrgMatches, Count, Requests,
// Used, ExhaustPrimary).
func (s *Server) GitHub() *github.API { return s.github }

// Jira is the Jira imitation, for its admin methods (Transition, Transitions,
// Count, Histories, Requests, SetTimeZone).
func (s *Server) Jira() *jira.API { return s.jira }

// GA4 is the Google Analytics imitation, for its admin methods (ServiceAccountJSON,
// LateHits, Report, SetNow, Advance, ExhaustHourly, ExhaustDaily, Requests).
func (s *Server) GA4() *googleanalytics.API { return s.ga4 }

// Pendo is the Pendo imitation, for its admin methods (TouchAccounts,
// TouchVisitors, AddEvents, Events, Count, Matches, Requests).
func (s *Server) Pendo() *pendo.API { return s.pendo }

// Crunchbase is the Crunchbase imitation, for its admin methods (Touch, Count,
// UUIDs, Matches, Requests).
func (s *Server) Crunchbase() *crunchbase.API { return s.cb }

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
