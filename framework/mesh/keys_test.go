package mesh

import (
	"strings"
	"testing"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/source"
)

// A product landing a keyed stream of its domain's own source declares the ports the
// stream's keys read among its inputs: they then run first, and its lineage names them.
func TestKeyedInputNeedsTheProductsItsKeysRead(t *testing.T) {
	enrich := source.Connector{Name: "enrich", Streams: []source.StreamSpec{
		{Name: "companies", Keys: &source.Keys{Inputs: []string{"identity.company_ids"}, SQL: "SELECT 1"}},
	}}
	p := valid()
	p.Inputs = []Input{Raw("enrich", "companies")}
	d := Domain{Name: "marketing", Owner: "team", Products: []Product{p}, Sources: []source.Connector{enrich}}
	err := d.Validate()
	if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), `product marketing.crm_contacts: input enrich.companies is keyed by identity.company_ids (its keys query reads it): add mesh.FromProduct("identity", "company_ids") to the inputs`) {
		t.Fatalf("got %v", err)
	}
	d.Products[0].Inputs = append(d.Products[0].Inputs, FromProduct("identity", "company_ids"))
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
}
