package access_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/meshflow/meshflow/framework/access"
	"github.com/meshflow/meshflow/framework/mesh"
)

// printer is an Auditor that prints what it records.
type printer struct{}

func (printer) Record(_ context.Context, e access.Event) error {
	fmt.Printf("audit: %s %s %s via %s allowed=%v (%s)\n", e.Principal, e.What, e.Product, e.Path, e.Allowed, e.Reason)
	return nil
}

// A reader of a restricted port — here `mesh query` — authenticates the caller's token
// once, then authorizes each read before touching the port's data.
func Example() {
	dir, _ := os.MkdirTemp("", "access")
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "access.yaml")
	token, _ := access.AddToken(file, "sales-analyst", []string{"sales"})

	policy, _ := access.Load(file)
	d := mesh.Domain{Name: "marketing", Owner: "marketing-analytics", Contact: "#marketing-data"}
	deals := mesh.Product{Name: "crm_deals", Version: "1.0.0", Classification: mesh.Restricted, AllowedGroups: []string{"sales", "finance"}}

	analyst, _ := policy.Authenticate(token)
	err := policy.Authorize(context.Background(), printer{}, access.Read{Principal: analyst, Domain: d, Product: deals, What: access.Query, Path: access.PathQuery})
	fmt.Println("analyst:", err)

	err = policy.Authorize(context.Background(), printer{}, access.Read{Domain: d, Product: deals, What: access.Query, Path: access.PathQuery})
	fmt.Println("anonymous:", access.HTTPStatus(err), err)
	// Output:
	// audit: sales-analyst query marketing.crm_deals via query allowed=true (in group sales)
	// analyst: <nil>
	// audit: (anonymous) query marketing.crm_deals via query allowed=false (no token)
	// anonymous: 401 access: marketing.crm_deals is restricted to the groups sales, finance: send a token (the HTTP header `Authorization: Bearer TOKEN`, the catalog's sign-in page /login, or MESHFLOW_TOKEN for the mesh command); to get one, ask marketing-analytics (#marketing-data)
}
