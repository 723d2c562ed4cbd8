package rest_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshflow/meshflow/connectors/rest"
	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/source"
)

// oneStream is a spec of a single unpaged stream at /items, with auth and rules as given.
func oneStream(t *testing.T, auth, rules, extra string) *rest.Spec {
	t.Helper()
	y := `source: things
title: Things
base_url: https://things.example/v1
variables:
  THINGS_TOKEN: {doc: Things API token, secret: true, how: create one under Settings → API}
  THINGS_CLIENT_ID: {doc: OAuth client id}
` + extra + `
auth: ` + auth + `
errors:
` + rules + `
streams:
  items:
    doc: Items.
    request: {path: /items}
    records: items
    primary_key: [id]
    fields:
      id: {type: int64, doc: The id.}
`
	spec, err := rest.Parse("things.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

// reply answers every request with status, header and body.
func reply(status int, header http.Header, body string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range header {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
		w.Write([]byte(body))
	})
}

// A spec's error rules come before the default classification: a quota waits until
// its reset (a header's, or the next midnight in a zone) as errs.Quota with Until, so
// the workflow's durable wait applies; a rate limit waits as told, with jitter; a
// 200 carrying an error is one; "skip" is no records; what no rule matches keeps the
// default kinds.
func TestErrorRules(t *testing.T) {
	const rules = `
  - {status: 402, kind: quota, wait: ["header:X-Credits-Reset", next_day], zone: America/Los_Angeles, limit: Things' monthly credits}
  - {status: 429, kind: rate_limited, wait: [retry_after, 30s], jitter: 1s..4s}
  - {status: 200, body_contains: '"error"', kind: invalid, message: the query is wrong}
  - {status: 400, body_contains: expired, kind: permission, message: renew THINGS_TOKEN}
  - {status: 404, kind: skip}
`
	spec := oneStream(t, `{type: bearer, token: "${THINGS_TOKEN}"}`, rules, "")
	now := time.Date(2026, 3, 10, 20, 30, 0, 0, time.UTC) // 13:30 in Los Angeles (PDT)
	la, _ := time.LoadLocation("America/Los_Angeles")
	for _, c := range []struct {
		name   string
		h      http.Handler
		kind   errs.Kind
		says   string
		until  time.Time
		retry  time.Duration
		nokind bool // no error: no records
	}{
		{"quota until a header's reset", reply(402, http.Header{"X-Credits-Reset": {fmt.Sprint(now.Add(3 * time.Hour).Unix())}}, `{"message":"out of credits"}`),
			errs.Quota, "Things answered HTTP 402; it resets at 2026-03-10T23:30:00Z. Things said: out of credits", now.Add(3 * time.Hour), 3 * time.Hour, false},
		{"quota until midnight in a zone", reply(402, nil, `{"message":"out of credits"}`),
			errs.Quota, "it resets at 2026-03-11T07:00:00Z", time.Date(2026, 3, 11, 0, 0, 0, 0, la), 10*time.Hour + 30*time.Minute, false},
		{"rate limit with Retry-After", reply(429, http.Header{"Retry-After": {"5"}}, ``), errs.RateLimited, "retry in 9s", time.Time{}, 9 * time.Second, false},
		{"rate limit without", reply(429, nil, ``), errs.RateLimited, "retry in 34s", time.Time{}, 34 * time.Second, false},
		{"an error in a 200", reply(200, nil, `{"error":"no such dimension","items":[]}`), errs.Invalid, "Things answered HTTP 200: the query is wrong. Things said: no such dimension", time.Time{}, 0, false},
		{"a body rule", reply(400, nil, `{"message":"token expired"}`), errs.Permission, "renew THINGS_TOKEN", time.Time{}, 0, false},
		{"a 400 no rule matches", reply(400, nil, `{"message":"bad"}`), errs.Invalid, "Things refused the request (HTTP 400): bad", time.Time{}, 0, false},
		{"a 401", reply(401, nil, `{"message":"who are you"}`), errs.Permission, "check THINGS_TOKEN (create one under Settings → API)", time.Time{}, 0, false},
		{"skip", reply(404, nil, `{"message":"no match"}`), 0, "", time.Time{}, 0, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			ts := httptest.NewServer(c.h)
			defer ts.Close()
			src, err := spec.New(source.Values{"THINGS_TOKEN": "tok", "THINGS_BASE_URL": ts.URL},
				&rest.Options{Now: func() time.Time { return now }, Jitter: func(lo, hi time.Duration) time.Duration { return hi }})
			if err != nil {
				t.Fatal(err)
			}
			p, err := src.Streams()[0].NextPage(t.Context(), source.PageRequest{SyncStart: now})
			if c.nokind {
				if err != nil || len(p.Records) != 0 || !p.Done {
					t.Errorf("skip: %v, %+v", err, p)
				}
				return
			}
			e, _ := errs.As(err)
			if !errs.Is(err, c.kind) || !strings.Contains(err.Error(), c.says) || e.RetryAfter != c.retry || !e.Until.Equal(c.until) {
				t.Errorf("got %v (%v, retry after %v, until %v)\nwant %v saying %q, retry after %v, until %v", err, errs.KindOf(err), e.RetryAfter, e.Until, c.kind, c.says, c.retry, c.until)
			}
		})
	}
}

// OAuth2 client credentials as Looker's API 4.0 takes them: a form post to a /login
// below the base URL, the token sent as "token …", fetched again after a 401.
func TestOAuth2ClientCredentialsSpec(t *testing.T) {
	var logins atomic.Int32
	var expired atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/4.0/login", func(w http.ResponseWriter, r *http.Request) {
		if r.FormValue("client_id") != "id-1" || r.FormValue("client_secret") != "secret-0123456789" {
			w.WriteHeader(404) // Looker answers a wrong key with 404
			return
		}
		n := logins.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"looker-token-%d","token_type":"Bearer","expires_in":3600}`, n)
	})
	mux.HandleFunc("GET /api/4.0/items", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != fmt.Sprintf("token looker-token-%d", logins.Load()) || expired.Swap(false) {
			w.WriteHeader(401)
			w.Write([]byte(`{"message":"Requires authentication."}`))
			return
		}
		w.Write([]byte(`{"items":[{"id":1},{"id":2}]}`))
	})
	ts := httptest.NewServer(mux)
	defer ts.Close()
	spec := oneStream(t, `{type: oauth2_client_credentials, token_url: /login, client_id: "${THINGS_CLIENT_ID}", client_secret: "${THINGS_TOKEN}", auth_style: params, scheme: token}`, "", "")
	src, err := spec.New(source.Values{"THINGS_TOKEN": "secret-0123456789", "THINGS_CLIENT_ID": "id-1", "THINGS_BASE_URL": ts.URL + "/api/4.0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := src.Streams()[0]
	for i := range 2 {
		expired.Store(i == 1) // the token expires on the server before the second read
		recs, _, err := source.ReadAll(t.Context(), st, source.PageRequest{}, nil)
		if err != nil || len(recs) != 2 {
			t.Fatalf("read %d: %d records, %v", i, len(recs), err)
		}
	}
	if logins.Load() != 2 {
		t.Errorf("%d logins, want 2: one, then one after the token expired", logins.Load())
	}
	bad, _ := spec.New(source.Values{"THINGS_TOKEN": "secret-wrong-99", "THINGS_CLIENT_ID": "id-1", "THINGS_BASE_URL": ts.URL + "/api/4.0"}, nil)
	if err := bad.Check(t.Context()); !errs.Is(err, errs.Invalid) || strings.Contains(err.Error(), "secret-wrong-99") || !strings.Contains(err.Error(), "/api/4.0/login") {
		t.Errorf("a wrong secret: %v", err)
	}
}

// A service account's JWT is signed with its key and exchanged at the key file's
// token_uri (Google's service accounts); the key never shows in an error.
func TestServiceAccountSpec(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: must(x509.MarshalPKCS8PrivateKey(key))}))
	var claims map[string]any
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(r.FormValue("assertion"), ".")
		if r.FormValue("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" || len(parts) != 3 {
			w.WriteHeader(400)
			return
		}
		b, _ := base64.RawURLEncoding.DecodeString(parts[1])
		json.Unmarshal(b, &claims)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"access_token":"ya29.token","token_type":"Bearer","expires_in":3600}`))
	})
	mux.HandleFunc("GET /v1/items", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer ya29.token" {
			w.WriteHeader(401)
			return
		}
		w.Write([]byte(`{"items":[{"id":1}]}`))
	})
	ts := httptest.NewServer(mux)
	defer ts.Close()
	keyFile, _ := json.Marshal(map[string]string{"type": "service_account", "client_email": "mesh@project.iam.gserviceaccount.com",
		"private_key": pemKey, "private_key_id": "k1", "token_uri": ts.URL + "/token"})
	spec := oneStream(t, `{type: service_account, key: "${THINGS_KEY}", scopes: [https://www.googleapis.com/auth/analytics.readonly]}`, "",
		"  THINGS_KEY: {doc: service-account key file (JSON), secret: true}\n")
	src, err := spec.New(source.Values{"THINGS_KEY": string(keyFile), "THINGS_BASE_URL": ts.URL + "/v1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Check(t.Context()); err != nil {
		t.Fatal(err)
	}
	if claims["iss"] != "mesh@project.iam.gserviceaccount.com" || claims["scope"] != "https://www.googleapis.com/auth/analytics.readonly" || claims["aud"] != ts.URL+"/token" {
		t.Errorf("the JWT's claims: %v", claims)
	}
	if _, err := spec.New(source.Values{"THINGS_KEY": `{"oops":1}`}, nil); !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "THINGS_KEY does not hold a service-account key") {
		t.Errorf("a key file that is not one: %v", err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// An API key sent as a query parameter never lands in a cursor, though the next
// page's URL of a Link header carries it.
func TestQueryKeyStaysOutOfCursors(t *testing.T) {
	const key = "query-key-0123456789"
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("api_key") != key {
			w.WriteHeader(401)
			return
		}
		if r.URL.Query().Get("page") == "" {
			w.Header().Set("Link", fmt.Sprintf(`<http://%s/v1/items?api_key=%s&page=2>; rel="next"`, r.Host, key))
			w.Write([]byte(`{"items":[{"id":1}]}`))
			return
		}
		w.Write([]byte(`{"items":[{"id":2}]}`))
	}))
	defer ts.Close()
	y := strings.Replace(strings.Replace(validSpec, `auth: {type: bearer, token: "${THINGS_TOKEN}"}`, `auth: {type: api_key, in: query, name: api_key, value: "${THINGS_TOKEN}"}`, 1),
		"{type: page_number, param: page, size_param: per_page, size: 50, stop: [short_page]}", "{type: link}", 1)
	y = strings.Replace(y, "request: {path: /things}\n    records: data", "request: {path: /items}\n    records: items", 1)
	spec, err := rest.Parse("things.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	src, err := spec.New(source.Values{"THINGS_TOKEN": key, "THINGS_BASE_URL": ts.URL + "/v1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var cursors []string
	_, err = source.NewReader(src.Streams()[0], nil).Read(t.Context(), source.PageRequest{}, func(p source.Page) error {
		cursors = append(cursors, string(p.Next))
		return nil
	})
	if err != nil || len(cursors) != 2 {
		t.Fatalf("%d pages, %v", len(cursors), err)
	}
	if strings.Contains(cursors[0], key) || !strings.Contains(cursors[0], "page=2") {
		t.Errorf("the cursor after the first page: %s", cursors[0])
	}
}

// ${partition} carries the day a partitioned product's run lands, and an epoch
// window goes into the request as numbers: the lower bound floored, the upper one
// rounded up to the format's unit.
func TestPartitionAndEpochWindow(t *testing.T) {
	var got []string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.URL.RawQuery)
		w.Write([]byte(`{"items":[{"id":1,"at":1773144000}]}`))
	}))
	defer ts.Close()
	y := `source: things
title: Things
base_url: https://things.example/v1
variables:
  THINGS_TOKEN: {doc: token, secret: true}
auth: {type: bearer, token: "${THINGS_TOKEN}"}
streams:
  events:
    doc: Events of a day.
    request: {path: /events, query: {day: "${partition}"}}
    records: items
    incremental: {field: at, unit: s, format: epoch_s, request: {query: {from: "${since}", to: "${until}"}}}
    primary_key: [id]
    fields:
      id: {type: int64, doc: The id.}
      at: {type: int64, doc: "When it happened, epoch seconds."}
`
	spec, err := rest.Parse("things.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	src, err := spec.New(source.Values{"THINGS_TOKEN": "tok", "THINGS_BASE_URL": ts.URL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := src.Streams()[0]
	start := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	p, err := st.NextPage(t.Context(), source.PageRequest{SyncStart: start, Partition: "2026-03-09"})
	if err != nil || len(p.Records) != 1 {
		t.Fatalf("%v %+v", err, p)
	}
	later := start.Add(90*time.Minute + 500*time.Millisecond)
	if _, err := st.NextPage(t.Context(), source.PageRequest{Cursor: p.Next, SyncStart: later, Partition: "2026-03-09"}); err != nil {
		t.Fatal(err)
	}
	want := []string{"day=2026-03-09", fmt.Sprintf("day=2026-03-09&from=%d&to=%d", start.Unix(), later.Unix()+1)}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("requests %q, want %q", got, want)
	}
}
