package github

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/meshflow/meshflow/dev/sandbox/internal/fake"
)

// DefaultOrg owns the imitation's repositories.
const DefaultOrg = "acme"

// repoDef is one seeded repository and the team that owns it.
type repoDef struct {
	name, team, language, description string
	firstReview                       time.Duration // median wait for a first review: teams differ
}

// repoDefs are the organisation's repositories. The owning team is exposed the
// way GitHub organisations record it: a `team` custom property and a
// `team-<name>` topic.
var repoDefs = []repoDef{
	{"app", "web", "TypeScript", "Customer-facing web application", 3 * time.Hour},
	{"api", "platform", "Go", "Public REST API and its background workers", 6 * time.Hour},
	{"data-pipeline", "data", "Python", "Ingestion and transformation jobs for the warehouse", 14 * time.Hour},
}

// ReleaseBranch is the one branch besides main in every repository: forked from
// main 45 days before today, carrying its own hotfix commits.
const ReleaseBranch = "release"

// user is an account that authors issues, pull requests, reviews and commits.
type user struct {
	login string
	id    int64
	bot   bool
	name  string
	email string
}

type issue struct {
	id       int64 // the id of the /issues face; a pull request's pull id differs
	number   int
	title    string
	body     string
	user     *user
	labels   []string
	assignee *user
	state    string // open, closed
	reason   string // completed, not_planned, reopened or ""
	comments int
	created  time.Time
	updated  time.Time
	closed   time.Time // zero while open
	pr       *pull     // non-nil for a pull request
}

type pull struct {
	id        int64
	draft     bool
	head      string // head branch name
	headSHA   string
	merged    time.Time // zero unless merged
	mergeSHA  string
	requested []*user // reviewers asked who have not reviewed yet
	reviews   []*review
}

type review struct {
	id        int64
	user      *user
	state     string // APPROVED, CHANGES_REQUESTED, COMMENTED
	submitted time.Time
	commitID  string
}

type commit struct {
	sha       string
	message   string
	author    *user // the GitHub account of the author (nil: an email GitHub cannot map)
	authName  string
	authEmail string
	authored  time.Time
	committer *user // web-flow for squash merges
	commName  string
	commEmail string
	committed time.Time
	parent    string
}

// branch is a line of history. Listing it walks own (newest first), then base.
type branch struct {
	name string
	base []*commit // shared history, oldest first (nil for main)
	own  []*commit // commits only on this branch, oldest first
}

// listing is the branch's commits newest first, each with its position counted
// from the oldest, which pages key on.
func (b *branch) listing() []*commit {
	out := make([]*commit, 0, len(b.base)+len(b.own))
	for i := len(b.own) - 1; i >= 0; i-- {
		out = append(out, b.own[i])
	}
	for i := len(b.base) - 1; i >= 0; i-- {
		out = append(out, b.base[i])
	}
	return out
}

func (b *branch) head() *commit {
	if len(b.own) > 0 {
		return b.own[len(b.own)-1]
	}
	if len(b.base) > 0 {
		return b.base[len(b.base)-1]
	}
	return nil
}

type repo struct {
	id          int64
	owner, name string
	team        string
	language    string
	description string
	topics      []string
	created     time.Time
	updated     time.Time
	pushed      time.Time
	members     []*user
	firstReview time.Duration
	issues      []*issue // by number-1: issues and pull requests share numbers
	branches    []*branch
	commitSeq   int     // numbers commits made after seeding, for their shas
	forks       []*fork // oldest first
}

func (r *repo) fullName() string { return r.owner + "/" + r.name }

func (r *repo) branch(name string) *branch {
	for _, b := range r.branches {
		if b.name == name {
			return b
		}
	}
	return nil
}

func (r *repo) main() *branch { return r.branches[0] }

// world is the whole seeded data set.
type world struct {
	org      string
	repos    []*repo
	orgs     []*organization // the owner first, then the forking organisations in id order
	bot      *user           // dependabot[bot]
	webflow  *user           // commits GitHub's squash merges
	bulkAt   time.Time
	nextID   int64 // ids for records made after seeding
	orgEdits int   // UpdateOrgs calls so far, per organisation changed
}

func (w *world) id() int64 { w.nextID++; return w.nextID }

// ts is how GitHub writes every timestamp: UTC, seconds, Z.
func ts(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

func tsOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return ts(t)
}

func sec(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

func shaOf(parts ...any) string {
	h := sha1.Sum([]byte(fmt.Sprint(parts...)))
	return hex.EncodeToString(h[:])
}

// Members are the organisation's people for seed (bots aside), team by team, as
// other vendors' imitations describe the same staff: the Looker imitation's users
// include them.
func Members(seed int64) []fake.Person {
	teams, _, _ := drawTeams(seed)
	var out []fake.Person
	for i, members := range teams {
		for _, u := range members {
			out = append(out, fake.Person{Name: u.name, Email: u.email, Team: repoDefs[i].team})
		}
	}
	return out
}

// drawTeams draws six members for each repository's team (a person is in one
// team), every login in everyone.
func drawTeams(seed int64) (teams [][]*user, all []*user, everyone map[string]bool) {
	everyone = map[string]bool{}
	for i, d := range repoDefs {
		r := fake.New(seed, "github/team/"+d.team)
		var members []*user
		for len(members) < 6 {
			first, last := r.Person()
			login := ascii(first) + "-" + ascii(last)
			if everyone[login] {
				continue
			}
			everyone[login] = true
			u := &user{login: login, id: 1_000_000 + int64(len(all))*7919 + int64(i), name: first + " " + last, email: fake.StaffEmail(first, last)}
			members = append(members, u)
			all = append(all, u)
		}
		teams = append(teams, members)
	}
	return teams, all, everyone
}

// generate builds the data set. anchor is the start of "today": every seeded
// timestamp lies before it, so data made on the same day with the same seed is
// identical whatever the hour.
func generate(o Options, anchor time.Time) *world {
	w := &world{
		org:     o.Org,
		bot:     &user{login: "dependabot[bot]", id: 49699333, bot: true, name: "dependabot[bot]", email: "49699333+dependabot[bot]@users.noreply.github.com"},
		webflow: &user{login: "web-flow", id: 19864447, name: "GitHub", email: "noreply@github.com"},
		nextID:  3_000_000_000,
	}
	from, until := anchor.AddDate(-1, 0, 0), anchor.Add(-time.Hour)
	// A label migration rewrote many issues at one instant: more issues share that
	// updated_at than fit a page, so since-keyed paging must fall back to links.
	w.bulkAt = time.Date(anchor.Year(), anchor.Month()-1, 1, 3, 0, 0, 0, time.UTC)

	teams, all, everyone := drawTeams(o.Seed)
	for i, d := range repoDefs {
		members := teams[i]
		rp := &repo{
			id: 700_000_101 + int64(i)*37, owner: o.Org, name: d.name, team: d.team,
			language: d.language, description: d.description,
			topics:  []string{"team-" + d.team, strings.ToLower(d.language)},
			created: sec(from.AddDate(-2, int(-3*i), 0)),
			members: members, firstReview: d.firstReview,
		}
		w.repos = append(w.repos, rp)
	}
	for i, rp := range w.repos {
		genRepo(o, w, rp, all, int64(i), from, until)
	}
	genOrgs(o, w, everyone, anchor)
	return w
}

var (
	issueVerbs   = []string{"Crash on", "Slow", "Wrong totals in", "Timeout in", "Flaky test for", "Missing validation in", "Document", "Improve", "Broken link in", "Memory growth in"}
	issueObjects = []string{"save", "dashboard load", "CSV export", "login flow", "billing page", "search", "webhooks", "nightly import", "settings page", "audit log", "rate limiter", "retry logic"}
	labelsPool   = []string{"bug", "enhancement", "documentation", "performance", "good first issue", "security", "tech-debt"}
	prVerbs      = []string{"Add", "Fix", "Refactor", "Remove", "Speed up", "Test", "Rename", "Split", "Upgrade", "Cache"}
	depNames     = []string{"lodash", "golang.org/x/net", "requests", "axios", "pyarrow", "github.com/rs/zerolog", "webpack", "pytest"}
)

// genRepo fills one repository: issues and pull requests (sharing numbers),
// reviews, then main's history (a squash commit per merged pull request plus
// direct commits) and the release branch.
func genRepo(o Options, w *world, rp *repo, everyone []*user, k int64, from, until time.Time) {
	r := fake.New(o.Seed, "github/"+rp.name)
	n := o.Issues + o.PullRequests
	isPR := make([]bool, n)
	for i := range o.PullRequests {
		isPR[i] = true
	}
	r.Shuffle(n, func(i, j int) { isPR[i], isPR[j] = isPR[j], isPR[i] })
	created := make([]time.Time, n)
	for i := range created {
		created[i] = sec(r.Between(from, until.Add(-24*time.Hour)))
	}
	slices.SortFunc(created, func(a, b time.Time) int { return a.Compare(b) })

	issueID := 2_000_000_000 + k*10_000_000
	pullID := 1_500_000_000 + k*10_000_000
	reviewID := 1_800_000_000 + k*10_000_000
	member := func() *user {
		if r.Chance(0.85) {
			return fake.Pick(r, rp.members)
		}
		return fake.Pick(r, everyone)
	}
	// The newest pull requests are open and ready for review whatever the draws,
	// so MergePRs and ReviewPRs always find some.
	forceOpen := max(4, o.PullRequests/25)
	prsLeft := o.PullRequests
	for i := range n {
		if isPR[i] {
			prsLeft--
		}
		issueID += 1 + r.Int64N(40)
		it := &issue{id: issueID, number: i + 1, created: created[i], state: "open", comments: r.IntN(9)}
		rp.issues = append(rp.issues, it)
		if !isPR[i] {
			it.user = member()
			it.title = fake.Pick(r, issueVerbs) + " " + fake.Pick(r, issueObjects)
			it.body = "Seen by " + it.user.login + " on " + created[i].Format(time.DateOnly) + "."
			it.labels = []string{fake.Pick(r, labelsPool)}
			if r.Chance(0.5) {
				it.assignee = fake.Pick(r, rp.members)
			}
			closeIn := expDur(r, 72*time.Hour)
			if until.Sub(it.created) < 30*24*time.Hour && r.Chance(0.4) {
				closeIn = 400 * 24 * time.Hour // recent issues are more often still open
			}
			if end := sec(it.created.Add(closeIn)); end.Before(until) && r.Chance(0.8) {
				it.state, it.closed, it.reason = "closed", end, "completed"
				if r.Chance(0.15) {
					it.reason = "not_planned"
				}
				it.updated = sec(r.Between(end, minTime(until, end.Add(48*time.Hour))))
			} else {
				it.updated = sec(r.Between(it.created, until))
			}
			continue
		}

		pullID += 1 + r.Int64N(40)
		p := &pull{id: pullID}
		it.pr = p
		if r.Chance(0.1) {
			it.user = w.bot
			dep := fake.Pick(r, depNames)
			it.title = "Bump " + dep + " from 1." + fmt.Sprint(r.IntN(9)) + ".0 to 1." + fmt.Sprint(9+r.IntN(9)) + ".0"
			p.head = "dependabot/" + strings.ReplaceAll(dep, "/", "-") + "-" + fmt.Sprint(it.number)
			it.labels = []string{"dependencies"}
		} else {
			it.user = member()
			verb, obj := fake.Pick(r, prVerbs), fake.Pick(r, issueObjects)
			it.title = verb + " " + obj
			p.head = "feature/" + fake.Slug(verb+" "+obj) + "-" + fmt.Sprint(it.number)
			if r.Chance(0.3) {
				it.labels = []string{fake.Pick(r, labelsPool)}
			}
		}
		it.body = "Closes nothing in particular; opened by " + it.user.login + "."
		p.headSHA = shaOf(o.Seed, rp.name, "head", it.number)
		lifetime := expDur(r, 40*time.Hour)
		if until.Sub(it.created) < 14*24*time.Hour && r.Chance(0.5) {
			lifetime = 400 * 24 * time.Hour
		}
		end := sec(it.created.Add(lifetime))
		open := !end.Before(until) || r.Chance(0.06) // a few old ones are left open for good
		if open {
			end = until
			p.draft = r.Chance(0.12)
		}
		if prsLeft < forceOpen {
			open, end, p.draft = true, until, false
		}
		// Reviews: the first one after a log-normal wait around the team's median.
		if !p.draft {
			at := it.created.Add(time.Duration(float64(rp.firstReview) * math.Exp(1.1*r.NormFloat64())))
			count := 1 + r.IntN(3)
			if it.user.bot {
				count = 1
			}
			for j := 0; j < count && at.Before(end); j++ {
				reviewID += 1 + r.Int64N(40)
				rv := &review{id: reviewID, user: reviewerFor(r, rp, it.user), submitted: sec(at), commitID: p.headSHA}
				switch u := r.Float64(); {
				case j == count-1 && !open:
					rv.state = "APPROVED"
				case u < 0.3:
					rv.state = "CHANGES_REQUESTED"
				case u < 0.6:
					rv.state = "COMMENTED"
				default:
					rv.state = "APPROVED"
				}
				p.reviews = append(p.reviews, rv)
				at = at.Add(expDur(r, 5*time.Hour))
			}
		}
		last := it.created
		if len(p.reviews) > 0 {
			last = p.reviews[len(p.reviews)-1].submitted
		}
		switch {
		case open:
			it.updated = sec(r.Between(last, until))
			if u := reviewerFor(r, rp, it.user); !p.draft && (len(p.reviews) == 0 || r.Chance(0.5)) &&
				!slices.ContainsFunc(p.reviews, func(rv *review) bool { return rv.user == u }) {
				p.requested = []*user{u} // asked, not answered yet
			}
		default:
			if end.Before(last) {
				end = last.Add(10 * time.Minute)
			}
			it.state, it.closed = "closed", end
			if r.Chance(0.86) {
				p.merged = end
			}
			it.updated = sec(end.Add(time.Duration(r.IntN(120)) * time.Second))
		}
	}

	// The label migration.
	for _, it := range rp.issues {
		if it.pr == nil && it.created.Before(w.bulkAt) && it.updated.Before(w.bulkAt) && r.Chance(o.BulkShare) {
			it.labels = append(it.labels, "triage-migrated")
			it.updated = w.bulkAt
		}
	}
	genCommits(o, w, rp, r, from, until)
}

// genCommits builds main (squash merges and direct commits in committer order)
// and the release branch.
func genCommits(o Options, w *world, rp *repo, r *fake.Rand, from, until time.Time) {
	var cs []*commit
	merged := map[*commit]*issue{}
	for _, it := range rp.issues {
		if it.pr == nil || it.pr.merged.IsZero() {
			continue
		}
		c := squash(it, w.webflow)
		c.authored = sec(r.Between(it.created, it.pr.merged))
		cs = append(cs, c)
		merged[c] = it
	}
	for range o.Commits {
		u := fake.Pick(r, rp.members)
		at := sec(r.Between(from, until))
		c := &commit{
			message: fake.Pick(r, []string{"Fix typo in", "Tidy", "Update", "Hotfix for", "Log more in"}) + " " + fake.Pick(r, issueObjects),
			author:  u, authName: u.name, authEmail: u.email, authored: at,
			committer: u, commName: u.name, commEmail: u.email, committed: at,
		}
		if r.Chance(0.1) { // pushed from a machine whose email GitHub cannot map to an account
			c.author, c.authEmail = nil, strings.ToLower(strings.ReplaceAll(u.name, " ", "."))+"@laptop.local"
		}
		if r.Chance(0.3) {
			c.message += "\n\nFollow-up to the review comments."
		}
		cs = append(cs, c)
	}
	slices.SortStableFunc(cs, func(a, b *commit) int { return a.committed.Compare(b.committed) })
	parent := ""
	for i, c := range cs {
		c.parent = parent
		c.sha = shaOf(o.Seed, rp.name, "main", i, c.message, c.committed.Unix())
		parent = c.sha
	}
	for c, it := range merged {
		it.pr.mergeSHA = c.sha
	}
	main := &branch{name: "main", own: cs}

	fork := until.AddDate(0, 0, -44).Add(-23 * time.Hour)
	k, _ := slices.BinarySearchFunc(cs, fork, func(c *commit, t time.Time) int { return c.committed.Compare(t) })
	rel := &branch{name: ReleaseBranch, base: slices.Clip(cs[:k])}
	parent = ""
	if k > 0 {
		parent = cs[k-1].sha
	}
	times := make([]time.Time, o.ReleaseCommits)
	for i := range times {
		times[i] = sec(r.Between(fork, until))
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	for i, at := range times {
		u := fake.Pick(r, rp.members)
		msg := "Cherry-pick: " + fake.Pick(r, []string{"fix", "guard", "patch"}) + " " + fake.Pick(r, issueObjects)
		if i%5 == 4 {
			msg = fmt.Sprintf("Release v1.%d.%d", 4+k%7, i/5)
		}
		c := &commit{message: msg, author: u, authName: u.name, authEmail: u.email, authored: at, committer: u, commName: u.name, commEmail: u.email, committed: at, parent: parent}
		c.sha = shaOf(o.Seed, rp.name, ReleaseBranch, i, msg, at.Unix())
		parent = c.sha
		rel.own = append(rel.own, c)
	}
	rp.branches = []*branch{main, rel}

	rp.pushed = from
	for _, b := range rp.branches {
		if h := b.head(); h != nil && h.committed.After(rp.pushed) {
			rp.pushed = h.committed
		}
	}
	rp.updated = rp.pushed
}

// squash is the commit GitHub's "Squash and merge" writes for a pull request.
func squash(it *issue, webflow *user) *commit {
	au := it.user
	return &commit{
		message: fmt.Sprintf("%s (#%d)\n\n* %s", it.title, it.number, strings.ToLower(it.title)),
		author:  au, authName: au.name, authEmail: au.email,
		committer: webflow, commName: webflow.name, commEmail: webflow.email, committed: it.pr.merged,
	}
}

// reviewerFor picks a team member other than the author.
func reviewerFor(r *fake.Rand, rp *repo, author *user) *user {
	for {
		u := fake.Pick(r, rp.members)
		if u != author {
			return u
		}
	}
}

// expDur draws an exponentially distributed duration with the given mean.
func expDur(r *fake.Rand, mean time.Duration) time.Duration {
	return time.Duration(float64(mean) * r.ExpFloat64())
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// ascii makes a name usable in a login or an email local part.
func ascii(s string) string {
	return strings.NewReplacer("ü", "u", "'", "", " ", "").Replace(strings.ToLower(s))
}

// ownerDomain is the owning organisation's website, the domain its members'
// emails use. No HubSpot company can have it: their domains are two words or more.
const ownerDomain = "acme.example"

// ownerID is the owning organisation's account id (repository owner objects carry it).
const ownerID = 5_000_001

// organization is a GitHub organisation: the one owning the repositories, or a
// customer's or partner's that forks them.
type organization struct {
	login string // unique whatever the case; GitHub keeps the case it was created with
	id    int64
	name  string // "" is served as null
	// blog is GitHub's free-text website: a bare domain, a URL, any case; "" when
	// unset (GitHub serves "", not null).
	blog                                  string
	description, email, location, twitter string // "" is served as null
	verified                              bool
	publicRepos, followers                int
	created, updated                      time.Time

	// Ground truth for identity tests: the canonical domain of the HubSpot company
	// the organisation derives from ("" for none) and how blog spells it.
	company, variant string
}

// fork is a repository forked from one of the organisation's, owned by another
// organisation or by a user.
type fork struct {
	id                       int64
	parent                   *repo
	owner                    string // login
	ownerID                  int64
	ownerType                string // Organization or User
	created, updated, pushed time.Time
	stars, watchers          int
}

func (f *fork) fullName() string { return f.owner + "/" + f.parent.name }

func (w *world) findOrg(login string) *organization {
	for _, x := range w.orgs {
		if strings.EqualFold(x.login, login) {
			return x
		}
	}
	return nil
}

var (
	orgDescriptions = []string{
		"Open-source tools from our platform team", "Integrations and SDKs built on partner APIs",
		"Internal forks and patches of upstream projects", "Data engineering at scale", "Our public repositories",
		"Infrastructure as code and deployment tooling", "Connectors for the tools our customers use",
	}
	orgLocations = []string{
		"San Francisco, CA", "New York, NY", "Austin, TX", "Toronto, Canada", "London, UK", "Berlin, Germany",
		"Paris, France", "São Paulo, Brazil", "Bengaluru, India", "Tokyo, Japan", "Remote",
	}
)

// genOrgs builds the owning organisation and the organisations and users that
// fork the repositories. MatchedShare of the forking organisations derive from
// Companies, their blog spelling the company's domain in one of GitHub users'
// free-text ways; the rest are strangers, a tenth of all organisations (taken
// from the strangers, so a derived one always names its company) with no blog.
// logins holds every login taken so far, lower-cased.
func genOrgs(o Options, w *world, logins map[string]bool, anchor time.Time) {
	r := fake.New(o.Seed, "github/orgs")
	until := anchor.Add(-time.Hour)
	oldest := w.repos[0].created
	for _, rp := range w.repos {
		oldest = minTime(oldest, rp.created)
	}
	owner := &organization{
		login: o.Org, id: ownerID, name: fake.TitleCase(o.Org), blog: "https://www." + ownerDomain,
		description: "We build the app, its API and the data pipeline.", email: "opensource@" + ownerDomain,
		location: "Berlin, Germany", twitter: o.Org + "hq", verified: true, publicRepos: 14, followers: 820,
		created: sec(oldest.AddDate(0, -2, 0)), updated: sec(anchor.AddDate(0, 0, -20).Add(9 * time.Hour)),
		variant: fake.VariantUnmatched,
	}
	logins[strings.ToLower(o.Org)] = true
	w.orgs = []*organization{owner}

	taken := map[string]bool{ownerDomain: true}
	for _, c := range o.Companies {
		taken[c.Domain] = true
	}
	nMatched := min(int(math.Round(o.MatchedShare*float64(o.Orgs))), len(o.Companies))
	nUnset := min(int(math.Round(0.1*float64(o.Orgs))), o.Orgs-nMatched)
	chosen := fake.Sample(r, o.Companies, nMatched)
	type seed struct {
		c              fake.Company
		matched, unset bool
	}
	seeds := make([]seed, max(o.Orgs, 0))
	for i := range seeds {
		if i < nMatched {
			seeds[i] = seed{c: chosen[i], matched: true}
		} else {
			seeds[i] = seed{c: r.Stranger(taken), unset: i-nMatched < nUnset}
		}
	}
	seeds = fake.Sample(r, seeds, len(seeds)) // interleave derived organisations and strangers

	var forks []*fork
	id := int64(10_000_000)
	for _, s := range seeds {
		id += 1 + r.Int64N(2_000_000)
		x := &organization{id: id, name: s.c.Name, login: uniqueLogin(r, s.c.Name, logins), variant: fake.VariantUnmatched}
		switch {
		case s.matched:
			x.company = s.c.Domain
			x.blog, x.variant = blogOf(r, s.c.Domain)
		case !s.unset:
			x.blog = fake.Pick(r, []string{"", "www.", "https://", "https://www."}) + s.c.Domain
		}
		if r.Chance(0.1) {
			x.name = "" // never set on GitHub
		}
		if r.Chance(0.8) {
			x.description = fake.Pick(r, orgDescriptions)
		}
		if r.Chance(0.6) {
			x.location = fake.Pick(r, orgLocations)
		}
		if x.blog != "" && r.Chance(0.4) {
			x.email = fake.Pick(r, []string{"oss@", "opensource@", "github@"}) + fake.CanonicalDomain(x.blog)
		}
		if r.Chance(0.3) {
			x.twitter = strings.ReplaceAll(strings.ToLower(x.login), "-", "")
		}
		x.verified = x.blog != "" && r.Chance(0.35)
		x.created = sec(r.Between(anchor.AddDate(-12, 0, 0), anchor.AddDate(0, 0, -90)))
		x.updated = sec(r.Between(x.created, until))
		x.followers = r.IntN(400)
		repos := fake.Sample(r, w.repos, 1+r.IntN(min(3, len(w.repos))))
		x.publicRepos = len(repos) + r.IntN(60)
		for _, rp := range repos {
			forks = append(forks, newFork(r, rp, x.login, x.id, "Organization", maxTime(x.created, rp.created), until))
		}
		w.orgs = append(w.orgs, x)
	}

	// Users fork too (a contractor, a customer's engineer): their forks are listed
	// with the others, and /orgs/{login} answers 404 for them.
	r = fake.New(o.Seed, "github/user-forks")
	uid := int64(60_000_000)
	for range max(o.UserForks, 0) {
		first, last := r.Person()
		base := ascii(first) + "-" + ascii(last)
		login := base
		for logins[login] {
			login = base + strconv.Itoa(r.IntN(1000))
		}
		logins[login] = true
		uid += 1 + r.Int64N(500_000)
		forks = append(forks, newFork(r, fake.Pick(r, w.repos), login, uid, "User", anchor.AddDate(-1, 0, 0), until))
	}

	// Repository ids grow with creation, as GitHub's do.
	slices.SortStableFunc(forks, func(a, b *fork) int {
		if c := a.created.Compare(b.created); c != 0 {
			return c
		}
		return strings.Compare(a.owner, b.owner)
	})
	fid := int64(800_000_000)
	for _, f := range forks {
		fid += 1 + r.Int64N(90_000)
		f.id = fid
		f.parent.forks = append(f.parent.forks, f)
	}
}

func newFork(r *fake.Rand, parent *repo, owner string, ownerID int64, typ string, after, until time.Time) *fork {
	f := &fork{parent: parent, owner: owner, ownerID: ownerID, ownerType: typ, stars: r.IntN(4), watchers: r.IntN(3)}
	f.created = sec(r.Between(after, until.Add(-24*time.Hour)))
	f.updated = sec(r.Between(f.created, until))
	f.pushed = sec(r.Between(f.created, f.updated))
	return f
}

// uniqueLogin makes an organisation's login from its name the ways companies
// pick them, unique whatever the case.
func uniqueLogin(r *fake.Rand, name string, logins map[string]bool) string {
	base := fake.Slug(name)
	switch u := r.Float64(); {
	case u < 0.2:
		base = strings.ReplaceAll(base, "-", "")
	case u < 0.35:
		base += fake.Pick(r, []string{"-hq", "-oss", "-dev", "-io"})
	case u < 0.45:
		base = fake.TitleCase(base) // GitHub keeps the case a login was created with
	}
	login := base
	for n := 2; logins[strings.ToLower(login)]; n++ {
		login = base + "-" + strconv.Itoa(n)
	}
	logins[strings.ToLower(login)] = true
	return login
}

// blogOf spells a canonical domain as an organisation's blog, a free-text field.
func blogOf(r *fake.Rand, d string) (string, string) {
	switch u := r.Float64(); {
	case u < 0.35:
		return d, fake.VariantExact
	case u < 0.55:
		return "www." + d, fake.VariantWWW
	case u < 0.85:
		return fake.Pick(r, []string{"https://" + d, "https://www." + d + "/", "http://" + d + "/", "https://" + d + "/open-source"}), fake.VariantURL
	default:
		if r.Chance(0.5) {
			return fake.TitleCase(d), fake.VariantCase
		}
		return "https://www." + fake.TitleCase(d), fake.VariantCase
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
