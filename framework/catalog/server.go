package catalog

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"sync"
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
	// MaxConnsPerClient is how many of those one client may hold at once; a connection
	// over it is closed as soon as it is accepted, so that one client's slow or idle
	// connections cannot take every slot while others wait. A client is an IPv4 address
	// or an IPv6 /64 (one host's usual allocation). Behind a proxy every connection comes
	// from the proxy: raise it to MaxConns there and limit clients in the proxy.
	// Default 32.
	MaxConnsPerClient int
}

// DefaultServerOptions are the limits mesh serve starts with.
var DefaultServerOptions = ServerOptions{ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
	WriteTimeout: 60 * time.Second, IdleTimeout: 30 * time.Second, MaxConns: 512, MaxConnsPerClient: 32}

func (o ServerOptions) withDefaults() ServerOptions {
	d := DefaultServerOptions
	o.ReadHeaderTimeout = positiveOr(o.ReadHeaderTimeout, d.ReadHeaderTimeout)
	o.ReadTimeout = positiveOr(o.ReadTimeout, d.ReadTimeout)
	o.WriteTimeout = positiveOr(o.WriteTimeout, d.WriteTimeout)
	o.IdleTimeout = positiveOr(o.IdleTimeout, d.IdleTimeout)
	if o.MaxConns <= 0 {
		o.MaxConns = d.MaxConns
	}
	if o.MaxConnsPerClient <= 0 {
		o.MaxConnsPerClient = d.MaxConnsPerClient
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
	// rather than refused. Within it, a connection over its client's cap is closed
	// without taking one of the global slots.
	err := srv.Serve(netutil.LimitListener(&perClientListener{Listener: ln, max: o.MaxConnsPerClient, open: map[netip.Prefix]int{}}, o.MaxConns))
	close(served)
	<-stopped
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return errs.E(errs.Transient, "catalog: serve", err)
}

// perClientListener closes each connection of a client that already holds max open
// connections as soon as it accepts it.
type perClientListener struct {
	net.Listener
	max  int
	mu   sync.Mutex
	open map[netip.Prefix]int // open connections per client; a client without any has no entry
}

func (l *perClientListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		client, ok := clientOf(c.RemoteAddr())
		if !ok {
			return c, nil // not TCP: no address to tell clients apart by
		}
		if l.take(client) {
			return &clientConn{Conn: c, release: func() { l.release(client) }}, nil
		}
		_ = c.Close()
	}
}

func (l *perClientListener) take(client netip.Prefix) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[client] >= l.max {
		return false
	}
	l.open[client]++
	return true
}

func (l *perClientListener) release(client netip.Prefix) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[client]--; l.open[client] <= 0 {
		delete(l.open, client)
	}
}

// clientOf is the client a TCP peer address belongs to: its IPv4 address, or the /64
// of its IPv6 address, since one host can use any address of its /64.
func clientOf(a net.Addr) (netip.Prefix, bool) {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.Prefix{}, false
	}
	ip := tcp.AddrPort().Addr().Unmap()
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, err := ip.Prefix(bits)
	return p, err == nil
}

// clientConn gives its client's slot back once, however often it is closed: before
// the close, so a client that sees its connection end may open another at once.
type clientConn struct {
	net.Conn
	release func()
	once    sync.Once
}

func (c *clientConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}
