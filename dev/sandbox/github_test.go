package sandbox

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/meshflow/meshflow/connectors"
	"github.com/meshflow/meshflow/dev/sandbox/github"
	sbhubspot "github.com/meshflow/meshflow/dev/sandbox/hubspot"
)

// ghGet GETs url as a GitHub client does: the default token and a User-Agent.
func ghGet(t *testing.T, url string) (status int, link, body string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+github.DefaultToken)
	req.Header.Set("User-Agent", "sandbox-test")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Link"), string(b)
}

func TestGitHubMounted(t *testing.T) {
	srv, ts := start(t, &Options{Connectors: connectors.All(), Settings: []any{small(), github.Options{Issues: 20, PullRequests: 20, Commits: 5}}})
	code, link, _ := ghGet(t, github.URL(ts.URL)+"/repos/acme/app/issues?state=all&per_page=5")
	if code != 200 || !strings.Contains(link, "<"+github.URL(ts.URL)+"/repositories/") {
		t.Errorf("links keep the mount prefix: %d %q", code, link)
	}
	if _, _, body := ghGet(t, ts.URL+"/_sandbox/health"); !strings.Contains(body, `"github":"/github"`) {
		t.Errorf("health: %s", body)
	}
	if code, _, body := ghGet(t, ts.URL+"/_sandbox/github/count?stream=pull_requests"); code != 200 || !strings.Contains(body, `"count":60`) {
		t.Errorf("admin: %d %s", code, body)
	}
	if Get[*github.API](srv).Requests() != 1 || Get[*sbhubspot.API](srv).Requests() != 0 {
		t.Errorf("requests: github %d, hubspot %d (admin calls are not counted)", Get[*github.API](srv).Requests(), Get[*sbhubspot.API](srv).Requests())
	}

	srv.SetFaults(Faults{RateLimited: 1})
	if code, _, body := ghGet(t, github.URL(ts.URL)+"/repos/acme/app/issues"); (code != 403 && code != 429) || !strings.Contains(body, "API rate limit exceeded") {
		t.Errorf("an injected rate limit speaks GitHub: %d %s", code, body)
	}
}
