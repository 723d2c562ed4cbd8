package bi

import "testing"

func TestLookerSpecLoads(t *testing.T) {
	c := Looker()
	if c.Name != "looker" || len(c.Streams) != 5 || c.Sandbox == nil {
		t.Fatalf("%+v", c)
	}
}
