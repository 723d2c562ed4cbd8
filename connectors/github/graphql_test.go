package github

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2" // reads the landed Parquet back
	_ "gocloud.dev/blob/fileblob"

	"github.com/meshflow/meshflow/dev/sandbox"
	sbgithub "github.com/meshflow/meshflow/dev/sandbox/github"
	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/quality"
	"github.com/meshflow/meshflow/framework/source"
)

func TestGraphQLEndpoint(t *testing.T) {
	for base, want := range map[string]string{
		"https://api.github.com":            "https://api.github.com/graphql",
		"https://ghe.example.com/api/v3":    "https://ghe.example.com/api/graphql",
		"http://127.0.0.1:8081/github":      "http://127.0.0.1:8081/github/graphql",
		"https://proxy.example/gh/api/v3x":  "https://proxy.example/gh/api/v3x/graphql",
		"https://ghe.example.com/x/api/v3":  "https://ghe.example.com/x/api/graphql",
		"https://ghe.example.com/api/v3/x":  "https://ghe.example.com/api/v3/x/graphql",
		"https://ghe.example.com/api/v3/v3": "https://ghe.example.com/api/v3/v3/graphql",
	} {
		if got := graphqlEndpoint(base); got != want {
			t.Errorf("graphqlEndpoint(%s) = %s, want %s", base, got, want)
		}
	}
}

// landing is a stream landed into a lake on disk, read back row by row.
type landing struct {
	rows     []string        // the stream's typed columns, in id order
	raw      map[string]any  // _raw by id, decoded
	cursor   json.RawMessage // the landing's end
	requests int             // API requests it made
	kinds    map[string]int  // "GET" (REST) and "POST" (GraphQL) requests
}

// land lands the reviews stream of src from cursor, as the Land activity does,
// and reads the Parquet back.
func land(t *testing.T, f *fixture, src *Source, cursor json.RawMessage, run string) landing {
	t.Helper()
	l, err := lake.Open(t.Context(), filepath.Join(t.TempDir(), run))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	st, _ := source.Lookup(src, PullRequestReviews)
	f.take()
	res, err := l.Land(t.Context(), st, lake.LandRequest{
		Stream: lake.StreamRef{Domain: "engineering", Source: "github", Stream: PullRequestReviews},
		RunID:  run, SyncStart: f.clock.Now(), Cursor: cursor, Reader: fastReader,
	})
	if err != nil {
		t.Fatalf("land %s: %v", run, err)
	}
	out := landing{cursor: res.Manifest.CursorEnd, raw: map[string]any{}, kinds: map[string]int{}}
	for _, h := range f.take() {
		out.requests++
		if strings.HasSuffix(h.url.Path, "/graphql") {
			out.kinds["POST"]++
		} else {
			out.kinds["GET"]++
		}
	}
	var files []string
	for _, df := range res.Manifest.Files {
		files = append(files, quality.Literal(filepath.Join(l.LocalRoot(), filepath.FromSlash(df.Key))))
	}
	if len(files) == 0 {
		return out
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var cols []string
	for _, fd := range st.Spec().Fields {
		cols = append(cols, fmt.Sprintf("coalesce(CAST(%s AS VARCHAR), 'NULL')", quality.Ident(fd.Name)))
	}
	q := fmt.Sprintf("SELECT CAST(id AS VARCHAR), concat_ws(' | ', %s), _raw FROM read_parquet([%s]) ORDER BY id",
		strings.Join(cols, ", "), strings.Join(files, ", "))
	rows, err := db.QueryContext(t.Context(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, row, raw string
		if err := rows.Scan(&id, &row, &raw); err != nil {
			t.Fatal(err)
		}
		var v any
		if err := json.Unmarshal([]byte(raw), &v); err != nil {
			t.Fatalf("_raw of %s: %v", id, err)
		}
		out.rows = append(out.rows, row)
		out.raw[id] = v
	}
	return out
}

// Reviews landed over GraphQL are the rows REST landed — every typed column and
// the raw record alike — on a full refresh of the sandbox's default repositories
// and on the incremental sync after new reviews, one pull request among them with
// more than a GraphQL page of them. Over REST a full refresh costs a request per
// pull request; over GraphQL one per 100 pull requests.
func TestReviewsGraphQLLandWhatRESTLanded(t *testing.T) {
	f := newFixture(t, sbgithub.Options{Issues: 400, PullRequests: 600, Commits: 150}, Config{}, nil)
	viaREST, err := New(Config{BaseURL: f.src.baseStr, Token: sbgithub.DefaultToken, Repos: f.src.repos}, &Options{RequestsPerSecond: -1, Now: f.clock.Now, RESTReviews: true})
	if err != nil {
		t.Fatal(err)
	}
	compare := func(what string, rest, gql landing) {
		t.Helper()
		if len(rest.rows) == 0 || !slices.Equal(rest.rows, gql.rows) {
			t.Fatalf("%s: REST landed %d rows, GraphQL %d; they differ", what, len(rest.rows), len(gql.rows))
		}
		for id, r := range rest.raw {
			if !reflect.DeepEqual(r, gql.raw[id]) {
				t.Fatalf("%s: review %s\nREST    %v\nGraphQL %v", what, id, r, gql.raw[id])
			}
		}
		t.Logf("%s: %d reviews; REST %d requests, GraphQL %d", what, len(rest.rows), rest.requests, gql.requests)
	}

	rest := land(t, f, viaREST, nil, "rest-full")
	gql := land(t, f, f.src, nil, "graphql-full")
	compare("full refresh", rest, gql)
	if want := sandbox.Get[*sbgithub.API](f.sb).Count(PullRequestReviews); len(gql.rows) != want {
		t.Errorf("%d reviews landed, the sandbox has %d", len(gql.rows), want)
	}
	// 3 repositories of 600 pull requests: 6 pages of pulls and 600 review lists
	// each over REST, 6 queries each over GraphQL.
	if rest.requests != 3*(6+600) || gql.requests != 3*6 || gql.kinds["GET"] != 0 {
		t.Errorf("full refresh: REST %d requests, GraphQL %d (%v); want %d and %d", rest.requests, gql.requests, gql.kinds, 3*606, 18)
	}

	f.clock.Add(time.Hour)
	key, _ := sandbox.Get[*sbgithub.API](f.sb).ReviewRounds(230) // three GraphQL pages of its reviews
	added := sandbox.Get[*sbgithub.API](f.sb).ReviewPRs(4)
	sandbox.Get[*sbgithub.API](f.sb).MergePRs(3)
	restInc := land(t, f, viaREST, rest.cursor, "rest-incremental")
	gqlInc := land(t, f, f.src, gql.cursor, "graphql-incremental")
	compare("incremental", restInc, gqlInc)
	if n := len(gqlInc.rows); n != 230+len(added) {
		t.Errorf("incremental landed %d reviews, want the %d added (230 on %s)", n, 230+len(added), key)
	}
	var c cursor
	if err := json.Unmarshal(gqlInc.cursor, &c); err != nil || c.V != 1 || c.Repo != "" || len(gqlInc.cursor) > 4096 {
		t.Errorf("cursor between syncs (%d bytes): %s", len(gqlInc.cursor), gqlInc.cursor)
	}
}

// A cursor the REST path wrote in the middle of a repository (its pull requests
// listed, some reviews still to read) resumes: that repository finishes over
// REST, the next ones go over GraphQL, and every review lands once.
func TestReviewsResumeARESTCursor(t *testing.T) {
	f := newFixture(t, sbgithub.Options{}, Config{PageSize: 30}, nil)
	viaREST, _ := New(Config{BaseURL: f.src.baseStr, Token: sbgithub.DefaultToken, Repos: f.src.repos, PageSize: 30}, &Options{RequestsPerSecond: -1, Now: f.clock.Now, RESTReviews: true})
	st, _ := source.Lookup(viaREST, PullRequestReviews)
	var keys []string
	var cur json.RawMessage
	for range 5 { // the pull list, then four pull requests' reviews
		p, err := st.NextPage(t.Context(), source.PageRequest{Cursor: cur, SyncStart: f.clock.Now()})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range p.Records {
			keys = append(keys, key(t, st.Spec(), r))
		}
		cur = p.Next
	}
	var c cursor
	json.Unmarshal(cur, &c)
	if c.Repo != "acme/app" || len(c.Queue) == 0 {
		t.Fatalf("not a REST cursor mid-repository: %s", cur)
	}
	f.take()
	rest, _ := read(t, f.stream(PullRequestReviews), cur, f.clock.Now())
	keys = append(keys, rest...)
	var restGets, graphqlPosts int
	for _, h := range f.take() {
		switch {
		case strings.HasSuffix(h.url.Path, "/graphql"):
			graphqlPosts++
		case strings.Contains(h.url.Path, "/acme/app/") || strings.Contains(h.url.Path, "/repositories/"):
			restGets++
		default:
			t.Errorf("REST request past the first repository: %s", h.url)
		}
	}
	slices.Sort(keys)
	if len(slices.Compact(slices.Clone(keys))) != len(keys) || len(keys) != sandbox.Get[*sbgithub.API](f.sb).Count(PullRequestReviews) {
		t.Errorf("%d reviews (%d distinct), the sandbox has %d", len(keys), len(slices.Compact(slices.Clone(keys))), sandbox.Get[*sbgithub.API](f.sb).Count(PullRequestReviews))
	}
	if restGets == 0 || graphqlPosts == 0 {
		t.Errorf("%d REST requests, %d GraphQL queries after the resume", restGets, graphqlPosts)
	}
}

// GitHub's GraphQL answers reach the connector as the right kinds: errors in a
// 200 included.
func TestGraphQLErrorKinds(t *testing.T) {
	t.Run("points spent", func(t *testing.T) {
		f := newFixture(t, sbgithub.Options{}, Config{}, nil)
		sandbox.Get[*sbgithub.API](f.sb).ExhaustGraphQL()
		e, _ := errs.As(pageErr(t, f.src, PullRequestReviews))
		if e == nil || e.Kind != errs.Quota || e.Until.Before(time.Now().Add(50*time.Minute)) || !strings.Contains(e.Error(), "GraphQL") {
			t.Errorf("%v, want a quota until the GraphQL budget's reset", e)
		}
		if e != nil && e.Limit != "GitHub's primary rate limit (graphql)" {
			t.Errorf("limit %q: on-call's wait message would not name the GraphQL budget", e.Limit)
		}
	})
	t.Run("secondary", func(t *testing.T) {
		f := newFixture(t, sbgithub.Options{GraphQLSecondaryPerMinute: 1}, Config{}, nil)
		pageErr(t, f.src, PullRequestReviews)
		e, _ := errs.As(pageErr(t, f.src, PullRequestReviews))
		if e == nil || e.Kind != errs.RateLimited || e.RetryAfter <= 0 {
			t.Errorf("%v, want rate limited", e)
		}
	})
	t.Run("forbidden", func(t *testing.T) {
		f := newFixture(t, sbgithub.Options{Forbidden: []string{"acme/app/pulls"}}, Config{}, nil)
		err := pageErr(t, f.src, PullRequestReviews)
		if !errs.Is(err, errs.Permission) || !strings.Contains(err.Error(), "Pull requests: read") || !strings.Contains(err.Error(), TokenEnv) {
			t.Errorf("%v, want permission naming %s and Pull requests: read", err, TokenEnv)
		}
	})
	t.Run("invisible repository", func(t *testing.T) {
		f := newFixture(t, sbgithub.Options{}, Config{Repos: []string{"acme/secret"}}, nil)
		if err := pageErr(t, f.src, PullRequestReviews); !errs.Is(err, errs.NotFound) || !strings.Contains(err.Error(), "acme/secret") {
			t.Errorf("%v", err)
		}
	})
	for _, c := range []struct {
		name   string
		status int
		header map[string]string
		body   string
		kind   errs.Kind
	}{
		{"no GraphQL API", 404, nil, `{"message":"Not Found"}`, errs.NotFound},
		{"a field this server lacks", 200, nil, `{"errors":[{"message":"Field 'fullDatabaseId' doesn't exist on type 'PullRequestReview'","extensions":{"code":"undefinedField"}}]}`, errs.Invalid},
		{"RATE_LIMIT without remaining 0", 200, map[string]string{"X-Ratelimit-Remaining": "12", "X-Ratelimit-Reset": fmt.Sprint(t0.Add(30 * time.Second).Unix())},
			`{"errors":[{"type":"RATE_LIMIT","code":"graphql_rate_limit","message":"API rate limit already exceeded for user ID 1."}]}`, errs.RateLimited},
		{"cut in transit", 200, nil, `{"data":{"repository":{"pullRe`, errs.Transient},
		{"bad credentials", 401, nil, `{"message":"Bad credentials","documentation_url":"https://docs.github.com/graphql"}`, errs.Permission},
	} {
		t.Run(c.name, func(t *testing.T) {
			src, n := stub(t, c.status, c.header, c.body)
			if err := pageErr(t, src, PullRequestReviews); errs.KindOf(err) != c.kind || *n != 1 {
				t.Errorf("%v (kind %v) after %d requests, want %v", err, errs.KindOf(err), *n, c.kind)
			}
		})
	}
}
