package crunchbase

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/meshflow/meshflow/connectors/conformance"
	"github.com/meshflow/meshflow/connectors/rest"
	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/secret"
	"github.com/meshflow/meshflow/framework/source"
)

// fuzzKey is the user key of the fuzzed source: no error may ever show it.
const fuzzKey = "cb-FUZZ-SECRET-user-key-1b9e6d"

var fuzzNow = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// fuzzReply answers every request with one canned response, without a network.
type fuzzReply struct {
	status int
	body   []byte
}

func (f *fuzzReply) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		r.Body.Close()
	}
	return &http.Response{StatusCode: f.status, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(f.body)), Request: r}, nil
}

func fuzzSource(t *testing.T, reply *fuzzReply) *Source {
	t.Helper()
	src, err := New(Config{BaseURL: "https://api.crunchbase.test/api/v4", UserKey: secret.Value(fuzzKey), PageSize: 2, RequestsPerMinute: -1},
		&Options{HTTPClient: &http.Client{Transport: reply}, Now: func() time.Time { return fuzzNow }, Jitter: func() time.Duration { return time.Second }})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// checkErr holds an error to the connector's contract: kinded, and never showing the key.
func checkErr(t *testing.T, err error) {
	t.Helper()
	if _, ok := errs.As(err); !ok || err.Error() == "" {
		t.Fatalf("error without a kind: %#v", err)
	}
	if strings.Contains(err.Error(), fuzzKey) {
		t.Fatalf("the error shows the key: %v", err)
	}
}

// checkPage holds a page to the connector's contract: JSON records and a v1 next
// cursor the stream reads back.
func checkPage(t *testing.T, p source.Page, err error) {
	t.Helper()
	conformance.CheckFuzzedPage(t, p, err, func(b []byte) error {
		var c cursor
		if err := json.Unmarshal(b, &c); err != nil {
			return err
		}
		if c.V != 1 || (c.Phase != phaseSearch && c.Phase != phaseIdle) {
			return fmt.Errorf("version %d, phase %q", c.V, c.Phase)
		}
		return nil
	}, fuzzKey)
}

const fuzzOrg = `{"uuid":"5f2a0c7e-0000-4000-8000-000000000001","properties":{"identifier":{"permalink":"acme","value":"Acme"},"updated_at":"2026-03-09T10:00:00Z","founded_on":{"value":"2015-01-01","precision":"year"},"funding_total":{"value":1000000,"currency":"USD","value_usd":1000000}}}`

// FuzzCursor feeds arbitrary bytes as the resume cursor. Against a well-formed
// answer the only error left is a cursor that does not read: Invalid, naming it.
func FuzzCursor(f *testing.F) {
	for _, seed := range []string{
		``, `null`, `{}`, `[]`, `"x"`, `{"v":2}`, `{"v":1}`, `{"v":1,"phase":"sideways"}`,
		`{"v":1,"phase":"search","after":"5f2a0c7e-0000-4000-8000-000000000001","read":1000,"since":1773046800000,"until":1773144000000,"mark":1773050400000,"seen":{"5f2a0c7e-0000-4000-8000-000000000001":1773050400000}}`,
		`{"v":1,"phase":"idle","mark":1773050400000,"seen":{"5f2a0c7e-0000-4000-8000-000000000001":1773050400000}}`,
		`{"v":1,"phase":"idle","mark":-9223372036854775808}`,
		`{"v":1,"phase":"search","read":-5,"since":9223372036854775807,"new":{"":-1}}`,
	} {
		f.Add([]byte(seed))
	}
	reply := &fuzzReply{status: 200, body: []byte(`{"count":1,"entities":[` + fuzzOrg + `]}`)}
	f.Fuzz(func(t *testing.T, raw []byte) {
		st := fuzzSource(t, reply).Streams()[0]
		p, err := st.NextPage(t.Context(), source.PageRequest{Cursor: raw, SyncStart: fuzzNow})
		if err != nil && (!errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "cursor")) {
			t.Fatalf("cursor %q: %v, want an Invalid error naming the cursor", raw, err)
		}
		checkPage(t, p, err)
	})
}

// FuzzResponse feeds arbitrary answers (status, body) to a search page and to an
// organization lookup: no panic, and a body the connector cannot use is an error
// that never shows the key, even when the server echoes it.
func FuzzResponse(f *testing.F) {
	for _, s := range []struct {
		status uint16
		body   string
	}{
		{200, `{"count":3,"entities":[` + fuzzOrg + `,{"uuid":"5f2a0c7e-0000-4000-8000-000000000002","properties":{"updated_at":"2026-03-09T11:00:00Z"}}]}`},
		{200, `{"count":0,"entities":[]}`}, {200, `{"entities":[]}`}, {200, `{"count":1}`},
		{200, `{"properties":{"identifier":{"value":"Acme"},"short_description":"Rockets"}}`},
		{200, `{"count":1,"entities":[{"properties":{"note":"` + fuzzKey + `"}}]}`},
		{200, `{"count":1,"entities":[{"uuid":"u","properties":{"updated_at":"` + fuzzKey + `"}}]}`},
		{200, `{"count":1,"entities":[1,"x",null]}`}, {200, `{"count":"many"}`}, {200, `[`}, {200, ``},
		{400, `[{"code":"MD100","message":"Missing required field: field_ids"}]`},
		{400, `{"error":"bad request ` + fuzzKey + `","code":"` + fuzzKey + `"}`},
		{401, `[{"code":"LA201","message":"Invalid user_key: ` + fuzzKey + `"}]`},
		{403, `{"message":"Your plan does not include this field"}`}, {404, `[{"code":"MD101","message":"Entity not found"}]`},
		{429, ``}, {500, `<html>oops</html>`}, {503, `[{"code":7}]`},
	} {
		f.Add(s.status, []byte(s.body), false)
		f.Add(s.status, []byte(s.body), true)
	}
	f.Fuzz(func(t *testing.T, status uint16, body []byte, lookup bool) {
		code := int(status)
		if code < 100 || code > 599 {
			code = 200
		}
		src := fuzzSource(t, &fuzzReply{status: code, body: body})
		if lookup {
			props, err := src.Organization(t.Context(), "acme", "identifier", "short_description")
			if err != nil {
				checkErr(t, err)
			} else if !json.Valid(props) || code/100 != 2 {
				t.Fatalf("HTTP %d read as the properties %q", code, props)
			}
			return
		}
		p, err := src.Streams()[0].NextPage(t.Context(), source.PageRequest{Cursor: json.RawMessage(`{"v":1,"phase":"idle","mark":1773050400000}`), SyncStart: fuzzNow})
		checkPage(t, p, err)
		if err == nil && code/100 != 2 {
			t.Fatalf("HTTP %d read as a page", code)
		}
	})
}

// specSource is the spec-defined Crunchbase answering reply.
func specSource(t *testing.T, reply *fuzzReply) *rest.Source {
	t.Helper()
	src, err := Spec.New(source.Values{UserKeyEnv: fuzzKey, BaseURLEnv: "https://api.crunchbase.test/api/v4", source.Unpaced: "true"},
		&rest.Options{HTTPClient: &http.Client{Transport: reply}, Now: func() time.Time { return fuzzNow }})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// FuzzSpecCursor holds the spec to FuzzCursor's contract: against a well-formed
// answer the only error is a cursor that does not read, Invalid and naming it.
func FuzzSpecCursor(f *testing.F) {
	for _, seed := range []string{``, `null`, `{}`, `{"v":2}`, `{"v":1,"phase":"idle","mark":1773050400000,"seen":{"x":1773050400000}}`,
		`{"v":1,"phase":"read","t":"5f2a0c7e-0000-4000-8000-000000000001","r":1000,"since":1773046800000,"until":1773144000000}`,
		`{"v":1,"phase":"read","t":{"x":1},"r":-1}`} {
		f.Add([]byte(seed))
	}
	reply := &fuzzReply{status: 200, body: []byte(`{"count":1,"entities":[` + fuzzOrg + `]}`)}
	f.Fuzz(func(t *testing.T, raw []byte) {
		src := specSource(t, reply)
		st := src.Streams()[0]
		p, err := conformance.ReadFuzzedCursor(t, st, source.PageRequest{Cursor: raw, SyncStart: fuzzNow}, src.CheckCursor("organizations", raw))
		conformance.CheckFuzzedPage(t, p, err, func(b []byte) error { return src.CheckCursor("organizations", b) }, fuzzKey)
	})
}

// FuzzSpecResponse holds the spec to FuzzResponse's contract: no panic, and an
// answer it cannot use is a kinded error that never shows the key.
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
		src := specSource(t, &fuzzReply{status: code, body: body})
		p, err := src.Streams()[0].NextPage(t.Context(), source.PageRequest{Cursor: json.RawMessage(`{"v":1,"phase":"idle","mark":1773050400000}`), SyncStart: fuzzNow})
		conformance.CheckFuzzedPage(t, p, err, func(b []byte) error { return src.CheckCursor("organizations", b) }, fuzzKey)
		if err == nil && code/100 != 2 {
			t.Fatalf("HTTP %d read as a page", code)
		}
	})
}
