package googleanalytics

import (
	"math"
	"net/http"
	"time"
	_ "time/tzdata" // Pacific time must load on machines without a zoneinfo database
)

// PropertyQuota is the quota state runReport returns when returnPropertyQuota
// is set: what this request consumed and what remains.
type PropertyQuota struct {
	TokensPerDay                          QuotaStatus `json:"tokensPerDay"`
	TokensPerHour                         QuotaStatus `json:"tokensPerHour"`
	ConcurrentRequests                    QuotaStatus `json:"concurrentRequests"`
	ServerErrorsPerProjectPerHour         QuotaStatus `json:"serverErrorsPerProjectPerHour"`
	PotentiallyThresholdedRequestsPerHour QuotaStatus `json:"potentiallyThresholdedRequestsPerHour"`
	TokensPerProjectPerHour               QuotaStatus `json:"tokensPerProjectPerHour"`
}

// QuotaStatus is one quota's consumption; zero values are left out, as proto3 JSON does.
type QuotaStatus struct {
	Consumed  int `json:"consumed,omitempty"`
	Remaining int `json:"remaining,omitempty"`
}

// usage is one property's token consumption in the current hour and Pacific
// day; a window that is over starts again at zero.
//
// Google's quota page: "Daily quotas refresh at midnight PST, and hourly quotas
// refresh within an hour". The day is Pacific time's whatever the property's own
// zone (America/Los_Angeles, daylight saving included — Google Cloud's quotas
// turn over at Pacific midnight all year), and the hour is the clock's hour.
type usage struct {
	hour, day         string // window keys: "2006-01-02T15" (UTC) and "2006-01-02" (Pacific)
	hourUsed, dayUsed int
	hourFull, dayFull bool // set by ExhaustHourly / ExhaustDaily
}

// Pacific is where daily quotas turn over.
var Pacific = mustLoad("America/Los_Angeles")

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err) // cannot happen: time/tzdata is embedded
	}
	return loc
}

func (u *usage) roll(now time.Time) {
	if h := now.UTC().Format("2006-01-02T15"); h != u.hour {
		u.hour, u.hourUsed, u.hourFull = h, 0, false
	}
	if d := now.In(Pacific).Format(time.DateOnly); d != u.day {
		u.day, u.dayUsed, u.dayFull = d, 0, false
	}
}

// charge takes TokenCost from p's budgets, or refuses with 429 RESOURCE_EXHAUSTED
// naming the window that is exhausted (daily first: it lasts longer). The
// caller holds a.mu.
func (a *API) charge(p *property, now time.Time) (*PropertyQuota, *Error) {
	u := a.usage(p, now)
	cost := a.opts.TokenCost
	perHour, perDay := a.opts.TokensPerHour, a.opts.TokensPerDay
	switch {
	case u.dayFull || (perDay > 0 && u.dayUsed+cost > perDay):
		return nil, &Error{Code: http.StatusTooManyRequests, Status: "RESOURCE_EXHAUSTED", Message: MsgTokensPerDay}
	case u.hourFull || (perHour > 0 && u.hourUsed+cost > perHour):
		return nil, &Error{Code: http.StatusTooManyRequests, Status: "RESOURCE_EXHAUSTED", Message: MsgTokensPerHour}
	}
	u.hourUsed += cost
	u.dayUsed += cost
	left := func(budget, used int) int {
		if budget < 0 {
			return math.MaxInt32
		}
		return budget - used
	}
	return &PropertyQuota{
		TokensPerDay:                          QuotaStatus{cost, left(perDay, u.dayUsed)},
		TokensPerHour:                         QuotaStatus{cost, left(perHour, u.hourUsed)},
		ConcurrentRequests:                    QuotaStatus{0, 10},
		ServerErrorsPerProjectPerHour:         QuotaStatus{0, 10},
		PotentiallyThresholdedRequestsPerHour: QuotaStatus{0, 120},
		TokensPerProjectPerHour:               QuotaStatus{cost, left(perHour, u.hourUsed) * 35 / 100},
	}, nil
}

func (a *API) usage(p *property, now time.Time) *usage {
	u := a.quota[p.ID]
	if u == nil {
		u = &usage{}
		a.quota[p.ID] = u
	}
	u.roll(now)
	return u
}

func (a *API) exhaust(hourly bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.nowLocked()
	for _, id := range a.order {
		u := a.usage(a.props[id], now)
		if hourly {
			u.hourFull = true
		} else {
			u.dayFull = true
		}
	}
}
