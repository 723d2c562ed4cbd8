package sandbox

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2/jwt"

	"github.com/meshflow/meshflow/connectors"
	"github.com/meshflow/meshflow/dev/sandbox/googleanalytics"
)

func TestGA4Mount(t *testing.T) {
	now := time.Date(2025, 3, 12, 15, 30, 0, 0, time.UTC)
	srv, ts := start(t, &Options{Connectors: connectors.All(), Now: func() time.Time { return now }, Settings: []any{small()}})

	// The key file served by the admin endpoint points at this sandbox's token endpoint.
	resp, err := http.Get(ts.URL + "/_sandbox/ga4/service-account")
	if err != nil {
		t.Fatal(err)
	}
	keyJSON, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var key struct {
		ClientEmail string `json:"client_email"`
		PrivateKey  string `json:"private_key"`
		TokenURI    string `json:"token_uri"`
	}
	if err := json.Unmarshal(keyJSON, &key); err != nil || key.TokenURI != googleanalytics.TokenURL(ts.URL) {
		t.Fatalf("service-account key: %v %s", err, keyJSON)
	}
	if string(keyJSON) != string(Get[*googleanalytics.API](srv).ServiceAccountJSON(googleanalytics.TokenURL(ts.URL))) {
		t.Error("the admin key file differs from ServiceAccountJSON")
	}

	// The JWT flow through the mount: the audience is the prefixed token URL.
	cfg := &jwt.Config{Email: key.ClientEmail, PrivateKey: []byte(key.PrivateKey), Scopes: []string{googleanalytics.Scope}, TokenURL: key.TokenURI}
	tok, err := cfg.TokenSource(t.Context()).Token()
	if err != nil {
		t.Fatalf("token through the mount: %v", err)
	}
	report := func() (int, string) {
		body := `{"dateRanges":[{"startDate":"yesterday","endDate":"yesterday"}],"metrics":[{"name":"sessions"}]}`
		req, _ := http.NewRequest("POST", googleanalytics.URL(ts.URL)+"/v1beta/properties/123456789:runReport", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := report(); code != 200 || !strings.Contains(body, `"rows"`) {
		t.Fatalf("runReport: %d %s", code, body)
	}

	// Injected 429s speak GA4.
	srv.SetFaults(Faults{RateLimited: 1})
	if code, body := report(); code != 429 || !strings.Contains(body, `"status":"RESOURCE_EXHAUSTED"`) {
		t.Errorf("faulted: %d %s", code, body)
	}
	srv.SetFaults(Faults{})

	resp, err = http.PostForm(ts.URL+"/_sandbox/ga4/late-hits?"+url.Values{"property": {"123456789"}, "date": {"2025-03-10"}, "n": {"2"}, "dimensions": {"date,country"}}.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.Count(string(b), `["20250310",`) != 2 {
		t.Errorf("late-hits: %d %s", resp.StatusCode, b)
	}
	if n := Get[*googleanalytics.API](srv).Requests(); n != 3 {
		t.Errorf("%d GA4 requests counted, want 3 (admin calls are not)", n)
	}
	resp, _ = http.Get(ts.URL + "/_sandbox/health")
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `"googleanalytics":"/ga4"`) {
		t.Errorf("health: %s", b)
	}
}
