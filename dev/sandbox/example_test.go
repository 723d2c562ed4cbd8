package sandbox_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/meshflow/meshflow/connectors"
	"github.com/meshflow/meshflow/dev/sandbox"
	"github.com/meshflow/meshflow/dev/sandbox/hubspot"
)

// Serve the sandbox, read HubSpot through it, and change data between reads.
func Example() {
	srv := sandbox.New(&sandbox.Options{Connectors: connectors.All(), Seed: 1, Settings: []any{hubspot.Options{Contacts: 40, Companies: 10, Deals: 10}}})
	ts := httptest.NewServer(srv)
	defer ts.Close()

	req, _ := http.NewRequest("GET", hubspot.URL(ts.URL)+"/crm/v3/objects/companies?limit=1&properties=domain", nil)
	req.Header.Set("Authorization", "Bearer "+hubspot.DefaultToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, len(body) > 0)

	fmt.Println(sandbox.Get[*hubspot.API](srv).Touch("contacts", 2))
	fmt.Println(sandbox.Get[*hubspot.API](srv).Requests(), "request")
	// Output:
	// 200 true
	// [129 166]
	// 1 request
}
