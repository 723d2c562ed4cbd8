package contract_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/meshflow/meshflow/domains"
	"github.com/meshflow/meshflow/framework/contract"
	"github.com/meshflow/meshflow/framework/mesh"
)

func TestCompareFollowsTheCompatibilityRules(t *testing.T) {
	d, p, err := domains.Mesh().Find("marketing.crm_contacts")
	if err != nil {
		t.Fatal(err)
	}
	old := contract.Export(d, p)
	// What was published is read back from YAML: compare that, not the struct.
	b, err := old.YAML()
	if err != nil {
		t.Fatal(err)
	}
	published, err := contract.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if ch := contract.Compare(published, contract.Export(d, p)); len(ch) != 0 {
		t.Fatalf("an unchanged product has changes: %v", ch)
	}

	change := func(edit func(*mesh.Product)) []contract.Change {
		q := p
		q.Schema = slices.Clone(p.Schema)
		q.Checks = slices.Clone(p.Checks)
		edit(&q)
		return contract.Compare(published, contract.Export(d, q))
	}
	for _, tc := range []struct {
		name     string
		edit     func(*mesh.Product)
		breaking bool
		says     string
	}{
		{"removed field", func(q *mesh.Product) {
			q.Schema = slices.DeleteFunc(q.Schema, func(c mesh.Column) bool { return c.Name == "country" })
		}, true, "field country was removed"},
		{"type change", func(q *mesh.Product) { q.Schema[1].Type = mesh.Int64 }, true, "field email changed type from VARCHAR to BIGINT"},
		{"new required field", func(q *mesh.Product) {
			q.Schema = append(q.Schema, mesh.Column{Name: "owner_id", Type: mesh.String, Doc: "x", Required: true})
		}, true, "new field owner_id is required"},
		{"became required", func(q *mesh.Product) { q.Schema[1].Required = true }, true, "field email became required"},
		{"narrowed enum", func(q *mesh.Product) { q.Checks[0] = mesh.AcceptedValues("lifecycle_stage", "lead", "customer") }, true, "no longer accepts"},
		{"new optional field", func(q *mesh.Product) {
			q.Schema = append(q.Schema, mesh.Column{Name: "region", Type: mesh.String, Doc: "x"})
		}, false, "new optional field region"},
		{"widened enum", func(q *mesh.Product) {
			q.Checks[0] = mesh.AcceptedValues("lifecycle_stage", append(slices.Clone(q.Checks[0].Values), "partner")...)
		}, false, "accepts more values"},
	} {
		ch := change(tc.edit)
		if len(ch) != 1 || ch[0].Breaking != tc.breaking || !strings.Contains(ch[0].Message, tc.says) {
			t.Errorf("%s: changes %+v, want one (breaking=%v) saying %q", tc.name, ch, tc.breaking, tc.says)
		}
	}
}
