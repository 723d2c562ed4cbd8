package hubspot

import (
	"net/http"
	"slices"
	"strconv"
)

// Admin serves the imitation's admin endpoints for a running sandbox (the demo and
// the CLI drive it over HTTP; Go tests call the methods directly). Paths are
// relative to where it is mounted:
//
//	POST /touch?object=contacts&n=5    → {"ids":[...]}   (Touch)
//	POST /archive?object=contacts&n=5  → {"ids":[...]}   (Archive)
//	GET  /count?object=contacts        → {"object":..., "live":N, "archived":M}
//	GET  /requests                     → {"requests":N}
//	POST /exhaust-daily                → 204             (ExhaustDaily)
func (a *API) Admin() http.Handler {
	mux := http.NewServeMux()
	mutate := func(f func(string, int) []string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			object, ok := adminObject(w, r)
			if !ok {
				return
			}
			n, err := strconv.Atoi(r.URL.Query().Get("n"))
			if err != nil || n < 0 {
				http.Error(w, "n must be a non-negative integer", http.StatusBadRequest)
				return
			}
			writeJSON(w, http.StatusOK, map[string]any{"ids": nonNil(f(object, n))})
		}
	}
	mux.HandleFunc("POST /touch", mutate(a.Touch))
	mux.HandleFunc("POST /archive", mutate(a.Archive))
	mux.HandleFunc("GET /count", func(w http.ResponseWriter, r *http.Request) {
		if object, ok := adminObject(w, r); ok {
			writeJSON(w, http.StatusOK, map[string]any{"object": object, "live": a.Count(object), "archived": a.Archived(object)})
		}
	})
	mux.HandleFunc("GET /requests", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]int{"requests": a.Requests()})
	})
	mux.HandleFunc("POST /exhaust-daily", func(w http.ResponseWriter, r *http.Request) {
		a.ExhaustDaily()
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

func adminObject(w http.ResponseWriter, r *http.Request) (string, bool) {
	object := r.URL.Query().Get("object")
	if !slices.Contains(Objects, object) {
		http.Error(w, "object must be one of contacts, companies, deals", http.StatusBadRequest)
		return "", false
	}
	return object, true
}

func nonNil(ids []string) []string {
	if ids == nil {
		return []string{}
	}
	return ids
}
