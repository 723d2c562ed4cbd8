package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/workers/host"
)

func (e *env) doctorCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "doctor [--timeout 10s]",
		Short: "check the configuration end to end; exits 1 when a check fails",
		Long: `Check the configuration end to end, one line per check: Temporal, namespace, search
attributes, a worker on every domain's task queue (a warning when none polls one: the
doctor may run before the workers start), lake, catalog, each source's credentials.
Exits 1 when a check fails.`,
		Args: noArgs,
	}
	timeout := cmd.Flags().Duration("timeout", 10*time.Second, "time limit of each check")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error { return e.doctor(cmd.Context(), *timeout) }
	return cmd
}

// doctor checks the configuration end to end and prints one line per check; it fails
// when any check fails, so a deployment can run it before starting workers.
func (e *env) doctor(ctx context.Context, timeout time.Duration) error {
	fmt.Fprintf(e.stdout, "checking %s\n", e.cfg)
	checks := host.Doctor(ctx, e.cfg, &host.DoctorOptions{
		Timeout: timeout,
		Report:  func(c host.Check) { fmt.Fprintln(e.stdout, c) },
		Domains: e.mesh.Domains,
	})
	if n := host.Failed(checks); n > 0 {
		return errs.Errorf(errs.Invalid, "doctor", "%d of %d checks failed: fix the FAIL lines above and run `mesh doctor` again", n, len(checks))
	}
	count := map[host.Status]int{}
	for _, c := range checks {
		count[c.Status]++
	}
	fmt.Fprintf(e.stdout, "no check failed (%d ok, %d warning(s), %d skipped)\n", count[host.OK], count[host.Warn], count[host.Skipped])
	return nil
}
