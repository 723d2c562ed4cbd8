package sandbox

import (
	"strings"
	"testing"

	"github.com/meshflow/meshflow/connectors"
	"github.com/meshflow/meshflow/dev/sandbox/github"
	sbhubspot "github.com/meshflow/meshflow/dev/sandbox/hubspot"
	"github.com/meshflow/meshflow/dev/sandbox/internal/fake"
)

// The sandbox hands HubSpot's companies to GitHub as to Pendo and Crunchbase:
// derived organisations name a HubSpot company's domain in their blog, and no
// other organisation (the owner included) has one.
func TestGitHubOrgsDescribeHubSpotCompanies(t *testing.T) {
	srv, ts := start(t, &Options{Connectors: connectors.All(), Settings: []any{small(), github.Options{Issues: 5, PullRequests: 5, Commits: 5, Orgs: 20}}})
	hubspot := map[string]bool{}
	for _, c := range Get[*sbhubspot.API](srv).CompanyDomains() {
		hubspot[c.Domain] = true
	}
	matched := 0
	for _, m := range Get[*github.API](srv).OrgMatches() {
		canon := fake.CanonicalDomain(m.Domain)
		switch {
		case m.Company != "":
			matched++
			if !hubspot[m.Company] || canon != m.Company {
				t.Errorf("organisation %s: %q derives from %q, not a HubSpot domain or not its canonical form", m.ID, m.Domain, m.Company)
			}
		case hubspot[canon]:
			t.Errorf("stranger %s: %q is a HubSpot domain", m.ID, m.Domain)
		}
	}
	if want := min(14, len(hubspot)); matched != want { // 0.7 of 20, as far as the companies go
		t.Errorf("%d organisations derive from HubSpot companies, want %d", matched, want)
	}
	if code, _, body := ghGet(t, ts.URL+"/_sandbox/github/count?stream=organizations"); code != 200 || !strings.Contains(body, `"count":21`) {
		t.Errorf("admin count: %d %s", code, body)
	}
	if code, _, body := ghGet(t, github.URL(ts.URL)+"/orgs/acme"); code != 200 || !strings.Contains(body, `"blog":"https://www.acme.example"`) {
		t.Errorf("/orgs/acme through the mount: %d %s", code, body)
	}
}
