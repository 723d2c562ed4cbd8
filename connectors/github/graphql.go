package github

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/source"
)

// Reviews in bulk through GitHub's GraphQL API: REST has no list of a
// repository's reviews, so reading them costs a request per pull request, while
// one GraphQL query returns the reviews of up to 100 pull requests (1 point of
// the GraphQL budget, 5,000 an hour, apart from REST's). A pull request with more
// than 100 reviews gets follow-up queries for the rest.
//
// GitHub answers GraphQL errors with HTTP 200 and an "errors" array — a spent
// budget too (type RATE_LIMITED or RATE_LIMIT, x-ratelimit-reset saying when it
// returns) — and secondary limits with REST's 403/429, which classify reads.

// graphqlEndpoint is where the GraphQL API lives beside the REST base URL:
// https://api.github.com/graphql, and on GitHub Enterprise Server
// https://HOST/api/graphql beside https://HOST/api/v3.
func graphqlEndpoint(restBase string) string {
	if b, ok := strings.CutSuffix(restBase, "/api/v3"); ok {
		return b + "/api/graphql"
	}
	return restBase + "/graphql"
}

// reviewFields are asked for with aliases where REST's name differs only in case,
// so the answer reads like a REST review; reviewItem makes it one.
const reviewFields = `fragment review on PullRequestReview {
  fullDatabaseId
  node_id: id
  author { __typename login url ... on User { databaseId id isSiteAdmin } ... on Bot { databaseId id } }
  body
  state
  url
  authorAssociation
  submittedAt
  commit { oid }
}`

// pullsWithReviews reads a page of pull requests, newest change first, each with
// its first 100 reviews: (1 + 100) requests / 100 = 1 point.
const pullsWithReviews = `query($owner: String!, $name: String!, $first: Int!, $after: String) {
  repository(owner: $owner, name: $name) {
    pullRequests(first: $first, after: $after, orderBy: {field: UPDATED_AT, direction: DESC}) {
      pageInfo { hasNextPage endCursor }
      nodes {
        number
        updatedAt
        reviews(first: 100) { pageInfo { hasNextPage endCursor } nodes { ...review } }
      }
    }
  }
  rateLimit { cost remaining resetAt }
}
` + reviewFields

// moreReviews reads the reviews of one pull request after a cursor.
const moreReviews = `query($owner: String!, $name: String!, $number: Int!, $after: String) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      reviews(first: 100, after: $after) { pageInfo { hasNextPage endCursor } nodes { ...review } }
    }
  }
  rateLimit { cost remaining resetAt }
}
` + reviewFields

type pageInfo struct {
	HasNextPage bool   `json:"hasNextPage"`
	EndCursor   string `json:"endCursor"`
}

type gqlReview struct {
	FullDatabaseID json.Number `json:"fullDatabaseId"`
	NodeID         string      `json:"node_id"`
	Author         *struct {
		Typename    string      `json:"__typename"`
		Login       string      `json:"login"`
		URL         string      `json:"url"`
		DatabaseID  json.Number `json:"databaseId"`
		ID          string      `json:"id"`
		IsSiteAdmin bool        `json:"isSiteAdmin"`
	} `json:"author"`
	Body              string  `json:"body"`
	State             string  `json:"state"`
	URL               string  `json:"url"`
	AuthorAssociation string  `json:"authorAssociation"`
	SubmittedAt       *string `json:"submittedAt"`
	Commit            *struct {
		OID string `json:"oid"`
	} `json:"commit"`
}

type gqlReviews struct {
	PageInfo pageInfo     `json:"pageInfo"`
	Nodes    []*gqlReview `json:"nodes"`
}

// restUser and restReview are REST's shapes of what GraphQL answered, with
// REST's field names and order.
type restUser struct {
	Login     string      `json:"login"`
	ID        json.Number `json:"id,omitempty"`
	NodeID    string      `json:"node_id,omitempty"`
	Type      string      `json:"type"`
	SiteAdmin bool        `json:"site_admin"`
	URL       string      `json:"url"`
	HTMLURL   string      `json:"html_url"`
}

type restReview struct {
	ID                json.Number `json:"id"`
	NodeID            string      `json:"node_id"`
	User              *restUser   `json:"user"`
	Body              string      `json:"body"`
	State             string      `json:"state"`
	HTMLURL           string      `json:"html_url"`
	PullRequestURL    string      `json:"pull_request_url"`
	AuthorAssociation string      `json:"author_association"`
	SubmittedAt       *string     `json:"submitted_at"`
	CommitID          *string     `json:"commit_id"`
}

// reviewItem is a review as REST's list of a pull request's reviews shows it: the
// stream's fields and records stay the same whichever API read them. The URLs
// REST adds are GitHub's own patterns on the REST base; a bot's login gets the
// "[bot]" REST shows it with.
func (s *Source) reviewItem(repo string, pull int, r *gqlReview) (json.RawMessage, error) {
	it := restReview{
		ID: r.FullDatabaseID, NodeID: r.NodeID, Body: r.Body, State: r.State, HTMLURL: r.URL,
		PullRequestURL:    s.baseStr + "/repos/" + repo + "/pulls/" + strconv.Itoa(pull),
		AuthorAssociation: r.AuthorAssociation, SubmittedAt: r.SubmittedAt,
	}
	if r.Commit != nil {
		it.CommitID = &r.Commit.OID
	}
	if a := r.Author; a != nil {
		login, typ := a.Login, a.Typename
		if typ == "Bot" && !strings.HasSuffix(login, "[bot]") {
			login += "[bot]"
		}
		if typ != "Bot" && typ != "Organization" {
			typ = "User" // Mannequin, EnterpriseUserAccount: REST shows them as users
		}
		it.User = &restUser{Login: login, ID: a.DatabaseID, NodeID: a.ID, Type: typ, SiteAdmin: a.IsSiteAdmin,
			URL: s.baseStr + "/users/" + url.PathEscape(login), HTMLURL: a.URL}
	}
	return json.Marshal(it)
}

// gqlAnswer is a GraphQL response.
type gqlAnswer struct {
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"errors"`
}

// graphql sends one query and decodes its data into out. It maps every failure
// to an error kind, once: non-200 answers as REST's (classify), a body that does
// not decode as Transient (cut in transit), and the errors of a 200:
//
//	RATE_LIMITED, RATE_LIMIT   RateLimited until x-ratelimit-reset, a Quota with
//	                           Until when longer than LongWait
//	NOT_FOUND                  NotFound, naming the repository and the token (a
//	                           pull request's follow-up skips a pull request gone)
//	FORBIDDEN                  Permission, naming the permission the token lacks
//	anything else              Invalid, with GitHub's messages
func (s *Source) graphql(ctx context.Context, op, repo, query string, vars map[string]any, out any) error {
	r, err := s.gql.Do(ctx, source.Call{Op: op, Body: map[string]any{"query": query, "variables": vars},
		Classify: func(op string, r *source.Response) error {
			if r.Status == http.StatusNotFound {
				return errs.Errorf(errs.NotFound, op, "no GraphQL API at %s (HTTP 404): check %s (GitHub Enterprise Server: https://HOST/api/v3, its GraphQL API being https://HOST/api/graphql), or let a proxy pass /graphql",
					s.graphqlURL, BaseURLEnv)
			}
			return s.classify(op, repo, r)
		}})
	if err != nil {
		return err
	}
	if r.Status != http.StatusOK {
		return s.classify(op, repo, r)
	}
	b := r.Body
	var ans gqlAnswer
	if err := json.Unmarshal(b, &ans); err != nil {
		return errs.Errorf(errs.Transient, op, "undecodable GraphQL response (%d bytes): %v", len(b), err)
	}
	if len(ans.Errors) > 0 {
		return s.graphqlError(op, repo, r.Header, ans)
	}
	if len(ans.Data) == 0 || string(ans.Data) == "null" {
		return errs.Errorf(errs.Transient, op, "a GraphQL response without data or errors")
	}
	if err := json.Unmarshal(ans.Data, out); err != nil {
		return errs.Errorf(errs.Transient, op, "GraphQL data is not what the query asks for: %s", s.scrub(err.Error()))
	}
	s.secondary.Store(0)
	return nil
}

func (s *Source) graphqlError(op, repo string, h http.Header, ans gqlAnswer) error {
	var msgs []string
	for _, e := range ans.Errors {
		msgs = append(msgs, s.scrub(e.Message))
	}
	said := strings.Join(msgs, "; ")
	e := ans.Errors[0]
	switch {
	case e.Type == "RATE_LIMITED" || e.Type == "RATE_LIMIT" || strings.Contains(strings.ToLower(e.Message), "rate limit"):
		return s.graphqlLimited(op, h, said)
	case e.Type == "NOT_FOUND":
		return errs.Errorf(errs.NotFound, op, "repository %s was not found, or the token in %s cannot see it: check %s and the token's repository access. GitHub said: %s",
			repo, TokenEnv, ReposEnv, said)
	case e.Type == "FORBIDDEN":
		return errs.Errorf(errs.Permission, op, "the token in %s may not read the pull requests of %s: grant it Pull requests: read on that repository. GitHub said: %s",
			TokenEnv, repo, said)
	}
	return errs.Errorf(errs.Invalid, op, "GitHub refused the GraphQL query for %s: %s", repo, said)
}

// graphqlLimited is a spent GraphQL budget: it returns at x-ratelimit-reset
// (GitHub may not send remaining 0 with it), or in a minute when no reset is sent.
func (s *Source) graphqlLimited(op string, h http.Header, said string) error {
	now := s.now()
	until := now.Add(time.Minute)
	if reset, err := strconv.ParseInt(h.Get("X-Ratelimit-Reset"), 10, 64); err == nil && reset > 0 {
		until = time.Unix(reset, 0)
	}
	wait := max(until.Sub(now), 0) + time.Second // whole seconds, and clocks differ
	if wait > s.longWait {
		e := errs.Errorf(errs.Quota, op, "GitHub's GraphQL rate limit (%s points an hour) is spent until %s: %s",
			s.scrub(h.Get("X-Ratelimit-Limit")), until.UTC().Format(time.RFC3339), said)
		e.Until, e.RetryAfter, e.Limit = until.Add(time.Second), wait, primaryLimit("graphql")
		return e
	}
	e := errs.Errorf(errs.RateLimited, op, "GitHub's GraphQL rate limit is spent, it resets in %v: %s", wait, said)
	e.RetryAfter, e.Limit = wait, primaryLimit("graphql")
	return e
}

// pending is a pull request whose reviews go on past the first 100.
type pending struct {
	Number int    `json:"n"`
	After  string `json:"after"`
}

// reviewsGraphQLPage reads reviews submitted since the mark, one query a page: a
// page of pull requests changed since the mark (a review changes its pull
// request's updated_at) with their first 100 reviews, or, for a pull request
// with more, its next 100. Reviews submitted before the window were landed by an
// earlier sync and are dropped.
func (st *stream) reviewsGraphQLPage(ctx context.Context, c *cursor) ([]json.RawMessage, bool, error) {
	owner, name, _ := strings.Cut(c.Repo, "/")
	window := st.window(c)
	var recs []json.RawMessage
	add := func(pull int, rs []*gqlReview) error {
		for _, r := range rs {
			if r == nil {
				continue
			}
			id, err := r.FullDatabaseID.Int64()
			if err != nil || id <= 0 {
				b, _ := json.Marshal(r) // strings, numbers and bools: cannot fail
				return st.src.badItem(st.op("list reviews of pull "+strconv.Itoa(pull)+" in", c.Repo), b)
			}
			v := unixOf(r.SubmittedAt)
			if v == 0 || v < window {
				continue // pending (not submitted, visible only to its author), or landed by an earlier sync
			}
			if !st.keep(c, strconv.FormatInt(id, 10), v) {
				continue
			}
			it, err := st.src.reviewItem(c.Repo, pull, r)
			if err != nil {
				return errs.E(errs.Internal, "github: review", err)
			}
			recs = append(recs, envelope(c.Repo, it, "pull_number", pull))
		}
		return nil
	}

	if len(c.More) > 0 {
		p := c.More[0]
		op := st.op("list reviews of pull "+strconv.Itoa(p.Number)+" in", c.Repo)
		var d struct {
			Repository *struct {
				PullRequest *struct {
					Reviews *gqlReviews `json:"reviews"`
				} `json:"pullRequest"`
			} `json:"repository"`
		}
		err := st.src.graphql(ctx, op, c.Repo, moreReviews, map[string]any{"owner": owner, "name": name, "number": p.Number, "after": nilIfEmpty(p.After)}, &d)
		switch {
		case errs.Is(err, errs.NotFound):
			// The pull request is gone (the repository moved): nothing more to read.
		case err != nil:
			return nil, false, err
		case d.Repository == nil || d.Repository.PullRequest == nil || d.Repository.PullRequest.Reviews == nil:
			// Gone, or not visible: nothing more to read.
		default:
			rv := d.Repository.PullRequest.Reviews
			if err := add(p.Number, rv.Nodes); err != nil {
				return nil, false, err
			}
			if rv.PageInfo.HasNextPage && rv.PageInfo.EndCursor != "" && rv.PageInfo.EndCursor != p.After {
				c.More[0].After = rv.PageInfo.EndCursor
				st.pruneNew(c)
				return recs, false, nil
			}
		}
		c.More = c.More[1:]
		st.pruneNew(c)
		return recs, c.Listed && len(c.More) == 0, nil
	}

	op := st.op("list pull requests with reviews of", c.Repo)
	var d struct {
		Repository *struct {
			PullRequests struct {
				PageInfo pageInfo `json:"pageInfo"`
				Nodes    []*struct {
					Number    int         `json:"number"`
					UpdatedAt *string     `json:"updatedAt"`
					Reviews   *gqlReviews `json:"reviews"`
				} `json:"nodes"`
			} `json:"pullRequests"`
		} `json:"repository"`
	}
	vars := map[string]any{"owner": owner, "name": name, "first": min(st.src.pageSize, maxPerPage), "after": nilIfEmpty(c.After)}
	if err := st.src.graphql(ctx, op, c.Repo, pullsWithReviews, vars, &d); err != nil {
		return nil, false, err
	}
	if d.Repository == nil {
		return nil, false, errs.Errorf(errs.NotFound, op, "repository %s was not found, or the token in %s cannot see it: check %s", c.Repo, TokenEnv, ReposEnv)
	}
	c.Pages++
	prs := d.Repository.PullRequests
	ended := false
	for _, n := range prs.Nodes {
		if n == nil || n.Number <= 0 {
			continue
		}
		v := unixOf(n.UpdatedAt)
		if v < window {
			ended = true // newest change first: everything after is older still
			break
		}
		c.Max = max(c.Max, v)
		if n.Reviews == nil {
			continue
		}
		if err := add(n.Number, n.Reviews.Nodes); err != nil {
			return nil, false, err
		}
		if n.Reviews.PageInfo.HasNextPage && n.Reviews.PageInfo.EndCursor != "" {
			c.More = append(c.More, pending{Number: n.Number, After: n.Reviews.PageInfo.EndCursor})
		}
	}
	st.pruneNew(c)
	next := prs.PageInfo.EndCursor
	if ended || !prs.PageInfo.HasNextPage || next == "" || next == c.After {
		c.Listed, c.After = true, ""
	} else {
		c.After = next
	}
	return recs, c.Listed && len(c.More) == 0, nil
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
