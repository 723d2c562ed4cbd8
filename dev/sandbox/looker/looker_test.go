package looker

import (
	"bytes"
	"cmp"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshflow/meshflow/dev/sandbox/github"
	"github.com/meshflow/meshflow/dev/sandbox/jira"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// t0 is a Monday afternoon.
var t0 = time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)

func newTestAPI(t *testing.T, o Options) (*API, *httptest.Server, *clock) {
	t.Helper()
	c := &clock{t: t0}
	if o.Now == nil {
		o.Now = c.Now
	}
	a := New(o)
	ts := httptest.NewServer(a)
	t.Cleanup(ts.Close)
	return a, ts, c
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("decoding %d %s: %v", a.status, a.body, err)
	}
}

func do(t *testing.T, req *http.Request) answer {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, b}
}

func loginAnswer(t *testing.T, ts *httptest.Server, form url.Values) answer {
	t.Helper()
	req, _ := http.NewRequest("POST", ts.URL+"/api/4.0/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return do(t, req)
}

func login(t *testing.T, ts *httptest.Server) string {
	t.Helper()
	ans := loginAnswer(t, ts, url.Values{"client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret}})
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	ans.decode(t, &tok)
	if ans.status != http.StatusOK || tok.AccessToken == "" {
		t.Fatalf("login: %d %s", ans.status, ans.body)
	}
	return tok.AccessToken
}

func get(t *testing.T, ts *httptest.Server, auth, path string) answer {
	t.Helper()
	req, _ := http.NewRequest("GET", ts.URL+path, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	return do(t, req)
}

func runQuery(t *testing.T, ts *httptest.Server, tok string, body any) answer {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", ts.URL+"/api/4.0/queries/run/json", bytes.NewReader(b))
	req.Header.Set("Authorization", "token "+tok)
	req.Header.Set("Content-Type", "application/json")
	return do(t, req)
}

// rows runs a query that must succeed and returns its rows.
func rows(t *testing.T, ts *httptest.Server, tok string, body any) []map[string]any {
	t.Helper()
	ans := runQuery(t, ts, tok, body)
	var out []map[string]any
	ans.decode(t, &out)
	if ans.status != http.StatusOK || (len(out) == 1 && out[0]["looker_error"] != nil) {
		t.Fatalf("query %v: %d %s", body, ans.status, ans.body)
	}
	return out
}

func TestLoginGivesATokenThatExpiresAfterAnHour(t *testing.T) {
	a, ts, c := newTestAPI(t, Options{})
	ans := loginAnswer(t, ts, url.Values{"client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret}})
	var tok map[string]any
	ans.decode(t, &tok)
	if ans.status != http.StatusOK || tok["token_type"] != "Bearer" || tok["expires_in"] != 3600.0 || tok["refresh_token"] != nil {
		t.Fatalf("login = %d %s", ans.status, ans.body)
	}
	access := tok["access_token"].(string)
	if !regexp.MustCompile(`^[A-Za-z0-9]{40}$`).MatchString(access) {
		t.Errorf("access token %q is not 40 alphanumerics", access)
	}
	for _, auth := range []string{"token " + access, "Bearer " + access, "bearer " + access} {
		if ans := get(t, ts, auth, "/api/4.0/dashboards"); ans.status != http.StatusOK {
			t.Errorf("Authorization %q: %d %s", auth[:6], ans.status, ans.body)
		}
	}
	c.Advance(59*time.Minute + 59*time.Second)
	if ans := get(t, ts, "token "+access, "/api/4.0/users"); ans.status != http.StatusOK {
		t.Fatalf("a second before expiry: %d", ans.status)
	}
	c.Advance(time.Second)
	ans = get(t, ts, "token "+access, "/api/4.0/users")
	want := `{"message":"Requires authentication.","documentation_url":"https://cloud.google.com/looker/docs/r/err/4.0/401/get/users"}`
	if ans.status != http.StatusUnauthorized || string(ans.body) != want || ans.header.Get("Content-Type") != "application/json;charset=utf-8" {
		t.Errorf("expired token: %d %s %s, want 401 %s", ans.status, ans.header.Get("Content-Type"), ans.body, want)
	}
	if a.Logins() != 1 {
		t.Errorf("Logins = %d", a.Logins())
	}
}

func TestExpireTokensAndLogoutEndTokens(t *testing.T) {
	a, ts, _ := newTestAPI(t, Options{})
	first := login(t, ts)
	a.ExpireTokens()
	if ans := get(t, ts, "token "+first, "/api/4.0/looks"); ans.status != http.StatusUnauthorized {
		t.Errorf("after ExpireTokens: %d", ans.status)
	}
	second := login(t, ts)
	if second == first {
		t.Error("a new login gave the same token")
	}
	if ans := get(t, ts, "token "+second, "/api/4.0/looks"); ans.status != http.StatusOK {
		t.Fatalf("a token from after ExpireTokens: %d", ans.status)
	}
	req, _ := http.NewRequest("DELETE", ts.URL+"/api/4.0/logout", nil)
	req.Header.Set("Authorization", "token "+second)
	if ans := do(t, req); ans.status != http.StatusNoContent {
		t.Fatalf("logout: %d %s", ans.status, ans.body)
	}
	if ans := get(t, ts, "token "+second, "/api/4.0/looks"); ans.status != http.StatusUnauthorized {
		t.Errorf("after logout: %d", ans.status)
	}
	for _, auth := range []string{"", "token", "Basic " + second, "token nope"} {
		if ans := get(t, ts, auth, "/api/4.0/looks"); ans.status != http.StatusUnauthorized {
			t.Errorf("Authorization %q: %d", auth, ans.status)
		}
	}
}

func TestLoginAnswersAWrongKeyWithNotFound(t *testing.T) {
	_, ts, _ := newTestAPI(t, Options{})
	for _, form := range []url.Values{
		{"client_id": {DefaultClientID}, "client_secret": {"wrong"}},
		{"client_id": {DefaultClientID}},
		{},
	} {
		ans := loginAnswer(t, ts, form)
		if ans.status != http.StatusNotFound || !strings.HasPrefix(string(ans.body), `{"message":"Not found","documentation_url":`) {
			t.Errorf("login %v = %d %s", form, ans.status, ans.body)
		}
	}
	// Credentials in the query string still work, until Looker drops them.
	req, _ := http.NewRequest("POST", ts.URL+"/api/4.0/login?client_id="+DefaultClientID+"&client_secret="+DefaultClientSecret, nil)
	if ans := do(t, req); ans.status != http.StatusOK {
		t.Errorf("query-string login: %d %s", ans.status, ans.body)
	}
	// The Go SDK logs in through golang.org/x/oauth2, which adds grant_type.
	ans := loginAnswer(t, ts, url.Values{"grant_type": {"client_credentials"}, "client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret}})
	if ans.status != http.StatusOK {
		t.Errorf("login with grant_type: %d %s", ans.status, ans.body)
	}
}

func TestDashboardsAndLooksListLiveContentOnly(t *testing.T) {
	a, ts, _ := newTestAPI(t, Options{})
	tok := "token " + login(t, ts)
	var dashboards []map[string]any
	get(t, ts, tok, "/api/4.0/dashboards").decode(t, &dashboards)
	c := a.Count()
	if len(dashboards) != c.Dashboards || c.DeletedDashboards == 0 {
		t.Fatalf("%d dashboards listed; counts %+v", len(dashboards), c)
	}
	deleted := map[string]bool{}
	for _, s := range a.DashboardTables() {
		deleted[s.DashboardID] = s.Deleted
	}
	for _, d := range dashboards {
		id, ok := d["id"].(string)
		if !ok || deleted[id] || d["title"] == "" || d["user_id"] == nil {
			t.Errorf("dashboard %v: ids are strings and deleted dashboards are left out", d)
		}
	}
	// fields trims the objects, nested ones too; limit is not a parameter of all_dashboards.
	var trimmed []map[string]any
	get(t, ts, tok, "/api/4.0/dashboards?fields=id,title,folder(name)&limit=2").decode(t, &trimmed)
	if len(trimmed) != len(dashboards) {
		t.Errorf("limit paged all_dashboards: %d of %d", len(trimmed), len(dashboards))
	}
	for _, d := range trimmed {
		folder, _ := d["folder"].(map[string]any)
		if len(d) != 3 || len(folder) != 1 || folder["name"] == "" {
			t.Fatalf("fields=id,title,folder(name) gave %v", d)
		}
	}
	if ans := get(t, ts, tok, "/api/4.0/dashboards?fields=id,(title"); ans.status != http.StatusBadRequest {
		t.Errorf("bad fields: %d", ans.status)
	}

	var looks []map[string]any
	get(t, ts, tok, "/api/4.0/looks?fields=id,title,model,query_id,deleted").decode(t, &looks)
	if len(looks) != c.Looks || c.Looks == 0 {
		t.Fatalf("%d looks, counts %+v", len(looks), c)
	}
	for _, lk := range looks {
		model, _ := lk["model"].(map[string]any)
		if _, ok := lk["query_id"].(string); !ok || lk["deleted"] != false || model["id"] == "" {
			t.Errorf("look %v", lk)
		}
	}
}

func TestUsersPageWithLimitAndOffset(t *testing.T) {
	a, ts, _ := newTestAPI(t, Options{})
	tok := "token " + login(t, ts)
	total := a.Count().Users
	var seen []string
	next := "/api/4.0/users?fields=id,email&limit=10"
	pages := 0
	for next != "" {
		ans := get(t, ts, tok, next)
		var page []map[string]any
		ans.decode(t, &page)
		if ans.header.Get("X-Total-Count") != strconv.Itoa(total) || !strings.Contains(ans.header.Get("Link"), `rel="first"`) || !strings.Contains(ans.header.Get("Link"), `rel="last"`) {
			t.Fatalf("page %d headers: %v", pages, ans.header)
		}
		for _, u := range page {
			seen = append(seen, u["id"].(string))
		}
		next = ""
		if m := regexp.MustCompile(`<([^>]+)>; rel="next"`).FindStringSubmatch(ans.header.Get("Link")); m != nil {
			next = strings.TrimPrefix(m[1], ts.URL)
		}
		if pages++; pages > total {
			t.Fatal("next links never end")
		}
	}
	if len(seen) != total || pages != (total+9)/10 {
		t.Fatalf("%d users over %d pages, want %d", len(seen), pages, total)
	}
	if !slices.IsSortedFunc(seen, compareIDs) {
		t.Errorf("users are not in id order: %v", seen)
	}

	// The deprecated page/per_page still page, and limit/offset win over them.
	var p2, lim []map[string]any
	ans := get(t, ts, tok, "/api/4.0/users?fields=id&page=2&per_page=5")
	ans.decode(t, &p2)
	if len(p2) != 5 || p2[0]["id"] != seen[5] || !strings.Contains(ans.header.Get("Link"), "offset=10") {
		t.Errorf("page=2&per_page=5 gave %v, links %s", p2, ans.header.Get("Link"))
	}
	get(t, ts, tok, "/api/4.0/users?fields=id&page=2&per_page=5&limit=3&offset=1").decode(t, &lim)
	if len(lim) != 3 || lim[0]["id"] != seen[1] {
		t.Errorf("limit/offset over page/per_page gave %v", lim)
	}
	// Without a limit there is no paging and no Link.
	ans = get(t, ts, tok, "/api/4.0/users?fields=id")
	var all []map[string]any
	ans.decode(t, &all)
	if len(all) != total || ans.header.Get("Link") != "" {
		t.Errorf("unpaged: %d users, Link %q", len(all), ans.header.Get("Link"))
	}
	// ids narrows, sorts orders.
	var some []map[string]any
	get(t, ts, tok, "/api/4.0/users?fields=id,last_name&ids=3,1,2&sorts=id+desc").decode(t, &some)
	if len(some) != 3 || some[0]["id"] != "3" || some[2]["id"] != "1" {
		t.Errorf("ids=3,1,2&sorts=id desc gave %v", some)
	}
	for _, bad := range []string{"limit=0", "limit=x", "offset=-1&limit=5", "sorts=shoe_size"} {
		if ans := get(t, ts, tok, "/api/4.0/users?"+bad); ans.status != http.StatusBadRequest || !strings.Contains(string(ans.body), `"documentation_url"`) {
			t.Errorf("%s: %d %s", bad, ans.status, ans.body)
		}
	}
}

func TestUsersAreTheStaffJiraAndGitHubHold(t *testing.T) {
	a, ts, _ := newTestAPI(t, Options{Seed: 7})
	tok := "token " + login(t, ts)
	var served []map[string]any
	get(t, ts, tok, "/api/4.0/users?fields=id,email,is_disabled,credentials_email,credentials_saml").decode(t, &served)
	truth := a.Users()
	if len(served) != len(truth) {
		t.Fatalf("%d users served, %d in truth", len(served), len(truth))
	}
	canonical := map[string]bool{}
	var mixedCase, disabled, sso int
	for i, u := range truth {
		if served[i]["email"] != u.Email || served[i]["is_disabled"] != u.Disabled {
			t.Errorf("user %s served as %v", u.ID, served[i])
		}
		if u.CanonicalEmail != strings.ToLower(u.Email) {
			t.Errorf("user %s: canonical %q of %q", u.ID, u.CanonicalEmail, u.Email)
		}
		if u.Email != u.CanonicalEmail {
			mixedCase++
		}
		if served[i]["credentials_saml"] != nil {
			sso++
		}
		if u.Disabled {
			disabled++
		}
		canonical[u.CanonicalEmail] = true
	}
	for _, p := range append(jira.People(7), github.Members(7)...) {
		if !canonical[p.Email] {
			t.Errorf("%s (%s) is not a Looker user", p.Email, p.Team)
		}
	}
	if mixedCase == 0 || mixedCase != sso || disabled != 2 {
		t.Errorf("%d mixed-case addresses, %d single-sign-on users, %d disabled; want some, as many, and 2", mixedCase, sso, disabled)
	}
}

// The query that gives dashboard_usage_daily: views per day, dashboard and user.
var viewsQuery = map[string]any{
	"model":  "system__activity",
	"view":   "history",
	"fields": []string{"history.created_date", "dashboard.id", "user.id", "user.email", "history.dashboard_run_count"},
	"filters": map[string]string{
		"history.created_date":      "2026-08-01 to 2026-11-24",
		"history.dashboard_session": "-NULL",
	},
	"sorts": []string{"history.created_date", "dashboard.id", "user.id"},
	"limit": "-1",
}

func TestHistoryCountsViewsPerDashboardUserAndDay(t *testing.T) {
	a, ts, _ := newTestAPI(t, Options{})
	tok := login(t, ts)
	got := rows(t, ts, tok, viewsQuery)
	want := a.Views()
	if len(want) < 1000 {
		t.Fatalf("only %d user-dashboard-days of views", len(want))
	}
	if len(got) != len(want) {
		t.Fatalf("%d rows, %d in truth", len(got), len(want))
	}
	served := map[View]bool{}
	for _, g := range got {
		served[View{Date: g["history.created_date"].(string), DashboardID: g["dashboard.id"].(string),
			UserID: strconv.FormatFloat(g["user.id"].(float64), 'f', 0, 64), Email: strings.ToLower(g["user.email"].(string)),
			Views: int(g["history.dashboard_run_count"].(float64))}] = true
	}
	for _, w := range want {
		if !served[w] {
			t.Fatalf("no row %+v", w)
		}
	}
	// dashboard.id is a string in System Activity: it sorts as one ("10" before "2").
	if !slices.IsSortedFunc(got, func(x, y map[string]any) int {
		return cmp.Or(strings.Compare(x["history.created_date"].(string), y["history.created_date"].(string)),
			strings.Compare(x["dashboard.id"].(string), y["dashboard.id"].(string)),
			cmp.Compare(x["user.id"].(float64), y["user.id"].(float64)))
	}) {
		t.Error("rows are not sorted by date, dashboard id (a string) and user id")
	}
	// Scheduled deliveries run the tiles of a dashboard but are no views: counting
	// history rows by dashboard overcounts.
	sched := rows(t, ts, tok, map[string]any{"model": "system__activity", "view": "history",
		"fields": []string{"history.source", "history.count", "history.dashboard_run_count"}, "filters": map[string]string{"history.dashboard_id": "-NULL"}})
	bySource := map[string]map[string]any{}
	for _, r := range sched {
		bySource[r["history.source"].(string)] = r
	}
	if s := bySource["scheduled_task"]; s == nil || s["history.count"].(float64) == 0 || s["history.dashboard_run_count"] != 0.0 {
		t.Errorf("scheduled runs: %v", s)
	}
	if d := bySource["dashboard"]; d == nil || d["history.count"].(float64) <= d["history.dashboard_run_count"].(float64) {
		t.Errorf("dashboard runs: %v (a view runs several tiles)", d)
	}
}

func TestWeekendsAreQuietAndTheDeletedDashboardStopsGettingViews(t *testing.T) {
	a, _, _ := newTestAPI(t, Options{})
	perDay := map[string]int{}
	var deletedLast string
	for _, v := range a.Views() {
		perDay[v.Date] += v.Views
		if v.DashboardID == "16" && v.Date > deletedLast { // Legacy Funnel, deleted 30 days ago
			deletedLast = v.Date
		}
	}
	weekday, weekend := 0, 0
	for d, n := range perDay {
		switch day, _ := time.Parse(time.DateOnly, d); day.Weekday() {
		case time.Saturday, time.Sunday:
			weekend += n
		default:
			weekday += n
		}
	}
	if weekend*10 > weekday {
		t.Errorf("%d weekend views against %d on working days", weekend, weekday)
	}
	if deletedLast == "" || deletedLast >= t0.AddDate(0, 0, -30).Format(time.DateOnly) {
		t.Errorf("the deleted dashboard was last viewed %q", deletedLast)
	}
}

func TestDashboardExploreAndSQLShowWhichTablesFeedEachDashboard(t *testing.T) {
	a, ts, _ := newTestAPI(t, Options{})
	tok := login(t, ts)
	got := rows(t, ts, tok, map[string]any{"model": "system__activity", "view": "dashboard",
		"fields":  []string{"dashboard.id", "dashboard.title", "query.model", "query.view", "dashboard_element.count"},
		"filters": map[string]string{"query.id": "NOT NULL"}, "limit": "-1"})
	explores := map[string][]Explore{}
	for _, r := range got {
		id := r["dashboard.id"].(string)
		explores[id] = append(explores[id], Explore{r["query.model"].(string), r["query.view"].(string)})
	}
	var joinedSomewhere bool
	for _, s := range a.DashboardTables() {
		g := explores[s.DashboardID]
		slices.SortFunc(g, func(x, y Explore) int { return strings.Compare(x.Table(), y.Table()) })
		w := slices.Clone(s.Explores)
		slices.SortFunc(w, func(x, y Explore) int { return strings.Compare(x.Table(), y.Table()) })
		if !slices.Equal(g, w) {
			t.Errorf("dashboard %s %q: explores %v, want %v", s.DashboardID, s.Title, g, w)
		}
		joinedSomewhere = joinedSomewhere || len(s.Tables) > len(s.Explores)
	}
	if !joinedSomewhere {
		t.Error("no dashboard reads a joined view's table: query.view alone would do")
	}
	// The history's SQL names every table a tile reads, joined ones included.
	sqls := rows(t, ts, tok, map[string]any{"model": "system__activity", "view": "history",
		"fields": []string{"dashboard.id", "sql_text.text"}, "filters": map[string]string{"dashboard.id": "4"}, "limit": "-1"})
	tables := regexp.MustCompile(`(?:FROM|JOIN) ([a-z_]+\.[a-z_0-9]+) AS`)
	var found []string
	for _, r := range sqls {
		for _, m := range tables.FindAllStringSubmatch(r["sql_text.text"].(string), -1) {
			if !slices.Contains(found, m[1]) {
				found = append(found, m[1])
			}
		}
	}
	slices.Sort(found)
	if want := a.DashboardTables()[3].Tables; !slices.Equal(found, want) {
		t.Errorf("dashboard 4's SQL reads %v, want %v", found, want)
	}
}

func TestQueryLimitDefaultsTo5000AndMinusOneIsAll(t *testing.T) {
	a, ts, _ := newTestAPI(t, Options{})
	tok := login(t, ts)
	q := map[string]any{"model": "system__activity", "view": "history", "fields": []string{"history.id", "history.created_time"}}
	if got := rows(t, ts, tok, q); len(got) != 5000 {
		t.Errorf("no limit: %d rows", len(got))
	}
	q["limit"] = "-1"
	all := rows(t, ts, tok, q)
	if len(all) != a.Count().History {
		t.Errorf("limit -1: %d rows of %d", len(all), a.Count().History)
	}
	// The default sort is the first time dimension, newest first.
	if !slices.IsSortedFunc(all, func(x, y map[string]any) int {
		return strings.Compare(y["history.created_time"].(string), x["history.created_time"].(string))
	}) {
		t.Error("not sorted by created_time descending")
	}
	q["limit"] = 7 // a number where Looker's Query has a string
	if got := rows(t, ts, tok, q); len(got) != 7 {
		t.Errorf("limit 7: %d rows", len(got))
	}
	req, _ := http.NewRequest("POST", ts.URL+"/api/4.0/queries/run/json?limit=3", bytes.NewReader([]byte(`{"model":"system__activity","view":"history","fields":["history.id"],"limit":"500"}`)))
	req.Header.Set("Authorization", "token "+tok)
	var three []map[string]any
	do(t, req).decode(t, &three)
	if len(three) != 3 {
		t.Errorf("the limit parameter over the body's: %d rows", len(three))
	}
	q["limit"] = "lots"
	if ans := runQuery(t, ts, tok, q); ans.status != http.StatusBadRequest {
		t.Errorf("limit lots: %d %s", ans.status, ans.body)
	}
}

// A client pages the whole history by id: filter past the last id seen, sort by
// id, take a limit's worth; the last page is short.
func TestHistoryPagesByIDKeyset(t *testing.T) {
	a, ts, _ := newTestAPI(t, Options{})
	tok := login(t, ts)
	var ids []float64
	last := 0.0
	for pages := 0; ; pages++ {
		page := rows(t, ts, tok, map[string]any{"model": "system__activity", "view": "history",
			"fields":  []string{"history.id", "history.created_time", "user.email"},
			"filters": map[string]string{"history.id": ">" + strconv.FormatFloat(last, 'f', 0, 64)},
			"sorts":   []string{"history.id"}, "limit": "4000"})
		for _, r := range page {
			ids = append(ids, r["history.id"].(float64))
		}
		if len(page) < 4000 {
			break
		}
		last = ids[len(ids)-1]
		if pages > 20 {
			t.Fatal("paging never ends")
		}
	}
	if len(ids) != a.Count().History || !slices.IsSorted(ids) || slices.Compact(slices.Clone(ids)) == nil || len(slices.Compact(slices.Clone(ids))) != len(ids) {
		t.Errorf("%d ids paged of %d, sorted %v", len(ids), a.Count().History, slices.IsSorted(ids))
	}
}

func TestQueriesLookerCannotRunAnswerALookerErrorRow(t *testing.T) {
	a, ts, _ := newTestAPI(t, Options{})
	tok := login(t, ts)
	for name, q := range map[string]map[string]any{
		"unknown field":  {"model": "system__activity", "view": "history", "fields": []string{"history.nope"}},
		"unknown filter": {"model": "system__activity", "view": "history", "fields": []string{"history.id"}, "filters": map[string]string{"nope.x": "1"}},
		"bad date":       {"model": "system__activity", "view": "history", "fields": []string{"history.id"}, "filters": map[string]string{"history.created_date": "last fortnight"}},
		"no fields":      {"model": "system__activity", "view": "history"},
	} {
		ans := runQuery(t, ts, tok, q)
		var out []map[string]string
		ans.decode(t, &out)
		if ans.status != http.StatusOK || len(out) != 1 || out[0]["looker_error"] == "" {
			t.Errorf("%s: %d %s", name, ans.status, ans.body)
		}
	}
	a.FailQueries(1)
	if ans := runQuery(t, ts, tok, viewsQuery); ans.status != http.StatusOK || !strings.HasPrefix(string(ans.body), `[{"looker_error":"Error running query:`) {
		t.Errorf("FailQueries: %d %s", ans.status, ans.body)
	}
	if got := rows(t, ts, tok, viewsQuery); len(got) == 0 {
		t.Error("the query after the failed one")
	}

	ans := runQuery(t, ts, tok, map[string]any{"fields": []string{"history.id"}})
	var invalid struct {
		Message string `json:"message"`
		Errors  []struct {
			Field, Code string
		} `json:"errors"`
	}
	ans.decode(t, &invalid)
	if ans.status != http.StatusUnprocessableEntity || invalid.Message != "Validation Failed" || len(invalid.Errors) != 2 || invalid.Errors[0].Field != "model" || invalid.Errors[0].Code != "missing_field" {
		t.Errorf("no model or view: %d %s", ans.status, ans.body)
	}
	if ans := runQuery(t, ts, tok, map[string]any{"model": "system__activity", "view": "nope", "fields": []string{"nope.id"}}); ans.status != http.StatusNotFound {
		t.Errorf("unknown explore: %d %s", ans.status, ans.body)
	}
	req, _ := http.NewRequest("POST", ts.URL+"/api/4.0/queries/run/csv", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "token "+tok)
	if ans := do(t, req); ans.status != http.StatusBadRequest || !strings.Contains(string(ans.body), "json only") {
		t.Errorf("csv: %d %s", ans.status, ans.body)
	}
}

func TestAddViewsAppendsRowsAnIncrementalReadFinds(t *testing.T) {
	a, ts, c := newTestAPI(t, Options{})
	tok := login(t, ts)
	before := a.Count().History
	maxID := rows(t, ts, tok, map[string]any{"model": "system__activity", "view": "history", "fields": []string{"history.id"}, "sorts": []string{"history.id desc"}, "limit": "1"})[0]["history.id"].(float64)
	if rows := rows(t, ts, tok, map[string]any{"model": "system__activity", "view": "history", "fields": []string{"history.id"}, "filters": map[string]string{"history.created_date": "today"}}); len(rows) != 0 {
		t.Fatalf("history today before any views: %v", rows)
	}
	c.Advance(2 * time.Hour)
	tok = login(t, ts) // the first token expired an hour ago
	added := a.AddViews(3)
	var ids []int64
	for _, v := range added {
		ids = append(ids, v.HistoryIDs...)
	}
	if len(added) != 3 || a.Count().History != before+len(ids) || float64(ids[0]) != maxID+1 {
		t.Fatalf("AddViews: %+v (history %d → %d, last id %v)", added, before, a.Count().History, maxID)
	}
	got := rows(t, ts, tok, map[string]any{"model": "system__activity", "view": "history",
		"fields": []string{"history.id", "history.created_time", "dashboard.id"}, "filters": map[string]string{"history.created_date": "today"}, "sorts": []string{"history.id"}})
	if len(got) != len(ids) || got[0]["history.created_time"] != "2026-11-23 17:00:00" {
		t.Errorf("today's history: %v, want ids %v", got, ids)
	}
	today := 0
	for _, v := range a.Views() {
		if v.Date == "2026-11-23" {
			today += v.Views
		}
	}
	if today != 3 {
		t.Errorf("ground truth has %d views today", today)
	}
}

func TestTheSameSeedAndDayGiveTheSameInstance(t *testing.T) {
	at := func(seed int64, now time.Time) string {
		_, ts, _ := newTestAPI(t, Options{Seed: seed, Now: func() time.Time { return now }})
		tok := login(t, ts)
		var b strings.Builder
		for _, p := range []string{"/api/4.0/dashboards", "/api/4.0/looks", "/api/4.0/users"} {
			b.Write(get(t, ts, "token "+tok, p).body)
		}
		b.Write(runQuery(t, ts, tok, viewsQuery).body)
		return b.String()
	}
	same := at(3, t0)
	if at(3, t0.Add(5*time.Hour)) != same {
		t.Error("later the same day, the instance differs")
	}
	if at(4, t0) == same {
		t.Error("another seed gives the same instance")
	}
}

func TestAdminOverHTTP(t *testing.T) {
	a, ts, _ := newTestAPI(t, Options{})
	admin := httptest.NewServer(a.Admin())
	t.Cleanup(admin.Close)
	tok := login(t, ts)
	post := func(path string) answer {
		req, _ := http.NewRequest("POST", admin.URL+path, nil)
		return do(t, req)
	}
	if ans := post("/expire-tokens"); ans.status != http.StatusNoContent {
		t.Errorf("expire-tokens: %d", ans.status)
	}
	if ans := get(t, ts, "token "+tok, "/api/4.0/users"); ans.status != http.StatusUnauthorized {
		t.Errorf("after /expire-tokens: %d", ans.status)
	}
	var added struct{ Views []AddedView }
	post("/add-views?n=2").decode(t, &added)
	if len(added.Views) != 2 || len(added.Views[0].HistoryIDs) == 0 {
		t.Errorf("add-views: %+v", added)
	}
	if ans := post("/add-views?n=-1"); ans.status != http.StatusBadRequest {
		t.Errorf("add-views n=-1: %d", ans.status)
	}
	if ans := post("/fail-queries?n=1"); ans.status != http.StatusNoContent {
		t.Errorf("fail-queries: %d", ans.status)
	}
	var counts Counts
	get(t, admin, "", "/count").decode(t, &counts)
	if counts != a.Count() {
		t.Errorf("count %+v", counts)
	}
	var views []View
	get(t, admin, "", "/views").decode(t, &views)
	var sources []DashboardSource
	get(t, admin, "", "/dashboard-tables").decode(t, &sources)
	var users []User
	get(t, admin, "", "/users").decode(t, &users)
	if len(views) != len(a.Views()) || len(sources) != len(dashboardDefs) || len(users) != counts.Users {
		t.Errorf("ground truth over HTTP: %d views, %d dashboards, %d users", len(views), len(sources), len(users))
	}
	var reqs map[string]int
	get(t, admin, "", "/requests").decode(t, &reqs)
	if reqs["logins"] != 1 || reqs["requests"] != 2 {
		t.Errorf("requests %v", reqs)
	}
}

func TestWriteRateLimitedIsLookersErrorBody(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteRateLimited(rec, 1500*time.Millisecond)
	var body errorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != http.StatusTooManyRequests || body.Message == "" || body.DocumentationURL == "" || rec.Header().Get("Retry-After") != "2" {
		t.Errorf("%d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	rec = httptest.NewRecorder()
	WriteRateLimited(rec, 0)
	if rec.Header().Get("Retry-After") != "" {
		t.Error("a Retry-After Looker does not send")
	}
}

func TestUnknownPathsAnswerLookersNotFound(t *testing.T) {
	_, ts, _ := newTestAPI(t, Options{})
	tok := "token " + login(t, ts)
	ans := get(t, ts, tok, "/api/4.0/lookml_models")
	if ans.status != http.StatusNotFound || !strings.HasPrefix(string(ans.body), `{"message":"Not found"`) {
		t.Errorf("%d %s", ans.status, ans.body)
	}
}

func TestDashboardElementsCarryTheirQuerysModelAndView(t *testing.T) {
	a, ts, _ := newTestAPI(t, Options{})
	tok := "token " + login(t, ts)
	for _, s := range a.DashboardTables() {
		var els []map[string]any
		ans := get(t, ts, tok, "/api/4.0/dashboards/"+s.DashboardID+"/dashboard_elements?fields=id,dashboard_id,type,query(model,view),look_id,look(query(model,view))")
		ans.decode(t, &els)
		if ans.status != http.StatusOK || len(els) != s.Tiles {
			t.Fatalf("dashboard %s: %d %d tiles, want %d", s.DashboardID, ans.status, len(els), s.Tiles)
		}
		var got []Explore
		for _, el := range els {
			q, _ := el["query"].(map[string]any)
			if lk, ok := el["look"].(map[string]any); ok {
				q, _ = lk["query"].(map[string]any)
				if el["look_id"] == nil || el["query"] != nil {
					t.Errorf("a Look tile %v", el)
				}
			}
			if el["dashboard_id"] != s.DashboardID || (q == nil) != (el["type"] == "text") {
				t.Errorf("tile %v", el)
			}
			if q != nil {
				if e := (Explore{q["model"].(string), q["view"].(string)}); !slices.Contains(got, e) {
					got = append(got, e)
				}
			}
		}
		if !slices.Equal(got, s.Explores) {
			t.Errorf("dashboard %s reads %v, want %v", s.DashboardID, got, s.Explores)
		}
	}
	if ans := get(t, ts, tok, "/api/4.0/dashboards/999/dashboard_elements"); ans.status != http.StatusNotFound {
		t.Errorf("an unknown dashboard: %d", ans.status)
	}
}

func TestAddQueriesAddsOneHistoryRowEach(t *testing.T) {
	a, ts, _ := newTestAPI(t, Options{})
	tok := login(t, ts)
	before := a.Count().History
	ids := a.AddQueries(4)
	if len(ids) != 4 || a.Count().History != before+4 {
		t.Fatalf("AddQueries(4) = %v, history %d → %d", ids, before, a.Count().History)
	}
	got := rows(t, ts, tok, map[string]any{"model": "system__activity", "view": "history",
		"fields": []string{"history.id", "history.source", "history.created_time"}, "filters": map[string]string{"history.id": ">=" + strconv.FormatInt(ids[0], 10)}, "sorts": []string{"history.id"}})
	if len(got) != 4 || got[0]["history.source"] != "explore" || got[3]["history.id"] != float64(ids[3]) || got[0]["history.created_time"] != "2026-11-23 15:00:00" {
		t.Errorf("the added rows: %v", got)
	}
}
