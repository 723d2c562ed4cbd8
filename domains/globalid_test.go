package domains

import (
	"testing"

	"github.com/meshflow/meshflow/framework/mesh"
)

// The global id columns mean one thing everywhere: text, documented, and carried by the
// ports that join across domains on them.
func TestGlobalIDColumns(t *testing.T) {
	carriers := map[string]bool{}
	for _, e := range Mesh().Products() {
		for _, c := range e.Product.Schema {
			if c.Name != "company_gid" && c.Name != "person_gid" {
				continue
			}
			carriers[e.Ref().String()+"."+c.Name] = true
			if c.Type != mesh.String {
				t.Errorf("%s.%s is %s: global ids are VARCHAR in every port", e.Ref(), c.Name, c.Type)
			}
		}
	}
	for _, want := range []string{
		"marketing.crm_companies.company_gid", "marketing.crm_contacts.person_gid", "marketing.crm_contacts.company_gid",
		"marketing.crm_deals.company_gid", "product.account_usage_daily.company_gid",
		"market_intelligence.organizations.company_gid", "identity.company_ids.company_gid",
		"identity.person_ids.person_gid", "metrics.revenue_engagement_weekly.company_gid",
	} {
		if !carriers[want] {
			t.Errorf("%s is not declared", want)
		}
	}
}
