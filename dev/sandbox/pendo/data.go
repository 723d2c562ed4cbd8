package pendo

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/meshflow/meshflow/dev/sandbox/internal/fake"
)

// Event sources the aggregation endpoint serves rows of, one per visitor, account,
// server, remote IP, object and time bucket.
const (
	PageEvents    = "pageEvents"
	FeatureEvents = "featureEvents"
)

// Servers are the hosts of the customer's app that events are recorded on.
var Servers = []string{"app.example.test", "eu.app.example.test"}

// Plans are the account plans metadata.agent.plan draws from.
var Plans = []string{"starter", "growth", "enterprise"}

type account struct {
	id                   string
	name, domain, plan   string
	mrr                  int64
	paying               bool
	first, last, updated int64 // epoch ms
	company              string
	variant              string
}

type visitor struct {
	id                   string
	account              *account
	email, name, role    string
	ip, browser, os, ua  string
	first, last, updated int64   // epoch ms
	activity             float64 // multiplies the daily chance of being active
}

// object is a page or a feature.
type object struct {
	id, name, kind   string
	pageID           string // features: the page they sit on
	rule             string // pages: URL rule; features: element path
	created, updated int64
	creator          string
}

type dataset struct {
	accounts []*account
	visitors []*visitor
	pages    []*object
	features []*object
}

func ms(t time.Time) int64 { return t.UnixMilli() }

// generate builds the seeded data. today is the subscription-local start of Now's
// day: every seeded timestamp lies before it, so the data does not depend on the
// hour it was built at.
func generate(o Options, today, firstDay time.Time) *dataset {
	d := &dataset{}
	until := today.Add(-time.Minute)
	// A nightly metadata sync rewrote a share of accounts at one instant: several
	// records share one lastupdated, which incremental reads must not loop on.
	bulkAt := today.AddDate(0, 0, -7).Add(3 * time.Hour)

	r := fake.New(o.Seed, "pendo/accounts")
	taken := map[string]bool{}
	for _, c := range o.Companies {
		taken[c.Domain] = true
	}
	nMatched := min(int(math.Round(o.MatchedShare*float64(o.Accounts))), len(o.Companies))
	chosen := fake.Sample(r, o.Companies, nMatched)
	type seed struct {
		c       fake.Company
		matched bool
	}
	seeds := make([]seed, o.Accounts)
	for i := range seeds {
		if i < nMatched {
			seeds[i] = seed{chosen[i], true}
		} else {
			seeds[i] = seed{r.Stranger(taken), false}
		}
	}
	seeds = fake.Sample(r, seeds, len(seeds)) // interleave matched accounts and strangers
	for i, s := range seeds {
		a := &account{id: "acct-" + strconv.Itoa(i+1), name: s.c.Name, domain: s.c.Domain, variant: fake.VariantUnmatched}
		if s.matched {
			a.company = s.c.Domain
			a.domain, a.variant = vary(r, s.c.Domain)
			if r.Chance(0.2) {
				a.name += fake.Pick(r, []string{" Inc.", ", Inc.", " LLC", " Ltd"})
			}
		}
		a.plan = fake.Pick(r, Plans)
		a.paying = r.Chance(0.9)
		if a.paying {
			lo := map[string]int64{"starter": 49, "growth": 500, "enterprise": 5000}[a.plan]
			a.mrr = lo + r.Int64N(lo*10)
		}
		first := r.Between(today.AddDate(-3, 0, 0), today.AddDate(0, 0, -30))
		a.first = ms(first)
		a.last = ms(r.Between(today.AddDate(0, 0, -30), until))
		a.updated = ms(r.Between(first, until))
		if r.Chance(0.2) {
			a.updated = ms(bulkAt)
		}
		d.accounts = append(d.accounts, a)
	}

	r = fake.New(o.Seed, "pendo/visitors")
	roles := []string{"admin", "analyst", "manager", "member", "viewer"}
	browsers := []string{"Chrome", "Chrome", "Safari", "Firefox", "Edge"}
	systems := []string{"Mac OS X", "Windows", "Windows", "Linux", "iOS"}
	for i := range o.Visitors {
		acct := d.accounts[r.IntN(len(d.accounts))]
		firstName, lastName := r.Person()
		v := &visitor{
			id:      "v-" + strconv.Itoa(i+1),
			account: acct,
			name:    firstName + " " + lastName,
			email:   ascii(firstName) + "." + ascii(lastName) + "@" + fake.CanonicalDomain(acct.domain),
			role:    fake.Pick(r, roles),
			ip:      "203.0." + strconv.Itoa(113+r.IntN(2)) + "." + strconv.Itoa(1+r.IntN(254)),
			browser: fake.Pick(r, browsers),
			os:      fake.Pick(r, systems),
		}
		v.ua = "Mozilla/5.0 (" + v.os + ") " + v.browser + "/" + strconv.Itoa(100+r.IntN(30))
		first := r.Between(firstDay.AddDate(0, 0, -60), today.AddDate(0, 0, -1))
		v.first = ms(first)
		v.last = ms(r.Between(first, until))
		v.updated = ms(r.Between(first, until))
		v.activity = 0.3 + 1.4*r.Float64()
		d.visitors = append(d.visitors, v)
	}

	r = fake.New(o.Seed, "pendo/pages")
	creators := []string{"ana.silva", "ben.okafor", "chloe.nguyen", "pendo-admin"}
	for i := range o.Pages {
		area := pageAreas[i%len(pageAreas)]
		name, path := area, fake.Slug(area)
		if n := i / len(pageAreas); n > 0 {
			name += " – " + pageViews[(n-1)%len(pageViews)]
			path += "/*/" + fake.Slug(pageViews[(n-1)%len(pageViews)])
		}
		d.pages = append(d.pages, newObject(r, "Page", name, "//*/"+path, today, creators))
	}
	r = fake.New(o.Seed, "pendo/features")
	for i := range o.Features {
		p := d.pages[r.IntN(len(d.pages))]
		action := featureActions[i%len(featureActions)]
		f := newObject(r, "Feature", action+" ("+p.name+")", "#"+fake.Slug(action)+"-"+strconv.Itoa(i), today, creators)
		f.pageID = p.id
		d.features = append(d.features, f)
	}
	return d
}

func newObject(r *fake.Rand, kind, name, rule string, today time.Time, creators []string) *object {
	created := r.Between(today.AddDate(-2, 0, 0), today.AddDate(0, 0, -30))
	return &object{
		id: pendoID(r), name: name, kind: kind, rule: rule,
		created: ms(created), updated: ms(r.Between(created, today.Add(-time.Hour))),
		creator: fake.Pick(r, creators),
	}
}

// vary spells a canonical domain the way a Pendo admin typed it into account
// metadata.
func vary(r *fake.Rand, d string) (string, string) {
	switch u := r.Float64(); {
	case u < 0.5:
		return d, fake.VariantExact
	case u < 0.7:
		return "www." + d, fake.VariantWWW
	case u < 0.85:
		return fake.Pick(r, []string{"https://" + d, "https://www." + d + "/", "http://" + d + "/"}), fake.VariantURL
	default:
		if r.Chance(0.5) {
			return strings.ToUpper(d), fake.VariantCase
		}
		return fake.TitleCase(d), fake.VariantCase
	}
}

const idChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// pendoID looks like Pendo's object ids: 27 URL-safe characters.
func pendoID(r *fake.Rand) string {
	b := make([]byte, 27)
	for i := range b {
		b[i] = idChars[r.IntN(len(idChars))]
	}
	if r.Chance(0.3) {
		b[5+r.IntN(20)] = "-_"[r.IntN(2)]
	}
	return string(b)
}

func ascii(s string) string {
	return strings.NewReplacer("ü", "u", "'", "", " ", "").Replace(strings.ToLower(s))
}

var pageAreas = []string{
	"Dashboard", "Settings", "Billing", "Reports", "Users", "Integrations", "Projects", "Search",
	"Notifications", "Profile", "Onboarding", "Audit Log", "Exports", "Alerts", "Workflows",
	"Templates", "Teams", "API Keys", "Help Center", "Home",
}

var pageViews = []string{"Detail", "Edit", "New"}

var featureActions = []string{
	"Save", "Export CSV", "Invite User", "Create Project", "Share Link", "Filter", "Delete", "Upgrade Plan",
	"Connect Integration", "Download PDF", "Add Widget", "Schedule Report", "Duplicate", "Archive",
	"Open Help", "Switch Team", "Copy API Key", "Run Workflow", "Mark as Read", "Change Role",
}

// objectsWire is GET /page or /feature: every object, no paging.
func (d *dataset) objectsWire(objs []*object) []map[string]any {
	out := make([]map[string]any, len(objs))
	for i, o := range objs {
		user := map[string]any{"id": "u-" + o.creator, "username": o.creator + "@example.test"}
		m := map[string]any{
			"id": o.id, "name": o.name, "kind": o.kind, "appId": AppID,
			"createdAt": o.created, "lastUpdatedAt": o.updated,
			"createdByUser": user, "lastUpdatedByUser": user,
			"isCoreEvent": len(o.name)%7 == 0,
		}
		if o.kind == "Page" {
			m["rules"] = []map[string]any{{"rule": o.rule, "designerHint": strings.TrimPrefix(o.rule, "//*")}}
		} else {
			m["pageId"] = o.pageID
			m["elementPathRules"] = []string{o.rule}
		}
		out[i] = m
	}
	return out
}

func (a *account) wire() map[string]any {
	agent := map[string]any{"name": a.name, "domain": a.domain, "plan": a.plan, "is_paying": a.paying}
	if a.paying {
		agent["mrr"] = a.mrr
	}
	return map[string]any{
		"accountId": a.id,
		"metadata": map[string]any{
			"auto":  map[string]any{"id": a.id, "firstvisit": a.first, "lastvisit": a.last, "lastupdated": a.updated},
			"agent": agent,
		},
	}
}

func (v *visitor) wire() map[string]any {
	return map[string]any{
		"visitorId": v.id,
		"metadata": map[string]any{
			"auto": map[string]any{
				"id": v.id, "accountid": v.account.id, "accountids": []string{v.account.id},
				"firstvisit": v.first, "lastvisit": v.last, "lastupdated": v.updated,
				"lastbrowsername": v.browser, "lastoperatingsystem": v.os, "lastservername": Servers[0],
			},
			"agent": map[string]any{"email": v.email, "full_name": v.name, "role": v.role},
		},
	}
}

// eventRow is one aggregated row of a day: a visitor's events on one object from
// one server and address.
type eventRow struct {
	v               *visitor
	obj             string
	server, ip      string
	events, minutes int
	hour            int // local hour of the day the events fall in
}

type dayKey struct {
	source string
	day    int64 // epoch ms of the local midnight
}

// overlay is what AddEvents changed on one day.
type overlay struct {
	bump map[int]int // generated row index → events added
	add  []eventRow
}

// dayRows are the rows of source on the local day starting at day: generated
// from the seed and the date alone (so no year of events sits in memory), plus
// what AddEvents changed. Callers hold the lock.
func (a *API) dayRows(source string, day time.Time) []eventRow {
	if day.Before(a.firstDay) || day.After(a.opts.Now()) {
		return nil // no events before the history or after today (which runs on)
	}
	objs := a.data.pages
	chance := 0.12
	if source == FeatureEvents {
		objs, chance = a.data.features, 0.09
	}
	if wd := day.Weekday(); wd == time.Saturday || wd == time.Sunday {
		chance /= 4
	}
	end := ms(day.AddDate(0, 0, 1))
	r := fake.New(a.opts.Seed, "pendo/"+source+"/"+day.Format(time.DateOnly))
	var rows []eventRow
	for _, v := range a.data.visitors {
		u := r.Float64()
		if v.first >= end || u >= chance*v.activity {
			continue
		}
		server, ip := Servers[0], v.ip
		if r.Chance(0.1) {
			server = Servers[1]
		}
		if r.Chance(0.1) {
			ip = "198.51.100." + strconv.Itoa(1+r.IntN(254))
		}
		n := 1 + r.IntN(3)
		picked := map[int]bool{}
		for len(picked) < min(n, len(objs)) {
			j := r.IntN(len(objs))
			if picked[j] {
				continue
			}
			picked[j] = true
			events := 1 + r.IntN(25)
			rows = append(rows, eventRow{v: v, obj: objs[j].id, server: server, ip: ip, events: events, minutes: 1 + r.IntN(1+events/2), hour: 7 + r.IntN(12)})
		}
	}
	if ov := a.extra[dayKey{source, ms(day)}]; ov != nil {
		for i, n := range ov.bump {
			rows[i].events += n
			rows[i].minutes++
		}
		rows = append(rows, ov.add...)
	}
	return rows
}

// wire renders an event row with its bucket field ("day" or "hour").
func (e eventRow) wire(source, bucketField string, bucket int64) map[string]any {
	m := map[string]any{
		"accountId": e.v.account.id, "visitorId": e.v.id, bucketField: bucket,
		"numEvents": e.events, "numMinutes": e.minutes,
		"server": e.server, "remoteIp": e.ip, "userAgent": e.v.ua, "appId": AppID,
	}
	if source == FeatureEvents {
		m["featureId"] = e.obj
	} else {
		m["pageId"] = e.obj
	}
	return m
}

// sameKey tells whether two rows would share Pendo's grouping key.
func (e eventRow) sameKey(o eventRow) bool {
	return e.v == o.v && e.obj == o.obj && e.server == o.server && e.ip == o.ip
}
