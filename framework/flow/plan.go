package flow

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"path"
	"time"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/mesh"
)

// Plan is what one run of a product does, resolved once when the run starts (the
// ResolvePlan local activity) and kept in the run's history. The workflow decides from
// the plan alone, and the activities read the product's declaration by the content
// address the plan names, so a deploy that changes the declaration (an added input, an
// added check, a new major) never changes a run already in flight: it finishes with
// the plan it started with, and the next run resolves the new one.
type Plan struct {
	Domain, Product string
	Version         string
	PartitionBy     string       `json:",omitempty"`
	Raw             []PlannedRaw // raw streams to land, in declaration order
	Reads           []string     `json:",omitempty"` // the ports of products it reads, domain.product
	// Majors are the tables the run publishes: the current major first, then each
	// legacy major still declared (each publishes until its sunset day).
	Majors []PlannedMajor
}

// PlannedRaw is a raw stream a run lands.
type PlannedRaw struct {
	Source, Stream string
	SamePartition  bool `json:",omitempty"`
}

func (r PlannedRaw) String() string { return r.Source + "." + r.Stream }

// PlannedMajor is one table a run publishes, with the content address of the
// declaration (model, schema, checks, contract) it is computed and checked with.
type PlannedMajor struct {
	Table       string // the port's table name, <product>_v<major>
	Major       int
	Version     string
	PartitionBy string `json:",omitempty"` // "" when this major's schema has no partition column
	Sunset      string `json:",omitempty"` // a legacy major's last day of publishing
	// Decl is the lake key of the declaration (see Declaration), named by its hash.
	Decl string
	// Model and Checks are content hashes, so on-call can tell from the history which
	// model and which checks a run used.
	Model, Checks string
}

// PublishesOn reports whether the major is still published on day: current majors
// always are, a legacy one until its sunset day (UTC).
func (m PlannedMajor) PublishesOn(day time.Time) bool {
	if m.Sunset == "" {
		return true
	}
	return mesh.Product{Deprecation: &mesh.Deprecation{Sunset: m.Sunset}}.PublishesOn(day)
}

// Declaration is a product's declaration at one major version, as a run's activities
// use it. It is stored once per content hash under plans/, so a run reads the same
// declaration on every attempt and on any worker, whatever code that worker runs.
type Declaration struct {
	Domain  mesh.Domain  // the owning domain, without its product list
	Product mesh.Product // the product at this major (a legacy variant has Deprecation set)
	// Upstream holds each product input's table as declared when the run started.
	Upstream map[string]UpstreamPort `json:",omitempty"`
}

// UpstreamPort is the port a product input is read from.
type UpstreamPort struct {
	Table       string // <product>_v<major>, the input's current major
	PartitionBy string `json:",omitempty"`
}

// planVersion marks runs whose workflow resolves a plan at its start. Histories from
// before it (DefaultVersion) replay through legacyPlan, reading the declarations as
// those runs did.
const planVersion = "plan"

// ResolvePlan resolves what a run of in.Domain.in.Product will do from this worker's
// declarations, and stores each major's declaration in the lake by its content hash.
// It runs as a local activity at the start of RunProduct: its result is recorded in
// the history, so replays (on this worker or one with other code) reuse it.
func (a *Activities) ResolvePlan(ctx context.Context, in RunInput) (Plan, error) {
	m := a.Mesh
	if a.Declared != nil {
		m = a.Declared()
	}
	d, p, err := m.Find(in.Domain + "." + in.Product)
	if err != nil {
		return Plan{}, toTemporal(ctx, err)
	}
	if err := p.ValidatePartition(in.Partition); err != nil {
		return Plan{}, toTemporal(ctx, err)
	}
	plan, decls, err := MakePlan(m, d, p)
	if err != nil {
		return Plan{}, toTemporal(ctx, err)
	}
	for i, m := range plan.Majors {
		if err := a.storeDeclaration(ctx, m.Decl, decls[i]); err != nil {
			return Plan{}, toTemporal(ctx, err)
		}
	}
	return plan, nil
}

// MakePlan is the plan of a run of p, with the declaration of each planned major (in
// the order of plan.Majors). It reads only declarations.
func MakePlan(m mesh.Mesh, d mesh.Domain, p mesh.Product) (Plan, []Declaration, error) {
	upstream := map[string]UpstreamPort{}
	for _, in := range p.Inputs {
		if in.IsRaw() {
			continue
		}
		_, up, err := m.Find(in.String())
		if err != nil {
			return Plan{}, nil, err
		}
		upstream[in.String()] = UpstreamPort{Table: up.PortName(), PartitionBy: up.PartitionBy}
	}
	return planOf(d, p, upstream)
}

// planOf is the plan of a run of p reading the given upstream ports.
func planOf(d mesh.Domain, p mesh.Product, upstream map[string]UpstreamPort) (Plan, []Declaration, error) {
	plan := Plan{Domain: d.Name, Product: p.Name, Version: p.Version, PartitionBy: p.PartitionBy}
	for _, in := range p.Inputs {
		if in.IsRaw() {
			plan.Raw = append(plan.Raw, PlannedRaw{Source: in.Source, Stream: in.Stream, SamePartition: in.SamePartition})
		} else {
			plan.Reads = append(plan.Reads, in.String())
		}
	}
	owner := d
	owner.Products = nil
	var decls []Declaration
	for _, v := range p.Majors() {
		decl := Declaration{Domain: owner, Product: v, Upstream: upstream}
		key, err := declarationKey(decl)
		if err != nil {
			return Plan{}, nil, err
		}
		pm := PlannedMajor{Table: v.PortName(), Major: v.Major(), Version: v.Version, PartitionBy: v.PartitionBy,
			Decl: key, Model: contentHash(v.Model), Checks: contentHash(v.AllChecks())}
		if v.Deprecation != nil {
			pm.Sunset = v.Deprecation.Sunset
		}
		plan.Majors = append(plan.Majors, pm)
		decls = append(decls, decl)
	}
	return plan, decls, nil
}

// legacyPlan is the plan a run started before plans existed acts on: the worker's
// current declarations, read while replaying, exactly as that code did — which never
// looked its upstream products up, so neither does this.
func legacyPlan(m mesh.Mesh, in RunInput) (Plan, error) {
	d, p, err := m.Find(in.Domain + "." + in.Product)
	if err != nil {
		return Plan{}, err
	}
	if err := p.ValidatePartition(in.Partition); err != nil {
		return Plan{}, err
	}
	plan, _, err := planOf(d, p, nil)
	if err != nil {
		return Plan{}, err
	}
	// Those runs' activities found the product by name, not by a stored declaration.
	for i := range plan.Majors {
		plan.Majors[i].Decl = ""
	}
	return plan, nil
}

func declarationKey(d Declaration) (string, error) {
	b, err := json.Marshal(d)
	if err != nil {
		return "", errs.E(errs.Internal, "plan "+d.Domain.Name+"."+d.Product.Name, err)
	}
	sum := sha256.Sum256(b)
	return path.Join("plans", d.Domain.Name, d.Product.PortName(), hex.EncodeToString(sum[:])+".json"), nil
}

func contentHash(v any) string {
	b, _ := json.Marshal(v)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

func (a *Activities) storeDeclaration(ctx context.Context, key string, d Declaration) error {
	if _, ok := a.declarations.Load(key); ok {
		return nil
	}
	// The same key always holds the same bytes, so writing it again is harmless.
	if err := a.Lake.PutJSON(ctx, key, d); err != nil {
		return err
	}
	a.declarations.Store(key, d)
	return nil
}

// declaration returns the declaration an activity works with: the one stored at key
// when the run has a plan, else (a run from before plans) the worker's own at major.
func (a *Activities) declaration(ctx context.Context, key, domain, product string, major int) (mesh.Domain, mesh.Product, Declaration, error) {
	if key == "" {
		d, p, err := a.product(domain, product, major)
		return d, p, Declaration{}, err
	}
	if v, ok := a.declarations.Load(key); ok {
		decl := v.(Declaration)
		return decl.Domain, decl.Product, decl, nil
	}
	var decl Declaration
	if err := a.Lake.GetJSON(ctx, key, &decl); err != nil {
		if errs.Is(err, errs.NotFound) {
			return mesh.Domain{}, mesh.Product{}, Declaration{}, errs.Errorf(errs.Internal, "read the run's declaration",
				"%s is missing from the lake (it is written when the run starts): restore it, or start a new run", key)
		}
		return mesh.Domain{}, mesh.Product{}, Declaration{}, err
	}
	a.declarations.Store(key, decl)
	return decl.Domain, decl.Product, decl, nil
}
