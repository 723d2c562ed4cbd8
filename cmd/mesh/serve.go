package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshflow/meshflow/framework/errs"
)

func (e *env) serveCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve [--addr HOST:PORT]",
		Short: "the web catalog: search, domain and product pages, JSON API under /api/",
		Args:  noArgs,
	}
	// workers/host's compose test reads this default: keep it a literal.
	addr := cmd.Flags().String("addr", "127.0.0.1:8090", "address to listen on")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error { return e.serve(cmd.Context(), *addr) }
	return cmd
}

// serve runs the web catalog until interrupted.
func (e *env) serve(ctx context.Context, addr string) error {
	cat, closeFn, err := e.openCatalog(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	if _, err := e.guard(ctx, cat); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, describeAccess(cat.Access))
	srv := &http.Server{Addr: addr, Handler: cat.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	fmt.Fprintf(e.stdout, "catalog on http://%s (JSON under /api/products); Ctrl-C stops it\n", addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return errs.E(errs.Invalid, "serve", err)
	}
	return nil
}
