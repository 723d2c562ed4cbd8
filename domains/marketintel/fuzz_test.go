package marketintel

import (
	"net/http"
	"testing"
	"time"

	"github.com/meshflow/meshflow/connectors/conformance"
	"github.com/meshflow/meshflow/connectors/rest"
	sbpdl "github.com/meshflow/meshflow/dev/sandbox/peopledatalabs"
	"github.com/meshflow/meshflow/framework/source"
)

// fuzzKey is the API key of the fuzzed source: no error may ever show it.
const fuzzKey = "pdl-FUZZ-SECRET-0123456789abcdef0123456789abcdef0123456789abcdef"

var fuzzNow = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// FuzzPeopleDataLabsResponse feeds arbitrary answers (status, body) to a company
// enrichment: no panic, and an answer the source cannot use is a kinded error that
// never shows the key, even when the server echoes it. Only a 2xx, or a 404 saying
// nothing matched (landed as the answer), is a page.
func FuzzPeopleDataLabsResponse(f *testing.F) {
	for _, s := range []struct {
		status uint16
		body   string
	}{
		{200, `{"status":200,"likelihood":9,"id":"tnHcNHbCv8MKeLh92946LAkX6PKg","name":"acme","website":"acme.example","size":"51-200","employee_count":120,"founded":2015,"location":{"country":"united states"}}`},
		{200, `{"status":200}`}, {200, `[]`}, {200, `null`}, {200, `[`}, {200, ``}, {200, `{"status":200,"name":"` + fuzzKey + `"}`},
		{200, `{"status":200,"founded":"nineteen","employee_count":1e400,"location":[1]}`},
		{404, `{"status":404,"error":{"type":["not_found"],"message":"No records were found matching your request"}}`},
		{404, `{"status":404,"error":{"type":["not_found"],"message":"Invalid endpoint: /v4/company/enrich"}}`},
		{404, `"No records were found"`},
		{400, `{"status":400,"error":{"type":["invalid_request_error"],"message":"Does not meet minimum combination of required data points."}}`},
		{401, `{"status":401,"error":{"type":["authentication_error"],"message":"Request contained a missing or invalid key: ` + fuzzKey + `"}}`},
		{402, `{"status":402,"error":{"type":["payment_required"],"message":"You have hit your account maximum for company enrichment (all matches used)"}}`},
		{429, `{"status":429,"error":{"type":["rate_limit_error"],"message":"An error occurred due to requests hitting the API too quick"}}`},
		{500, `<html>oops</html>`}, {503, `{"status":503}`},
	} {
		f.Add(s.status, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, status uint16, body []byte) {
		code := int(status)
		if code < 100 || code > 599 {
			code = 200
		}
		src, err := peopleDataLabsSpec.New(source.Values{sbpdl.KeyVar: fuzzKey, sbpdl.BaseURLVar: "https://api.peopledatalabs.test/v5", source.Unpaced: "true"},
			&rest.Options{HTTPClient: &http.Client{Transport: &conformance.Answer{Status: code, Body: body}}, Now: func() time.Time { return fuzzNow }})
		if err != nil {
			t.Fatal(err)
		}
		st := src.Streams()[0]
		p, err := st.NextPage(t.Context(), source.PageRequest{Keys: []source.Key{{"domain": "acme.example"}}, SyncStart: fuzzNow})
		conformance.CheckFuzzedPage(t, p, err, func(b []byte) error { return src.CheckCursor(st.Spec().Name, b) }, fuzzKey)
		if err == nil && code/100 != 2 && code != http.StatusNotFound {
			t.Fatalf("HTTP %d read as a page", code)
		}
	})
}
