package mesh

import (
	"strings"
	"testing"
	"time"

	"github.com/meshflow/meshflow/framework/errs"
)

// A model test's declaration is checked with its product: each mistake is named with
// the test and the fix.
func TestValidateModelTests(t *testing.T) {
	ok := ModelTest{Name: "newest_version", Given: []Given{{Input: Raw("hubspot", "contacts"), Columns: []string{"id"}, Rows: [][]any{{"1"}, {2}, {nil}}}},
		Expect: Expect{Columns: []string{"contact_id"}, Rows: [][]any{{"1"}, {time.Unix(0, 0)}}}}
	p := valid()
	p.Tests = []ModelTest{ok, {Name: "from_files", Given: []Given{{Input: Raw("hubspot", "contacts"), File: "tests/crm_contacts/contacts.csv"}},
		Expect: Expect{File: "tests/crm_contacts/expected.json"}}, {Name: "no_rows"}}
	if err := (Domain{Name: "marketing", Owner: "team", Products: []Product{p}}).Validate(); err != nil {
		t.Fatalf("valid tests: %v", err)
	}
	for _, tc := range []struct {
		change func(*ModelTest)
		want   string
	}{
		{func(m *ModelTest) { m.Given[0].Input = Raw("hubspot", "companies") },
			"test newest_version: given hubspot.companies, which is not among the product's inputs (hubspot.contacts): give rows only for an input the model reads, or add it to Inputs"},
		{func(m *ModelTest) { m.Given = append(m.Given, Given{Input: Raw("hubspot", "contacts")}) }, "test newest_version: hubspot.contacts is given twice"},
		{func(m *ModelTest) { m.Name = "Newest" }, `test "Newest": the name must be lower_snake_case`},
		{func(m *ModelTest) { m.Given[0].Rows[1] = []any{"2", "3"} }, "given hubspot.contacts: row 2 has 2 values for 1 columns (id)"},
		{func(m *ModelTest) { m.Given[0].Rows[0] = []any{[]string{"x"}} }, "row 1, column id: a []string cannot be a value"},
		{func(m *ModelTest) { m.Given[0].Columns = nil }, "given hubspot.contacts: rows without Columns"},
		{func(m *ModelTest) { m.Given[0].File = "tests/x.csv" }, "given hubspot.contacts: both File and Columns/Rows"},
		{func(m *ModelTest) { m.Expect = Expect{File: "../expected.txt"} }, `expect: File "../expected.txt" must be a .csv or .json file of the domain's folder`},
		{func(m *ModelTest) { m.Expect.Columns = []string{"contact"} }, `test newest_version: expects column "contact", which the schema does not declare (its columns: contact_id, updated_at)`},
	} {
		m := ok
		m.Given = []Given{ok.Given[0]}
		m.Given[0].Rows = [][]any{{"1"}, {2}, {nil}}
		tc.change(&m)
		p := valid()
		p.Tests = []ModelTest{m}
		err := Domain{Name: "marketing", Owner: "team", Products: []Product{p}}.Validate()
		if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "marketing.crm_contacts") {
			t.Errorf("want an Invalid error naming marketing.crm_contacts and %q, got %v", tc.want, err)
		}
	}
	p = valid()
	p.Tests = []ModelTest{ok, ok}
	if err := (Domain{Name: "marketing", Owner: "team", Products: []Product{p}}).Validate(); err == nil || !strings.Contains(err.Error(), "test newest_version is declared twice") {
		t.Errorf("a test declared twice: %v", err)
	}
}
