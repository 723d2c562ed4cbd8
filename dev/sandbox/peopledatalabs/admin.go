package peopledatalabs

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/meshflow/meshflow/dev/sandbox/internal/fake"
)

// Admin serves the imitation's admin endpoints for a running sandbox (the demo and
// the CLI drive it over HTTP; Go tests call the methods directly). Paths are
// relative to where it is mounted:
//
//	GET  /matches                                  → [{"company":…,"id":…,"website":…,"likelihood":N,"via":…}]  (Matches)
//	GET  /count                                    → {"companies":N,"people":M}
//	GET  /requests                                 → {"requests":N}
//	GET  /credits                                  → {"enrich_company":{"remaining":N,"used":M},…}  (Credits)
//	PUT  /credits?type=enrich_company&remaining=5  → 204  (SetCredits)
//	POST /exhaust-credits[?type=enrich_company]    → 204; that pool (every pool without type) answers 402 (ExhaustCredits)
//	POST /touch?n=5                                → {"ids":[...]}  (Touch: a data refresh changes n companies)
func (a *API) Admin() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /matches", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, a.Matches(), false)
	})
	mux.HandleFunc("GET /count", func(w http.ResponseWriter, r *http.Request) {
		companies, people := a.Count()
		writeJSON(w, http.StatusOK, map[string]int{"companies": companies, "people": people}, false)
	})
	mux.HandleFunc("GET /requests", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]int{"requests": a.Requests()}, false)
	})
	mux.HandleFunc("GET /credits", func(w http.ResponseWriter, r *http.Request) {
		out := map[string]Balance{}
		for _, typ := range CreditTypes {
			out[typ] = a.Credits(typ)
		}
		writeJSON(w, http.StatusOK, out, false)
	})
	mux.HandleFunc("PUT /credits", func(w http.ResponseWriter, r *http.Request) {
		typ := r.URL.Query().Get("type")
		n, err := strconv.Atoi(r.URL.Query().Get("remaining"))
		if !isCreditType(typ) || err != nil || n < 0 {
			http.Error(w, "type must be one of "+strings.Join(CreditTypes, ", ")+" and remaining a non-negative integer", http.StatusBadRequest)
			return
		}
		a.SetCredits(typ, n)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /exhaust-credits", func(w http.ResponseWriter, r *http.Request) {
		types := CreditTypes
		if typ := r.URL.Query().Get("type"); typ != "" {
			if !isCreditType(typ) {
				http.Error(w, "type must be one of "+strings.Join(CreditTypes, ", "), http.StatusBadRequest)
				return
			}
			types = []string{typ}
		}
		for _, typ := range types {
			a.ExhaustCredits(typ)
		}
		w.WriteHeader(http.StatusNoContent)
	})
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
		writeJSON(w, http.StatusOK, map[string]any{"ids": ids}, false)
	})
	return mux
}

// Matches is the ground truth of every company the imitation was seeded with, in
// their order: the PDL record an enrichment by its domain finds, or none.
func (a *API) Matches() []Match {
	a.mu.RLock()
	defer a.mu.RUnlock()
	found := map[string]Match{}
	for _, x := range a.companies {
		if x.match.Company != "" {
			found[x.match.Company] = x.match
		}
	}
	out := make([]Match, len(a.opts.Companies))
	for i, c := range a.opts.Companies {
		m, ok := found[c.Domain]
		if !ok {
			m = Match{Company: c.Domain, Via: ViaNone}
		}
		out[i] = m
	}
	return out
}

// SeededCompanies are the companies the imitation was seeded with (HubSpot's in
// the composite sandbox), in the order Matches lists them.
func (a *API) SeededCompanies() []fake.Company { return slices.Clone(a.opts.Companies) }

// Count is the number of company and person records.
func (a *API) Count() (companies, people int) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return len(a.companies), len(a.people)
}

// PersonEmails are every person record's work email, in record order.
func (a *API) PersonEmails() []string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	out := make([]string, len(a.people))
	for i, p := range a.people {
		out[i] = p.emails[0]
	}
	return out
}

// Balance is one credit pool: what remains and what was spent since the start.
type Balance struct {
	Remaining int `json:"remaining"`
	Used      int `json:"used"`
}

// Credits is the balance of a credit type (CreditsCompanyEnrich, …). It panics
// on an unknown type, a programming error in a test.
func (a *API) Credits(typ string) Balance {
	p := a.pool(typ)
	p.mu.Lock()
	defer p.mu.Unlock()
	return Balance{Remaining: p.remaining, Used: p.used}
}

// SetCredits sets what remains of a credit type, as a purchase or a new billing
// period does.
func (a *API) SetCredits(typ string, remaining int) {
	p := a.pool(typ)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.remaining = max(0, remaining)
}

// ExhaustCredits spends what remains of a credit type: from then on its
// endpoint answers 402 until SetCredits.
func (a *API) ExhaustCredits(typ string) { a.SetCredits(typ, 0) }

func (a *API) pool(typ string) *pool {
	p, ok := a.credits[typ]
	if !ok {
		panic("peopledatalabs: unknown credit type " + strconv.Quote(typ))
	}
	return p
}

// Touch changes n company records, chosen deterministically from the seed and
// the calls before, as PDL's monthly data refresh does: a new headcount, or a
// new funding round. It returns their ids in search order.
func (a *API) Touch(n int) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.mutator
	chosen := fake.Sample(r, a.companies, n)
	slices.SortFunc(chosen, func(x, y *company) int { return x.ordinal - y.ordinal })
	ids := make([]string, len(chosen))
	for i, x := range chosen {
		if r.Chance(0.5) {
			e := max(1, employees(x)+r.IntN(41)-10)
			x.rec["employee_count"], x.rec["size"] = e, sizeOf(e)
		} else {
			rounds, _ := x.rec["number_funding_rounds"].(int)
			stages := append(slices.Clone(x.rec["funding_stages"].([]string)), FundingStages[min(rounds, len(FundingStages)-1)])
			raised, _ := x.rec["total_funding_raised"].(float64)
			x.rec["number_funding_rounds"], x.rec["funding_stages"] = rounds+1, stages
			x.rec["latest_funding_stage"] = stages[len(stages)-1]
			x.rec["total_funding_raised"] = raised + float64((1+r.Int64N(100))*500_000)
			x.rec["last_funding_date"] = a.opts.Now().UTC().Format("2006-01-02")
		}
		ids[i] = x.id
	}
	return ids
}
