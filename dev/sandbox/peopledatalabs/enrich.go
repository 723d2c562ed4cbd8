package peopledatalabs

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strings"

	"github.com/meshflow/meshflow/dev/sandbox/internal/fake"
)

// notEnoughInput is PDL's 400 message when no input identifies a record.
const notEnoughInput = "Does not meet minimum combination of required data points."

// writeNoMatch writes PDL's 404: no record matched (or none was sure enough, or
// it lacked a required field). It costs nothing.
func writeNoMatch(w http.ResponseWriter) { writeError(w, http.StatusNotFound, "not_found", noMatch) }

const noMatch = "No records were found matching your request"

// options are the parameters every enrichment shares.
type options struct {
	minLikelihood int
	required      [][]string // OR of ANDs of field paths
	include       func(map[string]any) map[string]any
	ifMatched     bool
	pretty        bool
}

func (c *call) enrichOptions(defaultMin int) (options, error) {
	var o options
	var err error
	if o.minLikelihood, err = c.integer("min_likelihood", defaultMin); err != nil {
		return o, err
	}
	if o.minLikelihood < 0 || o.minLikelihood > 10 {
		return o, fmt.Errorf("min_likelihood must be between 0 and 10, not %d", o.minLikelihood)
	}
	if o.required, err = parseRequired(c.str("required")); err != nil {
		return o, err
	}
	o.include = dataInclude(c.has("data_include"), c.str("data_include"))
	o.ifMatched, o.pretty = c.flag("include_if_matched"), c.flag("pretty")
	return o, nil
}

// admits reports whether a candidate answers 200 under the options.
func (o options) admits(rec map[string]any, likelihood int) bool {
	if likelihood < o.minLikelihood {
		return false
	}
	if len(o.required) == 0 {
		return true
	}
	for _, all := range o.required {
		ok := true
		for _, field := range all {
			ok = ok && present(rec, field)
		}
		if ok {
			return true
		}
	}
	return false
}

// companyEnrich is GET /v5/company/enrich.
func (a *API) companyEnrich(w http.ResponseWriter, c *call) {
	o, in, err := c.companyRequest()
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", err.Error())
		return
	}
	a.answer(w, c, o.pretty, func() map[string]any { return a.companyMatch(o, in) })
}

// companyRequest reads a company enrichment's options and identifying inputs.
func (c *call) companyRequest() (options, map[string]string, error) {
	o, err := c.enrichOptions(0)
	if err != nil {
		return o, nil, err
	}
	in := map[string]string{}
	for _, k := range []string{"pdl_id", "website", "profile", "ticker", "name"} {
		if v := c.str(k); v != "" {
			in[k] = v
		}
	}
	if len(in) == 0 {
		return o, nil, errors.New(notEnoughInput)
	}
	return o, in, nil
}

// companyMatch is the 200 body of a company enrichment, flat: the record's kept
// fields beside status and likelihood; nil without a match the options admit.
// The caller holds a.mu.
func (a *API) companyMatch(o options, in map[string]string) map[string]any {
	x, likelihood, matched := a.findCompany(in)
	if x == nil || !o.admits(x.rec, likelihood) {
		return nil
	}
	body := o.include(x.rec)
	body["status"], body["likelihood"] = http.StatusOK, likelihood
	if o.ifMatched {
		body["matched"] = matched
	}
	return body
}

// answer ends an enrichment once its inputs are valid: 402 when the pool is
// empty, 404 (free) when match finds nothing, else match's body for one credit.
func (a *API) answer(w http.ResponseWriter, c *call, pretty bool, match func() map[string]any) {
	if c.pool.exhausted() {
		c.paymentRequired(w)
		return
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	body := match()
	if body == nil {
		writeNoMatch(w)
		return
	}
	if !c.charge(w, 1) {
		c.paymentRequired(w)
		return
	}
	writeJSON(w, http.StatusOK, body, pretty)
}

// bulkMax is how many requests one bulk enrichment may carry.
const bulkMax = 100

// companyBulk is POST /v5/company/enrich/bulk: {"requests": [{"params": {…},
// "metadata": {…}}, …]} and options beside "requests" that every element takes
// unless its params say otherwise. The answer is a list in request order, each
// element what the single enrichment would answer (metadata echoed); the
// matches are charged together, and a batch the balance cannot pay is a 402.
func (a *API) companyBulk(w http.ResponseWriter, c *call) {
	reqs, ok := c.params["requests"].([]any)
	if !ok || len(reqs) == 0 || len(reqs) > bulkMax {
		writeError(w, http.StatusBadRequest, "invalid_request_error", fmt.Sprintf("requests must be a list of 1 to %d objects with params", bulkMax))
		return
	}
	if c.pool.exhausted() {
		c.paymentRequired(w)
		return
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	out := make([]any, len(reqs))
	matches := 0
	for i, r := range reqs {
		req, _ := r.(map[string]any)
		params, _ := req["params"].(map[string]any)
		merged := maps.Clone(c.params)
		delete(merged, "requests")
		maps.Copy(merged, params)
		var body map[string]any
		if o, in, err := (&call{params: merged}).companyRequest(); err != nil {
			body = errorBody(http.StatusBadRequest, "invalid_request_error", err.Error())
		} else if body = a.companyMatch(o, in); body == nil {
			body = errorBody(http.StatusNotFound, "not_found", noMatch)
		} else {
			matches++
		}
		if md, ok := req["metadata"]; ok {
			body["metadata"] = md
		}
		out[i] = body
	}
	if !c.charge(w, matches) {
		c.paymentRequired(w)
		return
	}
	writeJSON(w, http.StatusOK, out, c.flag("pretty"))
}

// findCompany matches inputs as PDL weighs them: pdl_id overrides everything;
// a website, profile or ticker identifies a company; a name alone is a weak
// match. It returns the record, the likelihood and the inputs matched on.
func (a *API) findCompany(in map[string]string) (*company, int, []string) {
	ix := a.index
	if id, ok := in["pdl_id"]; ok {
		id = strings.ToLower(id)
		if x := ix.byID[id]; x != nil {
			return x, 10, []string{"pdl_id"}
		}
		return ix.bySlug[id], 10, []string{"pdl_id"}
	}
	var found *company
	var likelihood int
	var matched []string
	try := func(field string, x *company, l int) {
		if x == nil {
			return
		}
		if found == nil {
			found, likelihood = x, l
		}
		if x == found {
			matched = append(matched, field)
		}
	}
	if v, ok := in["website"]; ok {
		x := ix.byDomain[fake.CanonicalDomain(v)]
		try("website", x, likelihoodOf(x))
	}
	if v, ok := in["profile"]; ok {
		x := ix.byProfile[profileKey(v)]
		try("profile", x, likelihoodOf(x))
	}
	if v, ok := in["ticker"]; ok {
		x := ix.byTicker[strings.ToLower(v)]
		try("ticker", x, likelihoodOf(x))
	}
	if v, ok := in["name"]; ok {
		x := ix.byName[companyName(v)]
		try("name", x, max(1, likelihoodOf(x)-4))
	}
	return found, likelihood, matched
}

func likelihoodOf(x *company) int {
	if x == nil {
		return 0
	}
	return x.likelihood
}

// companyName is how a name is compared: lower case, without a legal suffix.
func companyName(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	for _, suffix := range []string{", inc.", ", inc", " inc.", " inc", ", llc", " llc", " ltd", " gmbh"} {
		s = strings.TrimSuffix(s, suffix)
	}
	return s
}

// profileKey is how PDL writes a social profile URL: no scheme, no www., no
// trailing slash, lower case ("linkedin.com/company/acme").
func profileKey(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	}
	return strings.TrimSuffix(strings.TrimPrefix(s, "www."), "/")
}

// personEnrich is GET /v5/person/enrich.
func (a *API) personEnrich(w http.ResponseWriter, c *call) {
	o, err := c.enrichOptions(2)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", err.Error())
		return
	}
	name := c.str("name")
	if name == "" && c.str("first_name") != "" && c.str("last_name") != "" {
		name = c.str("first_name") + " " + c.str("last_name")
	}
	var anchor string // what a name needs beside it
	for _, k := range []string{"company", "school", "location", "locality", "region", "country", "postal_code", "street_address", "birth_date"} {
		if anchor == "" && c.str(k) != "" {
			anchor = k
		}
	}
	strong := false
	for _, k := range []string{"pdl_id", "email", "email_hash", "profile", "phone", "lid"} {
		strong = strong || c.str(k) != ""
	}
	if !strong && (name == "" || anchor == "") {
		writeError(w, http.StatusBadRequest, "invalid_request_error", notEnoughInput)
		return
	}
	a.answer(w, c, o.pretty, func() map[string]any {
		p, likelihood, matched := a.findPerson(c, name, anchor)
		if p == nil || !o.admits(p.rec, likelihood) {
			return nil
		}
		body := map[string]any{"status": http.StatusOK, "likelihood": likelihood, "data": o.include(p.rec)}
		if o.ifMatched {
			body["matched"] = matched
		}
		return body
	})
}

func (a *API) findPerson(c *call, name, anchor string) (*person, int, []string) {
	ix := a.index
	if id := c.str("pdl_id"); id != "" {
		return ix.personByID[strings.ToLower(id)], 10, []string{"pdl_id"}
	}
	if e := strings.ToLower(c.str("email")); e != "" {
		if p := ix.personByEmail[e]; p != nil {
			return p, 9, []string{"email"}
		}
	}
	if h := strings.ToLower(c.str("email_hash")); h != "" {
		for e, p := range ix.personByEmail {
			if sum := md5.Sum([]byte(e)); hex.EncodeToString(sum[:]) == h {
				return p, 9, []string{"email_hash"}
			}
		}
	}
	if pr := c.str("profile"); pr != "" {
		if p := ix.personByProfile[profileKey(pr)]; p != nil {
			return p, 9, []string{"profile"}
		}
	}
	if ph := c.str("phone"); ph != "" {
		if p := ix.personByPhone[phoneKey(ph)]; p != nil {
			return p, 8, []string{"phone"}
		}
	}
	if name == "" || anchor != "company" {
		return nil, 0, nil
	}
	want, employer := strings.ToLower(name), c.str("company")
	for _, p := range a.people {
		at := p.employer.website == fake.CanonicalDomain(employer) || p.employer.name == companyName(employer)
		if p.first+" "+p.last == want && at {
			return p, 6, []string{"name", "company"}
		}
	}
	return nil, 0, nil
}

// phoneKey reduces a phone number to E.164 as PDL stores it (US numbers without
// a country code get +1).
func phoneKey(s string) string {
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
	if len(digits) == 10 {
		digits = "1" + digits
	}
	return "+" + digits
}

// dataInclude returns the field filter of data_include: a comma list of fields
// to keep, or to drop when it starts with "-"; sent empty, no field is kept.
// Absent, every field is. Only top-level fields are filtered.
func dataInclude(sent bool, spec string) func(map[string]any) map[string]any {
	if !sent {
		return maps.Clone[map[string]any]
	}
	exclude := strings.HasPrefix(spec, "-")
	fields := map[string]bool{}
	for _, f := range strings.Split(strings.TrimPrefix(spec, "-"), ",") {
		if f = strings.TrimSpace(f); f != "" {
			fields[f] = true
		}
	}
	return func(rec map[string]any) map[string]any {
		out := map[string]any{}
		for k, v := range rec {
			if fields[k] != exclude {
				out[k] = v
			}
		}
		return out
	}
}

// parseRequired reads a `required` expression: field paths joined by AND and
// OR, AND binding tighter ("website AND employee_count OR ticker"). Parentheses
// are not imitated.
func parseRequired(s string) ([][]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	if strings.ContainsAny(s, "()") {
		return nil, errors.New("required: parentheses are not supported by this sandbox; use AND and OR")
	}
	var out [][]string
	var all []string
	expectField := true
	for _, tok := range strings.Fields(s) {
		switch up := strings.ToUpper(tok); {
		case !expectField && up == "AND":
			expectField = true
		case !expectField && up == "OR":
			out, all, expectField = append(out, all), nil, true
		case expectField && up != "AND" && up != "OR":
			all, expectField = append(all, tok), false
		default:
			return nil, fmt.Errorf("required: %q is not a valid expression (fields joined by AND or OR)", s)
		}
	}
	if expectField {
		return nil, fmt.Errorf("required: %q ends without a field", s)
	}
	return append(out, all), nil
}

// present reports whether a record has a value at path: not null, not an empty
// string, list or object.
func present(rec map[string]any, path string) bool {
	for _, v := range lookup(rec, path) {
		switch v := v.(type) {
		case nil:
		case string:
			if v != "" {
				return true
			}
		default:
			return true
		}
	}
	return false
}
