package crunchbase

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/source"
)

func prop(name string, t source.Type, doc string, path ...string) source.Field {
	return source.Field{Name: name, Type: t, Path: append([]string{"properties"}, path...), Doc: doc}
}

// orgFields are the typed columns; their first path element after "properties"
// is the field_id requested, so the two lists cannot drift apart.
var orgFields = []source.Field{
	{Name: "uuid", Type: source.String, Path: []string{"uuid"}, Doc: "Crunchbase's id of the organization; stable, unlike the permalink."},
	prop("permalink", source.String, "URL slug (crunchbase.com/organization/<permalink>); can change.", "identifier", "permalink"),
	prop("name", source.String, "Organization name.", "identifier", "value"),
	prop("short_description", source.String, "One-line description.", "short_description"),
	prop("website_url", source.String, "Website as Crunchbase holds it: a URL, maybe with www. or a trailing slash.", "website_url"),
	prop("founded_on", source.Date, "Founding date; only as precise as founded_on_precision (month: the 1st, year: January 1st).", "founded_on", "value"),
	prop("founded_on_precision", source.String, "day, month or year.", "founded_on", "precision"),
	prop("num_employees_enum", source.String, "Employee range code, c_00001_00010 … c_10001_max.", "num_employees_enum"),
	prop("categories", source.String, "Industry categories, as JSON [{value, permalink, uuid}].", "categories"),
	prop("last_funding_type", source.String, "Type of the latest round, e.g. seed, series_a.", "last_funding_type"),
	prop("funding_total", source.Float64, "Total funding raised, in funding_total_currency.", "funding_total", "value"),
	prop("funding_total_currency", source.String, "ISO currency of funding_total.", "funding_total", "currency"),
	prop("funding_total_usd", source.Float64, "Total funding raised, in US dollars.", "funding_total", "value_usd"),
	prop("operating_status", source.String, "active or closed.", "operating_status"),
	prop("location_identifiers", source.String, "Headquarters city, region and country, as JSON.", "location_identifiers"),
	prop("rank_org", source.Int64, "Crunchbase rank (1 = most prominent).", "rank_org"),
	prop("created_at", source.Timestamp, "When the organization was added to Crunchbase.", "created_at"),
	prop("updated_at", source.Timestamp, "When any of its data last changed; orders versions.", "updated_at"),
}

// fieldIDs are the field_ids every search asks for.
var fieldIDs = func() []string {
	var out []string
	for _, f := range orgFields {
		if len(f.Path) > 1 && !slices.Contains(out, f.Path[1]) {
			out = append(out, f.Path[1])
		}
	}
	return out
}()

// order is the search order, constant across every page and sync. uuid alone is
// the one order under which after_id is a true keyset: an organization updated
// mid-sync keeps its place, where under updated_at it would jump to the end and
// move the after_id pivot past organizations not read yet.
var order = []map[string]string{{"field_id": "uuid", "sort": "asc"}}

type organizations struct {
	src  *Source
	spec source.StreamSpec
}

func newOrganizations(src *Source) *organizations {
	return &organizations{src: src, spec: source.StreamSpec{
		Name: "organizations", Fields: orgFields, PrimaryKey: []string{"uuid"}, CursorField: "updated_at",
		// 0: pacing is per key, done by the Source's API.
	}}
}

func (st *organizations) Spec() source.StreamSpec {
	s := st.spec
	s.Fields = slices.Clone(s.Fields)
	for i := range s.Fields {
		s.Fields[i].Path = slices.Clone(s.Fields[i].Path)
	}
	s.PrimaryKey = slices.Clone(s.PrimaryKey)
	return s
}

const (
	phaseSearch = "search" // a sync is paging
	phaseIdle   = "idle"   // between syncs: the next page starts an incremental one
)

// cursor is the opaque resume point. Mid-sync cursors carry the dedupe sets, so
// a retried activity neither skips nor re-lands organizations.
type cursor struct {
	V     int    `json:"v"`
	Phase string `json:"phase"`
	After string `json:"after,omitempty"` // uuid of the last organization read: the keyset position
	Read  int    `json:"read,omitempty"`  // organizations received by this sync, to stop at `count`

	Since int64 `json:"since,omitempty"` // lower bound on updated_at, epoch ms (0: a full read)
	Until int64 `json:"until,omitempty"` // this sync's SyncStart, kept across resumes
	Mark  int64 `json:"mark,omitempty"`  // high-water updated_at of the last completed sync
	Max   int64 `json:"max,omitempty"`   // highest updated_at landed by this sync so far

	// Seen holds versions landed within the lookback of Mark by earlier syncs; New
	// collects this sync's versions near Max. A version seen before is dropped.
	Seen source.Versions `json:"seen,omitempty"`
	New  source.Versions `json:"new,omitempty"`
}

func (c cursor) encode() json.RawMessage {
	b, _ := json.Marshal(c) // strings, ints and maps: cannot fail
	return b
}

func (st *organizations) NextPage(ctx context.Context, req source.PageRequest) (source.Page, error) {
	const op = "crunchbase: search organizations"
	var c cursor
	if len(req.Cursor) > 0 && string(req.Cursor) != "null" {
		if err := json.Unmarshal(req.Cursor, &c); err != nil || c.V != 1 {
			return source.Page{}, errs.Errorf(errs.Invalid, op, "not a Crunchbase cursor (v1): %.80s", req.Cursor)
		}
	}
	syncStart := req.SyncStart
	if syncStart.IsZero() {
		syncStart = st.src.now()
	}
	switch c.Phase {
	case "": // no cursor: a full read
		c = cursor{V: 1, Phase: phaseSearch, Until: syncStart.UnixMilli()}
	case phaseIdle:
		c = cursor{V: 1, Phase: phaseSearch, Mark: c.Mark, Seen: c.Seen,
			Since: max(0, c.Mark-st.src.lookback.Milliseconds()), Until: syncStart.UnixMilli()}
	case phaseSearch:
	default:
		return source.Page{}, errs.Errorf(errs.Invalid, op, "unknown cursor phase %q", c.Phase)
	}

	limit := st.src.pageSize
	body := map[string]any{"field_ids": fieldIDs, "order": order, "limit": limit, "query": []any{}}
	if c.Since > 0 {
		// updated_at is whole seconds: flooring the bound keeps it inclusive.
		since := time.UnixMilli(c.Since).UTC().Format(time.RFC3339)
		body["query"] = []any{map[string]any{"type": "predicate", "field_id": "updated_at", "operator_id": "gte", "values": []string{since}}}
	}
	if c.After != "" {
		body["after_id"] = c.After
	}
	b, err := st.src.do(ctx, op, http.MethodPost, "/searches/organizations", body)
	if err != nil {
		return source.Page{}, err
	}
	var resp struct {
		Count    *int              `json:"count"`
		Entities []json.RawMessage `json:"entities"`
	}
	if err := json.Unmarshal(b, &resp); err != nil || resp.Count == nil {
		return source.Page{}, errs.Errorf(errs.Transient, op, "undecodable search response (%d bytes)", len(b))
	}
	recs, last, err := st.keep(op, &c, resp.Entities)
	if err != nil {
		return source.Page{}, err
	}
	c.Read += len(resp.Entities)
	// The last page is short, or brings the total to `count`.
	if len(resp.Entities) < limit || c.Read >= *resp.Count {
		return source.Page{Records: recs, Next: st.finish(c).encode(), Done: true}, nil
	}
	c.After = last
	return source.Page{Records: recs, Next: c.encode()}, nil
}

// keep returns the organizations of a page this sync should land, updating c,
// and the uuid of the page's last organization.
func (st *organizations) keep(op string, c *cursor, entities []json.RawMessage) ([]json.RawMessage, string, error) {
	out := make([]json.RawMessage, 0, len(entities))
	var last string
	for _, raw := range entities {
		var m struct {
			UUID       string `json:"uuid"`
			Properties struct {
				UpdatedAt string `json:"updated_at"`
			} `json:"properties"`
		}
		if err := json.Unmarshal(raw, &m); err != nil || m.UUID == "" {
			return nil, "", errs.Errorf(errs.Transient, op, "an entity in the response is not an organization: %s", truncate(st.src.api.Scrub(string(raw)), 120))
		}
		last = m.UUID
		var v int64
		if t, err := time.Parse(time.RFC3339Nano, m.Properties.UpdatedAt); err == nil {
			v = t.UnixMilli()
		}
		if v > 0 && (c.Seen[m.UUID] >= v || c.New[m.UUID] >= v) {
			continue // landed before at this version (the window overlaps the last one)
		}
		out = append(out, raw)
		if v > 0 {
			if c.New == nil {
				c.New = map[string]int64{}
			}
			c.New[m.UUID] = v
			c.Max = max(c.Max, v)
		}
	}
	// Only versions within the lookback of the final mark matter later, and the
	// mark only grows: prune now to keep mid-sync cursors small on a full read.
	c.New.Prune(min(c.Max, c.Until) - st.src.lookback.Milliseconds())
	return out, last, nil
}

// finish turns the cursor of a completed sync into the idle cursor of the next.
// The mark never passes Until: an organization updated after SyncStart may have
// been read before its update, and must fall in the next window.
func (st *organizations) finish(c cursor) cursor {
	mark := max(c.Mark, min(c.Max, c.Until))
	seen := source.MergeVersions(c.Seen, c.New)
	seen.Prune(mark - st.src.lookback.Milliseconds())
	if len(seen) == 0 {
		seen = nil
	}
	return cursor{V: 1, Phase: phaseIdle, Mark: mark, Seen: seen}
}
