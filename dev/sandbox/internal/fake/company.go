package fake

import (
	"strconv"
	"strings"

	"github.com/meshflow/meshflow/framework/source"
)

// Company is one company several vendors describe: its name as HubSpot holds it and
// its canonical domain (see CanonicalDomain). The sandbox hands HubSpot's seeded
// companies to the other vendors (source.SandboxOptions.Companies), which derive
// some of their records from them (with the vendor's own spelling of the domain) so
// that an identity product has real matches, near misses and strangers to sort out.
type Company = source.SandboxCompany

// Match is the ground truth of one derived record: which company it came from and
// how its domain was spelled. Identity tests compare their output with it.
type Match struct {
	ID      string // the vendor's record id (Pendo accountId, Crunchbase uuid)
	Name    string // the name the vendor holds
	Domain  string // the domain or URL the vendor holds, as served
	Company string // canonical domain of the HubSpot company it derives from; "" = none
	Variant string // how Domain spells Company (Variant* below)
}

// Variants of a derived record's domain.
const (
	VariantExact     = "exact"     // the canonical domain itself (Crunchbase: https:// and nothing else)
	VariantWWW       = "www"       // a www. prefix
	VariantURL       = "url"       // a URL: scheme, maybe www., maybe a trailing slash or path
	VariantCase      = "case"      // upper-case letters
	VariantUnmatched = "unmatched" // a company HubSpot does not have
)

// CanonicalDomain reduces a domain or website URL to the form companies are
// matched on: lower case, no scheme, no leading www., no port, path or trailing dot.
// "HTTPS://WWW.Nimbus-Labs.example/about" → "nimbus-labs.example".
func CanonicalDomain(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	}
	if i := strings.IndexAny(s, "/?#"); i >= 0 {
		s = s[:i]
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimSuffix(s, ".")
	return strings.TrimPrefix(s, "www.")
}

// Numbered returns n companies named "Company 0", "Company 1", …, with the domains
// company-0.example, …: a known set for tests of how a vendor derives from companies.
func Numbered(n int) []Company {
	out := make([]Company, n)
	for i := range out {
		name := "Company " + strconv.Itoa(i)
		out[i] = Company{Name: name, Domain: Slug(name) + ".example"}
	}
	return out
}

// Sample returns n of cs (all of them if n is larger), drawn without replacement.
func Sample[T any](r *Rand, cs []T, n int) []T {
	pool := append([]T(nil), cs...)
	n = min(max(n, 0), len(pool))
	for i := range n { // partial Fisher–Yates: the first n are a uniform sample
		j := i + r.IntN(len(pool)-i)
		pool[i], pool[j] = pool[j], pool[i]
	}
	return pool[:n]
}

// Stranger returns a company whose canonical domain is not in taken, and adds it
// there, so records derived from it match nothing.
func (r *Rand) Stranger(taken map[string]bool) Company {
	name, slug := r.Company()
	for i := 0; taken[slug+".example"]; i++ {
		if i < 8 {
			name, slug = r.Company()
			continue
		}
		name += " " + strconv.Itoa(i)
		slug = Slug(name)
	}
	c := Company{Name: name, Domain: slug + ".example"}
	taken[c.Domain] = true
	return c
}

// TitleCase upper-cases the first letter of each hyphen- or dot-separated part:
// "nimbus-labs.example" → "Nimbus-Labs.Example".
func TitleCase(s string) string {
	b := []byte(s)
	for i := range b {
		if (i == 0 || b[i-1] == '-' || b[i-1] == '.') && b[i] >= 'a' && b[i] <= 'z' {
			b[i] -= 'a' - 'A'
		}
	}
	return string(b)
}
