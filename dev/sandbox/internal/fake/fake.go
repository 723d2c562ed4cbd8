// Package fake holds the seeded generators every sandbox vendor shares: a random
// stream per name (so adding a vendor or a field never changes another vendor's
// data), a stateless hash for per-request decisions, and word lists for
// plausible-looking companies and people.
package fake

import (
	"hash/fnv"
	"math/rand/v2"
	"strings"
	"time"
)

// Rand is a deterministic random stream.
type Rand struct{ *rand.Rand }

// New returns the stream called name of seed. Streams of different names are
// independent: drawing more from one leaves the others unchanged.
func New(seed int64, name string) *Rand {
	h := fnv.New64a()
	h.Write([]byte(name))
	return &Rand{rand.New(rand.NewPCG(uint64(seed), h.Sum64()))}
}

// Mix hashes (seed, n) to 64 well-mixed bits (splitmix64). It lets a caller make
// the n-th decision of a sequence without keeping a generator.
func Mix(seed int64, n uint64) uint64 {
	z := uint64(seed) + (n+1)*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Unit maps Mix(seed, n) to [0, 1).
func Unit(seed int64, n uint64) float64 { return float64(Mix(seed, n)>>11) / (1 << 53) }

// Pick returns one element of xs.
func Pick[T any](r *Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// Chance is true with probability p.
func (r *Rand) Chance(p float64) bool { return r.Float64() < p }

// Between returns a time in [a, b), at millisecond precision like the APIs report.
func (r *Rand) Between(a, b time.Time) time.Time {
	if !b.After(a) {
		return a.Truncate(time.Millisecond)
	}
	return a.Add(time.Duration(r.Int64N(int64(b.Sub(a))))).Truncate(time.Millisecond)
}

// Company returns a company name and its slug, e.g. "Nimbus Labs", "nimbus-labs".
func (r *Rand) Company() (name, slug string) {
	name = Pick(r, companyFirst) + " " + Pick(r, companySecond)
	if r.Chance(0.3) {
		name = Pick(r, companyFirst) + " " + name
	}
	return name, Slug(name)
}

// Person returns a first and last name.
func (r *Rand) Person() (first, last string) { return Pick(r, firstNames), Pick(r, lastNames) }

// Country returns a country name as CRMs store it.
func (r *Rand) Country() string { return Pick(r, countries) }

// Slug lower-cases s and joins its words with hyphens.
func Slug(s string) string {
	return strings.Join(strings.Fields(strings.ToLower(s)), "-")
}

var companyFirst = []string{
	"Nimbus", "Acme", "Blue", "Harbor", "Quartz", "Vertex", "Lumen", "Cobalt", "Summit", "Northwind",
	"Redwood", "Atlas", "Beacon", "Cinder", "Delta", "Ember", "Falcon", "Granite", "Helix", "Iris",
	"Juniper", "Kestrel", "Lattice", "Meridian", "Nova", "Orchid", "Pioneer", "Quill", "Raven", "Sierra",
	"Tidal", "Umber", "Vantage", "Willow", "Xenon", "Yonder", "Zephyr", "Aurora", "Basalt", "Copper",
}

var companySecond = []string{
	"Labs", "Analytics", "Systems", "Logistics", "Health", "Robotics", "Foods", "Capital", "Media", "Energy",
	"Software", "Networks", "Bio", "Retail", "Works", "Dynamics", "Partners", "Cloud", "Devices", "Studio",
}

var firstNames = []string{
	"Ana", "Ben", "Chloe", "Dmitri", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas",
	"Kemi", "Liam", "Maya", "Noah", "Olga", "Pedro", "Quinn", "Rosa", "Sven", "Tara",
	"Umar", "Vera", "Wei", "Ximena", "Yusuf", "Zoe", "Arjun", "Bea", "Carlos", "Dana",
}

var lastNames = []string{
	"Silva", "Okafor", "Nguyen", "Kowalski", "Haddad", "Tanaka", "Müller", "Rossi", "Johnson", "Garcia",
	"Petrov", "Larsen", "Chen", "Dubois", "Kim", "Novak", "Singh", "Costa", "O'Brien", "Weber",
}

var countries = []string{
	"United States", "United States", "United States", "Canada", "United Kingdom", "Germany", "France",
	"Brazil", "India", "Japan", "Australia", "Netherlands", "Spain", "Mexico", "Nigeria",
}
