package mesh

import (
	"strings"
	"testing"
	"time"

	"github.com/meshflow/meshflow/framework/errs"
)

func valid() Product {
	return Product{
		Name: "crm_contacts", Description: "Contacts. More words.", Version: "1.2.3",
		Inputs: []Input{Raw("hubspot", "contacts")}, Model: "SELECT 1",
		Schema:         []Column{{Name: "contact_id", Type: String, Doc: "id", Required: true}, {Name: "updated_at", Type: Timestamp, Doc: "t"}},
		PrimaryKey:     []string{"contact_id"},
		Classification: Internal,
		Freshness:      Freshness{Column: "updated_at", WarnAfter: time.Hour, FailAfter: 2 * time.Hour},
		Cadence:        "@daily",
		Checks:         []Check{AcceptedValues("contact_id", "a").AsWarn()},
	}
}

func TestValidateNamesTheProblemAndTheFix(t *testing.T) {
	d := Domain{Name: "marketing", Owner: "team", Products: []Product{valid()}}
	if err := d.Validate(); err != nil {
		t.Fatalf("valid domain: %v", err)
	}
	for _, tc := range []struct {
		change func(*Product)
		want   string
	}{
		{func(p *Product) { p.Version = "1.0" }, `version "1.0" must be semantic`},
		{func(p *Product) { p.Version = "0.9.0" }, "the major version runs from 1 to 999"},
		{func(p *Product) { p.Version = "1000.0.0" }, "the major version runs from 1 to 999"},
		{func(p *Product) { p.Version = "99999999999999999999.0.0" }, "the major version runs from 1 to 999"},
		{func(p *Product) { p.Cadence = "0 25 * * *" }, `hour field "25"`},
		{func(p *Product) { p.Schema[1].Doc = "" }, "column updated_at has no Doc"},
		{func(p *Product) { p.Schema[1].Type = "TEXT" }, `type "TEXT"`},
		{func(p *Product) { p.PrimaryKey = []string{"id"} }, `primary key column "id" is not in the schema`},
		{func(p *Product) { p.Checks = []Check{NotNull("nope")} }, `column "nope" is not in the schema`},
		{func(p *Product) { p.Classification = Restricted }, "restricted port has no AllowedGroups"},
		{func(p *Product) { p.Freshness = Freshness{} }, "no freshness SLO"},
		{func(p *Product) { p.Cadence = "daily" }, "5-field cron"},
		{func(p *Product) { p.Inputs = nil }, "no inputs"},
		{func(p *Product) { p.PartitionBy = "day" }, `partition column "day" is not in the schema`},
		{func(p *Product) { p.PartitionBy = "updated_at" }, "PartitionBy must name a DATE column"},
		{func(p *Product) { p.Inputs = []Input{RawSamePartition("hubspot", "contacts")} }, "needs a raw stream (mesh.RawSamePartition) and a partitioned product"},
		{func(p *Product) {
			p.Inputs = []Input{{Domain: "marketing", Product: "crm_companies", SamePartition: true}}
		}, "reads the same partition"},
	} {
		p := valid()
		p.Schema = append([]Column(nil), p.Schema...)
		tc.change(&p)
		err := Domain{Name: "marketing", Owner: "team", Products: []Product{p}}.Validate()
		if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "marketing.crm_contacts") {
			t.Errorf("want an Invalid error naming marketing.crm_contacts and %q, got %v", tc.want, err)
		}
	}
}

func TestMeshResolvesProductsAndLineage(t *testing.T) {
	metrics := valid()
	metrics.Name, metrics.Inputs, metrics.Cadence = "pipeline", []Input{FromProduct("marketing", "crm_contacts")}, ""
	m := Mesh{Domains: []Domain{
		{Name: "marketing", Owner: "a", Products: []Product{valid()}},
		{Name: "metrics", Owner: "b", Products: []Product{metrics}},
	}}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	if d, p, err := m.Find("crm_contacts"); err != nil || d.Name != "marketing" || p.PortName() != "crm_contacts_v1" {
		t.Fatalf("Find = %s %s %v", d.Name, p.PortName(), err)
	}
	if _, _, err := m.Find("nope"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("Find(nope) = %v", err)
	}
	if c := m.Consumers("marketing", "crm_contacts"); len(c) != 1 || c[0].String() != "metrics.pipeline" {
		t.Fatalf("consumers = %v", c)
	}
	metrics.Inputs = []Input{FromProduct("marketing", "missing")}
	m.Domains[1].Products = []Product{metrics}
	if err := m.Validate(); err == nil || !strings.Contains(err.Error(), "reads marketing.missing, which is not declared") {
		t.Fatalf("dangling input: %v", err)
	}

	// A product computed from a restricted port is restricted too.
	secret := valid()
	secret.Classification, secret.AllowedGroups = Restricted, []string{"sales"}
	metrics.Inputs = []Input{FromProduct("marketing", "crm_contacts")}
	m.Domains[0].Products, m.Domains[1].Products = []Product{secret}, []Product{metrics}
	if err := m.Validate(); err == nil || !strings.Contains(err.Error(), "reads restricted marketing.crm_contacts but is internal") {
		t.Fatalf("restricted input into an internal product: %v", err)
	}
	metrics.Classification, metrics.AllowedGroups = Restricted, []string{"sales"}
	m.Domains[1].Products = []Product{metrics}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestFreshnessAt(t *testing.T) {
	f := Freshness{WarnAfter: time.Hour, FailAfter: 3 * time.Hour}
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for age, want := range map[time.Duration]Status{0: StatusPass, 2 * time.Hour: StatusWarn, 4 * time.Hour: StatusFail} {
		if got := f.At(now.Add(-age), now); got != want {
			t.Errorf("age %s: %s, want %s", age, got, want)
		}
	}
	if f.At(time.Time{}, now) != StatusUnknown {
		t.Error("never published should be unknown")
	}
}

func TestValidatePartition(t *testing.T) {
	p := valid()
	if err := p.ValidatePartition(""); err != nil {
		t.Fatalf("whole-product run: %v", err)
	}
	if err := p.ValidatePartition("2026-01-02"); !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "not partitioned") {
		t.Fatalf("partition of an unpartitioned product: %v", err)
	}
	p.Schema = append(p.Schema, Column{Name: "day", Type: Date, Doc: "d"})
	p.PartitionBy = "day"
	if err := (Domain{Name: "marketing", Owner: "team", Products: []Product{p}}).Validate(); err != nil {
		t.Fatalf("partitioned product: %v", err)
	}
	if err := p.ValidatePartition("2026-01-02"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"2026-13-01", "yesterday", "2026-01-02' OR 1=1 --"} {
		if err := p.ValidatePartition(bad); !errs.Is(err, errs.Invalid) {
			t.Errorf("partition %q: err = %v", bad, err)
		}
	}
}

func TestLegacyMajors(t *testing.T) {
	p := Product{Name: "deals", Version: "2.1.0", Description: "Deals.", Inputs: []Input{Raw("hubspot", "deals")},
		Model: "SELECT 1", PrimaryKey: []string{"deal_id"}, Classification: Internal, Cadence: "@daily",
		Freshness: Freshness{Column: "updated_at", WarnAfter: time.Hour, FailAfter: 2 * time.Hour},
		Schema:    []Column{{Name: "deal_id", Type: String, Doc: "id"}, {Name: "amount_usd", Type: Float64, Doc: "USD"}, {Name: "updated_at", Type: Timestamp, Doc: "t"}},
		Legacy: []Legacy{{Version: "1.3.0", Sunset: "2027-01-31", Model: "SELECT 2", Migration: "amount is amount_usd",
			Schema: []Column{{Name: "deal_id", Type: String, Doc: "id"}, {Name: "amount", Type: Float64, Doc: "USD"}}}},
	}
	d := Domain{Name: "sales", Owner: "team", Products: []Product{p}}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	majors := p.Majors()
	if len(majors) != 2 || majors[0].PortName() != "deals_v2" || majors[1].PortName() != "deals_v1" {
		t.Fatalf("majors = %v, %v", majors[0].PortName(), majors[1].PortName())
	}
	v1 := majors[1]
	if v1.Model != "SELECT 2" || v1.Deprecation == nil || v1.Deprecation.Successor != "deals_v2" || v1.Freshness.Column != "" {
		t.Fatalf("legacy variant = %+v", v1)
	}
	if got, ok := p.AtMajor(1); !ok || got.Version != "1.3.0" {
		t.Fatalf("AtMajor(1) = %v, %v", got.Version, ok)
	}
	if _, ok := p.AtMajor(3); ok {
		t.Fatal("AtMajor(3) found a major that is not declared")
	}
	sunset := time.Date(2027, 1, 31, 23, 0, 0, 0, time.UTC)
	if !v1.PublishesOn(sunset) || v1.PublishesOn(sunset.Add(2*time.Hour)) || !p.PublishesOn(sunset.AddDate(5, 0, 0)) {
		t.Fatal("PublishesOn does not stop after the sunset day")
	}

	for _, tc := range []struct {
		change func(*Legacy)
		want   string
	}{
		{func(l *Legacy) { l.Version = "2.0.0" }, "below the current major 2"},
		{func(l *Legacy) { l.Sunset = "next year" }, "Sunset \"next year\""},
		{func(l *Legacy) { l.Migration = "" }, "no Migration note"},
		{func(l *Legacy) { l.Schema = nil }, "no schema"},
	} {
		bad := p
		bad.Legacy = []Legacy{p.Legacy[0]}
		tc.change(&bad.Legacy[0])
		err := Domain{Name: "sales", Owner: "team", Products: []Product{bad}}.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("err = %v, want it to say %q", err, tc.want)
		}
	}
}

func TestValidateCadence(t *testing.T) {
	for _, ok := range []string{"@hourly", "@daily", "@weekly", "0 6 * * *", "*/15 * * * *", "0 7 * * MON-FRI",
		"30 2 1,15 * *", "0 0-23/2 * JAN,jul sun", "0 6 * * 7", "5 4 31 12 0", "5/10 * * * *",
		"0 6 * january,Feb mo-fr", "0 6 * sept TUESDAY"} {
		if err := ValidateCadence(ok); err != nil {
			t.Errorf("%q: %v, want accepted", ok, err)
		}
	}
	for bad, want := range map[string]string{
		"":              "no cadence",
		"daily":         "5-field cron",
		"0 6 * *":       "5-field cron",
		"60 6 * * *":    `minute field "60": "60" is not a number from 0 to 59`,
		"0 24 * * *":    `hour field "24"`,
		"0 6 0 * *":     `day of month field "0"`,
		"0 6 * 13 *":    `month field "13": "13" is not a number from 1 to 12 or a name (jan, feb, …)`,
		"0 6 * ja *":    `month field "ja"`,
		"0 6 * * m":     `day of week field "m"`,
		"0 6 * * FUN":   `day of week field "FUN"`,
		"0 6 * * 5-1":   `range "5-1" runs backwards`,
		"*/0 * * * *":   `step "0" is not a number from 1 to 60`,
		"0 6 * * * *":   "5-field cron",
		"0,,6 * * * *":  `"" is not a number`,
		"0 six * * *":   `hour field "six"`,
		"0 6 L * *":     `day of month field "L"`,
		"0 6 * * MON-":  `"" is not a number`,
		"0 6 * * -MON":  `"" is not a number`,
		"0 6 */x * *":   `step "x"`,
		"1-2-3 * * * *": `"2-3" is not a number`,
	} {
		err := ValidateCadence(bad)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error containing %q", bad, err, want)
		}
	}
}
