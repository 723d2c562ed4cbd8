package mesh

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Legacy is an earlier major version of a product that keeps publishing beside the
// current one until its sunset day, so its consumers have time to move. A team that
// must break its contract bumps Product.Version to the next major (a new table,
// <product>_v<major>) and moves the old declaration here: the previous model and
// schema, and the day it stops.
type Legacy struct {
	Version string // the old version, e.g. "1.3.0"; its major names its table
	// Sunset is the last day (YYYY-MM-DD, UTC) the old table is published. After it the
	// table stays readable but no run updates it; remove the Legacy entry any time later.
	Sunset     string
	Model      string   // the old model SQL, run over the same inputs
	Schema     []Column // the old schema
	PrimaryKey []string // default: the product's
	Checks     []Check  // checks of the old schema besides the implicit ones
	Migration  string   // what a consumer changes to move to the current major
}

// Deprecation is what the catalog shows of a major version on its way out.
type Deprecation struct {
	Sunset    string // the last day it is published
	Successor string // the current table's name
	Migration string
}

// Majors returns the product as it publishes each declared major version: the current
// one first, then every Legacy major, newest first. A legacy variant is the product
// with that major's version, model, schema, key and checks, and its Deprecation set.
func (p Product) Majors() []Product {
	out := []Product{p}
	legacy := slices.Clone(p.Legacy)
	slices.SortFunc(legacy, func(a, b Legacy) int { return majorOf(b.Version) - majorOf(a.Version) })
	for _, l := range legacy {
		out = append(out, p.variant(l))
	}
	return out
}

// AtMajor returns the product as it publishes major version major; 0 means the current.
func (p Product) AtMajor(major int) (Product, bool) {
	if major == 0 || major == p.Major() {
		return p, true
	}
	for _, l := range p.Legacy {
		if majorOf(l.Version) == major {
			return p.variant(l), true
		}
	}
	return Product{}, false
}

func (p Product) variant(l Legacy) Product {
	v := p
	v.Version, v.Model, v.Schema, v.Checks, v.Legacy = l.Version, l.Model, l.Schema, l.Checks, nil
	if len(l.PrimaryKey) > 0 {
		v.PrimaryKey = l.PrimaryKey
	}
	if v.PartitionBy != "" {
		if _, ok := v.Column(v.PartitionBy); !ok {
			v.PartitionBy = ""
		}
	}
	if v.Freshness.Column != "" {
		if _, ok := v.Column(v.Freshness.Column); !ok {
			v.Freshness.Column = ""
		}
	}
	v.Deprecation = &Deprecation{Sunset: l.Sunset, Successor: p.PortName(), Migration: l.Migration}
	return v
}

// PublishesOn reports whether the port is still published on day (its sunset has not
// passed). Current majors always are.
func (p Product) PublishesOn(day time.Time) bool {
	if p.Deprecation == nil {
		return true
	}
	last, err := time.Parse(PartitionLayout, p.Deprecation.Sunset)
	if err != nil {
		return false
	}
	return !day.UTC().Truncate(24 * time.Hour).After(last)
}

func majorOf(version string) int {
	var n int
	_, _ = fmt.Sscanf(strings.SplitN(version, ".", 2)[0], "%d", &n)
	return n
}

// validateLegacy checks the Legacy entries: each an older major, once, with a real
// sunset day and a declaration that validates like a product of its own.
func (p Product) validateLegacy(d Domain, add func(string, ...any)) {
	seen := map[int]bool{}
	for _, l := range p.Legacy {
		what := "legacy version " + l.Version
		if !versionRE.MatchString(l.Version) {
			add("%s must be semantic (MAJOR.MINOR.PATCH)", what)
			continue
		}
		m := majorOf(l.Version)
		switch {
		case m < 1 || m >= p.Major():
			add("%s: a legacy major must be below the current major %d", what, p.Major())
		case seen[m]:
			add("%s: major %d is declared twice", what, m)
		}
		seen[m] = true
		if _, err := time.Parse(PartitionLayout, l.Sunset); err != nil {
			add("%s: Sunset %q must be the last day it publishes, as YYYY-MM-DD", what, l.Sunset)
		}
		if strings.TrimSpace(l.Migration) == "" {
			add("%s: no Migration note: tell its consumers what to change to move to %s", what, p.PortName())
		}
		v := p.variant(l)
		if p.PartitionBy != "" && v.PartitionBy == "" {
			add("%s: its schema lacks the partition column %s, so its days could not be published", what, p.PartitionBy)
		}
		if err := v.validate(d); err != nil {
			add("%s: %v", what, err)
		}
	}
}
