package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/meshflow/meshflow/dev/sandbox"
	"github.com/meshflow/meshflow/dev/stack"
	"github.com/meshflow/meshflow/framework/catalog"
	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/query"
	"github.com/meshflow/meshflow/workers/host"
)

// demoCmd is `mesh demo` (run the stack once) or `mesh dev` (leave it running).
func (e *env) demoCmd(name string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   name,
		Short: "start Temporal, the sandbox and a worker; run every product once; print what was published; stop",
		Args:  noArgs,
	}
	stayUp := name == "dev"
	if stayUp {
		cmd.Short = "the same stack as demo, left running (Temporal UI on http://localhost:8233) until Ctrl-C"
	}
	port := cmd.Flags().Int("port", 0, "Temporal frontend port (0 = 7233 for dev, a free port for demo)")
	uiPort := cmd.Flags().Int("ui-port", 0, "Temporal UI port (0 = 8233 for dev, a free port for demo)")
	touch := cmd.Flags().Int("touch", 25, "sandbox records to change before a repeated run, to show an incremental sync")
	runAll := true
	if stayUp {
		cmd.Flags().BoolVar(&runAll, "run-all", false, "run every product at start even when the lake already has them (a restart otherwise runs nothing)")
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return e.demo(cmd.Context(), name, *port, *uiPort, *touch, runAll)
	}
	return cmd
}

// demo runs the whole mesh locally: Temporal dev server, sandbox sources (unless real
// credentials are configured), a worker hosting every domain, one run of every
// product. As `mesh dev` it keeps the stack running until interrupted.
func (e *env) demo(ctx context.Context, name string, port, uiPort, touch int, runAll bool) error {
	stayUp := name == "dev"
	if stayUp {
		port, uiPort = or(port, 7233), or(uiPort, 8233)
	} else {
		port, uiPort = or(port, stack.FreePort()), or(uiPort, stack.FreePort())
	}
	// The worker logs warnings and errors only: the demo prints its own progress.
	log := logger(e.stderr, "warn")
	if e.cfg.LogLevel != "info" {
		log = logger(e.stderr, e.cfg.LogLevel)
	}
	out := e.stdout
	fmt.Fprintf(out, "lake:     %s\n", e.cfg.Lake)
	real := e.cfg.ConfiguredSources()
	useSandbox := len(real) < len(host.Connectors())
	if err := os.MkdirAll(e.cfg.Lake, 0o755); err != nil {
		return errs.E(errs.Invalid, "create lake", err)
	}
	serverLog, err := os.Create(filepath.Join(e.cfg.Lake, "temporal.log"))
	if err != nil {
		return errs.E(errs.Internal, "open temporal log", err)
	}
	defer serverLog.Close()

	opts := stack.Options{
		HostPort: "127.0.0.1:" + strconv.Itoa(port), UIPort: strconv.Itoa(uiPort),
		NoSandbox: !useSandbox, Log: log, ServerLog: serverLog,
		// A sandbox that runs a server (the platform's database) keeps it beside the
		// lake, whose cursors and replication slots point into it: a second demo
		// reads its changes instead of finding them gone.
		Sandbox: &sandbox.Options{Unlimited: true, StateDir: filepath.Join(e.cfg.Lake, "sandbox")},
	}
	restarted := false
	if stayUp {
		// mesh dev keeps Temporal's history and schedules in the lake, so a restart
		// (after a rebuild) finds its runs in the UI where it left them.
		opts.DBFile = filepath.Join(e.cfg.Lake, "temporal.db")
		_, err := os.Stat(opts.DBFile)
		restarted = err == nil
	}
	st, err := stack.Start(ctx, opts)
	if err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(out, "stopping worker, sandbox and Temporal...")
		st.Stop()
	}()
	fmt.Fprintf(out, "temporal: %s  (UI %s)\n", st.Dev.FrontendHostPort(), st.UIURL)
	cfg := e.cfg
	cfg.TemporalAddress = st.Dev.FrontendHostPort()
	if len(real) > 0 {
		fmt.Fprintf(out, "sources:  real APIs for %s (credentials set)\n", strings.Join(real, ", "))
	}
	if useSandbox {
		var sandboxed []string
		cfg, sandboxed = st.SandboxConfig(cfg)
		fmt.Fprintf(out, "sources:  local sandbox at %s for %s (no credentials set; see README to read the real APIs)\n", st.SandboxURL, strings.Join(sandboxed, ", "))
	}
	stores, err := host.OpenStores(ctx, cfg)
	if err != nil {
		return err
	}
	defer stores.Close()
	if useSandbox && touch > 0 {
		if keys, _ := stores.Lake.List(ctx, "raw/"); len(keys) > 0 {
			fmt.Fprintf(out, "sandbox:  %s since the last run (the sync below is incremental)\n", st.ChangeSome(touch))
		}
	}
	if stayUp {
		if _, err := os.Stat("domains"); err == nil {
			// In a checkout each run starts from the models as saved: no rebuild.
			cfg.ModelsDir = "."
		}
	}
	if _, err := st.StartWorker(cfg, e.mesh, stores); err != nil {
		return err
	}

	var failed map[string]error
	if restarted && !runAll {
		fmt.Fprintf(out, "\nrestarted: Temporal's history and schedules are kept in %s; nothing re-runs (mesh run PRODUCT, or mesh dev --run-all)\n", opts.DBFile)
	} else {
		fmt.Fprintln(out, "\nrunning every product once:")
		failed, err = stack.RunAll(ctx, st.Client, e.mesh, func(en mesh.Entry, res flow.RunResult, err error) {
			printRunOutcome(out, en, res, err)
		})
		if err != nil {
			return err
		}
	}
	cat := &catalog.Catalog{Mesh: e.mesh, Ports: stores.Ports, Lake: stores.Lake}
	list, err := cat.List(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "\npublished:")
	printStatusTable(out, list)
	fmt.Fprintf(out, "\nnext: ./bin/mesh show marketing.crm_contacts --lake %s\n", e.cfg.Lake)
	if err := e.demoAccess(out); err != nil {
		return err
	}

	if stayUp {
		fmt.Fprintf(out, "\nTemporal UI: %s (filter with MeshDomain=\"marketing\"). `mesh run <product>` works against %s.\nCtrl-C stops everything.\n", st.UIURL, st.Dev.FrontendHostPort())
		if cfg.ModelsDir != "" {
			fmt.Fprintln(out, "Watching domains/: a saved model is checked at once and the next run of its product uses it.")
			watchDomains(ctx, out, e.mesh, cfg.ModelsDir)
		}
		<-ctx.Done()
	}
	if len(failed) > 0 {
		names := make([]string, 0, len(failed))
		for n := range failed {
			names = append(names, n)
		}
		return errs.Errorf(errs.Internal, name, "%d product(s) failed: %s", len(failed), strings.Join(names, ", "))
	}
	return nil
}

// printRunOutcome is the demo's line for one product's run. An error and a warning can
// quote source values, so their control characters are shown, never sent.
func printRunOutcome(out io.Writer, en mesh.Entry, res flow.RunResult, err error) {
	if err != nil {
		fmt.Fprintf(out, "  %-36s FAILED: %s\n", en.Ref(), query.Printable(flow.Explain(err)))
		return
	}
	what := "snapshot"
	if res.Unchanged {
		what = "unchanged, snapshot"
	}
	fmt.Fprintf(out, "  %-36s landed %s → %d rows, %s %d\n", en.Ref(), landedText(res.Landed), res.Rows, what, res.SnapshotID)
	if res.Incremental != "" {
		fmt.Fprintf(out, "  %-36s %s\n", "", query.Printable(res.Incremental))
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(out, "  %-36s warning: %s\n", "", query.Printable(w))
	}
}

func landedText(m map[string]int64) string {
	if len(m) == 0 {
		return "nothing"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

func or(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}
