//go:build unix

package stack_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/rs/zerolog"
	_ "gocloud.dev/blob/s3blob"

	"github.com/meshflow/meshflow/dev/pgcluster"
	"github.com/meshflow/meshflow/dev/sandbox"
	sbhubspot "github.com/meshflow/meshflow/dev/sandbox/hubspot"
	"github.com/meshflow/meshflow/dev/stack"
	"github.com/meshflow/meshflow/domains/marketing"
	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
	"github.com/meshflow/meshflow/workers/host"
)

// TestProductionTopology runs marketing products the way production deploys them: the
// Iceberg catalog on a real PostgreSQL server and the lake and warehouse in a bucket of
// a real S3-compatible server (versitygw), both started here on loopback; Temporal is
// the dev server. It reads the ports back through a second catalog connection, lists
// the bucket with a plain S3 client, and checks that nothing touched the local disk.
func TestProductionTopology(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: needs bin/temporal, bin/versitygw and PostgreSQL")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := pgcluster.BinDir(); err != nil { // before starting anything
		t.Fatal(err)
	}
	s3Bin := versitygwBin(t)
	pg := startPostgres(t, ctx)
	objects := startS3(t, ctx, s3Bin)

	log := testLog(t, zerolog.WarnLevel)
	st := startStack(t, ctx, stack.Options{Log: log})

	// The local lake a misconfiguration would fall back to.
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	localLake := filepath.Join(cwd, host.DefaultLake)
	before := listTree(t, localLake)

	// Secrets come from files, as a deployment mounts them.
	secrets := t.TempDir()
	uriFile, keyFile := filepath.Join(secrets, "catalog-uri"), filepath.Join(secrets, "aws-secret")
	writeFile(t, uriFile, pg.uri)
	writeFile(t, keyFile, objects.secret)
	env := map[string]string{
		"MESHFLOW_LAKE":              "s3://" + objects.bucket + "/lake",
		"MESHFLOW_WAREHOUSE":         "s3://" + objects.bucket + "/warehouse",
		"MESHFLOW_CATALOG_URI_FILE":  uriFile,
		"MESHFLOW_S3_ENDPOINT":       objects.endpoint,
		"AWS_ACCESS_KEY_ID":          objects.key,
		"AWS_SECRET_ACCESS_KEY_FILE": keyFile,
	}
	cfg, err := host.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if s := cfg.String(); strings.Contains(s, pg.password) || strings.Contains(s, objects.secret) {
		t.Fatalf("the configuration prints a secret: %s", s)
	}
	cfg.WorkDir = t.TempDir()
	cfg, _ = st.SandboxConfig(cfg)
	stores, err := host.OpenStores(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stores.Close() })

	// crm_contacts and crm_deals read crm_companies' port, so the transform reads a
	// port whose files are in the bucket.
	m := productsOf(marketing.Domain(), "crm_companies", "crm_contacts", "crm_deals")
	startWorker(t, st, cfg, m, stores)
	failed, err := stack.RunAll(ctx, st.Client, m, nil)
	if err != nil || len(failed) > 0 {
		t.Fatalf("run: %v %v", err, failed)
	}

	// A second connection to the catalog sees what the worker published: the state is
	// in PostgreSQL and the bucket, not in the worker's process.
	reader, err := port.Open(ctx, port.Options{CatalogURI: cfg.CatalogURI, Warehouse: cfg.Warehouse, IOProperties: cfg.S3.IcebergProperties()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reader.Close() })
	hs := sandbox.Get[*sbhubspot.API](st.Sandbox)
	snaps := map[string]port.Snapshot{}
	for _, tc := range []struct{ product, object string }{
		{"crm_companies", "companies"}, {"crm_contacts", "contacts"}, {"crm_deals", "deals"},
	} {
		id := port.PortTable("marketing", tc.product, 1)
		tbl, err := reader.ReadAll(ctx, id, 0, 0)
		if err != nil {
			t.Fatalf("read %s back: %v", id, err)
		}
		rows := tbl.NumRows()
		tbl.Release()
		if want := hs.Count(tc.object); rows != int64(want) || want == 0 {
			t.Fatalf("%s holds %d rows, the sandbox has %d live %s", id, rows, want, tc.object)
		}
		snap, ok, err := reader.Current(ctx, id)
		if err != nil || !ok {
			t.Fatalf("current snapshot of %s: %v %v", id, ok, err)
		}
		snaps[tc.product] = snap
		props, err := reader.TableProperties(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range props {
			if strings.Contains(v, objects.secret) || strings.Contains(v, pg.password) {
				t.Fatalf("table property %s of %s holds a secret", k, id)
			}
		}
	}
	companies := port.PortTable("marketing", "crm_companies", 1)
	if in := snaps["crm_contacts"].Properties[flow.PropInputs]; !strings.Contains(in, fmt.Sprintf("%q:%d", companies.String(), snaps["crm_companies"].ID)) {
		t.Fatalf("crm_contacts records inputs %s, want the snapshot %d of %s it read", in, snaps["crm_companies"].ID, companies)
	}

	// DuckDB is fed copies of the bucket's data files; the plain local paths do not exist.
	if _, err := reader.DataFiles(ctx, companies, 0); !errs.Is(err, errs.Invalid) {
		t.Fatalf("DataFiles of an s3 warehouse: %v, want an Invalid error pointing at LocalDataFiles", err)
	}
	copies, err := reader.LocalDataFiles(ctx, companies, 0, t.TempDir())
	if err != nil || len(copies) == 0 {
		t.Fatalf("LocalDataFiles: %v %v", copies, err)
	}
	for _, c := range copies {
		if b, err := os.ReadFile(c); err != nil || !bytes.HasPrefix(b, []byte("PAR1")) {
			t.Fatalf("copied data file %s is not Parquet: %v", c, err)
		}
	}

	// The catalog's rows are in PostgreSQL and point into the bucket.
	locs := catalogRows(t, ctx, pg.uri)
	for _, p := range []string{"crm_companies_v1", "crm_contacts_v1", "crm_deals_v1"} {
		loc := locs["marketing."+p]
		if !strings.HasPrefix(loc, "s3://"+objects.bucket+"/warehouse/marketing.db/"+p+"/metadata/") {
			t.Fatalf("PostgreSQL has metadata location %q for marketing.%s, want one in the bucket", loc, p)
		}
	}

	// The bucket, listed with a plain S3 client, holds the landings, their manifests and
	// the ports' data and metadata (staged models are deleted once published).
	keys := objects.list(t, ctx)
	for _, want := range []string{
		"lake/raw/marketing/hubspot/contacts/", "lake/raw/marketing/hubspot/contacts/_manifests/",
		"lake/raw/marketing/hubspot/companies/", "lake/raw/marketing/hubspot/deals/",
		"warehouse/marketing.db/crm_contacts_v1/data/", "warehouse/marketing.db/crm_contacts_v1/metadata/",
		"warehouse/marketing.db/crm_companies_v1/data/", "warehouse/marketing.db/crm_deals_v1/data/",
	} {
		if !slices.ContainsFunc(keys, func(k string) bool { return strings.HasPrefix(k, want) }) {
			t.Errorf("no object under %s in the bucket (%d objects)", want, len(keys))
		}
	}
	for _, c := range copies {
		rel, _ := filepath.Rel(filepath.Dir(filepath.Dir(c)), c) // data/<file>.parquet
		if !slices.ContainsFunc(keys, func(k string) bool { return strings.HasSuffix(k, "/"+filepath.ToSlash(rel)) }) {
			t.Errorf("data file %s is not in the bucket", rel)
		}
	}

	// Nothing went to the local disk: no local lake, and the scratch space is empty
	// again (DuckDB's inputs and outputs were temporary copies).
	if after := listTree(t, localLake); !slices.Equal(before, after) {
		t.Errorf("the local lake %s changed: %d entries before, %d after", localLake, len(before), len(after))
	}
	if left := listTree(t, cfg.WorkDir); len(left) > 0 {
		t.Errorf("the worker left files in its scratch space: %v", left)
	}
}

// productsOf is a mesh of one domain with only the named products.
func productsOf(d mesh.Domain, names ...string) mesh.Mesh {
	d.Products = slices.DeleteFunc(slices.Clone(d.Products), func(p mesh.Product) bool { return !slices.Contains(names, p.Name) })
	return mesh.Mesh{Domains: []mesh.Domain{d}}
}

// catalogRows reads iceberg-go's table of tables straight from PostgreSQL:
// "namespace.table" → metadata location.
func catalogRows(t *testing.T, ctx context.Context, uri string) map[string]string {
	t.Helper()
	db, err := sql.Open("pgx", uri)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT table_namespace, table_name, metadata_location FROM iceberg_tables WHERE catalog_name = 'meshflow'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var ns, name string
		var loc sql.NullString
		if err := rows.Scan(&ns, &name, &loc); err != nil {
			t.Fatal(err)
		}
		out[ns+"."+name] = loc.String
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// listTree lists the entries under dir (none when it does not exist).
func listTree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			out = append(out, p)
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return out
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// --- PostgreSQL -------------------------------------------------------------------

type postgres struct {
	uri      string // postgres://meshflow:<password>@127.0.0.1:<port>/meshflow
	password string
}

// startPostgres runs a throwaway PostgreSQL server (dev/pgcluster) and stops it when
// the test ends.
func startPostgres(t *testing.T, ctx context.Context) postgres {
	t.Helper()
	c, err := pgcluster.Start(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Error(err)
		}
	})
	return postgres{uri: c.URI("", "", ""), password: c.Password}
}

// --- S3 -------------------------------------------------------------------------------

type s3Server struct {
	endpoint, key, secret, bucket string
	client                        *s3.Client
}

// versitygwBin finds the S3 server: $MESHFLOW_VERSITYGW_BIN (set by the Makefile) or
// bin/versitygw in the working directory or a parent.
func versitygwBin(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("MESHFLOW_VERSITYGW_BIN")
	if bin == "" {
		bin = findUp("bin/versitygw")
	}
	if _, err := os.Stat(bin); bin == "" || err != nil {
		t.Fatalf("the S3 server bin/versitygw is missing (%q): `make test` builds it (or run `make bin/versitygw`)", bin)
	}
	return bin
}

// startS3 runs versitygw with its POSIX backend on a temporary directory and a free
// loopback port, and creates a bucket.
func startS3(t *testing.T, ctx context.Context, bin string) *s3Server {
	t.Helper()
	dir := t.TempDir()
	root, meta := filepath.Join(dir, "data"), filepath.Join(dir, "meta")
	for _, d := range []string{root, meta} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	s := &s3Server{key: "meshflow-test", secret: "s3-" + strconv.FormatInt(time.Now().UnixNano(), 36), bucket: "meshflow"}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(stack.FreePort()))
	s.endpoint = "http://" + addr
	// Metadata (ETags, content types) in a sidecar directory rather than extended
	// attributes, which not every CI filesystem offers.
	srv := startProcess(t, "versitygw", nil, bin, "--access", s.key, "--secret", s.secret, "--port", addr, "--quiet",
		"posix", "--sidecar", meta, root)
	t.Cleanup(func() { srv.stop(t, syscall.SIGTERM) })

	s.client = s3.New(s3.Options{
		BaseEndpoint: aws.String(s.endpoint), Region: "us-east-1", UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(s.key, s.secret, ""),
	})
	srv.waitReady(t, ctx, func(ctx context.Context) error {
		_, err := s.client.ListBuckets(ctx, &s3.ListBucketsInput{})
		return err
	})
	if _, err := s.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(s.bucket)}); err != nil {
		t.Fatal(err)
	}
	return s
}

// list lists every key in the bucket.
func (s *s3Server) list(t *testing.T, ctx context.Context) []string {
	t.Helper()
	var keys []string
	pages := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys
}

// findUp looks for rel in the working directory and its parents.
func findUp(rel string) string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		p := filepath.Join(dir, rel)
		if _, err := os.Stat(p); err == nil {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// --- processes ------------------------------------------------------------------------

// process is a server the test started, in its own process group so that stopping it
// also stops whatever it forked (PostgreSQL's backends).
type process struct {
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{} // closed when it exited
	err  error         // its exit status, once done is closed
}

func startProcess(t *testing.T, name string, cred *syscall.Credential, bin string, args ...string) *process {
	t.Helper()
	p := &process{name: name, cmd: exec.Command(bin, args...), out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: cred}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return p
}

// waitReady calls ready until it succeeds, failing the test when the process exits
// or 30 seconds pass.
func (p *process) waitReady(t *testing.T, ctx context.Context, ready func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		attempt, cancelAttempt := context.WithTimeout(ctx, 2*time.Second)
		err := ready(attempt)
		cancelAttempt()
		if err == nil {
			return
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited before it was ready (%v):\n%s", p.name, p.err, p.out)
		case <-ctx.Done():
			t.Fatalf("%s not ready after 30s: %v\n%s", p.name, err, p.out)
		case <-tick.C:
		}
	}
}

// stop signals the process group and waits for it to exit, killing it after 10 s.
func (p *process) stop(t *testing.T, sig syscall.Signal) {
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, sig)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Logf("%s did not stop on %v within 10s; killing it", p.name, sig)
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
}

// syncBuffer collects a server's output for failure messages.
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
