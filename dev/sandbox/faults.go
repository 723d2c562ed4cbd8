package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshflow/meshflow/dev/sandbox/internal/fake"
)

// Faults are the failure rates injected into vendor API requests, each a share of
// requests between 0 and 1 (their sum should not exceed 1). Which request fails is
// decided by the seed and the request's sequence number, so a client that sends
// the same requests in the same order meets the same faults. Admin endpoints are
// never faulted.
type Faults struct {
	RateLimited float64 // answered 429 with the vendor's rate-limit body
	ServerError float64 // answered 500, 502, 503 or 504 with a non-JSON body
	Slow        float64 // answered normally after SlowDelay (or when the client gives up)
	Truncate    float64 // the body is cut in half and the connection closed

	SlowDelay  time.Duration // default 2 s
	RetryAfter time.Duration // a Retry-After header on faulted 429s, whole seconds; 0 = none

	// RateLimitNext answers the next this many vendor requests 429, before the rates
	// above apply to the ones after: a rate limit a test can count on, such as one
	// 429 that a client's single retry gets past. It counts down as they come.
	RateLimitNext int
}

// faultsJSON is Faults on the admin wire, durations as Go duration strings ("2s").
type faultsJSON struct {
	RateLimited float64 `json:"rate_limited"`
	ServerError float64 `json:"server_error"`
	Slow        float64 `json:"slow"`
	Truncate    float64 `json:"truncate"`
	SlowDelay   string  `json:"slow_delay,omitempty"`
	RetryAfter  string  `json:"retry_after,omitempty"`
	// RateLimitNext counts requests, not a share of them.
	RateLimitNext int `json:"rate_limit_next,omitempty"`
}

// MarshalJSON writes durations as strings such as "2s".
func (f Faults) MarshalJSON() ([]byte, error) {
	w := faultsJSON{RateLimited: f.RateLimited, ServerError: f.ServerError, Slow: f.Slow, Truncate: f.Truncate, RateLimitNext: f.RateLimitNext}
	if f.SlowDelay > 0 {
		w.SlowDelay = f.SlowDelay.String()
	}
	if f.RetryAfter > 0 {
		w.RetryAfter = f.RetryAfter.String()
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (f *Faults) UnmarshalJSON(b []byte) error {
	var w faultsJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	out := Faults{RateLimited: w.RateLimited, ServerError: w.ServerError, Slow: w.Slow, Truncate: w.Truncate, RateLimitNext: w.RateLimitNext}
	var err error
	if w.SlowDelay != "" {
		if out.SlowDelay, err = time.ParseDuration(w.SlowDelay); err != nil {
			return fmt.Errorf("slow_delay: %w", err)
		}
	}
	if w.RetryAfter != "" {
		if out.RetryAfter, err = time.ParseDuration(w.RetryAfter); err != nil {
			return fmt.Errorf("retry_after: %w", err)
		}
	}
	*f = out
	return nil
}

// Validate reports rates outside 0..1 or summing past 1.
func (f Faults) Validate() error {
	sum := 0.0
	for _, r := range []float64{f.RateLimited, f.ServerError, f.Slow, f.Truncate} {
		if r < 0 || r > 1 {
			return fmt.Errorf("sandbox: fault rate %v is outside 0..1", r)
		}
		sum += r
	}
	if sum > 1 {
		return fmt.Errorf("sandbox: fault rates sum to %v, more than 1", sum)
	}
	if f.SlowDelay < 0 || f.RetryAfter < 0 {
		return fmt.Errorf("sandbox: negative fault duration")
	}
	if f.RateLimitNext < 0 {
		return fmt.Errorf("sandbox: rate_limit_next %d is negative", f.RateLimitNext)
	}
	return nil
}

// faultInjector draws one decision per vendor request from the seed and the
// request's sequence number.
type faultInjector struct {
	seed int64
	seq  atomic.Uint64

	mu sync.RWMutex
	f  Faults
}

func (fi *faultInjector) set(f Faults) {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	fi.f = f
}

func (fi *faultInjector) get() Faults {
	fi.mu.RLock()
	defer fi.mu.RUnlock()
	return fi.f
}

// draw returns the faults for one request, and whether it is one of the next
// RateLimitNext (counted down).
func (fi *faultInjector) draw() (Faults, bool) {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	if fi.f.RateLimitNext > 0 {
		fi.f.RateLimitNext--
		return fi.f, true
	}
	return fi.f, false
}

// FaultHeader names the fault a response carries, for logs and curious humans.
const FaultHeader = "X-Sandbox-Fault"

// middleware injects faults in front of a vendor. rateLimited writes that vendor's
// own 429 response, since clients tell rate limits apart by the vendor's body.
func (fi *faultInjector) middleware(rateLimited func(w http.ResponseWriter, retryAfter time.Duration)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			f, limitNow := fi.draw()
			n := fi.seq.Add(1) - 1
			u := fake.Unit(fi.seed, n)
			switch {
			case limitNow || u < f.RateLimited:
				w.Header().Set(FaultHeader, "429")
				rateLimited(w, f.RetryAfter)
			case u < f.RateLimited+f.ServerError:
				writeServerError(w, []int{500, 502, 503, 504}[fake.Mix(fi.seed^0x5cc, n)%4])
			case u < f.RateLimited+f.ServerError+f.Slow:
				// Consume the body first: net/http notices a client that hangs up
				// only once the body is read, and the wait must end when it does.
				if b, err := io.ReadAll(r.Body); err == nil {
					r.Body = io.NopCloser(bytes.NewReader(b))
				}
				delay := f.SlowDelay
				if delay <= 0 {
					delay = 2 * time.Second
				}
				t := time.NewTimer(delay)
				defer t.Stop()
				select {
				case <-t.C:
				case <-r.Context().Done(): // the client gave up; so do we
					return
				}
				w.Header().Set(FaultHeader, "slow")
				next.ServeHTTP(w, r)
			case u < f.RateLimited+f.ServerError+f.Slow+f.Truncate:
				truncate(w, r, next)
			default:
				next.ServeHTTP(w, r)
			}
		})
	}
}

// writeServerError answers like a load balancer in trouble: HTML, not the
// vendor's JSON, so clients must not assume error bodies decode.
func writeServerError(w http.ResponseWriter, status int) {
	w.Header().Set(FaultHeader, strconv.Itoa(status))
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<html><head><title>%d %s</title></head><body><h1>%d %s</h1></body></html>\n", status, http.StatusText(status), status, http.StatusText(status))
}

// truncate serves the request into a buffer, then announces the full length but
// sends only half: the server closes the connection and the client reads an
// unexpected EOF mid-body, as when a proxy drops a connection.
func truncate(w http.ResponseWriter, r *http.Request, next http.Handler) {
	rec := &bufferedResponse{header: http.Header{}, status: http.StatusOK}
	next.ServeHTTP(rec, r)
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.Header().Set(FaultHeader, "truncate")
	w.Header().Set("Content-Length", strconv.Itoa(rec.body.Len()))
	w.WriteHeader(rec.status)
	w.Write(rec.body.Bytes()[:rec.body.Len()/2])
}

type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header         { return b.header }
func (b *bufferedResponse) WriteHeader(status int)      { b.status = status }
func (b *bufferedResponse) Write(p []byte) (int, error) { return b.body.Write(p) }
