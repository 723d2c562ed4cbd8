package query_test

import (
	"fmt"

	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/query"
)

func ExampleExample() {
	d := mesh.Domain{Name: "marketing"}
	p := mesh.Product{
		Name: "crm_companies", Version: "1.2.0", PrimaryKey: []string{"company_id"},
		Schema: []mesh.Column{{Name: "company_id"}, {Name: "name"}, {Name: "web_domain"}, {Name: "industry"}},
	}
	fmt.Println(query.Example(d, p))

	// A column named like a reserved word is quoted, escaped for the shell.
	p = mesh.Product{Name: "events", Version: "2.0.0", PrimaryKey: []string{"event_id", "order"},
		Schema: []mesh.Column{{Name: "event_id"}, {Name: "order"}, {Name: "at"}}}
	fmt.Println(query.Example(d, p))
	// Output:
	// mesh query "SELECT company_id, name, web_domain FROM marketing.crm_companies_v1 LIMIT 10"
	// mesh query "SELECT event_id, \"order\", at FROM marketing.events_v2 LIMIT 10"
}
