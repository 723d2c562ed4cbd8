package source_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/secret"
	"github.com/meshflow/meshflow/framework/source"
)

// key holds characters that URL and query escaping change, so a leak of an
// escaped form would show.
const key = "k3y+with/slash=and space&amp"

func newAPI(t *testing.T, h http.Handler, o source.APIOptions) *source.API {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	if o.Title == "" {
		o.Title = "Vendor"
	}
	o.BaseURL = ts.URL + "/api/v1"
	api, err := source.NewAPI(o)
	if err != nil {
		t.Fatal(err)
	}
	return api
}

// Each Auth puts its credentials where the API expects them, on every request.
func TestAPIAuthOnEveryRequest(t *testing.T) {
	for _, c := range []struct {
		name string
		auth source.Auth
		got  func(*http.Request) string
		want string
	}{
		{"bearer", source.Bearer(key), func(r *http.Request) string { return r.Header.Get("Authorization") }, "Bearer " + key},
		{"header", source.APIKeyHeader("X-cb-user-key", key, ""), func(r *http.Request) string { return r.Header.Get("X-cb-user-key") }, key},
		{"query", source.APIKeyQuery("user_key", key), func(r *http.Request) string { return r.URL.Query().Get("user_key") }, key},
		{"basic", source.Basic("bot@example.com", key), func(r *http.Request) string {
			u, p, _ := r.BasicAuth()
			return u + ":" + p
		}, "bot@example.com:" + key},
	} {
		t.Run(c.name, func(t *testing.T) {
			var seen []string
			api := newAPI(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seen = append(seen, c.got(r)+" "+r.URL.Path+" "+r.URL.Query().Get("page"))
				w.Write([]byte(`{}`))
			}), source.APIOptions{Auth: c.auth})
			for page := range 2 {
				if _, err := api.Do(t.Context(), source.Call{Op: "list", Path: "/things", Query: url.Values{"page": {fmt.Sprint(page)}}}); err != nil {
					t.Fatal(err)
				}
			}
			if want := []string{c.want + " /api/v1/things 0", c.want + " /api/v1/things 1"}; fmt.Sprint(seen) != fmt.Sprint(want) {
				t.Errorf("the server saw %q, want %q", seen, want)
			}
		})
	}
}

// Retry-After is read in seconds or as an HTTP date, on a 429 and on a 503.
func TestAPIRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		status int
		header string
		kind   errs.Kind
		want   time.Duration
	}{
		{429, "7", errs.RateLimited, 7 * time.Second},
		{429, now.Add(90 * time.Second).Format(http.TimeFormat), errs.RateLimited, 90 * time.Second},
		{429, now.Add(-time.Minute).Format(http.TimeFormat), errs.RateLimited, 0},
		{429, "", errs.RateLimited, 0},
		{429, "soon", errs.RateLimited, 0},
		{503, "12", errs.Transient, 12 * time.Second},
		{503, "", errs.Transient, 0},
	} {
		api := newAPI(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if c.header != "" {
				w.Header().Set("Retry-After", c.header)
			}
			w.WriteHeader(c.status)
		}), source.APIOptions{Now: func() time.Time { return now }})
		_, err := api.Do(t.Context(), source.Call{Op: "get", Path: "/x"})
		e, _ := errs.As(err)
		if !errs.Is(err, c.kind) || e.RetryAfter != c.want {
			t.Errorf("HTTP %d Retry-After %q: %v (retry after %v), want %v after %v", c.status, c.header, err, e.RetryAfter, c.kind, c.want)
		}
	}
}

// The default classification, and a connector's hook in front of it.
func TestAPIClassification(t *testing.T) {
	for _, c := range []struct {
		status int
		body   string
		kind   errs.Kind
		says   string
	}{
		{401, `{"message":"bad key"}`, errs.Permission, "set VENDOR_KEY to a valid key. Vendor said: bad key"},
		{403, `[{"code":"MD403","message":"insufficient permissions"}]`, errs.Permission, "MD403: insufficient permissions"},
		{404, `<html>nope</html>`, errs.NotFound, "check VENDOR_BASE_URL ("},
		{400, `[{"code":"MD100","message":"Missing required field: field_ids"}]`, errs.Invalid, "HTTP 400): MD100: Missing required field: field_ids"},
		{400, `{"error":{"code":400,"message":"bad dimension","status":"INVALID_ARGUMENT"}}`, errs.Invalid, "bad dimension"},
		{500, ``, errs.Transient, "HTTP 500: Internal Server Error"},
		{408, `slow`, errs.Transient, "HTTP 408: slow"},
		{402, `{"message":"out of credits"}`, errs.Quota, "credits until"},
	} {
		api := newAPI(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(c.status)
			w.Write([]byte(c.body))
		}), source.APIOptions{BaseURLVar: "VENDOR_BASE_URL", Credentials: "set VENDOR_KEY to a valid key",
			Classify: func(op string, r *source.Response) error {
				if r.Status != http.StatusPaymentRequired {
					return nil
				}
				e := errs.Errorf(errs.Quota, op, "out of credits until tomorrow: %s", r.Said())
				e.Until = time.Now().Add(time.Hour)
				return e
			}})
		_, err := api.Do(t.Context(), source.Call{Op: "vendor: list", Path: "/x"})
		if !errs.Is(err, c.kind) || !strings.Contains(err.Error(), c.says) || !strings.HasPrefix(err.Error(), "vendor: list: ") {
			t.Errorf("HTTP %d %s: %v (%v), want %v saying %q", c.status, c.body, err, errs.KindOf(err), c.kind, c.says)
		}
	}
}

// No error shows a secret, in any encoding, whether the server echoes it in an
// error body or a transport error quotes the URL carrying it.
func TestAPIScrubsSecrets(t *testing.T) {
	clientSecret := "client-secret-0123456789"
	echo := newAPI(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(400)
		fmt.Fprintf(w, `{"message":"bad request %s %s %s %s"}`, r.URL.RawQuery, r.Header.Get("Authorization"), url.PathEscape(key), clientSecret)
	}), source.APIOptions{Auth: source.APIKeyQuery("user_key", key), Secrets: []string{clientSecret}})
	_, err := echo.Do(t.Context(), source.Call{Op: "get", Path: "/x"})
	checkScrubbed(t, err, key, clientSecret)

	basic := newAPI(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(401)
		fmt.Fprintf(w, `{"message":"no such user: %s"}`, r.Header.Get("Authorization"))
	}), source.APIOptions{Auth: source.Basic("bot@example.com", key)})
	_, err = basic.Do(t.Context(), source.Call{Op: "get", Path: "/x"})
	checkScrubbed(t, err, key)

	// A closed port: the transport's error quotes the URL with the key in its query.
	ts := httptest.NewServer(http.NotFoundHandler())
	ts.Close()
	closed, err := source.NewAPI(source.APIOptions{Title: "Vendor", BaseURL: ts.URL, Auth: source.APIKeyQuery("user_key", key)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = closed.Do(t.Context(), source.Call{Op: "get", Path: "/x"})
	if !errs.Is(err, errs.Transient) {
		t.Errorf("closed port: %v, want transient", err)
	}
	checkScrubbed(t, err, key)
}

func checkScrubbed(t *testing.T, err error, secrets ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	for _, s := range secrets {
		for _, form := range []string{s, url.QueryEscape(s), url.PathEscape(s)} {
			for _, text := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
				if strings.Contains(text, form) {
					t.Errorf("the error shows a secret (%q): %s", form, text)
				}
			}
		}
	}
	if !strings.Contains(err.Error(), secret.Redacted) && !errs.Is(err, errs.Transient) {
		t.Errorf("the error %q does not say what was redacted", err)
	}
}

// A body larger than MaxBody is refused as such instead of being cut and failing
// to decode (which would be retried for ever); an undecodable body is Transient.
func TestAPIBodies(t *testing.T) {
	body := `{"a":1}`
	api := newAPI(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(body)) }), source.APIOptions{MaxBody: int64(len(body))})
	var v map[string]int
	if _, err := api.JSON(t.Context(), source.Call{Op: "get", Path: "/x"}, &v); err != nil || v["a"] != 1 {
		t.Errorf("a body of exactly MaxBody: %v %v", v, err)
	}
	body = `{"a":12}`
	if _, err := api.Do(t.Context(), source.Call{Op: "get", Path: "/x"}); !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "larger than 7 bytes") {
		t.Errorf("a body past MaxBody: %v", err)
	}
	body = `{"a":`
	if _, err := api.JSON(t.Context(), source.Call{Op: "get", Path: "/x"}, &v); !errs.Is(err, errs.Transient) || !strings.Contains(err.Error(), "undecodable") {
		t.Errorf("a cut-off body: %v", err)
	}
}

// A URL from an answer (a Link header's) is followed only below the base URL; the
// request body goes as JSON with its method.
func TestAPIRequests(t *testing.T) {
	var got []string
	api := newAPI(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 100)
		n, _ := r.Body.Read(b)
		got = append(got, r.Method+" "+r.URL.RequestURI()+" "+r.Header.Get("Content-Type")+" "+string(b[:n]))
		w.WriteHeader(http.StatusNotModified)
	}), source.APIOptions{Auth: source.Bearer(key)})
	ctx := t.Context()
	if _, err := api.Do(ctx, source.Call{Op: "search", Path: "/search", Body: map[string]any{"limit": 2}, Accept: []int{304}}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.Do(ctx, source.Call{Op: "next", Path: api.BaseURL() + "/things?page=2", Query: url.Values{"per_page": {"5"}}, Accept: []int{304}}); err != nil {
		t.Fatal(err)
	}
	for _, off := range []string{"https://evil.example/api/v1/things", strings.Replace(api.BaseURL(), "/api/v1", "/other", 1)} {
		if _, err := api.Do(ctx, source.Call{Op: "next", Path: off}); !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "refusing to send the credentials") {
			t.Errorf("%s: %v", off, err)
		}
	}
	if _, err := api.Do(ctx, source.Call{Op: "get", Path: "/x"}); !errs.Is(err, errs.Invalid) {
		t.Errorf("a 304 not accepted: %v", err)
	}
	want := []string{`POST /api/v1/search application/json {"limit":2}`, `GET /api/v1/things?page=2&per_page=5  `, `GET /api/v1/x  `}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("the server saw\n%q\nwant\n%q", got, want)
	}
}

// Every request waits for the API's pace (a call's own pacer instead, when given),
// and a canceled context sends nothing.
func TestAPIPacing(t *testing.T) {
	var requests atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { requests.Add(1) })
	var mu sync.Mutex
	var slept []time.Duration
	clock := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	fake := func(p *source.Pacer) *source.Pacer {
		return p.WithClock(func() time.Time { return clock }, func(ctx context.Context, d time.Duration) error {
			mu.Lock()
			slept = append(slept, d)
			mu.Unlock()
			return ctx.Err()
		})
	}
	api := newAPI(t, h, source.APIOptions{Pacer: fake(source.NewPacer(2, "Vendor's pacing"))})
	search := fake(source.NewPacer(0.5, "Vendor's search pacing"))
	for _, p := range []*source.Pacer{nil, nil, search, search} {
		if _, err := api.Do(t.Context(), source.Call{Op: "get", Path: "/x", Pacer: p}); err != nil {
			t.Fatal(err)
		}
	}
	if fmt.Sprint(slept) != "[500ms 2s]" {
		t.Errorf("slept %v, want 500ms (2 a second) then 2s (one every 2 s)", slept)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	before := requests.Load()
	if _, err := api.Do(ctx, source.Call{Op: "get", Path: "/x"}); !errs.Is(err, errs.Canceled) || requests.Load() != before {
		t.Errorf("canceled: %v, %d requests", err, requests.Load()-before)
	}
}

// An OAuth2 token is fetched once and reused; after a 401 it is renewed once and the
// request sent again; a refused fetch is a Permission error that shows no secret.
func TestOAuth2(t *testing.T) {
	const clientSecret = "cs-0123456789abcdef"
	var fetches atomic.Int32
	var refuse atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		if refuse.Load() {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(401)
			fmt.Fprintf(w, `{"error":"invalid_client","error_description":"unknown client secret %s"}`, r.FormValue("client_secret"))
			return
		}
		n := fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"tok-%d-abcdefgh","token_type":"Bearer","expires_in":3600}`, n)
	})
	var seen []string
	mux.HandleFunc("/api/v1/", func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Header.Get("Authorization"))
		if r.Header.Get("Authorization") == "Bearer tok-1-abcdefgh" && len(seen) > 2 {
			w.WriteHeader(401) // the first token expired early on the server
			fmt.Fprintf(w, `{"message":"token %s expired"}`, r.Header.Get("Authorization"))
			return
		}
		w.Write([]byte(`{}`))
	})
	ts := httptest.NewServer(mux)
	defer ts.Close()
	cfg := &clientcredentials.Config{ClientID: "id", ClientSecret: clientSecret, TokenURL: ts.URL + "/token", AuthStyle: oauth2.AuthStyleInParams}
	auth := source.OAuth2(source.OAuth2Options{Title: "Vendor", TokenURL: cfg.TokenURL, Credentials: "set VENDOR_CLIENT_SECRET",
		Token: source.ClientCredentials(cfg), Secrets: []string{clientSecret}})
	api, err := source.NewAPI(source.APIOptions{Title: "Vendor", BaseURL: ts.URL + "/api/v1", Auth: auth})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := api.Do(t.Context(), source.Call{Op: "get", Path: "/x"}); err != nil {
			t.Fatal(err)
		}
	}
	want := "[Bearer tok-1-abcdefgh Bearer tok-1-abcdefgh Bearer tok-1-abcdefgh Bearer tok-2-abcdefgh]"
	if fmt.Sprint(seen) != want || fetches.Load() != 2 {
		t.Errorf("the API saw %v after %d fetches, want %s after 2", seen, fetches.Load(), want)
	}

	refuse.Store(true)
	auth.(source.Renewer).Renew()
	_, err = api.Do(t.Context(), source.Call{Op: "get", Path: "/x"})
	if !errs.Is(err, errs.Permission) || !strings.Contains(err.Error(), "invalid_client") || !strings.Contains(err.Error(), "set VENDOR_CLIENT_SECRET") || !strings.HasPrefix(err.Error(), "get: ") {
		t.Errorf("refused token: %v", err)
	}
	checkScrubbed(t, err, clientSecret)
}

func TestParseLink(t *testing.T) {
	got := source.ParseLink(`<https://api.example.com/x?page=2>; rel="next", <https://api.example.com/x?page=9>; rel="last first"`)
	if got["next"] != "https://api.example.com/x?page=2" || got["last"] != "https://api.example.com/x?page=9" || got["first"] != got["last"] {
		t.Errorf("%v", got)
	}
	if len(source.ParseLink(`garbage`)) != 0 || len(source.ParseLink(``)) != 0 {
		t.Error("a header without links gave links")
	}
}
