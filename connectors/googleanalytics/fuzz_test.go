package googleanalytics

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meshflow/meshflow/connectors/conformance"
	sbga "github.com/meshflow/meshflow/dev/sandbox/googleanalytics"
	"github.com/meshflow/meshflow/framework/secret"
	"github.com/meshflow/meshflow/framework/source"
)

const (
	fuzzTokenURL = "https://oauth2.ga.test/token"
	fuzzBaseURL  = "https://analyticsdata.ga.test"
	fuzzProperty = "123456789"
	// fuzzAccess is the access token the token endpoint issues: a secret too.
	fuzzAccess = "ya29.FUZZ-SECRET-access-3e9d"
	fuzzGrant  = `{"access_token":"` + fuzzAccess + `","expires_in":3599,"token_type":"Bearer"}`
)

var fuzzNow = time.Date(2026, 3, 10, 15, 30, 0, 0, time.UTC)

// fuzzKey is a well-formed service-account key file (the sandbox's, seed 7): its
// private key lines must never show in an error.
var fuzzKey = sbga.ServiceAccountJSON(7, "", fuzzTokenURL)

// keyLines are the body lines of the PEM private key in fuzzKey.
func keyLines(t testing.TB) []string {
	t.Helper()
	var f struct {
		PrivateKey string `json:"private_key"`
	}
	if err := json.Unmarshal(fuzzKey, &f); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(f.PrivateKey, "\n") {
		if len(l) >= 16 && !strings.HasPrefix(l, "-----") {
			out = append(out, l)
		}
	}
	return out
}

func fuzzSource(t testing.TB, reply conformance.Replies) *Source {
	t.Helper()
	src, err := New(Config{PropertyIDs: []string{fuzzProperty}, CredentialsJSON: secret.Value(fuzzKey), TokenURL: fuzzTokenURL, BaseURL: fuzzBaseURL, StartDate: "2026-03-01"},
		&Options{HTTPClient: &http.Client{Transport: reply}, RequestsPerSecond: -1, Now: func() time.Time { return fuzzNow }})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// checkPage holds a page to the connector's contract: an error is a kinded
// *errs.Error that shows neither the private key nor the access token; a page has
// JSON records and a next cursor the stream reads back.
func checkPage(t *testing.T, secrets []string, p source.Page, err error) {
	t.Helper()
	conformance.CheckFuzzedPage(t, p, err, func(b []byte) error { _, err := decodeCursor(b); return err }, secrets...)
}

// report is a runReport answer with the default dimensions and metrics.
func report(rows string, rowCount int) []byte {
	return []byte(`{"dimensionHeaders":[{"name":"date"},{"name":"sessionDefaultChannelGroup"},{"name":"landingPage"}],` +
		`"metricHeaders":[{"name":"sessions","type":"TYPE_INTEGER"},{"name":"totalUsers","type":"TYPE_INTEGER"},{"name":"conversions","type":"TYPE_INTEGER"}],` +
		`"rows":[` + rows + `],"rowCount":` + itoa(rowCount) + `,"metadata":{"currencyCode":"USD","timeZone":"America/New_York"},"kind":"analyticsData#runReport"}`)
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

const fuzzRow = `{"dimensionValues":[{"value":"20260309"},{"value":"Organic Search"},{"value":"/pricing"}],"metricValues":[{"value":"42"},{"value":"37"},{"value":"3"}]}`

// wellFormed answers the token endpoint and runReport as Google does.
func wellFormed(r *http.Request, _ []byte) (int, http.Header, []byte) {
	if r.URL.String() == fuzzTokenURL {
		return 200, nil, []byte(fuzzGrant)
	}
	return 200, nil, report(fuzzRow, 1)
}

// FuzzCursor feeds arbitrary bytes as the resume cursor. One that does not decode
// is an Invalid error naming the cursor; one that does drives a page (against
// well-formed answers) without a panic.
func FuzzCursor(f *testing.F) {
	for _, seed := range []string{
		``, `null`, `{}`, `[]`, `1`, `{"v":2}`, `{"v":1}`,
		`{"v":1,"shape":"1x2y3z","props":{"123456789":{"last":"2026-03-09","tz":"America/New_York","seen":{"2026-03-07":"AAAAAAAAAAE","2026-03-08":"AAAAAAAAAAEAAAAAAAAAAg"}}}}`,
		`{"v":1,"props":{"123456789":{"last":"2026-03-09","tz":"Mars/Olympus"}},"run":{"at":1773156600000,"props":["123456789"],"i":0,"day":"2026-03-07","end":"2026-03-09","offset":20,"pulled":true,"new":{"2026-03-07":"AAAAAAAAAAE"}}}`,
		`{"v":1,"run":{"partition":"2026-03-02","at":1773156600000,"props":["123456789"],"i":0}}`,
		`{"v":1,"run":{"at":1773156600000,"props":["123456789","987654321"],"i":1,"day":"9999-12-31","end":"0000-01-01"}}`,
		`{"v":1,"run":{"props":["123456789"],"i":-1}}`,
		`{"v":1,"run":{"props":[],"i":3}}`,
		`{"v":1,"props":{"123456789":null}}`,
		`{"v":1,"props":{"123456789":{"seen":{"2026-03-07":"not base64!"}}},"run":{"props":["123456789"],"day":"2026-03-07","end":"2026-03-07"}}`,
		`{"v":1,"run":{"props":["123456789"],"day":"yesterday","end":"today"}}`,
	} {
		f.Add([]byte(seed))
	}
	secrets := append(keyLines(f), fuzzAccess)
	src := fuzzSource(f, wellFormed)
	f.Fuzz(func(t *testing.T, raw []byte) {
		_, derr := decodeCursor(raw)
		for _, partition := range []string{"", "2026-03-02"} {
			p, err := conformance.ReadFuzzedCursor(t, src.stream, source.PageRequest{Cursor: raw, SyncStart: fuzzNow, Partition: partition}, derr)
			checkPage(t, secrets, p, err)
		}
	})
}

// FuzzResponse feeds arbitrary answers (status, Retry-After, body) to the token
// endpoint or to runReport: no panic, and a body the connector cannot use is an
// error that shows neither the key nor the access token, even when echoed.
func FuzzResponse(f *testing.F) {
	line := keyLines(f)[2]
	for _, s := range []struct {
		status     uint16
		retryAfter string
		body       string
	}{
		{200, "", string(report(fuzzRow+","+fuzzRow, 4))}, {200, "", string(report("", 0))}, {200, "", fuzzGrant},
		{200, "", `{"dimensionHeaders":[{"name":"date"}],"metricHeaders":[],"rows":[]}`},
		{200, "", string(report(`{"dimensionValues":[{"value":"`+fuzzAccess+`"}],"metricValues":[]}`, 1))},
		{200, "", string(report(`{"dimensionValues":[{"value":"20260309"}],"note":"`+line+`"}`, 1))},
		{200, "", `{"dimensionHeaders":[{"name":"` + fuzzAccess + `"}]}`},
		{200, "", string(report(`[1,2]`, 1))}, {200, "", `{"rows":`}, {200, "", ``}, {200, "", `{"access_token":""}`},
		{400, "", `{"error":"invalid_grant","error_description":"Invalid JWT Signature."}`},
		{400, "", `{"error":"invalid_grant","error_description":"key ` + line + `"}`},
		{401, "", `{"error":{"code":401,"message":"Request had invalid authentication credentials: ` + fuzzAccess + `","status":"UNAUTHENTICATED"}}`},
		{403, "", `{"error":{"code":403,"message":"User does not have sufficient permissions for this property.","status":"PERMISSION_DENIED"}}`},
		{403, "", `{"error":{"code":403,"message":"Request had insufficient authentication scopes.","status":"` + fuzzAccess + `"}}`},
		{429, "", `{"error":{"code":429,"message":"Exhausted property tokens per hour for property 123456789.","status":"RESOURCE_EXHAUSTED"}}`},
		{429, "", `{"error":{"code":429,"message":"Exhausted property tokens per day.","status":"RESOURCE_EXHAUSTED"}}`},
		{429, "3", `{"error":{"code":429,"message":"Exhausted concurrent requests quota.","status":"RESOURCE_EXHAUSTED"}}`},
		{400, "", `{"error":{"code":400,"message":"Field foo is not a valid dimension.","status":"INVALID_ARGUMENT"}}`},
		{404, "", `<html>404</html>`}, {500, "", `{}`}, {503, "1", ``},
	} {
		f.Add(s.status, s.retryAfter, []byte(s.body), false)
		f.Add(s.status, s.retryAfter, []byte(s.body), true)
	}
	lines := keyLines(f)
	// Iterations of a fuzz target run one after the other in a process, so each sets
	// answer and reuses one Source: signing a JWT for every iteration would cost most
	// of the fuzzing time.
	answer := conformance.Replies(wellFormed)
	src := fuzzSource(f, func(r *http.Request, body []byte) (int, http.Header, []byte) { return answer(r, body) })
	f.Fuzz(func(t *testing.T, status uint16, retryAfter string, body []byte, toTokenEndpoint bool) {
		// The access token is a secret once issued; a failed token request issued none.
		secrets := slices.Clone(lines)
		if !toTokenEndpoint {
			secrets = append(secrets, fuzzAccess)
		}
		code := int(status)
		if code < 100 || code > 599 {
			code = 200
		}
		answer = func(r *http.Request, b []byte) (int, http.Header, []byte) {
			if (r.URL.String() == fuzzTokenURL) != toTokenEndpoint {
				return wellFormed(r, b)
			}
			return code, http.Header{"Retry-After": {retryAfter}, "Content-Type": {"application/json"}}, body
		}
		if toTokenEndpoint {
			src.dropToken() // so this iteration asks the token endpoint
		}
		cursor := json.RawMessage(`{"v":1,"props":{"123456789":{"last":"2026-03-09","tz":"America/New_York"}}}`)
		p, err := src.stream.NextPage(t.Context(), source.PageRequest{Cursor: cursor, SyncStart: fuzzNow})
		checkPage(t, secrets, p, err)
		if err == nil && code/100 != 2 {
			t.Fatalf("HTTP %d read as a page", code)
		}
	})
}
