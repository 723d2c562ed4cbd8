package peopledatalabs

import (
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"strconv"
	"strings"
)

// Search limits: size runs 1..100 (default 1); the legacy from offset stops at
// 10,000 records and cannot be combined with scroll_token.
const (
	maxSize    = 100
	maxFrom    = 9_999
	maxFromEnd = 10_000
)

// companySearch is GET|POST /v5/company/search. Records come in a fixed order;
// each answer's scroll_token names the query and the last record returned, and
// the same query with that token returns the records after it. A page that
// reaches the end still carries a token; following it answers 404, as every
// search with no records does. Each record returned costs a credit.
func (a *API) companySearch(w http.ResponseWriter, c *call) {
	q, err := c.searchRequest()
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", err.Error())
		return
	}
	if c.pool.exhausted() && !q.countOnly {
		c.paymentRequired(w)
		return
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	var hits []*company
	for _, x := range a.companies {
		if q.match(x.rec) {
			hits = append(hits, x)
		}
	}
	if len(hits) == 0 {
		writeNoMatch(w)
		return
	}
	if q.countOnly {
		writeJSON(w, http.StatusOK, map[string]any{"status": http.StatusOK, "total": len(hits)}, q.pretty)
		return
	}
	start := min(q.from, len(hits))
	if q.after >= 0 {
		start = len(hits)
		for i, x := range hits {
			if x.ordinal > q.after {
				start = i
				break
			}
		}
	}
	page := hits[start:min(start+q.size, len(hits))]
	if len(page) == 0 {
		writeNoMatch(w)
		return
	}
	if !c.charge(w, len(page)) {
		c.paymentRequired(w)
		return
	}
	data := make([]map[string]any, len(page))
	for i, x := range page {
		data[i] = q.include(x.rec)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"status": http.StatusOK, "data": data, "total": len(hits),
		"scroll_token": q.token(page[len(page)-1].ordinal),
	}, q.pretty)
}

type searchRequest struct {
	match     predicate
	text      string // the query as sent: scroll tokens belong to it
	size      int
	from      int
	after     int // ordinal of the last record returned before; -1 = from the start
	countOnly bool
	pretty    bool
	include   func(map[string]any) map[string]any
}

func (c *call) searchRequest() (searchRequest, error) {
	q := searchRequest{after: -1, countOnly: c.flag("count_only"), pretty: c.flag("pretty")}
	q.include = dataInclude(c.has("data_include"), c.str("data_include"))
	var err error
	switch es, sql := c.params["query"], c.str("sql"); {
	case (es == nil) == (sql == ""):
		return q, errors.New("You must provide either a query or an sql parameter (but not both)")
	case es != nil:
		q.text = fmt.Sprint(es)
		q.match, err = compileES(es)
	default:
		q.text = sql
		q.match, err = compileSQL(sql)
	}
	if err != nil {
		return q, err
	}
	if q.size, err = c.integer("size", 1); err != nil {
		return q, err
	}
	if q.size < 1 || q.size > maxSize {
		return q, fmt.Errorf("size must be between 1 and %d, not %d", maxSize, q.size)
	}
	if q.from, err = c.integer("from", 0); err != nil {
		return q, err
	}
	if q.from < 0 || q.from > maxFrom || q.from+q.size > maxFromEnd {
		return q, fmt.Errorf("from must be between 0 and %d, and from + size at most %d; use scroll_token to page further", maxFrom, maxFromEnd)
	}
	if tok := c.str("scroll_token"); tok != "" {
		if c.has("from") {
			return q, errors.New("from and scroll_token cannot be used in the same request")
		}
		if q.after, err = q.parseToken(tok); err != nil {
			return q, err
		}
	}
	return q, nil
}

// token is a scroll token in PDL's shape ("13.312621$543927"): a score that
// stands for the query, then the position of the last record returned.
func (q searchRequest) token(last int) string {
	return q.score() + "$" + strconv.Itoa(last)
}

func (q searchRequest) score() string {
	h := fnv.New32a()
	h.Write([]byte(q.text))
	return fmt.Sprintf("%d.%06d", 1+h.Sum32()%20, h.Sum32()%1_000_000)
}

func (q searchRequest) parseToken(tok string) (int, error) {
	score, pos, ok := strings.Cut(tok, "$")
	n, err := strconv.Atoi(pos)
	if !ok || err != nil || n < 0 {
		return 0, fmt.Errorf("Invalid scroll_token: %q", tok)
	}
	if score != q.score() {
		return 0, fmt.Errorf("scroll_token %q was issued for another query; send the same query with it", tok)
	}
	return n, nil
}
