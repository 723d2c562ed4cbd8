package domains

import "testing"

// Every declaration must be valid: a domain team's mistake fails here, in their CI,
// not at run time.
func TestDeclarationsAreValid(t *testing.T) {
	if err := Mesh().Validate(); err != nil {
		t.Fatal(err)
	}
}
