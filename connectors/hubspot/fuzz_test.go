package hubspot

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/meshflow/meshflow/connectors/conformance"
	"github.com/meshflow/meshflow/framework/source"
)

// fuzzToken is the credential of the fuzzed source: no error may ever show it,
// whatever the server sends back.
const fuzzToken = "pat-na1-FUZZ-SECRET-7f3a9c1e"

var fuzzNow = time.Date(2026, 3, 10, 3, 0, 0, 0, time.UTC)

// fuzzSource answers every request with reply: a fuzz iteration then costs no
// network and the connector sees exactly the bytes under test.
func fuzzSource(t *testing.T, reply *conformance.Answer) *Source {
	t.Helper()
	src, err := New(Config{BaseURL: "https://api.hubapi.test", Token: fuzzToken}, &Options{
		HTTPClient: &http.Client{Transport: reply}, RequestsPerSecond: -1, SearchRequestsPerSecond: -1,
		Now: func() time.Time { return fuzzNow },
	})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// checkPage holds every page the connector returns to its contract: an error is
// a kinded *errs.Error that never shows the token; a page has JSON records and a
// next cursor the connector itself reads back.
func checkPage(t *testing.T, p source.Page, err error) {
	t.Helper()
	conformance.CheckFuzzedPage(t, p, err, func(b []byte) error { _, err := decodeCursor(b, defaultLookback); return err }, fuzzToken)
}

// A live contact as the list and search endpoints send it.
const fuzzContact = `{"id":"101","properties":{"email":"ada@example.test","lastmodifieddate":"2026-03-09T10:00:00.000Z","hs_lastmodifieddate":"2026-03-09T10:00:00.000Z","hs_object_id":"101"},"createdAt":"2025-01-02T03:04:05.000Z","updatedAt":"2026-03-09T10:00:00.000Z","archived":false}`

// FuzzCursor feeds arbitrary bytes as the resume cursor. One that does not decode is
// an Invalid error naming the cursor; one that does drives a page of every stream
// (against a well-formed answer) without a panic.
func FuzzCursor(f *testing.F) {
	for _, seed := range []string{
		``, `null`, `{}`, `[]`, `"x"`, `{"v":2}`, `{"v":1}`, `{"v":1,"phase":"sideways"}`,
		`{"v":1,"phase":"list","until":1773111600000}`,
		`{"v":1,"phase":"list","after":"MTAx","until":1773111600000,"max":1773050400000,"new":{"101":1773050400000}}`,
		`{"v":1,"phase":"archived","until":1773111600000}`,
		`{"v":1,"phase":"search","last_id":"250","since":1773050100000,"until":1773111600000,"mark":1773050400000,"seen":{"101":1773050400000}}`,
		`{"v":1,"phase":"idle","mark":1773050400000,"seen":{"101":1773050400000,"102":1773050300000}}`,
		`{"v":1,"phase":"idle","mark":-9223372036854775808}`,
		`{"v":1,"phase":"search","since":9223372036854775807,"until":-1,"seen":{"":0}}`,
		`{"v":1,"phase":"idle","seen":{"101":"x"}}`,
		`{"v":2}`, `{"v":3,"phase":"idle"}`,
		`{"v":2,"phase":"list","after":"MTAx","until":1773111600000,"new":{"101":1773111500000}}`,
		`{"v":2,"phase":"search","last_id":"250","since":1773050099999,"until":1773111600000,"seen":{"101":1773050400000}}`,
		`{"v":2,"phase":"archived","since":1773050099999,"until":1773111600000}`,
		`{"v":2,"phase":"idle","mark":1773111300000,"seen":{"101":1773111400000}}`,
		`{"v":2,"phase":"idle","mark":9223372036854775807}`,
	} {
		f.Add([]byte(seed))
	}
	reply := &conformance.Answer{Status: 200, Body: []byte(`{"total":1,"results":[` + fuzzContact + `]}`)}
	f.Fuzz(func(t *testing.T, raw []byte) {
		src := fuzzSource(t, reply)
		_, derr := decodeCursor(raw, defaultLookback)
		for _, st := range src.Streams() {
			p, err := conformance.ReadFuzzedCursor(t, st, source.PageRequest{Cursor: raw, SyncStart: fuzzNow}, derr)
			checkPage(t, p, err)
		}
	})
}

// FuzzResponse feeds arbitrary answers (status, Retry-After, body) to a list page, a
// search page and an archived-list page: no panic, and a body the connector cannot
// use is an error that never shows the token, even when the server echoes it.
func FuzzResponse(f *testing.F) {
	list := `{"results":[` + fuzzContact + `],"paging":{"next":{"after":"MTAy","link":"https://api.hubapi.com/crm/v3/objects/contacts?after=MTAy"}}}`
	search := `{"total":2,"results":[` + fuzzContact + `,{"id":"102","properties":{"lastmodifieddate":"2026-03-09T11:00:00Z"},"updatedAt":"2026-03-09T11:00:00Z","archived":false}],"paging":{"next":{"after":"2"}}}`
	archived := `{"results":[{"id":"7","properties":{},"createdAt":"2025-01-01T00:00:00Z","updatedAt":"2026-03-01T00:00:00Z","archived":true,"archivedAt":"2026-03-01T00:00:00Z"}]}`
	for _, s := range []struct {
		status     uint16
		retryAfter string
		body       string
	}{
		{200, "", list}, {200, "", search}, {200, "", archived}, {200, "", `{"results":[]}`}, {200, "", `{}`},
		{200, "", `{"results":[` + fuzzContact}, {200, "", `{"results":[{"properties":{}}]}`}, {200, "", `{"results":[1,"a",null]}`},
		{200, "", `{"results":[{"id":"` + fuzzToken + `","updatedAt":"2026-03-09T10:00:00Z"}],"paging":{"next":{"after":"x"}}}`},
		{200, "", `{"results":[{"not":"an object","token":"` + fuzzToken + `"}]}`},
		{200, "", `<html>` + fuzzToken + `</html>`},
		{401, "", `{"status":"error","message":"Authentication credentials not found. Token ` + fuzzToken + ` is invalid","correlationId":"c-1","category":"INVALID_AUTHENTICATION"}`},
		{401, "", `{"status":"error","message":"bad","correlationId":"` + fuzzToken + `","category":"` + fuzzToken + `"}`},
		{403, "", `{"status":"error","message":"This app hasn't been granted all required scopes","category":"MISSING_SCOPES","errors":[{"message":"One or more of the following scopes are required.","context":{"requiredGranularScopes":["crm.objects.contacts.read"]}}]}`},
		{429, "", `{"status":"error","message":"You have reached your daily limit.","errorType":"RATE_LIMIT","policyName":"DAILY"}`},
		{429, "2", `{"status":"error","message":"You have reached your ten_secondly_rolling limit.","errorType":"RATE_LIMIT","policyName":"TEN_SECONDLY_ROLLING"}`},
		{429, "Tue, 10 Mar 2026 03:00:05 GMT", `{"policyName":"` + fuzzToken + `"}`},
		{400, "", `{"status":"error","message":"There was a problem with the request.","category":"VALIDATION_ERROR"}`},
		{404, "", ``}, {500, "", `internal error`}, {502, "", `<html>Bad Gateway</html>`},
	} {
		for cursor := range uint8(3) {
			f.Add(s.status, s.retryAfter, []byte(s.body), cursor)
		}
	}
	cursors := []json.RawMessage{
		nil, // a full refresh: the list endpoint
		json.RawMessage(`{"v":1,"phase":"idle","mark":1773050400000,"seen":{"101":1773050400000}}`), // search
		json.RawMessage(`{"v":1,"phase":"archived","until":1773111600000}`),                         // archived list, the last phase
	}
	f.Fuzz(func(t *testing.T, status uint16, retryAfter string, body []byte, cursor uint8) {
		code := int(status)
		if code < 100 || code > 599 {
			code = 200
		}
		reply := &conformance.Answer{Status: code, Header: http.Header{"Retry-After": {retryAfter}}, Body: body}
		st := fuzzSource(t, reply).Streams()[0]
		p, err := st.NextPage(t.Context(), source.PageRequest{Cursor: cursors[int(cursor)%len(cursors)], SyncStart: fuzzNow})
		checkPage(t, p, err)
		if err == nil && code/100 != 2 {
			t.Fatalf("HTTP %d read as a page", code)
		}
	})
}
