package files_test

import (
	"fmt"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshflow/meshflow/connectors/conformance"
	"github.com/meshflow/meshflow/connectors/files"
	sbx "github.com/meshflow/meshflow/dev/sandbox"
	"github.com/meshflow/meshflow/dev/sandbox/bucket"
	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/source"
)

// ledgerSpec is a files source of one stream for the conformance suite.
const ledgerSpec = `
source: ledger_files
title: Ledger files
doc: A team's ledger exports.
bucket:
  variable: LEDGER_FILES_URL
  doc: where the team drops its exports
streams:
  entries:
    doc: Ledger entries, a file per export.
    files: entries/*.csv
    primary_key: [entry_id]
    columns:
      - {name: entry_id, header: Entry, type: string, doc: The entry.}
      - {name: amount, header: Amount, type: float64, doc: Its amount.}
`

var ledger = files.Must("ledger_files.yaml", []byte(ledgerSpec))

// ledgerServer is the composite sandbox serving the ledger's bucket with 12 exports
// of 40 entries (paging is by file); Mutate drops a new export.
type ledgerServer struct {
	ts      *httptest.Server
	bucket  *bucket.API
	entries int
	files   atomic.Int64
}

func (l *ledgerServer) URL() string      { return l.ts.URL }
func (l *ledgerServer) Requests() int    { return l.bucket.Requests() }
func (l *ledgerServer) Total(string) int { return l.entries }
func (l *ledgerServer) Close()           { l.ts.Close() }
func (l *ledgerServer) drop(n int) (keys []string) {
	rows := [][]string{{"Entry", "Amount"}}
	f := l.files.Add(1)
	for i := range n {
		id := fmt.Sprintf("e%03d-%02d", f, i)
		rows = append(rows, []string{id, strconv.Itoa(i * 10)})
		keys = append(keys, conformance.Key(id))
	}
	// A later export is a later upload: its modification time follows the last one's.
	l.bucket.Put(fmt.Sprintf("entries/%03d.csv", f), files.CSVFile(rows))
	l.entries += n
	return keys
}

func (l *ledgerServer) Mutate(_ string, n int) ([]string, error) { return l.drop(n), nil }

// The files source passes the suite every connector passes against its S3
// imitation: paging (a file a page), resuming mid-way, incremental reads (a new
// export lands alone), a bucket it may not read refused as a permission error,
// cancellation. Faults are the S3 client's own to retry (NotApplicable).
func TestFilesConformance(t *testing.T) {
	conformance.Run(t, conformance.Harness{
		Start: func(t *testing.T, f conformance.Faults) conformance.Server {
			conn := ledger.Connector()
			clock := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
			var sb *bucket.API
			conn.Sandbox = ledger.Sandbox(func(_ source.SandboxOptions, b *bucket.API) (func(int) []string, error) {
				sb = b
				return nil, nil
			})
			srv := sbx.New(&sbx.Options{Connectors: []source.Connector{conn},
				Now:    func() time.Time { clock = clock.Add(time.Second); return clock },
				Faults: sbx.Faults{RateLimited: f.RateLimited, ServerError: f.ServerError, Truncate: f.Truncate, Slow: f.Slow, SlowDelay: f.SlowDelay}})
			l := &ledgerServer{ts: httptest.NewServer(srv), bucket: sb}
			for range 12 {
				l.drop(40)
			}
			return l
		},
		NewSource: func(t *testing.T, baseURL string, valid bool) (source.Source, error) {
			name := files.BucketName(ledger.Name())
			if !valid {
				name = "another-teams-drops" // S3 answers a reader without access to it 403
			}
			return ledger.Open(files.SandboxURL(name, baseURL+"/ledger_files"))
		},
		NotApplicable: map[string]string{
			"rate-limit-backoff": "the AWS SDK's S3 client retries S3's 503 SlowDown itself (its standard retryer), so the reader sees no 429 to back off from; a SlowDown left after its retries is RateLimited (TestSlowDownIsRateLimited)",
			"server-errors":      "the AWS SDK's S3 client retries 5xx answers and cut-off bodies itself, so the reader sees none to retry",
		},
	})
}

// A bucket answering nothing but S3's 503 SlowDown: once the S3 client's own retries
// are spent, the read fails as rate limited, naming the bucket's limit, so the
// platform's reader waits and tries again.
func TestSlowDownIsRateLimited(t *testing.T) {
	conn := ledger.Connector()
	conn.Sandbox = ledger.Sandbox(nil)
	srv := sbx.New(&sbx.Options{Connectors: []source.Connector{conn}, Faults: sbx.Faults{RateLimited: 1}})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	src, err := ledger.Open(files.SandboxURL(files.BucketName(ledger.Name()), ts.URL+"/ledger_files"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	_, err = src.Streams()[0].NextPage(t.Context(), source.PageRequest{SyncStart: time.Now()})
	e, ok := errs.As(err)
	if !errs.Is(err, errs.RateLimited) || !ok || !strings.Contains(e.Limit, "request rate") {
		t.Fatalf("got %v (kind %v); want rate limited, naming the bucket's request rate", err, errs.KindOf(err))
	}
}
