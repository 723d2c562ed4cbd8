package alert

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/rs/zerolog"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/mesh"
)

// Notifier hands run and backfill outcomes and freshness to the products' alert
// workflows, and holds what their activities need (Register). A nil Notifier sends
// nothing.
type Notifier struct {
	client client.Client
	mesh   mesh.Mesh
	lake   *lake.Lake
	cfg    Config
	fresh  FreshnessFunc
	log    zerolog.Logger
	http   *http.Client
	ns     string // the Temporal namespace, in run links
	// eventsPerRun is eventsPerRun; tests lower it to see the workflow continue as new.
	eventsPerRun int
}

// FreshnessFunc says how fresh a product is now (the catalog's computation:
// catalog.(*Catalog).AlertFreshness). It cannot live here: the catalog reads run
// records through package flow, which imports this one.
type FreshnessFunc func(ctx context.Context, domain, product string) (Freshness, error)

// Options are a Notifier's optional parts.
type Options struct {
	// Freshness, when set, turns on freshness alerts: each domain's products are
	// evaluated every Config.FreshnessEvery (WatchFreshness), and a run that published
	// says at once whether the product is fresh again.
	Freshness FreshnessFunc
	Log       zerolog.Logger
	// Namespace is the Temporal namespace, for run links ["default"].
	Namespace string
	// HTTPClient sends the webhooks [one with a 30 s timeout].
	HTTPClient *http.Client
}

// New returns the Notifier of mesh m: it signals the alert workflows through c, and
// their activities keep the open alerts in l and send to the channels of cfg.
func New(c client.Client, m mesh.Mesh, l *lake.Lake, cfg Config, o *Options) *Notifier {
	if o == nil {
		o = &Options{}
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	ns := o.Namespace
	if ns == "" {
		ns = "default"
	}
	return &Notifier{client: c, mesh: m, lake: l, cfg: cfg.WithDefaults(), fresh: o.Freshness, log: o.Log, http: hc, ns: ns, eventsPerRun: eventsPerRun}
}

// RunEnded reports a finished run (every status, "waiting" included).
func (n *Notifier) RunEnded(ctx context.Context, r Run) error {
	return n.report(ctx, r.Domain, r.Product, r.At, func(ev *Event) {
		if r.RunID != "" { // a run reported twice (its activity retried) counts once
			ev.ID = "run " + r.WorkflowID + " " + r.RunID + " " + r.Partition
		}
		ev.RunURL = n.RunURL(r.WorkflowID, r.RunID)
		ev.Run = &r
		if n.fresh == nil || (r.Status != StatusPublished && r.Status != StatusUnchanged) {
			return
		}
		// A publish usually makes the product fresh again: say so now, not at the next
		// evaluation. (Its inputs may still hold it back: the catalog knows.)
		if f, err := n.fresh(ctx, r.Domain, r.Product); err == nil {
			ev.Freshness = &f
		} else {
			n.log.Warn().Err(err).Str("product", r.Domain+"."+r.Product).Msg("alerts: freshness after the run not known; the next evaluation says it")
		}
	})
}

// BackfillEnded reports a finished backfill.
func (n *Notifier) BackfillEnded(ctx context.Context, b Backfill) error {
	return n.report(ctx, b.Domain, b.Product, b.At, func(ev *Event) {
		ev.ID = "backfill " + b.ID + " " + ev.At.Format(time.RFC3339Nano)
		ev.Backfill = &b
	})
}

// FreshnessSeen reports a product's freshness, as the periodic evaluation does.
func (n *Notifier) FreshnessSeen(ctx context.Context, domain, product string, f Freshness, at time.Time) error {
	return n.report(ctx, domain, product, at, func(ev *Event) { ev.Freshness = &f })
}

// report signals the product's alert workflow an event of what happened at at,
// which fill completes.
func (n *Notifier) report(ctx context.Context, domain, product string, at time.Time, fill func(*Event)) error {
	if n == nil {
		return nil
	}
	d, p, err := n.find(domain, product)
	if err != nil {
		return err
	}
	ev := n.event(d, p, at)
	fill(&ev)
	return n.signal(ctx, d, p, ev)
}

// RunURL is a run's history in the Temporal UI.
func (n *Notifier) RunURL(workflowID, runID string) string {
	if workflowID == "" {
		return ""
	}
	u := n.cfg.TemporalUI + "/namespaces/" + url.PathEscape(n.ns) + "/workflows/" + url.PathEscape(workflowID)
	if runID != "" {
		u += "/" + url.PathEscape(runID)
	}
	return u + "/history"
}

// CatalogURL is a product's page in the web catalog.
func (n *Notifier) CatalogURL(domain, product string) string {
	return n.cfg.CatalogURL + "/products/" + url.PathEscape(domain+"."+product)
}

func (n *Notifier) find(domain, product string) (mesh.Domain, mesh.Product, error) {
	d, p, err := n.mesh.Find(domain + "." + product)
	if err != nil {
		return d, p, errs.E(errs.Invalid, "alert "+domain+"."+product, err)
	}
	return d, p, nil
}

// event is what every event of product p carries: its rules, owner and channels.
func (n *Notifier) event(d mesh.Domain, p mesh.Product, at time.Time) Event {
	if at.IsZero() {
		at = time.Now()
	}
	owner := p.EffectiveOwner(d)
	return Event{
		At: at.UTC(), Domain: d.Name, Product: p.Name, Owner: owner, Policy: p.AlertPolicy(d),
		Restricted: p.Classification == mesh.Restricted, Channels: n.cfg.Channels(owner),
		CatalogURL: n.CatalogURL(d.Name, p.Name),
	}
}

// signal hands ev to the product's alert workflow, starting it if it is not running.
func (n *Notifier) signal(ctx context.Context, d mesh.Domain, p mesh.Product, ev Event) error {
	id := WorkflowID(d.Name, p.Name)
	_, err := n.client.SignalWithStartWorkflow(ctx, id, SignalName, ev, client.StartWorkflowOptions{
		ID: id, TaskQueue: d.TaskQueue(),
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
	}, WorkflowName, Input{State: State{Domain: d.Name, Product: p.Name}})
	if err != nil {
		return errs.E(errs.Transient, "alert "+d.Name+"."+p.Name, err)
	}
	return nil
}
