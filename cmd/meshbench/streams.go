package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strconv"

	"github.com/meshflow/meshflow/connectors/hubspot"
	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/source"
)

// pageSize is HubSpot's list limit: the pages a real contacts sync lands.
const pageSize = 100

// contactsSpec is the production HubSpot contacts stream's spec, so the landing
// measured converts the same typed columns a real sync does. The token is a
// placeholder the connector validates but never sends: no request is made.
func contactsSpec() (source.StreamSpec, error) {
	src, err := hubspot.New(hubspot.Config{Token: "pat-meshbench-placeholder"}, nil)
	if err != nil {
		return source.StreamSpec{}, err
	}
	st, ok := source.Lookup(src, "contacts")
	if !ok {
		return source.StreamSpec{}, errs.Errorf(errs.Internal, "meshbench", "the HubSpot connector has no contacts stream any more: point the landing benchmark at another stream")
	}
	return st.Spec(), nil
}

// pagedStream serves records in pages of pageSize from next, which appends one record
// to dst and reports false at the end. Each page's records share one fresh buffer, as
// the records decoded from one response body do.
type pagedStream struct {
	spec source.StreamSpec
	next func(dst []byte) ([]byte, bool, error)
	last func() bool // true when next has nothing more
	pos  int         // records served so far
}

func (s *pagedStream) Spec() source.StreamSpec { return s.spec }

func (s *pagedStream) NextPage(ctx context.Context, req source.PageRequest) (source.Page, error) {
	const op = "meshbench: read contacts"
	if err := ctx.Err(); err != nil {
		return source.Page{}, errs.E(errs.Canceled, op, err)
	}
	// The stream only reads forward: the benchmark never resumes.
	if at := cursorPos(req.Cursor); at != s.pos {
		return source.Page{}, errs.Errorf(errs.Invalid, op, "cursor at record %d, the stream is at %d: this stream cannot seek", at, s.pos)
	}
	var buf []byte
	ends := make([]int, 0, pageSize)
	for len(ends) < pageSize {
		var ok bool
		var err error
		buf, ok, err = s.next(buf)
		if err != nil {
			return source.Page{}, errs.E(errs.Internal, op, err)
		}
		if !ok {
			break
		}
		ends = append(ends, len(buf))
	}
	p := source.Page{Records: make([]json.RawMessage, len(ends))}
	start := 0
	for i, end := range ends {
		p.Records[i] = json.RawMessage(buf[start:end:end])
		start = end
	}
	s.pos += len(ends)
	p.Next = json.RawMessage(`{"v":1,"pos":` + strconv.Itoa(s.pos) + `}`)
	p.Done = s.last()
	return p, nil
}

func cursorPos(c json.RawMessage) int {
	if len(c) == 0 {
		return 0
	}
	var v struct{ Pos int }
	if json.Unmarshal(c, &v) != nil {
		return -1
	}
	return v.Pos
}

// fileStream pages through a JSON-lines file written by writeContacts.
func fileStream(spec source.StreamSpec, path string) (*pagedStream, func() error, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, errs.Errorf(errs.NotFound, "meshbench: open records", "%v", err)
	}
	r := bufio.NewReaderSize(f, 1<<20)
	s := &pagedStream{spec: spec}
	s.next = func(dst []byte) ([]byte, bool, error) {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, io.EOF) && len(line) == 0 {
			return dst, false, nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return dst, false, err
		}
		if n := len(line); n > 0 && line[n-1] == '\n' {
			line = line[:n-1]
		}
		return append(dst, line...), true, nil
	}
	s.last = func() bool {
		_, err := r.Peek(1)
		return err != nil
	}
	return s, f.Close, nil
}

// generatedStream serves n generated records without a file: the memory benchmark
// lands up to 10M rows, which as a file would be 4 GB of disk for nothing.
func generatedStream(spec source.StreamSpec, n int) *pagedStream {
	g := newContacts()
	s := &pagedStream{spec: spec}
	s.next = func(dst []byte) ([]byte, bool, error) {
		if g.i >= n {
			return dst, false, nil
		}
		return g.next(dst), true, nil
	}
	s.last = func() bool { return g.i >= n }
	return s
}
