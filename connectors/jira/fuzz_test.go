package jira

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/meshflow/meshflow/connectors/conformance"
	"github.com/meshflow/meshflow/framework/source"
)

// fuzzToken and fuzzEmail are the credentials of the fuzzed source: no error may
// show the token, nor the Basic credentials built from it.
const (
	fuzzToken = "ATATT-FUZZ-SECRET-jira-5d21b7"
	fuzzEmail = "sync@acme.example"
)

var (
	fuzzBasic = base64.StdEncoding.EncodeToString([]byte(fuzzEmail + ":" + fuzzToken))
	fuzzNow   = time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC)
)

func fuzzSource(t *testing.T, reply conformance.Replies) *Source {
	t.Helper()
	src, err := New(Config{BaseURL: "https://acme.atlassian.test", Email: fuzzEmail, Token: fuzzToken, Projects: []string{"OPS"}},
		&Options{HTTPClient: &http.Client{Transport: reply}, RequestsPerSecond: -1, Now: func() time.Time { return fuzzNow }})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// checkPage holds a page to the connector's contract: an error is a kinded
// *errs.Error that shows neither the token nor the Basic credentials; a page has
// JSON records and a next cursor the stream reads back.
func checkPage(t *testing.T, stream string, p source.Page, err error) {
	t.Helper()
	conformance.CheckFuzzedPage(t, p, err, func(b []byte) error { _, err := decodeCursor(stream, b); return err }, fuzzToken, fuzzBasic)
}

// wellFormed answers each endpoint as Jira Cloud does, with one item.
func wellFormed(r *http.Request, _ []byte) (int, http.Header, []byte) {
	switch {
	case strings.HasSuffix(r.URL.Path, "/search/jql"):
		return 200, nil, []byte(`{"issues":[{"id":"10001","key":"OPS-1","fields":{"summary":"s","updated":"2026-03-09T10:00:00.000+0000"}}],"nextPageToken":"CAEaAggD","isLast":false}`)
	case strings.HasSuffix(r.URL.Path, "/changelog"):
		return 200, nil, []byte(`{"values":[{"id":"20001","author":{"accountId":"a"},"created":"2026-03-09T10:00:00.000+0000","items":[{"field":"status","from":"1","to":"3"}]}],"startAt":0,"maxResults":100,"total":1,"isLast":true}`)
	case strings.HasSuffix(r.URL.Path, "/project/search"):
		return 200, nil, []byte(`{"values":[{"id":"10000","key":"OPS","name":"Operations","projectTypeKey":"software"}],"startAt":0,"maxResults":50,"total":1,"isLast":true}`)
	}
	return 404, nil, []byte(`{"errorMessages":["not here"]}`)
}

// FuzzCursor feeds arbitrary bytes as the resume cursor of every stream. One that
// does not decode is an Invalid error naming the cursor; one that does drives a
// page (against well-formed answers) without a panic.
func FuzzCursor(f *testing.F) {
	for _, seed := range []string{
		``, `null`, `{}`, `[]`, `7`, `{"v":2}`, `{"v":1}`, `{"v":1,"phase":"sideways"}`,
		`{"v":1,"phase":"search","token":"CAEaAggD","since":1773050100000,"until":1773154800000,"mark":1773050400000,"seen":{"10001":1773050400000},"new":{"10002":1773100000000},"max":1773100000000}`,
		`{"v":1,"phase":"changelog","queue":[{"id":"10001","key":"OPS-1"},{"id":"10002","key":"OPS-2"}],"start_at":100,"token":"CAEaAggD","until":1773154800000}`,
		`{"v":1,"phase":"changelog","queue":[],"search_done":true}`,
		`{"v":1,"phase":"changelog","queue":[{"id":"../../myself","key":""}],"start_at":-5}`,
		`{"v":1,"phase":"list","start_at":50}`,
		`{"v":1,"phase":"idle","mark":1773050400000,"seen":{"10001":1773050400000,"20001":1773050300000}}`,
		`{"v":1,"phase":"idle","mark":-9223372036854775808,"seen":{"":9223372036854775807}}`,
		`{"v":1,"phase":"search","since":9223372036854775807,"until":-9223372036854775808}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		src := fuzzSource(t, wellFormed)
		for _, st := range src.Streams() {
			name := st.Spec().Name
			_, derr := decodeCursor(name, raw)
			p, err := conformance.ReadFuzzedCursor(t, st, source.PageRequest{Cursor: raw, SyncStart: fuzzNow}, derr)
			checkPage(t, name, p, err)
		}
	})
}

// FuzzResponse feeds arbitrary answers (status, Retry-After, body) to each kind of
// request — an issue search, a changelog page, a project list: no panic, and a body
// the connector cannot use is an error that never shows the credentials.
func FuzzResponse(f *testing.F) {
	issue := `{"id":"10001","key":"OPS-1","fields":{"updated":"2026-03-09T10:00:00.000+0000","status":{"name":"Done","statusCategory":{"key":"done"}}}}`
	for _, s := range []struct {
		status     uint16
		retryAfter string
		body       string
	}{
		{200, "", `{"issues":[` + issue + `],"nextPageToken":"CAEaAggD","isLast":false}`},
		{200, "", `{"issues":[` + issue + `],"isLast":true}`},
		{200, "", `{"issues":[{"id":"10001","fields":{"updated":"not a time"}}]}`},
		{200, "", `{"values":[{"id":"20001","created":"2026-03-09T10:00:00.000+0000","items":[]}],"startAt":0,"total":3,"isLast":false}`},
		{200, "", `{"values":[{"id":"20001","created":"` + fuzzToken + `"}],"isLast":true}`},
		{200, "", `{"values":[{"id":"10000","key":"OPS"}],"startAt":0,"total":1,"isLast":true}`},
		{200, "", `{"issues":[{"key":"` + fuzzToken + `"}]}`},
		{200, "", `{"values":[{"created":"2026-03-09","note":"` + fuzzToken + `"}]}`},
		{200, "", `{"issues":[` + issue}, {200, "", `[]`}, {200, "", `{}`}, {200, "", ``},
		{401, "", `{"errorMessages":["Client must be authenticated to access this resource."],"errors":{}}`},
		{401, "", `{"errorMessages":["bad token ` + fuzzToken + `"],"errors":{"auth":"Basic ` + fuzzBasic + `"}}`},
		{403, "", `{"errorMessages":["You do not have the permission to see the specified issue."]}`},
		{404, "", `{"errorMessages":["Issue does not exist or you do not have permission to see it."],"errors":{}}`},
		{410, "", `{"errorMessages":["The requested API has been removed. Please migrate to the /rest/api/3/search/jql API."]}`},
		{429, "5", `{"errorMessages":["Rate limit exceeded."]}`},
		{503, "Tue, 10 Mar 2026 15:00:30 GMT", `<html>Service Unavailable</html>`},
		{400, "", `{"errorMessages":["Error in the JQL Query: Expecting operator but got 'x'."],"warningMessages":["w"]}`},
		{500, "", `oops`},
	} {
		for stream := range uint8(4) {
			f.Add(s.status, s.retryAfter, []byte(s.body), stream)
		}
	}
	// Where each request goes: issues search, changelog search, changelog page, projects.
	targets := []struct {
		stream string
		cursor json.RawMessage
	}{
		{"issues", nil},
		{"issue_changelog", json.RawMessage(`{"v":1,"phase":"search","token":"CAEaAggD","until":1773154800000}`)},
		{"issue_changelog", json.RawMessage(`{"v":1,"phase":"changelog","queue":[{"id":"10001","key":"OPS-1"}],"until":1773154800000}`)},
		{"projects", nil},
	}
	f.Fuzz(func(t *testing.T, status uint16, retryAfter string, body []byte, target uint8) {
		code := int(status)
		if code < 100 || code > 599 {
			code = 200
		}
		tg := targets[int(target)%len(targets)]
		src := fuzzSource(t, func(*http.Request, []byte) (int, http.Header, []byte) {
			return code, http.Header{"Retry-After": {retryAfter}, "Ratelimit-Reason": {"jira-burst-based"}}, body
		})
		st, _ := source.Lookup(src, tg.stream)
		p, err := st.NextPage(t.Context(), source.PageRequest{Cursor: tg.cursor, SyncStart: fuzzNow})
		checkPage(t, tg.stream, p, err)
		// A 404 of a changelog is a deleted issue, skipped on purpose; no other
		// non-2xx answer may read as a page.
		if err == nil && code/100 != 2 && !(code == 404 && strings.Contains(string(tg.cursor), "changelog")) {
			t.Fatalf("HTTP %d read as a page", code)
		}
	})
}
