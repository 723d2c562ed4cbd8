package rest_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/meshflow/meshflow/connectors/conformance"
	"github.com/meshflow/meshflow/connectors/rest"
	"github.com/meshflow/meshflow/dev/sandbox/stub"
	"github.com/meshflow/meshflow/framework/source"
)

// thingsSpec is a spec of thingsAPI whose things stream pages as paginate says, and
// which has a notes stream (one request per thing) when notes is set.
func thingsSpec(t testing.TB, request, records, paginate, window string, notes bool) *rest.Spec {
	t.Helper()
	y := fmt.Sprintf(`
source: things
title: Things
base_url: https://things.example/v1
variables:
  THINGS_TOKEN: {doc: Things API token, secret: true, how: create a token under Settings → API}
auth: {type: bearer, token: "${THINGS_TOKEN}"}
errors:
  - {status: 404, body_contains: no notes, kind: skip}
streams:
  things:
    doc: Every thing.
    request: %s
    records: %s
    paginate: %s
    incremental:
      field: updated_at
      lookback: 1h
      request: %s
    primary_key: [id]
    fields:
      id: {type: int64, doc: The thing's id.}
      name: {type: string, doc: Its name.}
      updated_at: {type: timestamp, path: meta.updated_at, doc: When it last changed.}
`, request, records, paginate, window)
	if notes {
		y += `
  notes:
    doc: The notes of each thing, two a page.
    parent: {stream: things, include: [id]}
    request: {path: "/things/${parent.id}/notes"}
    records: notes
    paginate: {type: page_number, param: page, stop: [empty_page]}
    incremental:
      field: updated_at
      lookback: 1h
      request: {query: {updated_since: "${since}"}}
    primary_key: [id]
    fields:
      id: {type: string, doc: The note's id.}
      thing_id: {type: int64, path: _parent.id, doc: The thing it is about.}
      text: {type: string, doc: What it says.}
      updated_at: {type: timestamp, doc: When it last changed.}
`
	}
	spec, err := rest.Parse("things.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

const querySince = `{query: {updated_since: "${since}"}}`

// paginators are the things stream paged every way a spec can say.
var paginators = []struct {
	name, request, records, paginate, window string
	notes                                    bool
}{
	{"page_number", "{path: /things/page}", "data", "{type: page_number, param: page, size_param: per_page, size: 7, stop: [{total_pages: meta.total_pages}]}", querySince, true},
	{"offset", "{path: /things/offset}", "items", "{type: offset, param: offset, size_param: limit, size: 7, stop: [{total: total}]}", querySince, false},
	{"cursor", "{path: /things/cursor}", "results", "{type: cursor, param: cursor, next: paging.next, size_param: limit, size: 7}", querySince, false},
	{"link", "{path: /things/link}", ".", "{type: link, size_param: per_page, size: 7}", querySince, false},
	{"keyset", "{method: POST, path: /things/search, body: {}}", "hits", "{type: keyset, field: id, param: after, in: body, size_param: limit, size: 7, stop: [short_page, {total: count}]}", `{body: {since: "${since}"}}`, false},
}

const badThingsToken = "things-token-fedcba9876543210"

// Every paginator, and a stream with a parent, passes the conformance suite that
// every Go connector passes: paging, resuming, incremental reads, backoff on 429s
// and 5xx, no retry on bad credentials, cancellation, a stable schema.
func TestConformance(t *testing.T) {
	for _, p := range paginators {
		t.Run(p.name, func(t *testing.T) {
			spec := thingsSpec(t, p.request, p.records, p.paginate, p.window, p.notes)
			conformance.Run(t, conformance.Harness{
				Start: func(t *testing.T, f conformance.Faults) conformance.Server {
					api := newThingsAPI(30, f)
					return &thingsServer{thingsAPI: api, ts: httptest.NewServer(api)}
				},
				NewSource: func(t *testing.T, baseURL string, valid bool) (source.Source, error) {
					tok := thingsToken
					if !valid {
						tok = badThingsToken
					}
					return spec.New(source.Values{"THINGS_TOKEN": tok, "THINGS_BASE_URL": baseURL}, nil)
				},
				BadCredential: badThingsToken,
			})
		})
	}
}

type thingsServer struct {
	*thingsAPI
	ts *httptest.Server
}

func (s *thingsServer) URL() string { return s.ts.URL + "/v1" }
func (s *thingsServer) Close()      { s.ts.Close() }

// The records of every paginator are the same, and a stream with a parent reads each
// parent's children once, skipping a parent whose children answer 404.
func TestPaginatorsReadTheSameRecords(t *testing.T) {
	api := newThingsAPI(23, conformance.Faults{})
	ts := httptest.NewServer(api)
	defer ts.Close()
	var want string
	for _, p := range paginators {
		spec := thingsSpec(t, p.request, p.records, p.paginate, p.window, true)
		src, err := spec.New(source.Values{"THINGS_TOKEN": thingsToken, "THINGS_BASE_URL": ts.URL + "/v1"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, st := range src.Streams() {
			recs, _, err := source.ReadAll(t.Context(), st, source.PageRequest{}, nil)
			if err != nil {
				t.Fatalf("%s %s: %v", p.name, st.Spec().Name, err)
			}
			for _, r := range recs {
				vals, err := source.Extract(r, st.Spec().Fields)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, fmt.Sprint(vals[:2]...))
			}
		}
		if p.name == "page_number" {
			want = strings.Join(got, ",")
			if n := strings.Count(want, "n1"); len(got) != 23+api.Total("notes") || n == 0 {
				t.Fatalf("%d records (%d notes), want 23 things and %d notes", len(got), n, api.Total("notes"))
			}
			continue
		}
		if strings.Join(got, ",") != want {
			t.Errorf("%s read\n%s\nwant\n%s", p.name, strings.Join(got, ","), want)
		}
	}
}

// A bulk update of more records than a cursor remembers (256) just before a sync
// lands every one of them in that sync, with a cursor of a few kilobytes. The records
// it could not remember land once more in the syncs whose window still holds them —
// those starting within the lookback after it — and no more after that.
func TestBulkUpdateLandsAtOnce(t *testing.T) {
	bulk := time.Now().UTC().Truncate(time.Second)
	api := stub.New(stub.Options{Things: 400, Now: func() time.Time { return bulk }})
	ts := httptest.NewServer(api)
	defer ts.Close()
	p := paginators[0]
	src, err := thingsSpec(t, p.request, p.records, p.paginate, p.window, false).New(source.Values{"THINGS_TOKEN": thingsToken, "THINGS_BASE_URL": ts.URL + "/v1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := src.Streams()[0]
	var last json.RawMessage
	read := func(syncStart time.Time) (int, int) {
		t.Helper()
		recs, cursor, err := source.ReadAll(t.Context(), st, source.PageRequest{Cursor: last, SyncStart: syncStart}, nil)
		if err != nil {
			t.Fatal(err)
		}
		last = cursor
		return len(recs), len(cursor)
	}
	if n, _ := read(bulk.Add(-time.Hour)); n != 400 {
		t.Fatalf("full read: %d things", n)
	}
	api.TouchAll()
	changed, size := read(bulk.Add(time.Minute))
	within, _ := read(bulk.Add(30 * time.Minute)) // the window (bulk − 59m, bulk + 30m]
	after, _ := read(bulk.Add(3 * time.Hour))     // (bulk − 30m, bulk + 3h]
	quiet, _ := read(bulk.Add(5 * time.Hour))     // (bulk + 2h, bulk + 5h]
	if changed != 400 || size > 8<<10 || within != 144 || after != 144 || quiet != 0 {
		t.Errorf("after a bulk update of 400: %d landed (cursor %d bytes), then %d, %d and %d; want 400 (under 8 KB), 144, 144 and 0", changed, size, within, after, quiet)
	}
}
