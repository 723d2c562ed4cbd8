package jira

import (
	"net/http"
	"strconv"
)

// Admin serves the imitation's admin endpoints for a running sandbox (the demo and
// the CLI drive it over HTTP; Go tests call the methods directly). Paths are
// relative to where it is mounted:
//
//	POST     /transition?n=5                 → {"keys":[...],"changes":[...]}   (Transitions)
//	GET      /count                          → {"issues":N,"histories":M,"projects":[...]}
//	GET      /requests                       → {"requests":N}
//	GET      /timezone                       → {"timeZone":"America/New_York"}
//	PUT|POST /timezone?name=Asia/Kolkata     → {"timeZone":"Asia/Kolkata"}     (SetTimeZone)
func (a *API) Admin() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /transition", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.URL.Query().Get("n"))
		if err != nil || n < 0 {
			http.Error(w, "n must be a non-negative integer", http.StatusBadRequest)
			return
		}
		changes := a.Transitions(n)
		keys := []string{}
		for _, c := range changes {
			keys = append(keys, c.IssueKey)
		}
		if changes == nil {
			changes = []Change{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"keys": keys, "changes": changes})
	})
	mux.HandleFunc("GET /count", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"issues": a.Count(), "histories": a.Histories(), "projects": a.Projects()})
	})
	mux.HandleFunc("GET /requests", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]int{"requests": a.Requests()})
	})
	mux.HandleFunc("GET /timezone", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"timeZone": a.TimeZone().String()})
	})
	setTZ := func(w http.ResponseWriter, r *http.Request) {
		if err := a.SetTimeZone(r.URL.Query().Get("name")); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"timeZone": a.TimeZone().String()})
	}
	mux.HandleFunc("PUT /timezone", setTZ)
	mux.HandleFunc("POST /timezone", setTZ)
	return mux
}
