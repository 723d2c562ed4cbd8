package globalid_test

import (
	"fmt"

	"github.com/meshflow/meshflow/framework/globalid"
)

// Every spelling of a company's website gives one global id; a model gets the same
// values from the SQL macros web_domain(…) and company_gid(…).
func Example() {
	for _, s := range []string{"acme.example", "HTTPS://WWW.Acme.example:443/pricing", "app.acme.example", "n/a"} {
		fmt.Printf("%-38q %-18q %q\n", s, globalid.WebDomain(s), globalid.CompanyGID(s))
	}
	fmt.Println(globalid.PersonGID(" Jane.Doe@Acme.example"))
	// Output:
	// "acme.example"                         "acme.example"     "co_54667cc7be6265f6a4cd"
	// "HTTPS://WWW.Acme.example:443/pricing" "acme.example"     "co_54667cc7be6265f6a4cd"
	// "app.acme.example"                     "app.acme.example" "co_ccf192dc9ede25c1bb4c"
	// "n/a"                                  ""                 ""
	// pe_7f0da4d2d19e78ed57e0
}
