package mesh

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/meshflow/meshflow/framework/errs"
)

// selectMesh is a small mesh shaped like the real one:
//
//	marketing.companies ─┬─► marketing.contacts ─► identity.ids ─► identity.report
//	                     └─► marketing.deals
//	intel.orgs ────────────────────────────────► identity.ids
func selectMesh() Mesh {
	p := func(name string, tags []string, inputs ...Input) Product {
		if len(inputs) == 0 {
			inputs = []Input{Raw("src", name)}
		}
		return Product{Name: name, Tags: tags, Inputs: inputs}
	}
	return Mesh{Domains: []Domain{
		{Name: "marketing", Products: []Product{
			p("contacts", []string{"crm", "people"}, FromProduct("marketing", "companies"), Raw("hubspot", "contacts")),
			p("companies", []string{"crm", "accounts"}),
			p("deals", []string{"crm", "revenue"}, FromProduct("marketing", "companies")),
		}},
		{Name: "identity", Products: []Product{
			p("ids", []string{"global-id"}, FromProduct("marketing", "contacts"), FromProduct("intel", "orgs")),
			p("report", nil, FromProduct("identity", "ids"), FromProduct("identity", "ids")),
		}},
		{Name: "intel", Products: []Product{p("orgs", []string{"accounts"})}},
	}}
}

// levels renders a selection as "a b | c | d": its levels, each in order.
func levels(s Selection) string {
	var ls []string
	for _, l := range s.Levels {
		var names []string
		for _, p := range l {
			names = append(names, p.Ref().String())
		}
		ls = append(ls, strings.Join(names, " "))
	}
	return strings.Join(ls, " | ")
}

func selected(t *testing.T, s Selection, ref string) Selected {
	t.Helper()
	for _, p := range s.All() {
		if p.Ref().String() == ref {
			return p
		}
	}
	t.Fatalf("%s is not selected: %s", ref, levels(s))
	return Selected{}
}

func TestSelectEachKindInDependencyOrder(t *testing.T) {
	m := selectMesh()
	for _, tc := range []struct {
		selectors []string
		want      string
	}{
		{[]string{"contacts"}, "marketing.contacts"},
		{[]string{"marketing.companies+"}, "marketing.companies | marketing.contacts marketing.deals | identity.ids | identity.report"},
		{[]string{"+ids"}, "intel.orgs marketing.companies | marketing.contacts | identity.ids"},
		{[]string{"+contacts+"}, "marketing.companies | marketing.contacts | identity.ids | identity.report"},
		{[]string{"domain:marketing"}, "marketing.companies | marketing.contacts marketing.deals"},
		{[]string{"tag:crm"}, "marketing.companies | marketing.contacts marketing.deals"},
		{[]string{"tag:accounts+"}, "intel.orgs marketing.companies | marketing.contacts marketing.deals | identity.ids | identity.report"},
		{[]string{"+domain:identity"}, "intel.orgs marketing.companies | marketing.contacts | identity.ids | identity.report"},
		// The union of several, each product once, ordered across selectors.
		{[]string{"report", "deals", "companies"}, "marketing.companies | identity.report marketing.deals"},
		{[]string{"domain:intel", "tag:crm", "ids+"}, "intel.orgs marketing.companies | marketing.contacts marketing.deals | identity.ids | identity.report"},
		// Products left out keep their order: ids waits for companies through contacts.
		{[]string{"companies", "ids"}, "marketing.companies | identity.ids"},
	} {
		s, err := m.Select(tc.selectors...)
		if err != nil {
			t.Errorf("Select %v: %v", tc.selectors, err)
			continue
		}
		if got := levels(s); got != tc.want {
			t.Errorf("Select %v:\n got %s\nwant %s", tc.selectors, got, tc.want)
		}
	}
}

func TestSelectSaysWhyAndWhatEachWaitsFor(t *testing.T) {
	s, err := selectMesh().Select("companies+", "tag:crm", "+report")
	if err != nil {
		t.Fatal(err)
	}
	ids := selected(t, s, "identity.ids")
	if want := []string{"downstream of marketing.companies (companies+)", "upstream of identity.report (+report)"}; !slices.Equal(ids.Why, want) {
		t.Errorf("why identity.ids: %q, want %q", ids.Why, want)
	}
	if fmt.Sprint(ids.After) != "[marketing.contacts intel.orgs]" || len(ids.Reads) != 0 {
		t.Errorf("identity.ids waits for %v and reads %v as published", ids.After, ids.Reads)
	}
	contacts := selected(t, s, "marketing.contacts")
	if want := []string{"downstream of marketing.companies (companies+)", "tagged crm (tag:crm)", "upstream of identity.report (+report)"}; !slices.Equal(contacts.Why, want) {
		t.Errorf("why marketing.contacts: %q, want %q", contacts.Why, want)
	}
	companies := selected(t, s, "marketing.companies")
	if want := []string{"named (companies+)", "tagged crm (tag:crm)", "upstream of identity.report (+report)"}; !slices.Equal(companies.Why, want) {
		t.Errorf("why marketing.companies: %q, want %q", companies.Why, want)
	}
	// report reads ids twice: it waits for it once.
	if report := selected(t, s, "identity.report"); fmt.Sprint(report.After) != "[identity.ids]" {
		t.Errorf("identity.report waits for %v", report.After)
	}

	s, err = selectMesh().Select("ids", "companies")
	if err != nil {
		t.Fatal(err)
	}
	ids = selected(t, s, "identity.ids")
	if fmt.Sprint(ids.After) != "[marketing.companies]" || fmt.Sprint(ids.Reads) != "[marketing.contacts intel.orgs]" {
		t.Errorf("identity.ids selected without its inputs waits for %v (want the selected companies it reads through contacts) and reads %v as published", ids.After, ids.Reads)
	}
}

func TestSelectorsThatMatchNothingNameTheClosest(t *testing.T) {
	m := selectMesh()
	for _, tc := range []struct{ selector, want string }{
		{"contact", `no product is called "contact": did you mean marketing.contacts?`},
		{"marketing.contact+", `no product is called "marketing.contact": did you mean marketing.contacts?`},
		{"+xyzzy_plugh", "no product is called \"xyzzy_plugh\": `mesh products` lists them"},
		{"marketing", "marketing is a domain: select it with domain:marketing"},
		{"crm+", "crm is a tag: select it with tag:crm"},
		{"domain:marketng", `no domain "marketng" has products: did you mean domain:marketing?`},
		{"domain:finance", "there are domain:identity, domain:intel, domain:marketing"},
		{"domain:x", "there are domain:identity, domain:intel, domain:marketing"},
		{"tag:crn", `no product is tagged "crn": did you mean tag:crm?`},
		{"path:models/x.sql", `unknown method "path:"`},
		{"tag:crm,domain:marketing", "intersections (a,b) are not supported"},
		{"2+contacts", "+ goes only before a name"},
		{"++contacts", "+ goes only before a name"},
		{"+", "it names nothing"},
	} {
		_, err := m.Select("contacts", tc.selector)
		if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), fmt.Sprintf("selector %q", tc.selector)) {
			t.Errorf("Select %q: %v\nwant an invalid selector error saying %q", tc.selector, err, tc.want)
		}
	}
	if _, err := m.Select(); !errs.Is(err, errs.Invalid) {
		t.Errorf("Select of nothing: %v", err)
	}
	// A bare name two domains use is ambiguous, and says how to name it.
	twice := m
	twice.Domains = append(slices.Clone(m.Domains), Domain{Name: "sales", Products: []Product{{Name: "deals"}}})
	if _, err := twice.Select("deals+"); err == nil || !strings.Contains(err.Error(), "ambiguous") || !strings.Contains(err.Error(), "name it as domain.product") {
		t.Errorf("ambiguous name: %v", err)
	}
}

// Validate does not refuse a cycle yet; Select must never loop on one, and names it.
func TestSelectRefusesACycle(t *testing.T) {
	m := selectMesh()
	m.Domains[0].Products[1].Inputs = []Input{FromProduct("identity", "report")} // companies reads report
	for _, sel := range []string{"companies+", "+report", "domain:marketing"} {
		_, err := m.Select(sel, "report")
		if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "cycle") || !strings.Contains(err.Error(), "marketing.companies") || !strings.Contains(err.Error(), "identity.report") {
			t.Errorf("Select %q over a cycle: %v", sel, err)
		}
	}
	// Away from the cycle, selection still works.
	if s, err := m.Select("deals"); err != nil || levels(s) != "marketing.deals" {
		t.Errorf("Select deals beside a cycle: %v %v", levels(s), err)
	}
}
