package jira

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/meshflow/meshflow/dev/sandbox/internal/fake"
)

// TimeLayout is how Jira writes every timestamp: millis and a numeric offset
// without a colon, in the API user's profile time zone ("2024-03-02T04:15:44.123-0500").
const TimeLayout = "2006-01-02T15:04:05.000-0700"

// category is a status category: every status belongs to one of three.
type category struct {
	id               int
	key, name, color string
}

var (
	catNew        = category{2, "new", "To Do", "blue-gray"}
	catInProgress = category{4, "indeterminate", "In Progress", "yellow"}
	catDone       = category{3, "done", "Done", "green"}
)

// status is one step of the workflow every project shares.
type status struct {
	id, name string
	cat      category
}

// The workflow: To Do → In Progress → In Review → Done, with review sending work
// back to In Progress now and then, and To Do → Done for work dropped ("Won't Do").
const (
	stToDo = iota
	stInProgress
	stInReview
	stDone
)

var statuses = []status{
	{"10000", "To Do", catNew},
	{"3", "In Progress", catInProgress},
	{"10001", "In Review", catInProgress},
	{"10002", "Done", catDone},
}

// Statuses are the workflow's status names in order.
var Statuses = []string{"To Do", "In Progress", "In Review", "Done"}

type named struct{ id, name, desc string }

var (
	issueTypes   = []named{{"10001", "Task", "A small, distinct piece of work."}, {"10002", "Bug", "A problem or error."}, {"10003", "Story", "A user-facing piece of functionality."}}
	priorities   = []named{{"1", "Highest", ""}, {"2", "High", ""}, {"3", "Medium", ""}, {"4", "Low", ""}, {"5", "Lowest", ""}}
	resDone      = &named{"10000", "Done", "Work has been completed on this issue."}
	resWontDo    = &named{"10001", "Won't Do", "This issue won't be actioned."}
	priorityOdds = []float64{0.05, 0.2, 0.5, 0.2, 0.05}
	typeOdds     = []float64{0.45, 0.3, 0.25}
)

// user is an Atlassian account.
type user struct {
	accountID, name, email, tz string
}

// project is a Jira project; its category is the team that owns it.
type project struct {
	id                     int64
	key, name, desc        string
	teamID, team, teamDesc string
	lead                   *user
	members                []*user
	weight                 float64
	nouns, labelPool       []string
}

// projectDefs is the catalogue Options.Projects takes the first n of.
var projectDefs = []struct {
	key, name, desc, team, teamDesc string
	weight                          float64
	nouns, labels                   []string
}{
	{"OPS", "Platform Operations", "Infrastructure, deploys and on-call.", "Platform", "Platform team: infrastructure and reliability", 0.3,
		[]string{"ingress controller", "TLS certificates", "Kubernetes nodes", "backup job", "alert routing", "Terraform state", "CI runners", "DNS records", "service mesh", "log pipeline"},
		[]string{"infra", "on-call", "security", "cost", "tech-debt"}},
	{"WEB", "Web Storefront", "The customer-facing web shop.", "Web", "Web team: storefront and checkout", 0.35,
		[]string{"checkout page", "product grid", "search box", "cart drawer", "login form", "promo banner", "account settings", "order history", "image carousel", "cookie consent"},
		[]string{"frontend", "accessibility", "performance", "checkout", "seo"}},
	{"DATA", "Data Platform", "Pipelines, warehouse and reporting.", "Data", "Data team: pipelines and analytics", 0.2,
		[]string{"orders pipeline", "revenue dashboard", "dbt models", "event schema", "warehouse costs", "CRM sync", "attribution report", "data quality checks", "Parquet exports", "churn model"},
		[]string{"pipeline", "reporting", "data-quality", "ml", "governance"}},
	{"MOB", "Mobile Apps", "iOS and Android apps.", "Mobile", "Mobile team: iOS and Android", 0.15,
		[]string{"push notifications", "offline mode", "onboarding flow", "app store listing", "crash reporter", "deep links", "biometric login", "dark mode", "in-app purchases", "release train"},
		[]string{"ios", "android", "release", "ux", "crash"}},
	{"SEC", "Security", "Security reviews and compliance.", "Security", "Security team: reviews and compliance", 0.1,
		[]string{"access review", "SOC 2 evidence", "pen test finding", "secret scanner", "SSO config", "audit log"},
		[]string{"compliance", "vuln", "iam"}},
	{"PAY", "Payments", "Payment providers and billing.", "Payments", "Payments team: billing and providers", 0.15,
		[]string{"refund flow", "invoice PDFs", "card tokenisation", "payout report", "tax rates", "3-D Secure"},
		[]string{"billing", "provider", "finance"}},
	{"SUP", "Support Tooling", "Tools for the support desk.", "Support", "Support team: help desk tooling", 0.1,
		[]string{"macro library", "ticket routing", "help centre", "SLA timers", "chat widget"},
		[]string{"helpdesk", "sla"}},
	{"PPL", "People Ops", "Hiring and onboarding tooling.", "People", "People team: hiring and onboarding", 0.05,
		[]string{"onboarding checklist", "laptop ordering", "interview kit", "HRIS sync"},
		[]string{"hiring", "onboarding"}},
}

var verbs = []string{"Fix", "Rotate", "Migrate", "Investigate", "Add monitoring for", "Clean up", "Upgrade", "Document", "Speed up", "Redesign", "Test", "Automate"}

var userZones = []string{"Europe/Berlin", "America/Los_Angeles", "America/New_York", "Europe/London", "Asia/Kolkata", "Australia/Sydney", "UTC"}

// item is one field change of a changelog entry. A nil pointer is JSON null.
type item struct {
	field, fieldID            string
	from, fromString, to, toS *string
	accountIDs                bool // assignee items also carry tmpFromAccountId/tmpToAccountId
}

// history is one changelog entry: who changed what, when.
type history struct {
	id      int64
	author  *user
	created time.Time
	items   []item
}

// issue is one Jira issue. Its fields always agree with its changelog: the last
// status item's "to" is its status, the Done transition's time its resolution date.
type issue struct {
	id        int64
	proj      *project
	num       int
	summary   string
	typ       named
	prio      named
	status    int
	res       *named
	assignee  *user
	reporter  *user
	labels    []string
	points    *float64 // customfield_10016 (story points), stories only
	created   time.Time
	updated   time.Time
	resolved  time.Time // zero while unresolved
	catChange time.Time // statuscategorychangedate
	histories []*history
}

func (is *issue) key() string { return is.proj.key + "-" + strconv.Itoa(is.num) }

func (is *issue) lastChange() time.Time {
	if n := len(is.histories); n > 0 {
		return is.histories[n-1].created
	}
	return is.created
}

// world is the imitation's data set.
type world struct {
	users    []*user
	me       *user
	projects []*project
	issues   []*issue // ascending id
	byID     map[int64]*issue
	byKey    map[string]*issue
	nextHist int64
	hists    int
	bulkAt   time.Time
}

func str(s string) *string { return &s }

// People are the site's users for seed (the API user aside), as other vendors'
// imitations describe the same staff: the Looker imitation's users include them.
func People(seed int64) []fake.Person {
	users := drawUsers(fake.New(seed, "jira/people"), seed)
	out := make([]fake.Person, len(users))
	for i, u := range users {
		out[i] = fake.Person{Name: u.name, Email: u.email, Team: "jira"}
	}
	return out
}

// drawUsers draws the site's 16 users from r, the "jira/people" stream, which
// generate goes on drawing from.
func drawUsers(r *fake.Rand, seed int64) []*user {
	var users []*user
	seen := map[string]bool{}
	for len(users) < 16 {
		first, last := r.Person()
		if seen[first+last] {
			continue
		}
		seen[first+last] = true
		u := &user{name: first + " " + last, tz: fake.Pick(r, userZones), email: fake.StaffEmail(first, last)}
		x := fake.Mix(seed, uint64(len(users)))
		if len(users)%3 == 0 { // accounts from before 2019 have the short legacy form
			u.accountID = fmt.Sprintf("5b%016x%06x", x, fake.Mix(seed^0x1e, x)&0xffffff)
		} else {
			y := fake.Mix(seed^0x1d, x)
			u.accountID = fmt.Sprintf("712020:%08x-%04x-4%03x-a%03x-%012x", uint32(x>>32), uint16(x>>16), uint16(x)&0xfff, uint16(y>>48)&0xfff, y&0xffffffffffff)
		}
		users = append(users, u)
	}
	return users
}

// generate builds the seeded data set. anchor is the start of "today" (UTC): every
// timestamp lies before it, so data made on the same day with the same seed is
// identical whatever the hour.
func generate(o Options, anchor time.Time) *world {
	w := &world{byID: map[int64]*issue{}, byKey: map[string]*issue{}}
	r := fake.New(o.Seed, "jira/people")
	w.users = drawUsers(r, o.Seed)
	w.me = &user{accountID: "712020:00000000-5a4d-4b0c-a5e5-000000000001", name: "Meshflow Sync", email: o.Email, tz: o.TimeZone}

	for i, def := range projectDefs[:o.Projects] {
		p := &project{id: 10000 + int64(i), key: def.key, name: def.name, desc: def.desc,
			teamID: strconv.Itoa(10100 + i), team: def.team + " team", teamDesc: def.teamDesc,
			weight: def.weight, nouns: def.nouns, labelPool: def.labels}
		perm := r.Perm(len(w.users))
		for _, j := range perm[:5] {
			p.members = append(p.members, w.users[j])
		}
		p.lead = p.members[0]
		w.projects = append(w.projects, p)
	}

	until := anchor.Add(-time.Hour)
	from := anchor.AddDate(-1, 0, 0)
	// A bulk edit on the first of last month labelled many issues at one instant:
	// many issues share one `updated`, which paging must survive.
	w.bulkAt = time.Date(anchor.Year(), anchor.Month()-1, 1, 3, 0, 0, 0, time.UTC)

	gen := fake.New(o.Seed, "jira/issues")
	var weights []float64
	for _, p := range w.projects {
		weights = append(weights, p.weight)
	}
	for range o.Issues {
		p := w.projects[pickWeighted(gen, weights)]
		w.issues = append(w.issues, simulate(gen, p, gen.Between(from, until.Add(-2*time.Hour)), until))
	}
	// Ids and per-project numbers follow creation order, as in Jira.
	slices.SortStableFunc(w.issues, func(a, b *issue) int { return a.created.Compare(b.created) })
	nums := map[*project]int{}
	for i, is := range w.issues {
		is.id = 10001 + int64(i)
		nums[is.proj]++
		is.num = nums[is.proj]
	}

	bulk := fake.New(o.Seed, "jira/bulk")
	for _, is := range w.issues {
		if is.created.Before(w.bulkAt) && bulk.Chance(0.12) && !slices.Contains(is.labels, "triaged") {
			before := strings.Join(is.labels, " ")
			is.labels = append(slices.Clone(is.labels), "triaged")
			h := &history{author: is.proj.lead, created: w.bulkAt, items: []item{{field: "labels", fieldID: "labels", fromString: strOrNil(before), toS: str(strings.Join(is.labels, " "))}}}
			is.histories = append(is.histories, h)
			slices.SortStableFunc(is.histories, func(a, b *history) int { return a.created.Compare(b.created) })
			if is.updated.Before(w.bulkAt) {
				is.updated = w.bulkAt
			}
		}
	}

	// Changelog ids are one global sequence in time order, with the gaps other
	// sites' changes leave.
	var all []*history
	owner := map[*history]*issue{}
	for _, is := range w.issues {
		for _, h := range is.histories {
			all = append(all, h)
			owner[h] = is
		}
	}
	slices.SortStableFunc(all, func(a, b *history) int {
		if c := a.created.Compare(b.created); c != 0 {
			return c
		}
		return int(owner[a].id - owner[b].id)
	})
	ids := fake.New(o.Seed, "jira/history-ids")
	w.nextHist = 10100
	for _, h := range all {
		h.id = w.nextHist
		w.nextHist += 1 + ids.Int64N(3)
	}
	w.hists = len(all)
	for _, is := range w.issues {
		w.byID[is.id] = is
		w.byKey[is.key()] = is
	}
	return w
}

func strOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func pickWeighted(r *fake.Rand, weights []float64) int {
	sum := 0.0
	for _, w := range weights {
		sum += w
	}
	u := r.Float64() * sum
	for i, w := range weights {
		if u < w {
			return i
		}
		u -= w
	}
	return len(weights) - 1
}

func hours(r *fake.Rand, lo, hi float64) time.Duration {
	return time.Duration((lo + r.Float64()*(hi-lo)) * float64(time.Hour)).Truncate(time.Millisecond)
}

// simulate creates an issue at created and walks it through the workflow until
// it is done or the next step would fall after until, recording every change.
func simulate(r *fake.Rand, p *project, created, until time.Time) *issue {
	is := &issue{proj: p, created: created, catChange: created, status: stToDo}
	is.typ = issueTypes[pickWeighted(r, typeOdds)]
	is.prio = priorities[pickWeighted(r, priorityOdds)]
	is.summary = fake.Pick(r, verbs) + " " + fake.Pick(r, p.nouns)
	if is.typ.name == "Bug" {
		is.summary = fake.Pick(r, []string{"Error on", "Timeouts in", "Wrong totals in", "Crash in", "Flaky"}) + " " + fake.Pick(r, p.nouns)
	}
	is.reporter = fake.Pick(r, p.members)
	for _, l := range p.labelPool {
		if r.Chance(0.18) {
			is.labels = append(is.labels, l)
		}
	}
	if is.typ.name == "Story" {
		pts := float64(fake.Pick(r, []int{1, 2, 3, 5, 8}))
		is.points = &pts
	}
	if r.Chance(0.35) {
		is.assignee = fake.Pick(r, p.members)
	}

	t := created
	add := func(at time.Time, author *user, items ...item) {
		t = at
		is.histories = append(is.histories, &history{author: author, created: at, items: items})
	}
	actor := func() *user {
		if is.assignee != nil {
			return is.assignee
		}
		return is.reporter
	}
	move := func(at time.Time, to int) {
		from := is.status
		items := []item{{field: "status", fieldID: "status", from: str(statuses[from].id), fromString: str(statuses[from].name), to: str(statuses[to].id), toS: str(statuses[to].name)}}
		if to == stDone {
			res := resDone
			if from == stToDo {
				res = resWontDo
			}
			is.res, is.resolved = res, at
			items = append(items, item{field: "resolution", fieldID: "resolution", to: str(res.id), toS: str(res.name)})
		}
		if statuses[from].cat != statuses[to].cat {
			is.catChange = at
		}
		is.status = to
		add(at, actor(), items...)
	}
	for is.status != stDone {
		var gap time.Duration
		next := is.status + 1
		switch is.status {
		case stToDo:
			gap = hours(r, 2, 24*25)
			if r.Chance(0.3) { // the backlog: some work waits months, much is still waiting
				gap = hours(r, 24*25, 24*400)
			}
			if r.Chance(0.05) {
				next = stDone // dropped: Won't Do
			}
		case stInProgress:
			gap = hours(r, 3, 24*12)
			if r.Chance(0.15) { // stalled: blocked, deprioritised, forgotten
				gap = hours(r, 24*20, 24*250)
			}
		case stInReview:
			gap = hours(r, 1, 24*4)
			if r.Chance(0.1) {
				gap = hours(r, 24*10, 24*120)
			}
			if r.Chance(0.2) {
				next = stInProgress // changes requested
			}
		}
		at := t.Add(gap)
		if !at.Before(until) {
			break
		}
		if r.Chance(0.06) { // someone re-prioritised it on the way
			to := fake.Pick(r, priorities)
			if to != is.prio {
				add(t.Add(gap/3), fake.Pick(r, p.members), item{field: "priority", fieldID: "priority", from: str(is.prio.id), fromString: str(is.prio.name), to: str(to.id), toS: str(to.name)})
				is.prio = to
			}
		}
		if next == stInProgress && (is.assignee == nil || r.Chance(0.1)) && r.Chance(0.88) {
			to := fake.Pick(r, p.members)
			if to != is.assignee {
				it := item{field: "assignee", fieldID: "assignee", to: str(to.accountID), toS: str(to.name), accountIDs: true}
				if is.assignee != nil {
					it.from, it.fromString = str(is.assignee.accountID), str(is.assignee.name)
				}
				add(t.Add(gap/2), p.lead, it)
				is.assignee = to
			}
		}
		move(at, next)
	}
	is.updated = is.lastChange()
	if r.Chance(0.2) { // a comment later: updated moves, the changelog does not
		is.updated = r.Between(is.updated, until)
	}
	return is
}
