package pendo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/meshflow/meshflow/connectors/conformance"
	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/secret"
	"github.com/meshflow/meshflow/framework/source"
)

// fuzzKey is the integration key of the fuzzed source: no error may ever show it.
const fuzzKey = "pendo-FUZZ-SECRET-4c7e0b92.us"

var fuzzNow = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC) // 05:00 in Los Angeles

func fuzzSource(t *testing.T, reply conformance.Replies) *Source {
	t.Helper()
	src, err := New(Config{BaseURL: "https://app.pendo.test", IntegrationKey: secret.Value(fuzzKey), HistoryDays: 30, MinInterval: -1},
		&Options{HTTPClient: &http.Client{Transport: reply}, Now: func() time.Time { return fuzzNow }})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// checkPage holds a page to the connector's contract: an error is a kinded
// *errs.Error that never shows the key; a page has JSON records and a v1 next cursor.
func checkPage(t *testing.T, p source.Page, err error) {
	t.Helper()
	conformance.CheckFuzzedPage(t, p, err, func(b []byte) error {
		var c struct{ V int }
		if err := json.Unmarshal(b, &c); err != nil {
			return err
		}
		if c.V != 1 {
			return fmt.Errorf("not a v1 cursor")
		}
		return nil
	}, fuzzKey)
}

// wellFormed answers as Pendo does: one page or feature in a list, one visitor or
// account from an aggregation, and no events (an event row must match the day asked).
func wellFormed(r *http.Request, body []byte) (int, http.Header, []byte) {
	switch {
	case strings.HasSuffix(r.URL.Path, "/page"), strings.HasSuffix(r.URL.Path, "/feature"):
		return 200, nil, []byte(`[{"id":"aJ0KOADQZVL5h9Kn1SRJZg","name":"Home","appId":-323232,"createdAt":1709269200000,"lastUpdatedAt":1709269200000}]`)
	case bytes.Contains(body, []byte("Events")):
		return 200, nil, []byte(`{"results":[]}`)
	}
	return 200, nil, []byte(`{"results":[{"visitorId":"v-1","accountId":"acc-1","metadata":{"auto":{"lastupdated":1773000000000},"agent":{"email":"a@b.test"}}}]}`)
}

// FuzzCursor feeds arbitrary bytes as the resume cursor of every stream (each
// decodes its own: list, metadata, events). Against well-formed answers the only
// error left is a cursor that does not read: Invalid, naming the cursor.
func FuzzCursor(f *testing.F) {
	for _, seed := range []string{
		``, `null`, `{}`, `[]`, `"x"`, `{"v":2}`, `{"v":1}`,
		`{"v":1,"mark":1773000000000,"seen":{"v-1":1773000000000,"acc-1":1772999000000}}`,
		`{"v":1,"mark":-9223372036854775808,"seen":{"":9223372036854775807}}`,
		`{"v":1,"first":"2025-03-10","last":"2026-03-08","digests":{"2026-03-07":"12:9f3a","2026-03-08":"0:0"}}`,
		`{"v":1,"first":"2025-03-10","last":"2026-03-02","next":"2026-02-25","until":"2026-03-09","digests":{"2026-02-25":"3:ab"}}`,
		`{"v":1,"next":"2026-03-09","until":"2026-03-01"}`,
		`{"v":1,"next":"yesterday","until":"today"}`,
		`{"v":1,"first":"0001-01-01","last":"9999-12-31"}`,
		`{"v":1,"last":"2026-03-08","digests":{"not a day":"1:1"}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		src := fuzzSource(t, wellFormed)
		for _, st := range src.Streams() {
			for _, partition := range []string{"", "2026-03-02"} {
				if partition != "" && !strings.HasSuffix(st.Spec().Name, "_events") {
					continue
				}
				p, err := st.NextPage(t.Context(), source.PageRequest{Cursor: raw, SyncStart: fuzzNow, Partition: partition})
				if err != nil && (!errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "cursor")) {
					t.Fatalf("%s cursor %q: %v, want an Invalid error naming the cursor", st.Spec().Name, raw, err)
				}
				checkPage(t, p, err)
			}
		}
	})
}

// FuzzResponse feeds arbitrary answers (status, body) to a list, an aggregation of
// metadata and an aggregation of one day's events: no panic, and a body the
// connector cannot use is an error that never shows the key, even when echoed.
func FuzzResponse(f *testing.F) {
	la, _ := time.LoadLocation(DefaultTimeZone)
	day := time.Date(2026, 3, 9, 0, 0, 0, 0, la).UnixMilli() // the day the event target reads
	event := fmt.Sprintf(`{"visitorId":"v-1","accountId":"acc-1","server":"app.acme.test","remoteIp":"10.0.0.1","day":%d,"pageId":"aJ0K","numEvents":4,"numMinutes":2,"userAgent":"UA"}`, day)
	for _, s := range []struct {
		status uint16
		body   string
	}{
		{200, `[{"id":"p1","name":"Home"},{"id":"p2","name":"Pricing","rules":[{"rule":"//*/pricing"}]}]`},
		{200, `{"results":[{"visitorId":"v-1","metadata":{"auto":{"lastupdated":1773000000000}}},{"accountId":"acc-1","metadata":{"auto":{"lastupdated":"1773000000001"}}}]}`},
		{200, `{"results":[` + event + `,` + event + `]}`},
		{200, fmt.Sprintf(`{"results":[{"visitorId":"v","day":%d,"featureId":"f"}]}`, day+3600_000)},
		{200, `{"results":[{"visitorId":"v","day":"soon","pageId":"p"}]}`},
		{200, fmt.Sprintf(`{"results":[{"day":%d,"pageId":{"nested":1},"visitorId":"v"}]}`, day)},
		{200, `{"results":[{"visitorId":"` + fuzzKey + `","day":1}]}`},
		{200, `[{"name":"no id","key":"` + fuzzKey + `"}]`},
		{200, `{"results":[{"metadata":"` + fuzzKey + `"}]}`},
		{200, `{"results":null}`}, {200, `{"result":[]}`}, {200, `[`}, {200, ``}, {200, `{"results":[` + fuzzKey},
		{401, `{"overall":{"message":"Forbidden"}}`}, {403, `Your integration key ` + fuzzKey + ` is not valid`},
		{429, `Too Many Requests`}, {404, `<html>not found</html>`}, {400, `{"message":"pipeline parse error"}`},
		{500, ``}, {502, `<html>bad gateway</html>`},
	} {
		for target := range uint8(3) {
			f.Add(s.status, []byte(s.body), target)
		}
	}
	targets := []struct {
		stream string
		cursor json.RawMessage
	}{
		{"pages", nil},
		{"visitors", json.RawMessage(`{"v":1,"mark":1773000000000}`)},
		{"page_events", json.RawMessage(`{"v":1,"first":"2026-02-01","last":"2026-03-08","next":"2026-03-09","until":"2026-03-09"}`)},
	}
	f.Fuzz(func(t *testing.T, status uint16, body []byte, target uint8) {
		code := int(status)
		if code < 100 || code > 599 {
			code = 200
		}
		tg := targets[int(target)%len(targets)]
		src := fuzzSource(t, func(*http.Request, []byte) (int, http.Header, []byte) { return code, nil, body })
		st, _ := source.Lookup(src, tg.stream)
		p, err := st.NextPage(t.Context(), source.PageRequest{Cursor: tg.cursor, SyncStart: fuzzNow})
		checkPage(t, p, err)
		if err == nil && code/100 != 2 {
			t.Fatalf("HTTP %d read as a page", code)
		}
	})
}

// FuzzEventKey feeds arbitrary event rows to the key and digest of event rows:
// no panic, and a key is 32 hex digits that the row keeps as its first field, the date next.
func FuzzEventKey(f *testing.F) {
	for _, seed := range []string{
		`{"visitorId":"v-1","accountId":"acc-1","day":1709269200000,"pageId":"p","numEvents":3}`,
		`{"visitorId":"v","hour":1.7092692e12,"featureId":"f","remoteIp":null}`,
		`{"visitorId":"v","day":"1","pageId":"p","server":true}`,
		`{"visitorId":{"a":1},"day":1,"pageId":"p"}`, `{}`, `[]`, `null`, ` {"visitorId":"v","day":1,"pageId":"p"} `,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, row []byte) {
		var d digest
		_ = d.add(row)
		key, err := EventKey(row)
		if err != nil {
			return
		}
		if len(key) != 32 || strings.Trim(key, "0123456789abcdef") != "" {
			t.Fatalf("key %q is not 32 hex digits", key)
		}
		out, err := inject(row, key, "2026-03-05")
		if err != nil {
			return
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(out, &m) != nil || string(m[KeyField]) != `"`+key+`"` || string(m[DateField]) != `"2026-03-05"` {
			t.Fatalf("row %q with its key is %q", row, out)
		}
	})
}
