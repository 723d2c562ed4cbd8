package mesh

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meshflow/meshflow/framework/errs"
)

// fuzzProduct is a valid declaration the fuzzed fields are put into.
func fuzzProduct() Product {
	return Product{
		Name: "crm_contacts", Description: "Contacts. One row per contact.", Version: "1.0.0",
		Inputs: []Input{Raw("hubspot", "contacts")}, Model: "SELECT * FROM hubspot.contacts",
		Schema: []Column{
			{Name: "contact_id", Type: String, Doc: "HubSpot id.", Required: true},
			{Name: "updated_at", Type: Timestamp, Doc: "Last change."},
			{Name: "day", Type: Date, Doc: "Day of the change."},
		},
		PrimaryKey:     []string{"contact_id"},
		Classification: Internal,
		Freshness:      Freshness{Column: "updated_at", WarnAfter: 26 * time.Hour, FailAfter: 50 * time.Hour},
		Cadence:        "0 6 * * *",
		Checks:         []Check{NotNull("updated_at"), AcceptedValues("contact_id", "a", "b").AsWarn()},
	}
}

// FuzzDeclaration puts fuzzed names, versions, a column, a check, a freshness SLO, a
// partition, a cadence and a classification into a product and validates its domain.
// Validation never panics; it accepts the declaration or says, in one Invalid error
// naming the domain and product, what is wrong; and what it accepts is safe to use:
// a major version of at least 1, a known cadence form, a DATE partition column.
func FuzzDeclaration(f *testing.F) {
	type seed struct {
		domain, name, version             string
		col, colType                      string
		check, kind, checkCol             string
		min, max, maxAge                  int64
		warn, fail                        int64
		freshCol, partition, cadence, cls string
	}
	h := int64(time.Hour)
	for _, s := range []seed{
		{"marketing", "crm_contacts", "1.0.0", "email", "VARCHAR", "not_null_email", "not_null", "email", 0, 0, 0, 26 * h, 50 * h, "updated_at", "", "@daily", "internal"},
		{"marketing", "web_traffic", "2.3.1", "sessions", "BIGINT", "row_count", "row_count", "", 1, 0, 0, 26 * h, 50 * h, "day", "day", "15 * * * *", "public"},
		{"engineering", "delivery_metrics", "1.0.0", "cycle_time", "DOUBLE", "fresh", "freshness", "updated_at", 0, 0, 48 * h, h, 2 * h, "", "", "@weekly", "restricted"},
		{"product", "usage", "1.0.0", "page", "VARCHAR", "bad_pages", "sql", "", 0, 0, 0, h, h, "", "day", "@hourly", "internal"},
		{"Marketing", "CRM-Contacts", "1.0", "E mail", "TEXT", "Check!", "regex", "nope", 5, 1, -1, 2 * h, h, "nope", "updated_at", "daily", "secret"},
		{"", "", "", "", "", "", "", "", 0, 0, 0, 0, 0, "", "", "", ""},
		{"m", "p", "0.1.0", "contact_id", "VARCHAR", "unique_contact_id", "unique", "contact_id", 0, 0, 0, 0, -1, "", "email", "* * * * * *", "internal"},
		{"m", "p", "99999999999999999999.0.0", "x", "DATE", "x", "accepted_values", "x", 0, 0, 0, -9223372036854775808, 9223372036854775807, "x", "x", " 0 6 * * * ", "public"},
		{"m\u00e9", "p\x00", "1.0.0\n", "col\"umn", "BIGINT ", "n", "not_null", "", 0, 0, 0, h, h, "", "", "@daily", "INTERNAL"},
	} {
		f.Add(s.domain, s.name, s.version, s.col, s.colType, s.check, s.kind, s.checkCol, s.min, s.max, s.maxAge, s.warn, s.fail, s.freshCol, s.partition, s.cadence, s.cls)
	}
	f.Fuzz(func(t *testing.T, domain, name, version, col, colType, check, kind, checkCol string, min, max, maxAge, warn, fail int64, freshCol, partition, cadence, cls string) {
		p := fuzzProduct()
		p.Name, p.Version, p.Cadence, p.PartitionBy, p.Classification = name, version, cadence, partition, Classification(cls)
		p.Schema = append(p.Schema, Column{Name: col, Type: ColumnType(colType), Doc: "Fuzzed."})
		c := Check{Name: check, Kind: CheckKind(kind), Severity: Error, Min: min, Max: max, MaxAge: time.Duration(maxAge), SQL: "SELECT * FROM model WHERE false", Values: []string{"a"}}
		if checkCol != "" {
			c.Columns = []string{checkCol}
		}
		p.Checks = append(p.Checks, c)
		p.Freshness = Freshness{Column: freshCol, WarnAfter: time.Duration(warn), FailAfter: time.Duration(fail)}
		if p.Classification == Restricted {
			p.AllowedGroups = []string{"finance"}
		}
		d := Domain{Name: domain, Owner: "marketing-analytics", Products: []Product{p}}

		err := d.Validate()
		if err != nil {
			if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "declare domain "+domain) || (!nameRE.MatchString(domain) && !strings.Contains(err.Error(), "domain name")) {
				t.Fatalf("%v: want one Invalid error naming the domain %q", err, domain)
			}
			if nameRE.MatchString(domain) && !strings.Contains(err.Error(), "product "+domain+"."+name) {
				t.Fatalf("%v: want the problem named under product %s.%s", err, domain, name)
			}
			return
		}
		// Accepted: everything derived from the declaration must hold up.
		if !nameRE.MatchString(domain) || !nameRE.MatchString(name) || p.Major() < 1 || p.PortName() != name+"_v"+strconv.Itoa(p.Major()) {
			t.Fatalf("accepted %s.%s version %q (major %d, port %s)", domain, name, version, p.Major(), p.PortName())
		}
		if ValidateCadence(cadence) != nil || p.Freshness.FailAfter <= 0 || p.Freshness.WarnAfter > p.Freshness.FailAfter {
			t.Fatalf("accepted cadence %q and freshness %+v", cadence, p.Freshness)
		}
		if partition != "" {
			if c, ok := p.Column(partition); !ok || c.Type != Date {
				t.Fatalf("accepted partition column %q", partition)
			}
			if err := p.ValidatePartition("2026-03-02"); err != nil {
				t.Fatalf("a day of an accepted partitioned product: %v", err)
			}
		}
		for _, c := range p.AllChecks() {
			for _, col := range c.Columns {
				if _, ok := p.Column(col); !ok {
					t.Fatalf("accepted check %s on unknown column %q", c.Name, col)
				}
			}
		}
		_ = p.Summary()
	})
}

// FuzzLookup resolves fuzzed product names and partitions, as the CLI, the catalog
// and backfills do with what users type: no panic, and clear kinds for what fails.
func FuzzLookup(f *testing.F) {
	for _, s := range []struct{ name, partition string }{
		{"marketing.crm_contacts", "2026-03-02"}, {"crm_contacts", ""}, {"web_traffic", "2026-02-30"},
		{"", ""}, {".", "x"}, {"marketing.", "2026-3-2"}, {".crm_contacts", " 2026-03-02"}, {"a.b.c", "20260302"},
		{"shared", "2026-03-02T00:00:00Z"}, {"marketing.shared.", "9999-12-31"},
	} {
		f.Add(s.name, s.partition)
	}
	web := fuzzProduct()
	web.Name, web.PartitionBy = "web_traffic", "day"
	shared := fuzzProduct()
	shared.Name = "shared"
	m := Mesh{Domains: []Domain{
		{Name: "marketing", Owner: "a", Products: []Product{fuzzProduct(), web, shared}},
		{Name: "sales", Owner: "b", Products: []Product{shared}},
	}}
	f.Fuzz(func(t *testing.T, name, partition string) {
		d, p, err := m.Find(name)
		if err != nil {
			if k := errs.KindOf(err); k != errs.NotFound && k != errs.Invalid {
				t.Fatalf("find %q: %v (kind %v)", name, err, k)
			}
			return
		}
		// "domain.product" is that domain's; a bare name (or an empty domain) any domain's.
		if dom, _, ok := strings.Cut(name, "."); !strings.HasSuffix(name, "."+p.Name) && name != p.Name || ok && dom != "" && dom != d.Name {
			t.Fatalf("find %q gave %s.%s", name, d.Name, p.Name)
		}
		if err := p.ValidatePartition(partition); err != nil && !errs.Is(err, errs.Invalid) {
			t.Fatalf("partition %q of %s: %v", partition, p.Name, err)
		} else if err == nil && partition != "" {
			if _, perr := time.Parse(PartitionLayout, partition); perr != nil || p.PartitionBy == "" {
				t.Fatalf("partition %q of %s accepted", partition, p.Name)
			}
		}
		_ = m.Consumers(d.Name, p.Name)
	})
}
