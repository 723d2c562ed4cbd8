package github

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/meshflow/meshflow/connectors/conformance"
	"github.com/meshflow/meshflow/framework/secret"
	"github.com/meshflow/meshflow/framework/source"
)

// fuzzToken is the credential of the fuzzed source: no error may ever show it.
const fuzzToken = "ghp_FUZZSECRET0github0a8c41e9"

const fuzzBase = "https://api.github.test"

var fuzzNow = time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)

func fuzzSource(t *testing.T, reply conformance.Replies) *Source {
	t.Helper()
	src, err := New(Config{BaseURL: fuzzBase, Token: secret.Value(fuzzToken), Repos: []string{"acme/app", "acme/api"}, Branches: []string{"release"}},
		&Options{HTTPClient: &http.Client{Transport: reply}, RequestsPerSecond: -1, Now: func() time.Time { return fuzzNow }})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// checkPage holds a page to the connector's contract: an error is a kinded
// *errs.Error that never shows the token; a page has JSON records and a next
// cursor the connector reads back.
func checkPage(t *testing.T, p source.Page, err error) {
	t.Helper()
	conformance.CheckFuzzedPage(t, p, err, func(b []byte) error { _, err := decodeCursor(b); return err }, fuzzToken)
}

// wellFormed answers each endpoint as GitHub does, with one item and no next page.
func wellFormed(r *http.Request, _ []byte) (int, http.Header, []byte) {
	h := http.Header{"Etag": {`W/"abc"`}}
	p := r.URL.Path
	switch {
	case p == "/graphql":
		return 200, nil, []byte(gqlPage)
	case strings.HasSuffix(p, "/reviews"):
		return 200, h, []byte(`[{"id":80,"user":{"login":"ana"},"state":"APPROVED","submitted_at":"2026-03-09T10:00:00Z"}]`)
	case strings.HasSuffix(p, "/issues"):
		return 200, h, []byte(`[{"number":1,"id":11,"updated_at":"2026-03-09T10:00:00Z"},{"number":2,"updated_at":"2026-03-09T11:00:00Z","pull_request":{"url":"x"}}]`)
	case strings.HasSuffix(p, "/pulls"):
		return 200, h, []byte(`[{"number":2,"id":22,"updated_at":"2026-03-09T11:00:00Z"}]`)
	case strings.HasSuffix(p, "/commits"):
		return 200, h, []byte(`[{"sha":"0a1b2c","commit":{"message":"Fix it\n\nbody","committer":{"date":"2026-03-09T09:00:00Z"}}}]`)
	case strings.HasSuffix(p, "/forks"):
		return 200, h, []byte(`[{"id":9,"full_name":"nimbus/app","owner":{"login":"nimbus","type":"Organization"}},{"id":10,"owner":{"login":"ana","type":"User"}}]`)
	case strings.HasPrefix(p, "/orgs/"):
		return 200, h, []byte(`{"login":"nimbus","id":77,"blog":"nimbus.example","updated_at":"2026-03-08T00:00:00Z"}`)
	case strings.HasPrefix(p, "/repos/"):
		return 200, h, []byte(`{"id":7,"full_name":"acme/app","default_branch":"main","updated_at":"2026-03-08T00:00:00Z"}`)
	}
	return 404, nil, []byte(`{"message":"Not Found"}`)
}

// gqlPage is a page of pull requests with their reviews as GitHub's GraphQL API
// answers it: one pull request, whose reviews go on past this page.
const gqlPage = `{"data":{"repository":{"pullRequests":{"pageInfo":{"hasNextPage":false,"endCursor":"Y3Vyc29yOnYyOjE="},"nodes":[{"number":2,"updatedAt":"2026-03-09T11:00:00Z",` +
	`"reviews":{"pageInfo":{"hasNextPage":true,"endCursor":"cjox"},"nodes":[{"fullDatabaseId":"80","node_id":"PRR_1","author":{"__typename":"Bot","login":"dependabot","url":"https://github.com/apps/dependabot"},` +
	`"body":"","state":"APPROVED","url":"https://github.com/acme/app/pull/2#pullrequestreview-80","authorAssociation":"NONE","submittedAt":"2026-03-09T10:00:00Z","commit":{"oid":"0a1b"}}]}}]}},` +
	`"rateLimit":{"cost":1,"remaining":4999,"resetAt":"2026-03-10T10:00:00Z"}}}`

// FuzzCursor feeds arbitrary bytes as the resume cursor of every stream. One that
// does not decode is an Invalid error naming the cursor; one that does drives a
// page (against well-formed answers) without a panic.
func FuzzCursor(f *testing.F) {
	for _, seed := range []string{
		``, `null`, `{}`, `[]`, `"v"`, `{"v":2}`, `{"v":1}`,
		`{"v":1,"repo":"acme/app","until":1773133200,"pages":2,"since":1773050400,"max":1773050400,"new":{"1":1773050400},"state":{"acme/app":{"mark":1773000000,"seen":{"1":1773000000},"etag":"W/\"abc\"","etag_url":"/repos/acme/app"}}}`,
		`{"v":1,"repo":"acme/app","next":"https://api.github.test/repos/acme/app/issues?page=2&per_page=100","pages":1,"until":1773133200}`,
		`{"v":1,"repo":"acme/app","next":"https://evil.example/steal","pages":1}`,
		`{"v":1,"repo":"acme/app","queue":[2,3],"reviews_next":"https://api.github.test/repos/acme/app/pulls/2/reviews?page=2","listed":true}`,
		`{"v":1,"repo":"acme/app","queue":[-1],"listed":true}`,
		`{"v":1,"repo":"acme/app","pages":1,"gql_after":"Y3Vyc29yOnYyOjE=","until":1773133200}`,
		`{"v":1,"repo":"acme/app","listed":true,"more_reviews":[{"n":2,"after":"cjox"},{"n":-5,"after":""}]}`,
		`{"v":1,"repo":"acme/app","more_reviews":[null],"gql_after":"` + fuzzToken + `"}`,
		`{"v":1,"repo":"acme/app","branch":"release","state":{"acme/app":{"default_branch":"main"},"acme/app@release":null}}`,
		`{"v":1,"repo":"acme/app","branch":"gone","state":{"acme/app":null}}`,
		`{"v":1,"repo":"other/repo","until":1}`,
		`{"v":1,"state":{"acme/app":{"mark":9223372036854775807},"old/repo@main":{"mark":1}}}`,
		`{"v":1,"repo":"acme/app","pass":3,"pages":1,"org_queue":["nimbus","Nimbus",""],"listed":true,"state":{"org:nimbus":{"etag":"W/\"x\"","pass":3},"org:ghost":null}}`,
		`{"v":1,"repo":"acme/api","pass":-1,"next":"https://api.github.test/repos/acme/api/forks?page=3","pages":2,"org_queue":["../x"]}`,
		`{"v":1,"repo":"acme/app","org_queue":["acme"],"state":{"org:acme":{"pass":0}}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		src := fuzzSource(t, wellFormed)
		_, derr := decodeCursor(raw)
		for _, st := range src.Streams() {
			p, err := conformance.ReadFuzzedCursor(t, st, source.PageRequest{Cursor: raw, SyncStart: fuzzNow}, derr)
			checkPage(t, p, err)
		}
	})
}

// FuzzResponse feeds arbitrary answers (status, Link and Retry-After headers, body)
// to a page of every stream: no panic, and a body the connector cannot use is an
// error that never shows the token. The Link header's next URL must stay on the API.
func FuzzResponse(f *testing.F) {
	next := `<https://api.github.test/repos/acme/app/issues?page=2>; rel="next", <https://api.github.test/repos/acme/app/issues?page=9>; rel="last"`
	// A stream and a cursor that makes its next request a given one: a list page
	// (commits: of a branch), or for organizations the owner's object and a page
	// of forks.
	cases := []struct {
		stream string
		cursor json.RawMessage
	}{
		{Repositories, nil},
		{Issues, nil},
		{PullRequests, nil},
		{PullRequestReviews, json.RawMessage(`{"v":1,"repo":"acme/app","queue":[2],"listed":true,"until":1773133200}`)},
		{PullRequestReviews, nil}, // over GraphQL: a page of pull requests with their reviews
		{PullRequestReviews, json.RawMessage(`{"v":1,"repo":"acme/app","listed":true,"more_reviews":[{"n":2,"after":"cjox"}],"until":1773133200}`)},
		{Commits, json.RawMessage(`{"v":1,"repo":"acme/app","branch":"release","until":1773133200,"state":{"acme/app":{"default_branch":"main"}}}`)},
		{Organizations, nil},
		{Organizations, json.RawMessage(`{"v":1,"repo":"acme/app","pass":1,"pages":1,"next":"https://api.github.test/repos/acme/app/forks?page=2","until":1773133200}`)},
	}
	for _, s := range []struct {
		status           uint16
		link, retryAfter string
		body             string
	}{
		{200, next, "", `[{"number":1,"updated_at":"2026-03-09T10:00:00Z"},{"number":2,"updated_at":"2026-03-09T10:00:00Z"}]`},
		{200, "", "", `{"id":7,"full_name":"acme/app","default_branch":"main","updated_at":"2026-03-08T00:00:00Z"}`},
		{200, "", "", `[{"sha":"0a1b","commit":{"message":"m","committer":{"date":"2026-03-09T09:00:00Z"}}}]`},
		{200, "", "", `[{"id":80,"submitted_at":"2026-03-09T10:00:00Z"},{"id":81,"submitted_at":null}]`},
		{200, "", "", `[{"id":9,"owner":{"login":"nimbus","type":"Organization"}},{"id":10,"owner":{"login":"ana","type":"User"}}]`},
		{200, "", "", `[{"id":9,"owner":{"login":"../../orgs/x","type":"Organization"}},{"id":10,"owner":{"login":"` + fuzzToken + `/x","type":"Organization"}}]`},
		{200, "", "", `{"login":"nimbus","id":77,"blog":"","name":null,"updated_at":"2026-03-08T00:00:00Z"}`},
		{200, `<https://evil.example/x>; rel="next"`, "", `[]`},
		{200, `<` + fuzzBase + `/repos/acme/app/pulls?page=2&t=` + fuzzToken + `>; rel="next"`, "", `[]`},
		{200, `<http://[::1>; rel="next"`, "", `[]`},
		{200, "", "", `[{"number":0,"token":"` + fuzzToken + `"}]`},
		{200, "", "", `{"id":0,"token":"` + fuzzToken + `"}`},
		{200, "", "", `[{"number":1,"updated_at":"yesterday"}]`},
		{200, "", "", `[1,null,"x"]`}, {200, "", "", `[`}, {200, "", "", `null`}, {304, "", "", ``},
		{200, "", "", gqlPage},
		{200, "", "", `{"data":{"repository":{"pullRequest":{"reviews":{"pageInfo":{"hasNextPage":true,"endCursor":"cjox"},"nodes":[{"fullDatabaseId":"1e3","submittedAt":"2026-03-09T10:00:00Z"},null]}}}}}`},
		{200, "", "", `{"data":{"repository":{"pullRequests":{"nodes":[null,{"number":-1},{"number":3,"updatedAt":"2026-03-09T11:00:00Z","reviews":{"nodes":[{"fullDatabaseId":"abc"}]}}]}}}}`},
		{200, "", "", `{"errors":[{"type":"RATE_LIMITED","message":"API rate limit exceeded for user ID 1."}]}`},
		{200, "", "", `{"data":{"repository":null},"errors":[{"type":"NOT_FOUND","path":["repository"],"message":"Could not resolve ` + fuzzToken + `"}]}`},
		{200, "", "", `{"data":{"repository":{"pullRequest":null}},"errors":[{"type":"NOT_FOUND","path":["repository","pullRequest"],"message":"x"}]}`},
		{200, "", "", `{"data":null}`}, {200, "", "", `{"errors":[]}`}, {200, "", "", `{"errors":[{"type":"FORBIDDEN"}]}`},
		{401, "", "", `{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}`},
		{401, "", "", `{"message":"Bad credentials: ` + fuzzToken + `"}`},
		{403, "", "", `{"message":"Resource not accessible by personal access token"}`},
		{403, "", "60", `{"message":"You have exceeded a secondary rate limit."}`},
		{422, "", "", `{"message":"Validation Failed","errors":[{"field":"` + fuzzToken + `","code":"invalid","message":"m ` + fuzzToken + `"}]}`},
		{429, "", "", `{"message":"API rate limit exceeded"}`},
		{404, "", "", `{"message":"Not Found"}`}, {500, "", "", ``}, {502, "", "", `<html>bad gateway</html>`},
	} {
		for stream := range uint8(len(cases)) {
			f.Add(s.status, s.link, s.retryAfter, []byte(s.body), stream)
		}
	}
	f.Fuzz(func(t *testing.T, status uint16, link, retryAfter string, body []byte, stream uint8) {
		code := int(status)
		if code < 100 || code > 599 {
			code = 200
		}
		src := fuzzSource(t, func(*http.Request, []byte) (int, http.Header, []byte) {
			return code, http.Header{"Link": {link}, "Retry-After": {retryAfter}, "X-Ratelimit-Remaining": {"1"}}, body
		})
		cs := cases[int(stream)%len(cases)]
		st, _ := source.Lookup(src, cs.stream)
		name := cs.stream
		p, err := st.NextPage(t.Context(), source.PageRequest{Cursor: cs.cursor, SyncStart: fuzzNow})
		checkPage(t, p, err)
		if err != nil {
			return
		}
		// A missing review or commit list, or organisation, is skipped on purpose;
		// no other non-2xx answer but 304 may read as a page.
		if code/100 != 2 && code != http.StatusNotModified && code != http.StatusNotFound {
			t.Fatalf("%s: HTTP %d read as a page", name, code)
		}
		var c cursor
		json.Unmarshal(p.Next, &c)
		for _, u := range []string{c.Next, c.Sub} {
			if u != "" && !strings.HasPrefix(u, fuzzBase+"/") {
				t.Fatalf("%s: the cursor would follow %q, off the API", name, u)
			}
		}
	})
}

// FuzzParseLink feeds arbitrary Link headers: no panic, and every URL returned is
// one the header holds between < and >.
func FuzzParseLink(f *testing.F) {
	for _, seed := range []string{
		``, `<`, `>`, `><`, `<>`, `<a>; rel=next`, `<a>;rel="next last"`, `<a>, <b>; rel="next"`,
		`<https://api.github.com/repositories/1/issues?page=2>; rel="next", <https://api.github.com/repositories/1/issues?page=5>; rel="last"`,
		`<https://api.github.com/repos/a/b/commits?after=abc%2B1>; rel="next"; title="x;y", <https://x>; REL = "prev"`,
		`<u1>; rel="next",,<u2>;;rel="next"`, `<u>; rel`, `<u>; rel=`, `<u>; =next`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, h string) {
		for rel, u := range source.ParseLink(h) {
			if rel == "" || !strings.Contains(h, "<"+u+">") {
				t.Fatalf("Link %q gave %q → %q, not a <URL> of the header", h, rel, u)
			}
		}
	})
}
