package github

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/meshflow/meshflow/dev/sandbox/internal/fake"
)

// Streams are the names Count knows, the connector's stream names.
var Streams = []string{"repositories", "issues", "pull_requests", "pull_request_reviews", "commits", "organizations"}

// Count is how many records of stream the imitation holds across all
// repositories: issues without pull requests; pull requests; reviews; commits
// as (repository, branch, sha) — a commit reachable from main and from release
// counts once per branch, as listing both branches returns it twice; repositories;
// organizations as a pass over every repository discovers them, each once: the
// owners and the organisations owning forks (user-owned forks are not).
// Unknown streams count 0.
func (a *API) Count(stream string) int {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if stream == "organizations" {
		return len(a.discovered())
	}
	n := 0
	for _, rp := range a.w.repos {
		switch stream {
		case "repositories":
			n++
		case "issues", "pull_requests", "pull_request_reviews":
			for _, it := range rp.issues {
				switch {
				case stream == "issues" && it.pr == nil, stream == "pull_requests" && it.pr != nil:
					n++
				case stream == "pull_request_reviews" && it.pr != nil:
					n += len(it.pr.reviews)
				}
			}
		case "commits":
			for _, b := range rp.branches {
				n += len(b.base) + len(b.own)
			}
		}
	}
	return n
}

// Used is how many requests the primary limit has counted in its current hour.
func (a *API) Used() int { return a.limits.usedNow() }

// ExhaustPrimary uses up the primary limit: every request but /rate_limit
// answers 403 with x-ratelimit-remaining 0 until the hour's reset.
func (a *API) ExhaustPrimary() { a.limits.exhaust() }

// GraphQLUsed is how many points the GraphQL API has charged in its current hour.
func (a *API) GraphQLUsed() int {
	_, _, used, _ := a.limits.graphqlState()
	return used
}

// ExhaustGraphQL uses up the GraphQL API's points: every query answers 200 with
// a RATE_LIMITED error until the hour's reset.
func (a *API) ExhaustGraphQL() { a.limits.exhaustGraphQL() }

// pick draws n of cands deterministically (seed and earlier calls) and returns
// them in their original order.
func pick[T any](a *API, cands []T, n int) []T {
	n = min(max(n, 0), len(cands))
	idx := make([]int, len(cands))
	for i := range idx {
		idx[i] = i
	}
	for i := 0; i < n; i++ { // partial Fisher–Yates: the first n are a uniform sample
		j := i + a.mutator.IntN(len(idx)-i)
		idx[i], idx[j] = idx[j], idx[i]
	}
	chosen := slices.Clone(idx[:n])
	slices.Sort(chosen)
	out := make([]T, n)
	for i, k := range chosen {
		out[i] = cands[k]
	}
	return out
}

type ref struct {
	rp *repo
	it *issue
}

func (a *API) issues(keep func(*issue) bool) []ref {
	var out []ref
	for _, rp := range a.w.repos {
		for _, it := range rp.issues {
			if keep(it) {
				out = append(out, ref{rp, it})
			}
		}
	}
	return out
}

func key(rp *repo, number int) string { return rp.fullName() + "#" + strconv.Itoa(number) }

func (a *API) now() time.Time { return sec(a.opts.Now()) }

// MergePRs squash-merges n open, ready pull requests chosen across the
// repositories: merged_at, closed_at and updated_at become Now, and main gets the
// squash commit. It returns "owner/repo#number" keys in repository and number
// order (fewer if fewer pull requests are open).
func (a *API) MergePRs(n int) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	var keys []string
	for _, x := range pick(a, a.issues(func(it *issue) bool { return it.pr != nil && it.state == "open" && !it.pr.draft }), n) {
		it := x.it
		it.state, it.closed, it.updated = "closed", now, now
		it.pr.merged, it.pr.requested = now, nil
		c := squash(it, a.w.webflow)
		c.authored = it.created
		a.push(x.rp, x.rp.main(), c)
		it.pr.mergeSHA = c.sha
		keys = append(keys, key(x.rp, it.number))
	}
	return keys
}

// UpdateIssues changes n issues (not pull requests) chosen across the
// repositories — closes an open one, reopens a closed one, adds a comment —
// and stamps updated_at with Now. It returns "owner/repo#number" keys.
func (a *API) UpdateIssues(n int) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	var keys []string
	for _, x := range pick(a, a.issues(func(it *issue) bool { return it.pr == nil }), n) {
		it := x.it
		switch {
		case it.state == "open" && a.mutator.Chance(0.6):
			it.state, it.closed, it.reason = "closed", now, "completed"
		case it.state == "closed" && a.mutator.Chance(0.3):
			it.state, it.closed, it.reason = "open", time.Time{}, "reopened"
		}
		it.comments++
		it.updated = now
		keys = append(keys, key(x.rp, it.number))
	}
	return keys
}

// ReviewPRs submits a review, stamped Now, on n open, ready pull requests
// chosen across the repositories (their updated_at becomes Now too, as on
// GitHub). It returns the new reviews' ids.
func (a *API) ReviewPRs(n int) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	var ids []string
	for _, x := range pick(a, a.issues(func(it *issue) bool { return it.pr != nil && it.state == "open" && !it.pr.draft }), n) {
		it := x.it
		rv := &review{id: a.w.id(), user: reviewerFor(a.mutator, x.rp, it.user), submitted: now, commitID: it.pr.headSHA,
			state: []string{"APPROVED", "COMMENTED", "CHANGES_REQUESTED"}[a.mutator.IntN(3)]}
		it.pr.reviews = append(it.pr.reviews, rv)
		it.pr.requested = slices.DeleteFunc(it.pr.requested, func(u *user) bool { return u == rv.user })
		it.updated = now
		ids = append(ids, strconv.FormatInt(rv.id, 10))
	}
	return ids
}

// ReviewRounds submits n reviews on one open, ready pull request, a second apart
// up to Now (a review round on every push): past 100, its reviews take more than
// one page of a GraphQL connection. It returns the pull request's key
// ("owner/repo#number") and the reviews' ids.
func (a *API) ReviewRounds(n int) (string, []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	cands := a.issues(func(it *issue) bool { return it.pr != nil && it.state == "open" && !it.pr.draft })
	if len(cands) == 0 {
		return "", nil
	}
	x := pick(a, cands, 1)[0]
	it := x.it
	now := a.now()
	var ids []string
	for i := range max(n, 0) {
		rv := &review{id: a.w.id(), user: reviewerFor(a.mutator, x.rp, it.user), commitID: it.pr.headSHA,
			submitted: now.Add(time.Duration(i-n+1) * time.Second), state: "COMMENTED"}
		it.pr.reviews = append(it.pr.reviews, rv)
		ids = append(ids, strconv.FormatInt(rv.id, 10))
	}
	it.updated = now
	return key(x.rp, it.number), ids
}

// AddCommits pushes n direct commits, committed Now, to the main branch of
// repositories chosen in turn. It returns "owner/repo@sha" keys in push order.
func (a *API) AddCommits(n int) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	var keys []string
	for range max(n, 0) {
		rp := a.w.repos[a.mutator.IntN(len(a.w.repos))]
		u := rp.members[a.mutator.IntN(len(rp.members))]
		c := &commit{
			message: "Tweak " + issueObjects[a.mutator.IntN(len(issueObjects))],
			author:  u, authName: u.name, authEmail: u.email, authored: now,
			committer: u, commName: u.name, commEmail: u.email, committed: now,
		}
		a.push(rp, rp.main(), c)
		keys = append(keys, rp.fullName()+"@"+c.sha)
	}
	return keys
}

// push appends c to b, giving it a parent and a sha, and moves the repository's
// pushed_at and updated_at.
func (a *API) push(rp *repo, b *branch, c *commit) {
	if h := b.head(); h != nil {
		c.parent = h.sha
	}
	rp.commitSeq++
	c.sha = shaOf(a.opts.Seed, rp.name, b.name, "pushed", rp.commitSeq, c.message)
	b.own = append(b.own, c)
	rp.pushed, rp.updated = c.committed, c.committed
}

// UpdateRepos edits the description of n repositories and stamps their
// updated_at with Now. It returns their full names.
func (a *API) UpdateRepos(n int) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	var names []string
	for _, rp := range pick(a, a.w.repos, n) {
		rp.description = strings.TrimSuffix(rp.description, ".") + fmt.Sprintf(" (edited %s).", now.Format(time.DateTime))
		rp.updated = now
		names = append(names, rp.fullName())
	}
	slices.SortFunc(names, cmp.Compare)
	return names
}

// discovered is the organisations a pass over every repository finds: their
// owners, then the owners of their forks that are organisations, each once, in
// that order.
func (a *API) discovered() []*organization {
	var out []*organization
	add := func(login string) {
		if x := a.w.findOrg(login); x != nil && !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	for _, rp := range a.w.repos {
		add(rp.owner)
		for _, f := range rp.forks {
			if f.ownerType == "Organization" {
				add(f.owner)
			}
		}
	}
	return out
}

// UpdateOrgs edits the description of n organisations a pass discovers, chosen
// deterministically from the seed and the calls before, and stamps their
// updated_at with Now; their ETags change with them. It returns their ids in
// the order a pass discovers them.
func (a *API) UpdateOrgs(n int) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	var ids []string
	for _, x := range pick(a, a.discovered(), n) {
		base, _, _ := strings.Cut(x.description, " (edit ")
		if base == "" {
			base = "No description yet"
		}
		a.w.orgEdits++ // numbered: two edits in one second still change the body
		x.description = base + fmt.Sprintf(" (edit %d, %s)", a.w.orgEdits, now.Format(time.DateTime))
		x.updated = now
		ids = append(ids, strconv.FormatInt(x.id, 10))
	}
	return ids
}

// OrgMatches is the ground truth of every organisation a pass discovers, in id
// order: the HubSpot company it derives from (canonical domain, "" for strangers
// and the owner) and how its blog spells it. Domain is the blog as served, "" when
// unset; an organisation without a blog never derives from a company.
func (a *API) OrgMatches() []fake.Match {
	a.mu.RLock()
	defer a.mu.RUnlock()
	orgs := a.discovered()
	slices.SortFunc(orgs, func(x, y *organization) int { return cmp.Compare(x.id, y.id) })
	out := make([]fake.Match, len(orgs))
	for i, x := range orgs {
		out[i] = fake.Match{ID: strconv.FormatInt(x.id, 10), Name: x.name, Domain: x.blog, Company: x.company, Variant: x.variant}
	}
	return out
}

// Admin serves the imitation's admin endpoints for a running sandbox (the demo
// and the CLI drive it over HTTP; Go tests call the methods directly). Paths are
// relative to where it is mounted:
//
//	POST /merge-prs?n=3      → {"keys":["acme/app#12",...]}   (MergePRs)
//	POST /update-issues?n=3  → {"keys":["acme/api#7",...]}    (UpdateIssues)
//	POST /review-prs?n=3     → {"keys":["3000000001",...]}    (ReviewPRs)
//	POST /add-commits?n=3    → {"keys":["acme/app@<sha>",...]} (AddCommits)
//	POST /update-repos?n=1   → {"keys":["acme/api"]}           (UpdateRepos)
//	POST /update-orgs?n=2    → {"keys":["10734511",...]}       (UpdateOrgs: organisation ids)
//	GET  /org-matches        → [{"ID":...,"Company":...,"Variant":...}]  (OrgMatches)
//	GET  /count?stream=issues → {"stream":"issues","count":N}
//	GET  /requests           → {"requests":N,"used":M}
//	POST /exhaust-primary    → 204                             (ExhaustPrimary)
func (a *API) Admin() http.Handler {
	mux := http.NewServeMux()
	mutate := func(f func(int) []string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			n, err := strconv.Atoi(r.URL.Query().Get("n"))
			if err != nil || n < 0 {
				http.Error(w, "n must be a non-negative integer", http.StatusBadRequest)
				return
			}
			keys := f(n)
			if keys == nil {
				keys = []string{}
			}
			writeJSON(w, http.StatusOK, map[string]any{"keys": keys})
		}
	}
	mux.HandleFunc("POST /merge-prs", mutate(a.MergePRs))
	mux.HandleFunc("POST /update-issues", mutate(a.UpdateIssues))
	mux.HandleFunc("POST /review-prs", mutate(a.ReviewPRs))
	mux.HandleFunc("POST /add-commits", mutate(a.AddCommits))
	mux.HandleFunc("POST /update-repos", mutate(a.UpdateRepos))
	mux.HandleFunc("POST /update-orgs", mutate(a.UpdateOrgs))
	mux.HandleFunc("GET /org-matches", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, a.OrgMatches())
	})
	mux.HandleFunc("GET /count", func(w http.ResponseWriter, r *http.Request) {
		s := r.URL.Query().Get("stream")
		if !slices.Contains(Streams, s) {
			http.Error(w, "stream must be one of "+strings.Join(Streams, ", "), http.StatusBadRequest)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"stream": s, "count": a.Count(s)})
	})
	mux.HandleFunc("GET /requests", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]int{"requests": a.Requests(), "used": a.Used()})
	})
	mux.HandleFunc("POST /exhaust-primary", func(w http.ResponseWriter, r *http.Request) {
		a.ExhaustPrimary()
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}
