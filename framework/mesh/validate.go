package mesh

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/meshflow/meshflow/framework/errs"
)

// Validate checks a domain's declarations and says, for each problem, which product
// and field is wrong and how to fix it. It returns an errs.Invalid error.
func (d Domain) Validate() error {
	var problems []error
	add := func(format string, args ...any) { problems = append(problems, fmt.Errorf(format, args...)) }
	if !nameRE.MatchString(d.Name) {
		add("domain name %q must be lower_snake_case", d.Name)
	}
	if d.Owner == "" {
		add("domain %s has no owner: set Domain.Owner to the owning team", d.Name)
	}
	seen := map[string]bool{}
	for _, p := range d.Products {
		if seen[p.Name] {
			add("product %s.%s is declared twice", d.Name, p.Name)
		}
		seen[p.Name] = true
		if err := p.validate(d); err != nil {
			problems = append(problems, fmt.Errorf("product %s.%s: %w", d.Name, p.Name, err))
		}
	}
	problems = append(problems, d.alertProblems()...)
	if len(problems) > 0 {
		return errs.E(errs.Invalid, "declare domain "+d.Name, errors.Join(problems...))
	}
	return nil
}

func (p Product) validate(d Domain) error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if !nameRE.MatchString(p.Name) {
		add("name must be lower_snake_case")
	}
	if p.Owner == "" && d.Owner == "" {
		add("no owner")
	}
	if strings.TrimSpace(p.Description) == "" {
		add("no description: consumers find products by it")
	}
	if !versionRE.MatchString(p.Version) {
		add("version %q must be semantic (MAJOR.MINOR.PATCH, e.g. 1.0.0)", p.Version)
	} else if m := p.Major(); m < 1 || m > MaxMajor {
		add("version %q: the major version runs from 1 to %d (each major is a table of its own, kept while consumers need it)", p.Version, MaxMajor)
	}
	if len(p.Inputs) == 0 {
		add("no inputs: list the raw streams or products it reads with mesh.Raw or mesh.FromProduct")
	}
	for _, in := range p.Inputs {
		if in.IsRaw() == (in.Domain != "") || (in.IsRaw() && in.Stream == "") || (!in.IsRaw() && in.Product == "") {
			add("input %+v must name either a source and stream or a domain and product", in)
		}
		if in.SamePartition && (!in.IsRaw() || p.PartitionBy == "") {
			add("input %s reads the same partition, which needs a raw stream (mesh.RawSamePartition) and a partitioned product (set PartitionBy, or use mesh.Raw)", in)
		}
		for _, k := range keyInputs(d, in) {
			// The ports a keyed stream's keys read are read by the product landing it:
			// declared, they run first and its lineage names them.
			if domain, product, _ := strings.Cut(k, "."); !slices.Contains(p.Inputs, FromProduct(domain, product)) {
				add("input %s is keyed by %s (its keys query reads it): add mesh.FromProduct(%q, %q) to the inputs", in, k, domain, product)
			}
		}
	}
	if strings.TrimSpace(p.Model) == "" {
		add("no model SQL")
	}
	if len(p.Schema) == 0 {
		add("no schema")
	}
	cols := map[string]bool{}
	for _, c := range p.Schema {
		if !nameRE.MatchString(c.Name) {
			add("column %q must be lower_snake_case", c.Name)
		}
		if cols[c.Name] {
			add("column %s is declared twice", c.Name)
		}
		cols[c.Name] = true
		if !columnTypes[c.Type] {
			add("column %s has type %q; use one of VARCHAR, BIGINT, DOUBLE, BOOLEAN, DATE, TIMESTAMP", c.Name, c.Type)
		}
		if strings.TrimSpace(c.Doc) == "" {
			add("column %s has no Doc: say what it means", c.Name)
		}
		for _, t := range c.Tags {
			if !tagRE.MatchString(t) {
				add("column %s has the tag %q: tags are lower-case letters, digits and - (pii, email, name, or your own)", c.Name, t)
			}
		}
	}
	if len(p.PrimaryKey) == 0 {
		add("no primary key")
	}
	for _, k := range p.PrimaryKey {
		if !cols[k] {
			add("primary key column %q is not in the schema", k)
		}
	}
	switch p.Classification {
	case Public, Internal, Restricted:
	default:
		add("classification %q must be public, internal or restricted", p.Classification)
	}
	if p.Classification == Restricted && len(p.AllowedGroups) == 0 {
		add("restricted port has no AllowedGroups: nobody could read it")
	}
	if p.Freshness.FailAfter <= 0 {
		add("no freshness SLO: set Freshness.WarnAfter and FailAfter")
	} else if p.Freshness.WarnAfter > p.Freshness.FailAfter {
		add("freshness WarnAfter %s is after FailAfter %s", p.Freshness.WarnAfter, p.Freshness.FailAfter)
	}
	if p.Freshness.Column != "" && !cols[p.Freshness.Column] {
		add("freshness column %q is not in the schema", p.Freshness.Column)
	}
	if p.PartitionBy != "" {
		if c, ok := p.Column(p.PartitionBy); !ok {
			add("partition column %q is not in the schema", p.PartitionBy)
		} else if c.Type != Date {
			add("partition column %s is %s; PartitionBy must name a DATE column (partitions are days)", c.Name, c.Type)
		}
	}
	p.validateTrigger(add)
	p.validateIncremental(add)
	p.Retention.validate(add)
	if p.Deprecation == nil {
		p.validateLegacy(d, add)
		p.validateTests(add) // a legacy major's variant keeps them, but they test the current model
	}
	names := map[string]bool{}
	for _, c := range p.Checks {
		if err := c.validate(p); err != nil {
			add("%v", err)
		}
		if names[c.Name] {
			add("check %s is declared twice", c.Name)
		}
		names[c.Name] = true
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// MaxMajor bounds a product's major version: a major is a table name (<product>_v<major>)
// and every bump a migration for consumers, so a number past it is a typo.
const MaxMajor = 999

// ValidateCadence accepts @hourly, @daily, @weekly or a 5-field cron expression.
func ValidateCadence(c string) error {
	switch c {
	case "@hourly", "@daily", "@weekly":
		return nil
	case "":
		return errors.New("no cadence: set Cadence to @hourly, @daily, @weekly or a cron expression")
	}
	return validateCron(c)
}

// AllChecks returns the product's declared checks plus the implicit ones its schema
// implies: not-null for required columns and uniqueness of the primary key.
func (p Product) AllChecks() []Check {
	out := []Check{Unique(p.PrimaryKey...)}
	for _, c := range p.Schema {
		if c.Required {
			out = append(out, NotNull(c.Name))
		}
	}
	have := map[string]bool{}
	for _, c := range out {
		have[c.Name] = true
	}
	for _, c := range p.Checks {
		if !have[c.Name] {
			out = append(out, c)
		}
	}
	return out
}

// EffectiveOwner is the product's owner, or its domain's.
func (p Product) EffectiveOwner(d Domain) string {
	if p.Owner != "" {
		return p.Owner
	}
	return d.Owner
}

// keyInputs are the ports the keys of in read, when in is a keyed stream of a source
// the domain keeps (Domain.Sources).
func keyInputs(d Domain, in Input) []string {
	for _, c := range d.Sources {
		if c.Name != in.Source {
			continue
		}
		for _, st := range c.Streams {
			if st.Name == in.Stream && st.Keys != nil {
				return st.Keys.Inputs
			}
		}
	}
	return nil
}
