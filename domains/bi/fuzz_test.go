package bi

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/meshflow/meshflow/connectors/conformance"
	"github.com/meshflow/meshflow/connectors/rest"
	sblooker "github.com/meshflow/meshflow/dev/sandbox/looker"
	"github.com/meshflow/meshflow/framework/source"
)

// fuzzSecret is the client secret of the fuzzed source: no error may ever show it.
const fuzzSecret = "LookerFUZZSecret0123456789abcdef"

var fuzzNow = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// FuzzLookerResponse feeds arbitrary answers (status, body) to every stream after a
// good login: no panic, and an answer the source cannot use is a kinded error that
// never shows the secret, even when the server echoes it — a 200 holding Looker's
// looker_error included, which must not land as data.
func FuzzLookerResponse(f *testing.F) {
	for _, s := range []struct {
		status uint16
		body   string
	}{
		{200, `[{"id":"1","first_name":"Ada","last_name":"L","display_name":"Ada L","email":"ada@acme.example","is_disabled":false}]`},
		{200, `[]`}, {200, `{}`}, {200, `null`}, {200, `[`}, {200, ``}, {200, `[1,"x",null]`}, {200, `[{"id":"` + fuzzSecret + `"}]`},
		{200, `[{"looker_error":"Query timed out"}]`},
		{200, `[{"history.id":7,"history.created_time":"2026-03-09 10:00:00","dashboard.id":"3","user.id":"1"}]`},
		{400, `{"message":"Invalid filter","documentation_url":"https://cloud.google.com/looker/docs/"}`},
		{401, `{"message":"Requires authentication.","documentation_url":"x"}`}, {403, `{"message":"see_system_activity required"}`},
		{404, `{"message":"Not found","documentation_url":"x"}`}, {429, ``}, {500, `<html>oops ` + fuzzSecret + `</html>`}, {503, `{}`},
	} {
		f.Add(s.status, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, status uint16, body []byte) {
		code := int(status)
		if code < 100 || code > 599 {
			code = 200
		}
		reply := conformance.Replies(func(r *http.Request, _ []byte) (int, http.Header, []byte) {
			if strings.HasSuffix(r.URL.Path, "/login") {
				return 200, http.Header{"Content-Type": {"application/json"}}, []byte(`{"access_token":"tok","token_type":"Bearer","expires_in":3600}`)
			}
			return code, nil, body
		})
		src, err := lookerSpec.New(source.Values{sblooker.BaseURLVar: "https://looker.test/api/4.0", sblooker.ClientIDVar: sblooker.DefaultClientID,
			sblooker.ClientSecretVar: fuzzSecret, source.Unpaced: "true"},
			&rest.Options{HTTPClient: &http.Client{Transport: reply}, Now: func() time.Time { return fuzzNow }})
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range src.Streams() {
			if st.Spec().Name == "dashboard_elements" {
				continue // asked once per dashboard: its parent's answer is the fuzzed one
			}
			p, err := st.NextPage(t.Context(), source.PageRequest{SyncStart: fuzzNow})
			conformance.CheckFuzzedPage(t, p, err, func(b []byte) error { return src.CheckCursor(st.Spec().Name, b) }, fuzzSecret)
			if err == nil && code/100 != 2 {
				t.Fatalf("%s: HTTP %d read as a page", st.Spec().Name, code)
			}
		}
	})
}
