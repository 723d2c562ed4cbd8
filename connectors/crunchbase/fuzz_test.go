package crunchbase

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/meshflow/meshflow/connectors/conformance"
	"github.com/meshflow/meshflow/connectors/rest"
	"github.com/meshflow/meshflow/framework/source"
)

// fuzzKey is the user key of the fuzzed source: no error may ever show it.
const fuzzKey = "cb-FUZZ-SECRET-user-key-1b9e6d"

var fuzzNow = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

const fuzzOrg = `{"uuid":"5f2a0c7e-0000-4000-8000-000000000001","properties":{"identifier":{"permalink":"acme","value":"Acme"},"updated_at":"2026-03-09T10:00:00Z","founded_on":{"value":"2015-01-01","precision":"year"},"funding_total":{"value":1000000,"currency":"USD","value_usd":1000000}}}`

// fuzzSource is Crunchbase answering every request with reply, without a network.
func fuzzSource(t *testing.T, reply *conformance.Answer) *rest.Source {
	t.Helper()
	src, err := Spec.New(source.Values{UserKeyEnv: fuzzKey, BaseURLEnv: "https://api.crunchbase.test/api/v4", source.Unpaced: "true"},
		&rest.Options{HTTPClient: &http.Client{Transport: reply}, Now: func() time.Time { return fuzzNow }})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// FuzzSpecCursor feeds arbitrary bytes as the resume cursor. Against a well-formed
// answer the only error left is a cursor that does not read: Invalid, naming it.
func FuzzSpecCursor(f *testing.F) {
	for _, seed := range []string{``, `null`, `{}`, `{"v":2}`, `{"v":1,"phase":"idle","mark":1773050400000,"seen":{"x":1773050400000}}`,
		`{"v":1,"phase":"read","t":"5f2a0c7e-0000-4000-8000-000000000001","r":1000,"since":1773046800000,"until":1773144000000}`,
		`{"v":1,"phase":"read","t":{"x":1},"r":-1}`} {
		f.Add([]byte(seed))
	}
	reply := &conformance.Answer{Status: 200, Body: []byte(`{"count":1,"entities":[` + fuzzOrg + `]}`)}
	f.Fuzz(func(t *testing.T, raw []byte) {
		src := fuzzSource(t, reply)
		st := src.Streams()[0]
		p, err := conformance.ReadFuzzedCursor(t, st, source.PageRequest{Cursor: raw, SyncStart: fuzzNow}, src.CheckCursor("organizations", raw))
		conformance.CheckFuzzedPage(t, p, err, func(b []byte) error { return src.CheckCursor("organizations", b) }, fuzzKey)
	})
}

// FuzzSpecResponse feeds arbitrary answers (status, body) to a search page: no
// panic, and an answer the source cannot use is a kinded error that never shows
// the key, even when the server echoes it.
func FuzzSpecResponse(f *testing.F) {
	for _, s := range []struct {
		status uint16
		body   string
	}{
		{200, `{"count":3,"entities":[` + fuzzOrg + `,{"uuid":"5f2a0c7e-0000-4000-8000-000000000002","properties":{"updated_at":"2026-03-09T11:00:00Z"}}]}`},
		{200, `{"count":0,"entities":[]}`}, {200, `{"entities":[]}`}, {200, `{"count":1}`}, {200, `{"count":1,"entities":[{"properties":{"note":"` + fuzzKey + `"}}]}`},
		{200, `{"count":1,"entities":[{"uuid":"` + fuzzKey + `","properties":{"updated_at":"2026-03-09T11:00:00Z"}}]}`},
		{200, `{"count":1,"entities":[1,"x",null]}`}, {200, `{"count":"many","entities":[]}`}, {200, `[`}, {200, ``},
		{400, `[{"code":"MD100","message":"Missing required field: field_ids"}]`}, {400, `{"error":"bad request ` + fuzzKey + `","code":"` + fuzzKey + `"}`},
		{401, `[{"code":"LA201","message":"Invalid user_key: ` + fuzzKey + `"}]`}, {403, `{"message":"Your plan does not include this field"}`},
		{404, `[{"code":"MD101","message":"Entity not found"}]`}, {429, ``}, {500, `<html>oops</html>`}, {503, `[{"code":7}]`},
	} {
		f.Add(s.status, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, status uint16, body []byte) {
		code := int(status)
		if code < 100 || code > 599 {
			code = 200
		}
		src := fuzzSource(t, &conformance.Answer{Status: code, Body: body})
		p, err := src.Streams()[0].NextPage(t.Context(), source.PageRequest{Cursor: json.RawMessage(`{"v":1,"phase":"idle","mark":1773050400000}`), SyncStart: fuzzNow})
		conformance.CheckFuzzedPage(t, p, err, func(b []byte) error { return src.CheckCursor("organizations", b) }, fuzzKey)
		if err == nil && code/100 != 2 {
			t.Fatalf("HTTP %d read as a page", code)
		}
	})
}
