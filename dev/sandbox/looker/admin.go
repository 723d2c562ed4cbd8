package looker

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Admin serves the imitation's admin endpoints for a running sandbox (the demo and
// the CLI drive it over HTTP; Go tests call the methods directly). Paths are
// relative to where it is mounted:
//
//	POST /expire-tokens      → 204 (ExpireTokens: every access token answers 401 from now on)
//	POST /add-views?n=5      → {"views":[{"date":…,"dashboard_id":…,"user_id":…,"email":…,"history_ids":[…]}]} (AddViews)
//	POST /add-queries?n=5    → {"history_ids":[…]} (AddQueries: n explore queries run now)
//	POST /fail-queries?n=1   → 204 (FailQueries: the next n queries answer a looker_error row)
//	GET  /views              → [{"date":…,"dashboard_id":…,"user_id":…,"email":…,"views":N}] (Views)
//	GET  /dashboard-tables   → [{"dashboard_id":…,"title":…,"deleted":false,"explores":[…],"tables":[…]}] (DashboardTables)
//	GET  /users              → [{"id":…,"name":…,"email":…,"canonical_email":…,"origin":…,"disabled":false}] (Users)
//	GET  /count              → {"users":N,"dashboards":N,"deleted_dashboards":N,"looks":N,"history":N}
//	GET  /requests           → {"requests":N,"logins":M}
func (a *API) Admin() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /expire-tokens", func(w http.ResponseWriter, r *http.Request) {
		a.ExpireTokens()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /add-views", func(w http.ResponseWriter, r *http.Request) {
		if n, ok := adminN(w, r); ok {
			writeJSON(w, http.StatusOK, map[string]any{"views": a.AddViews(n)})
		}
	})
	mux.HandleFunc("POST /add-queries", func(w http.ResponseWriter, r *http.Request) {
		if n, ok := adminN(w, r); ok {
			writeJSON(w, http.StatusOK, map[string]any{"history_ids": a.AddQueries(n)})
		}
	})
	mux.HandleFunc("POST /fail-queries", func(w http.ResponseWriter, r *http.Request) {
		if n, ok := adminN(w, r); ok {
			a.FailQueries(n)
			w.WriteHeader(http.StatusNoContent)
		}
	})
	mux.HandleFunc("GET /views", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, a.Views()) })
	mux.HandleFunc("GET /dashboard-tables", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, a.DashboardTables()) })
	mux.HandleFunc("GET /users", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, a.Users()) })
	mux.HandleFunc("GET /count", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, a.Count()) })
	mux.HandleFunc("GET /requests", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]int{"requests": a.Requests(), "logins": a.Logins()})
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

// View is the ground truth of one user's views of one dashboard on one (UTC) day:
// distinct dashboard sessions, what history.dashboard_run_count counts.
type View struct {
	Date        string `json:"date"`
	DashboardID string `json:"dashboard_id"`
	UserID      string `json:"user_id"`
	Email       string `json:"email"` // canonical: lower case
	Views       int    `json:"views"`
}

// Views is every user's views of every dashboard per day, by date, dashboard id
// (as a number) and user id. Scheduled deliveries are not views.
func (a *API) Views() []View {
	a.mu.RLock()
	defer a.mu.RUnlock()
	byID := map[int64]*person{}
	for _, p := range a.data.people {
		byID[p.id] = p
	}
	out := make([]View, 0, len(a.data.views))
	for k, n := range a.data.views {
		out = append(out, View{Date: k.day, DashboardID: k.dashboard, UserID: strconv.FormatInt(k.user, 10), Email: byID[k.user].canonical, Views: n})
	}
	slices.SortFunc(out, func(x, y View) int {
		if c := strings.Compare(x.Date, y.Date); c != 0 {
			return c
		}
		if c := compareIDs(x.DashboardID, y.DashboardID); c != 0 {
			return c
		}
		return compareIDs(x.UserID, y.UserID)
	})
	return out
}

func compareIDs(x, y string) int {
	if len(x) != len(y) {
		return len(x) - len(y)
	}
	return strings.Compare(x, y)
}

// DashboardSource is the ground truth of what a dashboard reads: the explores of
// its tiles' queries (System Activity's query.model and query.view) and every
// table their SQL reads, joined views' included.
type DashboardSource struct {
	DashboardID string    `json:"dashboard_id"`
	Title       string    `json:"title"`
	Deleted     bool      `json:"deleted"`
	Tiles       int       `json:"tiles"` // text tiles included
	Explores    []Explore `json:"explores"`
	Tables      []string  `json:"tables"` // sorted
}

// DashboardTables is every dashboard's sources, deleted ones included, by id.
func (a *API) DashboardTables() []DashboardSource {
	a.mu.RLock()
	defer a.mu.RUnlock()
	out := []DashboardSource{}
	for _, d := range a.data.dashboards {
		s := DashboardSource{DashboardID: d.id, Title: d.title, Deleted: !d.deleted.IsZero(), Tiles: len(d.elements), Explores: []Explore{}, Tables: []string{}}
		for _, el := range d.elements {
			if el.query == nil {
				continue
			}
			if !slices.Contains(s.Explores, el.query.explore.Explore) {
				s.Explores = append(s.Explores, el.query.explore.Explore)
			}
			for _, t := range el.query.tables {
				if !slices.Contains(s.Tables, t) {
					s.Tables = append(s.Tables, t)
				}
			}
		}
		slices.Sort(s.Tables)
		out = append(out, s)
	}
	return out
}

// User is the ground truth of a Looker user.
type User struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	Email          string `json:"email"`           // as Looker serves it
	CanonicalEmail string `json:"canonical_email"` // trimmed and lower-cased: what person_gid hashes
	// Origin is where the person comes from: "jira", a GitHub team ("web",
	// "platform", "data"), both ("jira+web"), "staff" (business staff only Looker
	// knows) or "service" (the API key's account).
	Origin   string `json:"origin"`
	Disabled bool   `json:"disabled"`
}

// Users is every user, by id.
func (a *API) Users() []User {
	a.mu.RLock()
	defer a.mu.RUnlock()
	out := make([]User, len(a.data.people))
	for i, p := range a.data.people {
		out[i] = User{ID: strconv.FormatInt(p.id, 10), Name: p.name(), Email: p.email, CanonicalEmail: p.canonical, Origin: p.origin, Disabled: !p.disabled.IsZero()}
	}
	return out
}

// Counts are the sizes of the instance.
type Counts struct {
	Users             int `json:"users"`
	Dashboards        int `json:"dashboards"` // live: what GET /dashboards lists
	DeletedDashboards int `json:"deleted_dashboards"`
	Looks             int `json:"looks"` // live: what GET /looks lists
	History           int `json:"history"`
}

// Count is the size of the instance.
func (a *API) Count() Counts {
	a.mu.RLock()
	defer a.mu.RUnlock()
	c := Counts{Users: len(a.data.people), History: len(a.data.runs)}
	for _, d := range a.data.dashboards {
		if d.deleted.IsZero() {
			c.Dashboards++
		} else {
			c.DeletedDashboards++
		}
	}
	for _, lk := range a.data.looks {
		if lk.deleted.IsZero() {
			c.Looks++
		}
	}
	return c
}

// FailQueries makes the next n queries answer a looker_error row, as a System
// Activity query that times out does.
func (a *API) FailQueries(n int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.failQueries = n
}

// AddQueries makes n ad-hoc explore queries run now (Now, to the second), by users
// who use Looker, one history row each with ids after every existing one. It
// returns their history ids.
func (a *API) AddQueries(n int) []int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	in, r := a.data, a.mutator
	now := a.opts.Now().UTC().Truncate(time.Second)
	users := in.activeAt(now)
	ids := []int64{}
	for i := 0; i < n && len(users) > 0; i++ {
		x := in.exploreRun(r, users[r.IntN(len(users))], now)
		x.created, x.id = now, in.nextRun
		in.nextRun++
		in.runs = append(in.runs, x)
		ids = append(ids, x.id)
	}
	return ids
}

func (in *instance) activeAt(t time.Time) []*person {
	var users []*person
	for _, p := range in.people {
		if p.activeAt(t) {
			users = append(users, p)
		}
	}
	return users
}

// AddedView is a view AddViews made: its history rows' ids.
type AddedView struct {
	View
	HistoryIDs []int64 `json:"history_ids"`
}

// AddViews makes n dashboard views happen now (Now, to the second): users who use
// Looker open dashboards they like, chosen from the seed and the calls before,
// each view adding a history row per query tile with ids after every existing
// one. It returns the views.
func (a *API) AddViews(n int) []AddedView {
	a.mu.Lock()
	defer a.mu.Unlock()
	in, r := a.data, a.mutator
	now := a.opts.Now().UTC().Truncate(time.Second)
	users := in.activeAt(now)
	out := []AddedView{}
	if len(users) == 0 {
		return out
	}
	for tries := 0; len(out) < n && tries < 100*(n+1); tries++ {
		p := users[r.IntN(len(users))]
		d := in.pickDashboard(r, p, now)
		if d == nil {
			continue
		}
		runs := in.view(r, p, d, now)
		v := AddedView{View: View{Date: now.Format(time.DateOnly), DashboardID: d.id, UserID: strconv.FormatInt(p.id, 10), Email: p.canonical, Views: 1}}
		for _, x := range runs {
			x.created = now
			x.id = in.nextRun
			in.nextRun++
			v.HistoryIDs = append(v.HistoryIDs, x.id)
		}
		in.runs = append(in.runs, runs...)
		out = append(out, v)
	}
	return out
}
