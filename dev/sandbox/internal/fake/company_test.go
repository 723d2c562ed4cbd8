package fake

import "testing"

func TestCanonicalDomain(t *testing.T) {
	for in, want := range map[string]string{
		"nimbus-labs.example":                   "nimbus-labs.example",
		"WWW.Nimbus-Labs.Example":               "nimbus-labs.example",
		"https://www.nimbus-labs.example/about": "nimbus-labs.example",
		"http://nimbus-labs.example:8080/?q=1":  "nimbus-labs.example",
		" nimbus-labs.example. ":                "nimbus-labs.example",
		"":                                      "",
	} {
		if got := CanonicalDomain(in); got != want {
			t.Errorf("CanonicalDomain(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestStrangerAvoidsTakenDomains(t *testing.T) {
	r := New(1, "x")
	taken := map[string]bool{}
	for range 2000 { // more than the word lists' two-word names: forces the numbered fallback
		before := len(taken)
		c := r.Stranger(taken)
		if len(taken) != before+1 || c.Domain != Slug(c.Name)+".example" {
			t.Fatalf("stranger %+v reused a domain or has a mismatched one", c)
		}
	}
}

func TestSampleIsAUniformSubsetWithoutRepeats(t *testing.T) {
	xs := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	s := Sample(New(1, "s"), xs, 4)
	seen := map[int]bool{}
	for _, x := range s {
		seen[x] = true
	}
	if len(s) != 4 || len(seen) != 4 || xs[0] != 0 || xs[9] != 9 {
		t.Errorf("Sample = %v; input %v", s, xs)
	}
	if len(Sample(New(1, "s"), xs, 20)) != 10 {
		t.Error("Sample of more than all")
	}
}
