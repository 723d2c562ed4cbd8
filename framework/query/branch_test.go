package query

import (
	"context"
	"testing"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
)

// With Branch, a port that has the branch is read at its head and one that has not
// at main's current snapshot; Read says which. Without, main is read.
func TestQueryReadsABranch(t *testing.T) {
	f := newFixture(t)
	head := publishOn(t, f.cat, companies, "preview", companiesSchema, `[{"company_id": "c1", "name": "Acme", "web_domain": "acme.com", "employees": 999}]`)
	q := `SELECT c.name, c.employees, o.organization_id FROM marketing.crm_companies_v1 c LEFT JOIN market_intelligence.organizations_v1 o USING (web_domain) ORDER BY 1`

	res := f.mustRun(t, q, func(r *Request) { r.Branch = "preview" })
	wantLines(t, csvOf(t, res), "name,employees,organization_id", "Acme,999,o1")
	read := readOf(res)
	if len(res.Read) != 2 || read[companies].Snapshot.ID != head.ID || read[companies].Branch != "preview" || read[organizations].Branch != "" {
		t.Errorf("Read = %+v; want companies on the branch, organizations on main", res.Read)
	}
	res = f.mustRun(t, q)
	wantLines(t, csvOf(t, res), "name,employees,organization_id", "Acme,150,o1", "Initech,,")
	if read := readOf(res); read[companies].Snapshot.ID != f.current.ID || read[companies].Branch != "" {
		t.Errorf("Read without a branch = %+v", res.Read)
	}
}

// A diff with Branch compares the branch's head with main's current snapshot.
func TestDiffOfABranch(t *testing.T) {
	f := newFixture(t)
	head := publishOn(t, f.cat, companies, "preview", companiesSchema, `[
		{"company_id": "c1", "name": "Acme", "web_domain": "acme.com", "employees": 999},
		{"company_id": "c3", "name": "Initech", "web_domain": "initech.com", "employees": null}]`)
	req := func(branch string) DiffRequest {
		d, p, err := testMesh.Find("marketing.crm_companies")
		if err != nil {
			t.Fatal(err)
		}
		return DiffRequest{Product: mesh.Entry{Domain: d, Product: p}, Ports: f.cat, Examples: 5, ScratchDir: t.TempDir(), Branch: branch}
	}
	d, err := Diff(context.Background(), req("preview"))
	if err != nil {
		t.Fatal(err)
	}
	if d.From.Snapshot != f.current.ID || d.To.Snapshot != head.ID || d.Changed != 1 || d.Added != 0 || d.Removed != 0 || d.Unchanged != 1 {
		t.Errorf("diff of the branch = from %+v to %+v: %d added, %d removed, %d changed", d.From, d.To, d.Added, d.Removed, d.Changed)
	}
	_, err = Diff(context.Background(), req("other"))
	wantErr(t, err, errs.NotFound, "marketing.crm_companies_v1 has no branch other", "mesh run marketing.crm_companies --branch other")
}

func readOf(res *Result) map[port.TableID]Read {
	out := map[port.TableID]Read{}
	for _, r := range res.Read {
		out[r.Table] = r
	}
	return out
}
