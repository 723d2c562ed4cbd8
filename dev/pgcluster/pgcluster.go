//go:build unix

// Package pgcluster starts a throwaway PostgreSQL server from Debian's packages — a
// new cluster in a temporary directory on a free loopback port — for tests and the
// demo. The cluster is ready for logical replication (wal_level=logical), so the
// PostgreSQL source's change data capture runs against it as against a real primary.
package pgcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Superuser is the name of the cluster's superuser.
const Superuser = "meshflow"

// Options tune a cluster; nil means defaults.
type Options struct {
	// Settings are extra server settings (name → value), passed as -c name=value.
	Settings map[string]string
	// Database is created at start unless it is "postgres" ["meshflow"].
	Database string
	// Dir keeps the cluster across starts (a sandbox whose data the lake's cursors
	// and replication slots point into): a cluster already there starts again as it
	// was (Cluster.Reused), and Stop leaves its files. "" = a new temporary one,
	// removed at Stop.
	Dir string
}

// Cluster is a running throwaway server. Stop it when done: it removes its files.
type Cluster struct {
	Host     string // 127.0.0.1
	Port     int
	Password string // the superuser's
	Database string // the database created at start
	Dir      string // the cluster's directory (data, socket, password file)
	Reused   bool   // it was in Options.Dir from an earlier start
	keep     bool   // Stop leaves Dir

	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{} // closed when the server exited
	err  error         // its exit status, once done is closed
}

// URI is a connection URI for user (the superuser when "") with password on database
// (the cluster's own when "").
func (c *Cluster) URI(usr, password, database string) string {
	if usr == "" {
		usr, password = Superuser, c.Password
	}
	if database == "" {
		database = c.Database
	}
	u := url.URL{Scheme: "postgres", User: url.UserPassword(usr, password), Host: net.JoinHostPort(c.Host, strconv.Itoa(c.Port)),
		Path: "/" + database, RawQuery: "sslmode=disable"}
	return u.String()
}

// BinDir finds initdb and postgres: on PATH, or where Debian installs them (the
// newest version).
func BinDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := os.Stat(filepath.Join(filepath.Dir(p), "postgres")); err == nil {
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return versionOf(a) - versionOf(b) })
	for _, d := range slices.Backward(dirs) {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("PostgreSQL's initdb and postgres are not installed: `make test` installs Debian's postgresql (or run `make postgres`)")
}

// versionOf is the major version in /usr/lib/postgresql/<major>/bin (so 17 sorts after 9).
func versionOf(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// Start initialises a cluster and starts its server, ready for logical replication,
// and returns once it accepts connections. When this process is root, the server runs
// as the postgres user (or nobody): PostgreSQL refuses to run as root.
func Start(ctx context.Context, opts *Options) (_ *Cluster, err error) {
	if opts == nil {
		opts = &Options{}
	}
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	dir := opts.Dir
	if dir == "" {
		// Not a test's TempDir: its parents are private to root, and the server's user must reach it.
		if dir, err = os.MkdirTemp("", "meshflow-pg-"); err != nil {
			return nil, err
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	c := &Cluster{Host: "127.0.0.1", Dir: dir, Database: opts.Database, out: &syncBuffer{}, done: make(chan struct{}), keep: opts.Dir != ""}
	if c.Database == "" {
		c.Database = "meshflow"
	}
	defer func() {
		if err != nil {
			c.Stop()
		}
	}()
	pwfile, data := filepath.Join(dir, "pwfile"), filepath.Join(dir, "data")
	if pw, err := os.ReadFile(pwfile); err == nil && c.keep {
		if _, err := os.Stat(filepath.Join(data, "PG_VERSION")); err == nil {
			c.Password, c.Reused = strings.TrimSpace(string(pw)), true
		}
	}
	if !c.Reused {
		if err := c.initdb(ctx, bin, pwfile, data); err != nil {
			return nil, err
		}
	}
	cred, err := unprivileged(dir, pwfile)
	if err != nil {
		return nil, err
	}
	if c.Reused {
		stopLeftover(data)
	}
	c.Port, err = freePort()
	if err != nil {
		return nil, err
	}
	// A throwaway cluster needs no durability: fsync off keeps it quick.
	settings := map[string]string{
		"listen_addresses": "127.0.0.1", "fsync": "off", "synchronous_commit": "off", "full_page_writes": "off",
		"wal_level": "logical", "max_replication_slots": "20", "max_wal_senders": "20",
	}
	for k, v := range opts.Settings {
		settings[k] = v
	}
	args := []string{"-D", data, "-p", strconv.Itoa(c.Port), "-k", dir}
	for _, k := range slices.Sorted(maps.Keys(settings)) {
		args = append(args, "-c", k+"="+settings[k])
	}
	c.cmd = exec.Command(filepath.Join(bin, "postgres"), args...)
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	// Its own process group, so that stopping it also stops its backends.
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: cred}
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	go func() {
		c.err = c.cmd.Wait()
		close(c.done)
	}()
	if err := c.waitReady(ctx); err != nil {
		return nil, err
	}
	if c.Database != "postgres" && !c.Reused {
		if err := c.Exec(ctx, "postgres", "CREATE DATABASE "+pgx.Identifier{c.Database}.Sanitize()); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// stopLeftover stops the server a killed stack left running on data (its
// postmaster.pid names it), so the cluster can start again.
func stopLeftover(data string) {
	b, err := os.ReadFile(filepath.Join(data, "postmaster.pid"))
	if err != nil {
		return
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || pid <= 1 {
		return
	}
	// Only a postgres on this data directory: the pid may be another process's by now.
	if cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err != nil || !strings.Contains(string(cmd), "postgres") || !strings.Contains(string(cmd), data) {
		return // gone: the server removes a stale pid file itself
	}
	if syscall.Kill(pid, syscall.SIGINT) != nil {
		return
	}
	for range 200 {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

// initdb makes a new cluster in data whose superuser's password it writes to pwfile.
func (c *Cluster) initdb(ctx context.Context, bin, pwfile, data string) error {
	c.Password = "pg-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if err := os.WriteFile(pwfile, []byte(c.Password+"\n"), 0o600); err != nil {
		return err
	}
	_ = os.RemoveAll(data) // a cluster that never finished its first start
	cred, err := unprivileged(c.Dir, pwfile)
	if err != nil {
		return err
	}
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", data, "-U", Superuser, "--pwfile", pwfile,
		"--auth", "scram-sha-256", "-E", "UTF8", "--locale", "C", "--no-sync", "--no-instructions")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %v\n%s", err, out)
	}
	// Replication connections authenticate like the others (initdb's pg_hba.conf
	// allows them on loopback already; this keeps it so whatever the version).
	hba, err := os.OpenFile(filepath.Join(data, "pg_hba.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, werr := hba.WriteString("host replication all 127.0.0.1/32 scram-sha-256\n")
	return errors.Join(werr, hba.Close())
}

// Exec runs statements as the superuser on database ("" = the cluster's own).
func (c *Cluster) Exec(ctx context.Context, database string, sql ...string) error {
	conn, err := pgx.Connect(ctx, c.URI("", "", database))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	for _, s := range sql {
		if _, err := conn.Exec(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}

// waitReady waits until the server accepts connections, failing when it exits or 30
// seconds pass.
func (c *Cluster) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		attempt, cancelAttempt := context.WithTimeout(ctx, 2*time.Second)
		conn, err := pgx.Connect(attempt, c.URI("", "", "postgres"))
		if err == nil {
			err = conn.Ping(attempt)
			conn.Close(context.Background())
		}
		cancelAttempt()
		if err == nil {
			return nil
		}
		select {
		case <-c.done:
			return fmt.Errorf("postgres exited before it was ready (%v):\n%s", c.err, c.out)
		case <-ctx.Done():
			return fmt.Errorf("postgres not ready after 30s: %v\n%s", err, c.out)
		case <-tick.C:
		}
	}
}

// Stop shuts the server down (fast shutdown; killed after 10 s) and removes its files.
func (c *Cluster) Stop() error {
	var err error
	if c.cmd != nil && c.cmd.Process != nil {
		pgid := c.cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGINT)
		select {
		case <-c.done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-c.done
			err = errors.New("postgres did not stop within 10s of SIGINT; killed it")
		}
		c.cmd = nil
	}
	if c.keep {
		return err
	}
	return errors.Join(err, os.RemoveAll(c.Dir))
}

// Output is what the server printed (for failure messages).
func (c *Cluster) Output() string { return c.out.String() }

// unprivileged returns the credential to run PostgreSQL with when this process is
// root, after giving that user the paths; nil otherwise.
func unprivileged(paths ...string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres") // created by Debian's postgresql package
	if err != nil {
		if u, err = user.Lookup("nobody"); err != nil {
			return nil, fmt.Errorf("running as root and neither the postgres nor the nobody user exists: %v", err)
		}
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	for _, p := range paths {
		if err := os.Chown(p, uid, gid); err != nil {
			return nil, err
		}
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// syncBuffer collects the server's output for failure messages.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
