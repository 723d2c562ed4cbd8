package hubspot

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshflow/meshflow/dev/sandbox/internal/fake"
)

// Rate-limit policy names as they appear in HubSpot's 429 bodies.
const (
	PolicyTenSecondly = "TEN_SECONDLY_ROLLING"
	PolicySecondly    = "SECONDLY"
	PolicyDaily       = "DAILY"
)

// limits is HubSpot's per-account accounting. The rolling windows run on the wall
// clock whatever Options.Now says, because they pace a real client's requests;
// the daily quota follows Now, because it is about the account's calendar day.
type limits struct {
	o     Options
	clock func() time.Time

	mu       sync.Mutex
	recent   []time.Time // accepted non-search requests of the last 10 s
	searches []time.Time // accepted searches of the last second
	day      string
	used     int // requests accepted on day
}

func newLimits(o Options) *limits { return &limits{o: o, clock: time.Now} }

// admit accounts one request and returns the policy that refuses it ("" = allowed)
// and the rate-limit headers to send.
func (l *limits) admit(search bool) (policy string, h http.Header) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock()
	if d := l.o.Now().UTC().Format(time.DateOnly); d != l.day {
		l.day, l.used = d, 0
	}
	l.recent = trim(l.recent, now.Add(-10*time.Second))
	l.searches = trim(l.searches, now.Add(-time.Second))

	switch {
	case l.o.DailyLimit > 0 && l.used >= l.o.DailyLimit:
		policy = PolicyDaily
	case search && l.o.SearchPerSecond > 0 && len(l.searches) >= l.o.SearchPerSecond:
		policy = PolicySecondly
	case !search && l.o.RateLimit > 0 && len(l.recent) >= l.o.RateLimit:
		policy = PolicyTenSecondly
	default:
		l.used++
		if search {
			l.searches = append(l.searches, now)
		} else {
			l.recent = append(l.recent, now)
		}
	}
	if search { // reported: search responses carry no rate-limit headers
		return policy, nil
	}
	h = http.Header{}
	if l.o.DailyLimit > 0 {
		h.Set("X-HubSpot-RateLimit-Daily", strconv.Itoa(l.o.DailyLimit))
		h.Set("X-HubSpot-RateLimit-Daily-Remaining", strconv.Itoa(max(0, l.o.DailyLimit-l.used)))
	}
	if l.o.RateLimit > 0 {
		h.Set("X-HubSpot-RateLimit-Interval-Milliseconds", "10000")
		h.Set("X-HubSpot-RateLimit-Max", strconv.Itoa(l.o.RateLimit))
		h.Set("X-HubSpot-RateLimit-Remaining", strconv.Itoa(max(0, l.o.RateLimit-len(l.recent))))
	}
	return policy, h
}

func (l *limits) exhaustDaily() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.day = l.o.Now().UTC().Format(time.DateOnly)
	l.used = math.MaxInt32
}

// restoreDaily ends an exhaustion of the daily quota now, as the account's next day
// would.
func (l *limits) restoreDaily() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.used = 0
}

// trim drops times before cutoff from the front of the ascending slice ts.
func trim(ts []time.Time, cutoff time.Time) []time.Time {
	i, _ := slices.BinarySearchFunc(ts, cutoff, func(t, c time.Time) int { return t.Compare(c) })
	return ts[i:]
}

// guard is what HubSpot does before routing: authentication, scopes, rate limits.
func (a *API) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		token, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok || token != a.opts.Token {
			w.Header().Set("X-HubSpot-Auth-Failure", "401 Unauthorized")
			writeError(w, http.StatusUnauthorized, "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview", "INVALID_AUTHENTICATION")
			return
		}
		parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/") // crm v3 objects {object} ...
		if len(parts) >= 4 && slices.Contains(a.opts.MissingScopes, parts[3]) {
			writeJSON(w, http.StatusForbidden, map[string]any{
				"status":        "error",
				"message":       "This app hasn't been granted all required scopes to make this call. Read more about required scopes here: https://developers.hubspot.com/scopes.",
				"correlationId": correlationID(),
				"errors": []any{map[string]any{
					"message": "One or more of the following scopes are required.",
					"context": map[string]any{"requiredGranularScopes": []string{"crm.objects." + parts[3] + ".read"}},
				}},
				"category": "MISSING_SCOPES",
			})
			return
		}
		search := r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/search")
		policy, h := a.limits.admit(search)
		for k, v := range h {
			w.Header()[k] = v
		}
		if policy != "" {
			WriteRateLimited(w, policy, 0)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// WriteRateLimited writes HubSpot's 429 for policy. retryAfter > 0 adds a
// Retry-After header in whole seconds (whether HubSpot sends one is unconfirmed,
// so clients must not need it).
func WriteRateLimited(w http.ResponseWriter, policy string, retryAfter time.Duration) {
	if retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(retryAfter.Seconds()))))
	}
	writeJSON(w, http.StatusTooManyRequests, map[string]any{
		"status":        "error",
		"message":       "You have reached your " + strings.ToLower(policy) + " limit.",
		"errorType":     "RATE_LIMIT",
		"correlationId": correlationID(),
		"policyName":    policy,
	})
}

// writeError writes HubSpot's usual error body.
func writeError(w http.ResponseWriter, status int, msg, category string) {
	writeJSON(w, status, errorBody(msg, category))
}

func errorBody(msg, category string) map[string]any {
	return map[string]any{
		"status":        "error",
		"message":       msg,
		"correlationId": correlationID(),
		"category":      category,
	}
}

var correlations atomic.Uint64

// correlationID looks like HubSpot's UUIDs; it is only for humans reading logs.
func correlationID() string {
	x := fake.Mix(0x5eed, correlations.Add(1))
	y := fake.Mix(0xc0de, x)
	return fmt.Sprintf("%08x-%04x-4%03x-a%03x-%012x", uint32(x>>32), uint16(x>>16), uint16(x)&0xfff, uint16(y>>48)&0xfff, y&0xffffffffffff)
}
