// Package stack starts the local mesh the way `make demo`, `make dev` and the
// end-to-end tests need it: the real Temporal dev server (from bin/temporal) with the
// mesh's search attributes, the source sandbox over real HTTP, and workers.
package stack

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/rs/zerolog"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"

	"github.com/meshflow/meshflow/dev/sandbox"
	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/tlog"
	"github.com/meshflow/meshflow/workers/host"
)

// Options configures a Stack.
type Options struct {
	TemporalBin string // path to the Temporal CLI [bin/temporal, found upwards from the working directory]
	HostPort    string // Temporal frontend address ["" = a free port]
	UIPort      string // Temporal UI port ["" = headless]
	// Sandbox configures the sandbox [every connector (host.Connectors) with its
	// limits off (Unlimited)]; its Connectors default to host.Connectors.
	Sandbox   *sandbox.Options
	NoSandbox bool // real sources only
	Log       zerolog.Logger
	ServerLog io.Writer // the dev server's stdout/stderr [discarded]
	// DBFile is the dev server's SQLite file: workflow histories and schedules outlive
	// a restart of the stack ["" = in memory, gone at Stop].
	DBFile string
}

// Stack is a running local mesh.
type Stack struct {
	Dev        *testsuite.DevServer
	Client     client.Client
	Sandbox    *sandbox.Server
	SandboxURL string // root URL of the sandbox ("" without one)
	UIURL      string

	httpSrv *http.Server
	workers []func()
	log     zerolog.Logger
}

// Start starts the dev server and the sandbox.
func Start(ctx context.Context, o Options) (*Stack, error) {
	bin := o.TemporalBin
	if bin == "" {
		var err error
		if bin, err = FindTemporal(); err != nil {
			return nil, err
		}
	}
	args := []string{}
	keys := make([]string, 0, len(flow.SearchAttributes))
	for k := range flow.SearchAttributes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "--search-attribute", k+"="+flow.SearchAttributes[k])
	}
	// Eager activity execution: an activity a workflow task schedules on its own queue
	// comes back in the answer to that task, to the worker that completed it, instead
	// of through the matching service's next poll — one hop less for every step of a
	// run. The server's default is off; production servers turn it on the same way.
	args = append(args, "--dynamic-config-value", "system.enableActivityEagerExecution=true")
	// The dev server keeps every workflow on its one history shard, and a shard reads
	// its transfer queue (start a child, tell a parent its child ended, dispatch a
	// first workflow task) at most 20 times a second: every such hop waited up to
	// 50 ms: 200 of the 250 ms a day of a backfill spent around its work. A cluster spreads workflows over many
	// shards, each with that budget, so its hops rarely wait; this gives the one shard
	// the budget of many. Compose's server gets the same (temporal-dynamic-config).
	args = append(args, "--dynamic-config-value", "history.transferProcessorMaxPollRPS=1000")
	if o.DBFile != "" {
		args = append(args, "--db-filename", o.DBFile)
	}
	out := o.ServerLog
	if out == nil {
		out = io.Discard
	}
	if o.HostPort != "" {
		if err := portFree(o.HostPort); err != nil {
			return nil, err
		}
	}
	dev, err := testsuite.StartDevServer(ctx, testsuite.DevServerOptions{
		ExistingPath:  bin,
		ClientOptions: &client.Options{HostPort: o.HostPort, Logger: tlog.New(o.Log.Level(zerolog.WarnLevel)), MetricsHandler: host.TemporalMetrics(o.Log)},
		EnableUI:      o.UIPort != "",
		UIPort:        o.UIPort,
		LogLevel:      "error",
		ExtraArgs:     args,
		Stdout:        out, Stderr: out,
	})
	if err != nil {
		return nil, errs.Errorf(errs.Internal, "start temporal", "the dev server (%s) did not start: %v", bin, err)
	}
	s := &Stack{Dev: dev, Client: dev.Client(), log: o.Log}
	if o.UIPort != "" {
		s.UIURL = "http://localhost:" + o.UIPort
	}
	if !o.NoSandbox {
		if err := s.startSandbox(o.Sandbox); err != nil {
			s.Stop()
			return nil, err
		}
	}
	return s, nil
}

func (s *Stack) startSandbox(opts *sandbox.Options) error {
	if opts == nil {
		// The demo and the end-to-end tests sync everything from scratch repeatedly;
		// the per-second and per-hour limits are exercised by the connectors' own tests.
		opts = &sandbox.Options{Unlimited: true}
	}
	if opts.Connectors == nil {
		o := *opts
		o.Connectors = host.Connectors()
		opts = &o
	}
	sb, err := sandbox.Open(opts)
	if err != nil {
		return errs.E(errs.Invalid, "start sandbox", err)
	}
	s.Sandbox = sb
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return errs.E(errs.Internal, "start sandbox", err)
	}
	s.httpSrv = &http.Server{Handler: s.Sandbox, ReadHeaderTimeout: 10 * time.Second}
	s.SandboxURL = "http://" + ln.Addr().String()
	go s.httpSrv.Serve(ln)
	return nil
}

// SandboxConfig points every connector of c that has no credentials, and that the
// sandbox serves, at the sandbox, and returns the names of the sources it pointed
// there.
func (s *Stack) SandboxConfig(c host.Config) (host.Config, []string) {
	var used []string
	vals := s.Sandbox.Values(s.SandboxURL)
	for _, conn := range host.Connectors() {
		v, ok := vals[conn.Name]
		if !ok || conn.Configured(c.Sources[conn.Name]) {
			continue
		}
		c = c.WithSource(conn.Name, v)
		used = append(used, conn.Name)
	}
	return c, used
}

// StartWorker runs a worker with configuration c on the stack's Temporal until Stop
// (or the returned stop function) is called.
func (s *Stack) StartWorker(c host.Config, m mesh.Mesh, stores *host.Stores) (stop func(), err error) {
	c.TemporalAddress = s.Dev.FrontendHostPort()
	stop, err = host.Start(c, m, s.Client, stores, s.log)
	if err != nil {
		return nil, err
	}
	s.workers = append(s.workers, stop)
	return stop, nil
}

// Stop stops workers, the sandbox and the dev server.
func (s *Stack) Stop() error {
	for _, stop := range s.workers {
		stop() // stopping a stopped worker is a no-op
	}
	if s.httpSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.httpSrv.Shutdown(ctx)
	}
	if s.Sandbox != nil {
		// What the sandboxes started besides their handlers (the platform's database).
		if err := s.Sandbox.Close(); err != nil {
			s.log.Warn().Err(err).Msg("stop the sandbox")
		}
	}
	return s.Dev.Stop()
}

// FindTemporal looks for bin/temporal in the working directory and its parents.
func FindTemporal() (string, error) {
	if p := os.Getenv("MESHFLOW_TEMPORAL_BIN"); p != "" {
		return p, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "bin", "temporal")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errs.Errorf(errs.NotFound, "find temporal", "bin/temporal not found: run `make bin/temporal` (it builds the Temporal CLI v1.5.1 once)")
		}
		dir = parent
	}
}

func portFree(hostPort string) error {
	ln, err := net.Listen("tcp", hostPort)
	if err != nil {
		return errs.Errorf(errs.Invalid, "start temporal", "%s is already in use (another `make dev`?): stop it or pass another address", hostPort)
	}
	return ln.Close()
}

// RunAll runs every product of m once, inputs before the products that read them, and
// returns each run's error by product. report is called as each run finishes. A
// product whose input failed still runs, on that input's current snapshot, as every
// run does (its result's Warnings say so); one whose input never published fails,
// naming it.
func RunAll(ctx context.Context, c client.Client, m mesh.Mesh, report func(mesh.Entry, flow.RunResult, error)) (map[string]error, error) {
	order, err := Order(m)
	if err != nil {
		return nil, err
	}
	failed := map[string]error{}
	// Every product runs here, in order: none is started again by an input's publish.
	var all []string
	for _, e := range order {
		all = append(all, e.Ref().String())
	}
	for _, e := range order {
		var res flow.RunResult
		run, err := flow.StartRun(ctx, c, e.Domain, e.Product, flow.RunInput{CallerRuns: all})
		if err == nil {
			err = run.Get(ctx, &res)
		}
		if err != nil {
			failed[e.Ref().String()] = err
		}
		if report != nil {
			report(e, res, err)
		}
	}
	return failed, nil
}

// Order sorts products so every product comes after the products it reads.
func Order(m mesh.Mesh) ([]mesh.Entry, error) {
	all := m.Products()
	byRef := map[string]mesh.Entry{}
	for _, e := range all {
		byRef[e.Ref().String()] = e
	}
	state := map[string]int{} // 1 visiting, 2 done
	var out []mesh.Entry
	var visit func(e mesh.Entry) error
	visit = func(e mesh.Entry) error {
		ref := e.Ref().String()
		switch state[ref] {
		case 1:
			return errs.Errorf(errs.Invalid, "order products", "products read each other in a cycle through %s", ref)
		case 2:
			return nil
		}
		state[ref] = 1
		for _, in := range e.Product.Inputs {
			if up, ok := byRef[in.String()]; ok && !in.IsRaw() {
				if err := visit(up); err != nil {
					return err
				}
			}
		}
		state[ref] = 2
		out = append(out, e)
		return nil
	}
	for _, e := range all {
		if err := visit(e); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ChangeSome changes about n records across the sandbox's sources, the way a day of
// work would, and says what it changed.
func (s *Stack) ChangeSome(n int) string { return s.Sandbox.ChangeSome(n) }

// FreePort returns a loopback TCP port that was free a moment ago (0 if none could be
// had): good enough for the dev server's ports, which it binds itself.
func FreePort() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
