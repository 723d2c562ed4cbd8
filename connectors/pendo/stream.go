package pendo

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/source"
)

func field(name string, t source.Type, doc string, path ...string) source.Field {
	return source.Field{Name: name, Type: t, Path: path, Doc: doc}
}

var objectFields = []source.Field{
	field("id", source.String, "Pendo's id of the object.", "id"),
	field("name", source.String, "Name given in Pendo.", "name"),
	field("app_id", source.Int64, "Pendo application id (-323232 is a subscription's default app).", "appId"),
	field("created_at", source.Timestamp, "When the object was tagged.", "createdAt"),
	field("last_updated_at", source.Timestamp, "When its definition last changed.", "lastUpdatedAt"),
	field("created_by", source.String, "Username of who tagged it.", "createdByUser", "username"),
	field("is_core_event", source.Bool, "Marked as a core event.", "isCoreEvent"),
}

var pageFields = append(slices.Clone(objectFields),
	field("rules", source.String, "URL rules defining the page, as JSON.", "rules"),
)

var featureFields = append(slices.Clone(objectFields),
	field("page_id", source.String, "Page the feature sits on (pages.id).", "pageId"),
	field("element_path_rules", source.String, "CSS selectors defining the feature, as JSON.", "elementPathRules"),
)

// Visitor and account metadata: "auto" is Pendo's own; "agent" is what the
// install snippet sends, so its names are the subscription's choice (these are
// common ones, and the sandbox's). The raw record keeps every field.
var visitorFields = []source.Field{
	field("visitor_id", source.String, "Visitor id as the app identifies its user.", "visitorId"),
	field("account_id", source.String, "The visitor's (last) account (accounts.account_id).", "metadata", "auto", "accountid"),
	field("email", source.String, "Email sent by the install snippet, as given.", "metadata", "agent", "email"),
	field("full_name", source.String, "Name sent by the install snippet.", "metadata", "agent", "full_name"),
	field("role", source.String, "Role sent by the install snippet.", "metadata", "agent", "role"),
	field("first_visit_at", source.Timestamp, "First visit seen by Pendo.", "metadata", "auto", "firstvisit"),
	field("last_visit_at", source.Timestamp, "Last visit seen by Pendo.", "metadata", "auto", "lastvisit"),
	field("last_browser", source.String, "Browser of the last visit.", "metadata", "auto", "lastbrowsername"),
	field("last_os", source.String, "Operating system of the last visit.", "metadata", "auto", "lastoperatingsystem"),
	field("last_updated_at", source.Timestamp, "When any metadata last changed; orders versions.", "metadata", "auto", "lastupdated"),
}

var accountFields = []source.Field{
	field("account_id", source.String, "Account id as the app identifies the customer.", "accountId"),
	field("name", source.String, "Account name sent by the install snippet.", "metadata", "agent", "name"),
	field("domain", source.String, "Website domain as entered: may carry www., https:// or upper case.", "metadata", "agent", "domain"),
	field("plan", source.String, "Plan sent by the install snippet.", "metadata", "agent", "plan"),
	field("mrr", source.Float64, "Monthly recurring revenue sent by the install snippet.", "metadata", "agent", "mrr"),
	field("is_paying", source.Bool, "Paying customer, as sent by the install snippet.", "metadata", "agent", "is_paying"),
	field("first_visit_at", source.Timestamp, "First visit of any of its visitors.", "metadata", "auto", "firstvisit"),
	field("last_visit_at", source.Timestamp, "Last visit of any of its visitors.", "metadata", "auto", "lastvisit"),
	field("last_updated_at", source.Timestamp, "When any metadata last changed; orders versions.", "metadata", "auto", "lastupdated"),
}

func cloneSpec(s source.StreamSpec) source.StreamSpec {
	s.Fields = slices.Clone(s.Fields)
	for i := range s.Fields {
		s.Fields[i].Path = slices.Clone(s.Fields[i].Path)
	}
	s.PrimaryKey = slices.Clone(s.PrimaryKey)
	return s
}

// listCursor is all a list stream needs: every read is a full one.
type listCursor struct {
	V int `json:"v"`
}

// listStream reads GET /api/v1/page or /feature: the whole list in one answer.
type listStream struct {
	src  *Source
	path string
	spec source.StreamSpec
}

func newListStream(src *Source, name, path string, fields []source.Field) *listStream {
	return &listStream{src: src, path: path, spec: source.StreamSpec{
		Name: name, Fields: fields, PrimaryKey: []string{"id"}, CursorField: "last_updated_at",
	}}
}

func (st *listStream) Spec() source.StreamSpec { return cloneSpec(st.spec) }

func (st *listStream) NextPage(ctx context.Context, req source.PageRequest) (source.Page, error) {
	op := "pendo: list " + st.spec.Name
	if len(req.Cursor) > 0 && string(req.Cursor) != "null" {
		var c listCursor
		if err := json.Unmarshal(req.Cursor, &c); err != nil || c.V != 1 {
			return source.Page{}, errs.Errorf(errs.Invalid, op, "not a Pendo list cursor: %.80s", req.Cursor)
		}
	}
	b, err := st.src.do(ctx, op, http.MethodGet, st.path, nil)
	if err != nil {
		return source.Page{}, err
	}
	var rows []json.RawMessage
	if err := json.Unmarshal(b, &rows); err != nil {
		return source.Page{}, errs.Errorf(errs.Transient, op, "undecodable list (%d bytes): %v", len(b), err)
	}
	for _, r := range rows {
		var m struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(r, &m) != nil || m.ID == "" {
			return source.Page{}, errs.Errorf(errs.Transient, op, "an element of the list is not a Pendo object: %s", truncate(st.src.api.Scrub(string(r)), 120))
		}
	}
	next, _ := json.Marshal(listCursor{V: 1})
	return source.Page{Records: rows, Next: next, Done: true}, nil
}

// metaLookback is how far before the last sync's mark a metadata read starts
// again: lastupdated may be stamped a little before the change is visible. Rows
// seen at the same version are dropped, so it costs bytes, not duplicates.
const metaLookback = 15 * time.Minute

// metaCursor is the resume point of visitors and accounts, between syncs.
type metaCursor struct {
	V    int   `json:"v"`
	Mark int64 `json:"mark,omitempty"` // high-water lastupdated (epoch ms) of the last sync, never past its SyncStart
	// Seen holds the versions landed within metaLookback of Mark: the next read
	// overlaps them, and a row seen at the same version is dropped.
	Seen map[string]int64 `json:"seen,omitempty"`
}

// metaStream reads the visitors or accounts source of the aggregation endpoint:
// all rows on a first sync, those with a newer lastupdated after.
type metaStream struct {
	src     *Source
	source  string // aggregation source
	idField string // visitorId or accountId
	spec    source.StreamSpec
}

func newMetaStream(src *Source, name, aggSource, idField string, fields []source.Field) *metaStream {
	return &metaStream{src: src, source: aggSource, idField: idField, spec: source.StreamSpec{
		Name: name, Fields: fields, PrimaryKey: []string{fields[0].Name}, CursorField: "last_updated_at",
	}}
}

func (st *metaStream) Spec() source.StreamSpec { return cloneSpec(st.spec) }

func (st *metaStream) NextPage(ctx context.Context, req source.PageRequest) (source.Page, error) {
	op := "pendo: aggregate " + st.spec.Name
	var c metaCursor
	full := len(req.Cursor) == 0 || string(req.Cursor) == "null"
	if !full {
		if err := json.Unmarshal(req.Cursor, &c); err != nil || c.V != 1 {
			return source.Page{}, errs.Errorf(errs.Invalid, op, "not a Pendo %s cursor: %.80s", st.spec.Name, req.Cursor)
		}
	}
	syncStart := req.SyncStart
	if syncStart.IsZero() {
		syncStart = st.src.now()
	}
	pipeline := []any{map[string]any{"source": map[string]any{st.source: nil}}}
	if !full {
		since := max(0, c.Mark-metaLookback.Milliseconds())
		pipeline = append(pipeline, map[string]any{"filter": "metadata.auto.lastupdated >= " + strconv.FormatInt(since, 10)})
	}
	rows, err := st.src.aggregate(ctx, op, "meshflow-"+st.spec.Name, pipeline)
	if err != nil {
		return source.Page{}, err
	}
	var meta struct {
		Visitor  string `json:"visitorId"`
		Account  string `json:"accountId"`
		Metadata struct {
			Auto struct {
				LastUpdated json.Number `json:"lastupdated"`
			} `json:"auto"`
		} `json:"metadata"`
	}
	out := make([]json.RawMessage, 0, len(rows))
	versions := map[string]int64{}
	maxV := int64(0)
	for _, r := range rows {
		meta.Visitor, meta.Account, meta.Metadata.Auto.LastUpdated = "", "", ""
		if err := json.Unmarshal(r, &meta); err != nil {
			return source.Page{}, errs.Errorf(errs.Transient, op, "a row is not a Pendo %s row: %s", st.source, truncate(st.src.api.Scrub(string(r)), 120))
		}
		id := meta.Visitor
		if st.idField == "accountId" {
			id = meta.Account
		}
		if id == "" {
			return source.Page{}, errs.Errorf(errs.Transient, op, "a row has no %s: %s", st.idField, truncate(st.src.api.Scrub(string(r)), 120))
		}
		v, _ := meta.Metadata.Auto.LastUpdated.Int64() // absent: 0, always kept
		if v > 0 && c.Seen[id] >= v {
			continue // landed at this version by the last sync (the windows overlap)
		}
		out = append(out, r)
		if v > 0 {
			versions[id] = v
			maxV = max(maxV, v)
		}
	}
	// The mark never passes SyncStart, the sync's agreed upper bound; rows stamped
	// after it are in Seen, so the next window's overlap drops them.
	mark := max(c.Mark, min(maxV, syncStart.UnixMilli()))
	seen := map[string]int64{}
	for _, m := range []map[string]int64{c.Seen, versions} {
		for id, v := range m {
			if v >= mark-metaLookback.Milliseconds() {
				seen[id] = max(seen[id], v)
			}
		}
	}
	if len(seen) == 0 {
		seen = nil
	}
	next, _ := json.Marshal(metaCursor{V: 1, Mark: mark, Seen: seen})
	return source.Page{Records: out, Next: next, Done: true}, nil
}

// eventCursor is the resume point of an event stream. Between syncs Next is
// empty; during one it is the next day to read.
type eventCursor struct {
	V     int    `json:"v"`
	First string `json:"first,omitempty"` // first day of the stream's history: lookbacks stop there
	Last  string `json:"last,omitempty"`  // newest day read by a completed sync
	// Digests are the digests of the rows landed for the days a next sync re-reads
	// (the lookback before Last): a re-read day whose digest is unchanged lands
	// nothing. Only days are kept, never rows, so the cursor stays small.
	Digests map[string]string `json:"digests,omitempty"`
	Next    string            `json:"next,omitempty"`  // next day to read in this sync
	Until   string            `json:"until,omitempty"` // last day of this sync
}

// eventStream reads pageEvents or featureEvents one subscription-local day per
// request (the window is the unit of progress: Pendo answers a window at once).
type eventStream struct {
	src      *Source
	source   string // pageEvents or featureEvents
	objField string // pageId or featureId
	spec     source.StreamSpec
}

func newEventStream(src *Source, name, aggSource, objField, objName, objDoc string) *eventStream {
	fields := []source.Field{
		field("event_key", source.String, "Natural key injected by the connector (see pendo.EventKey): visitor, account, server, remote IP, day and object.", KeyField),
		field("day", source.Timestamp, "Start of the day bucket: midnight in the subscription's time zone, as an instant.", "day"),
		// The instant alone cannot say which calendar day it starts: zones from
		// UTC−12 to UTC+14 put local midnights 26 hours apart, so no fixed shift of
		// the UTC instant names the day. The connector knows the zone, so it says.
		field("local_date", source.Date, "The day bucket's calendar date in the subscription's time zone (PENDO_TIME_ZONE), injected by the connector (see pendo.DateField).", DateField),
		field("visitor_id", source.String, "Visitor (visitors.visitor_id).", "visitorId"),
		field("account_id", source.String, "Account (accounts.account_id).", "accountId"),
		field(objName, source.String, objDoc, objField),
		field("server", source.String, "Host of the app the events happened on.", "server"),
		field("remote_ip", source.String, "Client IP address.", "remoteIp"),
		field("user_agent", source.String, "Browser user agent.", "userAgent"),
		field("app_id", source.Int64, "Pendo application id.", "appId"),
		field("num_events", source.Int64, "Events in the bucket.", "numEvents"),
		field("num_minutes", source.Int64, "Minutes with at least one event in the bucket.", "numMinutes"),
	}
	return &eventStream{src: src, source: aggSource, objField: objField, spec: source.StreamSpec{
		Name: name, Fields: fields, PrimaryKey: []string{"event_key"}, CursorField: "day",
	}}
}

func (st *eventStream) Spec() source.StreamSpec { return cloneSpec(st.spec) }

// NextPage reads one day. With a partition ("2024-03-02") it reads that day and
// keeps the stream's cursor as it was (a backfill moves no high-water mark).
// Without, a sync runs from the cursor's last day minus the lookback (or, on a
// first sync, HistoryDays back) up to yesterday, one day per page.
func (st *eventStream) NextPage(ctx context.Context, req source.PageRequest) (source.Page, error) {
	op := "pendo: aggregate " + st.spec.Name
	c := eventCursor{V: 1}
	if len(req.Cursor) > 0 && string(req.Cursor) != "null" {
		if err := json.Unmarshal(req.Cursor, &c); err != nil || c.V != 1 {
			return source.Page{}, errs.Errorf(errs.Invalid, op, "not a Pendo event cursor (v1): %.80s", req.Cursor)
		}
	}
	syncStart := req.SyncStart
	if syncStart.IsZero() {
		syncStart = st.src.now()
	}
	today := civil(syncStart.In(st.src.tz))
	yesterday := today.AddDate(0, 0, -1)

	if req.Partition != "" {
		day, err := time.ParseInLocation(time.DateOnly, req.Partition, st.src.tz)
		if err != nil {
			return source.Page{}, errs.Errorf(errs.Invalid, op, "partition %q is not a day (YYYY-MM-DD)", req.Partition)
		}
		if day.After(today) {
			return source.Page{}, errs.Errorf(errs.Invalid, op, "partition %s is after today (%s in %s)", req.Partition, today.Format(time.DateOnly), st.src.tzName)
		}
		recs, d, err := st.readDay(ctx, op, day)
		if err != nil {
			return source.Page{}, err
		}
		if last, err := time.ParseInLocation(time.DateOnly, c.Last, st.src.tz); err == nil && st.rereads(day, last) {
			c.setDigest(req.Partition, d)
		}
		return source.Page{Records: recs, Next: c.encode(), Done: true}, nil
	}

	if c.Next == "" { // a new sync
		from := yesterday.AddDate(0, 0, 1-st.src.history)
		if last, err := time.ParseInLocation(time.DateOnly, c.Last, st.src.tz); err == nil {
			from = last.AddDate(0, 0, 1-st.src.lookback)
			if first, err := time.ParseInLocation(time.DateOnly, c.First, st.src.tz); err == nil && from.Before(first) {
				from = first
			}
		} else {
			c.First = from.Format(time.DateOnly)
		}
		if from.After(yesterday) { // read up to yesterday already
			return source.Page{Next: c.encode(), Done: true}, nil
		}
		c.Next, c.Until = from.Format(time.DateOnly), yesterday.Format(time.DateOnly)
	}
	day, err1 := time.ParseInLocation(time.DateOnly, c.Next, st.src.tz)
	until, err2 := time.ParseInLocation(time.DateOnly, c.Until, st.src.tz)
	if err1 != nil || err2 != nil || day.After(until) {
		return source.Page{}, errs.Errorf(errs.Invalid, op, "corrupt event cursor: next %q, until %q", c.Next, c.Until)
	}
	recs, d, err := st.readDay(ctx, op, day)
	if err != nil {
		return source.Page{}, err
	}
	if c.Digests[c.Next] == d.String() {
		recs = nil // re-read, unchanged: landed already
	}
	if st.rereads(day, until) {
		c.setDigest(c.Next, d)
	}
	if !day.Before(until) { // the last day of the sync
		c.Last, c.Next, c.Until = c.Until, "", ""
		for k := range c.Digests {
			if t, err := time.ParseInLocation(time.DateOnly, k, st.src.tz); err != nil || !st.rereads(t, until) {
				delete(c.Digests, k)
			}
		}
		return source.Page{Records: recs, Next: c.encode(), Done: true}, nil
	}
	c.Next = day.AddDate(0, 0, 1).Format(time.DateOnly)
	return source.Page{Records: recs, Next: c.encode()}, nil
}

// rereads tells whether a sync whose last day is last will read day again.
func (st *eventStream) rereads(day, last time.Time) bool {
	return !day.After(last) && day.After(last.AddDate(0, 0, -st.src.lookback))
}

func (c *eventCursor) setDigest(day string, d digest) {
	if c.Digests == nil {
		c.Digests = map[string]string{}
	}
	c.Digests[day] = d.String()
}

func (c eventCursor) encode() json.RawMessage {
	b, _ := json.Marshal(c) // strings and a string map: cannot fail
	return b
}

// readDay fetches the rows of the local day starting at day, each with its key
// and date injected, and the digest of the rows as landed (so rows landed before
// a field was injected count as changed, and are landed again with it).
func (st *eventStream) readDay(ctx context.Context, op string, day time.Time) ([]json.RawMessage, digest, error) {
	date := day.Format(time.DateOnly)
	op += " " + date
	rows, err := st.src.aggregate(ctx, op, "meshflow-"+st.spec.Name+"-"+date, []any{map[string]any{
		"source": map[string]any{st.source: nil, "timeSeries": map[string]any{"period": "dayRange", "first": day.UnixMilli(), "count": 1}},
	}})
	if err != nil {
		return nil, digest{}, err
	}
	var d digest
	out := make([]json.RawMessage, len(rows))
	for i, r := range rows {
		var b struct {
			Day json.Number `json:"day"`
		}
		if err := json.Unmarshal(r, &b); err != nil {
			return nil, digest{}, errs.Errorf(errs.Transient, op, "a row is not an event row: %s", truncate(st.src.api.Scrub(string(r)), 120))
		}
		if got, err := b.Day.Int64(); err != nil || got != day.UnixMilli() {
			return nil, digest{}, st.zoneMismatch(op, day, b.Day)
		}
		key, err := EventKey(r)
		if err != nil {
			return nil, digest{}, errs.Errorf(errs.Transient, op, "%s: %s", st.src.api.Scrub(err.Error()), truncate(st.src.api.Scrub(string(r)), 120))
		}
		if out[i], err = inject(r, key, date); err != nil {
			return nil, digest{}, errs.Errorf(errs.Transient, op, "%s: %s", st.src.api.Scrub(err.Error()), truncate(st.src.api.Scrub(string(r)), 120))
		}
		if err := d.add(out[i]); err != nil {
			return nil, digest{}, errs.Errorf(errs.Transient, op, "a row does not decode: %v", err)
		}
	}
	return out, d, nil
}

// zoneMismatch explains a row whose day bucket is not the one asked for: the
// subscription's days start at another hour than TimeZone says.
func (st *eventStream) zoneMismatch(op string, day time.Time, got json.Number) error {
	ms, err := got.Int64()
	if err != nil {
		return errs.Errorf(errs.Transient, op, "a row's day %q is not epoch milliseconds", got)
	}
	at := time.UnixMilli(ms).UTC()
	return errs.Errorf(errs.Invalid, op, "asked for the day starting %s (midnight in %s) but Pendo bucketed rows at %s: the subscription's days start at %s UTC, so its time zone is not %s; set %s to the subscription's time zone (Settings → Subscription settings)",
		day.UTC().Format(time.RFC3339), st.src.tzName, at.Format(time.RFC3339), at.Format("15:04"), st.src.tzName, TimeZoneEnv)
}

// civil is the local midnight of t's day, in t's location.
func civil(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, t.Location())
}
