package rest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/meshflow/meshflow/connectors/conformance"
	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/source"
)

// fuzzToken is the fuzzed source's credential: no error may ever show it.
const fuzzToken = "rest-FUZZ-SECRET-token-5e1f0a"

var fuzzNow = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// fuzzSpec has a stream for every paginator and one with a parent, all reading
// records from the same answer.
const fuzzSpec = `source: fuzz
title: Fuzz
base_url: https://fuzz.example/v1
variables:
  FUZZ_TOKEN: {doc: token, secret: true}
auth: {type: api_key, in: query, name: key, value: "${FUZZ_TOKEN}"}
errors:
  - {status: 404, kind: skip}
  - {status: 410, kind: record}
  - {status: 402, kind: quota, wait: [retry_after, next_day]}
  - {status: 429, kind: rate_limited, wait: [retry_after, "header:X-Reset", 30s], jitter: 1s}
streams:
  pages:
    doc: d
    request: {path: /pages}
    records: items
    paginate: {type: page_number, param: page, size_param: per_page, size: 2, stop: [{total_pages: meta.total_pages}, short_page]}
    incremental: {field: updated_at, lookback: 1h, request: {query: {since: "${since}"}}}
    primary_key: [id]
    fields: &fields
      id: {type: string, doc: d}
      updated_at: {type: timestamp, path: meta.updated_at, doc: d}
  offsets:
    doc: d
    request: {path: /offsets}
    records: items
    paginate: {type: offset, param: offset, size_param: limit, size: 2, stop: [{total: total}, empty_page]}
    incremental: {field: epoch, unit: s, format: epoch_ms, request: {query: {since: "${since}"}}}
    primary_key: [id]
    fields: {id: {type: string, doc: d}, epoch: {type: int64, doc: d}}
  cursors:
    doc: d
    request: {method: POST, path: /cursors, body: {q: x}}
    records: items
    paginate: {type: cursor, param: after, in: body, next: paging.next, stop: [{has_more: has_more}]}
    primary_key: [id]
    fields: *fields
  links:
    doc: d
    request: {path: /links}
    records: items
    paginate: {type: link, size_param: per_page, size: 2}
    primary_key: [id]
    fields: *fields
  keys:
    doc: d
    request: {method: POST, path: /keys}
    records: items
    paginate: {type: keyset, field: id, param: after, in: body, size_param: limit, size: 2, stop: [short_page, {total: total}]}
    incremental: {field: updated_at, lookback: 10m, format: date, request: {body: {since: "${since}", until: "${until}"}}}
    primary_key: [id]
    fields: *fields
  kids:
    doc: d
    parent: {stream: pages, include: [id]}
    request: {path: "/pages/${parent.id}/kids"}
    records: items
    paginate: {type: page_number, param: page, stop: [empty_page]}
    primary_key: [id]
    fields: {id: {type: string, doc: d}, parent_id: {type: string, path: _parent.id, doc: d}}
  asks:
    doc: d
    keys: {inputs: [d.p], sql: SELECT id FROM d.p ORDER BY id}
    request: {path: /asks, query: {id: "${key.id}"}}
    records: .
    primary_key: [asked]
    fields: {asked: {type: string, path: _key.id, doc: d}, id: {type: string, doc: d}}
`

// fuzzKeys are the keys every fuzzed read is handed (a keyed stream asks about them).
var fuzzKeys = []source.Key{{"id": "a"}, {"id": "b"}, {"id": "c"}}

func fuzzSource(t *testing.T, reply *conformance.Answer) *Source {
	t.Helper()
	spec, err := Parse("fuzz.yaml", []byte(fuzzSpec))
	if err != nil {
		t.Fatal(err)
	}
	src, err := spec.New(source.Values{"FUZZ_TOKEN": fuzzToken}, &Options{HTTPClient: &http.Client{Transport: reply}, Now: func() time.Time { return fuzzNow }})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// fuzzAnswer is a well-formed answer to every stream of fuzzSpec.
const fuzzAnswer = `{"items":[{"id":"a","epoch":1773046800,"meta":{"updated_at":"2026-03-10T10:00:00Z"}},{"id":"b","meta":{"updated_at":"2026-03-10T11:00:00Z"}}],
"meta":{"total_pages":3},"total":5,"paging":{"next":"tok-2"},"has_more":true}`

func checkPage(t *testing.T, st *stream, p source.Page, err error) {
	t.Helper()
	conformance.CheckFuzzedPage(t, p, err, func(b []byte) error {
		_, err := st.decodeCursor(b)
		return err
	}, fuzzToken)
	if err == nil && bytes.Contains(p.Next, []byte(fuzzToken)) {
		t.Fatalf("a cursor holds the token: %s", p.Next)
	}
}

// FuzzCursor feeds arbitrary bytes as the resume cursor of every stream. Against a
// well-formed answer the only error left is a cursor that does not read: Invalid,
// naming the cursor, and never read as a full refresh.
func FuzzCursor(f *testing.F) {
	for _, seed := range []string{
		``, `null`, `{}`, `[]`, `"x"`, `{"v":2}`, `{"v":1}`, `{"v":1,"phase":"sideways"}`, `{"v":1,"phase":"idle"}`,
		`{"v":1,"phase":"read","p":2,"r":4,"t":"tok-1","since":1773046800000,"until":1773144000000,"seen":{"a":1773046800000}}`,
		`{"v":1,"phase":"read","t":"http://fuzz.example/v1/links?page=2"}`, `{"v":1,"phase":"read","t":"http://evil.example/x"}`,
		`{"v":1,"phase":"read","parent":{"p":1,"t":"x"},"i":7,"p":1}`, `{"v":1,"phase":"read","p":-1}`, `{"v":1,"phase":"idle","mark":-5}`,
		`{"v":1,"phase":"read","t":{"a":[1]},"new":{"":-1}}`,
		`{"v":1,"phase":"read","i":2,"key":{"id":"b"}}`, `{"v":1,"phase":"read","i":9,"key":{"id":"z"}}`, `{"v":1,"phase":"read","key":{"id":"a"}}`,
		`{"v":1,"phase":"read","i":1,"key":{"id":7}}`, `{"v":1,"phase":"read","i":1,"key":{}}`,
	} {
		for i := range 6 {
			f.Add([]byte(seed), uint8(i))
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte, which uint8) {
		src := fuzzSource(t, &conformance.Answer{Status: 200, Header: http.Header{"Link": {`<https://fuzz.example/v1/links?page=3>; rel="next"`}}, Body: []byte(fuzzAnswer)})
		st := src.streams[int(which)%len(src.streams)]
		_, decodeErr := st.decodeCursor(raw)
		p, err := conformance.ReadFuzzedCursor(t, st, source.PageRequest{Cursor: raw, SyncStart: fuzzNow, Keys: fuzzKeys}, decodeErr)
		if err != nil && decodeErr == nil && !errs.Is(err, errs.Invalid) {
			t.Fatalf("cursor %q read against a well-formed answer: %v", raw, err)
		}
		checkPage(t, st, p, err)
	})
}

// FuzzResponse feeds arbitrary answers (status, body, Link header) to every stream:
// no panic, and an answer the engine cannot use is a kinded error that never shows
// the token, even when the server echoes it.
func FuzzResponse(f *testing.F) {
	for _, s := range []struct {
		status uint16
		link   string
		body   string
	}{
		{200, `<https://fuzz.example/v1/links?page=2>; rel="next"`, fuzzAnswer},
		{200, ``, `{"items":[],"meta":{"total_pages":0},"total":0}`}, {200, ``, `{"items":null}`}, {200, ``, `{}`}, {200, ``, `[]`},
		{200, ``, `{"items":[1,"x",null]}`}, {200, ``, `{"items":{"id":"a"}}`}, {200, ``, `{"items":[{"id":"a"}],"meta":{"total_pages":"many"}}`},
		{200, ``, `{"items":[{"id":"` + fuzzToken + `"}],"paging":{"next":"` + fuzzToken + `"},"has_more":true,"total":9}`},
		{200, `<https://fuzz.example/v1/links?key=` + fuzzToken + `&page=2>; rel="next"`, fuzzAnswer},
		{200, `<https://evil.example/steal>; rel="next"`, fuzzAnswer}, {200, ``, `{"items":[{"meta":{"updated_at":"yesterday"}}]}`},
		{200, ``, `{"items":[{"id":null}],"total":3}`}, {200, ``, `[`}, {200, ``, ``},
		{400, ``, `{"message":"bad ` + fuzzToken + `"}`}, {401, ``, `{"error":"invalid key ` + fuzzToken + `"}`},
		{402, ``, `{"message":"no credits"}`}, {404, ``, ``}, {410, ``, `{"status":410,"id":"` + fuzzToken + `"}`}, {410, ``, `no`}, {429, ``, ``}, {500, ``, `<html>oops</html>`}, {503, ``, `{"errors":[{"message":7}]}`},
	} {
		for i := range 6 {
			f.Add(s.status, s.link, []byte(s.body), uint8(i))
		}
	}
	f.Fuzz(func(t *testing.T, status uint16, link string, body []byte, which uint8) {
		code := int(status)
		if code < 100 || code > 599 {
			code = 200
		}
		src := fuzzSource(t, &conformance.Answer{Status: code, Header: http.Header{"Link": {link}, "X-Reset": {"12"}}, Body: body})
		st := src.streams[int(which)%len(src.streams)]
		p, err := st.NextPage(t.Context(), source.PageRequest{Cursor: json.RawMessage(`{"v":1,"phase":"idle","mark":1773046800000}`), SyncStart: fuzzNow, Keys: fuzzKeys})
		checkPage(t, st, p, err)
		if err == nil && code/100 != 2 && code != 404 && code != 410 {
			t.Fatalf("HTTP %d read as a page", code)
		}
		if err == nil && strings.Contains(string(p.Next), "evil.example") {
			t.Fatalf("kept a Link off the API for the next page: %s", p.Next)
		}
	})
}
