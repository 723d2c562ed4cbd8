package rest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meshflow/meshflow/connectors/conformance"
	"github.com/meshflow/meshflow/connectors/rest"
	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/source"
)

// lookupsSpec is a keyed source: the lookups stream asks thingsAPI about each name
// its keys query selects, one request per key; a name no thing has answers 404,
// which is the stream's record of that outcome.
const lookupsSpec = `source: things
title: Things
base_url: https://things.example/v1
variables:
  THINGS_TOKEN: {doc: Things API token, secret: true}
  THINGS_MIN_ASKS: {doc: How many asks a name needs, type: integer, min: 1, max: 100, default: "2"}
auth: {type: bearer, token: "${THINGS_TOKEN}"}
errors:
  - {status: 404, body_contains: no match, kind: record}
check: {path: /things/page}
streams:
  lookups:
    doc: Each name the mesh asks about, and the thing it names.
    keys:
      inputs: [catalog.names]
      sql: SELECT name FROM catalog.names WHERE asks >= CAST(${THINGS_MIN_ASKS} AS INTEGER) ORDER BY name
    request: {path: /lookup, query: {name: "${key.name}"}}
    records: .
    primary_key: [asked]
    fields:
      asked: {type: string, path: _key.name, doc: The name asked about.}
      id: {type: int64, doc: The thing's id; null when no thing has the name.}
      name: {type: string, doc: Its name.}
`

func lookups(t *testing.T) *rest.Spec {
	t.Helper()
	spec, err := rest.Parse("lookups.yaml", []byte(lookupsSpec))
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

// names are keys for thingsAPI: the names of its first n things, and misses names
// no thing has.
func names(n, misses int) []source.Key {
	var out []source.Key
	for i := range n {
		out = append(out, source.Key{"name": fmt.Sprintf("thing %d", i)})
	}
	for i := range misses {
		out = append(out, source.Key{"name": fmt.Sprintf("nothing %d", i)})
	}
	return out
}

type lookupServer struct {
	*thingsServer
	keys []source.Key
}

func (s *lookupServer) Total(string) int { return len(s.keys) }

// A keyed stream passes the suite every connector passes: a page per key, a read
// resumed from any page's cursor goes on after its key, 429s and 5xx are retried,
// bad credentials fail at once.
func TestKeyedStreamConformance(t *testing.T) {
	spec := lookups(t)
	keys := names(12, 4)
	conformance.Run(t, conformance.Harness{
		Start: func(t *testing.T, f conformance.Faults) conformance.Server {
			api := newThingsAPI(20, f)
			return &lookupServer{&thingsServer{thingsAPI: api, ts: httptest.NewServer(api)}, keys}
		},
		NewSource: func(t *testing.T, baseURL string, valid bool) (source.Source, error) {
			tok := thingsToken
			if !valid {
				tok = badThingsToken
			}
			return spec.New(source.Values{"THINGS_TOKEN": tok, "THINGS_BASE_URL": baseURL}, nil)
		},
		BadCredential: badThingsToken,
		Keys:          func(string) []source.Key { return keys },
	})
}

// lookupRow is what a record of the lookups stream says.
type lookupRow struct {
	asked string
	id    any
}

func readLookups(t *testing.T, st source.Stream, req source.PageRequest) ([]lookupRow, json.RawMessage) {
	t.Helper()
	recs, cursor, err := source.ReadAll(t.Context(), st, req, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []lookupRow
	for _, r := range recs {
		vals, err := source.Extract(r, st.Spec().Fields)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, lookupRow{vals[0].(string), vals[1]})
	}
	return out, cursor
}

// A keyed stream asks one request per key, in the keys' order; each record carries
// the key it answers (_key), a match and a "no match" alike, so a field can name
// what was asked; its keys query holds the variable's value as a SQL literal.
func TestKeyedStreamAsksOncePerKey(t *testing.T) {
	api := newThingsAPI(5, conformance.Faults{})
	ts := httptest.NewServer(api)
	defer ts.Close()
	src, err := lookups(t).New(source.Values{"THINGS_TOKEN": thingsToken, "THINGS_BASE_URL": ts.URL + "/v1", "THINGS_MIN_ASKS": "3"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := src.Streams()[0]
	keys := append(names(2, 1), source.Key{"name": "thing 4"})
	rows, _ := readLookups(t, st, source.PageRequest{Keys: keys})
	want := []lookupRow{{"thing 0", int64(100)}, {"thing 1", int64(103)}, {"nothing 0", nil}, {"thing 4", int64(112)}}
	if !slices.Equal(rows, want) || api.Requests() != len(keys) {
		t.Errorf("read %v with %d requests, want %v with one request per key", rows, api.Requests(), want)
	}
	k := st.Spec().Keys
	if k == nil || !slices.Equal(k.Inputs, []string{"catalog.names"}) || !strings.Contains(k.SQL, "asks >= CAST('3' AS INTEGER)") {
		t.Errorf("keys %+v: want the input and THINGS_MIN_ASKS written as the literal '3'", k)
	}
	if def := lookups(t).StreamSpecs()[0].Keys.SQL; !strings.Contains(def, "CAST('2' AS INTEGER)") {
		t.Errorf("the connector's stream spec, unconfigured: %s; want the default 2", def)
	}
	if rows, _ := readLookups(t, st, source.PageRequest{}); len(rows) != 0 || api.Requests() != len(keys) {
		t.Errorf("no keys: %v and %d more requests, want nothing asked", rows, api.Requests()-len(keys))
	}
}

// A resumed read goes on after the last key its cursor names, wherever that key is
// in the new list (a port the keys query reads was published while the read waited
// on a quota): the keys before it are not asked again, those after it are; a read
// whose last key is gone goes on at the same count. An idle cursor (a finished read)
// starts from the top of the list it is handed: every landing asks its own keys.
func TestKeyedStreamResumesAfterTheLastKeyDone(t *testing.T) {
	api := newThingsAPI(10, conformance.Faults{})
	ts := httptest.NewServer(api)
	defer ts.Close()
	src, err := lookups(t).New(source.Values{"THINGS_TOKEN": thingsToken, "THINGS_BASE_URL": ts.URL + "/v1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := src.Streams()[0]
	keys := names(6, 0)
	first, err := st.NextPage(t.Context(), source.PageRequest{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	second, err := st.NextPage(t.Context(), source.PageRequest{Keys: keys, Cursor: first.Next})
	if err != nil {
		t.Fatal(err)
	}
	asked := func(rows []lookupRow) []string {
		var out []string
		for _, r := range rows {
			out = append(out, r.asked)
		}
		return out
	}
	k := func(names ...string) []source.Key {
		var out []source.Key
		for _, n := range names {
			out = append(out, source.Key{"name": n})
		}
		return out
	}
	for _, c := range []struct {
		name string
		keys []source.Key
		want []string
	}{
		{"the same list", keys, []string{"thing 2", "thing 3", "thing 4", "thing 5"}},
		{"keys added before and after the last one done", k("thing 7", "thing 0", "thing 1", "thing 8", "thing 2"), []string{"thing 8", "thing 2"}},
		{"the last one done gone", k("thing 0", "thing 2", "thing 3", "thing 4"), []string{"thing 3", "thing 4"}},
	} {
		rows, idle := readLookups(t, st, source.PageRequest{Keys: c.keys, Cursor: second.Next})
		if got := asked(rows); !slices.Equal(got, c.want) {
			t.Errorf("%s: asked %v after thing 1, want %v", c.name, got, c.want)
		}
		if rows, _ := readLookups(t, st, source.PageRequest{Keys: k("thing 9", "thing 1"), Cursor: idle}); !slices.Equal(asked(rows), []string{"thing 9", "thing 1"}) {
			t.Errorf("%s: the next landing asked %v, want its two keys", c.name, asked(rows))
		}
	}
	if !strings.Contains(string(second.Next), `"key":{"name":"thing 1"}`) {
		t.Errorf("cursor %s does not name the last key done", second.Next)
	}
}

// A keyed stream's mistakes are reported with the file, the line, the field, and
// how to fix them.
func TestKeyedSpecErrors(t *testing.T) {
	for _, c := range []struct {
		name, old, new string
		want           string
	}{
		{"a key placeholder outside a keyed stream", `check: {path: /things/page}`, `check: {path: "/things/${key.name}"}`,
			`lookups.yaml:10: check.path: ${key.name} names a key, but this stream has no keys: add keys: {inputs: […], sql: …}`},
		{"a product not named domain.product", `inputs: [catalog.names]`, `inputs: [names]`,
			`lookups.yaml:15: streams.lookups.keys.inputs: "names" is not a product: name it domain.product (identity.company_ids)`},
		{"a query without sql", "      sql: SELECT", "      sq1: SELECT",
			`lookups.yaml:15: streams.lookups.keys.sql: is missing: the query that selects the keys`},
		{"a secret in the query", "CAST(${THINGS_MIN_ASKS} AS INTEGER)", "'${THINGS_TOKEN}'",
			`lookups.yaml:16: streams.lookups.keys.sql: ${THINGS_TOKEN} is a secret: a keys query is no place for a credential`},
		{"a variable without a default in the query", `type: integer, min: 1, max: 100, default: "2"}`, `type: integer}`,
			`lookups.yaml:16: streams.lookups.keys.sql: ${THINGS_MIN_ASKS} has no default: the keys query needs a value`},
		{"a key in the query", "CAST(${THINGS_MIN_ASKS} AS INTEGER)", "'${key.name}'",
			`lookups.yaml:16: streams.lookups.keys.sql: ${key.name}: a keys query takes variables only`},
		{"keys and paging", "    records: .\n", "    records: .\n    paginate: {type: page_number, param: page, stop: [empty_page]}\n",
			`lookups.yaml:19: streams.lookups.paginate: a keyed stream asks one request per key, and its keys query decides what is asked again: remove paginate`},
		{"a default out of bounds", `default: "2"`, `default: "0"`,
			`lookups.yaml:6: variables.THINGS_MIN_ASKS.default: configure: THINGS_MIN_ASKS="0" is not a whole number from 1 to 100`},
		{"bounds on a text variable", `type: integer, min: 1`, `min: 1`,
			`lookups.yaml:6: variables.THINGS_MIN_ASKS.min: only an integer variable has bounds: add type: integer`},
		{"no check when every stream is keyed", "check: {path: /things/page}\n", "",
			`lookups.yaml:1: check: is missing: every stream asks once per parent record or per key`},
		{"an unknown rule kind", "kind: record}", "kind: recrod}",
			`lookups.yaml:9: errors[0].kind: "recrod" is not one of permission, invalid, not_found, transient, rate_limited, quota, skip, record`},
	} {
		t.Run(c.name, func(t *testing.T) {
			y := strings.Replace(lookupsSpec, c.old, c.new, 1)
			if y == lookupsSpec {
				t.Fatalf("the case changes nothing: %q not found", c.old)
			}
			_, err := rest.Parse("lookups.yaml", []byte(y))
			if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("the error\n%v\ndoes not say\n%s", err, c.want)
			}
		})
	}
}

// An integer variable is checked where the configuration is read (its Check, which
// the worker runs) and when the source is built; its doc says its bounds.
func TestIntegerVariable(t *testing.T) {
	spec := lookups(t)
	var v source.Var
	for _, x := range spec.Vars() {
		if x.Name == "THINGS_MIN_ASKS" {
			v = x
		}
	}
	if v.Default != "`2`" || v.Doc != "How many asks a name needs (a whole number from 1 to 100)" || v.Check == nil {
		t.Fatalf("%+v", v)
	}
	for _, bad := range []string{"0", "101", "two", "2.5"} {
		if err := v.Check(bad); !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), `THINGS_MIN_ASKS="`+bad+`" is not a whole number from 1 to 100`) {
			t.Errorf("Check(%q) = %v", bad, err)
		}
		if _, err := spec.New(source.Values{"THINGS_TOKEN": "t", "THINGS_MIN_ASKS": bad}, nil); !errs.Is(err, errs.Invalid) {
			t.Errorf("New with %q: %v", bad, err)
		}
	}
	if err := v.Check("100"); err != nil {
		t.Error(err)
	}
}

// A "record" rule turns an answer into the stream's record; a body that is not a
// JSON object (a proxy's page, a body cut off) is no such record, and is retried.
// The check request counts such an answer as proof of the credentials.
func TestRecordRule(t *testing.T) {
	spec := lookups(t)
	for _, c := range []struct {
		body string
		kind errs.Kind
	}{
		{`{"message": "no match for x", "status": 404}`, 0},
		{`<html>no match</html>`, errs.Transient},
		{`{"message": "no match`, errs.Transient},
	} {
		ts := httptest.NewServer(reply(404, nil, c.body))
		src, err := spec.New(source.Values{"THINGS_TOKEN": "t", "THINGS_BASE_URL": ts.URL}, nil)
		if err != nil {
			t.Fatal(err)
		}
		p, err := src.Streams()[0].NextPage(t.Context(), source.PageRequest{Keys: names(0, 1), SyncStart: time.Now()})
		switch {
		case c.kind == 0 && (err != nil || len(p.Records) != 1 || !p.Done || !strings.HasPrefix(string(p.Records[0]), `{"_key":{"name":"nothing 0"},"message"`)):
			t.Errorf("%s: %v, %s", c.body, err, p.Records)
		case c.kind != 0 && !errs.Is(err, c.kind):
			t.Errorf("%s: %v, want %v", c.body, err, c.kind)
		}
		if err := src.Check(t.Context()); (err == nil) != (c.kind == 0) {
			t.Errorf("check against %s: %v", c.body, err)
		}
		ts.Close()
	}
}

// A rate limit's reset in a header may be a UTC time without a zone, as People Data
// Labs' x-ratelimit-reset is reported from the live API.
func TestResetHeaderWithoutAZone(t *testing.T) {
	now := time.Date(2026, 3, 10, 20, 30, 0, 0, time.UTC)
	spec := oneStream(t, `{type: bearer, token: "${THINGS_TOKEN}"}`, `  - {status: 429, kind: rate_limited, wait: ["header:x-ratelimit-reset", 60s]}`, "")
	for header, want := range map[string]time.Duration{"2026-03-10 20:30:42": 42 * time.Second, "2026-03-10T20:30:12Z": 12 * time.Second, "soon": time.Minute} {
		ts := httptest.NewServer(reply(429, http.Header{"X-Ratelimit-Reset": {header}}, `{}`))
		src, err := spec.New(source.Values{"THINGS_TOKEN": "t", "THINGS_BASE_URL": ts.URL}, &rest.Options{Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		_, err = src.Streams()[0].NextPage(t.Context(), source.PageRequest{SyncStart: now})
		if e, _ := errs.As(err); !errs.Is(err, errs.RateLimited) || e.RetryAfter != want {
			t.Errorf("x-ratelimit-reset %q: %v, want a wait of %v", header, err, want)
		}
		ts.Close()
	}
}
