package googleanalytics_test

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/meshflow/meshflow/connectors/conformance"
	"github.com/meshflow/meshflow/connectors/googleanalytics"
	"github.com/meshflow/meshflow/dev/sandbox"
	sbga "github.com/meshflow/meshflow/dev/sandbox/googleanalytics"
	"github.com/meshflow/meshflow/framework/secret"
	"github.com/meshflow/meshflow/framework/source"
)

const seed = 7

// badSeed's key is well formed but not the sandbox's: the token endpoint refuses it.
const badSeed = 8

// startDate bounds full reads to a fortnight, so the suite runs in seconds.
var startDate = time.Now().UTC().AddDate(0, 0, -14).Format(time.DateOnly)

func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.Harness{
		Start: func(t *testing.T, f conformance.Faults) conformance.Server {
			now := time.Now() // fixed: numbers of the last days settle only when a test moves the clock
			srv := sandbox.New(&sandbox.Options{
				Connectors: []source.Connector{googleanalytics.Connector},
				Seed:       seed,
				Now:        func() time.Time { return now },
				Faults: sandbox.Faults{
					RateLimited: f.RateLimited, ServerError: f.ServerError,
					Truncate: f.Truncate, Slow: f.Slow, SlowDelay: f.SlowDelay,
				},
				// Quotas off: the suite reads many times; quota errors are unit-tested.
				Settings: []any{sbga.Options{TokensPerHour: -1, TokensPerDay: -1}},
			})
			return &harnessServer{ts: httptest.NewServer(srv), srv: srv}
		},
		NewSource: func(t *testing.T, baseURL string, valid bool) (source.Source, error) {
			root := strings.TrimSuffix(baseURL, sbga.Path)
			s := seed
			if !valid {
				s = badSeed
			}
			return googleanalytics.New(config(root, int64(s)), &googleanalytics.Options{RequestsPerSecond: -1})
		},
		BadCredential: keyLine(badSeed),
	})
}

// config reads the sandbox's two properties with the default report, in pages
// small enough that most days take two or three.
func config(root string, keySeed int64) googleanalytics.Config {
	return googleanalytics.Config{
		PropertyIDs:     []string{sbga.DefaultProperties[0].ID, sbga.DefaultProperties[1].ID},
		CredentialsJSON: secret.Value(sbga.ServiceAccountJSON(keySeed, "", sbga.TokenURL(root))),
		BaseURL:         sbga.URL(root),
		StartDate:       startDate,
		PageSize:        20,
	}
}

// keyLine is a line of the body of seed's private key: no error may show it.
func keyLine(seed int64) string {
	var f struct {
		PrivateKey string `json:"private_key"`
	}
	mustUnmarshal(sbga.ServiceAccountJSON(seed, "", "x"), &f)
	return strings.Split(f.PrivateKey, "\n")[3]
}

type harnessServer struct {
	ts  *httptest.Server
	srv *sandbox.Server
}

func (h *harnessServer) URL() string   { return sbga.URL(h.ts.URL) }
func (h *harnessServer) Requests() int { return sandbox.Get[*sbga.API](h.srv).Requests() }
func (h *harnessServer) Close()        { h.ts.Close() }

// Total is the rows of the default report from startDate to yesterday of each
// property: one per (date, channel group, landing page) with traffic.
func (h *harnessServer) Total(string) int {
	n := 0
	for _, p := range sandbox.Get[*sbga.API](h.srv).Properties() {
		rep, err := sandbox.Get[*sbga.API](h.srv).Report(p, defaultReport(startDate, "yesterday"))
		if err != nil {
			panic(err)
		}
		n += rep.RowCount
	}
	return n
}

// Mutate makes hits arrive late for n rows of yesterday of the first property:
// the next incremental read re-pulls the day and lands exactly those rows.
func (h *harnessServer) Mutate(_ string, n int) ([]string, error) {
	p := sandbox.Get[*sbga.API](h.srv).Properties()[0]
	day := yesterdayOf(sandbox.Get[*sbga.API](h.srv).Today(p))
	rows, err := sandbox.Get[*sbga.API](h.srv).LateHits(p, day, googleanalytics.DefaultDimensions, n)
	if err != nil {
		return nil, err
	}
	date, _ := time.Parse(time.DateOnly, day)
	keys := make([]string, len(rows))
	for i, r := range rows {
		vals := []any{p, date}
		for _, v := range r[1:] { // r[0] is the date
			vals = append(vals, v)
		}
		keys[i] = conformance.Key(vals...)
	}
	return keys, nil
}

func defaultReport(from, to string) sbga.ReportRequest {
	req := sbga.ReportRequest{DateRanges: []sbga.DateRange{{StartDate: from, EndDate: to}}}
	for _, d := range googleanalytics.DefaultDimensions {
		req.Dimensions = append(req.Dimensions, sbga.Named{Name: d})
	}
	for _, m := range googleanalytics.DefaultMetrics {
		req.Metrics = append(req.Metrics, sbga.Named{Name: m})
	}
	return req
}

func yesterdayOf(day string) string {
	t, _ := time.Parse(time.DateOnly, day)
	return t.AddDate(0, 0, -1).Format(time.DateOnly)
}
