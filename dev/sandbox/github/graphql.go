package github

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/validator"
)

// The GraphQL API (POST /graphql; GitHub Enterprise Server serves it at
// /api/graphql beside /api/v3) over the same data as the REST endpoints: the
// repository's pull requests and their reviews, the rate limit and the viewer.
//
// What it imitates, as GitHub documents it ("Rate limits and query limits for the
// GraphQL API") and as clients meet it:
//
//   - Every connection needs first or last, each 0..100, or the query is refused
//     (MISSING_PAGINATION_BOUNDARIES, EXCESSIVE_PAGINATION); a query may ask for
//     at most 500,000 nodes (MAX_NODE_LIMIT_EXCEEDED).
//   - A query costs points: one request per connection, times the first/last of
//     every connection above it, summed, divided by 100 and rounded, at least 1
//     (pullRequests(first:100) with reviews(first:100) inside: (1+100)/100 = 1).
//     rateLimit { cost limit remaining resetAt used nodeCount } reports it;
//     rateLimit(dryRun: true) costs nothing. The primary budget is its own, 5,000
//     points an hour (x-ratelimit-resource: graphql), apart from REST's.
//   - Errors come in the body's "errors" array with HTTP 200: a query that does not
//     validate has no "data"; a field that fails (NOT_FOUND, FORBIDDEN,
//     INVALID_CURSOR_ARGUMENTS) is null, and so is its nearest nullable parent when
//     its type is non-null. A spent primary budget is HTTP 200 too, with only
//     errors: type RATE_LIMITED, "API rate limit exceeded for user ID 1." the first
//     time in a window, then type RATE_LIMIT with code graphql_rate_limit, "API rate
//     limit already exceeded for user ID 1." (both seen from github.com), and
//     x-ratelimit-remaining 0.
//   - The secondary limit (2,000 points a minute for GraphQL, a query counting 1)
//     answers like REST's: 403, or 429 with retry-after, and a REST-shaped body
//     "You have exceeded a secondary rate limit".
//   - A review's databaseId is a 32-bit Int: GitHub's review ids passed 2^31, so
//     the field fails for them and fullDatabaseId (a BigInt, sent as a string) is
//     the one to ask for. A bot's login has no "[bot]" suffix, unlike REST's.
//
// Validation messages are gqlparser's wording, not graphql-ruby's; the error
// types and the shapes above are GitHub's.
const docGraphQL = "https://docs.github.com/graphql"

const graphqlSchema = `
scalar DateTime
scalar URI
scalar GitObjectID
scalar BigInt

type Query {
  repository(owner: String!, name: String!, followRenames: Boolean = true): Repository
  rateLimit(dryRun: Boolean = false): RateLimit
  viewer: User!
}

type RateLimit { cost: Int! limit: Int! nodeCount: Int! remaining: Int! resetAt: DateTime! used: Int! }

enum OrderDirection { ASC DESC }
enum IssueOrderField { CREATED_AT UPDATED_AT COMMENTS }
input IssueOrder { field: IssueOrderField! direction: OrderDirection! }
enum PullRequestState { OPEN CLOSED MERGED }
enum PullRequestReviewState { PENDING COMMENTED APPROVED CHANGES_REQUESTED DISMISSED }
enum CommentAuthorAssociation { MEMBER OWNER MANNEQUIN COLLABORATOR CONTRIBUTOR FIRST_TIME_CONTRIBUTOR FIRST_TIMER NONE }

type Repository {
  id: ID!
  databaseId: Int
  name: String!
  nameWithOwner: String!
  pullRequests(first: Int, after: String, last: Int, before: String, states: [PullRequestState!], orderBy: IssueOrder): PullRequestConnection!
  pullRequest(number: Int!): PullRequest
}

type PageInfo { hasNextPage: Boolean! hasPreviousPage: Boolean! startCursor: String endCursor: String }

type PullRequestConnection { nodes: [PullRequest] edges: [PullRequestEdge] pageInfo: PageInfo! totalCount: Int! }
type PullRequestEdge { cursor: String! node: PullRequest }

type PullRequest {
  id: ID!
  databaseId: Int
  fullDatabaseId: BigInt
  number: Int!
  title: String!
  state: PullRequestState!
  isDraft: Boolean!
  createdAt: DateTime!
  updatedAt: DateTime!
  closedAt: DateTime
  mergedAt: DateTime
  url: URI!
  author: Actor
  reviews(first: Int, after: String, last: Int, before: String, states: [PullRequestReviewState!]): PullRequestReviewConnection
}

type PullRequestReviewConnection { nodes: [PullRequestReview] edges: [PullRequestReviewEdge] pageInfo: PageInfo! totalCount: Int! }
type PullRequestReviewEdge { cursor: String! node: PullRequestReview }

type PullRequestReview {
  id: ID!
  databaseId: Int
  fullDatabaseId: BigInt
  author: Actor
  authorAssociation: CommentAuthorAssociation!
  body: String!
  state: PullRequestReviewState!
  submittedAt: DateTime
  createdAt: DateTime!
  url: URI!
  commit: Commit
  pullRequest: PullRequest!
}

type Commit { oid: GitObjectID! }

interface Actor { login: String! url: URI! resourcePath: URI! }
type User implements Actor { id: ID! databaseId: Int login: String! name: String url: URI! resourcePath: URI! isSiteAdmin: Boolean! }
type Bot implements Actor { id: ID! databaseId: Int login: String! url: URI! resourcePath: URI! }
`

var gqlSchema = gqlparser.MustLoadSchema(&ast.Source{Name: "github.graphql", Input: graphqlSchema})

const (
	maxNodes    = 500_000
	maxPageSize = 100
)

// gqlError is one entry of a response's errors array, as GitHub writes it.
type gqlError struct {
	Type       string           `json:"type,omitempty"`
	Code       string           `json:"code,omitempty"`
	Path       []any            `json:"path,omitempty"`
	Extensions map[string]any   `json:"extensions,omitempty"`
	Locations  []map[string]int `json:"locations,omitempty"`
	Message    string           `json:"message"`
}

func locate(p *ast.Position) []map[string]int {
	if p == nil {
		return nil
	}
	return []map[string]int{{"line": p.Line, "column": p.Column}}
}

// fieldError is a field's failure: its value becomes null.
type fieldError struct {
	typ, msg string
	ext      map[string]any
}

func (e *fieldError) Error() string { return e.msg }

// graphql serves POST /graphql.
func (a *API) graphql(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Query         *string        `json:"query"`
		Variables     map[string]any `json:"variables"`
		OperationName string         `json:"operationName"`
	}
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "Problems parsing JSON", "documentation_url": docGraphQL, "status": "400"})
		return
	}
	if req.Query == nil || strings.TrimSpace(*req.Query) == "" {
		a.graphqlReply(w, false, nil, []gqlError{{Message: "A query attribute must be specified and must be a string."}})
		return
	}
	doc, errList := gqlparser.LoadQuery(gqlSchema, *req.Query)
	if len(errList) > 0 {
		a.graphqlReply(w, false, nil, validationErrors(errList))
		return
	}
	op := doc.Operations.ForName(req.OperationName)
	if op == nil {
		a.graphqlReply(w, false, nil, []gqlError{{Message: fmt.Sprintf("No operation named %q", req.OperationName)}})
		return
	}
	vars, err := validator.VariableValues(gqlSchema, op, req.Variables)
	if err != nil {
		a.graphqlReply(w, false, nil, []gqlError{{Type: "INVALID_VARIABLES", Message: err.Error()}})
		return
	}
	x := &gqlExec{api: a, vars: vars, base: base(r)}
	requests, nodes, errs := x.measure(op.SelectionSet, 1, nil)
	if len(errs) > 0 {
		a.graphqlReply(w, false, nil, errs)
		return
	}
	if nodes > maxNodes {
		a.graphqlReply(w, false, nil, []gqlError{{Type: "MAX_NODE_LIMIT_EXCEEDED", Message: fmt.Sprintf(
			"This query requests up to %d possible nodes which exceeds the maximum limit of %d.", nodes, maxNodes)}})
		return
	}
	cost := max(1, int(math.Round(float64(requests)/100)))
	if dryRunOnly(op, vars) {
		cost = 0
	}
	x.cost, x.nodes = cost, nodes
	if refusal := a.limits.chargeGraphQL(cost); refusal != "" {
		typ, code, msg := "RATE_LIMITED", "", "API rate limit exceeded for user ID 1."
		if refusal == "already" {
			typ, code, msg = "RATE_LIMIT", "graphql_rate_limit", "API rate limit already exceeded for user ID 1."
		}
		a.graphqlReply(w, false, nil, []gqlError{{Type: typ, Code: code, Message: msg}})
		return
	}
	a.mu.RLock()
	data := x.object(op.SelectionSet, queryNode{}, nil)
	a.mu.RUnlock()
	if data == nil {
		a.graphqlReply(w, true, nil, x.errs) // a non-null root field failed: "data": null
		return
	}
	a.graphqlReply(w, true, data, x.errs)
}

// dryRunOnly reports whether the operation asks only for rateLimit(dryRun: true),
// which GitHub does not charge.
func dryRunOnly(op *ast.OperationDefinition, vars map[string]any) bool {
	for _, s := range op.SelectionSet {
		f, ok := s.(*ast.Field)
		if !ok || f.Name != "rateLimit" || f.ArgumentMap(vars)["dryRun"] != true {
			return false
		}
	}
	return true
}

func validationErrors(list gqlerror.List) []gqlError {
	out := make([]gqlError, 0, len(list))
	for _, e := range list {
		g := gqlError{Message: e.Message, Extensions: e.Extensions}
		for _, l := range e.Locations {
			g.Locations = append(g.Locations, map[string]int{"line": l.Line, "column": l.Column})
		}
		out = append(out, g)
	}
	return out
}

// graphqlReply writes a GraphQL answer, HTTP 200 whatever went wrong: data
// (when withData) and errors, with the GraphQL budget's headers.
func (a *API) graphqlReply(w http.ResponseWriter, withData bool, data any, errs []gqlError) {
	out := ordered{}
	if withData {
		out = append(out, kv{"data", data})
	}
	if len(errs) > 0 {
		out = append(out, kv{"errors", errs})
	}
	h := w.Header()
	h.Set("X-GitHub-Media-Type", "github.v4; format=json")
	h.Set("X-GitHub-Request-Id", requestID())
	a.limits.graphqlHeaders(h)
	writeJSON(w, http.StatusOK, out)
}

// kv and ordered are a JSON object that keeps its keys in selection order, as
// GraphQL answers do.
type kv struct {
	k string
	v any
}

type ordered []kv

func (o ordered) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	for i, e := range o {
		if i > 0 {
			b = append(b, ',')
		}
		k, _ := json.Marshal(e.k)
		b = append(b, k...)
		b = append(b, ':')
		v, err := json.Marshal(e.v)
		if err != nil {
			return nil, err
		}
		b = append(b, v...)
	}
	return append(b, '}'), nil
}

// gqlNode is a value of an object type: its type name and its fields.
type gqlNode interface {
	typeName() string
	resolve(x *gqlExec, field string, args map[string]any) (any, error)
}

type gqlExec struct {
	api         *API
	vars        map[string]any
	base        string
	cost, nodes int
	errs        []gqlError
}

// measure walks the selection before anything runs: the requests and nodes its
// connections may cost, and the pagination errors GitHub refuses a query for.
func (x *gqlExec) measure(sel ast.SelectionSet, mult int, path []any) (requests, nodes int, errs []gqlError) {
	for _, s := range sel {
		var sub ast.SelectionSet
		m := mult
		p := path
		switch s := s.(type) {
		case *ast.Field:
			sub, p = s.SelectionSet, append(slices.Clone(path), s.Alias)
			if s.Definition != nil && strings.HasSuffix(s.Definition.Type.Name(), "Connection") {
				args := s.ArgumentMap(x.vars)
				first, hasFirst := toInt(args["first"])
				last, hasLast := toInt(args["last"])
				switch {
				case !hasFirst && !hasLast:
					errs = append(errs, gqlError{Type: "MISSING_PAGINATION_BOUNDARIES", Path: p, Locations: locate(s.Position),
						Message: fmt.Sprintf("You must provide a `first` or `last` value to properly paginate the `%s` connection.", s.Name)})
					continue
				case first > maxPageSize || last > maxPageSize:
					which, n := "first", first
					if last > maxPageSize {
						which, n = "last", last
					}
					errs = append(errs, gqlError{Type: "EXCESSIVE_PAGINATION", Path: p, Locations: locate(s.Position),
						Message: fmt.Sprintf("Requesting %d records on the `%s` connection exceeds the `%s` limit of %d records.", n, s.Name, which, maxPageSize)})
					continue
				case first < 0 || last < 0:
					errs = append(errs, gqlError{Type: "INVALID_PAGINATION", Path: p, Locations: locate(s.Position),
						Message: fmt.Sprintf("`first` and `last` on the `%s` connection must be positive.", s.Name)})
					continue
				}
				n := max(first, last)
				requests += mult
				m = mult * n
				nodes += m
			}
		case *ast.InlineFragment:
			sub = s.SelectionSet
		case *ast.FragmentSpread:
			if s.Definition != nil {
				sub = s.Definition.SelectionSet
			}
		}
		r, n, e := x.measure(sub, m, p)
		requests, nodes, errs = requests+r, nodes+n, append(errs, e...)
	}
	return requests, nodes, errs
}

func toInt(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int64:
		return int(n), true
	case float64:
		return int(n), true
	case json.Number:
		i, err := n.Int64()
		return int(i), err == nil
	}
	return 0, false
}

// fields flattens a selection for a value of type typ: its fields in order,
// through the fragments that apply.
func fields(sel ast.SelectionSet, typ string) []*ast.Field {
	var out []*ast.Field
	for _, s := range sel {
		switch s := s.(type) {
		case *ast.Field:
			out = append(out, s)
		case *ast.InlineFragment:
			if s.TypeCondition == "" || s.TypeCondition == typ || implements(typ, s.TypeCondition) {
				out = append(out, fields(s.SelectionSet, typ)...)
			}
		case *ast.FragmentSpread:
			if d := s.Definition; d != nil && (d.TypeCondition == typ || implements(typ, d.TypeCondition)) {
				out = append(out, fields(d.SelectionSet, typ)...)
			}
		}
	}
	return out
}

func implements(typ, iface string) bool {
	d := gqlSchema.Types[typ]
	return d != nil && slices.Contains(d.Interfaces, iface)
}

// object executes sel on v; nil when a non-null field failed, which makes the
// object itself null.
func (x *gqlExec) object(sel ast.SelectionSet, v gqlNode, path []any) ordered {
	out := ordered{}
	for _, f := range fields(sel, v.typeName()) {
		p := append(slices.Clone(path), f.Alias)
		if slices.ContainsFunc(out, func(e kv) bool { return e.k == f.Alias }) {
			continue // the same field selected twice (through a fragment): once
		}
		if f.Name == "__typename" {
			out = append(out, kv{f.Alias, v.typeName()})
			continue
		}
		val, err := v.resolve(x, f.Name, f.ArgumentMap(x.vars))
		if err != nil {
			g := gqlError{Path: p, Locations: locate(f.Position), Message: err.Error()}
			if fe, ok := err.(*fieldError); ok {
				g.Type, g.Extensions = fe.typ, fe.ext
			}
			x.errs = append(x.errs, g)
			val = nil
		}
		res := x.complete(f, f.Definition.Type, val, p)
		if res == nil && f.Definition.Type.NonNull {
			return nil
		}
		out = append(out, kv{f.Alias, res})
	}
	return out
}

// complete turns a resolved value into its answer: objects executed, lists item
// by item, scalars as they are.
func (x *gqlExec) complete(f *ast.Field, typ *ast.Type, val any, path []any) any {
	switch v := val.(type) {
	case nil:
		return nil
	case []gqlNode:
		out := make([]any, len(v))
		for i, item := range v {
			out[i] = x.complete(f, typ.Elem, item, append(slices.Clone(path), i))
			if out[i] == nil && typ.Elem.NonNull {
				return nil
			}
		}
		return out
	case gqlNode:
		if o := x.object(f.SelectionSet, v, path); o != nil {
			return o
		}
		return nil
	}
	return val
}

type queryNode struct{}

func (queryNode) typeName() string { return "Query" }

func (queryNode) resolve(x *gqlExec, field string, args map[string]any) (any, error) {
	switch field {
	case "repository":
		owner, _ := args["owner"].(string)
		name, _ := args["name"].(string)
		rp := x.api.w.find(owner + "/" + name)
		if rp == nil {
			return nil, &fieldError{typ: "NOT_FOUND", msg: fmt.Sprintf("Could not resolve to a Repository with the name '%s/%s'.", owner, name)}
		}
		return repoNode{rp}, nil
	case "rateLimit":
		return rateLimitNode{}, nil
	case "viewer":
		return actorNode{&user{login: "sandbox-bot", id: 1, name: "Sandbox Bot"}}, nil
	}
	return nil, nil
}

type rateLimitNode struct{}

func (rateLimitNode) typeName() string { return "RateLimit" }

func (rateLimitNode) resolve(x *gqlExec, field string, _ map[string]any) (any, error) {
	limit, remaining, used, reset := x.api.limits.graphqlState()
	switch field {
	case "cost":
		return x.cost, nil
	case "nodeCount":
		return x.nodes, nil
	case "limit":
		return limit, nil
	case "remaining":
		return remaining, nil
	case "used":
		return used, nil
	case "resetAt":
		return ts(reset), nil
	}
	return nil, nil
}

type repoNode struct{ rp *repo }

func (repoNode) typeName() string { return "Repository" }

func (n repoNode) resolve(x *gqlExec, field string, args map[string]any) (any, error) {
	rp := n.rp
	switch field {
	case "id":
		return "R_kgDO" + strconv.FormatInt(rp.id, 36), nil
	case "databaseId":
		return rp.id, nil
	case "name":
		return rp.name, nil
	case "nameWithOwner":
		return rp.fullName(), nil
	case "pullRequests", "pullRequest":
		if slices.Contains(x.api.opts.Forbidden, rp.fullName()+"/pulls") {
			return nil, &fieldError{typ: "FORBIDDEN", msg: ForbiddenMessage, ext: map[string]any{"saml_failure": false}}
		}
		if field == "pullRequest" {
			num, _ := toInt(args["number"])
			if num < 1 || num > len(rp.issues) || rp.issues[num-1].pr == nil {
				return nil, &fieldError{typ: "NOT_FOUND", msg: fmt.Sprintf("Could not resolve to a PullRequest with the number of %d.", num)}
			}
			return pullNode{rp, rp.issues[num-1]}, nil
		}
		return n.pullRequests(args)
	}
	return nil, nil
}

// pullRequests lists the pull requests in orderBy's order (created first by
// default), states filtering: OPEN, CLOSED (not merged) and MERGED.
func (n repoNode) pullRequests(args map[string]any) (any, error) {
	var states []string
	if s, ok := args["states"].([]any); ok {
		for _, v := range s {
			states = append(states, fmt.Sprint(v))
		}
	}
	field, desc := "CREATED_AT", false
	if o, ok := args["orderBy"].(map[string]any); ok {
		field, _ = o["field"].(string)
		desc = o["direction"] == "DESC"
	}
	var es []entry
	for _, it := range n.rp.issues {
		if it.pr == nil || (len(states) > 0 && !slices.Contains(states, pullState(it))) {
			continue
		}
		// CREATED_AT, UPDATED_AT, COMMENTS: REST's created, updated, comments.
		by := strings.ToLower(strings.TrimSuffix(field, "_AT"))
		es = append(es, entry{k1: sortKey(it, by), k2: int64(it.number), v: pullNode{n.rp, it}})
	}
	sortEntries(es, desc)
	return paginateGraphQL("PullRequestConnection", es, desc, args)
}

func pullState(it *issue) string {
	switch {
	case !it.pr.merged.IsZero():
		return "MERGED"
	case it.state == "closed":
		return "CLOSED"
	}
	return "OPEN"
}

// connectionNode is a page of a connection.
type connectionNode struct {
	typ        string // e.g. PullRequestConnection
	items      []entry
	total      int
	next, prev bool
}

func (c connectionNode) typeName() string { return c.typ }

func (c connectionNode) resolve(_ *gqlExec, field string, _ map[string]any) (any, error) {
	switch field {
	case "nodes":
		out := make([]gqlNode, len(c.items))
		for i, e := range c.items {
			out[i] = e.v.(gqlNode)
		}
		return out, nil
	case "edges":
		out := make([]gqlNode, len(c.items))
		for i, e := range c.items {
			out[i] = edgeNode{strings.TrimSuffix(c.typ, "Connection") + "Edge", e}
		}
		return out, nil
	case "totalCount":
		return c.total, nil
	case "pageInfo":
		p := pageInfoNode{next: c.next, prev: c.prev}
		if len(c.items) > 0 {
			p.start, p.end = encodeAfter(c.items[0]), encodeAfter(c.items[len(c.items)-1])
		}
		return p, nil
	}
	return nil, nil
}

type edgeNode struct {
	typ string
	e   entry
}

func (e edgeNode) typeName() string { return e.typ }

func (e edgeNode) resolve(_ *gqlExec, field string, _ map[string]any) (any, error) {
	if field == "cursor" {
		return encodeAfter(e.e), nil
	}
	return e.e.v, nil
}

type pageInfoNode struct {
	next, prev bool
	start, end string
}

func (pageInfoNode) typeName() string { return "PageInfo" }

func (p pageInfoNode) resolve(_ *gqlExec, field string, _ map[string]any) (any, error) {
	orNil := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	switch field {
	case "hasNextPage":
		return p.next, nil
	case "hasPreviousPage":
		return p.prev, nil
	case "startCursor":
		return orNil(p.start), nil
	case "endCursor":
		return orNil(p.end), nil
	}
	return nil, nil
}

// paginateGraphQL cuts es (sorted) by after/before, then first/last; cursors are
// the REST after= keys of the same entries.
func paginateGraphQL(typ string, es []entry, desc bool, args map[string]any) (any, error) {
	total := len(es)
	beyond := func(x, k entry) bool { // x comes after k in the list's order
		c := cmp2(x, k)
		if desc {
			return c < 0
		}
		return c > 0
	}
	lo, hi := 0, len(es)
	for _, a := range []string{"after", "before"} {
		s, ok := args[a].(string)
		if !ok {
			continue
		}
		k, valid := decodeAfter(s)
		if !valid {
			return nil, &fieldError{typ: "INVALID_CURSOR_ARGUMENTS", msg: fmt.Sprintf("`%s` does not appear to be a valid cursor.", s)}
		}
		if a == "after" {
			for lo < len(es) && !beyond(es[lo], k) {
				lo++
			}
		} else {
			for hi > lo && !beyond(k, es[hi-1]) {
				hi--
			}
		}
	}
	page := es[lo:hi]
	c := connectionNode{typ: typ, total: total, prev: lo > 0, next: hi < len(es)}
	if first, ok := toInt(args["first"]); ok && first < len(page) {
		page, c.next = page[:first], true
	}
	if last, ok := toInt(args["last"]); ok && last < len(page) {
		page, c.prev = page[len(page)-last:], true
	}
	c.items = page
	return c, nil
}

type pullNode struct {
	rp *repo
	it *issue
}

func (pullNode) typeName() string { return "PullRequest" }

func (n pullNode) resolve(x *gqlExec, field string, args map[string]any) (any, error) {
	it, p := n.it, n.it.pr
	switch field {
	case "id":
		return "PR_kwDO" + strconv.FormatInt(p.id, 36), nil
	case "databaseId":
		return int32OrError(p.id)
	case "fullDatabaseId":
		return strconv.FormatInt(p.id, 10), nil
	case "number":
		return it.number, nil
	case "title":
		return it.title, nil
	case "state":
		return pullState(it), nil
	case "isDraft":
		return p.draft, nil
	case "createdAt":
		return ts(it.created), nil
	case "updatedAt":
		return ts(it.updated), nil
	case "closedAt":
		return tsOrNil(it.closed), nil
	case "mergedAt":
		return tsOrNil(p.merged), nil
	case "url":
		return "https://github.com/" + n.rp.fullName() + "/pull/" + strconv.Itoa(it.number), nil
	case "author":
		return actorOrNil(it.user), nil
	case "reviews":
		var states []string
		if s, ok := args["states"].([]any); ok {
			for _, v := range s {
				states = append(states, fmt.Sprint(v))
			}
		}
		var es []entry
		for _, rv := range p.reviews {
			if len(states) == 0 || slices.Contains(states, rv.state) {
				es = append(es, entry{k1: rv.id, v: reviewNode{n.rp, it, rv}})
			}
		}
		return paginateGraphQL("PullRequestReviewConnection", es, false, args)
	}
	return nil, nil
}

// int32OrError is a database id as GraphQL's Int, which is 32 bits: larger ids
// fail the field (ask for fullDatabaseId).
func int32OrError(id int64) (any, error) {
	if id > math.MaxInt32 {
		return nil, &fieldError{msg: fmt.Sprintf("Int cannot represent non 32-bit signed integer value: %d; use fullDatabaseId", id)}
	}
	return id, nil
}

type reviewNode struct {
	rp *repo
	it *issue
	rv *review
}

func (reviewNode) typeName() string { return "PullRequestReview" }

func (n reviewNode) resolve(x *gqlExec, field string, _ map[string]any) (any, error) {
	rv := n.rv
	switch field {
	case "id":
		return "PRR_kwDO" + strconv.FormatInt(rv.id, 36), nil
	case "databaseId":
		return int32OrError(rv.id)
	case "fullDatabaseId":
		return strconv.FormatInt(rv.id, 10), nil
	case "author":
		return actorOrNil(rv.user), nil
	case "authorAssociation":
		return association(n.rp, rv.user), nil
	case "body":
		return "", nil
	case "state":
		return rv.state, nil
	case "submittedAt":
		return tsOrNil(rv.submitted), nil
	case "createdAt":
		return ts(rv.submitted), nil
	case "url":
		return "https://github.com/" + n.rp.fullName() + "/pull/" + strconv.Itoa(n.it.number) + "#pullrequestreview-" + strconv.FormatInt(rv.id, 10), nil
	case "commit":
		if rv.commitID == "" {
			return nil, nil
		}
		return commitNode(rv.commitID), nil
	case "pullRequest":
		return pullNode{n.rp, n.it}, nil
	}
	return nil, nil
}

type commitNode string

func (commitNode) typeName() string { return "Commit" }

func (c commitNode) resolve(*gqlExec, string, map[string]any) (any, error) { return string(c), nil }

// actorNode is a User or a Bot, the same account REST's user objects show.
type actorNode struct{ u *user }

func actorOrNil(u *user) any {
	if u == nil {
		return nil
	}
	return actorNode{u}
}

func (n actorNode) typeName() string {
	if n.u.bot {
		return "Bot"
	}
	return "User"
}

func (n actorNode) resolve(_ *gqlExec, field string, _ map[string]any) (any, error) {
	u := n.u
	login := u.login
	if u.bot {
		login = strings.TrimSuffix(login, "[bot]") // GraphQL names a bot by its app's slug
	}
	switch field {
	case "id":
		return "U_kgDO" + strconv.FormatInt(u.id, 36), nil
	case "databaseId":
		return u.id, nil
	case "login":
		return login, nil
	case "name":
		return nilIfEmpty(u.name), nil
	case "url":
		return "https://github.com/" + login, nil
	case "resourcePath":
		return "/" + login, nil
	case "isSiteAdmin":
		return false, nil
	}
	return nil, nil
}
