package marketintel

import (
	"context"
	"database/sql"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/meshflow/meshflow/connectors/conformance"
	"github.com/meshflow/meshflow/dev/sandbox"
	sbpdl "github.com/meshflow/meshflow/dev/sandbox/peopledatalabs"
	"github.com/meshflow/meshflow/domains/identity"
	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/flow/flowtest"
	"github.com/meshflow/meshflow/framework/globalid"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
	"github.com/meshflow/meshflow/framework/source"
)

// badKey has PDL's key length, so a leak would be visible.
const badKey = "f00dfeedf00dfeedf00dfeedf00dfeedf00dfeedf00dfeedf00dfeedf00dfeed"

// pdlServer is the composite sandbox serving the People Data Labs imitation alone.
type pdlServer struct {
	ts  *httptest.Server
	srv *sandbox.Server
}

func startPDL(t *testing.T, faults sandbox.Faults, settings ...any) *pdlServer {
	t.Helper()
	srv := sandbox.New(&sandbox.Options{Connectors: []source.Connector{PeopleDataLabs()}, Seed: 7, Faults: faults, Settings: settings})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &pdlServer{ts, srv}
}

func (h *pdlServer) api() *sbpdl.API { return sandbox.Get[*sbpdl.API](h.srv) }
func (h *pdlServer) URL() string     { return sbpdl.URL(h.ts.URL) }
func (h *pdlServer) Requests() int   { return h.api().Requests() }
func (h *pdlServer) Close()          { h.ts.Close() }

// Total is one record per domain the conformance suite asks about, a match or not.
func (h *pdlServer) Total(string) int { return len(h.asked()) }

func (h *pdlServer) Mutate(stream string, _ int) ([]string, error) {
	return nil, errs.Errorf(errs.Invalid, "mutate", "%s is keyed: its keys query decides what is asked again", stream)
}

// domains are the web domains of the companies the imitation was seeded with.
func (h *pdlServer) domains() []string {
	var out []string
	for _, m := range h.api().Matches() {
		out = append(out, m.Company)
	}
	return out
}

// asked are the keys the conformance suite hands the stream: enough domains for
// several pages of answers and both kinds (a match, PDL's 404).
func (h *pdlServer) asked() []source.Key {
	var out []source.Key
	for _, d := range h.domains()[:40] {
		out = append(out, source.Key{"domain": d})
	}
	return out
}

func openPDL(baseURL, key string) (source.Source, error) {
	return PeopleDataLabs().Open(source.Values{sbpdl.BaseURLVar: baseURL, sbpdl.KeyVar: key, source.Unpaced: "true"})
}

// The spec passes the suite every connector passes, its keyed stream handed the
// seeded companies' domains: every key answered once (a match, or PDL's 404 landed
// as the answer), resumed reads, backoff on PDL's 429 and 5xx, a bad key refused.
func TestPeopleDataLabsConformance(t *testing.T) {
	var keys []source.Key
	conformance.Run(t, conformance.Harness{
		Start: func(t *testing.T, f conformance.Faults) conformance.Server {
			// The per-minute window off: the suite reads the keys many times a minute;
			// its faults inject PDL's 429.
			h := startPDL(t, sandbox.Faults{RateLimited: f.RateLimited, ServerError: f.ServerError, Truncate: f.Truncate, Slow: f.Slow, SlowDelay: f.SlowDelay},
				sbpdl.Options{CompanyEnrichPerMinute: -1})
			keys = h.asked()
			return h
		},
		NewSource: func(t *testing.T, baseURL string, valid bool) (source.Source, error) {
			if !valid {
				return openPDL(baseURL, badKey)
			}
			return openPDL(baseURL, sbpdl.DefaultKey)
		},
		BadCredential: badKey,
		Keys:          func(string) []source.Key { return keys },
	})
}

// Out of credits, PDL answers 402 to every enrichment: the stream stops with a
// quota error (the run waits durably, then resumes), naming the limit.
func TestPeopleDataLabsOutOfCreditsWaits(t *testing.T) {
	h := startPDL(t, sandbox.Faults{})
	h.api().ExhaustCredits(sbpdl.CreditsCompanyEnrich)
	src, err := openPDL(h.URL(), sbpdl.DefaultKey)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := source.Lookup(src, "company_enrichment")
	_, err = st.NextPage(t.Context(), source.PageRequest{Keys: []source.Key{{"domain": h.domains()[0]}}, SyncStart: time.Now()})
	e, ok := errs.As(err)
	if !errs.Is(err, errs.Quota) || !ok || e.Until.IsZero() || !strings.Contains(err.Error(), "credits") {
		t.Fatalf("got %v; want a quota error with its reset, naming the credits", err)
	}
	// PDL refuses every request of a pool without credits, a lookup that would find
	// nothing included: mesh doctor says so.
	if err := src.Check(t.Context()); !errs.Is(err, errs.Quota) || !strings.Contains(err.Error(), "credits are used up") {
		t.Fatalf("check out of credits: %v; want the quota error naming the credits", err)
	}
	h.api().SetCredits(sbpdl.CreditsCompanyEnrich, 5)
	if err := src.Check(t.Context()); err != nil {
		t.Fatalf("check: %v", err)
	}
	if used := h.api().Credits(sbpdl.CreditsCompanyEnrich); used.Remaining != 5 {
		t.Errorf("the check spent credits: %+v", used)
	}
}

// pdlMesh is the market intelligence domain beside the identity domain (whose
// company_ids the enrichment's keys read), in process (flowtest).
type pdlMesh struct {
	*flowtest.Mesh
	t *testing.T
}

func newPDLMesh(t *testing.T, h *pdlServer) pdlMesh {
	t.Helper()
	src, err := openPDL(h.URL(), sbpdl.DefaultKey)
	if err != nil {
		t.Fatal(err)
	}
	return pdlMesh{flowtest.New(t, []mesh.Domain{Domain(), identity.Domain()}, map[string]source.Source{"peopledatalabs": src}), t}
}

// publishCompanyIDs publishes identity.company_ids with these web domains (its
// other columns left out: the keys query reads web_domain alone).
func (p pdlMesh) publishCompanyIDs(domains []string) {
	p.t.Helper()
	schema := arrow.NewSchema([]arrow.Field{{Name: "web_domain", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	col := b.Field(0).(*array.StringBuilder)
	for _, d := range domains {
		col.Append(d)
	}
	col.AppendNull() // a company without a website is never asked about
	rec := b.NewRecordBatch()
	defer rec.Release()
	rdr, err := array.NewRecordReader(schema, []arrow.RecordBatch{rec})
	if err != nil {
		p.t.Fatal(err)
	}
	defer rdr.Release()
	if _, err := p.Ports.Publish(context.Background(), port.PortTable(identity.Name, "company_ids", 1), rdr, port.PublishRequest{Mode: port.Replace{}}); err != nil {
		p.t.Fatal(err)
	}
}

// rows reads the published company_enrichment port: web domain → pdl_id ("" when
// unmatched), company_gid, matched.
func (p pdlMesh) rows() map[string][3]string {
	p.t.Helper()
	rs := p.Query(Name, "company_enrichment_v1", "SELECT web_domain, coalesce(pdl_id, ''), company_gid, matched::VARCHAR FROM port")
	defer rs.Close()
	out := map[string][3]string{}
	for rs.Next() {
		var d string
		var id, gid, matched sql.NullString
		if err := rs.Scan(&d, &id, &gid, &matched); err != nil {
			p.t.Fatal(err)
		}
		if _, dup := out[d]; dup {
			p.t.Errorf("%s twice in the port", d)
		}
		out[d] = [3]string{id.String, gid.String, matched.String}
	}
	return out
}

// company_enrichment, run through the framework's RunProduct on the sandbox, asks
// about every web domain of identity.company_ids once and publishes PDL's ground
// truth for each (its company, or no match) with the domain's company_gid; a run
// within the refresh asks nothing; a domain new in company_ids is asked alone.
func TestCompanyEnrichmentMatchesTheSandboxGroundTruth(t *testing.T) {
	h := startPDL(t, sandbox.Faults{})
	p := newPDLMesh(t, h)
	truth := h.api().Matches()
	var domains []string
	for _, m := range truth[1:] {
		domains = append(domains, m.Company)
	}
	p.publishCompanyIDs(append(domains, domains[0])) // a domain twice is asked once

	if res := p.Run(Name, "company_enrichment"); res.Rows != int64(len(domains)) || res.Quality != "pass" {
		t.Fatalf("first run: %d rows, quality %s (warnings %v); want %d, pass", res.Rows, res.Quality, res.Warnings, len(domains))
	}
	if n := h.Requests(); n != len(domains) {
		t.Errorf("%d requests for %d domains: each is asked once", n, len(domains))
	}
	got := p.rows()
	matched := 0
	for _, m := range truth[1:] {
		row, ok := got[m.Company]
		want := [3]string{m.ID, globalid.CompanyGID(m.Company), "false"}
		if m.Via != sbpdl.ViaNone {
			want[2] = "true"
			matched++
		}
		if !ok || row != want {
			t.Errorf("%s: got %v (present %v), want %v (PDL: %+v)", m.Company, row, ok, want, m)
		}
	}
	if matched == 0 || matched == len(domains) {
		t.Fatalf("%d of %d domains matched: the sandbox should answer both matches and 404s", matched, len(domains))
	}

	land := func(run string) flow.LandOutput { return p.Land(Name, "peopledatalabs", "company_enrichment", run) }
	before := h.Requests()
	if out := land("run-2"); out.Rows != 0 || h.Requests() != before {
		t.Errorf("a landing within PEOPLEDATALABS_REFRESH_DAYS landed %d rows with %d requests; every domain was asked already", out.Rows, h.Requests()-before)
	}
	p.publishCompanyIDs(append(domains, truth[0].Company))
	before = h.Requests()
	if out := land("run-3"); out.Rows != 1 || h.Requests()-before != 1 {
		t.Errorf("a domain new in company_ids: %d rows, %d requests; want it alone asked", out.Rows, h.Requests()-before)
	}
}
