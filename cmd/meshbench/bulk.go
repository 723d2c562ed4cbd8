package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/meshflow/meshflow/connectors/hubspot"
	sbhubspot "github.com/meshflow/meshflow/dev/sandbox/hubspot"
	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/source"
)

// bulkMemoryGoal is how much more memory a full refresh of HubSpot contacts may take
// when many of them share one lastmodifieddate (a month-end bulk update) than when
// none do: the cursor must not grow with the records at one timestamp, nor be copied
// into every row (issue 14 measured 10.9 GB against 115 MB).
const bulkMemoryGoal = 1.25

// hubspotBulkBench lands the contacts of a HubSpot sandbox twice, each in a child
// process of its own, through the real connector over HTTP: once with no bulk update,
// once with o.bulkShared contacts on the newest lastmodifieddate. The sandbox runs in
// this process, so the children's peak RSS is the landing's alone.
func hubspotBulkBench(ctx context.Context, o options, dir string, logf func(string, ...any)) ([]Row, error) {
	var runs [2]result
	for i, shared := range []int{0, o.bulkShared} {
		start := time.Now()
		api := sbhubspot.New(sbhubspot.Options{Contacts: o.bulkContacts, Companies: 200, Deals: 10, BulkContacts: shared,
			RateLimit: -1, SearchPerSecond: -1, DailyLimit: -1})
		url, stop, err := serve(api)
		if err != nil {
			return nil, err
		}
		lakeDir := filepath.Join(dir, fmt.Sprintf("hubspot-%d", shared))
		r, err := measure(ctx, job{Kind: "land-hubspot", URL: url, Dir: lakeDir})
		stop()
		os.RemoveAll(lakeDir)
		if err != nil {
			return nil, err
		}
		if want := api.Count("contacts") + api.Archived("contacts"); r.Rows != int64(want) {
			return nil, errs.Errorf(errs.Internal, "meshbench: hubspot", "landed %d contacts of %d", r.Rows, want)
		}
		logf("memory: landed %s HubSpot contacts (%s on one timestamp), peak RSS %.0f MiB, largest cursor %d bytes (%s)",
			count(o.bulkContacts), count(shared), mib(r.RSS), r.Cursor, elapsed(start))
		runs[i] = r
	}
	plain, bulk := runs[0], runs[1]
	row := func(name, size string, r result) Row {
		return Row{Benchmark: name, Size: size, Figures: figures(mib(r.RSS), float64(r.Cursor), mb(r.Bytes)),
			Unit: "MiB peak RSS · bytes largest cursor · MB Parquet", Goal: none, Result: none,
			Values: []float64{mib(r.RSS), float64(r.Cursor), mb(r.Bytes)}}
	}
	g := float64(bulk.RSS) / float64(max(plain.RSS, 1))
	withBulk := row("memory: HubSpot full refresh, bulk update on one timestamp", count(o.bulkContacts)+" contacts, "+count(o.bulkShared)+" on one lastmodifieddate", bulk)
	withBulk.Goal = fmt.Sprintf("%s the run without / ≤ %s", ratio(g), ratio(bulkMemoryGoal))
	withBulk.Result = verdict(g <= bulkMemoryGoal)
	return []Row{row("memory: HubSpot full refresh, no shared timestamp", count(o.bulkContacts)+" contacts", plain), withBulk}, nil
}

// serve serves h on a free local port until stop is called.
func serve(h http.Handler) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, errs.E(errs.Internal, "meshbench: serve the HubSpot sandbox", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "meshbench: the HubSpot sandbox stopped:", err)
		}
	}()
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}

// hubspotJob lands the contacts stream of the HubSpot API at j.URL into a file://
// lake with the production connector and lake.Land, as a Land activity does.
func hubspotJob(ctx context.Context, j job) (result, error) {
	src, err := hubspot.New(hubspot.Config{BaseURL: j.URL, Token: sbhubspot.DefaultToken},
		&hubspot.Options{RequestsPerSecond: -1, SearchRequestsPerSecond: -1})
	if err != nil {
		return result{}, err
	}
	contacts, ok := source.Lookup(src, "contacts")
	if !ok {
		return result{}, errs.Errorf(errs.Internal, "meshbench: hubspot", "the HubSpot connector has no contacts stream any more")
	}
	st := &cursorSizes{Stream: contacts}
	r, err := landTimed(ctx, st, rawStream, j.Dir)
	r.Cursor = st.largest
	return r, err
}

// cursorSizes is a stream that notes the largest cursor its pages carry.
type cursorSizes struct {
	source.Stream
	largest int64
}

func (c *cursorSizes) NextPage(ctx context.Context, req source.PageRequest) (source.Page, error) {
	p, err := c.Stream.NextPage(ctx, req)
	c.largest = max(c.largest, int64(len(p.Next)))
	return p, err
}
