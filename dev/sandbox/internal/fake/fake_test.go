package fake

import (
	"testing"
	"time"
)

func TestStreamsAreIndependentAndRepeatable(t *testing.T) {
	a, b := New(1, "x"), New(1, "x")
	other := New(1, "y")
	other.Int64() // drawing from another stream changes nothing here
	for range 100 {
		if a.Int64() != b.Int64() {
			t.Fatal("same seed and name, different draws")
		}
	}
	if New(1, "x").Int64() == New(2, "x").Int64() {
		t.Error("different seeds, same first draw")
	}
}

func TestUnitIsSpread(t *testing.T) {
	const n = 10000
	low := 0
	for i := range uint64(n) {
		u := Unit(7, i)
		if u < 0 || u >= 1 {
			t.Fatalf("Unit = %v", u)
		}
		if u < 0.3 {
			low++
		}
	}
	if low < 2800 || low > 3200 {
		t.Errorf("%d of %d below 0.3", low, n)
	}
}

func TestBetween(t *testing.T) {
	r := New(1, "t")
	a := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	b := a.Add(time.Hour)
	for range 1000 {
		x := r.Between(a, b)
		if x.Before(a) || !x.Before(b) || x.Nanosecond()%int(time.Millisecond) != 0 {
			t.Fatalf("Between = %v", x)
		}
	}
	if Slug("  Nimbus  Labs ") != "nimbus-labs" {
		t.Error("Slug")
	}
}
