package looker

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/meshflow/meshflow/dev/sandbox/github"
	"github.com/meshflow/meshflow/dev/sandbox/internal/fake"
	"github.com/meshflow/meshflow/dev/sandbox/jira"
)

// Explore is a LookML explore on the company's Looker, as System Activity names
// it: query.model and query.view. The company models the mesh one LookML model per
// domain, each explore named after the port it reads, so {marketing crm_deals_v1}
// reads the table marketing.crm_deals_v1; a model that is no mesh domain
// ("netsuite") reads tables outside the mesh.
type Explore struct {
	Model string `json:"model"`
	Name  string `json:"explore"`
}

// Table is the table the explore's base view reads: model.explore.
func (e Explore) Table() string { return e.Model + "." + e.Name }

// exploreDef is an explore with the fields its tiles pick from.
type exploreDef struct {
	Explore
	dims, measures []string  // field names without the view
	joins          []Explore // views joined on company_gid; a query using their fields reads their tables too
}

// explores are the company's LookML explores: the mesh's ports, a finance model
// that is not on the mesh, and System Activity (which the mesh itself queries).
var explores = []*exploreDef{
	{Explore: Explore{"marketing", "crm_contacts_v1"}, dims: []string{"lifecycle_stage", "country", "created_month"}, measures: []string{"count"}},
	{Explore: Explore{"marketing", "crm_companies_v1"}, dims: []string{"industry", "country", "employees_tier"}, measures: []string{"count", "total_annual_revenue"}},
	{Explore: Explore{"marketing", "crm_deals_v1"}, dims: []string{"deal_stage", "close_month", "pipeline"}, measures: []string{"count", "total_amount"}, joins: []Explore{{"marketing", "crm_companies_v1"}}},
	{Explore: Explore{"marketing", "web_traffic_v1"}, dims: []string{"date", "channel", "landing_page"}, measures: []string{"total_sessions", "total_conversions"}},
	{Explore: Explore{"product", "account_usage_daily_v1"}, dims: []string{"date", "feature", "account_name"}, measures: []string{"total_events", "active_visitors"}, joins: []Explore{{"identity", "company_ids_v1"}}},
	{Explore: Explore{"market_intelligence", "organizations_v1"}, dims: []string{"last_funding_type", "country", "employees_range"}, measures: []string{"count", "total_funding_usd"}, joins: []Explore{{"marketing", "crm_companies_v1"}}},
	{Explore: Explore{"engineering", "jira_issues_v1"}, dims: []string{"project_key", "status_category", "created_week"}, measures: []string{"count"}},
	{Explore: Explore{"engineering", "jira_status_changes_v1"}, dims: []string{"to_status", "changed_week"}, measures: []string{"count"}},
	{Explore: Explore{"engineering", "github_pull_requests_v1"}, dims: []string{"repository", "merged_week"}, measures: []string{"count", "median_lead_time_hours"}},
	{Explore: Explore{"engineering", "github_commits_v1"}, dims: []string{"repository", "committed_week"}, measures: []string{"count"}},
	{Explore: Explore{"engineering", "delivery_metrics_v1"}, dims: []string{"week", "scope", "team"}, measures: []string{"total_items_completed", "median_cycle_time_hours"}},
	{Explore: Explore{"identity", "company_ids_v1"}, dims: []string{"source", "match_status"}, measures: []string{"count"}},
	{Explore: Explore{"identity", "identity_match_report_v1"}, dims: []string{"source"}, measures: []string{"total_matched", "total_unmatched", "total_conflicts"}},
	{Explore: Explore{"metrics", "revenue_engagement_weekly_v1"}, dims: []string{"week", "company_name"}, measures: []string{"total_deals_won_usd", "total_open_pipeline_usd", "total_product_events"}, joins: []Explore{{"market_intelligence", "organizations_v1"}}},
	{Explore: Explore{"netsuite", "gl_entries"}, dims: []string{"account", "period", "subsidiary"}, measures: []string{"total_amount"}},
	{Explore: Explore{"system__activity", "history"}, dims: []string{"created_date", "source"}, measures: []string{"count"}},
}

func exploreNamed(name string) *exploreDef {
	for _, e := range explores {
		if e.Name == name {
			return e
		}
	}
	panic("looker: no explore " + name)
}

// dashboardDef describes one dashboard: its folder (the department that owns it),
// how popular it is, and its tiles.
type dashboardDef struct {
	title, dept string
	weight      float64 // relative popularity
	tiles       []tileDef
	createdAgo  int // days before today it was created
	deletedAgo  int // days before today it was soft-deleted; 0 = live
	schedule    bool
}

// tileDef is a tile: a query on an explore (with a joined view's field when join
// is set), or a text tile when explore is "".
type tileDef struct {
	explore string
	join    bool
}

var text = tileDef{}

func tile(explore string) tileDef   { return tileDef{explore: explore} }
func joined(explore string) tileDef { return tileDef{explore: explore, join: true} }

// dashboardDefs are the company's dashboards, named after what they show of the
// mesh's products (two read finance tables that are not on the mesh).
var dashboardDefs = []dashboardDef{
	{"Pipeline Overview", "Sales", 3, []tileDef{tile("crm_deals_v1"), joined("crm_deals_v1"), tile("crm_companies_v1"), text}, 700, 0, true},
	{"Marketing Funnel", "Marketing", 2.5, []tileDef{tile("crm_contacts_v1"), tile("web_traffic_v1"), tile("crm_deals_v1")}, 650, 0, false},
	{"Web Traffic Daily", "Marketing", 2, []tileDef{tile("web_traffic_v1"), tile("web_traffic_v1"), tile("web_traffic_v1")}, 400, 0, false},
	{"Product Usage by Account", "Product", 2.5, []tileDef{tile("account_usage_daily_v1"), tile("account_usage_daily_v1"), joined("account_usage_daily_v1")}, 380, 0, false},
	{"Customer Health", "Customer Success", 2, []tileDef{tile("account_usage_daily_v1"), joined("crm_deals_v1"), tile("crm_contacts_v1"), text}, 300, 0, true},
	{"Engineering Delivery", "Engineering", 2, []tileDef{tile("delivery_metrics_v1"), tile("delivery_metrics_v1"), tile("jira_issues_v1")}, 260, 0, false},
	{"Pull Request Flow", "Engineering", 1.5, []tileDef{tile("github_pull_requests_v1"), tile("github_pull_requests_v1"), tile("delivery_metrics_v1")}, 250, 0, false},
	{"Jira Flow", "Engineering", 1, []tileDef{tile("jira_status_changes_v1"), tile("jira_issues_v1")}, 240, 0, false},
	{"Commit Activity", "Engineering", 0.7, []tileDef{tile("github_commits_v1"), tile("github_commits_v1")}, 120, 0, false},
	{"Revenue & Engagement Weekly", "Leadership", 2.5, []tileDef{tile("revenue_engagement_weekly_v1"), tile("revenue_engagement_weekly_v1"), joined("revenue_engagement_weekly_v1")}, 200, 0, true},
	{"Executive Summary", "Leadership", 3, []tileDef{tile("revenue_engagement_weekly_v1"), tile("crm_deals_v1"), tile("account_usage_daily_v1"), tile("web_traffic_v1"), text}, 500, 0, true},
	{"Market Map: Funding", "Strategy", 1, []tileDef{tile("organizations_v1"), tile("organizations_v1"), joined("organizations_v1")}, 180, 0, false},
	{"Identity Match Quality", "Data", 0.6, []tileDef{tile("identity_match_report_v1"), tile("identity_match_report_v1"), tile("company_ids_v1")}, 40, 0, false},
	{"Finance: GL Summary", "Finance", 1, []tileDef{tile("gl_entries"), tile("gl_entries"), tile("gl_entries")}, 900, 0, true},
	{"Board Pack", "Leadership", 0.8, []tileDef{tile("revenue_engagement_weekly_v1"), tile("gl_entries"), text}, 150, 0, false},
	{"Legacy Funnel (2025)", "Marketing", 1.5, []tileDef{tile("crm_contacts_v1"), tile("crm_deals_v1")}, 800, 30, false},
	{"Untitled draft", "Data", 0, []tileDef{text}, 20, 0, false},
}

// departments of the business staff, and how likely someone there opens Looker on
// a working day.
var departments = []struct {
	name     string
	activity float64
}{
	{"Sales", 0.7}, {"Marketing", 0.65}, {"Customer Success", 0.6}, {"Product", 0.55},
	{"Finance", 0.5}, {"Leadership", 0.6}, {"Strategy", 0.4}, {"Data", 0.85},
}

type folder struct {
	id, name, parentID string
}

// person is a Looker user.
type person struct {
	id               int64
	first, last      string
	email, canonical string // as Looker holds it, and lower-cased
	origin, dept     string // where the person comes from (Jira, a GitHub team, staff, service) and their department
	admin, developer bool
	created          time.Time
	disabled         time.Time // when they left; zero while active
	lastLogin        time.Time
	activity         float64   // chance of opening Looker on a working day
	prefs            []float64 // how much they like each dashboard, by index
}

func (p *person) name() string { return p.first + " " + p.last }

// query is a saved Looker query: a tile's, a Look's or an ad-hoc one.
type query struct {
	id      int64
	explore *exploreDef
	fields  []string // view.field
	tables  []string // every table its SQL reads: the explore's, and joined views' it uses
	sql     string
}

type element struct {
	id    int64
	title string
	kind  string // "vis" or "text"
	query *query // nil for a text tile
	look  *look  // set when the tile shows a saved Look (query is then the Look's)
}

type dashboard struct {
	id, title, slug string
	dept            string
	folder          *folder
	owner           *person
	created         time.Time
	deleted         time.Time // soft-deleted at; zero while live
	elements        []*element
	weight          float64
	schedule        bool
}

func (d *dashboard) liveAt(t time.Time) bool {
	return !t.Before(d.created) && (d.deleted.IsZero() || t.Before(d.deleted))
}

type look struct {
	id               int64
	title            string
	dept             string
	query            *query
	folder           *folder
	owner            *person
	created, updated time.Time
	deleted          time.Time
}

// run is one row of System Activity's history: a query run.
type run struct {
	id           int64
	created      time.Time // second precision, UTC
	runtime      float64   // seconds
	source       string    // dashboard, look, explore, scheduled_task, api
	status       string    // complete, error
	resultSource string    // query, cache
	user         *person
	dashboard    *dashboard // nil unless run for a dashboard
	session      string     // the dashboard_session of a dashboard view; "" otherwise
	look         *look
	query        *query
}

// viewKey counts a user's views of a dashboard on a day: distinct dashboard
// sessions, the ground truth of history.dashboard_run_count.
type viewKey struct {
	day       string
	dashboard string
	user      int64
}

// instance is the company's Looker.
type instance struct {
	anchor     time.Time
	folders    []*folder
	people     []*person
	dashboards []*dashboard
	looks      []*look
	queries    []*query
	runs       []*run // by id, ascending = by created
	views      map[viewKey]int

	nextQuery, nextRun, nextElement int64
	sessions                        uint64
}

// generate builds the instance. anchor is the start of "today" (UTC): every seeded
// run lies before it, so data made on the same day with the same seed is identical
// whatever the hour.
func generate(o Options, anchor time.Time) *instance {
	in := &instance{anchor: anchor, views: map[viewKey]int{}, nextQuery: 4100, nextRun: 1_200_000, nextElement: 310}
	in.genFolders()
	in.genPeople(o, anchor)
	in.genContent(o, anchor)
	in.genHistory(o, anchor)
	return in
}

func (in *instance) genFolders() {
	in.folders = []*folder{{id: "1", name: "Shared"}}
	for i, d := range departments {
		in.folders = append(in.folders, &folder{id: strconv.Itoa(10 + i), name: d.name, parentID: "1"})
	}
	in.folders = append(in.folders, &folder{id: "30", name: "Engineering", parentID: "1"})
}

func (in *instance) folderOf(dept string) *folder {
	for _, f := range in.folders {
		if f.name == dept {
			return f
		}
	}
	return in.folders[0]
}

// genPeople gathers the company's staff: the Jira site's and the GitHub teams'
// people (one Looker user per e-mail address), business staff, and the service
// account whose API key the mesh uses.
func (in *instance) genPeople(o Options, anchor time.Time) {
	r := fake.New(o.Seed, "looker/people")
	seen := map[string]*person{}
	add := func(first, last, email, origin, dept string) *person {
		if p := seen[email]; p != nil {
			p.origin += "+" + origin // in Jira and on GitHub: one person
			return p
		}
		p := &person{id: int64(len(in.people) + 1), first: first, last: last, email: email, canonical: email, origin: origin, dept: dept}
		seen[email] = p
		in.people = append(in.people, p)
		return p
	}
	svc := add("Meshflow", "Sync", "meshflow-sync@"+fake.StaffDomain, "service", "Data")
	svc.admin = true
	for _, p := range jira.People(o.Seed) {
		first, last, _ := strings.Cut(p.Name, " ")
		add(first, last, p.Email, "jira", "Engineering")
	}
	for _, p := range github.Members(o.Seed) {
		first, last, _ := strings.Cut(p.Name, " ")
		dept := "Engineering"
		if p.Team == "data" {
			dept = "Data"
		}
		add(first, last, p.Email, p.Team, dept)
	}
	for n := 0; n < o.Staff; {
		first, last := r.Person()
		email := fake.StaffEmail(first, last)
		if seen[email] != nil {
			if r.Chance(0.5) { // namesakes get a number, as mail admins do
				email = fake.StaffEmail(first, last+strconv.Itoa(2+r.IntN(8)))
			}
			if seen[email] != nil {
				continue
			}
		}
		add(first, last, email, "staff", departments[n%len(departments)].name)
		n++
	}
	for i, p := range in.people {
		p.created = anchor.AddDate(0, 0, -400-r.IntN(800)).Add(time.Duration(r.IntN(86400)) * time.Second)
		switch {
		case p.origin == "service":
			p.activity = 0 // its API runs are generated apart
		case r.Chance(0.1):
			p.activity = 0 // licensed, never opens Looker
		default:
			base := 0.3 // engineers open it now and then
			for _, d := range departments {
				if d.name == p.dept {
					base = d.activity
				}
			}
			p.activity = math.Min(0.95, base*(0.5+0.8*r.Float64()))
		}
		p.developer = p.dept == "Data" || (p.origin == "staff" && r.Chance(0.15))
		p.admin = p.admin || (p.dept == "Data" && i%5 == 0)
		// Addresses provisioned by single sign-on keep the directory's spelling.
		if p.origin == "staff" && r.Chance(0.12) {
			p.email = fake.TitleCase(p.email) // Ana.Silva@acme.Example
		}
	}
	// Two of the business staff left: their accounts are disabled, their history stays.
	var staff []*person
	for _, p := range in.people {
		if p.origin == "staff" && p.activity > 0 {
			staff = append(staff, p)
		}
	}
	for i, p := range fake.Sample(r, staff, 2) {
		p.disabled = anchor.AddDate(0, 0, -[]int{45, 10}[i]).Add(17 * time.Hour)
	}
	for _, p := range in.people {
		p.lastLogin = anchor.Add(-time.Duration(1+r.IntN(72)) * time.Hour)
		if !p.disabled.IsZero() {
			p.lastLogin = p.disabled.Add(-time.Duration(1+r.IntN(8)) * time.Hour)
		}
	}
}

// genContent builds the dashboards, their tiles and the Looks.
func (in *instance) genContent(o Options, anchor time.Time) {
	r := fake.New(o.Seed, "looker/content")
	owners := func(dept string) *person {
		var ps []*person
		for _, p := range in.people {
			if p.dept == dept && p.origin != "service" {
				ps = append(ps, p)
			}
		}
		if len(ps) == 0 {
			return in.people[0]
		}
		return fake.Pick(r, ps)
	}
	// Looks first: a dashboard tile sometimes shows one.
	lookID := int64(100)
	for _, e := range explores {
		if e.Model == "system__activity" {
			continue
		}
		dept := deptOf(e)
		for k := range 1 + r.IntN(2) {
			q := in.newQuery(r, e, r.Chance(0.3))
			lk := &look{id: lookID, title: titleOf(q), dept: dept, query: q, folder: in.folderOf(dept), owner: owners(dept)}
			lookID += 1 + int64(r.IntN(3))
			lk.created = anchor.AddDate(0, 0, -30-r.IntN(600)).Add(time.Duration(r.IntN(86400)) * time.Second)
			lk.updated = lk.created.Add(time.Duration(r.Int64N(int64(anchor.Sub(lk.created)))) / time.Second * time.Second)
			if k == 1 && r.Chance(0.3) {
				lk.deleted = lk.updated.Add(time.Duration(r.Int64N(int64(anchor.Sub(lk.updated)))) / time.Second * time.Second)
			}
			in.looks = append(in.looks, lk)
		}
	}
	for i, def := range dashboardDefs {
		d := &dashboard{
			id: strconv.Itoa(i + 1), title: def.title, dept: def.dept, folder: in.folderOf(def.dept),
			owner: owners(def.dept), weight: def.weight, schedule: def.schedule,
			created: anchor.AddDate(0, 0, -def.createdAgo).Add(time.Duration(9*3600+r.IntN(8*3600)) * time.Second),
		}
		d.slug = slug(r)
		if def.deletedAgo > 0 {
			d.deleted = anchor.AddDate(0, 0, -def.deletedAgo).Add(11 * time.Hour)
		}
		for _, t := range def.tiles {
			el := &element{id: in.nextElement, kind: "text", title: "Notes"}
			in.nextElement += 1 + int64(r.IntN(4))
			if t.explore != "" {
				e := exploreNamed(t.explore)
				el.kind = "vis"
				var candidates []*look
				for _, lk := range in.looks {
					if lk.query.explore == e && lk.deleted.IsZero() && lk.query.joinsUsed() == t.join {
						candidates = append(candidates, lk)
					}
				}
				if len(candidates) > 0 && r.Chance(0.25) {
					el.look = fake.Pick(r, candidates)
					el.query = el.look.query
				} else {
					el.query = in.newQuery(r, e, t.join)
				}
				el.title = titleOf(el.query)
			}
			d.elements = append(d.elements, el)
		}
		in.dashboards = append(in.dashboards, d)
	}
}

// deptOf is the department whose folder holds content on an explore.
func deptOf(e *exploreDef) string {
	switch e.Model {
	case "marketing":
		if e.Name == "crm_deals_v1" {
			return "Sales"
		}
		return "Marketing"
	case "product":
		return "Product"
	case "engineering":
		return "Engineering"
	case "market_intelligence":
		return "Strategy"
	case "metrics":
		return "Leadership"
	case "netsuite":
		return "Finance"
	}
	return "Data"
}

// newQuery saves a query on e: a dimension and one or two measures, and a joined
// view's dimension when withJoin is set (its SQL then reads the joined table too).
func (in *instance) newQuery(r *fake.Rand, e *exploreDef, withJoin bool) *query {
	q := &query{id: in.nextQuery, explore: e}
	in.nextQuery += 1 + int64(r.IntN(5))
	q.fields = append(q.fields, e.Name+"."+fake.Pick(r, e.dims))
	if withJoin && len(e.joins) > 0 {
		j := e.joins[r.IntN(len(e.joins))]
		q.fields = append(q.fields, j.Name+"."+fake.Pick(r, exploreNamed(j.Name).dims))
	}
	for _, m := range fake.Sample(r, e.measures, 1+r.IntN(2)) {
		q.fields = append(q.fields, e.Name+"."+m)
	}
	q.tables, q.sql = sqlOf(e, q.fields)
	in.queries = append(in.queries, q)
	return q
}

// joinsUsed reports whether the query selects a joined view's field.
func (q *query) joinsUsed() bool { return len(q.tables) > 1 }

// sqlOf writes the SQL Looker generates for fields on e, and the tables it reads.
func sqlOf(e *exploreDef, fields []string) ([]string, string) {
	var sel []string
	var dims int
	tables := []string{e.Table()}
	var joins []string
	for _, f := range fields {
		view, name, _ := strings.Cut(f, ".")
		expr := f
		if slices.Contains(e.measures, name) && view == e.Name {
			switch {
			case name == "count":
				expr = "COUNT(*)"
			case strings.HasPrefix(name, "median_"):
				expr = "MEDIAN(" + view + "." + strings.TrimPrefix(name, "median_") + ")"
			default:
				expr = "COALESCE(SUM(" + view + "." + strings.TrimPrefix(name, "total_") + "), 0)"
			}
		} else {
			dims++
		}
		sel = append(sel, fmt.Sprintf("    %s AS \"%s\"", expr, f))
		if view != e.Name {
			for _, j := range e.joins {
				if j.Name == view && !slices.Contains(tables, j.Table()) {
					tables = append(tables, j.Table())
					joins = append(joins, fmt.Sprintf("LEFT JOIN %s AS %s ON %s.company_gid = %s.company_gid\n", j.Table(), j.Name, e.Name, j.Name))
				}
			}
		}
	}
	var b strings.Builder
	b.WriteString("SELECT\n" + strings.Join(sel, ",\n") + "\n")
	fmt.Fprintf(&b, "FROM %s AS %s\n", e.Table(), e.Name)
	b.WriteString(strings.Join(joins, ""))
	if dims > 0 && dims < len(fields) {
		groups := make([]string, dims)
		for i := range groups {
			groups[i] = strconv.Itoa(i + 1)
		}
		b.WriteString("GROUP BY\n    " + strings.Join(groups, ",\n    ") + "\n")
	}
	fmt.Fprintf(&b, "ORDER BY\n    %d DESC\nFETCH NEXT 500 ROWS ONLY", min(len(fields), dims+1))
	return tables, b.String()
}

// titleOf names a tile or Look after its query: "Total Amount by Deal Stage".
func titleOf(q *query) string {
	var dims, ms []string
	for _, f := range q.fields {
		view, name, _ := strings.Cut(f, ".")
		if view == q.explore.Name && slices.Contains(q.explore.measures, name) {
			ms = append(ms, words(name))
		} else {
			dims = append(dims, words(name))
		}
	}
	return strings.Join(ms, " and ") + " by " + strings.Join(dims, " and ")
}

func words(s string) string {
	ws := strings.Split(s, "_")
	for i, w := range ws {
		ws[i] = strings.ToUpper(w[:1]) + w[1:]
	}
	return strings.Join(ws, " ")
}

// slug draws a dashboard's URL slug: 22 alphanumerics.
func slug(r *fake.Rand) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 22)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

// genHistory fills System Activity's history for the days before today: each
// working day most staff open a few dashboards, each view running every query
// tile in one dashboard session; some run Looks or explore; scheduled dashboards
// run at 06:00 on working days; the mesh's service account reads System Activity
// at 02:00. Weekends are quiet.
func (in *instance) genHistory(o Options, anchor time.Time) {
	r := fake.New(o.Seed, "looker/history")
	for _, p := range in.people {
		p.prefs = make([]float64, len(in.dashboards))
		for i, d := range in.dashboards {
			w := d.weight * math.Exp(r.NormFloat64())
			if d.dept == p.dept {
				w *= 5
			}
			p.prefs[i] = w
		}
	}
	var runs []*run
	for day := anchor.AddDate(0, 0, -o.Days); day.Before(anchor); day = day.AddDate(0, 0, 1) {
		weekend := day.Weekday() == time.Saturday || day.Weekday() == time.Sunday
		for _, p := range in.people {
			chance := p.activity
			if weekend {
				chance *= 0.08
			}
			if !p.activeAt(day.Add(12*time.Hour)) || !r.Chance(chance) {
				continue
			}
			views := 1
			for views < 6 && r.Chance(0.45) {
				views++
			}
			for range views {
				at := day.Add(time.Duration(7*3600+r.IntN(11*3600)) * time.Second)
				if !p.activeAt(at) {
					continue
				}
				if d := in.pickDashboard(r, p, at); d != nil {
					runs = append(runs, in.view(r, p, d, at)...)
				}
			}
			if r.Chance(0.25) {
				runs = append(runs, in.lookRun(r, p, day)...)
			}
			explores := 0
			if p.developer && r.Chance(0.8) {
				explores = 1 + r.IntN(5)
			} else if r.Chance(0.12) {
				explores = 1
			}
			for range explores {
				runs = append(runs, in.exploreRun(r, p, day))
			}
		}
		if !weekend {
			for _, d := range in.dashboards {
				if at := day.Add(6 * time.Hour); d.schedule && d.liveAt(at) && (d.owner.disabled.IsZero() || at.Before(d.owner.disabled)) {
					runs = append(runs, in.tileRuns(r, d.owner, d, at, "scheduled_task", "")...)
				}
			}
		}
		svc := in.people[0]
		at := day.Add(2 * time.Hour)
		q := in.newQuery(r, exploreNamed("history"), false)
		runs = append(runs, in.newRun(r, svc, at, "api", q))
	}
	slices.SortStableFunc(runs, func(a, b *run) int { return a.created.Compare(b.created) })
	for _, x := range runs {
		x.id = in.nextRun
		in.nextRun++
	}
	in.runs = runs
}

func (p *person) activeAt(t time.Time) bool {
	return p.activity > 0 && !t.Before(p.created) && (p.disabled.IsZero() || t.Before(p.disabled))
}

// pickDashboard draws one of the dashboards live at t that p likes; nil when none
// has a query tile (viewing those leaves no history).
func (in *instance) pickDashboard(r *fake.Rand, p *person, t time.Time) *dashboard {
	weights := make([]float64, len(in.dashboards))
	for i, d := range in.dashboards {
		if d.liveAt(t) {
			weights[i] = p.prefs[i]
		}
	}
	i := pickWeighted(r, weights)
	if i < 0 {
		return nil
	}
	return in.dashboards[i]
}

func pickWeighted(r *fake.Rand, weights []float64) int {
	total := 0.0
	for _, w := range weights {
		total += w
	}
	if total <= 0 {
		return -1
	}
	u := r.Float64() * total
	for i, w := range weights {
		if u < w {
			return i
		}
		u -= w
	}
	return len(weights) - 1
}

// view is p opening dashboard d at t: a new dashboard session whose query tiles
// each leave a history row.
func (in *instance) view(r *fake.Rand, p *person, d *dashboard, t time.Time) []*run {
	in.sessions++
	session := fmt.Sprintf("%016x%016x", fake.Mix(0x5e55, in.sessions), fake.Mix(0x5e56, in.sessions))
	runs := in.tileRuns(r, p, d, t, "dashboard", session)
	if len(runs) > 0 {
		in.views[viewKey{t.Format(time.DateOnly), d.id, p.id}]++
	}
	return runs
}

// tileRuns runs d's query tiles for p from t on.
func (in *instance) tileRuns(r *fake.Rand, p *person, d *dashboard, t time.Time, source, session string) []*run {
	var runs []*run
	for _, el := range d.elements {
		if el.query == nil {
			continue
		}
		x := in.newRun(r, p, t.Add(time.Duration(r.IntN(3))*time.Second), source, el.query)
		x.dashboard, x.session, x.look = d, session, el.look
		runs = append(runs, x)
	}
	return runs
}

// lookRun is p running one of their department's Looks (any Look when none).
func (in *instance) lookRun(r *fake.Rand, p *person, day time.Time) []*run {
	at := day.Add(time.Duration(8*3600+r.IntN(9*3600)) * time.Second)
	var pool []*look
	for _, lk := range in.looks {
		if !at.Before(lk.created) && (lk.deleted.IsZero() || at.Before(lk.deleted)) && (lk.dept == p.dept || r.Chance(0.1)) {
			pool = append(pool, lk)
		}
	}
	if len(pool) == 0 || !p.activeAt(at) {
		return nil
	}
	lk := fake.Pick(r, pool)
	x := in.newRun(r, p, at, "look", lk.query)
	x.look = lk
	return []*run{x}
}

// exploreRun is p asking an ad-hoc question in an explore.
func (in *instance) exploreRun(r *fake.Rand, p *person, day time.Time) *run {
	at := day.Add(time.Duration(8*3600+r.IntN(10*3600)) * time.Second)
	e := explores[r.IntN(len(explores)-1)] // System Activity aside
	return in.newRun(r, p, at, "explore", in.newQuery(r, e, r.Chance(0.3)))
}

// newRun is one query run: a cache hit in about a third of them, a long tail of
// runtimes otherwise, an error now and then.
func (in *instance) newRun(r *fake.Rand, p *person, at time.Time, source string, q *query) *run {
	x := &run{created: at.Truncate(time.Second), source: source, status: "complete", resultSource: "query", user: p, query: q}
	if r.Chance(0.35) {
		x.resultSource = "cache"
		x.runtime = 0.01 + 0.09*r.Float64()
	} else {
		x.runtime = math.Min(180, math.Exp(0.2+1.1*r.NormFloat64()))
	}
	if r.Chance(0.015) {
		x.status = "error"
	}
	x.runtime = math.Round(x.runtime*1000) / 1000
	return x
}
