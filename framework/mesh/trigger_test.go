package mesh

import (
	"strings"
	"testing"
	"time"
)

func TestTriggerDefaultsAndValidation(t *testing.T) {
	reader := valid()
	reader.Name, reader.Inputs, reader.Cadence = "weekly", []Input{FromProduct("marketing", "crm_deals")}, ""
	if !reader.OnInputs() || reader.Scheduled() {
		t.Fatal("a product reading only products should run when they publish")
	}
	if got := reader.TriggerText(); got != "when an input publishes" {
		t.Errorf("TriggerText = %q", got)
	}
	mixed := valid()
	mixed.Inputs = append(mixed.Inputs, FromProduct("marketing", "crm_deals"))
	if mixed.OnInputs() {
		t.Error("a product reading a raw stream should run on its cadence by default")
	}
	d := Domain{Name: "metrics", Owner: "x"}
	for _, c := range []struct {
		change func(*Product)
		want   string
	}{
		{func(p *Product) { p.Cadence = "@daily" }, `Cadence "@daily" is never used`},
		{func(p *Product) { p.Trigger = AfterAll("marketing.crm_contacts") }, `AllOf names "marketing.crm_contacts", which is not among its product inputs [marketing.crm_deals]`},
		{func(p *Product) { p.Trigger = OnInputs().By("0 9 * * *") }, "Deadline \"0 9 * * *\" needs AllOf"},
		{func(p *Product) { p.Trigger = AfterAll("marketing.crm_deals").By("0 25 * * *") }, `Trigger.Deadline: deadline "0 25 * * *": hour field`},
		{func(p *Product) { p.Trigger = Trigger{Inputs: true, Cadence: true} }, "both Inputs and Cadence"},
		{func(p *Product) { p.Trigger = OnCadence() }, "no cadence"},
	} {
		p := reader
		c.change(&p)
		err := p.validate(d)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want an error with %q, got %v", c.want, err)
		}
	}
	ok := reader
	ok.Trigger = AfterAll("marketing.crm_deals").By("0 9 * * *").AtLeastEvery(time.Hour)
	if err := ok.validate(d); err != nil {
		t.Fatal(err)
	}
	if got := ok.TriggerText(); got != "when all of marketing.crm_deals have published since its last run, or at 0 9 * * * (UTC) with what has published, at most once every 1h0m0s" {
		t.Errorf("TriggerText = %q", got)
	}
	raw := valid()
	raw.Trigger = OnInputs()
	if err := raw.validate(d); err == nil || !strings.Contains(err.Error(), "reads no product") {
		t.Errorf("a product reading only raw streams cannot run on inputs: %v", err)
	}
}

func TestNextDeadline(t *testing.T) {
	at := time.Date(2026, 12, 4, 9, 30, 0, 0, time.UTC)
	got, err := NextDeadline("0 9 * * *", at)
	if err != nil || !got.Equal(time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)) {
		t.Fatalf("NextDeadline = %v, %v", got, err)
	}
}

func TestTriggeredBy(t *testing.T) {
	m := Mesh{Domains: []Domain{{Name: "a", Products: []Product{
		{Name: "up", Inputs: []Input{Raw("s", "x")}},
		{Name: "eager", Inputs: []Input{FromProduct("a", "up")}},
		{Name: "clock", Inputs: []Input{FromProduct("a", "up")}, Trigger: OnCadence()},
		{Name: "mixed", Inputs: []Input{FromProduct("a", "up"), Raw("s", "y")}},
	}}}}
	got := m.TriggeredBy(Ref{"a", "up"})
	if len(got) != 1 || got[0].Product.Name != "eager" {
		t.Fatalf("TriggeredBy = %v", got)
	}
}
