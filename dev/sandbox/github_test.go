package sandbox

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/meshflow/meshflow/dev/sandbox/github"
)

// ghGet GETs url as a GitHub client does: the default token and a User-Agent.
func ghGet(t *testing.T, url string) (status int, link, body string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+GitHubToken)
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
	srv, ts := start(t, &Options{HubSpot: small(), GitHub: github.Options{Issues: 20, PullRequests: 20, Commits: 5}})
	code, link, _ := ghGet(t, GitHubURL(ts.URL)+"/repos/acme/app/issues?state=all&per_page=5")
	if code != 200 || !strings.Contains(link, "<"+GitHubURL(ts.URL)+"/repositories/") {
		t.Errorf("links keep the mount prefix: %d %q", code, link)
	}
	if _, _, body := ghGet(t, ts.URL+"/_sandbox/health"); !strings.Contains(body, `"github":"/github"`) {
		t.Errorf("health: %s", body)
	}
	if code, _, body := ghGet(t, ts.URL+"/_sandbox/github/count?stream=pull_requests"); code != 200 || !strings.Contains(body, `"count":60`) {
		t.Errorf("admin: %d %s", code, body)
	}
	if srv.GitHub().Requests() != 1 || srv.HubSpot().Requests() != 0 {
		t.Errorf("requests: github %d, hubspot %d (admin calls are not counted)", srv.GitHub().Requests(), srv.HubSpot().Requests())
	}

	srv.SetFaults(Faults{RateLimited: 1})
	if code, _, body := ghGet(t, GitHubURL(ts.URL)+"/repos/acme/app/issues"); (code != 403 && code != 429) || !strings.Contains(body, "API rate limit exceeded") {
		t.Errorf("an injected rate limit speaks GitHub: %d %s", code, body)
	}
}
