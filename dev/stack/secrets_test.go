package stack_test

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/rs/zerolog"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/meshflow/meshflow/dev/stack"
	"github.com/meshflow/meshflow/domains"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/source"
	"github.com/meshflow/meshflow/workers/host"
)

// leakGA4AccessPrefix starts every access token the sandbox's GA4 token endpoint
// issues: a secret no configuration holds.
const leakGA4AccessPrefix = "ya29."

// TestNoSecretLeaks runs every product on the real dev server, every registered
// connector reading its sandbox with the sandbox's credentials — the last one's
// secret wrong, so failures are exercised too — then scans everything the run left
// behind for each secret and its base64 and URL encodings: the worker's and the
// Temporal client's logs, the dev server's output, every error returned, every
// workflow's full history (payloads decoded, failures, search attributes, memo) and
// every file of the lake: manifests, run records, each value of every column of
// every Parquet file (the raw records in _raw included), the Iceberg metadata and
// catalog.
func TestNoSecretLeaks(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: needs bin/temporal")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()

	logs, serverLog := &leakBuffer{}, &leakBuffer{}
	// Debug level: whatever any layer logs is captured and scanned.
	st := startStack(t, ctx, stack.Options{Log: zerolog.New(logs).Level(zerolog.DebugLevel), ServerLog: serverLog})

	lakeDir := t.TempDir()
	base, err := host.ConfigFromEnv(func(k string) string { return map[string]string{"MESHFLOW_LAKE": lakeDir}[k] })
	if err != nil {
		t.Fatal(err)
	}
	base.WorkDir = t.TempDir()
	right, used := st.SandboxConfig(base)
	wrong, wrongVar := lastSecret(t, used)
	sandboxed := right.WithValue(wrong, wrongVar, right.Sources[wrong][wrongVar]+"-WRONG-e57f02d3")
	// The configuration comes from the environment, as a worker reads it (the secrets
	// in files), but for the settings no variable carries, set as SandboxConfig sets
	// them (unpaced requests, a shorter history).
	rendered, err := stack.Env(sandboxed, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, kv := range rendered {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	cfg, err := host.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	for name, vals := range sandboxed.Sources {
		for k, v := range vals {
			if _, ok := host.LookupVar(k); !ok {
				cfg = cfg.WithValue(name, k, v)
			}
		}
	}
	stores, err := host.OpenStores(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stores.Close() })
	m := domains.Mesh()
	if _, err := st.StartWorker(cfg, m, stores); err != nil {
		t.Fatal(err)
	}

	var runErrs []leakText
	failed, err := stack.RunAll(ctx, st.Client, m, func(e mesh.Entry, _ flow.RunResult, err error) {
		if err != nil {
			where := "run errors: " + e.Ref().String()
			runErrs = append(runErrs, leakText{where, err.Error()}, leakText{where + " (%+v)", fmt.Sprintf("%+v", err)}, leakText{where + " (explained)", flow.Explain(err)})
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	for ref, err := range failed {
		t.Logf("%s failed: %s", ref, flow.Explain(err))
	}
	// The run must have used every secret: the wrong one failed clearly, and each
	// source with a right one committed a landing.
	named := false
	for _, err := range failed {
		named = named || strings.Contains(flow.Explain(err), wrongVar)
	}
	if !named {
		t.Errorf("no run failed naming %s, whose value is wrong (failed: %v)", wrongVar, slices.Sorted(maps.Keys(failed)))
	}
	for _, src := range used {
		if src != wrong && !landed(lakeDir, src) {
			t.Errorf("nothing was landed from %s: its secret was not exercised", src)
		}
	}

	// The capture must hold what the worker logged, the failed landing included.
	if !strings.Contains(logs.String(), wrongVar) {
		t.Errorf("the captured log does not show the failed landing of %s:\n%s", wrong, logs.String())
	}

	sc := newLeakScanner(t, right, sandboxed)
	sc.selfCheck()
	sc.scanLines("log: worker and client", logs.String())
	sc.scanLines("log: dev server", serverLog.String())
	for _, e := range runErrs {
		sc.scan(e.where, e.text)
	}
	sc.scanTemporal(ctx, st, m)
	sc.scanTree("lake", lakeDir)
	sc.scanTree("work dir", cfg.WorkDir)
	sc.report()
}

// landed reports whether any stream of src has a committed manifest in the lake.
func landed(lakeDir, src string) bool {
	found, _ := filepath.Glob(filepath.Join(lakeDir, "raw", "*", src, "*", "_manifests", "*.json"))
	return len(found) > 0
}

// leakBuffer is a log sink that several goroutines write.
type leakBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *leakBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *leakBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type leakText struct{ where, text string }

// leakNeedle is one form of one secret.
type leakNeedle struct{ what, form, text string }

type leakScanner struct {
	t       *testing.T
	needles []leakNeedle
	leaks   []string
	scanned map[string]int // bytes scanned per kind of place, for the log

	executions, events, payloads int
}

// lastSecret is the last of the sandboxed connectors with a secret variable, and
// that variable: the one the test configures wrong.
func lastSecret(t *testing.T, used []string) (string, string) {
	t.Helper()
	for _, conn := range slices.Backward(host.Connectors()) {
		for _, v := range conn.Vars {
			if v.Secret && v.Credential && slices.Contains(used, conn.Name) {
				return conn.Name, v.Name
			}
		}
	}
	t.Fatal("no sandboxed connector has a secret")
	return "", ""
}

// newLeakScanner builds the needles from every connector's configuration in cs:
// every secret as is, base64-encoded (standard and URL alphabets, padded or not)
// and URL-encoded; a secret beside an identity (Jira's email and API token) also as
// the Basic credentials of the two; a key file by each line of its PEM body; and
// the prefix of the GA4 sandbox's access tokens.
func newLeakScanner(t *testing.T, cs ...host.Config) *leakScanner {
	secrets := []leakNeedle{{what: "GA4 access token", text: leakGA4AccessPrefix}}
	pem := 0
	for _, conn := range host.Connectors() {
		for _, c := range cs {
			secrets, pem = appendSecrets(secrets, pem, conn, c.Sources[conn.Name])
		}
	}
	if pem < 20 { // a 2048-bit key has 26 lines
		t.Fatalf("found %d lines of private keys in the key files, want 20 or more", pem)
	}

	sc := &leakScanner{t: t, scanned: map[string]int{}}
	for _, s := range secrets {
		forms := []leakNeedle{{s.what, "as is", s.text}}
		if s.text != leakGA4AccessPrefix { // a prefix has no encoded form to look for
			b := []byte(s.text)
			forms = append(forms,
				leakNeedle{s.what, "base64", base64.StdEncoding.EncodeToString(b)},
				leakNeedle{s.what, "base64 unpadded", base64.RawStdEncoding.EncodeToString(b)},
				leakNeedle{s.what, "base64url", base64.URLEncoding.EncodeToString(b)},
				leakNeedle{s.what, "base64url unpadded", base64.RawURLEncoding.EncodeToString(b)},
				leakNeedle{s.what, "URL-encoded", url.QueryEscape(s.text)},
				leakNeedle{s.what, "URL path-encoded", url.PathEscape(s.text)},
			)
		}
		seen := map[string]bool{}
		for _, f := range forms {
			if !seen[f.text] {
				seen[f.text] = true
				sc.needles = append(sc.needles, f)
			}
		}
	}
	return sc
}

// appendSecrets appends the needles of conn's configuration vals and counts the
// PEM lines of its key files.
func appendSecrets(secrets []leakNeedle, pem int, conn source.Connector, vals source.Values) ([]leakNeedle, int) {
	identity := ""
	for _, v := range conn.Vars {
		if v.Credential && !v.Secret && !v.FileContents {
			identity = vals.Get(v.Name)
		}
	}
	for _, v := range conn.Vars {
		value := vals.Get(v.Name)
		switch {
		case value == "":
		case v.Secret:
			secrets = append(secrets, leakNeedle{what: v.Name, text: value})
			if identity != "" {
				secrets = append(secrets, leakNeedle{what: v.Name + " as Basic credentials", text: base64.StdEncoding.EncodeToString([]byte(identity + ":" + value))})
			}
		case v.FileContents:
			for i, line := range strings.Split(value, `\n`) { // a PEM's newlines are escaped in the JSON
				if len(line) >= 40 && !strings.Contains(line, "-----") && !strings.ContainsAny(line, `"{}: `) {
					secrets = append(secrets, leakNeedle{what: fmt.Sprintf("%s: private key (PEM line %d)", v.Name, i), text: line})
					pem++
				}
			}
		}
	}
	return secrets, pem
}

func (sc *leakScanner) scan(where, text string) {
	sc.scanAt(func(int) string { return where }, text)
}

// scanAt scans text, locating a leak at its offset with where(offset).
func (sc *leakScanner) scanAt(where func(offset int) string, text string) {
	kind, _, _ := strings.Cut(where(0), ":")
	sc.scanned[kind] += len(text)
	for _, n := range sc.needles {
		if i := strings.Index(text, n.text); i >= 0 {
			lo, hi := max(0, i-60), min(len(text), i+len(n.text)+60)
			sc.leaks = append(sc.leaks, fmt.Sprintf("%s (%s) in %s: …%q…", n.what, n.form, where(i), text[lo:hi]))
		}
	}
}

// scanLines scans text line by line, so a leak is located by its line.
func (sc *leakScanner) scanLines(where, text string) {
	for i, line := range strings.Split(text, "\n") {
		sc.scan(fmt.Sprintf("%s: line %d", where, i+1), line)
	}
}

// selfCheck proves the scanner finds what it looks for: a secret in a log line, one
// base64-encoded in a payload, one in a column value of a Snappy-compressed Parquet
// file and one in a deflated Avro block, each at its place.
func (sc *leakScanner) selfCheck() {
	t := sc.t
	t.Helper()
	canary := &leakScanner{t: t, needles: sc.needles, scanned: map[string]int{}}
	var plain []leakNeedle // the secrets as they are
	for _, n := range sc.needles {
		if n.form == "as is" && n.text != leakGA4AccessPrefix {
			plain = append(plain, n)
		}
	}
	secret := func(i int) string { return plain[i%len(plain)].text }
	what := func(i int) string { return plain[i%len(plain)].what }
	canary.scanLines("canary: log", "{\"level\":\"info\"}\n{\"msg\":\"Bearer "+secret(0)+"\"}")
	canary.scan("canary: payload", `{"auth":"`+base64.StdEncoding.EncodeToString([]byte(secret(1)))+`"}`)
	dir := t.TempDir()
	b := array.NewStringBuilder(memory.DefaultAllocator)
	for i := range 1000 {
		b.Append(fmt.Sprintf(`{"id":%d,"note":"filler text that compresses well"}`, i))
	}
	b.Append(`{"id":1000,"token":"` + secret(2) + `"}`)
	col := b.NewArray()
	defer col.Release()
	rec := array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: "_raw", Type: arrow.BinaryTypes.String}}, nil), []arrow.Array{col}, int64(col.Len()))
	defer rec.Release()
	tbl := array.NewTableFromRecords(rec.Schema(), []arrow.RecordBatch{rec})
	defer tbl.Release()
	f, err := os.Create(filepath.Join(dir, "part-00000.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Snappy))
	if err := pqarrow.WriteTable(tbl, f, 1024, props, pqarrow.DefaultWriterProps()); err != nil {
		t.Fatal(err)
	}
	// An Avro container file as Iceberg writes its manifests: one deflated block.
	var block bytes.Buffer
	zw, _ := flate.NewWriter(&block, flate.BestCompression)
	fmt.Fprintf(zw, "\x0cpath=s3://bucket/%s/data.parquet", secret(3))
	zw.Close()
	avro := []byte("Obj\x01")
	avro = binary.AppendVarint(avro, 1)
	avro = binary.AppendVarint(avro, int64(len("avro.codec")))
	avro = append(avro, "avro.codec"...)
	avro = binary.AppendVarint(avro, int64(len("deflate")))
	avro = append(avro, "deflate"...)
	avro = binary.AppendVarint(avro, 0)
	sync := bytes.Repeat([]byte{0xab}, 16)
	avro = append(avro, sync...)
	avro = binary.AppendVarint(avro, 1)
	avro = binary.AppendVarint(avro, int64(block.Len()))
	avro = append(append(avro, block.Bytes()...), sync...)
	if err := os.WriteFile(filepath.Join(dir, "snap-1-manifest.avro"), avro, 0o644); err != nil {
		t.Fatal(err)
	}
	canary.scanTree("canary: lake", dir)
	got := strings.Join(canary.leaks, "\n")
	for _, want := range []string{what(0) + " (as is) in canary: log: line 2", what(1) + " (base64) in canary: payload",
		what(2) + " (as is) in canary: lake: part-00000.parquet column _raw row 1001", what(3) + " (as is) in canary: lake: snap-1-manifest.avro block 0"} {
		if !strings.Contains(got, want) {
			t.Fatalf("the scanner does not find a planted secret (%s); it found:\n%s", want, got)
		}
	}
}

func (sc *leakScanner) report() {
	t := sc.t
	t.Helper()
	t.Logf("scanned %d forms of the secrets in %d workflow executions (%d history events, %d payloads); bytes scanned by place: %v",
		len(sc.needles), sc.executions, sc.events, sc.payloads, sc.scanned)
	for i, l := range sc.leaks {
		if i == 50 {
			t.Errorf("… and %d more leaks", len(sc.leaks)-50)
			break
		}
		t.Errorf("LEAK: %s", l)
	}
}

// scanTemporal scans every workflow execution the dev server knows: its listing
// (search attributes, memo) and its full history, each event as JSON (failure
// messages and stack traces included) and each payload decoded.
func (sc *leakScanner) scanTemporal(ctx context.Context, st *stack.Stack, m mesh.Mesh) {
	t := sc.t
	t.Helper()
	// Describe reads the execution itself; the listing is eventually consistent, so
	// wait until it shows every run that was started.
	started := 0
	for _, e := range m.Products() {
		if _, err := st.Client.DescribeWorkflowExecution(ctx, flow.WorkflowID(e.Domain.Name, e.Product.Name, ""), ""); err == nil {
			started++
		}
	}
	if started == 0 {
		t.Fatal("no workflow was started")
	}
	var execs []*workflowservice.ListWorkflowExecutionsResponse
	deadline := time.Now().Add(30 * time.Second)
	for {
		execs = execs[:0]
		n := 0
		var token []byte
		for {
			resp, err := st.Client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{NextPageToken: token})
			if err != nil {
				t.Fatal(err)
			}
			execs = append(execs, resp)
			n += len(resp.Executions)
			if token = resp.NextPageToken; len(token) == 0 {
				break
			}
		}
		if n >= started {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the dev server lists %d workflow executions, %d were started", n, started)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, resp := range execs {
		for _, ex := range resp.Executions {
			sc.executions++
			id, run := ex.GetExecution().GetWorkflowId(), ex.GetExecution().GetRunId()
			where := fmt.Sprintf("temporal: listing of %s (run %s)", id, run)
			sc.scanProto(where, ex)
			it := st.Client.GetWorkflowHistory(ctx, id, run, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
			for it.HasNext() {
				ev, err := it.Next()
				if err != nil {
					t.Fatalf("history of %s: %v", id, err)
				}
				sc.events++
				sc.scanProto(fmt.Sprintf("temporal: history of %s (run %s) event %d %s", id, run, ev.GetEventId(), ev.GetEventType()), ev)
			}
		}
	}
}

// scanProto scans a message as JSON and every payload in it decoded: in JSON a
// payload's data is base64, where a secret inside would not be found as such.
func (sc *leakScanner) scanProto(where string, msg proto.Message) {
	b, err := protojson.Marshal(msg)
	if err != nil {
		sc.t.Fatalf("%s: %v", where, err)
	}
	sc.scan(where, string(b))
	eachPayload(msg.ProtoReflect(), func(path string, p *commonpb.Payload) {
		sc.payloads++
		sc.scan(where+" payload "+path, string(p.GetData()))
		for k, v := range p.GetMetadata() {
			sc.scan(where+" payload "+path+" metadata "+k, string(v))
		}
	})
}

// eachPayload calls fn for every Payload in m, at any depth.
func eachPayload(m protoreflect.Message, fn func(path string, p *commonpb.Payload)) {
	if p, ok := m.Interface().(*commonpb.Payload); ok {
		fn(string(m.Descriptor().Name()), p)
		return
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		name := string(fd.Name())
		switch {
		case fd.IsMap():
			if fd.MapValue().Message() != nil {
				v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
					eachPayload(mv.Message(), func(path string, p *commonpb.Payload) { fn(name+"["+k.String()+"]."+path, p) })
					return true
				})
			}
		case fd.IsList():
			if fd.Message() != nil {
				for i := range v.List().Len() {
					eachPayload(v.List().Get(i).Message(), func(path string, p *commonpb.Payload) { fn(fmt.Sprintf("%s[%d].%s", name, i, path), p) })
				}
			}
		case fd.Message() != nil:
			eachPayload(v.Message(), func(path string, p *commonpb.Payload) { fn(name+"."+path, p) })
		}
		return true
	})
}

// scanTree scans every file under dir: its bytes, and for Parquet every value of
// every column (the bytes are compressed, so a secret in them would not show).
func (sc *leakScanner) scanTree(what, dir string) {
	t := sc.t
	t.Helper()
	files := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		rel, _ := filepath.Rel(dir, path)
		where := what + ": " + rel
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.HasSuffix(path, ".json") || strings.HasSuffix(path, ".yaml") {
			sc.scanLines(where, string(b))
		} else {
			sc.scan(where, string(b))
		}
		switch {
		case strings.HasSuffix(path, ".parquet"):
			sc.scanParquet(where, path)
		case strings.HasSuffix(path, ".avro"): // Iceberg manifests: deflated blocks
			sc.scanAvro(where, b)
		case bytes.HasPrefix(b, []byte{0x1f, 0x8b}): // gzipped metadata
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				return fmt.Errorf("%s: %v", where, err)
			}
			text, err := io.ReadAll(zr)
			if err != nil {
				return fmt.Errorf("%s: %v", where, err)
			}
			sc.scanLines(where+" (gunzipped)", string(text))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: scanned %d files", what, files)
}

// scanAvro scans the blocks of an Avro object container file decompressed: Iceberg
// writes its manifests with the deflate codec, so their bytes hide what they hold.
// Avro stores strings as plain bytes after a length, so a decompressed block shows
// a secret as is.
func (sc *leakScanner) scanAvro(where string, b []byte) {
	t := sc.t
	t.Helper()
	r := bytes.NewReader(b)
	long := func() int64 {
		n, err := binary.ReadVarint(r) // Avro longs are zig-zag varints
		if err != nil {
			t.Fatalf("%s: not an Avro container file: %v", where, err)
		}
		return n
	}
	next := func(n int64) []byte {
		if n < 0 || n > int64(r.Len()) {
			t.Fatalf("%s: not an Avro container file: a length of %d", where, n)
		}
		out := make([]byte, n)
		io.ReadFull(r, out)
		return out
	}
	if magic := next(4); string(magic) != "Obj\x01" {
		t.Fatalf("%s: not an Avro container file", where)
	}
	meta := map[string]string{}
	for count := long(); count != 0; count = long() {
		if count < 0 { // a block with its size in bytes
			count = -count
			long()
		}
		for range count {
			k := string(next(long()))
			meta[k] = string(next(long()))
		}
	}
	for k, v := range meta { // the schema and Iceberg's properties
		sc.scan(where+" header "+k, v)
	}
	next(16) // sync marker
	for block := 0; r.Len() > 0; block++ {
		long() // objects in the block
		data := next(long())
		next(16)
		switch codec := meta["avro.codec"]; codec {
		case "", "null":
		case "deflate":
			var err error
			if data, err = io.ReadAll(flate.NewReader(bytes.NewReader(data))); err != nil {
				t.Fatalf("%s block %d: %v", where, block, err)
			}
		default:
			t.Fatalf("%s: Avro codec %q: the scan cannot read it, so it cannot tell there is no secret in it", where, codec)
		}
		sc.scan(fmt.Sprintf("%s block %d", where, block), string(data))
	}
}

func (sc *leakScanner) scanParquet(where, path string) {
	t := sc.t
	t.Helper()
	rdr, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	defer rdr.Close()
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	defer tbl.Release()
	sc.scan(where+" schema", tbl.Schema().String())
	// Each column is scanned as one text, its values separated by NULs; a leak is
	// located by counting the separators before it.
	for i := range int(tbl.NumCols()) {
		col := tbl.Column(i)
		var text strings.Builder
		for _, chunk := range col.Data().Chunks() {
			for j := range chunk.Len() {
				text.WriteString(chunk.ValueStr(j))
				text.WriteByte(0)
			}
		}
		all := text.String()
		sc.scanAt(func(offset int) string {
			return fmt.Sprintf("%s column %s row %d", where, col.Name(), strings.Count(all[:offset], "\x00")+1)
		}, all)
	}
}
