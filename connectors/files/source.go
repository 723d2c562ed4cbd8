package files

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/smithy-go"
	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/source"
)

// Settle is how far before the newest file a landing has seen it still looks for
// files it has not: an object store dates an upload when it began (S3's
// LastModified), so a large file may appear after a smaller one dropped later. The
// cursor remembers the files of this last stretch only, so it stays small however
// many files the bucket holds.
const Settle = time.Hour

// PageRows bounds the rows of one page: a long file lands over several pages, so
// its landing checkpoints as it goes.
const PageRows = 5000

// CallTimeout bounds one call to the bucket (a listing page, a file's download):
// an object store that stops answering fails the page, which the reader retries.
const CallTimeout = 5 * time.Minute

// MaxFileBytes bounds a file the source reads: a file is parsed whole, so that a
// bad row refuses it before any of its rows lands.
const MaxFileBytes = 256 << 20

// Source is a configured files source: its bucket and streams.
type Source struct {
	spec    *Spec
	url     string // as configured, for messages (without its query, which may hold a key)
	open    string // the URL opened, with the prefix parameter
	mu      sync.Mutex
	bucket  *blob.Bucket
	streams []source.Stream
}

// Open returns the source reading the bucket at bucketURL. The bucket is opened at
// its first use, so a worker starts while a team's bucket is unreachable, and the
// landing or `mesh doctor` says why.
func (s *Spec) Open(bucketURL string) (*Source, error) {
	if err := checkURL(s.urlVar)(bucketURL); err != nil {
		return nil, err
	}
	u, _ := url.Parse(bucketURL)
	shown := u.Scheme + "://" + u.Host + u.Path
	open, err := lake.BucketURL(bucketURL)
	if err != nil {
		return nil, errs.E(errs.Invalid, "configure", err)
	}
	src := &Source{spec: s, url: shown, open: open}
	for _, st := range s.streams {
		src.streams = append(src.streams, &fileStream{src: src, def: st})
	}
	return src, nil
}

// Name is the source's name.
func (src *Source) Name() string { return src.spec.name }

// Streams are its streams.
func (src *Source) Streams() []source.Stream { return src.streams }

// Tuning is what `mesh doctor` shows of how the source reads: no pacing (the object
// store paces with its own 503 SlowDown, which its client retries), CallTimeout.
func (src *Source) Tuning() source.Tuning { return source.Tuning{HTTPTimeout: CallTimeout} }

// Close closes the bucket once opened.
func (src *Source) Close() error {
	src.mu.Lock()
	defer src.mu.Unlock()
	if src.bucket == nil {
		return nil
	}
	err := src.bucket.Close()
	src.bucket = nil
	return err
}

func (src *Source) openBucket(ctx context.Context) (*blob.Bucket, error) {
	src.mu.Lock()
	defer src.mu.Unlock()
	if src.bucket != nil {
		return src.bucket, nil
	}
	b, err := blob.OpenBucket(ctx, src.open)
	if err != nil {
		// Nothing was asked of the bucket yet: the URL itself is wrong.
		return nil, errs.Errorf(errs.Invalid, src.spec.name+": open "+src.url, "%v; fix %s", err, src.spec.urlVar)
	}
	src.bucket = b
	return b, nil
}

// fail wraps a bucket error with its kind and the variable to fix.
func (src *Source) fail(op string, err error) error {
	kind := lake.BlobKind(err)
	if gcerrors.Code(err) == gcerrors.ResourceExhausted || slowDown(err) {
		// S3's 503 SlowDown, once its client's own retries are spent.
		e := errs.Errorf(errs.RateLimited, src.spec.name+": "+op+" "+src.url, "%v", err)
		e.Limit = "the bucket's request rate (" + src.url + ")"
		return e
	}
	hint := ""
	switch kind {
	case errs.NotFound:
		hint = fmt.Sprintf(" (is %s right?)", src.spec.urlVar)
	case errs.Permission:
		hint = fmt.Sprintf(": the worker may not read %s; grant it read and list on the bucket, or fix %s", src.url, src.spec.urlVar)
	}
	return errs.Errorf(kind, src.spec.name+": "+op+" "+src.url, "%v%s", err, hint)
}

// slowDown reports whether err is S3's 503 SlowDown, which gocloud reports as
// Unknown once the AWS SDK's own retries are spent.
func slowDown(err error) bool {
	var api smithy.APIError
	return errors.As(err, &api) && api.ErrorCode() == "SlowDown"
}

// Check lists each stream's prefix: the bucket is there and the worker may list it.
func (src *Source) Check(ctx context.Context) error {
	b, err := src.openBucket(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, CallTimeout)
	defer cancel()
	for _, st := range src.spec.streams {
		if _, _, err := b.ListPage(ctx, blob.FirstPageToken, 1, &blob.ListOptions{Prefix: st.prefix}); err != nil {
			return src.fail("list "+st.prefix, err)
		}
	}
	return nil
}

// fileStream reads the files of one stream.
type fileStream struct {
	src *Source
	def *stream

	// The files a sync has yet to read, listed at its first page and kept while its
	// pages follow one another, so a sync lists the bucket once, not once a file. A
	// file dropped meanwhile waits for the next sync.
	mu      sync.Mutex
	after   string    // the cursor the next page of the sync starts from
	pending []dropped // oldest first
	parsed  *parsed   // the file being read, parsed
}

// dropped is one file of the bucket.
type dropped struct {
	key      string
	size     int64
	modified time.Time
	fp       string // see fingerprint
}

// parsed is a file read and checked: its records, or why it is refused.
type parsed struct {
	fp      string
	records []json.RawMessage
	refused string
}

func (f *fileStream) Spec() source.StreamSpec { return f.def.spec() }

// cursor is where a stream's landings have got to: every file older than Settle
// before Newest is done, and of the younger ones those in Seen.
type cursor struct {
	V      int       `json:"v"`
	Newest time.Time `json:"newest,omitzero"`
	Seen   []seen    `json:"seen,omitempty"`
	// At is the file being read and how many of its records are landed, between
	// the pages of a long file.
	At *position `json:"at,omitempty"`
}

type seen struct {
	FP       string    `json:"f"`
	Modified time.Time `json:"t"`
}

type position struct {
	Key     string `json:"key"`
	FP      string `json:"f"`
	Records int    `json:"records"`
}

func decodeCursor(b json.RawMessage) (cursor, error) {
	c := cursor{V: 1}
	if len(b) == 0 {
		return c, nil
	}
	if err := json.Unmarshal(b, &c); err != nil || c.V != 1 {
		return c, fmt.Errorf("cursor %.80q is not a files cursor of version 1", b)
	}
	return c, nil
}

func (c cursor) encode() json.RawMessage {
	b, _ := json.Marshal(c)
	return b
}

// landed records file d as done and forgets what Settle has put behind.
func (c cursor) landed(d dropped) cursor {
	if d.modified.After(c.Newest) {
		c.Newest = d.modified
	}
	horizon := c.Newest.Add(-Settle)
	kept := make([]seen, 0, len(c.Seen)+1)
	for _, s := range append(c.Seen, seen{FP: d.fp, Modified: d.modified}) {
		if !s.Modified.Before(horizon) {
			kept = append(kept, s)
		}
	}
	c.Seen, c.At = kept, nil
	return c
}

// done reports whether a file is landed (or refused) already by this cursor.
func (c cursor) done(modified time.Time, fp string) bool {
	if modified.Before(c.Newest.Add(-Settle)) {
		return true
	}
	return slices.ContainsFunc(c.Seen, func(s seen) bool { return s.FP == fp })
}

// fingerprint is what tells a file's versions apart: its key, size and ETag (or
// MD5), hashed short.
func fingerprint(key string, size int64, etag string) string {
	h := sha256.Sum256([]byte(key + "\x00" + strconv.FormatInt(size, 10) + "\x00" + etag))
	return hex.EncodeToString(h[:8])
}

// NextPage lands the next stretch of the oldest file not landed yet, or reports
// that file refused.
func (f *fileStream) NextPage(ctx context.Context, req source.PageRequest) (source.Page, error) {
	cur, err := decodeCursor(req.Cursor)
	if err != nil {
		return source.Page{}, errs.E(errs.Invalid, f.op(), err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.after == "" || f.after != string(req.Cursor) {
		if f.pending, err = f.list(ctx, cur); err != nil {
			return source.Page{}, err
		}
	}
	if len(f.pending) == 0 {
		f.after = ""
		return source.Page{Next: cur.encode(), Done: true}, nil
	}
	d := f.pending[0]
	p, err := f.parse(ctx, d)
	if err != nil {
		return source.Page{}, err
	}
	page := source.Page{}
	from := 0
	if cur.At != nil && cur.At.FP == d.fp {
		from = min(cur.At.Records, len(p.records))
	}
	to := min(from+PageRows, len(p.records))
	switch {
	case p.refused != "":
		page.Warnings = []string{p.refused}
		cur = cur.landed(d)
	case to < len(p.records):
		page.Records = p.records[from:to]
		cur.At = &position{Key: d.key, FP: d.fp, Records: to}
	default:
		page.Records = p.records[from:to]
		cur = cur.landed(d)
	}
	if cur.At == nil {
		f.pending, f.parsed = f.pending[1:], nil
	}
	page.Next, page.Done = cur.encode(), len(f.pending) == 0
	// The next page of this sync starts from here; a sync that ended lists again.
	f.after = ""
	if !page.Done {
		f.after = string(page.Next)
	}
	return page, nil
}

func (f *fileStream) op() string { return f.src.spec.name + "." + f.def.name }

// list lists the stream's files the cursor has not landed, oldest first.
func (f *fileStream) list(ctx context.Context, cur cursor) ([]dropped, error) {
	b, err := f.src.openBucket(ctx)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, CallTimeout)
	defer cancel()
	var out []dropped
	it := b.List(&blob.ListOptions{Prefix: f.def.prefix})
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, f.src.fail("list "+f.def.prefix, err)
		}
		if obj.IsDir {
			continue
		}
		if ok, _ := path.Match(f.def.glob, obj.Key); !ok || f.format(obj.Key) == "" {
			continue
		}
		if obj.ModTime.Before(cur.Newest.Add(-Settle)) {
			continue // landed long ago: no need to ask for its ETag
		}
		etag := hex.EncodeToString(obj.MD5)
		if len(obj.MD5) == 0 {
			attrs, err := b.Attributes(ctx, obj.Key)
			if err != nil {
				if lake.BlobKind(err) == errs.NotFound {
					continue // deleted since it was listed
				}
				return nil, f.src.fail("read the attributes of "+obj.Key, err)
			}
			etag = attrs.ETag
		}
		d := dropped{key: obj.Key, size: obj.Size, modified: obj.ModTime.UTC(), fp: fingerprint(obj.Key, obj.Size, etag)}
		if !cur.done(d.modified, d.fp) {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b dropped) int {
		if c := a.modified.Compare(b.modified); c != 0 {
			return c
		}
		return strings.Compare(a.key, b.key)
	})
	return out, nil
}

// format is the format of key's file: the stream's, or its extension's.
func (f *fileStream) format(key string) string {
	if f.def.format != "" {
		return f.def.format
	}
	return formatOf(key)
}

// parse reads file d and turns its rows into records, or says why it is refused.
func (f *fileStream) parse(ctx context.Context, d dropped) (*parsed, error) {
	if f.parsed != nil && f.parsed.fp == d.fp {
		return f.parsed, nil
	}
	// The warning does not name the stream: the landing reports a page's warnings
	// under it ("land finance_files.bookings: refused …").
	refuse := func(format string, args ...any) (*parsed, error) {
		f.parsed = &parsed{fp: d.fp, refused: fmt.Sprintf("refused %s: %s; it lands once it is dropped again, fixed", d.key, fmt.Sprintf(format, args...))}
		return f.parsed, nil
	}
	if d.size > MaxFileBytes {
		return refuse("%d bytes is more than the %d MiB a file may have: split it", d.size, MaxFileBytes>>20)
	}
	b, err := f.src.openBucket(ctx)
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, CallTimeout)
	defer cancel()
	data, err := b.ReadAll(rctx, d.key)
	if err != nil {
		return nil, f.src.fail("read "+d.key, err)
	}
	t, err := read(f.format(d.key), data, f.def.sheet)
	if err != nil {
		return refuse("%v", err)
	}
	records, problem := f.def.records(d.key, d.modified, t)
	if problem != "" {
		return refuse("%s", problem)
	}
	f.parsed = &parsed{fp: d.fp, records: records}
	return f.parsed, nil
}

// records checks a table's header against the stream's columns and turns its rows
// into records of the stream's fields; problem says what does not match, naming
// the column and the header expected.
func (st *stream) records(key string, modified time.Time, t *table) (records []json.RawMessage, problem string) {
	at, problem := st.match(t.header)
	if problem != "" {
		return nil, problem
	}
	out := make([]json.RawMessage, 0, len(t.rows))
	var buf bytes.Buffer
	for _, r := range t.rows {
		buf.Reset()
		buf.WriteByte('{')
		for i, c := range st.cols {
			v, err := cell(r.cells[at[i]], c.field.Type, t.serialDates)
			if err != nil {
				return nil, fmt.Sprintf("row %d, column %q (%s): %v", r.num, c.header, c.field.Type, err)
			}
			writeMember(&buf, c.field.Name, v)
			buf.WriteByte(',')
		}
		writeMember(&buf, ColFile, key)
		buf.WriteByte(',')
		writeMember(&buf, ColRow, r.num)
		buf.WriteByte(',')
		writeMember(&buf, ColModified, modified.Format(time.RFC3339Nano))
		buf.WriteByte('}')
		out = append(out, json.RawMessage(bytes.Clone(buf.Bytes())))
	}
	return out, ""
}

func writeMember(buf *bytes.Buffer, name string, v any) {
	k, _ := json.Marshal(name)
	val, _ := json.Marshal(v)
	buf.Write(k)
	buf.WriteByte(':')
	buf.Write(val)
}

// match finds each declared column in a file's header, compared without case or
// surrounding spaces and in any order. The header must hold every declared column
// and nothing else (empty header cells right of the last column aside).
func (st *stream) match(header []string) (at []int, problem string) {
	for len(header) > 0 && strings.TrimSpace(header[len(header)-1]) == "" {
		header = header[:len(header)-1]
	}
	index := map[string]int{}
	for i, h := range header {
		n := normalize(h)
		if n == "" {
			return nil, fmt.Sprintf("header column %d is empty; expected header: %s", i+1, st.expected())
		}
		if _, dup := index[n]; dup {
			return nil, fmt.Sprintf("column %q appears twice in the header; expected header: %s", h, st.expected())
		}
		index[n] = i
	}
	at = make([]int, len(st.cols))
	for i, c := range st.cols {
		j, ok := index[normalize(c.header)]
		if !ok {
			return nil, fmt.Sprintf("column %q is missing from the header; expected header: %s", c.header, st.expected())
		}
		at[i] = j
		delete(index, normalize(c.header))
	}
	for i, h := range header {
		if _, extra := index[normalize(h)]; extra {
			return nil, fmt.Sprintf("column %q (column %d) is not one of the stream's; expected header: %s", h, i+1, st.expected())
		}
	}
	return at, ""
}

// expected is the header the stream's files must have.
func (st *stream) expected() string {
	hs := make([]string, len(st.cols))
	for i, c := range st.cols {
		hs[i] = c.header
	}
	return strings.Join(hs, ", ")
}

// cell checks one value against its column's type and returns it as the record
// holds it: a number, a boolean, a date as YYYY-MM-DD, a timestamp in RFC 3339 UTC,
// text as it is; nil when empty.
func cell(v any, t source.Type, serialDates bool) (any, error) {
	if s, ok := v.(string); ok && t != source.String {
		v = strings.TrimSpace(s)
		if serialDates && (t == source.Date || t == source.Timestamp) {
			if d, ok := serialDate(s); ok {
				v = d
			}
		}
		if t == source.Bool {
			switch strings.ToLower(s) { // Excel's and the spreadsheets' spellings
			case "yes", "y":
				v = "true"
			case "no", "n":
				v = "false"
			}
		}
	}
	if tm, ok := v.(time.Time); ok {
		v = tm.UTC().Format(time.RFC3339Nano)
	}
	if t == source.Date {
		if s, ok := v.(string); ok {
			v = strings.TrimSuffix(s, "T00:00:00Z")
		}
	}
	out, err := source.Convert(v, t)
	if err != nil || out == nil {
		return nil, err
	}
	switch x := out.(type) {
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return nil, fmt.Errorf("%v is not a finite number", v)
		}
	case time.Time:
		if t == source.Date {
			return x.Format(time.DateOnly), nil
		}
		return x.Format(time.RFC3339Nano), nil
	}
	return out, nil
}
