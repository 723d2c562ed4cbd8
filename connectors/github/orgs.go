package github

import (
	"context"
	"encoding/json"
	"net/url"
	"regexp"
	"strings"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/source"
)

// The organizations stream names the companies around the configured
// repositories: the organisation owning each, and the organisations owning its
// forks (customers and partners building on the code). GitHub has no list of
// them, so a pass discovers them repository by repository — the owner, then
// the owners of the forks, oldest fork first — and reads each organisation it
// has not read yet in this pass with GET /orgs/{login}, sending the ETag of its
// last read: an unchanged organisation costs a free 304 and lands nothing.

// orgKeyPrefix keys an organisation's state in cursor.State. A repository key
// always holds a "/", so the two cannot clash.
const orgKeyPrefix = "org:"

// orgKey is case-insensitive, as GitHub logins are.
func orgKey(login string) string { return orgKeyPrefix + strings.ToLower(login) }

func ownerOf(repo string) string {
	owner, _, _ := strings.Cut(repo, "/")
	return owner
}

// loginSyntax is what a login from GitHub may look like before it goes into a
// URL path: letters, digits, hyphens (and underscores, as Enterprise Managed
// Users' logins have).
var loginSyntax = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$`)

var orgFields = []source.Field{
	f("repository", source.String, "The configured repository (owner/name) through which the organisation was first found in the sync: the one it owns, or the one it forked.", "repository"),
	f("relation", source.String, "How the organisation was found: owner (it owns the configured repository) or fork (it owns a fork of it).", "relation"),
	item("id", source.Int64, "GitHub's organisation id; stays the same across renames.", "id"),
	item("login", source.String, "The organisation's handle (github.com/<login>); it can be renamed, the id stays.", "login"),
	item("name", source.String, "Display name; null when the organisation never set one.", "name"),
	item("blog", source.String, "Website as the organisation typed it, free text: a bare domain or a URL, any case (nimbus-labs.example, https://www.Nimbus-Labs.example/); null when unset. Normalise it before matching on it.", "blog"),
	item("email", source.String, "Public contact email; null when unset.", "email"),
	item("description", source.String, "Public description; null when unset.", "description"),
	item("location", source.String, "Location as the organisation typed it, free text; null when unset.", "location"),
	item("is_verified", source.Bool, "True when the organisation has verified a domain it owns with GitHub.", "is_verified"),
	item("public_repos", source.Int64, "Number of public repositories the organisation owns.", "public_repos"),
	item("created_at", source.Timestamp, "When the organisation was created on GitHub.", "created_at"),
	item("updated_at", source.Timestamp, "When the organisation's profile last changed; orders versions of an organisation.", "updated_at"),
}

// organizationsPage sends one request for the current repository: it reads the
// next organisation queued, or lists the next page of forks when none is.
func (st *stream) organizationsPage(ctx context.Context, c *cursor) ([]json.RawMessage, bool, error) {
	if c.Pass == 0 {
		c.Pass = 1 // a cursor written mid-pass by no pass of ours
	}
	if c.Pages == 0 {
		// Before the forks: the owner, unless an earlier repository found it in
		// this pass (then this is a no-op, whatever the page).
		st.discover(c, ownerOf(c.Repo))
	}
	if len(c.Orgs) > 0 {
		recs, err := st.readOrg(ctx, c, c.Orgs[0])
		if err != nil {
			return nil, false, err
		}
		c.Orgs = c.Orgs[1:]
		return recs, c.Listed && len(c.Orgs) == 0, nil
	}
	if err := st.listForks(ctx, c); err != nil {
		return nil, false, err
	}
	return nil, c.Listed && len(c.Orgs) == 0, nil
}

// discover queues login unless this pass has discovered it already.
func (st *stream) discover(c *cursor, login string) {
	ts := c.state(orgKey(login))
	if ts.Pass == c.Pass {
		return
	}
	ts.Pass = c.Pass
	c.Orgs = append(c.Orgs, login)
}

// listForks reads one page of the current repository's forks, oldest first (a
// fork made mid-pass lands at the end instead of shifting the pages), and
// queues the organisations among their owners.
func (st *stream) listForks(ctx context.Context, c *cursor) error {
	op := st.op("list forks of", c.Repo)
	u := c.Next
	if u == "" {
		u = "/repos/" + c.Repo + "/forks?" + url.Values{"sort": {"oldest"}, "per_page": {st.perPage()}}.Encode()
	}
	resp, err := st.src.get(ctx, op, u, "", c.Repo)
	if err != nil {
		return err
	}
	items, err := decodeItems(op, resp.body)
	if err != nil {
		return err
	}
	for _, raw := range items {
		var m struct {
			Owner struct {
				Login string `json:"login"`
				Type  string `json:"type"`
			} `json:"owner"`
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			return st.src.badItem(op, raw)
		}
		if m.Owner.Type != "Organization" { // a user's fork names no company
			continue
		}
		if !loginSyntax.MatchString(m.Owner.Login) {
			return st.src.badItem(op, raw)
		}
		st.discover(c, m.Owner.Login)
	}
	c.Pages++
	c.Next = resp.next
	c.Listed = c.Next == ""
	return nil
}

// readOrg reads one organisation: its object in an envelope, nothing when it is
// unchanged since its last read (304), or nothing when GitHub has no such
// organisation (404): a repository owner that is a user, or a fork owner
// deleted or renamed since the fork list named it.
func (st *stream) readOrg(ctx context.Context, c *cursor, login string) ([]json.RawMessage, error) {
	who := "organisation " + st.src.scrub(login)
	op := "github: get " + who
	ts := c.state(orgKey(login))
	resp, err := st.src.get(ctx, op, "/orgs/"+url.PathEscape(login), ts.ETag, who)
	owner := strings.EqualFold(login, ownerOf(c.Repo))
	// A fork's organisation is someone else's: one that hides from our token (SAML
	// single sign-on answers 403) is skipped like one that is gone, rather than failing
	// every pass over an organisation nobody here can fix.
	if errs.Is(err, errs.NotFound) || (!owner && errs.Is(err, errs.Permission)) {
		ts.ETag = ""
		return nil, nil
	}
	if err != nil || resp.notModified() {
		return nil, err
	}
	var m struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal(resp.body, &m); err != nil || m.ID == 0 {
		return nil, st.src.badItem(op, resp.body)
	}
	ts.ETag = resp.etag
	relation := "fork"
	if owner {
		relation = "owner"
	}
	return []json.RawMessage{envelope(c.Repo, resp.body, "relation", relation)}, nil
}
