package catalog

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"

	"github.com/meshflow/meshflow/framework/errs"
)

// ServerOptions bound what clients can hold of the catalog server, so that idle or
// slow connections cannot make it unreachable. Zero fields take the defaults.
type ServerOptions struct {
	// ReadHeaderTimeout bounds how long a client may take to send a request's headers
	// (a connection that sends nothing is closed after it). Default 10 s.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request; the catalog's are a form at most.
	// Default 30 s.
	ReadTimeout time.Duration
	// WriteTimeout bounds handling a request and writing its answer, from the end of
	// its headers: a product page reads the lake, which can be remote. Default 60 s.
	WriteTimeout time.Duration
	// IdleTimeout closes a keep-alive connection that sends no next request. Default 30 s.
	IdleTimeout time.Duration
	// MaxConns is how many connections are served at once. More wait, unaccepted, in
	// the kernel's queue until one closes, as after its idle timeout: a flood of
	// connections delays new clients instead of exhausting the process's file
	// descriptors. Keep it below the process's descriptor limit. Default 512.
	MaxConns int
}

// DefaultServerOptions are the limits mesh serve starts with.
var DefaultServerOptions = ServerOptions{ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
	WriteTimeout: 60 * time.Second, IdleTimeout: 30 * time.Second, MaxConns: 512}

func (o ServerOptions) withDefaults() ServerOptions {
	d := DefaultServerOptions
	o.ReadHeaderTimeout = positiveOr(o.ReadHeaderTimeout, d.ReadHeaderTimeout)
	o.ReadTimeout = positiveOr(o.ReadTimeout, d.ReadTimeout)
	o.WriteTimeout = positiveOr(o.WriteTimeout, d.WriteTimeout)
	o.IdleTimeout = positiveOr(o.IdleTimeout, d.IdleTimeout)
	if o.MaxConns <= 0 {
		o.MaxConns = d.MaxConns
	}
	return o
}

func positiveOr(v, def time.Duration) time.Duration {
	if v > 0 {
		return v
	}
	return def
}

// Serve serves h on ln with the limits of o until ctx ends, then stops accepting and
// lets requests in flight finish for up to 5 s.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, o ServerOptions) error {
	o = o.withDefaults()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: o.ReadHeaderTimeout, ReadTimeout: o.ReadTimeout,
		WriteTimeout: o.WriteTimeout, IdleTimeout: o.IdleTimeout}
	served, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		select {
		case <-ctx.Done():
		case <-served:
			return
		}
		shut, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	// netutil's limit leaves a connection over it in the listen queue rather than
	// accepting and closing it, so a client arriving during a flood is served late
	// rather than refused.
	err := srv.Serve(netutil.LimitListener(ln, o.MaxConns))
	close(served)
	<-stopped
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return errs.E(errs.Transient, "catalog: serve", err)
}
