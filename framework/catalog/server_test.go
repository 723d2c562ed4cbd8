package catalog

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// connLog is a listener that logs, in order, each connection it accepts and each one
// closed, and says on accepted and closed when it accepts or closes one.
type connLog struct {
	net.Listener
	mu               sync.Mutex
	events           []string
	n                int
	accepted, closed chan int
}

func (l *connLog) log(e string) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

func (l *connLog) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.n++
	n := l.n
	l.events = append(l.events, fmt.Sprint("accepted ", n))
	l.mu.Unlock()
	l.accepted <- n
	return &loggedConn{Conn: c, n: n, l: l}, nil
}

func (l *connLog) Events() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.events)
}

type loggedConn struct {
	net.Conn
	n    int
	l    *connLog
	once sync.Once
}

func (c *loggedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.log(fmt.Sprint("closed ", c.n))
		c.l.closed <- c.n
	})
	return err
}

// startServer serves a handler that logs each request on the logged listener.
func startServer(t *testing.T, o ServerOptions) (*connLog, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &connLog{Listener: ln, accepted: make(chan int, 100), closed: make(chan int, 100)}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cl.log("served " + r.URL.Path)
		fmt.Fprint(w, "ok")
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- Serve(ctx, cl, h, o) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return cl, ln.Addr().String()
}

// guard bounds a read that must end by the server closing the connection, so a test
// of a server that never closes fails instead of hanging.
const guard = 20 * time.Second

// An idle keep-alive connection is closed by the server after the idle timeout.
func TestIdleConnectionIsClosed(t *testing.T) {
	_, addr := startServer(t, ServerOptions{IdleTimeout: 100 * time.Millisecond})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /a HTTP/1.1\r\nHost: catalog\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	resp, err := http.ReadResponse(r, nil)
	if err != nil || resp.StatusCode != 200 || resp.Close {
		t.Fatalf("response: %v %+v", err, resp)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	// The connection is kept alive, then closed by the server once idle.
	c.SetReadDeadline(time.Now().Add(guard))
	if _, err := r.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("idle connection: read %v, want the server to close it (EOF)", err)
	}
}

// Connections beyond the limit wait, unaccepted, while others hold every slot; those
// that send nothing are dropped after the header timeout, and then an ordinary
// request is served.
func TestConnectionsBeyondTheLimitWait(t *testing.T) {
	cl, addr := startServer(t, ServerOptions{MaxConns: 2, ReadHeaderTimeout: 500 * time.Millisecond})
	// Two connections that send nothing take both slots.
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	<-cl.accepted
	<-cl.accepted
	getOK(t, addr, "/ordinary")
	// The third connection was accepted only after an idle one was dropped.
	events := strings.Join(cl.Events(), ", ")
	first, third, served := strings.Index(events, "closed "), strings.Index(events, "accepted 3"), strings.Index(events, "served /ordinary")
	if first < 0 || third < first || served < third || !strings.HasPrefix(events, "accepted 1, accepted 2") {
		t.Fatalf("connection events: %s", events)
	}
}

// One client holding its share of connections cannot take the others: its further
// connections are closed at once, and a client from another address is served while
// the first still holds its cap (the first client's own connections too).
func TestOneClientCannotHoldEverySlot(t *testing.T) {
	cl, addr := startServer(t, ServerOptions{MaxConns: 4, MaxConnsPerClient: 2, ReadHeaderTimeout: 3 * guard})
	// Linux routes all of 127.0.0.0/8 to the loopback interface: 127.0.0.2 is another client.
	greedy := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	var conns []net.Conn
	for i := range 6 {
		c, err := greedy.Dial("tcp", addr)
		if err != nil {
			t.Skipf("cannot connect from 127.0.0.2 (loopback is not 127.0.0.0/8 here): %v", err)
		}
		defer c.Close()
		conns = append(conns, c)
		<-cl.accepted
		if i < 2 {
			continue
		}
		// Over the cap: closed as soon as accepted (without the cap, held until a timeout).
		c.SetReadDeadline(time.Now().Add(guard))
		if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("connection %d over the client's cap: read %v, want it closed", i+1, err)
		}
	}
	getOK(t, addr, "/other-client")
	// The greedy client's two connections within its cap are still served.
	for _, c := range conns[:2] {
		getOn(t, c, "/held")
	}
	// A connection it closes gives its slot back.
	conns[0].Close()
	for n := range cl.closed {
		if n == 1 {
			break
		}
	}
	c, err := greedy.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	getOn(t, c, "/again")
}

// getOK requests path on a new connection, and fails the test unless it is served.
func getOK(t *testing.T, addr, path string) {
	t.Helper()
	client := &http.Client{Timeout: guard}
	resp, err := client.Get("http://" + addr + path)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok" {
		t.Fatalf("GET %s: %d %q", path, resp.StatusCode, body)
	}
}

// getOn requests path on the open connection c, and fails the test unless it is served.
func getOn(t *testing.T, c net.Conn, path string) {
	t.Helper()
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: catalog\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(guard))
	if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s on %s: %v %+v", path, c.LocalAddr(), err, resp)
	}
}
