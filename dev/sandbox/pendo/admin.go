package pendo

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/meshflow/meshflow/dev/sandbox/internal/fake"
)

// Admin serves the imitation's admin endpoints for a running sandbox (the demo and
// the CLI drive it over HTTP; Go tests call the methods directly). Paths are
// relative to where it is mounted:
//
//	POST /touch-accounts?n=5                              → {"ids":[...]}   (TouchAccounts)
//	POST /touch-visitors?n=5                              → {"ids":[...]}   (TouchVisitors)
//	POST /add-events?source=pageEvents&day=2026-03-09&n=4 → {"rows":[...]}  (AddEvents; day in the subscription's zone)
//	GET  /count                                           → {"accounts":N,"visitors":N,"pages":N,"features":N}
//	GET  /matches                                         → [{"ID":...,"Company":...,"Variant":...}]  (Matches)
//	GET  /requests                                        → {"requests":N}
func (a *API) Admin() http.Handler {
	mux := http.NewServeMux()
	touch := func(f func(int) []string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if n, ok := adminN(w, r); ok {
				writeJSON(w, http.StatusOK, map[string]any{"ids": nonNil(f(n))})
			}
		}
	}
	mux.HandleFunc("POST /touch-accounts", touch(a.TouchAccounts))
	mux.HandleFunc("POST /touch-visitors", touch(a.TouchVisitors))
	mux.HandleFunc("POST /add-events", func(w http.ResponseWriter, r *http.Request) {
		n, ok := adminN(w, r)
		if !ok {
			return
		}
		source := r.URL.Query().Get("source")
		if source != PageEvents && source != FeatureEvents {
			http.Error(w, "source must be pageEvents or featureEvents", http.StatusBadRequest)
			return
		}
		day, err := time.ParseInLocation(time.DateOnly, r.URL.Query().Get("day"), a.tz)
		if err != nil {
			http.Error(w, "day must be YYYY-MM-DD", http.StatusBadRequest)
			return
		}
		rows := a.AddEvents(source, day, n)
		if rows == nil {
			rows = []json.RawMessage{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"rows": rows})
	})
	mux.HandleFunc("GET /count", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]int{
			"accounts": a.Count("accounts"), "visitors": a.Count("visitors"),
			"pages": a.Count("pages"), "features": a.Count("features"),
		})
	})
	mux.HandleFunc("GET /matches", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, a.Matches())
	})
	mux.HandleFunc("GET /requests", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]int{"requests": a.Requests()})
	})
	return mux
}

func adminN(w http.ResponseWriter, r *http.Request) (int, bool) {
	n, err := strconv.Atoi(r.URL.Query().Get("n"))
	if err != nil || n < 0 {
		http.Error(w, "n must be a non-negative integer", http.StatusBadRequest)
		return 0, false
	}
	return n, true
}

func nonNil(ids []string) []string {
	if ids == nil {
		return []string{}
	}
	return ids
}

// Count is the number of accounts, visitors, pages or features (0 for other names).
func (a *API) Count(what string) int {
	a.mu.RLock()
	defer a.mu.RUnlock()
	switch what {
	case "accounts":
		return len(a.data.accounts)
	case "visitors":
		return len(a.data.visitors)
	case "pages":
		return len(a.data.pages)
	case "features":
		return len(a.data.features)
	}
	return 0
}

// Matches is the ground truth of every account: the HubSpot company it derives
// from (canonical domain, "" for strangers) and how its metadata.agent.domain
// spells it.
func (a *API) Matches() []fake.Match {
	a.mu.RLock()
	defer a.mu.RUnlock()
	out := make([]fake.Match, len(a.data.accounts))
	for i, acct := range a.data.accounts {
		out[i] = fake.Match{ID: acct.id, Name: acct.name, Domain: acct.domain, Company: acct.company, Variant: acct.variant}
	}
	return out
}

// TouchAccounts changes the plan or MRR of n accounts, chosen deterministically
// from the seed and the calls before, and stamps metadata.auto.lastupdated with
// Now. It returns their ids in account order.
func (a *API) TouchAccounts(n int) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := ms(a.opts.Now())
	var ids []string
	for _, i := range a.pick(len(a.data.accounts), n) {
		acct := a.data.accounts[i]
		if a.mutator.Chance(0.5) {
			acct.plan = fake.Pick(a.mutator, Plans)
		} else {
			acct.paying, acct.mrr = true, acct.mrr+10+a.mutator.Int64N(500)
		}
		acct.updated = now
		ids = append(ids, acct.id)
	}
	return ids
}

// TouchVisitors changes the role of n visitors and stamps their lastupdated with
// Now. It returns their ids in visitor order.
func (a *API) TouchVisitors(n int) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := ms(a.opts.Now())
	var ids []string
	for _, i := range a.pick(len(a.data.visitors), n) {
		v := a.data.visitors[i]
		v.role = fake.Pick(a.mutator, []string{"admin", "analyst", "manager", "member", "viewer", "owner"})
		v.updated = now
		ids = append(ids, v.id)
	}
	return ids
}

// pick draws n distinct indexes below size, returned ascending.
func (a *API) pick(size, n int) []int {
	idx := make([]int, size)
	for i := range idx {
		idx[i] = i
	}
	chosen := fake.Sample(a.mutator, idx, n)
	slices.Sort(chosen)
	return chosen
}

// AddEvents records late events on the subscription-local day containing day, as
// Pendo does when events arrive hours late: it adds events to about half of n
// existing rows of source and creates the other rows for visitors and objects
// that had none. It returns the n changed rows as a dayRange query now answers
// them (nil for a day without events).
func (a *API) AddEvents(source string, day time.Time, n int) []json.RawMessage {
	if source != PageEvents && source != FeatureEvents {
		return nil
	}
	day = a.DayStart(day)
	a.mu.Lock()
	defer a.mu.Unlock()
	rows := a.dayRows(source, day)
	if len(rows) == 0 || n <= 0 {
		return nil
	}
	key := dayKey{source, ms(day)}
	ov := a.extra[key]
	if ov == nil {
		ov = &overlay{bump: map[int]int{}}
		a.extra[key] = ov
	}
	generated := len(rows) - len(ov.add)
	objs := a.data.pages
	if source == FeatureEvents {
		objs = a.data.features
	}
	r := a.mutator
	var changed []eventRow
	bumped := map[int]bool{}
	for i := range n {
		if i%2 == 0 && len(bumped) < generated {
			j := r.IntN(generated)
			for bumped[j] {
				j = r.IntN(generated)
			}
			bumped[j] = true
			extra := 1 + r.IntN(5)
			ov.bump[j] += extra
			e := rows[j]
			e.events += extra
			e.minutes++
			changed = append(changed, e)
			continue
		}
		for {
			e := eventRow{
				v: a.data.visitors[r.IntN(len(a.data.visitors))], obj: objs[r.IntN(len(objs))].id,
				server: Servers[0], events: 1 + r.IntN(5), minutes: 1, hour: 7 + r.IntN(12),
			}
			e.ip = e.v.ip
			if !slices.ContainsFunc(rows, e.sameKey) {
				ov.add = append(ov.add, e)
				rows = append(rows, e)
				changed = append(changed, e)
				break
			}
		}
	}
	out := make([]json.RawMessage, len(changed))
	for i, e := range changed {
		out[i], _ = json.Marshal(e.wire(source, "day", ms(day))) // plain values: cannot fail
	}
	return out
}

// Events returns the rows of source on the subscription-local day containing day,
// as a dayRange query answers them.
func (a *API) Events(source string, day time.Time) []json.RawMessage {
	day = a.DayStart(day)
	a.mu.RLock()
	defer a.mu.RUnlock()
	var out []json.RawMessage
	for _, e := range a.dayRows(source, day) {
		b, _ := json.Marshal(e.wire(source, "day", ms(day)))
		out = append(out, b)
	}
	return out
}
