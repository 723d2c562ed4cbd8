package googleanalytics

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/source"
)

// StreamName is the connector's one stream.
const StreamName = "daily_report"

// metricTypes types the metrics the connector knows; any other metric is
// Float64, which holds GA4's integers exactly up to 2^53 and every float type
// (TYPE_FLOAT, TYPE_SECONDS, TYPE_CURRENCY, ...). The record keeps the value as
// GA4 sent it and the type GA4 declared in metric_types either way.
var metricTypes = map[string]source.Type{
	"sessions": source.Int64, "totalUsers": source.Int64, "activeUsers": source.Int64, "newUsers": source.Int64,
	"engagedSessions": source.Int64, "conversions": source.Int64, "keyEvents": source.Int64,
	"screenPageViews": source.Int64, "eventCount": source.Int64, "active1DayUsers": source.Int64,
	"active7DayUsers": source.Int64, "active28DayUsers": source.Int64, "transactions": source.Int64,
	"ecommercePurchases": source.Int64, "addToCarts": source.Int64, "checkouts": source.Int64,
	"engagementRate": source.Float64, "bounceRate": source.Float64, "averageSessionDuration": source.Float64,
	"sessionsPerUser": source.Float64, "screenPageViewsPerSession": source.Float64, "totalRevenue": source.Float64,
	"purchaseRevenue": source.Float64, "userEngagementDuration": source.Float64,
}

var docs = map[string]string{
	"sessionDefaultChannelGroup": "Default channel group of the session (Organic Search, Direct, Paid Search, ...).",
	"landingPage":                "Path of the first page of the session, without the query string; (not set) when unknown.",
	"country":                    "Country of the user, as GA4 names it.",
	"deviceCategory":             "desktop, mobile or tablet.",
	"sessions":                   "Sessions that started on the day.",
	"totalUsers":                 "Distinct users; not additive across rows or days.",
	"activeUsers":                "Distinct engaged users; not additive across rows or days.",
	"newUsers":                   "Users who visited for the first time.",
	"conversions":                "Conversion (key) events.",
	"keyEvents":                  "Key events (GA4's name for conversions since 2024).",
	"screenPageViews":            "Page and screen views.",
	"engagementRate":             "Engaged sessions divided by sessions (0..1).",
}

func doc(name, kind string) string {
	if d, ok := docs[name]; ok {
		return d + " GA4 " + kind + " " + name + "."
	}
	return "GA4 " + kind + " " + name + "."
}

// column is the snake_case column of a GA4 API name: sessionDefaultChannelGroup →
// session_default_channel_group, customEvent:plan → custom_event_plan.
func column(name string) string {
	var b strings.Builder
	prev := rune(0)
	for _, r := range name {
		switch {
		case unicode.IsUpper(r):
			if unicode.IsLower(prev) || unicode.IsDigit(prev) {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(r))
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		default:
			if prev != '_' && b.Len() > 0 {
				b.WriteByte('_')
			}
			r = '_'
		}
		prev = r
	}
	return strings.TrimRight(b.String(), "_")
}

// stream reads daily_report. NextPage sends exactly one runReport (plus, when
// the cached access token has run out, one token request).
type stream struct {
	src   *Source
	spec  source.StreamSpec
	shape string // fingerprint of the report's dimensions and metrics
}

func newStream(src *Source) *stream {
	fields := []source.Field{
		{Name: "property_id", Type: source.String, Path: []string{"property_id"}, Doc: "GA4 property the row was reported for (numeric id)."},
		{Name: "date", Type: source.Date, Path: []string{"date"}, Doc: "Day the row covers, in the property's time zone (GA4 date dimension, sent as YYYYMMDD)."},
	}
	pk := []string{"property_id", "date"}
	for _, d := range src.dims[1:] {
		fields = append(fields, source.Field{Name: column(d), Type: source.String, Path: []string{"dimensions", d}, Doc: doc(d, "dimension")})
		pk = append(pk, column(d))
	}
	for _, m := range src.metrics {
		t, ok := metricTypes[m]
		if !ok {
			t = source.Float64
		}
		fields = append(fields, source.Field{Name: column(m), Type: t, Path: []string{"metrics", m}, Doc: doc(m, "metric")})
	}
	fields = append(fields, source.Field{Name: "pulled_at", Type: source.Timestamp, Path: []string{"pulled_at"},
		Doc: "When the connector pulled the row. GA4 numbers settle for 48 hours and recent days are pulled again, so the newest pull of a row wins."})
	h := fnv.New64a()
	fmt.Fprintf(h, "%q|%q", src.dims, src.metrics)
	return &stream{
		src:   src,
		shape: strconv.FormatUint(h.Sum64(), 36),
		spec: source.StreamSpec{
			Name:        StreamName,
			Fields:      fields,
			PrimaryKey:  pk,
			CursorField: "pulled_at",
			// 0: pacing is per Source (see Options.RequestsPerSecond).
		},
	}
}

// Spec returns a copy, so callers cannot change what the next call returns.
func (st *stream) Spec() source.StreamSpec {
	s := st.spec
	s.Fields = slices.Clone(s.Fields)
	for i := range s.Fields {
		s.Fields[i].Path = slices.Clone(s.Fields[i].Path)
	}
	s.PrimaryKey = slices.Clone(s.PrimaryKey)
	return s
}

// cursor is the opaque resume point. Between syncs it holds, per property, the
// last complete day landed, the property's time zone and digests of the rows of
// the lookback window as last landed; during a sync Run says where it is.
type cursor struct {
	V     int                   `json:"v"`
	Shape string                `json:"shape,omitempty"` // the report shape Seen digests were made with
	Props map[string]*propState `json:"props,omitempty"`
	Run   *run                  `json:"run,omitempty"`
}

type propState struct {
	Last string `json:"last,omitempty"` // last complete day landed, YYYY-MM-DD in TZ
	TZ   string `json:"tz,omitempty"`   // IANA zone from the reports' metadata
	// Seen maps each day of the lookback window to the digests of its rows as
	// last landed: a re-pulled row with the same numbers is not landed again.
	Seen map[string]string `json:"seen,omitempty"`
}

// run is a sync in progress: one property after the other, one day after the
// other, one page after the other.
type run struct {
	Partition string   `json:"partition,omitempty"` // one day, or "" for a full or incremental sync
	At        int64    `json:"at"`                  // SyncStart, epoch ms: "yesterday" is the day before it
	Props     []string `json:"props"`               // properties of this sync, fixed at its start
	I         int      `json:"i"`                   // index in Props being read
	Day       string   `json:"day,omitempty"`       // day being read; "" = Props[I]'s window is not yet set
	End       string   `json:"end,omitempty"`       // last day of Props[I]'s window
	Offset    int      `json:"offset,omitempty"`    // next row of Day
	Pulled    bool     `json:"pulled,omitempty"`    // a report of Props[I] was read
	// New collects digests of the rows pulled for the days the next sync will
	// look back on; they become Seen when the property's window is done.
	New      map[string]string `json:"new,omitempty"`
	Overflow bool              `json:"overflow,omitempty"` // too many rows to keep digests of
}

// maxDigests bounds the digests a cursor keeps per property (8 bytes each): past
// it, the next sync lands every re-pulled row, which costs rows, not correctness.
const maxDigests = 20_000

func decodeCursor(raw json.RawMessage) (cursor, error) {
	var c cursor
	if len(raw) == 0 || string(raw) == "null" {
		return cursor{V: 1}, nil
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return c, errs.Errorf(errs.Invalid, "googleanalytics: cursor", "not a GA4 cursor: %v", err)
	}
	if c.V != 1 {
		return c, errs.Errorf(errs.Invalid, "googleanalytics: cursor", "unsupported cursor version %d (this connector writes v1)", c.V)
	}
	// A cursor comes back from the lake, where anything may have happened to it:
	// what would index out of range, dereference nil, or page the same day forever
	// (addDays keeps a day it cannot parse) is refused here.
	for id, ps := range c.Props {
		if ps == nil || !isDay(ps.Last) {
			return c, errs.Errorf(errs.Invalid, "googleanalytics: cursor", "the state of property %s is corrupt (no state, or a last day that is not YYYY-MM-DD)", id)
		}
	}
	if r := c.Run; r != nil {
		if r.I < 0 || r.I > len(r.Props) || r.Offset < 0 || !isDay(r.Partition) || !isDay(r.Day) || !isDay(r.End) {
			return c, errs.Errorf(errs.Invalid, "googleanalytics: cursor", "the sync in progress is corrupt (property %d of %d, day %q to %q, offset %d)", r.I, len(r.Props), r.Day, r.End, r.Offset)
		}
	}
	return c, nil
}

// isDay reports whether s is "" or a YYYY-MM-DD day.
func isDay(s string) bool {
	_, err := time.Parse(time.DateOnly, s)
	return s == "" || err == nil
}

func (c cursor) encode() json.RawMessage {
	b, _ := json.Marshal(c) // strings, ints and maps: cannot fail
	return b
}

// NextPage reads the next page of the sync req.Cursor is in, or starts one:
//
//   - req.Partition = "2024-03-02": exactly that day of every property, every row;
//     the state between syncs is carried through unchanged.
//   - req.Partition = "": from each property's last complete day minus
//     LookbackDays (StartDate when none) up to yesterday in the property's time
//     zone; re-pulled rows whose numbers did not change are left out.
func (st *stream) NextPage(ctx context.Context, req source.PageRequest) (source.Page, error) {
	c, err := decodeCursor(req.Cursor)
	if err != nil {
		return source.Page{}, err
	}
	if c.Props == nil {
		c.Props = map[string]*propState{}
	}
	if c.Shape != st.shape { // other dimensions or metrics: old digests mean nothing
		for _, ps := range c.Props {
			ps.Seen = nil
		}
		c.Shape = st.shape
	}
	for id, ps := range c.Props {
		st.src.learnZone(id, ps.TZ)
	}
	if c.Run == nil || c.Run.Partition != req.Partition {
		if req.Partition != "" {
			if _, err := time.Parse(time.DateOnly, req.Partition); err != nil {
				return source.Page{}, errs.Errorf(errs.Invalid, "googleanalytics: "+StreamName, "partition %q is not a day (YYYY-MM-DD)", req.Partition)
			}
		}
		at := req.SyncStart
		if at.IsZero() {
			at = st.src.now()
		}
		c.Run = &run{Partition: req.Partition, At: at.UnixMilli(), Props: slices.Clone(st.src.props)}
	}
	if done := st.advance(&c); done {
		return source.Page{Next: c.encode(), Done: true}, nil
	}
	recs, err := st.fetch(ctx, &c)
	if err != nil {
		return source.Page{}, err
	}
	done := st.advance(&c)
	return source.Page{Records: recs, Next: c.encode(), Done: done}, nil
}

// advance moves c.Run past finished days and properties to the next request;
// it reports whether the sync is over, in which case c is the cursor between syncs.
func (st *stream) advance(c *cursor) bool {
	r := c.Run
	for r.I < len(r.Props) {
		id := r.Props[r.I]
		ps := c.Props[id]
		if ps == nil {
			ps = &propState{}
			c.Props[id] = ps
		}
		if r.Day == "" {
			if r.Partition != "" {
				r.Day, r.End = r.Partition, r.Partition
			} else {
				r.Day, r.End = st.window(ps, time.UnixMilli(r.At))
			}
		}
		if r.Day <= r.End {
			return false
		}
		if r.Partition == "" && r.Pulled {
			st.finish(ps, r)
		}
		r.I++
		r.Day, r.End, r.Offset, r.Pulled, r.New, r.Overflow = "", "", 0, false, nil, false
	}
	if r.Partition == "" {
		for id := range c.Props { // a property no longer configured
			if !slices.Contains(r.Props, id) {
				delete(c.Props, id)
			}
		}
	}
	c.Run = nil
	return true
}

// window is the first and last day an unpartitioned sync reads of a property.
func (st *stream) window(ps *propState, at time.Time) (first, last string) {
	last = st.yesterday(ps, at)
	if ps.Last != "" {
		return addDays(ps.Last, -st.src.lookback), last
	}
	if m := relDate.FindStringSubmatch(st.src.startDate); m != nil {
		n, _ := strconv.Atoi(m[1])
		return at.UTC().AddDate(0, 0, -n).Format(time.DateOnly), last
	}
	return st.src.startDate, last
}

// yesterday is the last complete day at at in the property's time zone. Before
// the first report says which zone that is, it assumes UTC−12, the last zone to
// finish a day, so no incomplete day is read; the window grows once GA4 tells.
func (st *stream) yesterday(ps *propState, at time.Time) string {
	loc := time.FixedZone("UTC-12", -12*3600)
	if ps.TZ != "" {
		if l, err := time.LoadLocation(ps.TZ); err == nil {
			loc = l
		}
	}
	y, m, d := at.In(loc).Date()
	return time.Date(y, m, d-1, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
}

func addDays(day string, n int) string {
	t, err := time.Parse(time.DateOnly, day)
	if err != nil {
		return day
	}
	return t.AddDate(0, 0, n).Format(time.DateOnly)
}

// finish closes a property's window: its last complete day moves to the end of
// the window, and the digests of the days the next sync looks back on replace
// the old ones.
func (st *stream) finish(ps *propState, r *run) {
	if r.End > ps.Last {
		ps.Last = r.End
	}
	from := addDays(ps.Last, -st.src.lookback)
	ps.Seen = nil
	if r.Overflow {
		return
	}
	for day, d := range r.New {
		if day >= from {
			if ps.Seen == nil {
				ps.Seen = map[string]string{}
			}
			ps.Seen[day] = d
		}
	}
}

type dateRange struct {
	StartDate string `json:"startDate"`
	EndDate   string `json:"endDate"`
}

type named struct {
	Name string `json:"name"`
}

type orderBy struct {
	Dimension struct {
		DimensionName string `json:"dimensionName"`
	} `json:"dimension"`
}

type reportRequest struct {
	DateRanges []dateRange `json:"dateRanges"`
	Dimensions []named     `json:"dimensions,omitempty"`
	Metrics    []named     `json:"metrics"`
	Limit      int         `json:"limit,omitempty"`
	Offset     int         `json:"offset,omitempty"`
	OrderBys   []orderBy   `json:"orderBys,omitempty"`
}

type reportResponse struct {
	DimensionHeaders []named `json:"dimensionHeaders"`
	MetricHeaders    []struct {
		Name string `json:"name"`
		Type string `json:"type"`
	} `json:"metricHeaders"`
	Rows     []json.RawMessage `json:"rows"` // absent in an empty report
	RowCount int               `json:"rowCount"`
	Metadata struct {
		CurrencyCode string `json:"currencyCode"`
		TimeZone     string `json:"timeZone"`
	} `json:"metadata"`
}

type wireRow struct {
	DimensionValues []struct {
		Value string `json:"value"`
	} `json:"dimensionValues"`
	MetricValues []struct {
		Value string `json:"value"`
	} `json:"metricValues"`
}

// record is one report row made self-describing, the row as sent kept too.
type record struct {
	PropertyID   string            `json:"property_id"`
	Date         string            `json:"date"` // YYYYMMDD, as the date dimension sends it
	Dimensions   map[string]string `json:"dimensions"`
	Metrics      map[string]string `json:"metrics"`      // values exactly as sent (strings)
	MetricTypes  map[string]string `json:"metric_types"` // TYPE_INTEGER, TYPE_FLOAT, ...
	PulledAt     string            `json:"pulled_at"`
	TimeZone     string            `json:"time_zone,omitempty"`
	CurrencyCode string            `json:"currency_code,omitempty"`
	Row          json.RawMessage   `json:"row"`
}

// fetch sends the runReport for the current page and moves c.Run past it.
func (st *stream) fetch(ctx context.Context, c *cursor) ([]json.RawMessage, error) {
	r := c.Run
	id := r.Props[r.I]
	ps := c.Props[id]
	op := fmt.Sprintf("googleanalytics: %s of property %s on %s", StreamName, id, r.Day)
	body := reportRequest{
		DateRanges: []dateRange{{StartDate: r.Day, EndDate: r.Day}},
		Limit:      st.src.pageSize,
		Offset:     r.Offset,
	}
	for _, d := range st.src.dims {
		body.Dimensions = append(body.Dimensions, named{d})
		// Every dimension, in order: a total order, so offset pages neither skip
		// nor repeat rows (GA4 promises no order without orderBys).
		ob := orderBy{}
		ob.Dimension.DimensionName = d
		body.OrderBys = append(body.OrderBys, ob)
	}
	for _, m := range st.src.metrics {
		body.Metrics = append(body.Metrics, named{m})
	}
	b, err := st.src.runReport(ctx, op, id, body)
	if err != nil {
		return nil, err
	}
	pulledAt := st.src.now().UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano)
	var resp reportResponse
	if err := source.Decode(op, b, &resp); err != nil {
		return nil, err
	}
	if err := st.checkHeaders(op, resp); err != nil {
		return nil, err
	}
	if tz := resp.Metadata.TimeZone; tz != "" && tz != ps.TZ && st.src.learnZone(id, tz) != nil {
		ps.TZ = tz
		if r.Partition == "" { // the window's end is yesterday in the zone now known
			r.End = st.yesterday(ps, time.UnixMilli(r.At))
		}
	}
	types := map[string]string{}
	for _, h := range resp.MetricHeaders {
		types[h.Name] = h.Type
	}
	seen := unpack(ps.Seen[r.Day])
	track := r.Partition == "" && !r.Overflow && r.Day >= addDays(r.End, -st.src.lookback)
	var pulled []uint64
	recs := make([]json.RawMessage, 0, len(resp.Rows))
	for _, raw := range resp.Rows {
		var row wireRow
		if err := json.Unmarshal(raw, &row); err != nil || len(row.DimensionValues) != len(st.src.dims) || len(row.MetricValues) != len(st.src.metrics) {
			return nil, errs.Errorf(errs.Internal, op, "a row does not match the report's headers: %.200s", st.src.scrub(string(raw)))
		}
		rec := record{
			PropertyID: id, Dimensions: map[string]string{}, Metrics: map[string]string{}, MetricTypes: types,
			PulledAt: pulledAt, TimeZone: resp.Metadata.TimeZone, CurrencyCode: resp.Metadata.CurrencyCode, Row: raw,
		}
		h := fnv.New64a()
		for i, d := range st.src.dims {
			v := row.DimensionValues[i].Value
			rec.Dimensions[d] = v
			h.Write([]byte(v))
			h.Write([]byte{0})
		}
		rec.Date = rec.Dimensions["date"]
		for i, m := range st.src.metrics {
			v := row.MetricValues[i].Value
			rec.Metrics[m] = v
			h.Write([]byte{1})
			h.Write([]byte(v))
		}
		digest := h.Sum64()
		if track {
			pulled = append(pulled, digest)
		}
		if r.Partition == "" {
			if _, dup := slices.BinarySearch(seen, digest); dup {
				continue // landed before with these very numbers
			}
		}
		out, err := json.Marshal(rec)
		if err != nil {
			return nil, errs.E(errs.Internal, op, err)
		}
		recs = append(recs, out)
	}
	r.Pulled = true
	if track {
		st.collect(r, pulled)
	}
	r.Offset += len(resp.Rows)
	// rowCount is the day's total whatever the page. Should it ever be missing
	// from a full page, the next offset is tried: an empty page ends the day.
	more := r.Offset < resp.RowCount || (resp.RowCount == 0 && len(resp.Rows) == st.src.pageSize)
	if len(resp.Rows) == 0 || !more {
		r.Day, r.Offset = addDays(r.Day, 1), 0
	}
	return recs, nil
}

// checkHeaders makes sure the columns are the ones asked for, in order.
func (st *stream) checkHeaders(op string, resp reportResponse) error {
	var dims, metrics []string
	for _, h := range resp.DimensionHeaders {
		dims = append(dims, h.Name)
	}
	for _, h := range resp.MetricHeaders {
		metrics = append(metrics, h.Name)
	}
	if !slices.Equal(dims, st.src.dims) || !slices.Equal(metrics, st.src.metrics) {
		return errs.Errorf(errs.Internal, op, "GA4 answered with dimensions %s and metrics %s, not the %v and %v asked for",
			st.src.scrub(fmt.Sprint(dims)), st.src.scrub(fmt.Sprint(metrics)), st.src.dims, st.src.metrics)
	}
	return nil
}

// collect adds a page's digests to the run's digests of its day.
func (st *stream) collect(r *run, digests []uint64) {
	total := len(digests)
	for _, d := range r.New {
		total += base64.RawStdEncoding.DecodedLen(len(d)) / 8
	}
	if total > maxDigests {
		r.New, r.Overflow = nil, true
		return
	}
	if r.New == nil {
		r.New = map[string]string{}
	}
	all := append(unpack(r.New[r.Day]), digests...)
	slices.SortFunc(all, cmp.Compare[uint64])
	r.New[r.Day] = pack(slices.Compact(all))
}

// pack writes sorted digests as base64 of their big-endian bytes.
func pack(ds []uint64) string {
	b := make([]byte, 0, 8*len(ds))
	for _, d := range ds {
		b = binary.BigEndian.AppendUint64(b, d)
	}
	return base64.RawStdEncoding.EncodeToString(b)
}

// unpack reads what pack wrote; anything else reads as no digests, so the rows
// are landed again — the safe side.
func unpack(s string) []uint64 {
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil || len(b)%8 != 0 {
		return nil
	}
	out := make([]uint64, len(b)/8)
	for i := range out {
		out[i] = binary.BigEndian.Uint64(b[8*i:])
	}
	return out
}
