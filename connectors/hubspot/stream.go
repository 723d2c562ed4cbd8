package hubspot

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/source"
)

// object describes one CRM object type as the connector reads it.
type object struct {
	name    string
	modProp string // the property search filters on for changes
	fields  []source.Field
}

// objects are the streams. Contacts' modified property is lastmodifieddate:
// filtering contacts on hs_lastmodifieddate is accepted by HubSpot and silently
// wrong (reported), so it must not be "normalised" to the companies' name.
var objects = []object{
	{name: "contacts", modProp: "lastmodifieddate", fields: []source.Field{
		prop("email", "email", source.String, "Primary email address as entered (not normalised)."),
		prop("first_name", "firstname", source.String, "First name."),
		prop("last_name", "lastname", source.String, "Last name."),
		prop("company_name", "company", source.String, "Company name as typed on the contact, not a reference."),
		prop("associated_company_id", "associatedcompanyid", source.String, "Id of the contact's primary company (companies.id)."),
		prop("lifecycle_stage", "lifecyclestage", source.String, "Funnel stage: subscriber, lead, marketingqualifiedlead, salesqualifiedlead, opportunity, customer, evangelist, other."),
		prop("phone", "phone", source.String, "Phone number as entered."),
		prop("country", "country", source.String, "Country name as entered."),
		prop("created_at", "createdate", source.Timestamp, "When the contact was created in HubSpot."),
		prop("last_modified_at", "lastmodifieddate", source.Timestamp, "When any property last changed (contacts' modified property)."),
	}},
	{name: "companies", modProp: "hs_lastmodifieddate", fields: []source.Field{
		prop("name", "name", source.String, "Company name."),
		prop("domain", "domain", source.String, "Website domain as entered; may carry www. or upper case."),
		prop("industry", "industry", source.String, "HubSpot industry code, e.g. COMPUTER_SOFTWARE."),
		prop("number_of_employees", "numberofemployees", source.Int64, "Employee count."),
		prop("annual_revenue", "annualrevenue", source.Float64, "Annual revenue in the account's currency."),
		prop("country", "country", source.String, "Country name as entered."),
		prop("created_at", "createdate", source.Timestamp, "When the company was created in HubSpot."),
		prop("last_modified_at", "hs_lastmodifieddate", source.Timestamp, "When any property last changed."),
	}},
	{name: "deals", modProp: "hs_lastmodifieddate", fields: []source.Field{
		prop("deal_name", "dealname", source.String, "Deal name."),
		prop("amount", "amount", source.Float64, "Deal amount in the account's currency."),
		prop("deal_stage", "dealstage", source.String, "Stage id in its pipeline, e.g. closedwon."),
		prop("pipeline", "pipeline", source.String, "Pipeline id."),
		prop("close_date", "closedate", source.Timestamp, "Expected or actual close date."),
		prop("associated_company_id", "associatedcompanyid", source.String, "Id of the deal's company (companies.id); a sandbox property standing in for the associations API."),
		prop("created_at", "createdate", source.Timestamp, "When the deal was created in HubSpot."),
		prop("last_modified_at", "hs_lastmodifieddate", source.Timestamp, "When any property last changed."),
	}},
}

func prop(name, property string, t source.Type, doc string) source.Field {
	return source.Field{Name: name, Type: t, Path: []string{"properties", property}, Doc: doc}
}

// stream reads one object type. NextPage sends exactly one request.
type stream struct {
	src   *Source
	obj   object
	props string // the comma list of properties every request asks for
	spec  source.StreamSpec
	// remember bounds the versions a cursor carries (Seen and New together); tests
	// lower it [maxRemembered].
	remember int
}

// maxRemembered is how many record versions a cursor may carry, about 30 bytes each in
// JSON: a cursor stays under about 8 KB whatever the data, where remembering every
// record of a 12,000-record bulk update made it 253 KB (see cursor).
const maxRemembered = 256

func newStream(src *Source, o object) *stream {
	fields := []source.Field{{Name: "id", Type: source.String, Path: []string{"id"}, Doc: "HubSpot record id (hs_object_id), unique within the object type."}}
	var props []string
	for _, f := range o.fields {
		fields = append(fields, f)
		props = append(props, f.Path[1])
	}
	fields = append(fields,
		source.Field{Name: "updated_at", Type: source.Timestamp, Path: []string{"updatedAt"}, Doc: "When the record last changed, archiving included; orders versions of a record."},
		source.Field{Name: "archived", Type: source.Bool, Path: []string{"archived"}, Doc: "True when the record was deleted (archived) in HubSpot."},
		source.Field{Name: "archived_at", Type: source.Timestamp, Path: []string{"archivedAt"}, Doc: "When the record was archived; null while live."},
	)
	if !slices.Contains(props, "hs_object_id") {
		props = append(props, "hs_object_id")
	}
	return &stream{
		src:      src,
		obj:      o,
		remember: maxRemembered,
		props:    strings.Join(props, ","), // a dozen names: far from URL-length limits, so no chunking
		spec: source.StreamSpec{
			Name:        o.name,
			Fields:      fields,
			PrimaryKey:  []string{"id"},
			CursorField: "updated_at",
			// 0: pacing is per account, done by the Source's limiters (see Source).
			RequestsPerSecond: 0,
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

// Cursor phases. A full refresh is list → archived → idle; an incremental sync
// is idle → search → archived → idle.
const (
	phaseList     = "list"     // live records through the list endpoint
	phaseArchived = "archived" // archived records (deletes) through the list endpoint
	phaseSearch   = "search"   // changed records through search
	phaseIdle     = "idle"     // between syncs: the next page starts an incremental sync
)

// cursorVersion is the version of the cursors this connector writes. It reads v1
// cursors too (see upgrade), so a sync stopped mid-way by an older build resumes.
const cursorVersion = 2

// cursor is the opaque resume point; every page's cursor resumes mid-sync without
// skipping or re-landing a record, and stays small whatever the data.
//
// A sync reads the window (Since, Until]: Until is its SyncStart, Since the previous
// sync's Until less the lookback, because the search index lags writes: a record
// changed shortly before a sync began may not be searchable yet, so the next window
// reads the last lookback again. Within a window, search pages by id (hs_object_id >
// Last, sorted by id), so resuming needs one id, however many records share a
// timestamp. Across windows, a record landed in that overlap at the same version must
// not land again: Seen holds the versions landed above the next Since. Only records
// changed within the lookback before SyncStart go there (not, as in v1, every record
// within the lookback of the newest change, which a month-end bulk update of 12,000
// records made 253 KB), and at most remember of them: once that many are remembered,
// further records of that band are left to the next sync, whose window holds them and
// which lands them without remembering them (they are below its band by then, unless
// syncs come faster than the lookback).
type cursor struct {
	V     int    `json:"v"`
	Phase string `json:"phase"`
	After string `json:"after,omitempty"`   // list paging token, sent back verbatim
	Last  string `json:"last_id,omitempty"` // search keyset: only ids above it are left

	Since int64 `json:"since,omitempty"` // the window's lower bound, epoch ms, exclusive (0 on a full refresh)
	Until int64 `json:"until,omitempty"` // the window's upper bound, inclusive: this sync's SyncStart, kept across resumes
	Mark  int64 `json:"mark,omitempty"`  // idle: the next sync's Since

	// Seen holds versions landed by earlier syncs above this sync's Since, New those
	// this sync landed within the lookback of Until; a record met again at a version
	// held is dropped. New joins Seen when the sync ends.
	Seen source.Versions `json:"seen,omitempty"`
	New  source.Versions `json:"new,omitempty"`

	Max int64 `json:"max,omitempty"` // v1 only: the highest version landed (read, never written)
}

// decodeCursor reads a v2 cursor as it is and a v1 cursor converted to v2 (lookback is
// what v1 subtracted from its mark when a sync began).
func decodeCursor(raw json.RawMessage, lookback time.Duration) (cursor, error) {
	var c cursor
	if len(raw) == 0 || string(raw) == "null" {
		return c, nil
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return c, errs.Errorf(errs.Invalid, "hubspot: cursor", "not a HubSpot cursor: %v", err)
	}
	switch {
	case c.V != 1 && c.V != cursorVersion:
		return c, errs.Errorf(errs.Invalid, "hubspot: cursor", "unsupported cursor version %d (this connector reads v1 and v2): run a full refresh to start the stream over", c.V)
	case c.Phase == "":
		// Every cursor written has a phase; reading none as "from the start" would
		// silently turn a damaged cursor into a full refresh.
		return c, errs.Errorf(errs.Invalid, "hubspot: cursor", "v%d cursor without a phase: run a full refresh to start the stream over", c.V)
	case c.V == 1:
		return c.upgrade(lookback), nil
	}
	return c, nil
}

// upgrade turns a v1 cursor into the v2 cursor that resumes at the same point. v1
// bounds were inclusive (the window was [since, until], the next one began at mark −
// lookback); v2's lower bound is exclusive. v1 remembered versions near its highest
// version rather than near Until; they are kept, so nothing landed lands again, and
// the next completed sync prunes them.
func (c cursor) upgrade(lookback time.Duration) cursor {
	c.V = cursorVersion
	if c.Since > 0 {
		c.Since--
	}
	if c.Phase == phaseIdle {
		c.Mark = max(0, c.Mark-lookback.Milliseconds()-1)
	}
	c.Max = 0
	return c
}

func (c cursor) encode() json.RawMessage {
	b, _ := json.Marshal(c) // plain strings, ints and maps: cannot fail
	return b
}

func (st *stream) NextPage(ctx context.Context, req source.PageRequest) (source.Page, error) {
	c, err := decodeCursor(req.Cursor, st.src.lookback)
	if err != nil {
		return source.Page{}, err
	}
	syncStart := req.SyncStart
	if syncStart.IsZero() {
		syncStart = st.src.now()
	}
	switch c.Phase {
	case "": // no cursor: a full refresh
		c = cursor{V: cursorVersion, Phase: phaseList, Until: syncStart.UnixMilli()}
		return st.listPage(ctx, c)
	case phaseList, phaseArchived:
		return st.listPage(ctx, c)
	case phaseIdle:
		c = cursor{V: cursorVersion, Phase: phaseSearch, Since: c.Mark, Until: syncStart.UnixMilli(), Seen: c.Seen}
		return st.searchPage(ctx, c)
	case phaseSearch:
		return st.searchPage(ctx, c)
	}
	return source.Page{}, errs.Errorf(errs.Invalid, "hubspot: cursor", "unknown phase %q", c.Phase)
}

type listResponse struct {
	Results []json.RawMessage `json:"results"`
	Paging  *struct {
		Next struct {
			After string `json:"after"`
		} `json:"next"`
	} `json:"paging"`
}

// listPage reads one page of live or archived records; the last archived page
// ends the sync.
func (st *stream) listPage(ctx context.Context, c cursor) (source.Page, error) {
	archived := c.Phase == phaseArchived
	op := "hubspot: list " + st.obj.name
	q := url.Values{}
	q.Set("limit", strconv.Itoa(limitOf(st.src.pageSize, maxListLimit)))
	q.Set("properties", st.props)
	if c.After != "" {
		q.Set("after", c.After)
	}
	if archived {
		op = "hubspot: list archived " + st.obj.name
		q.Set("archived", "true")
	}
	b, err := st.src.get(ctx, op, "/crm/v3/objects/"+st.obj.name, q)
	if err != nil {
		return source.Page{}, err
	}
	var resp listResponse
	if err := source.Decode(op, b, &resp); err != nil {
		return source.Page{}, err
	}
	recs, err := st.keep(op, &c, resp.Results)
	if err != nil {
		return source.Page{}, err
	}
	switch {
	case resp.Paging != nil && resp.Paging.Next.After != "":
		c.After = resp.Paging.Next.After
	case !archived:
		c.Phase, c.After = phaseArchived, ""
	default:
		return source.Page{Records: recs, Next: st.finish(c).encode(), Done: true}, nil
	}
	return source.Page{Records: recs, Next: c.encode()}, nil
}

type searchResponse struct {
	Total   int               `json:"total"`
	Results []json.RawMessage `json:"results"`
	Paging  *struct {
		Next struct {
			After string `json:"after"`
		} `json:"next"`
	} `json:"paging"`
}

// searchPage reads the next page of records modified in (Since, Until].
//
// Every request is a fresh query: the window's filters AND hs_object_id > Last,
// sorted by hs_object_id. That is keyset paging, so the search cap (no query may
// page past 10,000 results) is never reached however many records share one
// timestamp, and a record modified mid-sync — which drops out of the window —
// cannot shift the offsets under the rest and make us skip one.
func (st *stream) searchPage(ctx context.Context, c cursor) (source.Page, error) {
	op := "hubspot: search " + st.obj.name
	filters := []map[string]string{
		{"propertyName": st.obj.modProp, "operator": "GT", "value": strconv.FormatInt(c.Since, 10)},
		{"propertyName": st.obj.modProp, "operator": "LTE", "value": strconv.FormatInt(c.Until, 10)},
	}
	if c.Last != "" {
		filters = append(filters, map[string]string{"propertyName": "hs_object_id", "operator": "GT", "value": c.Last})
	}
	body := map[string]any{
		"filterGroups": []any{map[string]any{"filters": filters}},
		"sorts":        []any{map[string]string{"propertyName": "hs_object_id", "direction": "ASCENDING"}},
		"properties":   strings.Split(st.props, ","),
		"limit":        limitOf(st.src.pageSize, maxSearchLimit),
	}
	b, err := st.src.do(ctx, op, "POST", "/crm/v3/objects/"+st.obj.name+"/search", body)
	if err != nil {
		return source.Page{}, err
	}
	var resp searchResponse
	if err := source.Decode(op, b, &resp); err != nil {
		return source.Page{}, err
	}
	recs, err := st.keep(op, &c, resp.Results)
	if err != nil {
		return source.Page{}, err
	}
	last, err := maxID(resp.Results)
	if err != nil {
		return source.Page{}, errs.Errorf(errs.Transient, op, "%s", st.src.api.Scrub(err.Error()))
	}
	if resp.Paging != nil && resp.Paging.Next.After != "" && last != "" {
		c.Last = last
	} else {
		// The window is exhausted; deletes come next, from the archived list.
		c.Phase, c.Last = phaseArchived, ""
	}
	return source.Page{Records: recs, Next: c.encode()}, nil
}

func limitOf(pageSize, maxLimit int) int {
	if pageSize <= 0 {
		return maxLimit
	}
	return min(pageSize, maxLimit)
}

// meta is what the connector reads of a record to dedupe and track the mark.
type meta struct {
	ID         string             `json:"id"`
	Properties map[string]*string `json:"properties"`
	UpdatedAt  string             `json:"updatedAt"`
	Archived   bool               `json:"archived"`
	ArchivedAt string             `json:"archivedAt"`
}

// version is when this state of the record came to be, epoch ms: the modified
// property for a live record (what search filters on), archivedAt for an
// archived one; updatedAt when those are missing; 0 when nothing parses.
func (m meta) version(modProp string) int64 {
	candidates := []string{m.UpdatedAt}
	if m.Archived {
		candidates = append([]string{m.ArchivedAt}, candidates...)
	} else if p := m.Properties[modProp]; p != nil {
		candidates = append([]string{*p}, candidates...)
	}
	for _, s := range candidates {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t.UnixMilli()
		}
	}
	return 0
}

// keep returns the records of a page this sync should land, updating c: it drops
// records changed after Until (the next window holds them), archived records at or
// below Since (an earlier sync landed them) and records landed before at the same
// version; it remembers the versions it lands within the lookback of Until, and leaves
// those it cannot remember to the next sync.
func (st *stream) keep(op string, c *cursor, results []json.RawMessage) ([]json.RawMessage, error) {
	band := c.Until - st.src.lookback.Milliseconds() // versions above it come back in the next window
	c.New.Prune(band + 1)                            // a v1 cursor's, from below the band
	remembered := len(c.New)
	for _, v := range c.Seen {
		if v > band {
			remembered++
		}
	}
	out := make([]json.RawMessage, 0, len(results))
	for _, raw := range results {
		var m meta
		if err := json.Unmarshal(raw, &m); err != nil || m.ID == "" {
			return nil, errs.Errorf(errs.Transient, op, "a record in the response is not a HubSpot object: %s", truncateText(st.src.api.Scrub(string(raw)), 120))
		}
		v := m.version(st.obj.modProp)
		switch {
		case v == 0: // no readable version: land it, nothing can tell a repeat
		case v > c.Until:
			continue // changed since this sync began
		case c.Since > 0 && v <= c.Since:
			continue // a delete an earlier sync already landed
		case c.Seen.Landed(m.ID, v) || c.New.Landed(m.ID, v):
			continue // landed before at this version (the window overlaps the last one)
		case v > band:
			if remembered >= st.remember {
				continue // the next sync lands it, when it no longer needs remembering
			}
			if c.New == nil {
				c.New = source.Versions{}
			}
			c.New[m.ID] = v
			remembered++
		}
		out = append(out, raw)
	}
	return out, nil
}

// finish turns the cursor of a completed sync into the idle cursor of the next: its
// window begins the lookback before this one's Until (never before this one's Since,
// should the clock go back), and only the versions above that are remembered.
func (st *stream) finish(c cursor) cursor {
	mark := max(c.Since, c.Until-st.src.lookback.Milliseconds())
	seen := source.MergeVersions(c.Seen, c.New)
	seen.Prune(mark + 1)
	if len(seen) == 0 {
		seen = nil
	}
	return cursor{V: cursorVersion, Phase: phaseIdle, Mark: mark, Seen: seen}
}

// maxID is the highest numeric id among results ("" for none).
func maxID(results []json.RawMessage) (string, error) {
	var best int64 = -1
	for _, raw := range results {
		var m struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			return "", err
		}
		n, err := strconv.ParseInt(m.ID, 10, 64)
		if err != nil {
			return "", fmt.Errorf("record id %q is not numeric", m.ID)
		}
		best = max(best, n)
	}
	if best < 0 {
		return "", nil
	}
	return strconv.FormatInt(best, 10), nil
}

func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
