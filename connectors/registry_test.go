package connectors_test

import (
	"context"
	"net/http/httptest"
	"reflect"
	"regexp"
	"testing"
	"time"

	"github.com/meshflow/meshflow/connectors"
	"github.com/meshflow/meshflow/framework/source"
)

var variableName = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

// TestEveryConnectorReadsItsOwnSandbox checks each registered value against itself:
// its sandbox starts, the values it gives name the connector's variables (settings
// no variable carries are lower case), the connector built from them accepts the
// sandbox's credentials, and the built connector's streams are the registered
// specs.
func TestEveryConnectorReadsItsOwnSandbox(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range connectors.All() {
		t.Run(c.Name, func(t *testing.T) {
			if seen[c.Name] || c.Title == "" || c.Open == nil || c.Sandbox == nil || len(c.Streams) == 0 {
				t.Fatalf("%s: a duplicate name, or no title, Open, Sandbox or streams", c.Name)
			}
			seen[c.Name] = true
			vars := map[string]source.Var{}
			for _, v := range c.Vars {
				vars[v.Name] = v
			}
			sb, err := c.Sandbox(source.SandboxOptions{Seed: 1, Now: time.Now})
			if err != nil {
				t.Fatal(err)
			}
			ts := httptest.NewServer(sb)
			defer ts.Close()
			vals := sb.Values(ts.URL)
			for k := range vals {
				if _, ok := vars[k]; !ok && variableName.MatchString(k) {
					t.Errorf("the sandbox sets %s, which is none of the connector's variables", k)
				}
			}
			if !c.Configured(vals) {
				t.Errorf("the sandbox's values %v do not configure the connector", keys(vals))
			}
			src, err := c.Open(vals)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := src.Check(ctx); err != nil {
				t.Errorf("the connector refuses its sandbox: %v", err)
			}
			if src.Name() != c.Name {
				t.Errorf("the built connector is named %q", src.Name())
			}
			if got := source.Specs(src.Streams()); !reflect.DeepEqual(got, c.Streams) {
				t.Errorf("the built connector's streams differ from the registered specs:\n%+v\n%+v", got, c.Streams)
			}
		})
	}
}

func keys(v source.Values) []string {
	var out []string
	for k := range v {
		out = append(out, k)
	}
	return out
}
