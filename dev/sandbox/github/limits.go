package github

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const docRateLimits = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"

// limits is the token's rate-limit accounting. Both windows run on the wall
// clock whatever Options.Now says, because they pace a real client.
//
// Primary: RateLimit requests per hour from the first request of the window;
// 304s and /rate_limit are free. Secondary: SecondaryPerMinute requests of any
// kind per rolling minute.
type limits struct {
	o     Options
	clock func() time.Time

	mu        sync.Mutex
	reset     time.Time // end of the primary window
	used      int
	exhausted bool        // ExhaustPrimary: remaining 0 until reset
	recent    []time.Time // requests of the last minute
	refusals  int         // secondary refusals, to vary their shape

	// GraphQL has budgets of its own: points an hour, and a secondary limit of
	// points a minute (a query counts one).
	gql struct {
		reset     time.Time
		used      int
		exhausted bool // ExhaustGraphQL
		refused   bool // a query was refused in this window: later ones hear "already"
		recent    []time.Time
	}
}

func newLimits(o Options) *limits { return &limits{o: o, clock: time.Now} }

func (l *limits) roll(now time.Time) {
	if !now.Before(l.reset) {
		l.reset = now.Truncate(time.Second).Add(time.Hour)
		l.used, l.exhausted = 0, false
	}
}

func (l *limits) limit() int {
	if l.o.RateLimit < 0 {
		return 5000 // off: report a plausible budget that never runs out
	}
	return l.o.RateLimit
}

func (l *limits) remaining() int {
	switch {
	case l.exhausted:
		return 0
	case l.o.RateLimit < 0:
		return 5000 - l.used%5000
	}
	return max(0, l.o.RateLimit-l.used)
}

// admit decides whether a request may proceed: "" yes, else "primary" or
// "secondary". free requests (/rate_limit) skip the primary check.
func (l *limits) admit(free bool) (refusal string, retryAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock()
	l.roll(now)
	cut := 0
	for cut < len(l.recent) && now.Sub(l.recent[cut]) >= time.Minute {
		cut++
	}
	l.recent = l.recent[cut:]
	if l.o.SecondaryPerMinute > 0 && len(l.recent) >= l.o.SecondaryPerMinute {
		l.refusals++
		return "secondary", l.recent[0].Add(time.Minute).Sub(now)
	}
	l.recent = append(l.recent, now)
	if !free && l.remaining() == 0 {
		return "primary", 0
	}
	return "", 0
}

func (l *limits) rollGraphQL(now time.Time) {
	if !now.Before(l.gql.reset) {
		l.gql.reset = now.Truncate(time.Second).Add(time.Hour)
		l.gql.used, l.gql.exhausted, l.gql.refused = 0, false, false
	}
}

// admitGraphQL is the GraphQL secondary limit: "" or "secondary" with the wait.
func (l *limits) admitGraphQL() (refusal string, retryAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock()
	cut := 0
	for cut < len(l.gql.recent) && now.Sub(l.gql.recent[cut]) >= time.Minute {
		cut++
	}
	l.gql.recent = l.gql.recent[cut:]
	if l.o.GraphQLSecondaryPerMinute > 0 && len(l.gql.recent) >= l.o.GraphQLSecondaryPerMinute {
		l.refusals++
		return "secondary", l.gql.recent[0].Add(time.Minute).Sub(now)
	}
	l.gql.recent = append(l.gql.recent, now)
	return "", 0
}

// chargeGraphQL takes a query's cost from the hour's points: "" when it fits, else
// "exceeded" for the first refusal of the window and "already" after.
func (l *limits) chargeGraphQL(cost int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rollGraphQL(l.clock())
	if l.gql.exhausted || (l.o.GraphQLRateLimit > 0 && l.gql.used+cost > l.o.GraphQLRateLimit) {
		l.gql.exhausted = true
		if l.gql.refused {
			return "already"
		}
		l.gql.refused = true
		return "exceeded"
	}
	l.gql.used += cost
	return ""
}

func (l *limits) graphqlState() (limit, remaining, used int, reset time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rollGraphQL(l.clock())
	limit = l.o.GraphQLRateLimit
	if limit < 0 {
		limit = 5000 // off: a plausible budget that never runs out
	}
	switch {
	case l.gql.exhausted:
		remaining = 0
	case l.o.GraphQLRateLimit < 0:
		remaining = 5000 - l.gql.used%5000
	default:
		remaining = max(0, limit-l.gql.used)
	}
	return limit, remaining, l.gql.used, l.gql.reset
}

func (l *limits) graphqlHeaders(h http.Header) {
	limit, remaining, used, reset := l.graphqlState()
	setLimitHeaders(h, limit, remaining, used, reset)
	h.Set("X-Ratelimit-Resource", "graphql")
}

func (l *limits) exhaustGraphQL() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rollGraphQL(l.clock())
	l.gql.exhausted = true
}

func (l *limits) charge() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.roll(l.clock())
	l.used++
}

func (l *limits) headers(h http.Header) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.roll(l.clock())
	setLimitHeaders(h, l.limit(), l.remaining(), l.used, l.reset)
}

func (l *limits) core() map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.roll(l.clock())
	return map[string]any{"limit": l.limit(), "remaining": l.remaining(), "used": l.used, "reset": l.reset.Unix(), "resource": "core"}
}

func (l *limits) exhaust() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.roll(l.clock())
	l.exhausted = true
}

func (l *limits) usedNow() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.roll(l.clock())
	return l.used
}

func setLimitHeaders(h http.Header, limit, remaining, used int, reset time.Time) {
	h.Set("X-Ratelimit-Limit", strconv.Itoa(limit))
	h.Set("X-Ratelimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-Ratelimit-Used", strconv.Itoa(used))
	h.Set("X-Ratelimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	h.Set("X-Ratelimit-Resource", "core")
}

// userAgentMessage is GitHub's plain-text 403 for a request without a User-Agent.
const userAgentMessage = "Request forbidden by administrative rules. Please make sure your request has a User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required). Check https://developer.github.com for other possible causes.\n"

// guard is what GitHub does before routing: User-Agent, authentication, limits.
func (a *API) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("User-Agent") == "" {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(userAgentMessage))
			return
		}
		auth := r.Header.Get("Authorization")
		token, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok {
			token, ok = strings.CutPrefix(auth, "token ")
		}
		graphql := r.URL.Path == "/graphql"
		if !ok || token != a.opts.Token {
			// The unauthenticated budget: 60 an hour.
			setLimitHeaders(w.Header(), 60, 59, 1, time.Now().Add(time.Hour))
			msg, doc := "Bad credentials", "https://docs.github.com/rest"
			switch {
			case graphql && auth == "":
				msg, doc = "This endpoint requires you to be authenticated.", docGraphQL
			case graphql:
				doc = docGraphQL
			case auth == "":
				msg = "Requires authentication"
			}
			writeJSON(w, http.StatusUnauthorized, errorBody(http.StatusUnauthorized, msg, doc))
			return
		}
		var refusal string
		var wait time.Duration
		if graphql {
			// Its primary limit is in points, charged once the query is measured.
			refusal, wait = a.limits.admitGraphQL()
		} else {
			refusal, wait = a.limits.admit(r.URL.Path == "/rate_limit")
		}
		switch refusal {
		case "primary":
			a.limits.headers(w.Header())
			writeJSON(w, http.StatusForbidden, errorBody(http.StatusForbidden,
				"API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, please include the request ID "+requestID()+".", docRateLimits))
			return
		case "secondary":
			// remaining > 0: only the message tells it from a permission 403
			if graphql {
				a.limits.graphqlHeaders(w.Header())
			} else {
				a.limits.headers(w.Header())
			}
			a.limits.mu.Lock()
			n := a.limits.refusals
			a.limits.mu.Unlock()
			status := http.StatusForbidden
			if n%2 == 0 { // sometimes 429 with retry-after, sometimes a bare 403
				status = http.StatusTooManyRequests
				w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
			}
			writeJSON(w, status, errorBody(status, SecondaryMessage+" If you reach out to GitHub Support for help, please include the request ID "+requestID()+".", docRateLimits))
			return
		}
		next.ServeHTTP(w, r)
	})
}

var faultFlip atomic.Uint64

// WriteRateLimited writes the rate-limit answer the sandbox's fault injection
// uses. With retryAfter > 0 it is a secondary limit (429) with a retry-after of
// that many whole seconds. Without, it is a primary limit exhausted until the
// next second (x-ratelimit-remaining 0, x-ratelimit-reset), alternating 403 and
// 429 as GitHub does: a client that needs neither a retry-after nor a long wait
// recovers at once, and one that ignores the headers does not.
func WriteRateLimited(w http.ResponseWriter, retryAfter time.Duration) {
	now := time.Now()
	reset := now.Truncate(time.Second).Add(time.Second)
	if retryAfter > 0 {
		setLimitHeaders(w.Header(), 5000, 4000, 1000, now.Add(time.Hour))
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(retryAfter.Seconds()))))
		writeJSON(w, http.StatusTooManyRequests, errorBody(http.StatusTooManyRequests, SecondaryMessage, docRateLimits))
		return
	}
	setLimitHeaders(w.Header(), 5000, 0, 5000, reset)
	status := http.StatusForbidden
	if faultFlip.Add(1)%2 == 0 {
		status = http.StatusTooManyRequests
	}
	writeJSON(w, status, errorBody(status, "API rate limit exceeded for user ID 1.", docRateLimits))
}
