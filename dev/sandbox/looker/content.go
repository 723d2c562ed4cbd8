package looker

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// stamp is how Looker writes timestamps in API objects: milliseconds and an offset.
func stamp(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format("2006-01-02T15:04:05.000-07:00")
}

// dashboards is GET /dashboards (all_dashboards): every dashboard not deleted,
// abbreviated (Looker's DashboardBase). It takes only `fields`: no paging.
func (a *API) dashboards(w http.ResponseWriter, r *http.Request) {
	fs, ok := fieldsParam(w, r)
	if !ok {
		return
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	out := []map[string]any{}
	for _, d := range a.data.dashboards {
		if !d.deleted.IsZero() {
			continue
		}
		out = append(out, fs.apply(map[string]any{
			"can":                   map[string]bool{"index": true, "show": true, "copy": true, "run": true},
			"content_favorite_id":   nil,
			"content_metadata_id":   "2" + d.id,
			"description":           "",
			"hidden":                false,
			"id":                    d.id,
			"model":                 nil, // user-defined dashboards belong to no model; LookML ones do
			"query_timezone":        "",
			"readonly":              false,
			"refresh_interval":      nil,
			"refresh_interval_to_i": nil,
			"folder":                a.data.folderObject(d.folder),
			"title":                 d.title,
			"user_id":               strconv.FormatInt(d.owner.id, 10),
			"slug":                  d.slug,
			"preferred_viewer":      "dashboards-next",
		}))
	}
	writeJSON(w, http.StatusOK, out)
}

// dashboardElements is GET /dashboards/{dashboard_id}/dashboard_elements: every
// tile of a dashboard (a deleted one's too), with its query — model, view and
// fields — or, for a tile showing a Look, the Look and its query.
func (a *API) dashboardElements(w http.ResponseWriter, r *http.Request) {
	fs, ok := fieldsParam(w, r)
	if !ok {
		return
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	id := r.PathValue("dashboard_id")
	i := slices.IndexFunc(a.data.dashboards, func(d *dashboard) bool { return d.id == id })
	if i < 0 {
		writeError(w, r, http.StatusNotFound, "Not found")
		return
	}
	out := []map[string]any{}
	for _, el := range a.data.dashboards[i].elements {
		e := map[string]any{
			"id": strconv.FormatInt(el.id, 10), "dashboard_id": id, "title": el.title, "type": el.kind,
			"query_id": nil, "query": nil, "look_id": nil, "look": nil, "body_text": nil,
		}
		switch {
		case el.look != nil:
			e["look_id"] = strconv.FormatInt(el.look.id, 10)
			e["look"] = map[string]any{"id": e["look_id"], "title": el.look.title, "query_id": strconv.FormatInt(el.query.id, 10), "query": queryObject(el.query)}
		case el.query != nil:
			e["query_id"] = strconv.FormatInt(el.query.id, 10)
			e["query"] = queryObject(el.query)
		default:
			e["body_text"] = "Notes on " + a.data.dashboards[i].title
		}
		out = append(out, fs.apply(e))
	}
	writeJSON(w, http.StatusOK, out)
}

func queryObject(q *query) map[string]any {
	return map[string]any{"id": strconv.FormatInt(q.id, 10), "model": q.explore.Model, "view": q.explore.Name, "fields": q.fields, "limit": "500"}
}

// looks is GET /looks (all_looks): every Look not soft-deleted, with its model,
// query id and usage. It takes only `fields`: no paging.
func (a *API) looks(w http.ResponseWriter, r *http.Request) {
	fs, ok := fieldsParam(w, r)
	if !ok {
		return
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	type usage struct {
		views int
		last  time.Time
	}
	used := map[int64]*usage{}
	for _, x := range a.data.runs {
		if x.look != nil && x.source == "look" {
			u := used[x.look.id]
			if u == nil {
				u = &usage{}
				used[x.look.id] = u
			}
			u.views++
			u.last = x.created
		}
	}
	out := []map[string]any{}
	for _, lk := range a.data.looks {
		if !lk.deleted.IsZero() {
			continue
		}
		u := used[lk.id]
		if u == nil {
			u = &usage{}
		}
		id := strconv.FormatInt(lk.id, 10)
		out = append(out, fs.apply(map[string]any{
			"can":                 map[string]bool{"index": true, "show": true, "copy": true, "run": true},
			"content_metadata_id": "3" + id,
			"content_favorite_id": nil,
			"id":                  id,
			"title":               lk.title,
			"user_id":             strconv.FormatInt(lk.owner.id, 10),
			"created_at":          stamp(lk.created),
			"updated_at":          stamp(lk.updated),
			"deleted":             false,
			"deleted_at":          nil,
			"deleter_id":          nil,
			"description":         "",
			"embed_url":           "/embed/looks/" + id,
			"favorite_count":      int(lk.id % 4),
			"is_run_on_load":      true,
			"last_accessed_at":    stamp(u.last),
			"last_updater_id":     strconv.FormatInt(lk.owner.id, 10),
			"last_viewed_at":      stamp(u.last),
			"model":               map[string]any{"id": lk.query.explore.Model, "label": words(lk.query.explore.Model)},
			"public":              false,
			"query_id":            strconv.FormatInt(lk.query.id, 10),
			"short_url":           "/x/" + id,
			"folder":              a.data.folderObject(lk.folder),
			"folder_id":           lk.folder.id,
			"view_count":          u.views,
		}))
	}
	writeJSON(w, http.StatusOK, out)
}

func (in *instance) folderObject(f *folder) map[string]any {
	var parent any
	if f.parentID != "" {
		parent = f.parentID
	}
	return map[string]any{
		"name": f.name, "parent_id": parent, "id": f.id, "content_metadata_id": "1" + f.id,
		"created_at": stamp(in.anchor.AddDate(-3, 0, 0)), "creator_id": "1",
		"is_personal": false, "is_personal_descendant": false, "is_shared_root": f.id == "1",
	}
}

// users is GET /users (all_users): `ids` narrows, `sorts` orders ("last_name,
// first_name", "id desc"; id by default), limit/offset (or the deprecated
// page/per_page) page; a paged answer carries Link (first, prev, next, last: the
// total is known) and X-Total-Count.
func (a *API) users(w http.ResponseWriter, r *http.Request) {
	fs, ok := fieldsParam(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	a.mu.RLock()
	defer a.mu.RUnlock()
	people := slices.Clone(a.data.people)
	if ids := listParam(q["ids"]); len(ids) > 0 {
		people = slices.DeleteFunc(people, func(p *person) bool { return !slices.Contains(ids, strconv.FormatInt(p.id, 10)) })
	}
	if s := q.Get("sorts"); s != "" {
		cmpFn, err := userSorts(s)
		if err != nil {
			writeError(w, r, http.StatusBadRequest, err.Error())
			return
		}
		slices.SortStableFunc(people, cmpFn)
	}
	limit, offset, paged, err := paging(q)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, err.Error())
		return
	}
	total := len(people)
	if paged {
		w.Header().Set("Link", links(r, limit, offset, total))
		w.Header().Set("X-Total-Count", strconv.Itoa(total))
		people = people[min(offset, total):min(offset+limit, total)]
	}
	out := make([]map[string]any, len(people))
	for i, p := range people {
		out[i] = fs.apply(a.data.userObject(p))
	}
	writeJSON(w, http.StatusOK, out)
}

func (in *instance) userObject(p *person) map[string]any {
	id := strconv.FormatInt(p.id, 10)
	var emailCreds, samlCreds any
	login := map[string]any{"created_at": stamp(p.created), "logged_in_at": stamp(p.lastLogin), "is_disabled": !p.disabled.IsZero()}
	if p.email != p.canonical { // provisioned by single sign-on, the directory's spelling
		login["type"], login["email"], login["saml_user_id"] = "saml", p.email, p.email
		samlCreds = login
	} else {
		login["type"], login["email"], login["forced_password_reset_at_next_login"] = "email", p.email, false
		emailCreds = login
	}
	api3 := []map[string]any{}
	if p.origin == "service" {
		api3 = append(api3, map[string]any{"id": "1", "client_id": DefaultClientID, "created_at": stamp(p.created), "is_disabled": false, "type": "api3", "purpose": "Meshflow: System Activity and content"})
	}
	roles := []string{"3"} // Viewer
	switch {
	case p.admin:
		roles = []string{"2"} // Admin
	case p.developer:
		roles = []string{"4"} // Developer
	}
	return map[string]any{
		"can":                      map[string]bool{"show": true, "index": true, "show_details": true},
		"avatar_url":               "https://gravatar.lookercdn.com/avatar/" + id + "?s=156&d=blank",
		"credentials_api3":         api3,
		"credentials_email":        emailCreds,
		"credentials_saml":         samlCreds,
		"display_name":             p.name(),
		"email":                    p.email,
		"first_name":               p.first,
		"last_name":                p.last,
		"group_ids":                []string{"1"},
		"home_folder_id":           "1",
		"id":                       id,
		"is_disabled":              !p.disabled.IsZero(),
		"locale":                   "en",
		"personal_folder_id":       strconv.FormatInt(1000+p.id, 10),
		"presumed_looker_employee": false,
		"role_ids":                 roles,
		"verified_looker_employee": false,
		"url":                      "/api/4.0/users/" + id,
	}
}

// userSorts parses all_users' sorts: comma-separated fields, each optionally
// followed by asc or desc.
func userSorts(s string) (func(a, b *person) int, error) {
	type key struct {
		get  func(*person) string
		num  bool
		desc bool
	}
	var keys []key
	for _, term := range strings.Split(s, ",") {
		f := strings.Fields(term)
		if len(f) == 0 || len(f) > 2 || (len(f) == 2 && f[1] != "asc" && f[1] != "desc") {
			return nil, fmt.Errorf("sorts: %q is not \"field\" or \"field asc|desc\"", strings.TrimSpace(term))
		}
		k := key{desc: len(f) == 2 && f[1] == "desc"}
		switch f[0] {
		case "id":
			k.get, k.num = func(p *person) string { return strconv.FormatInt(p.id, 10) }, true
		case "first_name":
			k.get = func(p *person) string { return p.first }
		case "last_name":
			k.get = func(p *person) string { return p.last }
		case "email":
			k.get = func(p *person) string { return p.email }
		case "display_name":
			k.get = func(p *person) string { return p.name() }
		case "is_disabled":
			k.get = func(p *person) string { return strconv.FormatBool(!p.disabled.IsZero()) }
		default:
			return nil, fmt.Errorf("sorts: unknown field %q", f[0])
		}
		keys = append(keys, k)
	}
	return func(a, b *person) int {
		for _, k := range keys {
			x, y := k.get(a), k.get(b)
			var c int
			if k.num {
				c = cmp.Compare(len(x), len(y))
			}
			if c == 0 {
				c = strings.Compare(strings.ToLower(x), strings.ToLower(y))
			}
			if k.desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	}, nil
}

// paging reads limit and offset, which take priority over the deprecated
// page/per_page; paged is false when neither limit nor per_page was sent.
func paging(q url.Values) (limit, offset int, paged bool, err error) {
	num := func(name string, minimum int) (int, bool, error) {
		s := q.Get(name)
		if s == "" {
			return 0, false, nil
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < minimum {
			return 0, false, fmt.Errorf("%s must be an integer of at least %d, not %q", name, minimum, s)
		}
		return n, true, nil
	}
	limit, paged, err = num("limit", 1)
	if err != nil {
		return
	}
	if paged {
		offset, _, err = num("offset", 0)
		return
	}
	perPage, paged, err := num("per_page", 1)
	if err != nil || !paged {
		return 0, 0, paged, err
	}
	page, hasPage, err := num("page", 1)
	if !hasPage {
		page = 1
	}
	return perPage, (page - 1) * perPage, true, err
}

// links writes the Link header of a page: first and last always (the total is
// known), prev when a page comes before, next when one comes after; every link
// pages with limit and offset.
func links(r *http.Request, limit, offset, total int) string {
	at := func(off int, rel string) string {
		q := r.URL.Query()
		q.Del("page")
		q.Del("per_page")
		q.Set("limit", strconv.Itoa(limit))
		q.Set("offset", strconv.Itoa(off))
		return fmt.Sprintf("<%s?%s>; rel=%q", base(r), q.Encode(), rel)
	}
	out := []string{at(0, "first")}
	if offset > 0 {
		out = append(out, at(max(0, offset-limit), "prev"))
	}
	if offset+limit < total {
		out = append(out, at(offset+limit, "next"))
	}
	out = append(out, at(max(0, (total-1)/limit*limit), "last"))
	return strings.Join(out, ", ")
}

// base is the URL the request reached, without its query, mount prefix included.
func base(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	path, _, _ := strings.Cut(r.RequestURI, "?")
	return scheme + "://" + r.Host + path
}

// listParam splits a list parameter given comma-separated or repeated.
func listParam(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// fieldSet is a parsed `fields` parameter, "id,title,folder(id,name)": the fields
// to keep, each with the subfields to keep of an object (nil: all of it). A nil
// fieldSet keeps everything.
type fieldSet map[string]fieldSet

func fieldsParam(w http.ResponseWriter, r *http.Request) (fieldSet, bool) {
	fs, err := parseFields(r.URL.Query().Get("fields"))
	if err != nil {
		writeError(w, r, http.StatusBadRequest, err.Error())
		return nil, false
	}
	return fs, true
}

func parseFields(s string) (fieldSet, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	fs, rest, err := parseFieldList(s)
	if err == nil && rest != "" {
		err = fmt.Errorf("fields: unexpected %q", rest)
	}
	return fs, err
}

// parseFieldList reads fields up to the end or an unmatched ")".
func parseFieldList(s string) (fieldSet, string, error) {
	fs := fieldSet{}
	for {
		i := strings.IndexAny(s, ",()")
		name := strings.TrimSpace(s)
		if i >= 0 {
			name = strings.TrimSpace(s[:i])
		}
		if name == "" {
			return nil, s, fmt.Errorf("fields: an empty field name in %q", s)
		}
		if i < 0 {
			fs[name] = nil
			return fs, "", nil
		}
		switch s[i] {
		case '(':
			sub, rest, err := parseFieldList(s[i+1:])
			if err != nil {
				return nil, rest, err
			}
			if !strings.HasPrefix(rest, ")") {
				return nil, rest, fmt.Errorf("fields: %q opens a parenthesis it does not close", name)
			}
			fs[name] = sub
			s = strings.TrimSpace(rest[1:])
			if s == "" || strings.HasPrefix(s, ")") {
				return fs, s, nil
			}
			if s[0] != ',' {
				return nil, s, fmt.Errorf("fields: expected a comma before %q", s)
			}
			s = s[1:]
		case ')':
			fs[name] = nil
			return fs, s[i:], nil
		default:
			fs[name] = nil
			s = s[i+1:]
		}
	}
}

// apply keeps the selected fields of v (all when fs is nil); a field that does not
// exist is left out, as Looker does.
func (fs fieldSet) apply(v map[string]any) map[string]any {
	if fs == nil {
		return v
	}
	out := map[string]any{}
	for name, sub := range fs {
		x, ok := v[name]
		if !ok {
			continue
		}
		switch o := x.(type) {
		case map[string]any:
			x = sub.apply(o)
		case []map[string]any:
			l := make([]map[string]any, len(o))
			for i, e := range o {
				l[i] = sub.apply(e)
			}
			x = l
		}
		out[name] = x
	}
	return out
}
