package mesh

import (
	"strings"
	"testing"

	"github.com/meshflow/meshflow/framework/errs"
)

func TestColumnTags(t *testing.T) {
	p := valid()
	p.Schema[0].Tags = PII(TagEmail)
	p.Schema[1].Tags = []string{"gid"}
	if !p.Schema[0].Sensitive() || p.Schema[1].Sensitive() {
		t.Fatalf("Sensitive: %v tagged %v, %v tagged %v", p.Schema[0].Sensitive(), p.Schema[0].Tags, p.Schema[1].Sensitive(), p.Schema[1].Tags)
	}
	d := Domain{Name: "marketing", Owner: "team", Products: []Product{p}}
	if err := d.Validate(); err != nil {
		t.Fatalf("tagged columns: %v", err)
	}
	tagged := Mesh{Domains: []Domain{d}}.Tagged()
	if got := tagged[TagEmail]; len(got) != 1 || got[0].Ref != (Ref{"marketing", "crm_contacts"}) || got[0].Column.Name != p.Schema[0].Name {
		t.Errorf("Tagged()[email] = %+v", got)
	}
	if len(tagged[TagPII]) != 1 || len(tagged["gid"]) != 1 || len(tagged) != 3 {
		t.Errorf("Tagged() = %+v", tagged)
	}

	p.Schema[1].Tags = []string{"PII"}
	err := Domain{Name: "marketing", Owner: "team", Products: []Product{p}}.Validate()
	if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), `column `+p.Schema[1].Name+` has the tag "PII"`) || !strings.Contains(err.Error(), "lower-case") {
		t.Errorf("an upper-case tag: want an Invalid error naming the column, the tag and the fix, got %v", err)
	}
}
