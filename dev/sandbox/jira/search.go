package jira

import (
	"encoding/base64"
	"encoding/json"
	"hash/fnv"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// searchRequest is /search/jql's input, from the query string (GET) or the body (POST).
type searchRequest struct {
	JQL           string   `json:"jql"`
	NextPageToken string   `json:"nextPageToken"`
	MaxResults    *int     `json:"maxResults"`
	Fields        []string `json:"fields"`
	Expand        string   `json:"expand"` // a comma-separated string, in the body too
	Properties    []string `json:"properties"`
	FieldsByKeys  bool     `json:"fieldsByKeys"`
	FailFast      bool     `json:"failFast"`
}

func (a *API) searchGet(r *http.Request, w wire) (int, any) {
	q := r.URL.Query()
	req := searchRequest{JQL: q.Get("jql"), NextPageToken: q.Get("nextPageToken"), Expand: q.Get("expand")}
	if v := q.Get("maxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return http.StatusBadRequest, errorBody("The value '" + v + "' is invalid for maxResults.")
		}
		req.MaxResults = &n
	}
	for _, f := range q["fields"] {
		req.Fields = append(req.Fields, strings.Split(f, ",")...)
	}
	return a.search(req, w)
}

func (a *API) searchPost(r *http.Request, w wire) (int, any) {
	var req searchRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		return http.StatusBadRequest, errorBody("Invalid request payload. Refer to the REST API documentation and try again.")
	}
	return a.search(req, w)
}

// pageToken is what nextPageToken carries: the query it belongs to and where the
// page ended. Clients must treat it as opaque.
type pageToken struct {
	Query uint64   `json:"q"`
	After position `json:"a"`
}

func queryHash(jql string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(strings.Join(strings.Fields(jql), " ")))
	return h.Sum64()
}

// search runs one page of a query. Pages follow the query's order from where
// the token says the last page ended. There is no total; a page that filled up
// carries a nextPageToken even when nothing follows (Jira does not look ahead),
// so the last page may be empty.
func (a *API) search(req searchRequest, w wire) (int, any) {
	limit := 50
	if req.MaxResults != nil {
		if *req.MaxResults < 1 {
			return http.StatusBadRequest, errorBody("The value of maxResults must be greater than 0.")
		}
		limit = *req.MaxResults
	}
	limit = min(limit, a.opts.MaxResults)
	q, err := compile(req.JQL, env{w: a.w, tz: a.tz, now: a.opts.Now()})
	if err != nil {
		return http.StatusBadRequest, errorBody(err.Error())
	}
	hash := queryHash(req.JQL)
	var after *position
	if req.NextPageToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(req.NextPageToken)
		var tok pageToken
		if err != nil || json.Unmarshal(b, &tok) != nil || tok.Query != hash {
			return http.StatusBadRequest, errorBody("The provided nextPageToken is invalid or does not belong to this query.")
		}
		after = &tok.After
	}
	fields := fieldList(req.Fields)

	var match []*issue
	for _, is := range a.w.issues {
		if q.match(is) && (after == nil || compareBy(q.order, positionOf(is), *after) > 0) {
			match = append(match, is)
		}
	}
	slices.SortFunc(match, func(x, y *issue) int { return compareBy(q.order, positionOf(x), positionOf(y)) })
	page := match[:min(limit, len(match))]
	issues := make([]map[string]any, len(page))
	for i, is := range page {
		issues[i] = w.issue(is, fields)
	}
	out := map[string]any{"issues": issues, "isLast": len(page) < limit}
	if len(page) == limit {
		b, _ := json.Marshal(pageToken{Query: hash, After: positionOf(page[len(page)-1])})
		out["nextPageToken"] = base64.RawURLEncoding.EncodeToString(b)
	}
	return http.StatusOK, out
}

// fieldList resolves a fields parameter: names, *all, *navigable, and -name to
// leave one out. Unknown names are ignored, as Jira does; nothing asked is the
// ids-only default.
func fieldList(asked []string) []string {
	var out, minus []string
	for _, f := range asked {
		f = strings.TrimSpace(f)
		switch {
		case f == "":
		case f == "*all" || f == "*navigable":
			for _, n := range navigable {
				if !slices.Contains(out, n) {
					out = append(out, n)
				}
			}
		case strings.HasPrefix(f, "-"):
			minus = append(minus, f[1:])
		case !slices.Contains(out, f):
			out = append(out, f)
		}
	}
	return slices.DeleteFunc(out, func(f string) bool { return slices.Contains(minus, f) })
}
