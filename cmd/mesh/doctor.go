package main

import (
	"context"
	"fmt"
	"time"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/workers/host"
)

// doctor checks the configuration end to end and prints one line per check; it fails
// when any check fails, so a deployment can run it before starting workers.
func (e *env) doctor(ctx context.Context, args []string) error {
	fs, lakeDir := e.newFlags("doctor")
	timeout := fs.Duration("timeout", 10*time.Second, "time limit of each check")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if err := e.withLake(*lakeDir); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "checking %s\n", e.cfg)
	checks := host.Doctor(ctx, e.cfg, &host.DoctorOptions{
		Timeout: *timeout,
		Report:  func(c host.Check) { fmt.Fprintln(e.stdout, c) },
	})
	if n := host.Failed(checks); n > 0 {
		return errs.Errorf(errs.Invalid, "doctor", "%d of %d checks failed: fix the FAIL lines above and run `mesh doctor` again", n, len(checks))
	}
	skipped := 0
	for _, c := range checks {
		if c.Status == host.Skipped {
			skipped++
		}
	}
	fmt.Fprintf(e.stdout, "no check failed (%d ok, %d skipped)\n", len(checks)-skipped, skipped)
	return nil
}
