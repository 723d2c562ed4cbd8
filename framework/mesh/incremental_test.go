package mesh

import (
	"strings"
	"testing"

	"github.com/meshflow/meshflow/framework/errs"
)

func TestValidateIncremental(t *testing.T) {
	p := valid()
	p.Incremental = IncrementalOn(Raw("hubspot", "contacts"), map[string]string{"contact_id": "id"})
	if err := (Domain{Name: "marketing", Owner: "team", Products: []Product{p}}).Validate(); err != nil {
		t.Fatalf("valid incremental product: %v", err)
	}
	for _, tc := range []struct {
		inc  *Incremental
		part string
		want string
	}{
		{IncrementalOn(Raw("hubspot", "deals"), map[string]string{"contact_id": "id"}), "", "Incremental.Input hubspot.deals is not one of the product's inputs"},
		{IncrementalOn(Raw("hubspot", "contacts"), nil), "", `Incremental.Key is empty: map each key column of the port to the column of hubspot.contacts it holds, e.g. {"contact_id": "id"}`},
		{IncrementalOn(Raw("hubspot", "contacts"), map[string]string{"updated_at": "updated_at"}), "", "Incremental.Key names updated_at, which is not in the primary key (contact_id)"},
		{IncrementalOn(Raw("hubspot", "contacts"), map[string]string{"contact_id": " "}), "", "Incremental.Key maps contact_id to no column of hubspot.contacts"},
		{IncrementalOn(Raw("hubspot", "contacts"), map[string]string{"contact_id": "id"}), "day", "already recomputes only the days it runs: drop Incremental or PartitionBy"},
	} {
		p := valid()
		p.Incremental = tc.inc
		if tc.part != "" {
			p.Schema = append(p.Schema, Column{Name: "day", Type: Date, Doc: "d"})
			p.PartitionBy = tc.part
		}
		err := Domain{Name: "marketing", Owner: "team", Products: []Product{p}}.Validate()
		if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want an Invalid error saying %q, got %v", tc.want, err)
		}
	}
}

func TestIncrementalColumnsAreInKeyOrder(t *testing.T) {
	inc := IncrementalOn(Raw("github", "commits"), map[string]string{"sha": "sha", "repository": "repository", "branch": "ref"})
	port, input := inc.Columns()
	if strings.Join(port, ",") != "branch,repository,sha" || strings.Join(input, ",") != "ref,repository,sha" {
		t.Fatalf("Columns() = %v, %v", port, input)
	}
	if got := inc.String(); got != "github.commits by branch=ref, repository=repository, sha=sha" {
		t.Fatalf("String() = %q", got)
	}
}
