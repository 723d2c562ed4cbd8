package sandbox

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/meshflow/meshflow/connectors"
	sbhubspot "github.com/meshflow/meshflow/dev/sandbox/hubspot"
	"github.com/meshflow/meshflow/dev/sandbox/jira"
)

func smallJira() jira.Options { return jira.Options{Issues: 20, RateLimit: -1} }

func jiraGet(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.SetBasicAuth(jira.DefaultEmail, jira.DefaultToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestJiraMounted(t *testing.T) {
	srv, ts := start(t, &Options{Connectors: connectors.All(), Settings: []any{small(), smallJira()}})
	resp, body := jiraGet(t, jira.URL(ts.URL)+"/rest/api/3/search/jql?jql=project%3DOPS&fields=summary&maxResults=1")
	if resp.StatusCode != 200 || !strings.Contains(body, `"self":"`+jira.URL(ts.URL)+`/rest/api/3/issue/`) {
		t.Fatalf("jira search: %d %s", resp.StatusCode, body)
	}
	_, body = jiraGet(t, ts.URL+"/_sandbox/health")
	if !strings.Contains(body, `"jira":"/jira"`) {
		t.Errorf("health: %s", body)
	}
	r, err := http.Post(ts.URL+"/_sandbox/jira/transition?n=1", "", nil)
	if err != nil || r.StatusCode != 200 {
		t.Fatalf("transition over HTTP: %v %v", r, err)
	}
	r.Body.Close()
	if Get[*jira.API](srv).Requests() != 1 || Get[*sbhubspot.API](srv).Requests() != 0 {
		t.Errorf("requests: jira %d, hubspot %d; want 1 and 0 (admin calls are not counted)", Get[*jira.API](srv).Requests(), Get[*sbhubspot.API](srv).Requests())
	}
}

// TestJiraFaults: injected rate limits answer as Jira does (429, and now and
// then 503 with Retry-After), with Jira's error body.
func TestJiraFaults(t *testing.T) {
	srv, ts := start(t, &Options{Connectors: connectors.All(), Faults: Faults{RateLimited: 1}, Settings: []any{small(), smallJira()}})
	codes := map[int]int{}
	for range 6 {
		resp, body := jiraGet(t, jira.URL(ts.URL)+"/rest/api/3/myself")
		codes[resp.StatusCode]++
		if !strings.Contains(body, `"errorMessages"`) || resp.Header.Get("RateLimit-Reason") == "" {
			t.Fatalf("faulted answer: %d %v %s", resp.StatusCode, resp.Header, body)
		}
		if resp.StatusCode == 503 && resp.Header.Get("Retry-After") == "" {
			t.Errorf("503 without Retry-After")
		}
	}
	if codes[429] != 4 || codes[503] != 2 {
		t.Errorf("status counts %v, want four 429s and two 503s", codes)
	}
	if Get[*jira.API](srv).Requests() != 6 {
		t.Errorf("faulted requests counted: %d, want 6", Get[*jira.API](srv).Requests())
	}
}
