package jira

import (
	"net/url"
	"strconv"
	"time"
)

// wire renders the data set as Jira sends it: links under the site the request
// came to, timestamps in the API user's profile time zone.
type wire struct {
	site string // e.g. http://127.0.0.1:8280/jira
	tz   *time.Location
}

func (w wire) api(path string) string { return w.site + "/rest/api/3" + path }

func (w wire) time(t time.Time) string { return t.In(w.tz).Format(TimeLayout) }

func (w wire) timeOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return w.time(t)
}

func (w wire) avatars(kind, id string) map[string]string {
	out := map[string]string{}
	for _, s := range []string{"48x48", "24x24", "16x16", "32x32"} {
		out[s] = w.site + "/secure/" + kind + "avatar?size=" + s + "&avatarId=" + id
	}
	return out
}

// user is an account as other users see it: without the email address, which
// Atlassian hides by default.
func (w wire) user(u *user) any {
	if u == nil {
		return nil
	}
	return map[string]any{
		"self":        w.api("/user?accountId=" + url.QueryEscape(u.accountID)),
		"accountId":   u.accountID,
		"avatarUrls":  w.avatars("user", "10122"),
		"displayName": u.name,
		"active":      true,
		"timeZone":    u.tz,
		"accountType": "atlassian",
	}
}

func (w wire) category(p *project) map[string]any {
	return map[string]any{"self": w.api("/projectCategory/" + p.teamID), "id": p.teamID, "name": p.team, "description": p.teamDesc}
}

// projectRef is a project as it appears inside an issue.
func (w wire) projectRef(p *project) map[string]any {
	id := strconv.FormatInt(p.id, 10)
	return map[string]any{
		"self":            w.api("/project/" + id),
		"id":              id,
		"key":             p.key,
		"name":            p.name,
		"projectTypeKey":  "software",
		"simplified":      false,
		"avatarUrls":      w.avatars("project", id),
		"projectCategory": w.category(p),
	}
}

// project is a project as /project/search sends it; expand adds description,
// lead and insight.
func (w wire) project(p *project, expand map[string]bool, issues int, lastUpdate time.Time) map[string]any {
	m := w.projectRef(p)
	m["expand"] = "description,lead,issueTypes,url,projectKeys,permissions,insight"
	m["style"] = "classic"
	m["isPrivate"] = false
	m["properties"] = map[string]any{}
	if expand["description"] {
		m["description"] = p.desc
	}
	if expand["lead"] {
		m["lead"] = w.user(p.lead)
	}
	if expand["insight"] {
		m["insight"] = map[string]any{"totalIssueCount": issues, "lastIssueUpdateTime": w.timeOrNil(lastUpdate)}
	}
	return m
}

func (w wire) status(s status) map[string]any {
	return map[string]any{
		"self":        w.api("/status/" + s.id),
		"description": "",
		"iconUrl":     w.site + "/",
		"name":        s.name,
		"id":          s.id,
		"statusCategory": map[string]any{
			"self":      w.api("/statuscategory/" + strconv.Itoa(s.cat.id)),
			"id":        s.cat.id,
			"key":       s.cat.key,
			"colorName": s.cat.color,
			"name":      s.cat.name,
		},
	}
}

// navigable are the fields *navigable (and *all) return, in Jira's names.
var navigable = []string{
	"summary", "status", "statuscategorychangedate", "assignee", "reporter", "creator", "project",
	"issuetype", "priority", "created", "updated", "resolution", "resolutiondate", "labels",
	"description", "customfield_10016", "lastViewed",
}

// field renders one field of is; ok is false for a field the imitation does not have.
func (w wire) field(is *issue, name string) (any, bool) {
	switch name {
	case "summary":
		return is.summary, true
	case "status":
		return w.status(statuses[is.status]), true
	case "statuscategorychangedate":
		return w.time(is.catChange), true
	case "assignee":
		return w.user(is.assignee), true
	case "reporter", "creator":
		return w.user(is.reporter), true
	case "project":
		return w.projectRef(is.proj), true
	case "issuetype":
		return map[string]any{"self": w.api("/issuetype/" + is.typ.id), "id": is.typ.id, "description": is.typ.desc,
			"iconUrl": w.site + "/rest/api/2/universal_avatar/view/type/issuetype/avatar/10318?size=medium",
			"name":    is.typ.name, "subtask": false, "avatarId": 10318, "hierarchyLevel": 0}, true
	case "priority":
		return map[string]any{"self": w.api("/priority/" + is.prio.id), "iconUrl": w.site + "/images/icons/priorities/" + is.prio.name + ".svg",
			"name": is.prio.name, "id": is.prio.id}, true
	case "created":
		return w.time(is.created), true
	case "updated":
		return w.time(is.updated), true
	case "resolution":
		if is.res == nil {
			return nil, true
		}
		return map[string]any{"self": w.api("/resolution/" + is.res.id), "id": is.res.id, "description": is.res.desc, "name": is.res.name}, true
	case "resolutiondate":
		return w.timeOrNil(is.resolved), true
	case "labels":
		if is.labels == nil {
			return []string{}, true
		}
		return is.labels, true
	case "description": // v3 sends rich text as an Atlassian Document Format document
		return map[string]any{"type": "doc", "version": 1, "content": []any{map[string]any{
			"type": "paragraph", "content": []any{map[string]any{"type": "text", "text": is.summary + "."}}}}}, true
	case "customfield_10016":
		if is.points == nil {
			return nil, true
		}
		return *is.points, true
	case "lastViewed":
		return nil, true
	}
	return nil, false
}

// issue renders is with the named fields; none named is the ids-only default of
// /search/jql.
func (w wire) issue(is *issue, fields []string) map[string]any {
	id := strconv.FormatInt(is.id, 10)
	if len(fields) == 0 {
		return map[string]any{"id": id}
	}
	f := make(map[string]any, len(fields))
	for _, name := range fields {
		if v, ok := w.field(is, name); ok {
			f[name] = v
		}
	}
	return map[string]any{
		"expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
		"id":     id,
		"self":   w.api("/issue/" + id),
		"key":    is.key(),
		"fields": f,
	}
}

// wireHistory is a changelog entry; structs keep Jira's key order.
type wireHistory struct {
	ID      string           `json:"id"`
	Author  any              `json:"author"`
	Created string           `json:"created"`
	Items   []map[string]any `json:"items"`
}

func (w wire) history(h *history) wireHistory {
	out := wireHistory{ID: strconv.FormatInt(h.id, 10), Author: w.user(h.author), Created: w.time(h.created)}
	for _, it := range h.items {
		m := map[string]any{"field": it.field, "fieldtype": "jira", "fieldId": it.fieldID,
			"from": it.from, "fromString": it.fromString, "to": it.to, "toString": it.toS}
		if it.accountIDs {
			m["tmpFromAccountId"], m["tmpToAccountId"] = it.from, it.to
		}
		out.Items = append(out.Items, m)
	}
	return out
}
