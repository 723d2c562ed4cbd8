package stack_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.temporal.io/sdk/worker"

	"github.com/meshflow/meshflow/connectors/hubspot"
	"github.com/meshflow/meshflow/dev/sandbox"
	sbhubspot "github.com/meshflow/meshflow/dev/sandbox/hubspot"
	"github.com/meshflow/meshflow/dev/stack"
	"github.com/meshflow/meshflow/domains"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
	"github.com/meshflow/meshflow/framework/quality"
	"github.com/meshflow/meshflow/framework/secret"
	"github.com/meshflow/meshflow/workers/host"
)

// TestDeployDuringQuotaWait replaces the marketing worker, while a run of crm_contacts
// waits on a durable timer for HubSpot's daily quota, by one whose declaration of
// crm_contacts changed three ways at once: an added raw input, an added check and a
// new major. The run finishes with the plan it started with; the next run uses the
// new declaration.
func TestDeployDuringQuotaWait(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: needs bin/temporal")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	st := startStack(t, ctx, stack.Options{Log: testLog(t, zerolog.WarnLevel)})
	cfg, stores := openLake(t, ctx, st, t.TempDir())
	before := domains.Mesh()

	stopFirst := startWorker(t, st, cfg, before, stores)
	runProduct(t, ctx, st, before, "marketing.crm_companies")
	stopFirst()

	// The HubSpot account's day ends 45 s from now: its DAILY limit resets then, so
	// the run's quota wait is short. Everything else is the real connector.
	stopOld := startWorkerIn(t, st, cfg, before, stores, midnightIn(45*time.Second))
	hs := sandbox.Get[*sbhubspot.API](st.Sandbox)
	hs.ExhaustDaily()
	d, p, _ := before.Find("marketing.crm_contacts")
	run, err := flow.StartRun(ctx, st.Client, d, p, flow.RunInput{})
	if err != nil {
		t.Fatal(err)
	}
	waitForStage(t, ctx, st, run.GetID(), "waiting for quota")

	// Deploy: the old worker stops, one with the changed declaration takes over.
	stopOld()
	warnCheck := mesh.RowCount(0, 1).AsWarn()
	warnCheck.Name = "row_count_at_most_1"
	after := withMajorBump(withCheck(withInput(before, "crm_contacts", mesh.Raw("hubspot", "deals")), "crm_contacts", warnCheck), "2099-12-31")
	startWorkerIn(t, st, cfg, after, stores, time.UTC)
	hs.RestoreDaily()

	var res flow.RunResult
	if err := run.Get(ctx, &res); err != nil {
		t.Fatalf("the run in flight failed after the deploy: %s", flow.Explain(err))
	}
	if res.Table != "marketing.crm_contacts_v1" || len(res.Legacy) != 0 {
		t.Errorf("the run in flight published %s (legacy %+v), want crm_contacts_v1 alone: the plan it started with", res.Table, res.Legacy)
	}
	if _, ok := res.Landed["hubspot.deals"]; ok {
		t.Errorf("the run in flight landed hubspot.deals, an input added after it started: landed %v", res.Landed)
	}
	if _, ok, _ := stores.Ports.Current(ctx, port.TableID{Domain: "marketing", Name: "crm_contacts_v2"}); ok {
		t.Error("the run in flight published crm_contacts_v2, a major added after it started")
	}
	if checked := lastChecks(t, ctx, stores, "crm_contacts_v1"); slices.Contains(checked, warnCheck.Name) {
		t.Errorf("the run in flight ran %s, a check added after it started (checks %v)", warnCheck.Name, checked)
	}

	// The next run resolves the new declaration.
	next := runProduct(t, ctx, st, after, "marketing.crm_contacts")
	if next.Table != "marketing.crm_contacts_v2" || len(next.Legacy) != 1 || next.Legacy[0].Table != "crm_contacts_v1" {
		t.Errorf("the next run published %s (legacy %+v), want crm_contacts_v2 and the legacy crm_contacts_v1", next.Table, next.Legacy)
	}
	if _, ok := next.Landed["hubspot.deals"]; !ok {
		t.Errorf("the next run did not land the added input hubspot.deals: landed %v", next.Landed)
	}
	if checked := lastChecks(t, ctx, stores, "crm_contacts_v2"); !slices.Contains(checked, warnCheck.Name) {
		t.Errorf("the next run did not run the added check %s (checks %v)", warnCheck.Name, checked)
	}
}

// startWorkerIn starts a marketing worker whose HubSpot connector's account lives in
// zone (its daily limit resets at the zone's midnight).
func startWorkerIn(t *testing.T, st *stack.Stack, cfg host.Config, m mesh.Mesh, stores *host.Stores, zone *time.Location) func() {
	t.Helper()
	sources, err := host.Sources(cfg)
	if err != nil {
		t.Fatal(err)
	}
	vals := cfg.Sources["hubspot"]
	hs, err := hubspot.New(hubspot.Config{BaseURL: vals.Get(hubspot.BaseURLEnv), Token: secret.Value(vals.Get(hubspot.TokenEnv))}, &hubspot.Options{AccountTimeZone: zone})
	if err != nil {
		t.Fatal(err)
	}
	sources["hubspot"] = hs
	d, _ := m.Domain("marketing")
	w := worker.New(st.Client, d.TaskQueue(), worker.Options{})
	flow.Register(w, &flow.Workflows{Mesh: m}, &flow.Activities{Mesh: m, Lake: stores.Lake, Ports: stores.Ports, Sources: sources, WorkDir: t.TempDir()}, d)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			w.Stop()
		}
	}
	t.Cleanup(stop)
	return stop
}

// midnightIn is a time zone whose next midnight is d from now.
func midnightIn(d time.Duration) *time.Location {
	midnight := time.Now().Add(d).UTC()
	return time.FixedZone("account", -int(midnight.Sub(midnight.Truncate(24*time.Hour)).Seconds()))
}

// waitForStage polls the run's progress until it reaches stage.
func waitForStage(t *testing.T, ctx context.Context, st *stack.Stack, id, stage string) {
	t.Helper()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	last := ""
	for {
		select {
		case <-ctx.Done():
			t.Fatalf("run %s never reached %q (last stage %q)", id, stage, last)
		case <-tick.C:
		}
		v, err := st.Client.QueryWorkflow(ctx, id, "", flow.ProgressQuery)
		if err != nil {
			continue // not picked up yet
		}
		var p flow.Progress
		if v.Get(&p) == nil {
			t.Logf("stage %q until %v err %q", p.Stage, p.Until, p.Error)
			if last = p.Stage; last == stage {
				return
			}
			if last == "failed" || last == "done" {
				t.Fatalf("run %s ended (%s: %s) before reaching %q", id, last, p.Error, stage)
			}
		}
	}
}

// lastChecks names the checks the current snapshot of a marketing table recorded.
func lastChecks(t *testing.T, ctx context.Context, stores *host.Stores, table string) []string {
	t.Helper()
	snap, ok, err := stores.Ports.Current(ctx, port.TableID{Domain: "marketing", Name: table})
	if err != nil || !ok {
		t.Fatalf("%s has no current snapshot (%v)", table, err)
	}
	var results []quality.Result
	if err := json.Unmarshal([]byte(snap.Properties[flow.PropChecks]), &results); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range results {
		names = append(names, r.Name)
	}
	return names
}

func withInput(m mesh.Mesh, product string, in mesh.Input) mesh.Mesh {
	out := mesh.Mesh{}
	for _, d := range m.Domains {
		d.Products = slices.Clone(d.Products)
		for i := range d.Products {
			if d.Products[i].Name == product {
				d.Products[i].Inputs = append(slices.Clone(d.Products[i].Inputs), in)
			}
		}
		out.Domains = append(out.Domains, d)
	}
	return out
}
