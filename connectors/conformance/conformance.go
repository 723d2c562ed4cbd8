// Package conformance is the one test suite every connector passes against its
// sandbox server: paging, resuming from a cursor, incremental reads, backoff on
// rate limits and server errors, no retry on bad credentials, cancellation and a
// stable schema. It knows connectors only through framework/source and sandboxes
// only through the Harness, so every vendor runs the same checks.
//
//	func TestConformance(t *testing.T) { conformance.Run(t, conformance.Harness{...}) }
package conformance

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/source"
)

// Faults are the failures the suite asks a sandbox to inject, as shares of
// requests (0..1). The harness maps them onto its sandbox's fault options.
type Faults struct {
	RateLimited float64       // 429 with the vendor's rate-limit answer
	ServerError float64       // 5xx
	Truncate    float64       // body cut off mid-way
	Slow        float64       // answered after SlowDelay (or never, if the client gives up)
	SlowDelay   time.Duration //
}

// Server is a running sandbox.
type Server interface {
	// URL is the base URL a source is built for.
	URL() string
	// Requests counts the API requests the server has received, faulted ones included.
	Requests() int
	// Total is how many distinct records (by primary key) a full read of stream returns.
	Total(stream string) int
	// Mutate changes n records of stream so that an incremental read returns exactly
	// them, and returns their primary keys in Key form.
	Mutate(stream string, n int) ([]string, error)
	Close()
}

// Harness tells the suite how to run one connector against its sandbox.
type Harness struct {
	// Start runs a fresh sandbox injecting f. Every subtest starts its own.
	Start func(t *testing.T, f Faults) Server
	// NewSource builds the connector for baseURL with credentials the sandbox
	// accepts (valid) or rejects. Pacing should be off: the suite fakes sleeps.
	NewSource func(t *testing.T, baseURL string, valid bool) (source.Source, error)
	// BadCredential is the text of the rejected credential; no error may contain it.
	BadCredential string
	// FullRefreshOnly names streams without incremental reads; the incremental
	// subtests skip them.
	FullRefreshOnly []string
	// SinglePage names streams whose API answers in one response, unpaginated (a
	// bare JSON array, an aggregation's results): the paging subtest accepts one
	// page for them.
	SinglePage []string
	// Windowed names incremental streams that re-read whole windows (a day of
	// events) rather than changed records: after a change, a read returns every
	// record of the changed windows. For them the incremental subtests check that
	// the changed keys are all there, every other key is one a full read returned,
	// and no key comes twice; quiet reads must still return nothing.
	Windowed []string
	// Mutations is how many records the incremental subtests change [3].
	Mutations int
	// Keys are the keys the suite hands a keyed stream (StreamSpec.Keys) on every
	// read, as the platform's landing hands it its query's rows; Total counts the
	// records they answer. Required when a stream is keyed. Keyed streams skip the
	// incremental subtests: their keys query decides what a landing asks again.
	Keys func(stream string) []source.Key
	// NotApplicable names subtests that cannot apply to the source, each with the
	// reason, which the skipped subtest prints: a bucket's client that retries its
	// service's 503s itself leaves the reader no retry to count. Every other subtest
	// runs.
	NotApplicable map[string]string
}

// Key is how the suite identifies a record: its primary key values, printed and
// joined with "|". Harness.Mutate returns keys in this form.
func Key(values ...any) string {
	parts := make([]string, len(values))
	for i, v := range values {
		if t, ok := v.(time.Time); ok {
			v = t.UTC().Format(time.RFC3339Nano)
		}
		parts[i] = fmt.Sprint(v)
	}
	return strings.Join(parts, "|")
}

// Run runs every subtest. Subtests run in parallel, each with its own server.
func Run(t *testing.T, h Harness) {
	if h.Start == nil || h.NewSource == nil {
		t.Fatal("conformance: Harness.Start and Harness.NewSource are required")
	}
	if h.Mutations <= 0 {
		h.Mutations = 3
	}
	s := &suite{h: h}
	for _, c := range []struct {
		name string
		run  func(*testing.T)
	}{
		{"schema", s.schema},
		{"paging", s.paging},
		{"resume", s.resume},
		{"incremental", s.incremental},
		{"rate-limit-backoff", func(t *testing.T) { s.underFaults(t, Faults{RateLimited: 0.3}) }},
		{"server-errors", func(t *testing.T) { s.underFaults(t, Faults{ServerError: 0.15, Truncate: 0.1}) }},
		{"bad-credentials", s.badCredentials},
		{"cancel", s.cancel},
	} {
		t.Run(c.name, func(t *testing.T) {
			if why, ok := h.NotApplicable[c.name]; ok {
				t.Skip("not applicable: " + why)
			}
			t.Parallel()
			c.run(t)
		})
	}
}

type suite struct{ h Harness }

// env is one subtest's server and source.
type env struct {
	srv Server
	src source.Source
}

func (s *suite) start(t *testing.T, f Faults, valid bool) env {
	t.Helper()
	srv := s.h.Start(t, f)
	t.Cleanup(srv.Close)
	src, err := s.h.NewSource(t, srv.URL(), valid)
	if err != nil {
		t.Fatalf("NewSource: %v", err)
	}
	if len(src.Streams()) == 0 {
		t.Fatal("source has no streams")
	}
	for _, st := range src.Streams() {
		if st.Spec().Keys != nil && s.h.Keys == nil {
			t.Fatalf("stream %s is keyed: give Harness.Keys, the keys the suite hands it", st.Spec().Name)
		}
	}
	return env{srv, withKeys{src, s.h.Keys}}
}

// withKeys hands each keyed stream of a source the harness's keys on every read, as
// the platform's landing does.
type withKeys struct {
	source.Source
	keys func(stream string) []source.Key
}

func (w withKeys) Streams() []source.Stream {
	out := w.Source.Streams()
	for i, st := range out {
		if spec := st.Spec(); spec.Keys != nil {
			out[i] = keyedStream{st, w.keys(spec.Name)}
		}
	}
	return out
}

type keyedStream struct {
	source.Stream
	keys []source.Key
}

func (k keyedStream) NextPage(ctx context.Context, req source.PageRequest) (source.Page, error) {
	req.Keys = k.keys
	return k.Stream.NextPage(ctx, req)
}

func (s *suite) incrementalStreams(src source.Source) []source.Stream {
	var out []source.Stream
	for _, st := range src.Streams() {
		if s.readsIncrementally(st.Spec()) {
			out = append(out, st)
		}
	}
	return out
}

// readsIncrementally reports whether the incremental subtests read the stream: neither
// declared full-refresh-only nor keyed.
func (s *suite) readsIncrementally(spec source.StreamSpec) bool {
	return !slices.Contains(s.h.FullRefreshOnly, spec.Name) && spec.Keys == nil
}

// readerOptions never really sleeps: backoff is counted, not waited, so a 10 s
// RetryAfter costs nothing. It still honours cancellation. More attempts than the
// default make a page that keeps drawing injected faults vanishingly unlikely to fail
// the suite, whatever the seed and the number of requests a connector makes.
func readerOptions() *source.ReaderOptions {
	return &source.ReaderOptions{
		MaxAttempts: 10,
		BaseBackoff: time.Millisecond,
		Sleep: func(ctx context.Context, _ time.Duration) error {
			return ctx.Err()
		},
	}
}

// result is what one Read returned.
type result struct {
	pages  []source.Page
	last   []byte // the cursor after the last consumed page
	stats  source.Stats
	err    error
	amount int
}

func read(ctx context.Context, st source.Stream, cursor []byte, syncStart time.Time, stopAfter int) result {
	var r result
	r.last = cursor
	r.stats, r.err = source.NewReader(st, readerOptions()).Read(ctx, source.PageRequest{Cursor: cursor, SyncStart: syncStart}, func(p source.Page) error {
		r.pages = append(r.pages, p)
		r.amount += len(p.Records)
		if len(p.Next) > 0 {
			r.last = p.Next
		}
		if stopAfter > 0 && len(r.pages) == stopAfter {
			return source.ErrStop
		}
		return nil
	})
	return r
}

// mustRead reads to the end and fails the test on an error.
func mustRead(t *testing.T, st source.Stream, cursor []byte, syncStart time.Time) result {
	t.Helper()
	r := read(t.Context(), st, cursor, syncStart, 0)
	if r.err != nil {
		t.Fatalf("%s: read: %v", st.Spec().Name, r.err)
	}
	if n := len(r.pages); n == 0 || !r.pages[n-1].Done {
		t.Fatalf("%s: read ended without a Done page", st.Spec().Name)
	}
	if len(r.last) == 0 {
		t.Fatalf("%s: the last page has no cursor to continue from", st.Spec().Name)
	}
	return r
}

// keys extracts every record's primary key, counting repeats.
func keys(t *testing.T, spec source.StreamSpec, r result) map[string]int {
	t.Helper()
	idx := fieldIndex(spec)
	out := map[string]int{}
	for _, p := range r.pages {
		for _, rec := range p.Records {
			vals, err := source.Extract(rec, spec.Fields)
			if err != nil {
				t.Fatalf("%s: %v in record %.200s", spec.Name, err, rec)
			}
			pk := make([]any, len(spec.PrimaryKey))
			for i, name := range spec.PrimaryKey {
				pk[i] = vals[idx[name]]
			}
			out[Key(pk...)]++
		}
	}
	return out
}

func fieldIndex(spec source.StreamSpec) map[string]int {
	idx := map[string]int{}
	for i, f := range spec.Fields {
		idx[f.Name] = i
	}
	return idx
}

func sameKeys(t *testing.T, what string, got map[string]int, want []string) {
	t.Helper()
	var missing, extra []string
	for _, k := range want {
		if got[k] == 0 {
			missing = append(missing, k)
		}
	}
	for k := range got {
		if !slices.Contains(want, k) {
			extra = append(extra, k)
		}
	}
	if len(missing) > 0 || len(extra) > 0 {
		slices.Sort(extra)
		t.Errorf("%s: missing %d keys %v, unexpected %d keys %v", what, len(missing), first(missing, 10), len(extra), first(extra, 10))
	}
}

func first(keys []string, n int) []string {
	if len(keys) > n {
		return append(slices.Clip(keys[:n]), "…")
	}
	return keys
}

var validTypes = []source.Type{source.String, source.Int64, source.Float64, source.Bool, source.Timestamp, source.Date}

// schema: a spec is well-formed, identical on every call, and every record of a
// full read converts to it with its key and cursor set.
func (s *suite) schema(t *testing.T) {
	e := s.start(t, Faults{}, true)
	if err := e.src.Check(t.Context()); err != nil {
		t.Errorf("Check with valid credentials: %v", err)
	}
	names := map[string]bool{}
	for i, st := range e.src.Streams() {
		spec := st.Spec()
		if names[spec.Name] {
			t.Errorf("stream name %q repeats", spec.Name)
		}
		names[spec.Name] = true
		if !reflect.DeepEqual(spec, st.Spec()) || !reflect.DeepEqual(spec, e.src.Streams()[i].Spec()) {
			t.Errorf("%s: Spec() differs between calls", spec.Name)
		}
		checkSpec(t, spec, s.readsIncrementally(spec))

		r := mustRead(t, st, nil, time.Now())
		idx := fieldIndex(spec)
		for _, p := range r.pages {
			for _, rec := range p.Records {
				vals, err := source.Extract(rec, spec.Fields)
				if err != nil {
					t.Fatalf("%s: %v", spec.Name, err)
				}
				for _, name := range append(slices.Clone(spec.PrimaryKey), spec.CursorField) {
					if j, ok := idx[name]; ok && vals[j] == nil {
						t.Fatalf("%s: field %s is null in %.300s", spec.Name, name, rec)
					}
				}
			}
		}
	}
}

func checkSpec(t *testing.T, spec source.StreamSpec, incremental bool) {
	t.Helper()
	if spec.Name == "" || len(spec.Fields) == 0 || len(spec.PrimaryKey) == 0 {
		t.Fatalf("stream %q: Name, Fields and PrimaryKey are required", spec.Name)
	}
	seen := map[string]bool{}
	for _, f := range spec.Fields {
		switch {
		case f.Name == "" || seen[f.Name]:
			t.Errorf("%s: field name %q is empty or repeats", spec.Name, f.Name)
		case len(f.Path) == 0:
			t.Errorf("%s.%s: no Path", spec.Name, f.Name)
		case !slices.Contains(validTypes, f.Type):
			t.Errorf("%s.%s: unknown type %q", spec.Name, f.Name, f.Type)
		case strings.TrimSpace(f.Doc) == "":
			t.Errorf("%s.%s: no Doc (the catalog shows it)", spec.Name, f.Name)
		}
		seen[f.Name] = true
	}
	for _, k := range spec.PrimaryKey {
		if !seen[k] {
			t.Errorf("%s: primary key %q is not a field", spec.Name, k)
		}
	}
	if incremental && !seen[spec.CursorField] {
		t.Errorf("%s: cursor field %q is not a field", spec.Name, spec.CursorField)
	}
}

// paging: a full read spans several pages and returns every record once.
func (s *suite) paging(t *testing.T) {
	e := s.start(t, Faults{}, true)
	for _, st := range e.src.Streams() {
		name := st.Spec().Name
		r := mustRead(t, st, nil, time.Now())
		if r.stats.Pages < 2 && !slices.Contains(s.h.SinglePage, name) {
			t.Errorf("%s: %d page(s); the sandbox should hold enough records for several", name, r.stats.Pages)
		}
		got := keys(t, st.Spec(), r)
		if want := e.srv.Total(name); len(got) != want {
			t.Errorf("%s: %d distinct records, want %d", name, len(got), want)
		}
		if r.amount != len(got) {
			t.Logf("%s: %d records for %d keys: duplicates were returned (the landing dedupes them)", name, r.amount, len(got))
		}
	}
}

// resume: stopping after a page and resuming from its cursor reads the rest.
func (s *suite) resume(t *testing.T) {
	e := s.start(t, Faults{}, true)
	for _, st := range e.src.Streams() {
		name := st.Spec().Name
		start := time.Now()
		full := keys(t, st.Spec(), mustRead(t, st, nil, start))

		first := read(t.Context(), st, nil, start, 1)
		if first.err != nil || len(first.pages) != 1 {
			t.Fatalf("%s: first page: %d pages, %v", name, len(first.pages), first.err)
		}
		rest := mustRead(t, st, first.last, start)
		union := keys(t, st.Spec(), first)
		for k, n := range keys(t, st.Spec(), rest) {
			union[k] += n
		}
		sameKeys(t, name+": first page + resumed read vs a full read", union, slices.Collect(maps.Keys(full)))
	}
}

// incremental: a read from the final cursor returns nothing when nothing changed
// and exactly the changed records after a change; and not them again after.
func (s *suite) incremental(t *testing.T) {
	e := s.start(t, Faults{}, true)
	for _, st := range s.incrementalStreams(e.src) {
		s.incrementalRound(t, e, st)
	}
}

func (s *suite) incrementalRound(t *testing.T, e env, st source.Stream) {
	t.Helper()
	name := st.Spec().Name
	full := mustRead(t, st, nil, time.Now())

	quiet := mustRead(t, st, full.last, time.Now())
	if quiet.amount != 0 {
		t.Errorf("%s: nothing changed, yet the incremental read returned %d records", name, quiet.amount)
	}

	changed, err := e.srv.Mutate(name, s.h.Mutations)
	if err != nil || len(changed) != s.h.Mutations {
		t.Fatalf("%s: Mutate(%d) = %v, %v", name, s.h.Mutations, changed, err)
	}
	after := mustRead(t, st, quiet.last, time.Now())
	got := keys(t, st.Spec(), after)
	if slices.Contains(s.h.Windowed, name) {
		before := keys(t, st.Spec(), full)
		var window []string
		for k := range got {
			if before[k] > 0 && !slices.Contains(changed, k) {
				window = append(window, k)
			}
		}
		sameKeys(t, name+": windowed read after a change (changed keys plus unchanged keys of their windows)", got, append(window, changed...))
		if after.amount != len(got) {
			t.Errorf("%s: %d records for %d keys: a window returned a record twice", name, after.amount, len(got))
		}
	} else {
		sameKeys(t, name+": incremental read after a change", got, changed)
		if after.amount != len(changed) {
			t.Errorf("%s: %d records for %d changed ones", name, after.amount, len(changed))
		}
	}

	again := mustRead(t, st, after.last, time.Now())
	if again.amount != 0 {
		t.Errorf("%s: the changed records came back on the next incremental read (%d records)", name, again.amount)
	}
}

// underFaults: with injected failures the reader retries to a complete result.
func (s *suite) underFaults(t *testing.T, f Faults) {
	e := s.start(t, f, true)
	retries := 0
	for _, st := range e.src.Streams() {
		name := st.Spec().Name
		r := mustRead(t, st, nil, time.Now())
		retries += r.stats.Retries
		if got, want := len(keys(t, st.Spec(), r)), e.srv.Total(name); got != want {
			t.Errorf("%s: %d distinct records under faults, want %d", name, got, want)
		}
	}
	for _, st := range s.incrementalStreams(e.src) {
		s.incrementalRound(t, e, st)
	}
	if retries == 0 {
		t.Errorf("no retries under faults %+v: were they injected?", f)
	}
}

// badCredentials: rejected credentials fail at once as Permission, with one
// request and without the credential in the error.
func (s *suite) badCredentials(t *testing.T) {
	e := s.start(t, Faults{}, false)
	st := e.src.Streams()[0]
	before := e.srv.Requests()
	r := read(t.Context(), st, nil, time.Now(), 0)
	if !errs.Is(r.err, errs.Permission) {
		t.Fatalf("read with bad credentials: %v (kind %v), want kind permission", r.err, errs.KindOf(r.err))
	}
	if n := e.srv.Requests() - before; n != 1 {
		t.Errorf("the server saw %d requests, want exactly 1: a permission error must not be retried", n)
	}
	s.noCredential(t, r.err)

	err := e.src.Check(t.Context())
	if !errs.Is(err, errs.Permission) {
		t.Errorf("Check with bad credentials: %v, want kind permission", err)
	}
	s.noCredential(t, err)
}

func (s *suite) noCredential(t *testing.T, err error) {
	t.Helper()
	if s.h.BadCredential == "" || err == nil {
		return
	}
	for _, text := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
		if strings.Contains(text, s.h.BadCredential) {
			t.Errorf("the error shows the credential: %s", text)
		}
	}
}

// cancel: a canceled context ends a read promptly with kind Canceled, between
// pages and in the middle of a slow request.
func (s *suite) cancel(t *testing.T) {
	t.Run("between-pages", func(t *testing.T) {
		e := s.start(t, Faults{}, true)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		start := time.Now()
		_, err := source.NewReader(s.pagedStream(e.src), readerOptions()).Read(ctx, source.PageRequest{SyncStart: start}, func(source.Page) error {
			cancel()
			return nil
		})
		checkCanceled(t, err, start)
	})
	t.Run("before-start", func(t *testing.T) {
		e := s.start(t, Faults{}, true)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		before := e.srv.Requests()
		r := read(ctx, e.src.Streams()[0], nil, time.Now(), 0)
		checkCanceled(t, r.err, time.Now())
		if n := e.srv.Requests() - before; n != 0 {
			t.Errorf("%d requests sent with a canceled context", n)
		}
	})
	t.Run("mid-request", func(t *testing.T) {
		e := s.start(t, Faults{Slow: 1, SlowDelay: 30 * time.Second}, true)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		time.AfterFunc(100*time.Millisecond, cancel)
		start := time.Now()
		r := read(ctx, e.src.Streams()[0], nil, start, 0)
		checkCanceled(t, r.err, start)
	})
}

// pagedStream is the first stream not declared SinglePage: one with pages to
// cancel between.
func (s *suite) pagedStream(src source.Source) source.Stream {
	for _, st := range src.Streams() {
		if !slices.Contains(s.h.SinglePage, st.Spec().Name) {
			return st
		}
	}
	return src.Streams()[0]
}

func checkCanceled(t *testing.T, err error, start time.Time) {
	t.Helper()
	if !errs.Is(err, errs.Canceled) {
		t.Errorf("got %v (kind %v), want kind canceled", err, errs.KindOf(err))
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("took %v to notice the cancellation", took)
	}
}
