package crunchbase

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/meshflow/meshflow/dev/sandbox/internal/fake"
)

// Admin serves the imitation's admin endpoints for a running sandbox (the demo and
// the CLI drive it over HTTP; Go tests call the methods directly). Paths are
// relative to where it is mounted:
//
//	POST /touch?n=5   → {"uuids":[...]}   (Touch)
//	GET  /count       → {"organizations":N}
//	GET  /matches     → [{"ID":...,"Company":...,"Variant":...}]  (Matches)
//	GET  /requests    → {"requests":N}
func (a *API) Admin() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /touch", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.URL.Query().Get("n"))
		if err != nil || n < 0 {
			http.Error(w, "n must be a non-negative integer", http.StatusBadRequest)
			return
		}
		ids := a.Touch(n)
		if ids == nil {
			ids = []string{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"uuids": ids})
	})
	mux.HandleFunc("GET /count", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]int{"organizations": a.Count()})
	})
	mux.HandleFunc("GET /matches", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, a.Matches())
	})
	mux.HandleFunc("GET /requests", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]int{"requests": a.Requests()})
	})
	return mux
}

// Count is the number of organizations.
func (a *API) Count() int {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return len(a.orgs)
}

// UUIDs are every organization's uuid, ascending.
func (a *API) UUIDs() []string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	out := make([]string, len(a.orgs))
	for i, x := range a.orgs {
		out[i] = x.uuid
	}
	return out
}

// Matches is the ground truth of every organization, in uuid order: the HubSpot
// company it derives from (canonical domain, "" for strangers) and how its
// website_url spells it.
func (a *API) Matches() []fake.Match {
	a.mu.RLock()
	defer a.mu.RUnlock()
	out := make([]fake.Match, len(a.orgs))
	for i, x := range a.orgs {
		out[i] = fake.Match{ID: x.uuid, Name: x.name, Domain: x.website, Company: x.company, Variant: x.variant}
	}
	return out
}

// Organizations is what a complete read must land: every organization once, at
// its current version, in uuid order, as a search answers it when asked for every
// field the imitation serves.
func (a *API) Organizations() []json.RawMessage {
	a.mu.RLock()
	defer a.mu.RUnlock()
	out := make([]json.RawMessage, len(a.orgs))
	for i, x := range a.orgs {
		out[i], _ = json.Marshal(x.entity(fieldIDs)) // strings, numbers, maps: cannot fail
	}
	return out
}

// Touch changes n organizations, chosen deterministically from the seed and the
// calls before — a new employee range, description or funding — and stamps their
// updated_at with Now (whole seconds, as Crunchbase reports it). It returns their
// uuids in ascending order.
func (a *API) Touch(n int) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.mutator
	now := a.opts.Now().UTC().Truncate(time.Second)
	chosen := fake.Sample(r, a.orgs, n)
	slices.SortFunc(chosen, func(x, y *org) int { return strings.Compare(x.uuid, y.uuid) })
	ids := make([]string, len(chosen))
	for i, x := range chosen {
		switch r.IntN(3) {
		case 0:
			j := slices.Index(EmployeeRanges, x.employees)
			x.employees = EmployeeRanges[min(j+1, len(EmployeeRanges)-1)]
		case 1:
			x.description = fake.Pick(r, descriptions)
		default:
			usd := (1 + r.Int64N(400)) * 250_000
			x.fundingType = fake.Pick(r, FundingTypes)
			x.funding = &money{value: usd, currency: "USD", usd: usd}
		}
		x.updated = now
		ids[i] = x.uuid
	}
	return ids
}
