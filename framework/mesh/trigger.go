package mesh

import (
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Trigger says what starts a product's runs: its Cadence (a Temporal schedule), or
// its inputs publishing. The zero value is the default: a product that reads a raw
// stream runs on its cadence (a source has no one to tell it that it changed); a
// product that reads only other products runs when they publish.
type Trigger struct {
	// Inputs: runs start when product inputs publish, never on a schedule.
	Inputs bool
	// Cadence: runs start on the product's Cadence only, even when it reads only
	// products (its inputs' publishes start nothing).
	Cadence bool
	// AllOf names product inputs ("domain.product") that must all have published
	// since the product's last run before it runs. Empty = eager: a new snapshot of any
	// input starts a run once none of its inputs is running or failed.
	AllOf []string
	// MinInterval is the least time between two runs started by inputs: publishes in
	// between are gathered into the next run.
	MinInterval time.Duration
	// Deadline (cron, UTC) is when a product waiting for AllOf runs with what has
	// published, and says which inputs it ran without.
	Deadline string
}

// OnInputs runs a product eagerly whenever one of its product inputs publishes a new
// snapshot (once none of its inputs is still running or failed).
func OnInputs() Trigger { return Trigger{Inputs: true} }

// OnCadence runs a product on its Cadence only.
func OnCadence() Trigger { return Trigger{Cadence: true} }

// AfterAll runs a product once each of the named inputs ("domain.product") has
// published since its last run.
func AfterAll(inputs ...string) Trigger { return Trigger{Inputs: true, AllOf: inputs} }

// AtLeastEvery sets the least time between two runs started by inputs.
func (t Trigger) AtLeastEvery(d time.Duration) Trigger { t.MinInterval = d; return t }

// By sets the deadline (a cron expression, UTC) after which an AfterAll product runs
// with what has published.
func (t Trigger) By(cron string) Trigger { t.Deadline = cron; return t }

// OnInputs reports whether the product's runs start when its inputs publish (its
// declared Trigger, or the default: it reads only other products).
func (p Product) OnInputs() bool {
	switch {
	case p.Trigger.Cadence:
		return false
	case p.Trigger.Inputs:
		return true
	}
	for _, in := range p.Inputs {
		if in.IsRaw() {
			return false
		}
	}
	return len(p.Inputs) > 0
}

// Scheduled reports whether the product has a Temporal schedule (its Cadence).
func (p Product) Scheduled() bool { return !p.OnInputs() }

// TriggerText says in words what starts the product's runs, for the catalog and CLI.
func (p Product) TriggerText() string {
	if !p.OnInputs() {
		return "on its cadence " + p.Cadence
	}
	var b strings.Builder
	if len(p.Trigger.AllOf) > 0 {
		b.WriteString("when all of " + strings.Join(p.Trigger.AllOf, ", ") + " have published since its last run")
		if p.Trigger.Deadline != "" {
			b.WriteString(", or at " + p.Trigger.Deadline + " (UTC) with what has published")
		}
	} else {
		b.WriteString("when an input publishes")
	}
	if p.Trigger.MinInterval > 0 {
		b.WriteString(", at most once every " + p.Trigger.MinInterval.String())
	}
	return b.String()
}

// NextDeadline is the first time after t that the cron expression c (UTC) fires.
func NextDeadline(c string, t time.Time) (time.Time, error) {
	s, err := cron.ParseStandard(c)
	if err != nil {
		return time.Time{}, err
	}
	return s.Next(t.UTC()), nil
}

// validateTrigger says what is wrong with a product's trigger and cadence together.
func (p Product) validateTrigger(add func(string, ...any)) {
	t := p.Trigger
	if t.Inputs && t.Cadence {
		add("Trigger sets both Inputs and Cadence: a product runs on one of them (mesh.OnInputs() or mesh.OnCadence())")
		return
	}
	if !p.OnInputs() {
		if err := ValidateCadence(p.Cadence); err != nil {
			add("%v", err)
		}
		if t.Inputs || len(t.AllOf) > 0 || t.MinInterval != 0 || t.Deadline != "" {
			add("Trigger's AllOf, MinInterval and Deadline apply to a product run by its inputs; this one runs on its cadence")
		}
		return
	}
	products := p.ProductInputs()
	if len(products) == 0 {
		add("Trigger runs it when its inputs publish, but it reads no product (only raw streams, which publish nothing): use its Cadence (mesh.OnCadence())")
	}
	if p.Cadence != "" {
		how := "it reads only other products, so it runs when they publish"
		if t.Inputs {
			how = "its Trigger runs it when its inputs publish"
		}
		add("Cadence %q is never used: %s; remove Cadence, or set Trigger: mesh.OnCadence() to run it on a schedule instead", p.Cadence, how)
	}
	for _, name := range t.AllOf {
		if !slices.Contains(products, name) {
			add("Trigger.AllOf names %q, which is not among its product inputs %v", name, products)
		}
	}
	if t.MinInterval < 0 {
		add("Trigger.MinInterval %s is negative", t.MinInterval)
	}
	if t.Deadline != "" {
		if len(t.AllOf) == 0 {
			add("Trigger.Deadline %q needs AllOf: an eager product never waits, so it has nothing to run by", t.Deadline)
		}
		if err := ValidateCadence(t.Deadline); err != nil {
			add("Trigger.Deadline: %v", strings.Replace(err.Error(), "cadence", "deadline", 1))
		} else if _, err := NextDeadline(t.Deadline, time.Unix(0, 0)); err != nil {
			add("Trigger.Deadline %q: %v", t.Deadline, err)
		}
	}
}

// TriggeredBy returns the products that run when product r publishes: those that read
// it and are run by their inputs.
func (m Mesh) TriggeredBy(r Ref) []Entry {
	var out []Entry
	for _, e := range m.Products() {
		if !e.Product.OnInputs() {
			continue
		}
		for _, in := range e.Product.Inputs {
			if !in.IsRaw() && in.Domain == r.Domain && in.Product == r.Product {
				out = append(out, e)
				break
			}
		}
	}
	return out
}

// ProductInputs returns the products p reads, as "domain.product".
func (p Product) ProductInputs() []string {
	var out []string
	for _, in := range p.Inputs {
		if !in.IsRaw() {
			out = append(out, in.String())
		}
	}
	return out
}
