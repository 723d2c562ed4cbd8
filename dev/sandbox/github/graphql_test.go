package github

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// gql POSTs a query to /graphql with the default token; the body decodes into
// a generic answer.
func gql(t *testing.T, ts *httptest.Server, token, query string, vars map[string]any) (int, http.Header, gqlAnswer) {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest("POST", ts.URL+"/graphql", bytes.NewReader(b))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("User-Agent", "test")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var ans gqlAnswer
	ans.raw = raw
	if err := json.Unmarshal(raw, &ans); err != nil {
		t.Fatalf("not JSON (%d): %s", res.StatusCode, raw)
	}
	return res.StatusCode, res.Header, ans
}

type gqlAnswer struct {
	Data   *json.RawMessage `json:"data"`
	Errors []struct {
		Type    string `json:"type"`
		Code    string `json:"code"`
		Path    []any  `json:"path"`
		Message string `json:"message"`
	} `json:"errors"`
	Message string `json:"message"` // REST-shaped refusals
	raw     []byte
}

func (a gqlAnswer) errType() string {
	if len(a.Errors) == 0 {
		return ""
	}
	return a.Errors[0].Type
}

const bulkReviews = `query($owner: String!, $name: String!, $after: String) {
  repository(owner: $owner, name: $name) {
    pullRequests(first: 100, after: $after, orderBy: {field: UPDATED_AT, direction: DESC}) {
      nodes { number updatedAt
        reviews(first: 100) { nodes { fullDatabaseId state submittedAt author { __typename login } commit { oid } } pageInfo { hasNextPage endCursor } } }
      pageInfo { hasNextPage endCursor }
    }
  }
  rateLimit { cost remaining used }
}`

type bulkPage struct {
	Repository struct {
		PullRequests struct {
			Nodes []struct {
				Number    int
				UpdatedAt string
				Reviews   struct {
					Nodes []struct {
						FullDatabaseID string
						State          string
						SubmittedAt    string
						Author         struct {
							Typename string `json:"__typename"`
							Login    string
						}
						Commit struct{ Oid string }
					}
					PageInfo struct {
						HasNextPage bool
						EndCursor   string
					}
				}
			}
			PageInfo struct {
				HasNextPage bool
				EndCursor   string
			}
		}
	}
	RateLimit struct{ Cost, Remaining, Used int }
}

// The bulk query a client reads reviews with answers what REST answers, pull
// request by pull request, in /pulls?sort=updated&direction=desc's order, for one
// point a page of 100 pull requests.
func TestGraphQLServesRESTsReviews(t *testing.T) {
	a, ts, _ := newTestAPI(t, Options{Issues: 20, PullRequests: 230})
	var order []int
	reviews := map[int][]string{}
	var after any
	pages := 0
	for {
		code, h, ans := gql(t, ts, DefaultToken, bulkReviews, map[string]any{"owner": "acme", "name": "api", "after": after})
		if code != 200 || len(ans.Errors) > 0 || ans.Data == nil {
			t.Fatalf("%d %s", code, ans.raw)
		}
		if h.Get("X-Ratelimit-Resource") != "graphql" {
			t.Errorf("resource %q", h.Get("X-Ratelimit-Resource"))
		}
		var p bulkPage
		json.Unmarshal(*ans.Data, &p)
		pages++
		if p.RateLimit.Cost != 1 || p.RateLimit.Used != pages || p.RateLimit.Remaining != 5000-pages {
			t.Errorf("page %d: rateLimit %+v, want a cost of 1 point", pages, p.RateLimit)
		}
		for _, n := range p.Repository.PullRequests.Nodes {
			order = append(order, n.Number)
			if n.Reviews.PageInfo.HasNextPage {
				t.Errorf("#%d has more than 100 reviews", n.Number)
			}
			for _, rv := range n.Reviews.Nodes {
				if rv.Author.Typename != "User" || rv.Commit.Oid == "" || rv.SubmittedAt == "" {
					t.Errorf("#%d: review %+v", n.Number, rv)
				}
				reviews[n.Number] = append(reviews[n.Number], rv.FullDatabaseID)
			}
		}
		if !p.Repository.PullRequests.PageInfo.HasNextPage {
			break
		}
		after = p.Repository.PullRequests.PageInfo.EndCursor
	}
	if pages != 3 || a.GraphQLUsed() != 3 {
		t.Errorf("%d pages, %d points for 230 pull requests", pages, a.GraphQLUsed())
	}
	var rest []int
	for page := 1; ; page++ {
		items := call(t, ts, "/repos/acme/api/pulls?state=all&sort=updated&direction=desc&per_page=100&page="+strconv.Itoa(page)).items(t)
		if len(items) == 0 {
			break
		}
		for _, it := range items {
			rest = append(rest, int(it["number"].(float64)))
		}
	}
	if !slices.Equal(order, rest) {
		t.Fatalf("GraphQL order %v\nREST order %v", order, rest)
	}
	for _, n := range rest {
		var ids []string
		for _, rv := range call(t, ts, "/repos/acme/api/pulls/"+strconv.Itoa(n)+"/reviews?per_page=100").items(t) {
			ids = append(ids, strconv.FormatInt(int64(rv["id"].(float64)), 10))
		}
		if !slices.Equal(ids, reviews[n]) {
			t.Errorf("#%d: GraphQL reviews %v, REST %v", n, reviews[n], ids)
		}
	}
}

// More than 100 reviews: the connection pages with cursors, through
// pullRequest(number:).
func TestGraphQLReviewsBeyondAPage(t *testing.T) {
	a, ts, _ := newTestAPI(t, Options{})
	key, ids := a.ReviewRounds(150)
	repo, num, _ := strings.Cut(key, "#")
	owner, name, _ := strings.Cut(repo, "/")
	n, _ := strconv.Atoi(num)
	q := `query($o: String!, $n: String!, $num: Int!, $after: String) { repository(owner: $o, name: $n) { pullRequest(number: $num) {
		reviews(first: 100, after: $after) { totalCount nodes { fullDatabaseId } pageInfo { hasNextPage endCursor } } } } }`
	var got []string
	var after any
	for range 3 {
		_, _, ans := gql(t, ts, DefaultToken, q, map[string]any{"o": owner, "n": name, "num": n, "after": after})
		var d struct {
			Repository struct {
				PullRequest struct {
					Reviews struct {
						TotalCount int
						Nodes      []struct{ FullDatabaseID string }
						PageInfo   struct {
							HasNextPage bool
							EndCursor   string
						}
					}
				}
			}
		}
		if ans.Data == nil {
			t.Fatalf("%s", ans.raw)
		}
		json.Unmarshal(*ans.Data, &d)
		for _, rv := range d.Repository.PullRequest.Reviews.Nodes {
			got = append(got, rv.FullDatabaseID)
		}
		if !d.Repository.PullRequest.Reviews.PageInfo.HasNextPage {
			break
		}
		after = d.Repository.PullRequest.Reviews.PageInfo.EndCursor
	}
	if len(got) < 150 || !slices.Equal(got[len(got)-150:], ids) {
		t.Errorf("%d reviews read; the last 150 are not the added ones", len(got))
	}
}

// GitHub's refusals: HTTP 200 with errors, data null where a field failed.
func TestGraphQLErrors(t *testing.T) {
	a, ts, _ := newTestAPI(t, Options{Forbidden: []string{"acme/data-pipeline/pulls"}})
	for _, c := range []struct {
		name, query string
		typ         string
		data        string // the data member as sent, "" for none
	}{
		{"no first or last", `{ repository(owner: "acme", name: "app") { pullRequests { totalCount } } }`, "MISSING_PAGINATION_BOUNDARIES", ""},
		{"first over 100", `{ repository(owner: "acme", name: "app") { pullRequests(first: 101) { totalCount } } }`, "EXCESSIVE_PAGINATION", ""},
		{"over 500,000 nodes", `{ repository(owner: "acme", name: "app") { pullRequests(first: 100) { nodes { reviews(first: 100) { nodes {
			pullRequest { reviews(first: 100) { totalCount } } } } } } } }`, "MAX_NODE_LIMIT_EXCEEDED", ""},
		{"no such repository", `{ repository(owner: "acme", name: "nope") { name } }`, "NOT_FOUND", `{"repository":null}`},
		{"a permission the token lacks", `{ repository(owner: "acme", name: "data-pipeline") { name pullRequests(first: 1) { totalCount } } }`, "FORBIDDEN", `{"repository":null}`},
		{"a bad cursor", `{ repository(owner: "acme", name: "app") { pullRequests(first: 1, after: "nope!") { totalCount } } }`, "INVALID_CURSOR_ARGUMENTS", `{"repository":null}`},
		{"a field GitHub does not have", `{ repository(owner: "acme", name: "app") { stars } }`, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, ans := gql(t, ts, DefaultToken, c.query, nil)
			if code != 200 || len(ans.Errors) == 0 || ans.errType() != c.typ {
				t.Fatalf("%d %s, want 200 with a %s error", code, ans.raw, c.typ)
			}
			switch {
			case c.data == "" && ans.Data != nil:
				t.Errorf("data %s, want none", *ans.Data)
			case c.data != "" && (ans.Data == nil || string(*ans.Data) != c.data):
				t.Errorf("data %s, want %s", ans.raw, c.data)
			}
		})
	}
	// A 32-bit databaseId fails for a review id past 2^31; fullDatabaseId does not.
	_, ids := a.ReviewRounds(1)
	_, _, ans := gql(t, ts, DefaultToken, `{ repository(owner: "acme", name: "app") { pullRequests(first: 100, orderBy: {field: UPDATED_AT, direction: DESC}) {
		nodes { reviews(last: 1) { nodes { databaseId fullDatabaseId } } } } } }`, nil)
	if !strings.Contains(string(ans.raw), `"fullDatabaseId":"`+ids[0]+`"`) || !strings.Contains(string(ans.raw), `"databaseId":null`) || len(ans.Errors) == 0 {
		t.Errorf("review %s: %s", ids[0], ans.raw)
	}
	// Unauthenticated.
	if code, _, ans := gql(t, ts, "", `{ viewer { login } }`, nil); code != 401 || !strings.Contains(ans.Message, "requires you to be authenticated") {
		t.Errorf("no token: %d %s", code, ans.raw)
	}
	if code, _, ans := gql(t, ts, "ghp_wrong", `{ viewer { login } }`, nil); code != 401 || ans.Message != "Bad credentials" {
		t.Errorf("bad token: %d %s", code, ans.raw)
	}
}

// Points: one request per connection times the first of those above it, / 100.
func TestGraphQLCostsPoints(t *testing.T) {
	a, ts, _ := newTestAPI(t, Options{})
	// 1 + 100 + 100×100 requests = 10,101 → 101 points; 100 + 10,000 + 400,000 nodes.
	q := `{ repository(owner: "acme", name: "app") { pullRequests(first: 100) { nodes { reviews(first: 100) { nodes {
		pullRequest { reviews(first: 40) { totalCount } } } } } } } rateLimit { cost nodeCount used } }`
	_, _, ans := gql(t, ts, DefaultToken, q, nil)
	var d struct {
		RateLimit struct{ Cost, NodeCount, Used int }
	}
	if ans.Data == nil {
		t.Fatalf("%s", ans.raw)
	}
	json.Unmarshal(*ans.Data, &d)
	if d.RateLimit.Cost != 101 || d.RateLimit.NodeCount != 410_100 || d.RateLimit.Used != 101 || a.GraphQLUsed() != 101 {
		t.Errorf("rateLimit %+v", d.RateLimit)
	}
	if _, _, ans := gql(t, ts, DefaultToken, `{ rateLimit(dryRun: true) { cost remaining } }`, nil); !strings.Contains(string(ans.raw), `"remaining":4899`) || a.GraphQLUsed() != 101 {
		t.Errorf("a dry run is charged: %s", ans.raw)
	}
}

// The primary budget in points answers HTTP 200 with a RATE_LIMITED error, then
// RATE_LIMIT "already exceeded"; REST's budget is another. The secondary limit
// answers like REST's.
func TestGraphQLLimits(t *testing.T) {
	_, ts, _ := newTestAPI(t, Options{GraphQLRateLimit: 2, GraphQLSecondaryPerMinute: 4})
	q := `{ viewer { login } }`
	for i := range 2 {
		if code, _, ans := gql(t, ts, DefaultToken, q, nil); code != 200 || len(ans.Errors) > 0 {
			t.Fatalf("query %d: %d %s", i, code, ans.raw)
		}
	}
	code, h, ans := gql(t, ts, DefaultToken, q, nil)
	if code != 200 || ans.errType() != "RATE_LIMITED" || ans.Data != nil || h.Get("X-Ratelimit-Remaining") != "0" || h.Get("X-Ratelimit-Resource") != "graphql" {
		t.Errorf("over the points: %d %v %s", code, h, ans.raw)
	}
	if _, _, ans := gql(t, ts, DefaultToken, q, nil); ans.errType() != "RATE_LIMIT" || ans.Errors[0].Code != "graphql_rate_limit" || !strings.Contains(ans.Errors[0].Message, "already exceeded") {
		t.Errorf("again: %s", ans.raw)
	}
	if r := call(t, ts, "/repos/acme/app"); r.status != 200 {
		t.Errorf("REST after GraphQL's budget is spent: %d", r.status)
	}
	code, _, ans = gql(t, ts, DefaultToken, q, nil)
	if (code != 403 && code != 429) || !strings.Contains(ans.Message, "secondary rate limit") {
		t.Errorf("fifth query in a minute: %d %s", code, ans.raw)
	}
}
