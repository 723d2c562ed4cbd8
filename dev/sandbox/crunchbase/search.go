package crunchbase

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"
)

// MaxLimit is the most entities one search returns; DefaultLimit is what it
// returns when the body names no limit.
const (
	MaxLimit     = 1000
	DefaultLimit = 50
)

type searchRequest struct {
	FieldIDs []string     `json:"field_ids"`
	Query    *[]predicate `json:"query"` // required, though it may be empty
	Order    []orderBy    `json:"order"`
	Limit    *int         `json:"limit"`
	AfterID  string       `json:"after_id"`
	BeforeID string       `json:"before_id"`
}

type predicate struct {
	Type       string            `json:"type"`
	FieldID    string            `json:"field_id"`
	OperatorID string            `json:"operator_id"`
	Values     []json.RawMessage `json:"values"`
}

type orderBy struct {
	FieldID string `json:"field_id"`
	Sort    string `json:"sort"`
}

// kind is how a field is compared in predicates and orders.
type kind uint8

const (
	kText kind = iota
	kEnum
	kTime
	kDate
	kNumber
	kMoney
	kList
	kUUID
)

var searchable = map[string]kind{
	"identifier": kText, "short_description": kText, "website_url": kText,
	"num_employees_enum": kEnum, "last_funding_type": kEnum, "operating_status": kEnum,
	"founded_on": kDate, "created_at": kTime, "updated_at": kTime,
	"rank_org": kNumber, "funding_total": kMoney, "categories": kList, "facet_ids": kList, "uuid": kUUID,
}

var operators = map[kind][]string{
	kText:   {"eq", "not_eq", "contains", "starts"},
	kEnum:   {"eq", "not_eq", "includes", "not_includes"},
	kTime:   {"eq", "not_eq", "gt", "gte", "lt", "lte", "between"},
	kDate:   {"eq", "not_eq", "gt", "gte", "lt", "lte", "between"},
	kNumber: {"eq", "not_eq", "gt", "gte", "lt", "lte", "between"},
	kMoney:  {"eq", "not_eq", "gt", "gte", "lt", "lte", "between"},
	kList:   {"includes", "not_includes", "includes_all"},
	kUUID:   {"eq", "not_eq", "includes", "not_includes"},
}

// value is what a field of x compares as: string, time.Time, float64, []string or nil.
func value(x *org, field string) any {
	switch field {
	case "identifier":
		return x.name
	case "short_description":
		return x.description
	case "website_url":
		return nilIfEmpty(x.website)
	case "num_employees_enum":
		return x.employees
	case "last_funding_type":
		return nilIfEmpty(x.fundingType)
	case "operating_status":
		return x.status
	case "founded_on":
		return x.founded
	case "created_at":
		return x.created
	case "updated_at":
		return x.updated
	case "rank_org":
		return float64(x.rank)
	case "funding_total":
		if x.funding == nil {
			return nil
		}
		return float64(x.funding.usd)
	case "categories":
		var out []string
		for _, c := range x.categories {
			out = append(out, c.permalink, c.uuid, c.value)
		}
		return out
	case "facet_ids":
		return []string{"company"}
	case "uuid":
		return x.uuid
	}
	return nil
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// search is POST /api/v4/searches/organizations.
func (a *API) search(w http.ResponseWriter, r *http.Request) {
	var req searchRequest
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeErrors(w, http.StatusBadRequest, "MD100", "Invalid request body: "+err.Error())
		return
	}
	if len(req.FieldIDs) == 0 {
		writeErrors(w, http.StatusBadRequest, "MD100", `Missing required field: field_ids. List the fields to return, e.g. "field_ids": ["identifier", "short_description"]`)
		return
	}
	if bad := unknownFields(req.FieldIDs); len(bad) > 0 {
		writeErrors(w, http.StatusBadRequest, "MD101", "Unsupported field_ids provided: "+strings.Join(bad, ", "))
		return
	}
	if req.Query == nil { // Crunchbase's search takes field_ids and query, both required
		writeErrors(w, http.StatusBadRequest, "MD100", `Missing required field: query. List the predicates to match (AND-ed), e.g. "query": [{"type": "predicate", "field_id": "facet_ids", "operator_id": "includes", "values": ["company"]}]`)
		return
	}
	limit := DefaultLimit
	if req.Limit != nil {
		limit = *req.Limit
	}
	if limit < 1 || limit > MaxLimit {
		writeErrors(w, http.StatusBadRequest, "MD102", fmt.Sprintf("limit must be between 1 and %d, got %d", MaxLimit, limit))
		return
	}
	if req.AfterID != "" && req.BeforeID != "" {
		writeErrors(w, http.StatusBadRequest, "MD102", "after_id and before_id cannot be used together")
		return
	}
	match, err := compileQuery(*req.Query)
	if err != nil {
		writeErrors(w, http.StatusBadRequest, "MD103", err.Error())
		return
	}
	order, err := compileOrder(req.Order)
	if err != nil {
		writeErrors(w, http.StatusBadRequest, "MD104", err.Error())
		return
	}

	a.mu.RLock()
	defer a.mu.RUnlock() // the answer is small; encoding under the lock is fine
	var hits []*org
	for _, x := range a.orgs {
		if match(x) {
			hits = append(hits, x)
		}
	}
	slices.SortFunc(hits, order)
	page := hits
	// Keyset paging: the pivot's place is computed from its current values, so a
	// client that changes the order between pages, or pages by a field that
	// changed under it, lands somewhere else.
	switch {
	case req.AfterID != "":
		pivot, ok := a.byUUID[req.AfterID]
		if !ok {
			writeErrors(w, http.StatusBadRequest, "MD105", "after_id "+req.AfterID+" is not an organization uuid")
			return
		}
		page = hits[sort.Search(len(hits), func(i int) bool { return order(hits[i], pivot) > 0 }):]
		page = page[:min(limit, len(page))]
	case req.BeforeID != "":
		pivot, ok := a.byUUID[req.BeforeID]
		if !ok {
			writeErrors(w, http.StatusBadRequest, "MD105", "before_id "+req.BeforeID+" is not an organization uuid")
			return
		}
		end := sort.Search(len(hits), func(i int) bool { return order(hits[i], pivot) >= 0 })
		page = hits[max(0, end-limit):end]
	default:
		page = hits[:min(limit, len(hits))]
	}
	entities := make([]map[string]any, len(page))
	for i, x := range page {
		entities[i] = x.entity(req.FieldIDs)
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": len(hits), "entities": entities})
}

// compileQuery turns the AND-ed predicates into one test.
func compileQuery(query []predicate) (func(*org) bool, error) {
	var tests []func(*org) bool
	for i, p := range query {
		t, err := compilePredicate(p)
		if err != nil {
			return nil, fmt.Errorf("query[%d]: %v", i, err)
		}
		tests = append(tests, t)
	}
	return func(x *org) bool {
		for _, t := range tests {
			if !t(x) {
				return false
			}
		}
		return true
	}, nil
}

func compilePredicate(p predicate) (func(*org) bool, error) {
	if p.Type != "predicate" {
		return nil, fmt.Errorf("type must be \"predicate\", got %q", p.Type)
	}
	k, ok := searchable[p.FieldID]
	if !ok {
		return nil, fmt.Errorf("field_id %q cannot be searched", p.FieldID)
	}
	if !slices.Contains(operators[k], p.OperatorID) {
		return nil, fmt.Errorf("operator_id %q does not apply to %s (use one of %s)", p.OperatorID, p.FieldID, strings.Join(operators[k], ", "))
	}
	if len(p.Values) == 0 {
		return nil, fmt.Errorf("%s %s needs values", p.FieldID, p.OperatorID)
	}
	vals := make([]any, len(p.Values))
	for i, raw := range p.Values {
		v, err := parseValue(k, raw)
		if err != nil {
			return nil, fmt.Errorf("%s value %s: %v", p.FieldID, raw, err)
		}
		vals[i] = v
	}
	if p.OperatorID == "between" && len(vals) != 2 {
		return nil, fmt.Errorf("between takes two values")
	}
	field, op := p.FieldID, p.OperatorID
	return func(x *org) bool {
		v := value(x, field)
		switch op {
		case "includes", "not_includes", "includes_all":
			have := map[string]bool{}
			switch t := v.(type) {
			case []string:
				for _, s := range t {
					have[s] = true
				}
			case string:
				have[t] = true
			}
			n := 0
			for _, want := range vals {
				if have[want.(string)] {
					n++
				}
			}
			switch op {
			case "includes":
				return n > 0
			case "not_includes":
				return n == 0
			}
			return n == len(vals)
		case "contains":
			s, _ := v.(string)
			return strings.Contains(strings.ToLower(s), strings.ToLower(vals[0].(string)))
		case "starts":
			s, _ := v.(string)
			return strings.HasPrefix(strings.ToLower(s), strings.ToLower(vals[0].(string)))
		}
		if v == nil {
			return op == "not_eq"
		}
		c := compareValues(v, vals[0])
		switch op {
		case "eq":
			return c == 0
		case "not_eq":
			return c != 0
		case "gt":
			return c > 0
		case "gte":
			return c >= 0
		case "lt":
			return c < 0
		case "lte":
			return c <= 0
		}
		return c >= 0 && compareValues(v, vals[1]) <= 0 // between, inclusive
	}, nil
}

// parseValue reads a predicate value for a field of kind k.
func parseValue(k kind, raw json.RawMessage) (any, error) {
	switch k {
	case kNumber, kMoney:
		var n json.Number
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		switch x := v.(type) {
		case json.Number:
			n = x
		case map[string]any: // money as {"value": 1000000, "currency": "usd"}
			if x["currency"] != nil && !strings.EqualFold(fmt.Sprint(x["currency"]), "usd") {
				return nil, fmt.Errorf("only usd amounts can be compared here")
			}
			num, ok := x["value"].(json.Number)
			if !ok {
				return nil, fmt.Errorf("want a number or {value, currency}")
			}
			n = num
		default:
			return nil, fmt.Errorf("want a number")
		}
		return n.Float64()
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("want a string")
	}
	switch k {
	case kTime:
		for _, layout := range []string{time.RFC3339Nano, time.DateOnly} {
			if t, err := time.Parse(layout, s); err == nil {
				return t, nil
			}
		}
		return nil, fmt.Errorf("want an ISO 8601 date or timestamp such as 2024-03-01 or 2024-03-01T12:00:00Z")
	case kDate:
		if _, err := time.Parse(time.DateOnly, s); err != nil {
			return nil, fmt.Errorf("want a date such as 2019-04-01")
		}
	}
	return s, nil
}

// compareValues orders two values of one kind.
func compareValues(x, y any) int {
	switch a := x.(type) {
	case time.Time:
		if b, ok := y.(time.Time); ok {
			return a.Compare(b)
		}
	case float64:
		if b, ok := y.(float64); ok {
			return cmp.Compare(a, b)
		}
	case string:
		if b, ok := y.(string); ok {
			return strings.Compare(a, b)
		}
	}
	return strings.Compare(fmt.Sprint(x), fmt.Sprint(y))
}

// compileOrder returns the comparison of the requested order, uuid last as the
// tie-break. No order is rank_org ascending.
func compileOrder(order []orderBy) (func(x, y *org) int, error) {
	if len(order) == 0 {
		order = []orderBy{{FieldID: "rank_org", Sort: "asc"}}
	}
	for _, o := range order {
		k, ok := searchable[o.FieldID]
		if !ok || k == kList {
			return nil, fmt.Errorf("cannot order by %q", o.FieldID)
		}
		if o.Sort != "asc" && o.Sort != "desc" && o.Sort != "" {
			return nil, fmt.Errorf("sort must be asc or desc, got %q", o.Sort)
		}
	}
	return func(x, y *org) int {
		for _, o := range order {
			vx, vy := value(x, o.FieldID), value(y, o.FieldID)
			var c int
			switch {
			case vx == nil && vy == nil:
			case vx == nil:
				c = 1 // nulls last
			case vy == nil:
				c = -1
			default:
				c = compareValues(vx, vy)
			}
			if o.Sort == "desc" {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return strings.Compare(x.uuid, y.uuid)
	}, nil
}
