package github

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/source"
)

// Stream names.
const (
	Repositories       = "repositories"
	Issues             = "issues"
	PullRequests       = "pull_requests"
	PullRequestReviews = "pull_request_reviews"
	Commits            = "commits"
	Organizations      = "organizations"
)

// kind is one stream: its spec and the step that reads one page of the current
// target (a repository, or a repository's branch for commits; for organizations,
// the organisations found through a repository).
type kind struct {
	name   string
	pk     []string
	cursor string
	fields []source.Field
	step   func(st *stream, ctx context.Context, c *cursor) (recs []json.RawMessage, done bool, err error)
}

func f(name string, t source.Type, doc string, path ...string) source.Field {
	return source.Field{Name: name, Type: t, Path: path, Doc: doc}
}

// item is the path of a field of the object as GitHub sent it.
func item(name string, t source.Type, doc string, path ...string) source.Field {
	return f(name, t, doc, append([]string{"item"}, path...)...)
}

var repoField = f("repository", source.String, "The configured repository the record was read from, owner/name.", "repository")

var kinds = []kind{
	{
		name: Repositories, pk: []string{"repository"}, cursor: "updated_at", step: (*stream).repositoryPage,
		fields: []source.Field{
			repoField,
			item("id", source.Int64, "GitHub's repository id; stays the same across renames and transfers.", "id"),
			item("full_name", source.String, "owner/name as GitHub reports it now (differs from repository after a rename).", "full_name"),
			item("team", source.String, "Owning team, from the organisation's `team` custom property; null when unset.", "custom_properties", "team"),
			item("default_branch", source.String, "The default branch, e.g. main.", "default_branch"),
			item("language", source.String, "Main language as GitHub detects it.", "language"),
			item("visibility", source.String, "public, private or internal.", "visibility"),
			item("archived", source.Bool, "True when the repository is archived (read-only).", "archived"),
			item("open_issues_count", source.Int64, "Open issues plus open pull requests.", "open_issues_count"),
			item("created_at", source.Timestamp, "When the repository was created.", "created_at"),
			item("updated_at", source.Timestamp, "When the repository or its settings last changed, or it was pushed to.", "updated_at"),
			item("pushed_at", source.Timestamp, "When a branch was last pushed to.", "pushed_at"),
		},
	},
	{
		name: Issues, pk: []string{"repository", "number"}, cursor: "updated_at", step: (*stream).issuesPage,
		fields: []source.Field{
			repoField,
			item("number", source.Int64, "Issue number within the repository (shared with pull requests).", "number"),
			item("id", source.Int64, "GitHub's issue id.", "id"),
			item("title", source.String, "Title.", "title"),
			item("state", source.String, "open or closed.", "state"),
			item("state_reason", source.String, "Why it was closed: completed, not_planned, or reopened; null while never closed.", "state_reason"),
			item("author_login", source.String, "Login of the account that opened it.", "user", "login"),
			item("author_type", source.String, "User or Bot.", "user", "type"),
			item("assignee_login", source.String, "Login of the first assignee; null when unassigned.", "assignee", "login"),
			item("comments", source.Int64, "Number of comments.", "comments"),
			item("created_at", source.Timestamp, "When it was opened.", "created_at"),
			item("updated_at", source.Timestamp, "When anything about it last changed; orders versions of an issue.", "updated_at"),
			item("closed_at", source.Timestamp, "When it was last closed; null while open.", "closed_at"),
		},
	},
	{
		name: PullRequests, pk: []string{"repository", "number"}, cursor: "updated_at", step: (*stream).pullsPage,
		fields: []source.Field{
			repoField,
			item("number", source.Int64, "Pull request number within the repository.", "number"),
			item("id", source.Int64, "GitHub's pull request id (not the id of its issue).", "id"),
			item("title", source.String, "Title.", "title"),
			item("state", source.String, "open or closed (a merged pull request is closed with merged_at set).", "state"),
			item("draft", source.Bool, "True while a draft.", "draft"),
			item("author_login", source.String, "Login of the account that opened it.", "user", "login"),
			item("author_type", source.String, "User or Bot (e.g. dependabot[bot]).", "user", "type"),
			item("base_ref", source.String, "Branch it merges into.", "base", "ref"),
			item("head_ref", source.String, "Branch it merges from.", "head", "ref"),
			item("merge_commit_sha", source.String, "Sha of the merge (or squash) commit once merged.", "merge_commit_sha"),
			item("created_at", source.Timestamp, "When it was opened.", "created_at"),
			item("updated_at", source.Timestamp, "When anything about it last changed, reviews included; orders versions.", "updated_at"),
			item("closed_at", source.Timestamp, "When it was closed or merged; null while open.", "closed_at"),
			item("merged_at", source.Timestamp, "When it was merged; null when not merged (open, or closed unmerged).", "merged_at"),
		},
	},
	{
		name: PullRequestReviews, pk: []string{"id"}, cursor: "submitted_at", step: (*stream).reviewsPage,
		fields: []source.Field{
			repoField,
			f("pull_number", source.Int64, "Number of the reviewed pull request (pull_requests.number).", "pull_number"),
			item("id", source.Int64, "GitHub's review id.", "id"),
			item("reviewer_login", source.String, "Login of the reviewer.", "user", "login"),
			item("state", source.String, "APPROVED, CHANGES_REQUESTED, COMMENTED or DISMISSED.", "state"),
			item("author_association", source.String, "The reviewer's relation to the repository: MEMBER, COLLABORATOR, CONTRIBUTOR, NONE…", "author_association"),
			item("commit_id", source.String, "Sha of the pull request's head when the review was submitted.", "commit_id"),
			item("submitted_at", source.Timestamp, "When the review was submitted; the first per pull request is its time to first review.", "submitted_at"),
		},
	},
	{
		name: Commits, pk: []string{"repository", "branch", "sha"}, cursor: "committed_at", step: (*stream).commitsPage,
		fields: []source.Field{
			repoField,
			f("branch", source.String, "Branch the commit was listed from: a commit reachable from several read branches appears once per branch.", "branch"),
			item("sha", source.String, "Commit sha.", "sha"),
			f("message_headline", source.String, "First line of the commit message (derived by the connector).", "message_headline"),
			item("message", source.String, "Full commit message.", "commit", "message"),
			item("author_name", source.String, "Author name from the commit.", "commit", "author", "name"),
			item("author_email", source.String, "Author email from the commit, as written (not normalised).", "commit", "author", "email"),
			item("author_login", source.String, "GitHub login GitHub matched to the author email; null when it matched none.", "author", "login"),
			item("authored_at", source.Timestamp, "Author date: when the change was first written.", "commit", "author", "date"),
			item("committer_name", source.String, "Committer name (GitHub for web merges).", "commit", "committer", "name"),
			item("committed_at", source.Timestamp, "Committer date: when it was committed (or squash-merged); what since/until filter on.", "commit", "committer", "date"),
		},
	},
	{
		name: Organizations, pk: []string{"id"}, cursor: "updated_at", step: (*stream).organizationsPage,
		fields: orgFields,
	},
}

// stream reads one kind across every configured repository. NextPage sends
// exactly one request.
type stream struct {
	src  *Source
	kind kind
	spec source.StreamSpec
}

func newStream(src *Source, k kind) *stream {
	return &stream{src: src, kind: k, spec: source.StreamSpec{
		Name:        k.name,
		Fields:      k.fields,
		PrimaryKey:  k.pk,
		CursorField: k.cursor,
		// 0: pacing is per token, done by the Source's limiter (see Source).
		RequestsPerSecond: 0,
	}}
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

// targetState is what a target (a repository, or "owner/name@branch" for
// commits) keeps between syncs.
type targetState struct {
	// Mark is the high-water mark of the last completed pass, unix seconds: the
	// highest version seen, never past that pass's SyncStart.
	Mark int64 `json:"mark,omitempty"`
	// Seen holds the versions landed within the lookback of Mark: the next pass
	// overlaps them and drops a record seen at the same version.
	Seen source.Versions `json:"seen,omitempty"`
	// ETag answered the first request of the last pass, whose URL (until= left
	// out) was ETagURL. Sent back as If-None-Match; a 304 means unchanged.
	ETag    string `json:"etag,omitempty"`
	ETagURL string `json:"etag_url,omitempty"`
	// Default is a repository's default branch (commits).
	Default string `json:"default_branch,omitempty"`
	// Pass is the pass that last discovered an organisation (organizations,
	// under "org:<login>"): it is read at most once per pass, and forgotten at the
	// end of a pass that did not discover it.
	Pass int64 `json:"pass,omitempty"`
}

// cursor is the opaque resume point. A pass reads the targets one after the
// other; the fields below State describe the target being read and are reset
// between targets.
type cursor struct {
	V      int    `json:"v"`
	Repo   string `json:"repo,omitempty"`   // repository being read; "" between passes
	Branch string `json:"branch,omitempty"` // commits: branch being read; "" = the repository lookup
	Until  int64  `json:"until,omitempty"`  // this pass's SyncStart, unix seconds

	Pages int             `json:"pages,omitempty"` // list requests made for this target
	Next  string          `json:"next,omitempty"`  // Link rel="next" to follow verbatim
	Since int64           `json:"since,omitempty"` // issues: since= of the current query
	Max   int64           `json:"max,omitempty"`   // highest version seen in this target
	New   source.Versions `json:"new,omitempty"`   // versions landed from this target

	ETag    string `json:"pending_etag,omitempty"` // the first response's, kept when the target completes
	ETagURL string `json:"pending_etag_url,omitempty"`
	Default string `json:"pending_default,omitempty"`

	Queue  []int  `json:"queue,omitempty"`        // reviews over REST: pull numbers whose reviews come next
	Sub    string `json:"reviews_next,omitempty"` // reviews over REST: Link rel="next" of the current pull's reviews
	Listed bool   `json:"listed,omitempty"`       // reviews: the pull list is exhausted; organizations: the forks list

	// Reviews over GraphQL: the pull list's cursor, and the pull requests with
	// more than 100 reviews whose others come next. A cursor written by the REST
	// path (Next, Sub or Queue set) finishes its repository over REST.
	After string    `json:"gql_after,omitempty"`
	More  []pending `json:"more_reviews,omitempty"`

	Pass int64    `json:"pass,omitempty"`      // organizations: passes begun, the current one included
	Orgs []string `json:"org_queue,omitempty"` // organizations: logins found through Repo, to read next

	State map[string]*targetState `json:"state,omitempty"` // by target key
}

func decodeCursor(raw json.RawMessage) (cursor, error) {
	c := cursor{V: 1}
	if len(raw) == 0 || string(raw) == "null" {
		return c, nil
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return c, errs.Errorf(errs.Invalid, "github: cursor", "not a GitHub cursor: %v", err)
	}
	if c.V != 1 {
		return c, errs.Errorf(errs.Invalid, "github: cursor", "unsupported cursor version %d (this connector writes v1)", c.V)
	}
	return c, nil
}

func (c *cursor) encode() json.RawMessage {
	b, _ := json.Marshal(c) // strings, ints and maps: cannot fail
	return b
}

// key names the current target in State.
func (c *cursor) key() string {
	if c.Branch != "" {
		return c.Repo + "@" + c.Branch
	}
	return c.Repo
}

func (c *cursor) state(key string) *targetState {
	if c.State == nil {
		c.State = map[string]*targetState{}
	}
	ts := c.State[key]
	if ts == nil {
		ts = &targetState{}
		c.State[key] = ts
	}
	return ts
}

// resetTarget clears what describes the target being read.
func (c *cursor) resetTarget() {
	c.Pages, c.Next, c.Since, c.Max, c.New = 0, "", 0, 0, nil
	c.ETag, c.ETagURL, c.Default = "", "", ""
	c.Queue, c.Sub, c.Listed = nil, "", false
	c.After, c.More = "", nil
	c.Orgs = nil
}

func (st *stream) NextPage(ctx context.Context, req source.PageRequest) (source.Page, error) {
	c, err := decodeCursor(req.Cursor)
	if err != nil {
		return source.Page{}, err
	}
	if c.Repo == "" || !slices.Contains(st.src.repos, c.Repo) {
		// A new pass (or a resumed one whose repository left the configuration).
		start := req.SyncStart
		if start.IsZero() {
			start = st.src.now()
		}
		c.resetTarget()
		c.Repo, c.Branch, c.Until = st.src.repos[0], "", start.Unix()
		if st.kind.name == Organizations {
			// Counted, not timed: two passes can start within one second.
			c.Pass++
		}
	}
	recs, done, err := st.kind.step(st, ctx, &c)
	if err != nil {
		return source.Page{}, err
	}
	if recs == nil {
		recs = []json.RawMessage{}
	}
	if done {
		st.finishTarget(&c)
		if !st.advance(&c) {
			st.pruneState(&c)
			return source.Page{Records: recs, Next: c.encode(), Done: true}, nil
		}
	}
	return source.Page{Records: recs, Next: c.encode()}, nil
}

// finishTarget folds the target's pass into its state: the mark moves to the
// highest version seen (never past SyncStart: a record changed after it may have
// been read at its older version), the versions landed near it join Seen, and
// the first response's ETag is kept.
func (st *stream) finishTarget(c *cursor) {
	if st.kind.name == Organizations {
		return // its state is per organisation, kept as each is read
	}
	ts := c.state(c.key())
	if c.Max > 0 {
		ts.Mark = max(ts.Mark, min(c.Max, c.Until))
	}
	seen := source.MergeVersions(ts.Seen, c.New)
	seen.Prune(ts.Mark - st.lookback())
	ts.Seen = nil
	if len(seen) > 0 {
		ts.Seen = seen
	}
	if c.ETag != "" {
		ts.ETag, ts.ETagURL = c.ETag, c.ETagURL
	}
	if c.Default != "" {
		ts.Default = c.Default
	}
}

// advance moves to the next target; false when the pass is over.
func (st *stream) advance(c *cursor) bool {
	if st.kind.name == Commits {
		branches := st.branchesOf(c)
		i := slices.Index(branches, c.Branch)
		if c.Branch == "" || i >= 0 && i+1 < len(branches) {
			next := branches[0]
			if c.Branch != "" {
				next = branches[i+1]
			}
			c.resetTarget()
			c.Branch = next
			return true
		}
	}
	i := slices.Index(st.src.repos, c.Repo)
	c.resetTarget()
	c.Branch = ""
	if i < 0 || i+1 >= len(st.src.repos) {
		c.Repo = ""
		return false
	}
	c.Repo = st.src.repos[i+1]
	return true
}

// branchesOf is the branches the commits stream reads in c.Repo: its default
// branch, then the configured ones.
func (st *stream) branchesOf(c *cursor) []string {
	def := c.state(c.Repo).Default
	out := []string{def}
	for _, b := range st.src.branches {
		if !slices.Contains(out, b) {
			out = append(out, b)
		}
	}
	return out
}

// pruneState forgets targets of repositories no longer configured, and
// organisations the pass just ended did not discover (their forks deleted, or
// their repository no longer configured).
func (st *stream) pruneState(c *cursor) {
	for k, ts := range c.State {
		if strings.HasPrefix(k, orgKeyPrefix) {
			if st.kind.name != Organizations || ts == nil || ts.Pass != c.Pass {
				delete(c.State, k)
			}
			continue
		}
		repo, _, _ := strings.Cut(k, "@")
		if !slices.Contains(st.src.repos, repo) {
			delete(c.State, k)
		}
	}
}

func (st *stream) lookback() int64 { return int64(st.src.lookback / time.Second) }

// window is the oldest version the current target can still have unread: the
// mark of its last pass minus the lookback; 0 on a first pass (read everything).
func (st *stream) window(c *cursor) int64 {
	if w := c.state(c.key()).Mark - st.lookback(); w > githubEpoch {
		return w
	}
	return 0
}

// githubEpoch (2008-01-01) is older than anything on GitHub. No since= before it
// is ever sent: since=1970-01-01T00:00:00Z returns an empty list (reported).
const githubEpoch = 1199145600

// keep reports whether a record at version v should land, and tracks it: one
// landed before at the same version (the pass overlaps the last one, or a page
// shifted) is dropped. The caller moves Max: for reviews the mark follows pull
// requests, not review versions.
func (st *stream) keep(c *cursor, key string, v int64) bool {
	ts := c.state(c.key())
	if v > 0 && (ts.Seen.Landed(key, v) || c.New.Landed(key, v)) {
		return false
	}
	if v > 0 {
		if c.New == nil {
			c.New = source.Versions{}
		}
		c.New[key] = v
	}
	return true
}

// pruneNew drops versions that can neither come back in this pass nor matter to
// the next: below the lookback of the mark this target will end with. It keeps
// cursors small on a full refresh.
func (st *stream) pruneNew(c *cursor) {
	c.New.Prune(min(c.Max, c.Until) - st.lookback())
}

func (st *stream) perPage() string { return strconv.Itoa(min(st.src.pageSize, maxPerPage)) }

func (st *stream) op(what, repo string) string { return "github: " + what + " " + repo }

// firstETag is the If-None-Match for a target's first request to u.
func firstETag(c *cursor, ts *targetState, u string) string {
	if c.Pages == 0 && ts.ETag != "" && ts.ETagURL == u {
		return ts.ETag
	}
	return ""
}

// unixOf reads a GitHub timestamp (2024-03-02T09:15:44Z) as unix seconds; 0 when absent.
func unixOf(s *string) int64 {
	if s == nil || *s == "" {
		return 0
	}
	t, err := time.Parse(time.RFC3339, *s)
	if err != nil {
		return 0
	}
	return t.Unix()
}

func formatUnix(v int64) string { return time.Unix(v, 0).UTC().Format("2006-01-02T15:04:05Z") }

// envelope wraps an item as sent with the repository it came from and extras.
func envelope(repo string, it json.RawMessage, extra ...any) json.RawMessage {
	b := make([]byte, 0, len(it)+64)
	b = append(b, `{"repository":`...)
	b = appendJSON(b, repo)
	for i := 0; i+1 < len(extra); i += 2 {
		b = append(b, ',')
		b = appendJSON(b, extra[i])
		b = append(b, ':')
		b = appendJSON(b, extra[i+1])
	}
	b = append(b, `,"item":`...)
	b = append(b, it...)
	return append(b, '}')
}

func appendJSON(b []byte, v any) []byte {
	x, _ := json.Marshal(v) // strings and ints
	return append(b, x...)
}

// decodeItems reads a list response; a body that does not decode is treated as
// truncated in transit and retried.
func decodeItems(op string, body []byte) ([]json.RawMessage, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(body, &items); err != nil {
		return nil, errs.Errorf(errs.Transient, op, "undecodable response (%d bytes): %v", len(body), err)
	}
	return items, nil
}

func (src *Source) badItem(op string, raw json.RawMessage) error {
	s := src.scrub(string(raw)) // before cutting, so no part of the token is left
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return errs.Errorf(errs.Transient, op, "an item in the response is not what GitHub sends: %s", s)
}

// repositoryPage reads one repository object. Its ETag makes an unchanged
// repository cost nothing and land nothing.
func (st *stream) repositoryPage(ctx context.Context, c *cursor) ([]json.RawMessage, bool, error) {
	op := st.op("get repository", c.Repo)
	ts := c.state(c.key())
	u := "/repos/" + c.Repo
	resp, err := st.src.get(ctx, op, u, firstETag(c, ts, u), c.Repo)
	if err != nil || resp.notModified() {
		return nil, true, err
	}
	var m struct {
		ID        int64   `json:"id"`
		UpdatedAt *string `json:"updated_at"`
	}
	if err := json.Unmarshal(resp.body, &m); err != nil || m.ID == 0 {
		return nil, false, st.src.badItem(op, resp.body)
	}
	c.Max = max(c.Max, unixOf(m.UpdatedAt))
	c.ETag, c.ETagURL = resp.etag, u
	return []json.RawMessage{envelope(c.Repo, resp.body)}, true, nil
}

// issuesPage reads issues updated since the mark, oldest change first.
//
// Each request restarts the query at since = the newest updated_at seen so far
// (inclusive; records seen at that version are dropped). Restarting, rather than
// following page numbers, keeps the read correct while issues change under it:
// an issue updated mid-read moves to the end of an updated-ascending list and
// shifts every later page by one, so page numbers would skip a record, while a
// since-keyed query cannot. Only when a whole page shares one updated_at (a bulk
// edit) does it follow the Link rel="next" verbatim, through GitHub's after=
// cursors once page numbers reach their 10,000-result cap.
//
// Pull requests are in the list too; they are skipped here (see pull_requests).
func (st *stream) issuesPage(ctx context.Context, c *cursor) ([]json.RawMessage, bool, error) {
	op := st.op("list issues", c.Repo)
	ts := c.state(c.key())
	u := c.Next
	if u == "" {
		if c.Pages == 0 {
			c.Since = st.window(c) // 0 on the first sync: since is left out, never 1970
		}
		q := url.Values{"state": {"all"}, "sort": {"updated"}, "direction": {"asc"}, "per_page": {st.perPage()}}
		if c.Since > 0 {
			q.Set("since", formatUnix(c.Since))
		}
		u = "/repos/" + c.Repo + "/issues?" + q.Encode()
	}
	resp, err := st.src.get(ctx, op, u, firstETag(c, ts, u), c.Repo)
	if err != nil {
		return nil, false, err
	}
	first := c.Pages == 0
	c.Pages++
	if resp.notModified() {
		return nil, true, nil
	}
	items, err := decodeItems(op, resp.body)
	if err != nil {
		return nil, false, err
	}
	var recs []json.RawMessage
	var pageMax int64
	for _, raw := range items {
		var m struct {
			Number      int             `json:"number"`
			UpdatedAt   *string         `json:"updated_at"`
			PullRequest json.RawMessage `json:"pull_request"`
		}
		if err := json.Unmarshal(raw, &m); err != nil || m.Number == 0 {
			return nil, false, st.src.badItem(op, raw)
		}
		v := unixOf(m.UpdatedAt)
		pageMax = max(pageMax, v)
		c.Max = max(c.Max, v) // pull requests count for the mark: the list covers them too
		if len(m.PullRequest) > 0 && string(m.PullRequest) != "null" {
			continue
		}
		if st.keep(c, strconv.Itoa(m.Number), v) {
			recs = append(recs, envelope(c.Repo, raw))
		}
	}
	st.pruneNew(c)
	if first && resp.next == "" {
		// Only a one-page answer: in an ascending list a change lands on the last
		// page, so an unchanged first page of several says nothing.
		c.ETag, c.ETagURL = resp.etag, u
	}
	switch {
	case resp.next == "":
		return recs, true, nil
	case pageMax > c.Since:
		c.Since, c.Next = pageMax, ""
	default:
		c.Next = resp.next
	}
	return recs, false, nil
}

// pullPage is one page of /pulls?state=all&sort=updated&direction=desc (there
// is no since): pull requests newest change first, cut at the first one older
// than the window, which ends the list.
type pullPage struct {
	pulls []pullMeta
	raw   []json.RawMessage
	ended bool
}

type pullMeta struct {
	Number    int     `json:"number"`
	UpdatedAt *string `json:"updated_at"`
	v         int64
}

func (st *stream) listPulls(ctx context.Context, c *cursor, op string) (pullPage, error) {
	ts := c.state(c.key())
	u := c.Next
	if u == "" {
		q := url.Values{"state": {"all"}, "sort": {"updated"}, "direction": {"desc"}, "per_page": {st.perPage()}}
		u = "/repos/" + c.Repo + "/pulls?" + q.Encode()
	}
	resp, err := st.src.get(ctx, op, u, firstETag(c, ts, u), c.Repo)
	if err != nil {
		return pullPage{}, err
	}
	first := c.Pages == 0
	c.Pages++
	if resp.notModified() {
		// Descending by updated_at: any change would be on the first page.
		return pullPage{ended: true}, nil
	}
	items, err := decodeItems(op, resp.body)
	if err != nil {
		return pullPage{}, err
	}
	if first {
		c.ETag, c.ETagURL = resp.etag, u
	}
	window := st.window(c)
	var p pullPage
	for _, raw := range items {
		var m pullMeta
		if err := json.Unmarshal(raw, &m); err != nil || m.Number == 0 {
			return pullPage{}, st.src.badItem(op, raw)
		}
		m.v = unixOf(m.UpdatedAt)
		if m.v < window {
			p.ended = true // everything after is older still
			break
		}
		c.Max = max(c.Max, m.v)
		p.pulls = append(p.pulls, m)
		p.raw = append(p.raw, raw)
	}
	c.Next = resp.next
	if c.Next == "" {
		p.ended = true
	}
	return p, nil
}

// pullsPage reads pull requests changed since the mark.
func (st *stream) pullsPage(ctx context.Context, c *cursor) ([]json.RawMessage, bool, error) {
	p, err := st.listPulls(ctx, c, st.op("list pull requests", c.Repo))
	if err != nil {
		return nil, false, err
	}
	var recs []json.RawMessage
	for i, m := range p.pulls {
		if st.keep(c, strconv.Itoa(m.Number), m.v) {
			recs = append(recs, envelope(c.Repo, p.raw[i]))
		}
	}
	st.pruneNew(c)
	return recs, p.ended, nil
}

// reviewsPage reads reviews submitted since the mark: in bulk over GraphQL (see
// reviewsGraphQLPage) unless Options.RESTReviews, or to finish a repository a
// cursor of the REST path is in the middle of.
//
// Over REST, GitHub has no list of a repository's reviews, so it lists pull
// requests changed since the mark (a review changes its pull request's
// updated_at) and then, one request each, the reviews of every one of them;
// reviews submitted before the window were landed by an earlier sync and are
// dropped.
func (st *stream) reviewsPage(ctx context.Context, c *cursor) ([]json.RawMessage, bool, error) {
	if !st.src.restReviews && c.Next == "" && c.Sub == "" && len(c.Queue) == 0 {
		return st.reviewsGraphQLPage(ctx, c)
	}
	if len(c.Queue) == 0 {
		p, err := st.listPulls(ctx, c, st.op("list pull requests", c.Repo))
		if err != nil {
			return nil, false, err
		}
		for _, m := range p.pulls {
			c.Queue = append(c.Queue, m.Number)
		}
		c.Listed = p.ended
		return nil, c.Listed && len(c.Queue) == 0, nil
	}
	n := c.Queue[0]
	op := st.op("list reviews of pull "+strconv.Itoa(n)+" in", c.Repo)
	u := c.Sub
	if u == "" {
		u = "/repos/" + c.Repo + "/pulls/" + strconv.Itoa(n) + "/reviews?per_page=" + st.perPage()
	}
	resp, err := st.src.get(ctx, op, u, "", c.Repo)
	if errs.Is(err, errs.NotFound) {
		resp, err = response{body: []byte("[]")}, nil // the pull request is gone (the repository moved): nothing to read
	}
	if err != nil {
		return nil, false, err
	}
	items, err := decodeItems(op, resp.body)
	if err != nil {
		return nil, false, err
	}
	window := st.window(c)
	var recs []json.RawMessage
	for _, raw := range items {
		var m struct {
			ID          int64   `json:"id"`
			SubmittedAt *string `json:"submitted_at"`
		}
		if err := json.Unmarshal(raw, &m); err != nil || m.ID == 0 {
			return nil, false, st.src.badItem(op, raw)
		}
		v := unixOf(m.SubmittedAt)
		if v == 0 || v < window {
			continue // pending (not submitted, visible only to its author), or landed by an earlier sync
		}
		if st.keep(c, strconv.FormatInt(m.ID, 10), v) {
			recs = append(recs, envelope(c.Repo, raw, "pull_number", n))
		}
	}
	st.pruneNew(c)
	if c.Sub = resp.next; c.Sub == "" {
		c.Queue = c.Queue[1:]
	}
	return recs, c.Listed && len(c.Queue) == 0 && c.Sub == "", nil
}

// commitsPage reads commits committed since the mark, per branch, newest first;
// first it looks up the repository's default branch (free when unchanged).
//
// since/until filter on the committer date, which is when a commit was made,
// not when it reached GitHub: commits made locally and pushed later than the
// lookback, or old commits a merge commit brings into the branch, are not seen
// by incremental reads. Squash and rebase merges on GitHub stamp the merge time,
// so the common flow is covered; a periodic full refresh (a nil cursor) or a
// longer Lookback catches the rest.
func (st *stream) commitsPage(ctx context.Context, c *cursor) ([]json.RawMessage, bool, error) {
	if c.Branch == "" {
		op := st.op("get repository", c.Repo)
		ts := c.state(c.Repo)
		u := "/repos/" + c.Repo
		etag := ""
		if ts.Default != "" && ts.ETagURL == u {
			etag = ts.ETag
		}
		resp, err := st.src.get(ctx, op, u, etag, c.Repo)
		if err != nil || resp.notModified() {
			return nil, true, err
		}
		var m struct {
			DefaultBranch string `json:"default_branch"`
		}
		if err := json.Unmarshal(resp.body, &m); err != nil || m.DefaultBranch == "" {
			return nil, false, st.src.badItem(op, resp.body)
		}
		c.Default, c.ETag, c.ETagURL = m.DefaultBranch, resp.etag, u
		return nil, true, nil
	}

	op := st.op("list commits of "+c.Branch+" in", c.Repo)
	ts := c.state(c.key())
	u, etagURL := c.Next, ""
	if u == "" {
		q := url.Values{"sha": {c.Branch}, "per_page": {st.perPage()}}
		if w := st.window(c); w > 0 {
			q.Set("since", formatUnix(w))
		}
		etagURL = "/repos/" + c.Repo + "/commits?" + q.Encode()
		// until bounds the pass at SyncStart; it changes every sync, so the ETag
		// is keyed without it (an ETag is about the body, and an unchanged window
		// gives an unchanged body).
		q.Set("until", formatUnix(c.Until))
		u = "/repos/" + c.Repo + "/commits?" + q.Encode()
	}
	etag := ""
	if etagURL != "" {
		etag = firstETag(c, ts, etagURL)
	}
	resp, err := st.src.get(ctx, op, u, etag, c.Repo)
	if errs.Is(err, errs.NotFound) && c.Branch != c.state(c.Repo).Default {
		return nil, true, nil // a configured branch this repository does not have
	}
	if err != nil {
		return nil, false, err
	}
	first := c.Pages == 0
	c.Pages++
	if resp.notModified() {
		return nil, true, nil // newest first: any new commit would be on the first page
	}
	items, err := decodeItems(op, resp.body)
	if err != nil {
		return nil, false, err
	}
	if first {
		c.ETag, c.ETagURL = resp.etag, etagURL
	}
	var recs []json.RawMessage
	for _, raw := range items {
		var m struct {
			SHA    string `json:"sha"`
			Commit struct {
				Message   string `json:"message"`
				Committer struct {
					Date *string `json:"date"`
				} `json:"committer"`
			} `json:"commit"`
		}
		if err := json.Unmarshal(raw, &m); err != nil || m.SHA == "" {
			return nil, false, st.src.badItem(op, raw)
		}
		v := unixOf(m.Commit.Committer.Date)
		c.Max = max(c.Max, v)
		if st.keep(c, m.SHA, v) {
			headline, _, _ := strings.Cut(m.Commit.Message, "\n")
			recs = append(recs, envelope(c.Repo, raw, "branch", c.Branch, "message_headline", strings.TrimRight(headline, "\r")))
		}
	}
	st.pruneNew(c)
	c.Next = resp.next
	return recs, c.Next == "", nil
}
