package jira

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/source"
)

// Cursor phases. An issues sync is search → idle; a changelog sync alternates
// search (one page of changed issues) and changelog (their entries, one request
// at a time) until the search is exhausted, then idles; projects list → idle.
const (
	phaseSearch    = "search"
	phaseChangelog = "changelog"
	phaseList      = "list"
	phaseIdle      = "idle" // between syncs: the next page starts a new sync
)

// cursor is the opaque resume point of every stream (each uses the fields its
// phases need). Every page's cursor carries what is needed to resume mid-sync,
// including the dedupe sets, so a retried activity neither skips nor re-lands.
type cursor struct {
	V     int    `json:"v"`
	Phase string `json:"phase"`
	Token string `json:"token,omitempty"` // nextPageToken of the next search page, sent back verbatim

	// changelog: the issues of the current search page whose changelog is still to
	// be read (the first is in progress, at StartAt), and whether the search is done.
	Queue      []issueRef `json:"queue,omitempty"`
	StartAt    int        `json:"start_at,omitempty"` // changelog offset in Queue[0]; projects offset
	SearchDone bool       `json:"search_done,omitempty"`

	Since int64 `json:"since,omitempty"` // lower bound of this sync's window, epoch ms (0 on a full refresh)
	Until int64 `json:"until,omitempty"` // upper bound: this sync's SyncStart, kept across resumes
	Mark  int64 `json:"mark,omitempty"`  // high-water mark of the last completed sync
	Max   int64 `json:"max,omitempty"`   // highest version landed by this sync so far

	// Seen holds the versions (issue id → updated; history id → created) landed
	// within the lookback of Mark by earlier syncs: the window overlaps them, and a
	// record seen at the same version is dropped. New collects this sync's; they
	// join Seen at the end.
	Seen map[string]int64 `json:"seen,omitempty"`
	New  map[string]int64 `json:"new,omitempty"`
}

// issueRef names an issue whose changelog is to be read.
type issueRef struct {
	ID  string `json:"id"`
	Key string `json:"key"`
}

func decodeCursor(stream string, raw json.RawMessage) (cursor, error) {
	var c cursor
	if len(raw) == 0 || string(raw) == "null" {
		return c, nil
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return c, errs.Errorf(errs.Invalid, "jira: "+stream+" cursor", "not a Jira cursor: %v", err)
	}
	if c.V != 1 {
		return c, errs.Errorf(errs.Invalid, "jira: "+stream+" cursor", "unsupported cursor version %d (this connector writes v1)", c.V)
	}
	return c, nil
}

func (c cursor) encode() json.RawMessage {
	b, _ := json.Marshal(c) // plain strings, ints and maps: cannot fail
	return b
}

// begin starts a sync: a full refresh without a cursor, else the window from the
// last mark minus the lookback up to SyncStart.
func (s *Source) begin(c cursor, phase string, req source.PageRequest) cursor {
	until := req.SyncStart
	if until.IsZero() {
		until = s.now()
	}
	next := cursor{V: 1, Phase: phase, Until: until.UnixMilli()}
	if c.Phase == phaseIdle {
		next.Mark, next.Seen = c.Mark, c.Seen
		next.Since = max(0, c.Mark-s.lookback.Milliseconds())
	}
	return next
}

// admit reports whether the version v of id is new to this and earlier syncs,
// and tracks it if so.
func (c *cursor) admit(id string, v int64) bool {
	if c.Seen[id] >= v || c.New[id] >= v {
		return false
	}
	if c.New == nil {
		c.New = map[string]int64{}
	}
	c.New[id] = v
	c.Max = max(c.Max, v)
	return true
}

// prune drops versions below the lookback of the bound the mark can reach: the
// mark only grows, so they can never be in a later window's overlap.
func (c *cursor) prune(lookbackMs int64) {
	cut := min(c.Max, c.Until) - lookbackMs
	for id, v := range c.New {
		if v < cut {
			delete(c.New, id)
		}
	}
}

// finish turns the cursor of a completed sync into the idle cursor of the next.
// The mark never passes Until: a record changed after SyncStart may have been
// read at its older version, and must fall in the next window.
func (c cursor) finish(lookbackMs int64) cursor {
	mark := max(c.Mark, min(c.Max, c.Until))
	seen := map[string]int64{}
	for _, m := range []map[string]int64{c.Seen, c.New} {
		for id, v := range m {
			if v >= mark-lookbackMs {
				seen[id] = max(seen[id], v)
			}
		}
	}
	if len(seen) == 0 {
		seen = nil
	}
	return cursor{V: 1, Phase: phaseIdle, Mark: mark, Seen: seen}
}

// copySpec is what the streams' Spec methods return: a deep copy, so callers cannot
// change what the next call returns.
func copySpec(s source.StreamSpec) source.StreamSpec {
	s.Fields = slices.Clone(s.Fields)
	for i := range s.Fields {
		s.Fields[i].Path = slices.Clone(s.Fields[i].Path)
	}
	s.PrimaryKey = slices.Clone(s.PrimaryKey)
	return s
}

func field(name string, t source.Type, doc string, path ...string) source.Field {
	return source.Field{Name: name, Type: t, Path: path, Doc: doc}
}

// ---- issues -------------------------------------------------------------------

// issueFields are the fields every issue search asks for: the default is ids only.
var issueFields = []string{"summary", "status", "assignee", "reporter", "project", "issuetype", "priority",
	"created", "updated", "resolution", "resolutiondate", "statuscategorychangedate", "labels"}

type issuesStream struct {
	src  *Source
	spec source.StreamSpec
}

func newIssues(src *Source) *issuesStream {
	f := func(name string, t source.Type, doc string, path ...string) source.Field {
		return field(name, t, doc, append([]string{"fields"}, path...)...)
	}
	return &issuesStream{src: src, spec: source.StreamSpec{
		Name: "issues",
		Fields: []source.Field{
			field("id", source.String, "Jira issue id (numeric string); stable when the issue moves to another project, unlike the key.", "id"),
			field("key", source.String, "Issue key, such as OPS-7; changes when the issue moves to another project.", "key"),
			f("project_id", source.String, "Id of the issue's project (projects.id).", "project", "id"),
			f("project_key", source.String, "Key of the issue's project, such as OPS (projects.key).", "project", "key"),
			f("summary", source.String, "One-line title.", "summary"),
			f("issue_type", source.String, "Issue type name: Task, Bug, Story, Epic, …", "issuetype", "name"),
			f("status", source.String, "Workflow status name, such as To Do, In Progress, In Review, Done; names differ between workflows.", "status", "name"),
			f("status_category", source.String, "Status category key, the same across workflows: new (not started), indeterminate (in progress) or done.", "status", "statusCategory", "key"),
			f("priority", source.String, "Priority name: Highest, High, Medium, Low, Lowest.", "priority", "name"),
			f("resolution", source.String, "Resolution name, such as Done or Won't Do; null while unresolved.", "resolution", "name"),
			f("assignee_account_id", source.String, "Atlassian account id of the assignee; null when unassigned.", "assignee", "accountId"),
			f("assignee_name", source.String, "Display name of the assignee; null when unassigned.", "assignee", "displayName"),
			f("reporter_account_id", source.String, "Atlassian account id of the reporter.", "reporter", "accountId"),
			f("reporter_name", source.String, "Display name of the reporter.", "reporter", "displayName"),
			f("labels", source.String, `Labels as a JSON array, such as ["infra","on-call"]; [] when none.`, "labels"),
			f("created_at", source.Timestamp, "When the issue was created (UTC).", "created"),
			f("updated_at", source.Timestamp, "When any field last changed, comments included (UTC); orders versions of an issue.", "updated"),
			f("resolved_at", source.Timestamp, "When the issue was resolved (UTC); null while unresolved.", "resolutiondate"),
			f("status_category_changed_at", source.Timestamp, "When the status category last changed (UTC), e.g. when work started or finished.", "statuscategorychangedate"),
		},
		PrimaryKey:  []string{"id"},
		CursorField: "updated_at",
		// 0: pacing is per site, done by the Source's limiter (see Source).
	}}
}

func (st *issuesStream) Spec() source.StreamSpec { return copySpec(st.spec) }

func (st *issuesStream) NextPage(ctx context.Context, req source.PageRequest) (source.Page, error) {
	c, err := decodeCursor("issues", req.Cursor)
	if err != nil {
		return source.Page{}, err
	}
	switch c.Phase {
	case "", phaseIdle:
		c = st.src.begin(c, phaseSearch, req)
	case phaseSearch:
	default:
		return source.Page{}, errs.Errorf(errs.Invalid, "jira: issues cursor", "unknown phase %q", c.Phase)
	}
	op := "jira: search issues"
	resp, err := st.src.search(ctx, op, searchJQL(st.src.projects, c.Since, c.Until), issueFields, c.Token)
	if err != nil {
		return source.Page{}, err
	}
	recs := make([]json.RawMessage, 0, len(resp.Issues))
	for _, raw := range resp.Issues {
		var m struct {
			ID     string `json:"id"`
			Fields struct {
				Updated string `json:"updated"`
			} `json:"fields"`
		}
		if err := json.Unmarshal(raw, &m); err != nil || m.ID == "" {
			return source.Page{}, errs.Errorf(errs.Transient, op, "an issue in the response is not a Jira issue: %s", truncateText(st.src.api.Scrub(string(raw)), 120))
		}
		v, err := jiraTime(m.Fields.Updated)
		if err != nil {
			recs = append(recs, raw) // no version to dedupe on: land it, the landing keeps the newest
			continue
		}
		if c.admit(m.ID, v) {
			recs = append(recs, raw)
		}
	}
	c.prune(st.src.lookback.Milliseconds())
	// Done on a missing token or an empty page; isLast alone is not trusted.
	if resp.NextPageToken == "" || len(resp.Issues) == 0 {
		return source.Page{Records: recs, Next: c.finish(st.src.lookback.Milliseconds()).encode(), Done: true}, nil
	}
	c.Token = resp.NextPageToken
	return source.Page{Records: recs, Next: c.encode()}, nil
}

type searchResponse struct {
	Issues        []json.RawMessage `json:"issues"`
	NextPageToken string            `json:"nextPageToken"`
}

// search posts one /search/jql page. POST keeps long project lists out of URLs.
func (s *Source) search(ctx context.Context, op, jql string, fields []string, token string) (searchResponse, error) {
	body := map[string]any{"jql": jql, "maxResults": s.limit(maxIssues), "fields": fields}
	if token != "" {
		body["nextPageToken"] = token
	}
	b, err := s.do(ctx, op, http.MethodPost, "/search/jql", body)
	if err != nil {
		return searchResponse{}, err
	}
	var resp searchResponse
	if err := source.Decode(op, b, &resp); err != nil {
		return resp, err
	}
	if token != "" && resp.NextPageToken == token && len(resp.Issues) > 0 {
		// Following it would read the same page forever.
		return resp, errs.Errorf(errs.Transient, op, "Jira answered nextPageToken %q with the same token", truncateText(s.api.Scrub(token), 40))
	}
	return resp, nil
}

// ---- issue_changelog ----------------------------------------------------------

type changelogStream struct {
	src  *Source
	spec source.StreamSpec
}

func newChangelog(src *Source) *changelogStream {
	h := func(name string, t source.Type, doc string, path ...string) source.Field {
		return field(name, t, doc, append([]string{"history"}, path...)...)
	}
	return &changelogStream{src: src, spec: source.StreamSpec{
		Name: "issue_changelog",
		Fields: []source.Field{
			h("id", source.String, "Changelog entry (history) id, unique across the site.", "id"),
			field("issue_id", source.String, "Id of the changed issue (issues.id); injected by the connector from the request.", "issue", "id"),
			field("issue_key", source.String, "Key of the changed issue when it was read, such as OPS-7 (issues.key).", "issue", "key"),
			h("author_account_id", source.String, "Atlassian account id of who made the change; null for some automation.", "author", "accountId"),
			h("author_name", source.String, "Display name of who made the change.", "author", "displayName"),
			h("created_at", source.Timestamp, "When the change was made (UTC).", "created"),
			h("items", source.String, `The changed fields as a JSON array of {field, fieldtype, fieldId, from, fromString, to, toString}; a transition has an item with field "status" (from/to are status ids, fromString/toString names).`, "items"),
		},
		PrimaryKey:  []string{"id"},
		CursorField: "created_at",
	}}
}

func (st *changelogStream) Spec() source.StreamSpec { return copySpec(st.spec) }

// NextPage sends exactly one request: a page of the issue search, or a page of one
// issue's changelog. The window works like this:
//
//   - the issue search has a lower bound only (updated >= Since): an issue changed
//     after SyncStart is still met, so entries made before SyncStart on an issue
//     changed again mid-sync are not lost;
//   - entries are kept when created in [Since, Until] and not landed before; later
//     ones wait for the next sync, whose search meets their issue again because
//     its updated is past this sync's mark.
func (st *changelogStream) NextPage(ctx context.Context, req source.PageRequest) (source.Page, error) {
	c, err := decodeCursor("issue_changelog", req.Cursor)
	if err != nil {
		return source.Page{}, err
	}
	switch c.Phase {
	case "", phaseIdle:
		c = st.src.begin(c, phaseSearch, req)
		return st.searchPage(ctx, c)
	case phaseSearch:
		return st.searchPage(ctx, c)
	case phaseChangelog:
		if len(c.Queue) == 0 {
			return source.Page{}, errs.Errorf(errs.Invalid, "jira: issue_changelog cursor", "changelog phase without an issue")
		}
		return st.changelogPage(ctx, c)
	}
	return source.Page{}, errs.Errorf(errs.Invalid, "jira: issue_changelog cursor", "unknown phase %q", c.Phase)
}

// searchPage finds the next page of changed issues; it lands nothing itself.
func (st *changelogStream) searchPage(ctx context.Context, c cursor) (source.Page, error) {
	op := "jira: search changed issues"
	resp, err := st.src.search(ctx, op, searchJQL(st.src.projects, c.Since, -1), []string{"updated"}, c.Token)
	if err != nil {
		return source.Page{}, err
	}
	for _, raw := range resp.Issues {
		var ref issueRef
		if err := json.Unmarshal(raw, &ref); err != nil || ref.ID == "" {
			return source.Page{}, errs.Errorf(errs.Transient, op, "an issue in the response is not a Jira issue: %s", truncateText(st.src.api.Scrub(string(raw)), 120))
		}
		c.Queue = append(c.Queue, ref)
	}
	c.Token = resp.NextPageToken
	c.SearchDone = resp.NextPageToken == "" || len(resp.Issues) == 0
	return st.advance(c, nil), nil
}

type changelogResponse struct {
	Values  []json.RawMessage `json:"values"`
	StartAt int               `json:"startAt"`
	Total   int               `json:"total"`
	IsLast  bool              `json:"isLast"`
}

// changelogPage reads one page of the first queued issue's changelog.
func (st *changelogStream) changelogPage(ctx context.Context, c cursor) (source.Page, error) {
	ref := c.Queue[0]
	op := "jira: changelog of " + ref.Key
	q := url.Values{}
	q.Set("startAt", strconv.Itoa(c.StartAt))
	q.Set("maxResults", strconv.Itoa(st.src.limit(maxChangelog)))
	b, err := st.src.get(ctx, op, "/issue/"+url.PathEscape(ref.ID)+"/changelog", q)
	if errs.Is(err, errs.NotFound) {
		// Deleted since the search found it: its changelog went with it.
		c.Queue, c.StartAt = c.Queue[1:], 0
		return st.advance(c, nil), nil
	}
	if err != nil {
		return source.Page{}, err
	}
	var resp changelogResponse
	if err := source.Decode(op, b, &resp); err != nil {
		return source.Page{}, err
	}
	issue, _ := json.Marshal(ref)
	var recs []json.RawMessage
	for _, raw := range resp.Values {
		var m struct {
			ID      string `json:"id"`
			Created string `json:"created"`
		}
		if err := json.Unmarshal(raw, &m); err != nil || m.ID == "" {
			return source.Page{}, errs.Errorf(errs.Transient, op, "a changelog entry is not a Jira history: %s", truncateText(st.src.api.Scrub(string(raw)), 120))
		}
		v, err := jiraTime(m.Created)
		if err != nil {
			return source.Page{}, errs.Errorf(errs.Transient, op, "changelog entry %s has no readable created time %q", st.src.api.Scrub(m.ID), st.src.api.Scrub(m.Created))
		}
		if v < c.Since || v > c.Until || !c.admit(m.ID, v) {
			continue
		}
		// The entry's bytes are kept as sent; only the issue it belongs to is added.
		rec := make([]byte, 0, len(raw)+len(issue)+24)
		rec = append(rec, `{"issue":`...)
		rec = append(rec, issue...)
		rec = append(rec, `,"history":`...)
		rec = append(rec, raw...)
		rec = append(rec, '}')
		recs = append(recs, rec)
	}
	c.prune(st.src.lookback.Milliseconds())
	// More when this page had entries and either Jira says so or the total says so:
	// at worst one empty request more, never an entry less.
	next := c.StartAt + len(resp.Values)
	if len(resp.Values) > 0 && (!resp.IsLast || next < resp.Total) {
		c.StartAt = next
	} else {
		c.Queue, c.StartAt = c.Queue[1:], 0
	}
	return st.advance(c, recs), nil
}

// advance chooses what the next request is: the next queued changelog, the next
// search page, or the end of the sync.
func (st *changelogStream) advance(c cursor, recs []json.RawMessage) source.Page {
	switch {
	case len(c.Queue) > 0:
		c.Phase = phaseChangelog
	case !c.SearchDone:
		c.Phase, c.Queue = phaseSearch, nil
	default:
		return source.Page{Records: recs, Next: c.finish(st.src.lookback.Milliseconds()).encode(), Done: true}
	}
	return source.Page{Records: recs, Next: c.encode()}
}

// ---- projects -----------------------------------------------------------------

type projectsStream struct {
	src  *Source
	spec source.StreamSpec
}

func newProjects(src *Source) *projectsStream {
	return &projectsStream{src: src, spec: source.StreamSpec{
		Name: "projects",
		Fields: []source.Field{
			field("id", source.String, "Jira project id (numeric string).", "id"),
			field("key", source.String, "Project key, such as OPS; prefixes its issue keys.", "key"),
			field("name", source.String, "Project name.", "name"),
			field("project_type", source.String, "Project type: software, service_desk or business.", "projectTypeKey"),
			field("category_id", source.String, "Id of the project's category; null when uncategorised.", "projectCategory", "id"),
			field("category_name", source.String, "Name of the project's category; the sandbox uses it for the owning team (such as \"Platform team\").", "projectCategory", "name"),
			field("lead_account_id", source.String, "Atlassian account id of the project lead.", "lead", "accountId"),
			field("lead_name", source.String, "Display name of the project lead.", "lead", "displayName"),
			field("description", source.String, "Project description (plain text).", "description"),
			field("is_private", source.Bool, "True when only some users may browse the project.", "isPrivate"),
		},
		PrimaryKey: []string{"id"},
		// No cursor field: projects are read in full on every sync.
	}}
}

func (st *projectsStream) Spec() source.StreamSpec { return copySpec(st.spec) }

type projectsResponse struct {
	Values  []json.RawMessage `json:"values"`
	StartAt int               `json:"startAt"`
	Total   int               `json:"total"`
	IsLast  bool              `json:"isLast"`
}

// NextPage reads one page of /project/search; every sync starts from the first.
func (st *projectsStream) NextPage(ctx context.Context, req source.PageRequest) (source.Page, error) {
	c, err := decodeCursor("projects", req.Cursor)
	if err != nil {
		return source.Page{}, err
	}
	switch c.Phase {
	case "", phaseIdle:
		c = cursor{V: 1, Phase: phaseList}
	case phaseList:
	default:
		return source.Page{}, errs.Errorf(errs.Invalid, "jira: projects cursor", "unknown phase %q", c.Phase)
	}
	const op = "jira: list projects"
	q := url.Values{}
	q.Set("startAt", strconv.Itoa(c.StartAt))
	q.Set("maxResults", strconv.Itoa(st.src.limit(maxProjects)))
	q.Set("orderBy", "key")
	q.Set("expand", "description,lead")
	for _, k := range st.src.projects {
		q.Add("keys", k)
	}
	b, err := st.src.get(ctx, op, "/project/search", q)
	if err != nil {
		return source.Page{}, err
	}
	var resp projectsResponse
	if err := source.Decode(op, b, &resp); err != nil {
		return source.Page{}, err
	}
	if len(resp.Values) == 0 || resp.IsLast {
		return source.Page{Records: resp.Values, Next: cursor{V: 1, Phase: phaseIdle}.encode(), Done: true}, nil
	}
	c.StartAt += len(resp.Values)
	return source.Page{Records: resp.Values, Next: c.encode()}, nil
}
