package host_test

import (
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	enumspb "go.temporal.io/api/enums/v1"
	namespacepb "go.temporal.io/api/namespace/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	_ "gocloud.dev/blob/fileblob"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/meshflow/meshflow/dev/sandbox"
	"github.com/meshflow/meshflow/dev/stack"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/source"
	"github.com/meshflow/meshflow/workers/host"
)

// fakeFrontend answers the three calls the doctor makes of a Temporal frontend, for one
// namespace holding the given custom search attributes.
type fakeFrontend struct {
	workflowservice.UnimplementedWorkflowServiceServer
	operatorservice.UnimplementedOperatorServiceServer
	namespace string
	attrs     map[string]enumspb.IndexedValueType
	pollers   map[string]int // workers polling each task queue
}

func (f *fakeFrontend) DescribeTaskQueue(_ context.Context, r *workflowservice.DescribeTaskQueueRequest) (*workflowservice.DescribeTaskQueueResponse, error) {
	resp := &workflowservice.DescribeTaskQueueResponse{}
	for i := range f.pollers[r.GetTaskQueue().GetName()] {
		resp.Pollers = append(resp.Pollers, &taskqueuepb.PollerInfo{Identity: fmt.Sprintf("worker-%d@host", i), LastAccessTime: timestamppb.Now()})
	}
	return resp, nil
}

func (f *fakeFrontend) GetSystemInfo(context.Context, *workflowservice.GetSystemInfoRequest) (*workflowservice.GetSystemInfoResponse, error) {
	return &workflowservice.GetSystemInfoResponse{ServerVersion: "1.31.0-fake"}, nil
}

func (f *fakeFrontend) DescribeNamespace(_ context.Context, r *workflowservice.DescribeNamespaceRequest) (*workflowservice.DescribeNamespaceResponse, error) {
	if r.GetNamespace() != f.namespace {
		return nil, serviceerror.ToStatus(serviceerror.NewNamespaceNotFound(r.GetNamespace())).Err() // as the server sends it
	}
	return &workflowservice.DescribeNamespaceResponse{
		NamespaceInfo: &namespacepb.NamespaceInfo{Name: f.namespace},
		Config:        &namespacepb.NamespaceConfig{WorkflowExecutionRetentionTtl: durationpb.New(72 * time.Hour)},
	}, nil
}

func (f *fakeFrontend) ListSearchAttributes(_ context.Context, r *operatorservice.ListSearchAttributesRequest) (*operatorservice.ListSearchAttributesResponse, error) {
	if r.GetNamespace() != f.namespace {
		return nil, serviceerror.ToStatus(serviceerror.NewNamespaceNotFound(r.GetNamespace())).Err() // as the server sends it
	}
	return &operatorservice.ListSearchAttributesResponse{CustomAttributes: f.attrs}, nil
}

// startFrontend serves f over gRPC on a loopback port and returns its address.
func startFrontend(t *testing.T, f *fakeFrontend) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	workflowservice.RegisterWorkflowServiceServer(srv, f)
	operatorservice.RegisterOperatorServiceServer(srv, f)
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	return ln.Addr().String()
}

// meshAttrs are the search attributes the workflows set, as Temporal types them.
func meshAttrs(t *testing.T) map[string]enumspb.IndexedValueType {
	out := map[string]enumspb.IndexedValueType{}
	for name, typ := range flow.SearchAttributes {
		v, err := enumspb.IndexedValueTypeFromString(typ)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = v
	}
	return out
}

// sandboxConfig is a configuration whose every source reads an in-process sandbox
// over real HTTP, with a fresh local lake.
func sandboxConfig(t *testing.T) host.Config {
	t.Helper()
	c, _, _ := sandboxed(t)
	return c
}

// sandboxed is sandboxConfig, with the sandbox (to inject faults into) and its URL.
func sandboxed(t *testing.T) (host.Config, *sandbox.Server, string) {
	t.Helper()
	sb := sandbox.New(&sandbox.Options{Connectors: host.Connectors()})
	t.Cleanup(func() { sb.Close() }) // the platform database it starts
	ts := httptest.NewServer(sb)
	t.Cleanup(ts.Close)
	c, err := host.ConfigFromEnv(func(k string) string {
		if k == "MESHFLOW_LAKE" {
			return t.TempDir()
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	c, used := (&stack.Stack{Sandbox: sb, SandboxURL: ts.URL}).SandboxConfig(c)
	if want := names(host.Connectors()); !slices.Equal(used, want) {
		t.Fatalf("sandbox serves %v, want every source %v", used, want)
	}
	return c, sb, ts.URL
}

// names are the connectors' names.
func names(cs []source.Connector) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

// byName indexes a report by check name.
func byName(t *testing.T, checks []host.Check) map[string]host.Check {
	t.Helper()
	out := map[string]host.Check{}
	for _, c := range checks {
		out[c.Name] = c
	}
	return out
}

func TestDoctorAllOKAgainstTheSandbox(t *testing.T) {
	c := sandboxConfig(t)
	c.Namespace = "meshflow"
	c.TemporalAddress = startFrontend(t, &fakeFrontend{namespace: "meshflow", attrs: meshAttrs(t)})
	var reported []host.Check
	checks := host.Doctor(context.Background(), c, &host.DoctorOptions{Timeout: 20 * time.Second, Report: func(c host.Check) { reported = append(reported, c) }})
	want := append([]string{"temporal", "namespace", "search attributes", "lake", "catalog"}, names(host.Connectors())...)
	if len(checks) != len(want) || len(reported) != len(checks) {
		t.Fatalf("%d checks, %d reported, want %d: %v", len(checks), len(reported), len(want), checks)
	}
	for i, name := range want {
		if checks[i].Name != name || checks[i].Status != host.OK {
			t.Errorf("check %d = %s, want %s ok", i, checks[i], name)
		}
	}
	got := byName(t, checks)
	if d := got["temporal"].Detail; !strings.Contains(d, c.TemporalAddress) || !strings.Contains(d, "1.31.0-fake") {
		t.Errorf("temporal: %s", d)
	}
	if d := got["namespace"].Detail; !strings.Contains(d, "meshflow exists (retention 72h0m0s)") {
		t.Errorf("namespace: %s", d)
	}
	if d := got["catalog"].Detail; !strings.Contains(d, "0 port tables") {
		t.Errorf("catalog: %s", d)
	}
	if host.Failed(checks) != 0 {
		t.Errorf("Failed = %d", host.Failed(checks))
	}
}

func TestDoctorNamesTheVariableOfAWrongToken(t *testing.T) {
	const wrong = "pat-na1-not-the-sandbox-token"
	c := sandboxConfig(t).WithValue("hubspot", "HUBSPOT_TOKEN", wrong)
	c.TemporalAddress = startFrontend(t, &fakeFrontend{namespace: c.Namespace, attrs: meshAttrs(t)})
	checks := host.Doctor(context.Background(), c, &host.DoctorOptions{Timeout: 20 * time.Second})
	got := byName(t, checks)
	hs := got["hubspot"]
	if hs.Status != host.Fail || !strings.Contains(hs.Detail, "HUBSPOT_TOKEN") || !strings.Contains(hs.Detail, "HUBSPOT_TOKEN_FILE") {
		t.Fatalf("hubspot = %s", hs)
	}
	if strings.Contains(hs.Detail, wrong) {
		t.Fatalf("the report prints the token: %s", hs)
	}
	for _, name := range append([]string{"temporal", "lake", "catalog"}, names(host.Connectors())...) {
		if name != "hubspot" && got[name].Status != host.OK {
			t.Errorf("one wrong token affects %s", got[name])
		}
	}
	if host.Failed(checks) != 1 {
		t.Errorf("Failed = %d, want 1", host.Failed(checks))
	}
}

func TestDoctorReportsUnconfiguredSourcesAsSkipped(t *testing.T) {
	c := sandboxConfig(t).WithValue("jira", "JIRA_API_TOKEN", "").WithValue("pendo", "PENDO_INTEGRATION_KEY", "")
	c.TemporalAddress = startFrontend(t, &fakeFrontend{namespace: c.Namespace, attrs: meshAttrs(t)})
	got := byName(t, host.Doctor(context.Background(), c, nil))
	for name, hint := range map[string]string{"jira": "JIRA_EMAIL, JIRA_API_TOKEN or JIRA_API_TOKEN_FILE", "pendo": "PENDO_INTEGRATION_KEY"} {
		if got[name].Status != host.Skipped || !strings.Contains(got[name].Detail, hint) {
			t.Errorf("%s = %s, want skipped naming %s", name, got[name], hint)
		}
	}
	if got["hubspot"].Status != host.OK {
		t.Errorf("hubspot = %s", got["hubspot"])
	}
}

func TestDoctorFailsOnAnUnreachableTemporal(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	c := sandboxConfig(t)
	c.TemporalAddress = addr
	start := time.Now()
	checks := host.Doctor(context.Background(), c, &host.DoctorOptions{Timeout: 2 * time.Second})
	got := byName(t, checks)
	if tc := got["temporal"]; tc.Status != host.Fail || !strings.Contains(tc.Detail, addr) || !strings.Contains(tc.Detail, "MESHFLOW_TEMPORAL_ADDRESS") {
		t.Fatalf("temporal = %s", tc)
	}
	for _, name := range []string{"namespace", "search attributes"} {
		if got[name].Status != host.Skipped {
			t.Errorf("%s = %s, want skipped", name, got[name])
		}
	}
	if got["lake"].Status != host.OK || got["hubspot"].Status != host.OK {
		t.Errorf("the other checks still run: lake %s, hubspot %s", got["lake"], got["hubspot"])
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("doctor took %s with a 2s timeout per check", d)
	}
}

func TestDoctorNamesMissingNamespaceAndSearchAttributes(t *testing.T) {
	attrs := meshAttrs(t)
	delete(attrs, flow.AttrBackfill)
	attrs[flow.AttrPartition] = enumspb.INDEXED_VALUE_TYPE_TEXT
	c := sandboxConfig(t)
	c.Namespace = "meshflow"
	c.TemporalAddress = startFrontend(t, &fakeFrontend{namespace: "meshflow", attrs: attrs})
	got := byName(t, host.Doctor(context.Background(), c, nil))
	sa := got["search attributes"]
	for _, want := range []string{
		"MeshBackfill is missing",
		"temporal operator search-attribute create --namespace meshflow --name MeshBackfill --type Keyword",
		"MeshPartition is Text, not Keyword",
	} {
		if sa.Status != host.Fail || !strings.Contains(sa.Detail, want) {
			t.Errorf("search attributes = %s; want it to say %q", sa, want)
		}
	}

	c.Namespace = "nope"
	got = byName(t, host.Doctor(context.Background(), c, nil))
	if ns := got["namespace"]; ns.Status != host.Fail || !strings.Contains(ns.Detail, "temporal operator namespace create --namespace nope") || !strings.Contains(ns.Detail, "MESHFLOW_TEMPORAL_NAMESPACE") {
		t.Errorf("namespace = %s", ns)
	}
	if got["search attributes"].Status != host.Skipped {
		t.Errorf("search attributes = %s, want skipped", got["search attributes"])
	}
}

// A domain queue without a worker is a warning naming the queue and how to start one;
// the configuration still passes.
func TestDoctorWarnsAboutDomainQueuesWithoutAWorker(t *testing.T) {
	c := sandboxConfig(t)
	c.TemporalAddress = startFrontend(t, &fakeFrontend{namespace: c.Namespace, attrs: meshAttrs(t), pollers: map[string]int{"meshflow.marketing": 2}})
	domains := []mesh.Domain{{Name: "marketing"}, {Name: "product"}, {Name: "engineering"}}
	checks := host.Doctor(context.Background(), c, &host.DoctorOptions{Domains: domains})
	w := byName(t, checks)["workers"]
	for _, want := range []string{"no worker polls meshflow.product, meshflow.engineering", "bin/mesh-worker --domains product,engineering"} {
		if w.Status != host.Warn || !strings.Contains(w.Detail, want) {
			t.Errorf("workers = %s; want a warning saying %q", w, want)
		}
	}
	if checks[3].Name != "workers" || host.Failed(checks) != 0 {
		t.Errorf("the workers check comes after Temporal's and fails nothing: %v", checks)
	}

	got := byName(t, host.Doctor(context.Background(), c, &host.DoctorOptions{Domains: domains[:1]}))
	if w := got["workers"]; w.Status != host.OK || !strings.Contains(w.Detail, "meshflow.marketing (2)") {
		t.Errorf("workers = %s, want ok with marketing's two workers", w)
	}
	c.Namespace = "nope"
	if w := byName(t, host.Doctor(context.Background(), c, &host.DoctorOptions{Domains: domains}))["workers"]; w.Status != host.Skipped {
		t.Errorf("workers without a namespace = %s, want skipped", w)
	}
}

func TestDoctorFailsOnAnUnwritableLake(t *testing.T) {
	c := sandboxConfig(t)
	c.TemporalAddress = startFrontend(t, &fakeFrontend{namespace: c.Namespace, attrs: meshAttrs(t)})
	c.Lake = "nosuchscheme://bucket/lake"
	got := byName(t, host.Doctor(context.Background(), c, nil))
	if l := got["lake"]; l.Status != host.Fail || !strings.Contains(l.Detail, "MESHFLOW_LAKE") {
		t.Errorf("lake = %s", l)
	}
	c.CatalogURI = "postgres://meshflow:hunter2secret@127.0.0.1:1/catalog"
	got = byName(t, host.Doctor(context.Background(), c, nil))
	if cat := got["catalog"]; cat.Status != host.Fail || !strings.Contains(cat.Detail, "MESHFLOW_CATALOG_URI") || strings.Contains(cat.Detail, "hunter2secret") {
		t.Errorf("catalog = %s", cat)
	}
}

// TestDoctorOnTheDevServer checks the doctor's Temporal calls against the real dev
// server the demo runs, with the search attributes the stack registers.
func TestDoctorOnTheDevServer(t *testing.T) {
	if testing.Short() {
		t.Skip("needs bin/temporal")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := stack.Start(ctx, stack.Options{Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Stop() })
	c, err := host.ConfigFromEnv(func(k string) string {
		switch k {
		case "MESHFLOW_LAKE":
			return t.TempDir()
		case "MESHFLOW_TEMPORAL_ADDRESS":
			return st.Dev.FrontendHostPort()
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	c, _ = st.SandboxConfig(c)
	// A domain of its own, whose queue no worker polls until the test starts one.
	dom := mesh.Domain{Name: "doctor_" + strings.ReplaceAll(t.Name(), "/", "_")}
	opts := &host.DoctorOptions{Domains: []mesh.Domain{dom}}
	if w := byName(t, host.Doctor(ctx, c, opts))["workers"]; w.Status != host.Warn || !strings.Contains(w.Detail, "no worker polls "+dom.TaskQueue()) {
		t.Errorf("workers before any worker = %s", w)
	}
	w := worker.New(st.Client, dom.TaskQueue(), worker.Options{})
	w.RegisterWorkflowWithOptions(func(workflow.Context) error { return nil }, workflow.RegisterOptions{Name: "Nothing"})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	// Temporal learns of the worker when its first poll arrives.
	for tick := time.NewTicker(100 * time.Millisecond); ; <-tick.C {
		ids, err := host.Pollers(ctx, st.Client, dom.TaskQueue())
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) > 0 {
			tick.Stop()
			break
		}
	}
	checks := host.Doctor(ctx, c, opts)
	for _, ch := range checks {
		t.Log(ch)
		if ch.Status != host.OK {
			t.Errorf("%s", ch)
		}
	}
	if byName(t, checks)["workers"].Detail != "a worker polls every domain queue: "+dom.TaskQueue()+" (1)" {
		t.Errorf("workers = %s", byName(t, checks)["workers"])
	}
	c.Namespace = "no-such-namespace"
	if ns := byName(t, host.Doctor(ctx, c, nil))["namespace"]; ns.Status != host.Fail {
		t.Errorf("namespace = %s", ns)
	}
}
