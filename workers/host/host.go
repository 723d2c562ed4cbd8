package host

import (
	"context"
	"os"

	"github.com/rs/zerolog"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/meshflow/meshflow/framework/alert"
	"github.com/meshflow/meshflow/framework/catalog"
	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/lineage"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
	"github.com/meshflow/meshflow/framework/source"
)

// Stores are the lake and the port catalog.
type Stores struct {
	Lake  *lake.Lake
	Ports *port.Catalog
}

// Close closes both.
func (s *Stores) Close() error {
	err := s.Ports.Close()
	if lerr := s.Lake.Close(); err == nil {
		err = lerr
	}
	return err
}

// OpenStores opens the lake and the port catalog the configuration names.
func OpenStores(ctx context.Context, c Config) (*Stores, error) {
	l, err := openLake(ctx, c)
	if err != nil {
		return nil, err
	}
	ports, err := openPorts(ctx, c)
	if err != nil {
		l.Close()
		return nil, err
	}
	return &Stores{Lake: l, Ports: ports}, nil
}

// Sources builds the connectors whose credentials are configured. A connector without
// credentials is left out; a run that needs it fails with a message naming the variable.
func Sources(c Config) (map[string]source.Source, error) {
	out := map[string]source.Source{}
	for _, conn := range Connectors() {
		if !conn.Configured(c.Sources[conn.Name]) {
			continue
		}
		src, err := conn.Open(c.Sources[conn.Name])
		if err != nil {
			return nil, err // the connector names the variable to fix
		}
		out[src.Name()] = src
	}
	return out, nil
}

// Dial connects to Temporal with the worker's logger (TLS and API key as configured;
// see DialContext).
func Dial(c Config, log zerolog.Logger) (client.Client, error) {
	return DialContext(context.Background(), c, log)
}

// Run hosts the configured domains of m until ctx ends.
func Run(ctx context.Context, c Config, m mesh.Mesh, cl client.Client, stores *Stores, log zerolog.Logger) error {
	stop, err := Start(c, m, cl, stores, log)
	if err != nil {
		return err
	}
	<-ctx.Done()
	stop()
	return nil
}

// Start starts one Temporal worker per hosted domain's task queue, sharing one client,
// the stores and the connectors, and returns a function that stops them all.
func Start(c Config, m mesh.Mesh, cl client.Client, stores *Stores, log zerolog.Logger) (stop func(), err error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	sources, err := Sources(c)
	if err != nil {
		return nil, err
	}
	workDir := c.WorkDir
	if workDir == "" {
		workDir = os.TempDir()
	}
	acts := &flow.Activities{Mesh: m, Lake: stores.Lake, Ports: stores.Ports, Sources: sources, WorkDir: workDir, Log: log, Client: cl}
	if dir := c.ModelsDir; dir != "" {
		acts.Declared = func() mesh.Mesh { saved, _ := m.FromDisk(dir); return saved }
		reloadSpecs(dir, c, sources, log)
	}
	// Alerts judge freshness as the catalog shows it; the catalog's freshness follows
	// each product's inputs.
	cat := &catalog.Catalog{Mesh: m, Ports: stores.Ports, Lake: stores.Lake}
	alerts := alert.New(cl, m, stores.Lake, c.Alerts, &alert.Options{Freshness: cat.AlertFreshness, Namespace: c.Namespace, Log: log})
	acts.Alerts = alerts
	lineageCfg := c.Lineage
	lineageCfg.Warehouse = c.Warehouse
	events := lineage.New(cl, lineageCfg, &lineage.Options{Log: log})
	acts.Lineage = events
	wf := &flow.Workflows{Mesh: m}
	var workers []worker.Worker
	stop = func() {
		for _, w := range workers {
			w.Stop()
		}
	}
	for _, d := range m.Domains {
		if !c.HostsDomain(d.Name) {
			continue
		}
		w := worker.New(cl, d.TaskQueue(), worker.Options{WorkerStopTimeout: c.StopTimeout})
		flow.Register(w, wf, acts, d)
		alert.Register(w, alerts)
		lineage.Register(w, events)
		if err := w.Start(); err != nil {
			stop()
			return nil, errs.E(errs.Internal, "start worker for "+d.Name, err)
		}
		workers = append(workers, w)
		if err := watchFreshness(alerts, d); err != nil {
			stop()
			return nil, err
		}
		log.Info().Str("domain", d.Name).Str("task_queue", d.TaskQueue()).Int("products", len(d.Products)).Msg("hosting domain")
	}
	if len(workers) == 0 {
		return nil, errs.Errorf(errs.Invalid, "start worker", "MESHFLOW_DOMAINS=%v names no registered domain", c.Domains)
	}
	return stop, nil
}
