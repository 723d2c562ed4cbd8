package host

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
	"github.com/meshflow/meshflow/framework/source"
)

// Status is the outcome of one doctor check.
type Status string

const (
	OK      Status = "ok"
	Fail    Status = "FAIL"
	Skipped Status = "skip"
	// Warn is a finding that does not make the configuration wrong, such as a domain
	// queue no worker polls yet (the doctor runs before the workers start, too).
	Warn Status = "warn"
)

// Check is one line of the doctor's report.
type Check struct {
	Name   string // temporal, namespace, search attributes, lake, catalog, or a source's name
	Status Status
	// Detail says what was found; for a failure, what is wrong and what to change.
	// It never holds a secret.
	Detail string
}

func (c Check) String() string { return fmt.Sprintf("%-4s  %-17s  %s", c.Status, c.Name, c.Detail) }

// DoctorOptions tunes Doctor; nil means defaults.
type DoctorOptions struct {
	Timeout time.Duration  // time limit of each check [10s]
	Report  func(Check)    // called as each check finishes, for progressive output
	Log     zerolog.Logger // the Temporal client's logger [the zero Logger: silent]
	// Domains are the domains whose task queues need a worker; none = no workers check.
	Domains []mesh.Domain
	// RetryWait is the longest a source's check waits, within its time limit, before
	// its one retry after a rate limit [3s]; a shorter Retry-After is honoured.
	RetryWait time.Duration
	// Sleep waits before that retry; tests replace it. It must return ctx.Err()
	// when ctx ends first [a timer].
	Sleep func(ctx context.Context, d time.Duration) error
}

// Doctor checks a configuration end to end: Temporal is reachable, the namespace and
// the search attributes the workflows set exist, a worker polls each of the
// options' domain queues (a warning when none does), the lake is writable, the catalog
// answers, and every configured source accepts its credentials (its cheapest
// authenticated call). Sources without credentials are skipped. It returns every
// check, in order; a configuration is healthy when none failed.
func Doctor(ctx context.Context, c Config, o *DoctorOptions) []Check {
	var opts DoctorOptions
	if o != nil {
		opts = *o
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.RetryWait <= 0 {
		opts.RetryWait = 3 * time.Second
	}
	if opts.Sleep == nil {
		opts.Sleep = source.Sleep
	}
	d := &doctor{cfg: c, opts: opts}
	cl := d.temporal(ctx) // one connection for both Temporal checks
	d.workers(ctx, cl)
	if cl != nil {
		cl.Close()
	}
	d.lake(ctx)
	d.catalog(ctx)
	for _, conn := range Connectors() {
		d.source(ctx, conn)
	}
	return d.checks
}

// Failed counts the failed checks.
func Failed(checks []Check) int {
	n := 0
	for _, c := range checks {
		if c.Status == Fail {
			n++
		}
	}
	return n
}

type doctor struct {
	cfg    Config
	opts   DoctorOptions
	checks []Check
}

func (d *doctor) add(name string, s Status, format string, args ...any) {
	c := Check{Name: name, Status: s, Detail: fmt.Sprintf(format, args...)}
	d.checks = append(d.checks, c)
	if d.opts.Report != nil {
		d.opts.Report(c)
	}
}

func (d *doctor) timeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d.opts.Timeout)
}

// temporal checks the frontend, then the namespace, then the search attributes: each
// needs the one before. It returns the client it connected with, for the workers
// check, or nil when Temporal is unreachable.
func (d *doctor) temporal(ctx context.Context) client.Client {
	c := d.cfg
	tctx, cancel := d.timeout(ctx)
	defer cancel()
	copts, err := c.ClientOptions(d.opts.Log)
	if err != nil {
		d.add("temporal", Fail, "%v", err)
		d.add("namespace", Skipped, "Temporal is unreachable")
		d.add("search attributes", Skipped, "Temporal is unreachable")
		return nil
	}
	cl, err := client.DialContext(tctx, copts)
	if err != nil {
		hint := "check MESHFLOW_TEMPORAL_ADDRESS and that the frontend is up"
		if c.TemporalAuth.TLS {
			hint += ", and the MESHFLOW_TEMPORAL_TLS_* files or the API key it expects"
		}
		d.add("temporal", Fail, "cannot connect to Temporal at %s (time limit %s): %v; %s", c.TemporalAddress, d.opts.Timeout, err, hint)
		d.add("namespace", Skipped, "Temporal is unreachable")
		d.add("search attributes", Skipped, "Temporal is unreachable")
		return nil
	}
	version := ""
	if info, err := cl.WorkflowService().GetSystemInfo(tctx, &workflowservice.GetSystemInfoRequest{}); err == nil && info.GetServerVersion() != "" {
		version = " (server " + info.GetServerVersion() + ")"
	}
	d.add("temporal", OK, "reachable at %s%s", c.TemporalAddress, version)

	nctx, cancel := d.timeout(ctx)
	defer cancel()
	ns, err := cl.WorkflowService().DescribeNamespace(nctx, &workflowservice.DescribeNamespaceRequest{Namespace: c.Namespace})
	var notFound *serviceerror.NamespaceNotFound
	var plainNotFound *serviceerror.NotFound
	switch {
	case errors.As(err, &notFound) || errors.As(err, &plainNotFound):
		d.add("namespace", Fail, "namespace %q does not exist: create it (`temporal operator namespace create --namespace %s`) or set MESHFLOW_TEMPORAL_NAMESPACE", c.Namespace, c.Namespace)
		d.add("search attributes", Skipped, "the namespace does not exist")
		return cl
	case err != nil:
		d.add("namespace", Fail, "describe namespace %q: %v; check MESHFLOW_TEMPORAL_NAMESPACE and that the client may read it", c.Namespace, err)
		d.add("search attributes", Skipped, "the namespace could not be read")
		return cl
	}
	retention := ""
	if r := ns.GetConfig().GetWorkflowExecutionRetentionTtl(); r != nil {
		retention = fmt.Sprintf(" (retention %s)", r.AsDuration())
	}
	d.add("namespace", OK, "%s exists%s", c.Namespace, retention)
	d.searchAttributes(ctx, cl)
	return cl
}

// searchAttributes compares the namespace's custom search attributes with the ones
// the workflows set: a workflow started with an unknown one is refused.
func (d *doctor) searchAttributes(ctx context.Context, cl client.Client) {
	ns := d.cfg.Namespace
	sctx, cancel := d.timeout(ctx)
	defer cancel()
	resp, err := cl.OperatorService().ListSearchAttributes(sctx, &operatorservice.ListSearchAttributesRequest{Namespace: ns})
	if err != nil {
		d.add("search attributes", Fail, "list the search attributes of %s: %v", ns, err)
		return
	}
	have := resp.GetCustomAttributes()
	var wrong, fixes []string
	names := slices.Sorted(maps.Keys(flow.SearchAttributes))
	for _, name := range names {
		typ := flow.SearchAttributes[name]
		want, err := enumspb.IndexedValueTypeFromString(typ)
		if err != nil {
			d.add("search attributes", Fail, "flow declares %s with type %q, which Temporal does not know: %v", name, typ, err)
			return
		}
		got, ok := have[name]
		switch {
		case !ok:
			wrong = append(wrong, name+" is missing")
			fixes = append(fixes, fmt.Sprintf("temporal operator search-attribute create --namespace %s --name %s --type %s", ns, name, typ))
		case got != want:
			wrong = append(wrong, fmt.Sprintf("%s is %s, not %s", name, got, typ))
		}
	}
	if len(wrong) > 0 {
		detail := strings.Join(wrong, "; ")
		if len(fixes) > 0 {
			detail += "; run: " + strings.Join(fixes, " && ")
		}
		d.add("search attributes", Fail, "%s", detail)
		return
	}
	d.add("search attributes", OK, "%s present", strings.Join(names, ", "))
}

// pollerSeenWithin is how recently a worker must have polled to count as running: a
// live worker's long poll comes back within about a minute, while Temporal lists a
// worker that is gone for a few minutes more.
const pollerSeenWithin = 2 * time.Minute

// Pollers returns the identities of the workers polling a task queue for workflow
// tasks (Temporal's DescribeTaskQueue). A queue without one runs nothing: its
// workflows wait until a worker starts.
func Pollers(ctx context.Context, cl client.Client, queue string) ([]string, error) {
	resp, err := cl.DescribeTaskQueue(ctx, queue, enumspb.TASK_QUEUE_TYPE_WORKFLOW)
	if err != nil {
		return nil, errs.E(errs.Transient, "describe task queue "+queue, err)
	}
	var ids []string
	for _, p := range resp.GetPollers() {
		if t := p.GetLastAccessTime(); t != nil && time.Since(t.AsTime()) > pollerSeenWithin {
			continue
		}
		ids = append(ids, p.GetIdentity())
	}
	return ids, nil
}

// NoWorkerHint says what to do about a domain queue no worker polls.
func NoWorkerHint(domains ...string) string {
	return fmt.Sprintf("start one with `bin/mesh-worker --domains %s` or `make dev`", strings.Join(domains, ","))
}

// workers checks that a worker polls every domain's queue, once Temporal answered,
// with the client the temporal check connected with (nil when it could not).
// None is a warning, not a failure: the workflows wait on the queue until one starts.
func (d *doctor) workers(ctx context.Context, cl client.Client) {
	if len(d.opts.Domains) == 0 {
		return
	}
	if cl == nil || !d.passed("namespace") {
		d.add("workers", Skipped, "Temporal or the namespace is unusable")
		return
	}
	wctx, cancel := d.timeout(ctx)
	defer cancel()
	var polled, idle, idleDomains []string
	for _, dom := range d.opts.Domains {
		ids, err := Pollers(wctx, cl, dom.TaskQueue())
		if err != nil {
			d.add("workers", Fail, "%v", err)
			return
		}
		if len(ids) == 0 {
			idle, idleDomains = append(idle, dom.TaskQueue()), append(idleDomains, dom.Name)
			continue
		}
		polled = append(polled, fmt.Sprintf("%s (%d)", dom.TaskQueue(), len(ids)))
	}
	if len(idle) > 0 {
		d.add("workers", Warn, "no worker polls %s: runs there wait until one does; %s", strings.Join(idle, ", "), NoWorkerHint(idleDomains...))
		return
	}
	d.add("workers", OK, "a worker polls every domain queue: %s", strings.Join(polled, ", "))
}

// passed reports whether the named check ran and was ok.
func (d *doctor) passed(name string) bool {
	for _, c := range d.checks {
		if c.Name == name {
			return c.Status == OK
		}
	}
	return false
}

// lake writes, reads back and deletes a small object under doctor/.
func (d *doctor) lake(ctx context.Context) {
	c := d.cfg
	lctx, cancel := d.timeout(ctx)
	defer cancel()
	const hint = "check MESHFLOW_LAKE, and for an s3:// lake MESHFLOW_S3_ENDPOINT and the bucket's credentials (AWS_ACCESS_KEY_ID_FILE, AWS_SECRET_ACCESS_KEY_FILE)"
	l, err := openLake(lctx, c)
	if err != nil {
		d.add("lake", Fail, "open %s: %v; %s", c.Lake, rootCause(err), hint)
		return
	}
	defer l.Close()
	key := "doctor/" + randomHex(8)
	payload := []byte("meshflow doctor " + time.Now().UTC().Format(time.RFC3339) + "\n")
	if err := l.Bucket.WriteAll(lctx, key, payload, nil); err != nil {
		d.add("lake", Fail, "write %s to %s: %v; %s", key, c.Lake, rootCause(err), hint)
		return
	}
	got, err := l.Bucket.ReadAll(lctx, key)
	if err != nil || !bytes.Equal(got, payload) {
		if err == nil {
			err = fmt.Errorf("read back %d bytes that differ from the %d written", len(got), len(payload))
		}
		d.add("lake", Fail, "read back %s from %s: %v; %s", key, c.Lake, rootCause(err), hint)
		return
	}
	if err := l.Bucket.Delete(lctx, key); err != nil {
		d.add("lake", Fail, "delete %s from %s: %v; the lake's credentials need delete rights (landings replace staged files)", key, c.Lake, rootCause(err))
		return
	}
	d.add("lake", OK, "wrote, read back and deleted %s in %s", key, c.Lake)
}

// catalog opens the port catalog and lists its tables.
func (d *doctor) catalog(ctx context.Context) {
	c := d.cfg
	cctx, cancel := d.timeout(ctx)
	defer cancel()
	uri := maskURI(c.CatalogURI)
	const hint = "check MESHFLOW_CATALOG_URI (or MESHFLOW_CATALOG_URI_FILE) and MESHFLOW_WAREHOUSE"
	ports, err := openPorts(cctx, c)
	if err != nil {
		d.add("catalog", Fail, "open %s: %v; %s", uri, d.scrub(rootCause(err)), hint)
		return
	}
	defer ports.Close()
	tables, err := ports.Tables(cctx, "")
	if err != nil {
		d.add("catalog", Fail, "list the tables of %s: %v; %s", uri, d.scrub(rootCause(err)), hint)
		return
	}
	d.add("catalog", OK, "%s answers: %d port tables, warehouse %s", uri, len(tables), c.Warehouse)
}

// scrub masks the catalog URI's password should a driver's error quote it.
func (d *doctor) scrub(err error) string {
	msg := err.Error()
	if pw := uriPassword(d.cfg.CatalogURI); pw != "" {
		msg = strings.ReplaceAll(msg, pw, "xxxxx")
	}
	return msg
}

// source builds one configured connector alone (so that one bad configuration does not
// hide the others) and makes its cheapest authenticated call, naming the fix for each
// way it can fail.
func (d *doctor) source(ctx context.Context, conn source.Connector) {
	vals := d.cfg.Sources[conn.Name]
	if !conn.Configured(vals) {
		d.add(conn.Name, Skipped, "no credentials: set %s to read it", credentialHint(conn))
		return
	}
	src, err := conn.Open(vals)
	if err != nil {
		d.add(conn.Name, Fail, "%v", err) // the connector's validation names the variable
		return
	}
	sctx, cancel := d.timeout(ctx)
	defer cancel()
	if err := d.checkSource(sctx, src); err != nil {
		d.add(conn.Name, Fail, "%v; %s", err, sourceFix(conn, vals, err))
		return
	}
	_, url := baseURL(conn, vals)
	detail := "credentials accepted by " + url
	if !slices.ContainsFunc(conn.Vars, func(v source.Var) bool { return v.Secret || v.FileContents }) {
		detail = "listed " + url // a bucket read with the worker's own role: nothing to accept
	}
	if t, ok := src.(source.Tuned); ok {
		detail += " (" + t.Tuning().String() + ")"
	}
	d.add(conn.Name, OK, "%s", detail)
}

// checkSource makes src's check, and once more after a rate limit: one 429 says
// the quota is busy, not that the configuration is wrong. Before the retry it waits
// what the source asked (its Retry-After, else a second), at most RetryWait and never
// past half the time the check has left.
func (d *doctor) checkSource(ctx context.Context, src source.Source) error {
	err := src.Check(ctx)
	e, _ := errs.As(err)
	if !errs.Is(err, errs.RateLimited) && !(errs.Is(err, errs.Transient) && e != nil && e.RetryAfter > 0) {
		return err
	}
	wait := time.Second
	if e != nil && e.RetryAfter > 0 {
		wait = e.RetryAfter
	}
	wait = min(wait, d.opts.RetryWait)
	if deadline, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(deadline)/2)
	}
	if serr := d.opts.Sleep(ctx, wait); serr != nil {
		return err
	}
	return src.Check(ctx)
}

// sourceFix names what to change for a failed check of conn configured by vals, by
// what failed.
func sourceFix(conn source.Connector, vals source.Values, err error) string {
	name, url := baseURL(conn, vals)
	at := fmt.Sprintf("%s (%s)", name, url)
	e, _ := errs.As(err)
	limit := "the source's rate limit"
	if e != nil && e.Limit != "" {
		limit = e.Limit
	}
	switch errs.KindOf(err) {
	case errs.Permission:
		return "fix the credentials: " + credentialHint(conn)
	case errs.NotFound:
		return "check where the data is: " + locationHint(conn)
	case errs.RateLimited, errs.Transient:
		if e != nil && (e.Kind == errs.RateLimited || e.RetryAfter > 0) {
			return fmt.Sprintf("rate limited twice (%s): try again later; another process may be using the same quota (a running landing, another worker)", limit)
		}
		return "check " + at + " and the network path to it"
	case errs.Quota:
		return fmt.Sprintf("%s is spent until %s: try again after it resets; another process may be using the same quota", limit, e.Until.Format(time.RFC3339))
	case errs.Invalid:
		return "the API refused the check's request: check that " + at + " is the API's address"
	default:
		return "check " + at + " and the network path to it"
	}
}

// openLake and openPorts open the stores as OpenStores does, one at a time, so the
// doctor can tell which one is wrong.
// openLake and openPorts open the configured stores the one way OpenStores and the
// doctor's checks both use.
func openLake(ctx context.Context, c Config) (*lake.Lake, error) {
	return lake.OpenWith(ctx, c.Lake, c.S3.LakeOptions())
}

func openPorts(ctx context.Context, c Config) (*port.Catalog, error) {
	return port.Open(ctx, port.Options{CatalogURI: c.CatalogURI, Warehouse: c.Warehouse, IOProperties: c.S3.IcebergProperties()})
}

// rootCause drops the wrapping a failure collected on its way up, keeping the
// innermost message that still says what happened.
func rootCause(err error) error {
	for {
		var e *errs.Error
		if !errors.As(err, &e) || e.Err == nil {
			return err
		}
		err = e.Err
	}
}

// maskURI masks the password of a URI (postgres://user:xxxxx@host/db).
func maskURI(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		scheme, _, _ := strings.Cut(uri, "://")
		return scheme + "://…" // it may hold a password url.Parse could not find
	}
	return u.Redacted()
}

// uriPassword is the password in a URI, or "".
func uriPassword(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.User == nil {
		return ""
	}
	pw, _ := u.User.Password()
	return pw
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}
