package googleanalytics

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/meshflow/meshflow/dev/sandbox/internal/fake"
)

// Dimensions are the dimensions runReport knows.
var Dimensions = []string{"date", "sessionDefaultChannelGroup", "landingPage", "country", "deviceCategory"}

// Metrics are the metrics runReport knows, typed as GA4 types them.
var Metrics = []string{
	"sessions", "totalUsers", "activeUsers", "newUsers", "engagedSessions", "conversions", "keyEvents",
	"screenPageViews", "eventCount", "engagementRate", "bounceRate", "averageSessionDuration", "totalRevenue",
}

var metricTypes = map[string]string{
	"sessions": "TYPE_INTEGER", "totalUsers": "TYPE_INTEGER", "activeUsers": "TYPE_INTEGER", "newUsers": "TYPE_INTEGER",
	"engagedSessions": "TYPE_INTEGER", "conversions": "TYPE_INTEGER", "keyEvents": "TYPE_INTEGER",
	"screenPageViews": "TYPE_INTEGER", "eventCount": "TYPE_INTEGER",
	"engagementRate": "TYPE_FLOAT", "bounceRate": "TYPE_FLOAT",
	"averageSessionDuration": "TYPE_SECONDS", "totalRevenue": "TYPE_CURRENCY",
}

var (
	channels = []weighted{
		{"Organic Search", 35}, {"Direct", 20}, {"Paid Search", 12}, {"Referral", 8}, {"Organic Social", 7},
		{"Email", 6}, {"Paid Social", 5}, {"Unassigned", 4}, {"Display", 2}, {"Organic Video", 1},
	}
	pages = []weighted{
		{"/", 30}, {"/pricing", 10}, {"/features", 8}, {"/blog/data-mesh-101", 9}, {"/blog/arrow-vs-parquet", 6},
		{"/docs/getting-started", 9}, {"/docs/connectors", 5}, {"/signup", 6}, {"/contact", 3}, {"/customers", 4},
		{"/careers", 2}, {"(not set)", 1},
	}
	countries = []weighted{
		{"United States", 40}, {"Germany", 12}, {"United Kingdom", 10}, {"India", 9}, {"Canada", 6},
		{"France", 6}, {"Brazil", 5}, {"Japan", 5}, {"Australia", 4}, {"Netherlands", 3},
	}
	devices = []weighted{{"desktop", 60}, {"mobile", 35}, {"tablet", 5}}
	// weekday scales a day's traffic: B2B sites are quiet at weekends.
	weekday = [7]float64{0.55, 1.05, 1.1, 1.1, 1.05, 0.95, 0.6}
)

type weighted struct {
	v string
	w int
}

func pick(r *fake.Rand, xs []weighted) string {
	total := 0
	for _, x := range xs {
		total += x.w
	}
	n := r.IntN(total)
	for _, x := range xs {
		if n < x.w {
			return x.v
		}
		n -= x.w
	}
	return xs[len(xs)-1].v
}

// segment is one combination of the non-date dimensions with a share of a day's
// traffic. A property's traffic is the same segments every day in varying amounts.
type segment struct {
	channel, page, country, device string
	weight                         float64
}

// property is a Property with its parsed zone and generated segments.
type property struct {
	Property
	loc   *time.Location
	first time.Time // first day with traffic (a civil date: midnight UTC)
	segs  []segment
}

const segmentsPerProperty = 60

func newProperty(o Options, p Property, now time.Time) *property {
	loc, err := time.LoadLocation(p.TimeZone)
	if err != nil || p.TimeZone == "" {
		panic(fmt.Sprintf("googleanalytics: property %s: time zone %q: %v", p.ID, p.TimeZone, err))
	}
	if p.CurrencyCode == "" {
		p.CurrencyCode = "USD"
	}
	if p.DailySessions <= 0 {
		p.DailySessions = 500
	}
	out := &property{Property: p, loc: loc, first: civil(now, loc).AddDate(0, 0, -o.Days)}
	r := fake.New(o.Seed, "ga4/"+p.ID+"/segments")
	seen := map[segment]bool{}
	sum := 0.0
	for len(out.segs) < segmentsPerProperty {
		s := segment{channel: pick(r, channels), page: pick(r, pages), country: pick(r, countries), device: pick(r, devices)}
		if seen[s] {
			continue
		}
		seen[s] = true
		// Zipf-like shares: a few segments carry most of the traffic, a long tail
		// has a handful of sessions a day and some days none.
		s.weight = 1 / math.Pow(float64(len(out.segs)+1), 0.9)
		sum += s.weight
		out.segs = append(out.segs, s)
	}
	for i := range out.segs {
		out.segs[i].weight /= sum
	}
	return out
}

// civil is t's calendar day in loc, as midnight UTC.
func civil(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// counts are a segment's additive numbers on one day.
type counts struct {
	sessions, users, active, newUsers, engaged, conversions, views, events int64
	duration, revenue                                                      float64 // seconds; currency units
}

func (c *counts) add(o counts) {
	c.sessions += o.sessions
	c.users += o.users // users are not additive in GA4; the imitation sums them
	c.active += o.active
	c.newUsers += o.newUsers
	c.engaged += o.engaged
	c.conversions += o.conversions
	c.views += o.views
	c.events += o.events
	c.duration += o.duration
	c.revenue += o.revenue
}

// scale returns c settled to fraction f: counts are floored, so they grow
// monotonically to their final values.
func (c counts) scale(f float64) counts {
	if f >= 1 {
		return c
	}
	s := func(n int64) int64 { return int64(math.Floor(float64(n) * f)) }
	return counts{
		sessions: s(c.sessions), users: s(c.users), active: s(c.active), newUsers: s(c.newUsers),
		engaged: s(c.engaged), conversions: s(c.conversions), views: s(c.views), events: s(c.events),
		duration: math.Floor(c.duration * f), revenue: math.Floor(c.revenue*f*100) / 100,
	}
}

// lateHits are k sessions that arrived late for a segment; each brings a user,
// an engaged session, two page views and five events.
func lateHits(k int64) counts {
	return counts{sessions: k, users: k, active: k, engaged: k, views: 2 * k, events: 5 * k, duration: float64(60 * k)}
}

// base is the final (settled) traffic of every segment of p on day.
func (a *API) base(p *property, day time.Time) []counts {
	r := fake.New(a.opts.Seed, "ga4/"+p.ID+"/"+day.Format("20060102"))
	age := day.Sub(p.first).Hours() / 24
	total := float64(p.DailySessions) * weekday[day.Weekday()] * (0.8 + 0.4*age/365) * (0.9 + 0.2*r.Float64())
	out := make([]counts, len(p.segs))
	for i, s := range p.segs {
		var u [11]float64 // drawn whatever the branch, so one segment never shifts another's numbers
		for j := range u {
			u[j] = r.Float64()
		}
		n := int64(total * s.weight * (0.5 + u[0]))
		if u[1] < 0.08 {
			n = 0 // a segment idle for the day: a zero row, only seen with keepEmptyRows
		}
		c := counts{sessions: n}
		c.users = n - int64(float64(n)*0.25*u[2])
		c.active = c.users - int64(float64(c.users)*0.1*u[3])
		c.newUsers = int64(float64(c.users) * (0.3 + 0.4*u[4]))
		c.engaged = int64(float64(n) * (0.45 + 0.35*u[5]))
		c.views = n + int64(float64(n)*(0.3+2*u[6]))
		c.events = 3*c.views + int64(float64(n)*4*u[7])
		c.conversions = int64(float64(n) * 0.06 * u[8])
		c.duration = math.Round(float64(n) * (30 + 150*u[9]))
		c.revenue = math.Round(float64(c.conversions)*(20+180*u[10])*100) / 100
		out[i] = c
	}
	return out
}

// settled is how much of a day's final traffic is visible at now: none before the
// day starts, growing through the day to 90 %, then settling to 100 % over the
// next 48 hours (yesterday and the day before still change), in whole hours so
// requests within one hour of the clock agree.
func settled(p *property, day, now time.Time) float64 {
	start := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, p.loc)
	h := math.Floor(now.Sub(start).Hours())
	switch {
	case h < 0:
		return 0
	case h < 24:
		return 0.9 * (h + 1) / 24
	case h < 72:
		return 0.9 + 0.1*(h-24)/48
	}
	return 1
}

type lateKey struct {
	property string
	day      string // YYYYMMDD
	seg      int
}

// cells is what a report sees of p's segments on day at now: nil when the day has
// no data (before the history or not begun), else settled traffic plus late hits.
// The caller holds a.mu.
func (a *API) cells(p *property, day, now time.Time) []counts {
	f := settled(p, day, now)
	if day.Before(p.first) || f == 0 {
		return nil
	}
	out := a.base(p, day)
	key := day.Format("20060102")
	for i := range out {
		out[i] = out[i].scale(f)
		if k := a.late[lateKey{p.ID, key, i}]; k > 0 {
			out[i].add(lateHits(k))
		}
	}
	return out
}

// dimValue is segment s's value of dimension name on day.
func dimValue(name string, s segment, day time.Time) string {
	switch name {
	case "date":
		return day.Format("20060102")
	case "sessionDefaultChannelGroup":
		return s.channel
	case "landingPage":
		return s.page
	case "country":
		return s.country
	case "deviceCategory":
		return s.device
	}
	return ""
}

// LateHits makes hits arrive late for n rows of property's report on date
// ("YYYY-MM-DD") grouped by dimensions: one segment of each chosen row gains a few
// sessions, so those rows — and only those — change when the day is pulled again.
// Rows are drawn deterministically from the seed and the calls before, among rows
// the report currently shows. It returns each changed row's dimension values in
// the order of dimensions, sorted.
func (a *API) LateHits(property, date string, dimensions []string, n int) ([][]string, error) {
	p, ok := a.props[property]
	if !ok {
		return nil, fmt.Errorf("googleanalytics: unknown property %q", property)
	}
	day, err := time.Parse(time.DateOnly, date)
	if err != nil {
		return nil, fmt.Errorf("googleanalytics: date %q is not YYYY-MM-DD", date)
	}
	for _, d := range dimensions {
		if !slices.Contains(Dimensions, d) {
			return nil, fmt.Errorf("googleanalytics: unknown dimension %q", d)
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	cells := a.cells(p, day, a.nowLocked())
	if cells == nil {
		return nil, fmt.Errorf("googleanalytics: property %s has no data on %s", property, date)
	}
	groups := map[string][]int{} // row key → segments with traffic
	for i, c := range cells {
		if c.sessions == 0 {
			continue
		}
		vals := make([]string, len(dimensions))
		for j, d := range dimensions {
			vals[j] = dimValue(d, p.segs[i], day)
		}
		k := strings.Join(vals, "\x00")
		groups[k] = append(groups[k], i)
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	n = min(max(n, 0), len(keys))
	for i := 0; i < n; i++ { // partial Fisher–Yates: the first n are a uniform sample
		j := i + a.mutator.IntN(len(keys)-i)
		keys[i], keys[j] = keys[j], keys[i]
	}
	chosen := slices.Clone(keys[:n])
	slices.Sort(chosen)
	out := make([][]string, n)
	for i, k := range chosen {
		segs := groups[k]
		seg := segs[a.mutator.IntN(len(segs))]
		a.late[lateKey{p.ID, day.Format("20060102"), seg}] += 1 + int64(a.mutator.IntN(5))
		if len(dimensions) == 0 {
			out[i] = []string{}
		} else {
			out[i] = strings.Split(k, "\x00")
		}
	}
	return out, nil
}
