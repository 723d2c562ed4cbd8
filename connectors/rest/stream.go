package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/source"
)

// stream reads one stream of a spec source. NextPage sends one request (a stream
// with a parent: at most one for the parent's page and one for its own).
type stream struct {
	src    *Source
	def    *streamDef
	parent *stream
	op     string

	// key are the fields the stream reads of each record itself: the primary key,
	// the cursor field and the keyset field.
	key                []source.Field
	keyColumns         []string // the key columns its requests name (${key.C})
	pk                 []int
	cursorAt, keysetAt int   // -1: none
	unitMS             int64 // milliseconds in a unit of an int64 cursor field

	// The parent's page a stream with a parent works through: each of its records
	// costs a page or more of this stream, so it is fetched once, not per page.
	parentMu   sync.Mutex
	parentKey  string // which parent page parentRecs hold
	parentRecs []json.RawMessage
	parentNext pageState
	parentDone bool
}

// maxRemembered bounds the versions a cursor carries, about 30 bytes each in JSON:
// a cursor stays under about 8 KB whatever the data (see keep).
const maxRemembered = 256

func newStream(src *Source, def *streamDef) *stream {
	st := &stream{src: src, def: def, op: src.spec.name + ": read " + def.name, cursorAt: -1, keysetAt: -1, unitMS: 1}
	index := func(name string) int {
		if i := slices.IndexFunc(st.key, func(f source.Field) bool { return f.Name == name }); i >= 0 {
			return i
		}
		f, _ := def.field(name)
		st.key = append(st.key, f)
		return len(st.key) - 1
	}
	for _, k := range def.pk {
		st.pk = append(st.pk, index(k))
	}
	if def.inc != nil {
		st.cursorAt = index(def.inc.field)
		if def.inc.unit == "s" {
			st.unitMS = 1000
		}
	}
	if def.page != nil && def.page.kind == "keyset" {
		st.keysetAt = index(def.page.field)
	}
	for _, r := range def.req.refs() {
		if r.ns == "key" && !slices.Contains(st.keyColumns, r.name) {
			st.keyColumns = append(st.keyColumns, r.name)
		}
	}
	return st
}

// Spec returns a copy, so callers cannot change what the next call returns.
func (st *stream) Spec() source.StreamSpec { return st.def.spec(st.src.vals) }

// cursorVersion is the version of the cursors this engine writes.
const cursorVersion = 1

// Cursor phases: a sync is reading; between syncs the cursor is idle and the next
// read starts a sync (incremental from Mark when the stream is incremental).
const (
	phaseRead = "read"
	phaseIdle = "idle"
)

// pageState is where the next request of a chain of pages starts: a stream's pages,
// or those of one parent record's children.
type pageState struct {
	P int             `json:"p,omitempty"` // pages answered so far (page_number: the next page is start + P)
	R int             `json:"r,omitempty"` // records answered so far (offset: the next offset; stop rule total)
	T json.RawMessage `json:"t,omitempty"` // the next page's token, keyset value or URL
}

// cursor is the opaque, versioned resume point. It stays small whatever the data:
// a page position, the window's bounds, and at most maxRemembered versions.
//
// An incremental sync reads the window (Since, Until]: Until is its SyncStart, Since
// the previous sync's Until less the lookback, because an API's search may lag its
// writes. A record met again at a version landed before is dropped: Seen holds the
// versions landed by earlier syncs above this sync's Since, New those this sync
// lands within the lookback of Until (see keep).
type cursor struct {
	V     int    `json:"v"`
	Phase string `json:"phase"`
	pageState
	Since int64           `json:"since,omitempty"` // exclusive lower bound, epoch ms (0: a full read)
	Until int64           `json:"until,omitempty"` // inclusive upper bound: this sync's SyncStart
	Mark  int64           `json:"mark,omitempty"`  // idle: the next sync's Since
	Seen  source.Versions `json:"seen,omitempty"`
	New   source.Versions `json:"new,omitempty"`

	// A stream with a parent: the parent's page being worked through, and which of its
	// records (I) the page state above belongs to. A keyed stream: the keys done (I)
	// and the last of them (Key), after which a resumed read goes on.
	Parent *pageState `json:"parent,omitempty"`
	I      int        `json:"i,omitempty"`
	Key    source.Key `json:"key,omitempty"`
}

func (c cursor) encode() json.RawMessage {
	b, _ := json.Marshal(c) // strings, ints, raw JSON and maps: cannot fail
	return b
}

// decodeCursor reads a cursor; a cursor it cannot read is Invalid, naming the
// cursor, never read as "from the start" (that would turn a damaged cursor into a
// silent full refresh).
func (st *stream) decodeCursor(raw json.RawMessage) (cursor, error) {
	var c cursor
	if len(raw) == 0 || string(raw) == "null" {
		return c, nil
	}
	op := st.op
	if err := json.Unmarshal(raw, &c); err != nil {
		return c, errs.Errorf(errs.Invalid, op, "not a cursor of this source: %v: run a full refresh to start the stream over", err)
	}
	switch {
	case c.V != cursorVersion:
		return c, errs.Errorf(errs.Invalid, op, "unsupported cursor version %d (this engine reads v%d): run a full refresh to start the stream over", c.V, cursorVersion)
	case c.Phase != phaseRead && c.Phase != phaseIdle:
		return c, errs.Errorf(errs.Invalid, op, "cursor phase %q is not %s or %s: run a full refresh to start the stream over", c.Phase, phaseRead, phaseIdle)
	case c.P < 0 || c.R < 0 || c.I < 0 || c.Since < 0 || c.Until < 0 || c.Mark < 0 || (c.Parent != nil && (c.Parent.P < 0 || c.Parent.R < 0)):
		return c, errs.Errorf(errs.Invalid, op, "cursor with a negative position: run a full refresh to start the stream over")
	case (c.Parent != nil || (c.I > 0 && st.def.keys == nil)) && st.parent == nil:
		return c, errs.Errorf(errs.Invalid, op, "cursor of a stream with a parent, but %s has none: run a full refresh to start the stream over", st.def.name)
	case c.Key != nil && st.def.keys == nil:
		return c, errs.Errorf(errs.Invalid, op, "cursor of a keyed stream, but %s has no keys: run a full refresh to start the stream over", st.def.name)
	case (c.Key == nil) != (c.I == 0) && st.def.keys != nil:
		return c, errs.Errorf(errs.Invalid, op, "cursor that counts %d keys done but names %d as the last: run a full refresh to start the stream over", c.I, len(c.Key))
	}
	for _, t := range []json.RawMessage{c.T, c.parentToken()} {
		if len(t) > 0 && !json.Valid(t) {
			return c, errs.Errorf(errs.Invalid, op, "cursor with an unreadable token: run a full refresh to start the stream over")
		}
	}
	return c, nil
}

// CheckCursor reports whether raw is a cursor the stream named reads back, with the
// error NextPage would give (fuzz tests hold every cursor a stream writes to it).
func (src *Source) CheckCursor(stream string, raw json.RawMessage) error {
	st := src.stream(stream)
	if st == nil {
		return errs.Errorf(errs.Invalid, src.spec.name+": cursor", "no stream %q", stream)
	}
	_, err := st.decodeCursor(raw)
	return err
}

func (c cursor) parentToken() json.RawMessage {
	if c.Parent == nil {
		return nil
	}
	return c.Parent.T
}

func (st *stream) NextPage(ctx context.Context, req source.PageRequest) (source.Page, error) {
	c, err := st.decodeCursor(req.Cursor)
	if err != nil {
		return source.Page{}, err
	}
	syncStart := req.SyncStart
	if syncStart.IsZero() {
		syncStart = st.src.now()
	}
	if c.Phase != phaseRead { // no cursor (a full read) or idle (the next sync)
		next := cursor{V: cursorVersion, Phase: phaseRead, Until: syncStart.UnixMilli()}
		if c.Phase == phaseIdle && st.def.inc != nil {
			next.Since, next.Seen = c.Mark, c.Seen
		}
		c = next
	}
	if st.parent != nil {
		return st.childPage(ctx, req, c)
	}
	if st.def.keys != nil {
		return st.keyedPage(ctx, req, c)
	}
	recs, next, done, err := st.fetch(ctx, c.pageState, st.env(req, c, nil), c.Since > 0)
	if err != nil {
		return source.Page{}, err
	}
	kept := st.keep(&c, recs)
	if done {
		return source.Page{Records: kept, Next: st.finish(c).encode(), Done: true}, nil
	}
	c.pageState = next
	return source.Page{Records: kept, Next: c.encode()}, nil
}

// env is what one request's templates are filled with.
func (st *stream) env(req source.PageRequest, c cursor, parent map[string]any) *env {
	e := &env{vals: st.src.vals, parent: parent, partition: req.Partition}
	if inc := st.def.inc; inc != nil && c.Since > 0 {
		e.since = formatBound(c.Since, inc.format, false)
		e.until = formatBound(c.Until, inc.format, true)
	}
	return e
}

// childPage reads the next page of a stream with a parent: one parent record's
// pages after another, the parent's pages read as they are needed.
func (st *stream) childPage(ctx context.Context, req source.PageRequest, c cursor) (source.Page, error) {
	if c.Parent == nil {
		c.Parent = &pageState{}
	}
	parents, parentNext, parentDone, err := st.parentPage(ctx, *c.Parent, req.Partition)
	if err != nil {
		return source.Page{}, err
	}
	if c.I >= len(parents) {
		if parentDone {
			return source.Page{Next: st.finish(c).encode(), Done: true}, nil
		}
		c.Parent, c.I, c.pageState = &parentNext, 0, pageState{}
		return source.Page{Next: c.encode()}, nil
	}
	pdef := st.parent.def
	vals, err := source.Extract(parents[c.I], pdef.fields)
	if err != nil {
		return source.Page{}, errs.Errorf(errs.Invalid, st.op, "a record of the parent stream %s does not read: %v", pdef.name, err)
	}
	pv := map[string]any{}
	for i, f := range pdef.fields {
		pv[f.Name] = vals[i]
	}
	recs, next, done, err := st.fetch(ctx, c.pageState, st.env(req, c, pv), c.Since > 0)
	if err != nil {
		return source.Page{}, err
	}
	if inc := st.def.parent.include; len(inc) > 0 {
		if recs, err = includeParent(st.op, recs, inc, pv); err != nil {
			return source.Page{}, err
		}
	}
	kept := st.keep(&c, recs)
	if !done {
		c.pageState = next
		return source.Page{Records: kept, Next: c.encode()}, nil
	}
	c.I, c.pageState = c.I+1, pageState{}
	if c.I >= len(parents) && parentDone {
		return source.Page{Records: kept, Next: st.finish(c).encode(), Done: true}, nil
	}
	return source.Page{Records: kept, Next: c.encode()}, nil
}

// keyedPage asks about the next key after the last one done (c.Key): one request
// per key, each record it answers carrying the key as {"_key": {...}}.
func (st *stream) keyedPage(ctx context.Context, req source.PageRequest, c cursor) (source.Page, error) {
	i := nextKey(req.Keys, c)
	if i >= len(req.Keys) {
		return source.Page{Next: st.finish(c).encode(), Done: true}, nil
	}
	key := req.Keys[i]
	if err := st.checkKey(key); err != nil {
		return source.Page{}, err
	}
	recs, _, _, err := st.fetch(ctx, pageState{}, &env{vals: st.src.vals, key: key, partition: req.Partition}, false)
	if err != nil {
		return source.Page{}, err
	}
	if recs, err = attach(st.op, recs, "_key", key); err != nil {
		return source.Page{}, err
	}
	c.I, c.Key = i+1, key
	if c.I >= len(req.Keys) {
		return source.Page{Records: recs, Next: st.finish(c).encode(), Done: true}, nil
	}
	return source.Page{Records: recs, Next: c.encode()}, nil
}

// nextKey is where a keyed read goes on: after the last key done (c.Key). In the
// same list that key is the I-th; when the list changed under a resumed read (a
// port the keys query reads was published while the read waited on a quota) it is
// found where it is now, and when it is gone the read goes on at the same count —
// a key at worst asked again or left to the next landing, which asks what is not
// landed yet.
func nextKey(keys []source.Key, c cursor) int {
	if c.Key == nil {
		return 0
	}
	if c.I >= 1 && c.I <= len(keys) && maps.Equal(keys[c.I-1], c.Key) {
		return c.I
	}
	if j := slices.IndexFunc(keys, func(k source.Key) bool { return maps.Equal(k, c.Key) }); j >= 0 {
		return j + 1
	}
	return min(c.I, len(keys))
}

// checkKey refuses a key that lacks a column the requests name, before a request
// is spent on it.
func (st *stream) checkKey(key source.Key) error {
	for _, col := range st.keyColumns {
		if _, ok := key[col]; !ok {
			return errs.Errorf(errs.Invalid, st.op, "the keys query returns no column %q (it returns %s), which ${key.%s} names: select it (… AS %s)",
				col, strings.Join(slices.Sorted(maps.Keys(key)), ", "), col, col)
		}
	}
	return nil
}

// parentPage returns the parent's page at pg, as a full read of it (the parent's own
// incremental window does not apply), keeping the last one.
func (st *stream) parentPage(ctx context.Context, pg pageState, partition string) ([]json.RawMessage, pageState, bool, error) {
	key, _ := json.Marshal(pg)
	k := string(key) + "\x00" + partition
	st.parentMu.Lock()
	if st.parentKey == k {
		defer st.parentMu.Unlock()
		return st.parentRecs, st.parentNext, st.parentDone, nil
	}
	st.parentMu.Unlock()
	recs, next, done, err := st.parent.fetch(ctx, pg, &env{vals: st.src.vals, partition: partition}, false)
	if err != nil {
		return nil, pageState{}, false, err
	}
	st.parentMu.Lock()
	st.parentKey, st.parentRecs, st.parentNext, st.parentDone = k, recs, next, done
	st.parentMu.Unlock()
	return recs, next, done, nil
}

// includeParent adds the parent's fields to each record as {"_parent": {...}}, so
// fields can read them (path: _parent.id).
func includeParent(op string, recs []json.RawMessage, include []string, parent map[string]any) ([]json.RawMessage, error) {
	m := map[string]any{}
	for _, name := range include {
		v := parent[name]
		if t, ok := v.(time.Time); ok {
			v = t.UTC().Format(time.RFC3339Nano)
		}
		m[name] = v
	}
	return attach(op, recs, "_parent", m)
}

// attach adds v to each record under name ({"_parent": …} or {"_key": …}), first,
// so the record's own fields stay as the API sent them.
func attach(op string, recs []json.RawMessage, name string, v any) ([]json.RawMessage, error) {
	head, err := json.Marshal(v)
	if err != nil {
		return nil, errs.E(errs.Internal, op, err)
	}
	head = slices.Concat([]byte(`{"`+name+`":`), head)
	out := make([]json.RawMessage, len(recs))
	for i, r := range recs {
		body := bytes.TrimSpace(r)[1:] // an object: fetch checked
		sep := ","
		if len(bytes.TrimSpace(body)) == 1 { // {}
			sep = ""
		}
		out[i] = slices.Concat(head, []byte(sep), body)
	}
	return out, nil
}

// call builds the request for the page at pg.
func (st *stream) call(op string, pg pageState, e *env, windowed bool) source.Call {
	d := st.def
	c := buildCall(op, &d.req, e)
	if windowed && d.inc != nil {
		w := buildCall(op, &d.inc.req, e)
		for k, v := range w.Query {
			c.Query[k] = v
		}
		for k, v := range w.Header {
			c.Header[k] = v
		}
		if w.Body != nil {
			c.Body = merge(c.Body, w.Body)
		}
	}
	p := d.page
	if p == nil {
		return c
	}
	set := func(name string, v any) {
		if name == "" {
			return
		}
		if p.in == "body" {
			body, _ := c.Body.(map[string]any)
			if body == nil {
				body = map[string]any{}
			}
			body[name] = v
			c.Body = body
			return
		}
		c.Query.Set(name, tokenText(v))
	}
	if p.sizeParam != "" {
		if p.kind == "link" { // the first request's; the next URLs carry it
			c.Query.Set(p.sizeParam, strconv.Itoa(p.size))
		} else {
			set(p.sizeParam, p.size)
		}
	}
	switch p.kind {
	case "page_number":
		set(p.param, p.start+pg.P)
	case "offset":
		set(p.param, pg.R)
	case "cursor", "keyset":
		if len(pg.T) > 0 {
			set(p.param, pg.T)
		}
	case "link":
		var next string
		if len(pg.T) > 0 && json.Unmarshal(pg.T, &next) == nil && next != "" {
			c.Path, c.Query = next, nil
		}
	}
	return c
}

// tokenText is a token or value as a query parameter: a JSON string unquoted, a
// number as written.
func tokenText(v any) string {
	switch x := v.(type) {
	case json.RawMessage:
		var s string
		if json.Unmarshal(x, &s) == nil {
			return s
		}
		return string(x)
	}
	return scalarText(v)
}

// fetch sends the request for the page at pg and returns its records as the API sent
// them, where the next page starts, and whether this was the last page.
func (st *stream) fetch(ctx context.Context, pg pageState, e *env, windowed bool) ([]json.RawMessage, pageState, bool, error) {
	op := st.op
	r, err := st.src.api.Do(ctx, st.call(op, pg, e, windowed))
	if err == nil {
		err = st.src.classify2xx(op, r)
	}
	if isSkip(err) {
		return nil, pg, true, nil
	}
	if rec, ok := asRecord(err); ok {
		return []json.RawMessage{rec}, pg, true, nil
	}
	if err != nil {
		return nil, pg, false, err
	}
	d := st.def
	recs, err := records(r.Body, d.records)
	if err != nil {
		return nil, pg, false, errs.Errorf(errs.Transient, op, "%v (%d bytes): %s", err, len(r.Body), truncate(r.Scrub(string(r.Body)), 120))
	}
	next := pageState{P: pg.P + 1, R: pg.R + len(recs)}
	p := d.page
	if p == nil {
		return recs, next, true, nil
	}
	stop, err := st.stopped(r.Body, p, pg, next, len(recs))
	if err != nil {
		return nil, pg, false, err
	}
	switch p.kind {
	case "cursor":
		var tok json.RawMessage
		if p.nextHdr != "" {
			if h := r.Header.Get(p.nextHdr); h != "" {
				tok, _ = json.Marshal(h)
			}
		} else {
			tok, _ = rawAt(r.Body, p.next)
		}
		if len(tok) == 0 || string(tok) == "null" || string(tok) == `""` {
			return recs, next, true, nil
		}
		if bytes.Equal(tok, pg.T) {
			return nil, pg, false, errs.Errorf(errs.Invalid, op, "the API answered the page token %s again: reading on would loop", truncate(r.Scrub(string(tok)), 80))
		}
		next.T = tok
	case "link":
		u := source.ParseLink(r.Header.Get("Link"))["next"]
		if u == "" {
			return recs, next, true, nil
		}
		if _, err := st.src.api.Resolve(u, nil); err != nil { // refused now, not when a resumed read follows it
			return nil, pg, false, errs.Errorf(errs.Invalid, op, "the Link header's next page: %v", err)
		}
		next.T, _ = json.Marshal(st.withoutQueryKey(u))
	case "keyset":
		if len(recs) == 0 {
			return recs, next, true, nil
		}
		last, ok := rawAt(recs[len(recs)-1], st.key[st.keysetAt].Path)
		if !ok || string(last) == "null" {
			return nil, pg, false, errs.Errorf(errs.Transient, op, "the page's last record has no %s to read on after: %s", p.field, truncate(r.Scrub(string(recs[len(recs)-1])), 120))
		}
		next.T = last
	}
	// A cursor is stored in manifests and heartbeats: it must never carry a
	// credential, even one a server echoed into its page token.
	if len(next.T) > 0 && st.src.api.Scrub(string(next.T)) != string(next.T) {
		return nil, pg, false, errs.Errorf(errs.Invalid, op, "the API's next-page token holds a credential of the source; it cannot go into a cursor")
	}
	return recs, next, stop, nil
}

// stopped applies the paginator's stop rules to an answer.
func (st *stream) stopped(body []byte, p *paginator, pg, next pageState, n int) (bool, error) {
	stop := false
	for _, rule := range p.stop {
		switch rule.kind {
		case "short_page":
			stop = stop || n < p.size
		case "empty_page":
			stop = stop || n == 0
		case "total", "total_pages":
			v, ok := rawAt(body, rule.path)
			total, err := strconv.ParseFloat(strings.TrimSpace(string(v)), 64)
			if !ok || err != nil {
				return false, errs.Errorf(errs.Transient, st.op, "the answer has no number at %s (the stop rule %s)", strings.Join(rule.path, "."), rule.kind)
			}
			if rule.kind == "total" {
				stop = stop || float64(next.R) >= total
			} else {
				stop = stop || float64(next.P) >= total
			}
		case "has_more":
			v, _ := rawAt(body, rule.path)
			stop = stop || string(v) != "true"
		}
	}
	return stop, nil
}

// withoutQueryKey drops an API key sent as a query parameter from a URL a server
// sent: a cursor keeps the URL, and a cursor must hold no secret (auth adds the key
// to every request again).
func (st *stream) withoutQueryKey(u string) string {
	a := st.src.spec.auth
	if a == nil || a.kind != "api_key" || a.in != "query" {
		return u
	}
	parsed, err := url.Parse(u)
	if err != nil {
		return st.src.api.Scrub(u)
	}
	q := parsed.Query()
	q.Del(a.name)
	parsed.RawQuery = q.Encode()
	return parsed.String()
}

// records returns the records at path in body: a JSON array of objects (null: none),
// or one object, which is one record (an enrichment's match).
func records(body []byte, path []string) ([]json.RawMessage, error) {
	v, ok := rawAt(body, path)
	if !ok {
		if !json.Valid(body) {
			return nil, errString("undecodable response")
		}
		return nil, errString("the answer has no records at " + strings.Join(path, "."))
	}
	if string(v) == "null" {
		return nil, nil
	}
	if v[0] == '{' {
		return []json.RawMessage{v}, nil
	}
	var recs []json.RawMessage
	if err := json.Unmarshal(v, &recs); err != nil {
		return nil, errString("the records at " + strings.Join(path, ".") + " are not a list")
	}
	for _, r := range recs {
		if t := bytes.TrimSpace(r); len(t) == 0 || t[0] != '{' {
			return nil, errString("a record is not a JSON object")
		}
	}
	return recs, nil
}

type errString string

func (e errString) Error() string { return string(e) }

// rawAt returns the JSON value at path in b (an empty path: b itself); false when a
// key is missing or b is not JSON.
func rawAt(b []byte, path []string) (json.RawMessage, bool) {
	v := json.RawMessage(bytes.TrimSpace(b))
	if !json.Valid(v) {
		return nil, false
	}
	for _, k := range path {
		var m map[string]json.RawMessage
		if json.Unmarshal(v, &m) != nil {
			return nil, false
		}
		next, ok := m[k]
		if !ok {
			return nil, false
		}
		v = bytes.TrimSpace(next)
	}
	return v, true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// keep returns the records of a page this sync should land, updating c. A stream
// without incremental keeps every record. An incremental one drops records changed
// after Until (the next window holds them), at or below Since (an earlier sync landed
// them), and those landed before at the same version; it remembers the versions it
// lands within the lookback of Until, at most maxRemembered of them. Past that (a bulk
// update of thousands of records just before the sync) it lands the rest without
// remembering them: the next sync lands them once more, a duplicate of the same
// version that the raw views' newest-version-per-key read never shows, where
// leaving them to the next sync would publish them a whole cadence late.
func (st *stream) keep(c *cursor, recs []json.RawMessage) []json.RawMessage {
	inc := st.def.inc
	if inc == nil || len(recs) == 0 {
		return recs
	}
	band := c.Until - inc.lookback.Milliseconds()
	remembered := len(c.New)
	for _, v := range c.Seen {
		if v > band {
			remembered++
		}
	}
	x := source.NewExtractor(st.key)
	var vals []any
	out := make([]json.RawMessage, 0, len(recs))
	for _, raw := range recs {
		var err error
		if vals, err = x.Extract(raw, vals); err != nil {
			out = append(out, raw) // the landing reports what does not read
			continue
		}
		v := st.version(vals[st.cursorAt])
		id := st.id(vals)
		switch {
		case v == 0: // no version: land it, nothing can tell a repeat
		case v > c.Until:
			continue
		case c.Since > 0 && v <= c.Since:
			continue
		case id != "" && (c.Seen.Landed(id, v) || c.New.Landed(id, v)):
			continue
		case v > band && id != "" && remembered < maxRemembered:
			if c.New == nil {
				c.New = source.Versions{}
			}
			c.New[id] = v
			remembered++
		}
		out = append(out, raw)
	}
	return out
}

// version is a cursor field's value as epoch ms; 0 when it has none.
func (st *stream) version(v any) int64 {
	switch x := v.(type) {
	case time.Time:
		return x.UnixMilli()
	case int64:
		return x * st.unitMS
	}
	return 0
}

// id is a record's primary key as text; "" when part of it is missing.
func (st *stream) id(vals []any) string {
	parts := make([]string, len(st.pk))
	for i, k := range st.pk {
		if vals[k] == nil {
			return ""
		}
		parts[i] = scalarText(vals[k])
	}
	return strings.Join(parts, "|")
}

// finish turns the cursor of a completed sync into the idle cursor of the next: its
// window begins the lookback before this one's Until (never before this one's Since,
// should the clock go back), and only the versions above that are remembered.
func (st *stream) finish(c cursor) cursor {
	if st.def.inc == nil {
		return cursor{V: cursorVersion, Phase: phaseIdle}
	}
	mark := max(c.Since, c.Until-st.def.inc.lookback.Milliseconds())
	seen := source.MergeVersions(c.Seen, c.New)
	seen.Prune(mark + 1)
	if len(seen) == 0 {
		seen = nil
	}
	return cursor{V: cursorVersion, Phase: phaseIdle, Mark: mark, Seen: seen}
}
