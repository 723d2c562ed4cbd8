package googleanalytics

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Admin serves the imitation's admin endpoints for a running sandbox (the demo and
// the CLI drive it over HTTP; Go tests call the methods directly). Paths are
// relative to where it is mounted:
//
//	GET  /service-account                                       → the key file JSON (ServiceAccountJSON)
//	GET  /requests                                              → {"requests":N,"token_requests":M}
//	GET  /now                                                   → {"now":RFC 3339,"today":{property:day}}
//	POST /advance?by=24h                                        → {"now":...}   (Advance)
//	POST /late-hits?property=P&date=YYYY-MM-DD&n=3&dimensions=a,b → {"rows":[[...]]} (LateHits)
//	POST /exhaust-hourly                                        → 204           (ExhaustHourly)
//	POST /exhaust-daily                                         → 204           (ExhaustDaily)
//	POST /malform-day?property=P&date=YYYY-MM-DD                → 204           (MalformDay)
//	POST /clear-failures                                        → 204           (ClearFailures)
func (a *API) Admin() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /service-account", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(a.ServiceAccountJSON("http://" + r.Host + a.opts.Prefix + "/token"))
	})
	mux.HandleFunc("GET /requests", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]int{"requests": a.Requests(), "token_requests": a.TokenRequests()})
	})
	now := func(w http.ResponseWriter) {
		today := map[string]string{}
		for _, id := range a.order {
			today[id] = a.Today(id)
		}
		writeJSON(w, http.StatusOK, map[string]any{"now": a.Now().Format(time.RFC3339), "today": today})
	}
	mux.HandleFunc("GET /now", func(w http.ResponseWriter, r *http.Request) { now(w) })
	mux.HandleFunc("POST /advance", func(w http.ResponseWriter, r *http.Request) {
		d, err := time.ParseDuration(r.URL.Query().Get("by"))
		if err != nil {
			http.Error(w, "by must be a Go duration such as 24h", http.StatusBadRequest)
			return
		}
		a.Advance(d)
		now(w)
	})
	mux.HandleFunc("POST /late-hits", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		n, err := strconv.Atoi(q.Get("n"))
		if err != nil || n < 0 {
			http.Error(w, "n must be a non-negative integer", http.StatusBadRequest)
			return
		}
		var dims []string
		if d := q.Get("dimensions"); d != "" {
			dims = strings.Split(d, ",")
		}
		rows, err := a.LateHits(q.Get("property"), q.Get("date"), dims, n)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"rows": rows})
	})
	mux.HandleFunc("POST /exhaust-hourly", func(w http.ResponseWriter, r *http.Request) {
		a.ExhaustHourly()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /exhaust-daily", func(w http.ResponseWriter, r *http.Request) {
		a.ExhaustDaily()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /malform-day", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if _, ok := a.props[q.Get("property")]; !ok {
			http.Error(w, "property must be one of "+strings.Join(a.order, ", "), http.StatusBadRequest)
			return
		}
		if _, err := time.Parse(time.DateOnly, q.Get("date")); err != nil {
			http.Error(w, "date must be a day in the form YYYY-MM-DD", http.StatusBadRequest)
			return
		}
		a.MalformDay(q.Get("property"), q.Get("date"))
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /clear-failures", func(w http.ResponseWriter, r *http.Request) {
		a.ClearFailures()
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}
