package hubspot

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

type searchRequest struct {
	FilterGroups []struct {
		Filters []searchFilter `json:"filters"`
	} `json:"filterGroups"`
	Sorts      []searchSort    `json:"sorts"`
	Properties []string        `json:"properties"`
	Limit      *int            `json:"limit"`
	After      json.RawMessage `json:"after"` // "200" (HubSpot's own) or 200
}

type searchFilter struct {
	PropertyName string            `json:"propertyName"`
	Operator     string            `json:"operator"`
	Value        json.RawMessage   `json:"value"`
	HighValue    json.RawMessage   `json:"highValue"`
	Values       []json.RawMessage `json:"values"`
}

type searchSort struct {
	PropertyName string `json:"propertyName"`
	Direction    string `json:"direction"`
}

type searchPage struct {
	Total   int          `json:"total"`
	Results []wireRecord `json:"results"`
	Paging  *paging      `json:"paging,omitempty"`
}

// badRequest is a validation failure reported with HubSpot's 400 body.
type badRequest string

func (e badRequest) Error() string { return string(e) }

// search is POST /crm/v3/objects/{object}/search. It pages by offset ("after" is
// the stringified offset), never returns archived records, and refuses to page
// past SearchCap results.
func (a *API) search(r *http.Request) (int, any) {
	s, fail := a.object(r)
	if fail != nil {
		return http.StatusBadRequest, fail
	}
	var req searchRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		return http.StatusBadRequest, errorBody("Invalid input JSON on line 1: "+err.Error(), "VALIDATION_ERROR")
	}
	page, err := a.runSearch(s, req)
	if err != nil {
		return http.StatusBadRequest, errorBody(err.Error(), "VALIDATION_ERROR")
	}
	return http.StatusOK, page
}

func (a *API) runSearch(s *store, req searchRequest) (searchPage, error) {
	limit := 10
	if req.Limit != nil {
		limit = *req.Limit
	}
	if limit < 1 || limit > 200 {
		return searchPage{}, badRequest(fmt.Sprintf("limit must be between 1 and 200, got %d", limit))
	}
	offset := 0
	if raw := bytes.Trim(req.After, `"`); len(raw) > 0 && string(raw) != "null" {
		n, err := strconv.Atoi(string(raw))
		if err != nil || n < 0 {
			return searchPage{}, badRequest("after must be a non-negative integer offset, got " + string(req.After))
		}
		offset = n
	}
	if offset >= a.opts.SearchCap {
		// The imitation of HubSpot's hard cap: no query pages past SearchCap results.
		return searchPage{}, badRequest(fmt.Sprintf("Search results are limited to %d. after=%d pages past that limit: narrow the query's filters instead of paging further.", a.opts.SearchCap, offset))
	}
	match, err := compileFilters(s.def, req)
	if err != nil {
		return searchPage{}, err
	}
	less, err := compileSorts(s.def, req.Sorts)
	if err != nil {
		return searchPage{}, err
	}

	var hits []*record
	for _, rec := range s.recs {
		if !rec.archived() && match(rec) {
			hits = append(hits, rec)
		}
	}
	slices.SortStableFunc(hits, less)

	// Search always returns these, whatever was asked.
	props := requestedProps(s.def, nil)
	if len(req.Properties) > 0 {
		props = requestedProps(s.def, req.Properties)
		for _, p := range []string{"createdate", s.def.modProp, "hs_object_id"} {
			if !slices.Contains(props, p) {
				props = append(props, p)
			}
		}
	}
	page := searchPage{Total: len(hits), Results: []wireRecord{}}
	end := min(offset+limit, len(hits), a.opts.SearchCap)
	for i := offset; i < end; i++ {
		page.Results = append(page.Results, hits[i].wire(props))
	}
	if end < len(hits) {
		page.Paging = &paging{}
		page.Paging.Next.After = strconv.Itoa(end)
	}
	return page, nil
}

// compileFilters turns filterGroups (OR of ANDs) into one predicate, checking
// HubSpot's limits: 5 groups, 10 filters per group, 25 filters in all.
func compileFilters(def *objectDef, req searchRequest) (func(*record) bool, error) {
	if len(req.FilterGroups) > 5 {
		return nil, badRequest("Too many filter groups: at most 5 are allowed")
	}
	total := 0
	var groups [][]func(*record) bool
	for _, g := range req.FilterGroups {
		if len(g.Filters) > 10 {
			return nil, badRequest("Too many filters in a filter group: at most 10 are allowed")
		}
		total += len(g.Filters)
		var preds []func(*record) bool
		for _, f := range g.Filters {
			if def.name == "contacts" && f.PropertyName == "hs_lastmodifieddate" {
				// The reported trap: contacts accept this filter and silently ignore
				// it (their modified property is lastmodifieddate), so a client using
				// it re-reads everything and believes it read only the changes.
				continue
			}
			p, err := compileFilter(def, f)
			if err != nil {
				return nil, err
			}
			preds = append(preds, p)
		}
		groups = append(groups, preds)
	}
	if total > 25 {
		return nil, badRequest("Too many filters: at most 25 are allowed across all filter groups")
	}
	return func(rec *record) bool {
		if len(groups) == 0 {
			return true
		}
		for _, g := range groups {
			if all(g, rec) {
				return true
			}
		}
		return false
	}, nil
}

func all(preds []func(*record) bool, rec *record) bool {
	for _, p := range preds {
		if !p(rec) {
			return false
		}
	}
	return true
}

func compileFilter(def *objectDef, f searchFilter) (func(*record) bool, error) {
	k, ok := def.props[f.PropertyName]
	if !ok {
		return nil, badRequest(fmt.Sprintf("Property %q does not exist on %s", f.PropertyName, def.name))
	}
	name := f.PropertyName
	switch f.Operator {
	case "HAS_PROPERTY":
		return func(rec *record) bool { _, ok := rec.props[name]; return ok }, nil
	case "NOT_HAS_PROPERTY":
		return func(rec *record) bool { _, ok := rec.props[name]; return !ok }, nil
	case "IN", "NOT_IN":
		var vs []value
		for _, raw := range f.Values {
			v, err := parseFilterValue(k, raw)
			if err != nil {
				return nil, badRequest(fmt.Sprintf("%s: %v", name, err))
			}
			vs = append(vs, v)
		}
		in := f.Operator == "IN"
		return func(rec *record) bool {
			rv, ok := recordValue(k, rec, name)
			if !ok {
				return !in
			}
			found := slices.ContainsFunc(vs, func(v value) bool { return compare(rv, v) == 0 })
			return found == in
		}, nil
	}
	v, err := parseFilterValue(k, f.Value)
	if err != nil {
		return nil, badRequest(fmt.Sprintf("%s: %v", name, err))
	}
	var test func(c int) bool
	switch f.Operator {
	case "EQ":
		test = func(c int) bool { return c == 0 }
	case "NEQ":
		test = func(c int) bool { return c != 0 }
	case "LT":
		test = func(c int) bool { return c < 0 }
	case "LTE":
		test = func(c int) bool { return c <= 0 }
	case "GT":
		test = func(c int) bool { return c > 0 }
	case "GTE":
		test = func(c int) bool { return c >= 0 }
	case "BETWEEN":
		hi, err := parseFilterValue(k, f.HighValue)
		if err != nil {
			return nil, badRequest(fmt.Sprintf("%s highValue: %v", name, err))
		}
		return func(rec *record) bool {
			rv, ok := recordValue(k, rec, name)
			return ok && compare(rv, v) >= 0 && compare(rv, hi) <= 0
		}, nil
	default:
		return nil, badRequest(fmt.Sprintf("Unsupported operator %q", f.Operator))
	}
	return func(rec *record) bool {
		rv, ok := recordValue(k, rec, name)
		if !ok {
			return f.Operator == "NEQ"
		}
		return test(compare(rv, v))
	}, nil
}

// value is a property value ready to compare: numbers and timestamps (epoch ms)
// as float, text lower-cased (HubSpot matches text case-insensitively).
type value struct {
	num   float64
	str   string
	isNum bool
}

func compare(a, b value) int {
	if a.isNum {
		switch {
		case a.num < b.num:
			return -1
		case a.num > b.num:
			return 1
		}
		return 0
	}
	return strings.Compare(a.str, b.str)
}

func recordValue(k kind, rec *record, prop string) (value, bool) {
	s, ok := rec.props[prop]
	if !ok {
		return value{}, false
	}
	v, err := parseValue(k, s)
	return v, err == nil
}

func parseFilterValue(k kind, raw json.RawMessage) (value, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return value{}, fmt.Errorf("a value is required")
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		s = string(raw) // a bare JSON number or boolean
	}
	return parseValue(k, s)
}

// parseValue reads s as kind k. Timestamps are epoch milliseconds in filters and
// ISO strings in records; both are accepted in both places.
func parseValue(k kind, s string) (value, error) {
	switch k {
	case number:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return value{}, fmt.Errorf("%q is not a number", s)
		}
		return value{num: f, isNum: true}, nil
	case timestamp:
		if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
			return value{num: float64(ms), isNum: true}, nil
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return value{}, fmt.Errorf("%q is not a timestamp (epoch milliseconds or ISO 8601)", s)
		}
		return value{num: float64(t.UnixMilli()), isNum: true}, nil
	}
	return value{str: strings.ToLower(s)}, nil
}

// compileSorts orders by the sorts given, then by id so pages are stable.
func compileSorts(def *objectDef, sorts []searchSort) (func(a, b *record) int, error) {
	type key struct {
		prop string
		k    kind
		desc bool
	}
	var keys []key
	for _, s := range sorts {
		k, ok := def.props[s.PropertyName]
		if !ok {
			return nil, badRequest(fmt.Sprintf("Property %q does not exist on %s", s.PropertyName, def.name))
		}
		switch s.Direction {
		case "", "ASCENDING", "DESCENDING":
		default:
			return nil, badRequest(fmt.Sprintf("Unsupported sort direction %q", s.Direction))
		}
		keys = append(keys, key{s.PropertyName, k, s.Direction == "DESCENDING"})
	}
	return func(a, b *record) int {
		for _, k := range keys {
			av, aok := recordValue(k.k, a, k.prop)
			bv, bok := recordValue(k.k, b, k.prop)
			c := 0
			switch {
			case aok && bok:
				c = compare(av, bv)
			case aok:
				c = -1 // nulls last
			case bok:
				c = 1
			}
			if k.desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return cmpInt(a.id, b.id)
	}, nil
}
