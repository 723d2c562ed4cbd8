package alert

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/quality"
)

// Run statuses, as the run record has them (flow.Status*; flow imports this package).
const (
	StatusPublished = "published"
	StatusUnchanged = "unchanged"
	StatusBlocked   = "blocked"
	StatusFailed    = "failed"
	// StatusWaiting: an input failed, so the product did not run. Its input's owner is
	// alerted; the product's own alerts stay as they are, and its freshness says
	// when it goes stale.
	StatusWaiting = "waiting"
)

// Alert is one open alert of a product: what is wrong, since when, and how to fix it.
// A product has at most one open alert per rule.
type Alert struct {
	ID      string         `json:"id"` // <domain>.<product>/<rule>/<n>
	Domain  string         `json:"domain"`
	Product string         `json:"product"`
	Owner   string         `json:"owner"`
	Rule    mesh.AlertRule `json:"rule"`
	Level   string         `json:"level,omitempty"` // freshness: late or stale
	Since   time.Time      `json:"since"`
	Updated time.Time      `json:"updated"` // the newest event that kept it open
	// NotifiedAt is when it was last sent out (to a receiver that is down, it is
	// retried from then on); Notified how many times.
	NotifiedAt time.Time `json:"notified_at"`
	Notified   int       `json:"notified"`
	Channels   []Channel `json:"channels,omitempty"` // where it was sent
	Reason     string    `json:"reason"`
	Fix        []string  `json:"fix,omitempty"`
	RunURL     string    `json:"run_url,omitempty"`
	CatalogURL string    `json:"catalog_url,omitempty"`
	// Partitions are the partitions whose newest run failed (run_failed) or was
	// blocked (check_blocked); "" is a run of the whole product.
	Partitions []string `json:"partitions,omitempty"`
	// Backfills are the backfills with days that have not published since
	// (backfill_failed).
	Backfills []FailedBackfill `json:"backfills,omitempty"`
}

// FailedBackfill is a backfill whose days failed.
type FailedBackfill struct {
	ID     string   `json:"id"`
	Failed []string `json:"failed"`
}

// Freshness is a product's freshness, as the catalog computes it (catalog.Freshness).
type Freshness struct {
	Status      mesh.Status `json:"status"` // pass, warn (late), fail (stale), unknown (never published)
	PublishedAt time.Time   `json:"published_at"`
	Age         string      `json:"age,omitempty"`
	FailAfter   string      `json:"fail_after,omitempty"`
	WarnAfter   string      `json:"warn_after,omitempty"`
	// Reason says why it is worse than its own publish implies: inputs not fresh.
	Reason string `json:"reason,omitempty"`
	Inputs bool   `json:"inputs,omitempty"` // an input is late or stale: the fix runs upstream too
}

// Event is one thing that happened to a product, with what the product's alerts need
// to judge it: exactly one of Run, Backfill and Freshness is set.
type Event struct {
	// ID tells a retried report from a new one ("" = never a repeat: a freshness
	// evaluation is judged on its own).
	ID         string
	At         time.Time
	Domain     string
	Product    string
	Owner      string
	Policy     mesh.AlertPolicy
	Restricted bool      // the product is restricted: reasons leave out errors and check messages, which can quote values
	Channels   []Channel // the owner's channels when the event was sent
	CatalogURL string
	RunURL     string // the run's history in the Temporal UI

	Run       *Run       `json:",omitempty"`
	Backfill  *Backfill  `json:",omitempty"`
	Freshness *Freshness `json:",omitempty"`
}

// State is what a product's alert workflow keeps: its open alerts, each warn check's
// streak, and the notifications not yet delivered. Apply changes it; it has no clock
// and no I/O, so the workflow stays deterministic and the rules are tested without
// Temporal.
type State struct {
	Domain, Product string
	Open            []Alert
	Streaks         []Streak
	Opened          int      // alerts opened so far: numbers the next one
	Seen            []string // the newest event ids, to drop a report sent twice
	Outbox          []Delivery
}

// Streak is how many runs in a row a warn check failed.
type Streak struct {
	Check string
	Runs  int
}

// Delivery is a notification still to be sent to one channel.
type Delivery struct {
	Channel Channel
	Message Message
}

// seenKept bounds State.Seen: reports are retried within minutes, not hundreds of runs.
const seenKept = 64

// Apply judges ev, opening, updating and resolving alerts, and queues the
// notifications due in Outbox. It returns whether the open alerts changed (the lake's
// copy is then written again).
func (s *State) Apply(ev Event) bool {
	if ev.ID != "" {
		if slices.Contains(s.Seen, ev.ID) {
			return false
		}
		s.Seen = append(s.Seen, ev.ID)
		if len(s.Seen) > seenKept {
			s.Seen = s.Seen[len(s.Seen)-seenKept:]
		}
	}
	j := judge{s: s, ev: ev, ref: ev.Domain + "." + ev.Product}
	before := fmt.Sprint(s.Open) // a deep copy to compare with: judging changes alerts in place
	for _, a := range slices.Clone(s.Open) {
		if !ev.Policy.Has(a.Rule) {
			j.resolve(a.Rule, "the "+string(a.Rule)+" rule was turned off", "")
		}
	}
	switch {
	case ev.Run != nil:
		j.run(*ev.Run)
	case ev.Backfill != nil:
		j.backfill(*ev.Backfill)
	}
	if ev.Freshness != nil {
		j.freshness(*ev.Freshness)
	}
	return fmt.Sprint(s.Open) != before
}

// judge applies one event to a state.
type judge struct {
	s   *State
	ev  Event
	ref string // domain.product
}

func (j judge) run(r Run) {
	ok := r.Status == StatusPublished || r.Status == StatusUnchanged
	switch r.Status {
	case StatusFailed:
		j.fire(mesh.AlertRunFailed, "", j.runFailedReason(r), nil, func(a *Alert) { a.Partitions = addPartition(a.Partitions, r.Partition) })
	case StatusBlocked:
		j.fire(mesh.AlertCheckBlocked, "", j.blockedReason(r), nil, func(a *Alert) { a.Partitions = addPartition(a.Partitions, r.Partition) })
	case StatusWaiting:
		return // its input's owner is told; its freshness says when it goes stale
	}
	if r.Status != StatusFailed {
		// The run got past what failed before: that partition (all of them, for a
		// run of the whole product) no longer fails.
		j.recover(mesh.AlertRunFailed, r, func(a *Alert) bool {
			a.Partitions = dropPartition(a.Partitions, r.Partition)
			return len(a.Partitions) == 0
		})
	}
	if ok {
		j.recover(mesh.AlertCheckBlocked, r, func(a *Alert) bool {
			a.Partitions = dropPartition(a.Partitions, r.Partition)
			return len(a.Partitions) == 0
		})
		if r.Partition != "" {
			j.recover(mesh.AlertBackfillFailed, r, func(a *Alert) bool {
				a.Backfills = dropDay(a.Backfills, r.Partition)
				return len(a.Backfills) == 0
			})
		}
	}
	j.warnStreak(r)
	if j.ev.Policy.Has(mesh.AlertQuotaWait) {
		over := j.ev.Policy.QuotaWaitOver
		switch {
		case r.QuotaWaited > over:
			j.fire(mesh.AlertQuotaWait, "", fmt.Sprintf("the run's landings waited %s out exhausted source quotas (alerting over %s)", r.QuotaWaited.Round(time.Second), over), nil, nil)
		case ok:
			j.recover(mesh.AlertQuotaWait, r, nil)
		}
	}
}

// warnStreak counts, per warn check, the runs in a row it failed, and alerts at the
// policy's streak. A run that checked nothing (it failed before) changes no streak.
func (j judge) warnStreak(r Run) {
	if len(r.Checks) == 0 {
		return
	}
	for _, c := range r.Checks {
		if c.Severity != mesh.Warn {
			continue
		}
		i := slices.IndexFunc(j.s.Streaks, func(s Streak) bool { return s.Check == c.Name })
		if i < 0 {
			j.s.Streaks = append(j.s.Streaks, Streak{Check: c.Name})
			i = len(j.s.Streaks) - 1
		}
		if c.Status == mesh.StatusWarn {
			j.s.Streaks[i].Runs++
		} else {
			j.s.Streaks[i].Runs = 0
		}
	}
	if !j.ev.Policy.Has(mesh.AlertWarnStreak) {
		return
	}
	n := j.ev.Policy.WarnStreak
	var why []string
	var fix []string
	for _, c := range r.Checks {
		i := slices.IndexFunc(j.s.Streaks, func(s Streak) bool { return s.Check == c.Name })
		if c.Severity != mesh.Warn || i < 0 || j.s.Streaks[i].Runs < n {
			continue
		}
		why = append(why, fmt.Sprintf("check %s warned in %d runs in a row (%s)", c.Name, j.s.Streaks[i].Runs, j.checkDetail(c)))
		fix = append(fix, "mesh check-rows "+j.ref+" "+c.Name)
	}
	if len(why) == 0 {
		j.recover(mesh.AlertWarnStreak, r, nil)
		return
	}
	j.fire(mesh.AlertWarnStreak, "", strings.Join(why, "; "), fix, nil)
}

func (j judge) backfill(b Backfill) {
	track := func(a *Alert) {
		a.Backfills = slices.DeleteFunc(a.Backfills, func(f FailedBackfill) bool { return f.ID == b.RerunOf || f.ID == b.ID })
		if len(b.Failed) > 0 {
			a.Backfills = append(a.Backfills, FailedBackfill{ID: b.ID, Failed: slices.Sorted(slices.Values(b.Failed))})
		}
	}
	if len(b.Failed) == 0 {
		j.recoverWith(mesh.AlertBackfillFailed, fmt.Sprintf("backfill %s published every day at %s", b.ID, j.at()), "", func(a *Alert) bool {
			track(a)
			return len(a.Backfills) == 0
		})
		return
	}
	reason := fmt.Sprintf("backfill %s ended with %d of %d day(s) failed: %s", b.ID, len(b.Failed), b.Days, strings.Join(b.Failed, ", "))
	j.fire(mesh.AlertBackfillFailed, "", reason, nil, track)
}

// freshness levels, from the catalog's statuses.
var freshnessLevels = map[mesh.Status]string{mesh.StatusWarn: "late", mesh.StatusFail: "stale"}

func (j judge) freshness(f Freshness) {
	if f.Status == mesh.StatusUnknown || f.Status == "" {
		return // never published: its runs' alerts say why
	}
	rank := map[mesh.Status]int{mesh.StatusPass: 0, mesh.StatusWarn: 1, mesh.StatusFail: 2}
	if rank[f.Status] < rank[j.ev.Policy.FreshnessAt] || !j.ev.Policy.Has(mesh.AlertFreshness) {
		j.recoverWith(mesh.AlertFreshness, fmt.Sprintf("it is %s now: published %s ago, at %s", freshnessWord(f.Status), f.Age, f.PublishedAt.UTC().Format(timeFormat)), j.ev.RunURL, nil)
		return
	}
	level := freshnessLevels[f.Status]
	slo := "after " + f.FailAfter
	if level == "late" {
		slo = "after " + f.WarnAfter
	}
	reason := fmt.Sprintf("%s: last published %s ago, at %s (it is %s %s)", level, f.Age, f.PublishedAt.UTC().Format(timeFormat), level, slo)
	if f.Reason != "" {
		reason += "; " + f.Reason
	}
	fix := "mesh run " + j.ref
	if f.Inputs {
		fix = "mesh run +" + j.ref // it and the inputs that hold it back
	}
	j.fire(mesh.AlertFreshness, level, reason, []string{fix}, nil)
}

func freshnessWord(s mesh.Status) string {
	if l, ok := freshnessLevels[s]; ok {
		return l
	}
	return "fresh"
}

func (j judge) at() string { return j.ev.At.UTC().Format(timeFormat) }

func (j judge) runFailedReason(r Run) string {
	what := "the run"
	if r.Partition != "" {
		what += " of partition " + r.Partition
	}
	if j.ev.Restricted {
		return fmt.Sprintf("%s failed at %s; its error is withheld: %s is restricted (`mesh show %s` with a token in its groups shows it)", what, j.at(), j.ref, j.ref)
	}
	why := r.Error
	if why == "" {
		why = "no error recorded"
	}
	return fmt.Sprintf("%s failed at %s: %s", what, j.at(), why)
}

func (j judge) blockedReason(r Run) string {
	var failed []string
	for _, c := range r.Checks {
		if c.Status == mesh.StatusFail {
			failed = append(failed, fmt.Sprintf("check %s failed (%s)", c.Name, j.checkDetail(c)))
		}
	}
	what := "the run"
	if r.Partition != "" {
		what += " of partition " + r.Partition
	}
	why := strings.Join(failed, "; ")
	if why == "" && !j.ev.Restricted {
		why = r.Error
	}
	return fmt.Sprintf("%s at %s published nothing: %s; the snapshot before it is still the one served", what, j.at(), why)
}

// checkDetail is a check's offending row count and, unless the product is
// restricted, its message.
func (j judge) checkDetail(c quality.Result) string {
	d := fmt.Sprintf("%d rows", c.Failing)
	if c.Kind == string(mesh.KindRowCount) {
		d = fmt.Sprintf("%d rows in all", c.Failing)
	}
	if c.Message != "" && !j.ev.Restricted {
		d += ": " + c.Message
	}
	return d
}

// runFix is the command that reruns what failed.
func (j judge) runFix(a *Alert) []string {
	var out []string
	for i, p := range a.Partitions {
		if i == 3 {
			out = append(out, fmt.Sprintf("… and %d more partition(s): mesh run %s --partition DAY", len(a.Partitions)-3, j.ref))
			break
		}
		cmd := "mesh run " + j.ref
		if p != "" {
			cmd += " --partition " + p
		}
		out = append(out, cmd)
	}
	return out
}

// fire opens rule's alert or updates the open one: update changes what it tracks,
// fix is its fix unless the rule's own derives from what it tracks. It is sent when
// it opens, when it gets worse (late to stale) and when its quiet period is over.
func (j judge) fire(rule mesh.AlertRule, level, reason string, fix []string, update func(*Alert)) {
	if !j.ev.Policy.Has(rule) {
		return
	}
	s := j.s
	i := slices.IndexFunc(s.Open, func(a Alert) bool { return a.Rule == rule })
	isNew := i < 0
	if isNew {
		s.Opened++
		s.Open = append(s.Open, Alert{
			ID: fmt.Sprintf("%s/%s/%d", j.ref, rule, s.Opened), Domain: j.ev.Domain, Product: j.ev.Product,
			Rule: rule, Since: j.ev.At,
		})
		slices.SortStableFunc(s.Open, func(a, b Alert) int {
			return slices.Index(mesh.AlertRules, a.Rule) - slices.Index(mesh.AlertRules, b.Rule)
		})
		i = slices.IndexFunc(s.Open, func(a Alert) bool { return a.Rule == rule })
	}
	a := &s.Open[i]
	worse := level == "stale" && a.Level == "late"
	a.Owner, a.Level, a.Reason, a.Updated, a.CatalogURL = j.ev.Owner, level, reason, j.ev.At, j.ev.CatalogURL
	if j.ev.RunURL != "" {
		a.RunURL = j.ev.RunURL
	}
	if update != nil {
		update(a)
	}
	a.Fix = fix
	switch rule {
	case mesh.AlertRunFailed:
		a.Fix = j.runFix(a)
	case mesh.AlertCheckBlocked:
		for _, c := range j.ev.Run.Checks {
			if c.Status == mesh.StatusFail {
				a.Fix = append(a.Fix, "mesh check-rows "+j.ref+" "+c.Name)
			}
		}
		a.Fix = append(a.Fix, "then, with the model or the data fixed: mesh run "+j.ref)
	case mesh.AlertBackfillFailed:
		for _, b := range a.Backfills {
			a.Fix = append(a.Fix, "mesh backfill rerun-failed "+b.ID)
		}
	case mesh.AlertQuotaWait:
		a.Fix = []string{"mesh show " + j.ref + " names the sources it reads: raise their quota, or move its cadence away from other readers of the same source"}
	}
	if isNew || worse || !j.ev.At.Before(a.NotifiedAt.Add(j.ev.Policy.Quiet)) {
		j.notify(a, Firing, a.Reason, a.RunURL)
	}
}

// recover updates rule's open alert for a run that went well, and resolves it when
// done says nothing is left failing (nil: at once).
func (j judge) recover(rule mesh.AlertRule, r Run, done func(*Alert) bool) {
	what := "the run"
	if r.Partition != "" {
		what += " of partition " + r.Partition
	}
	j.recoverWith(rule, fmt.Sprintf("%s at %s %s", what, j.at(), r.Status), j.ev.RunURL, done)
}

func (j judge) recoverWith(rule mesh.AlertRule, reason, runURL string, done func(*Alert) bool) {
	i := slices.IndexFunc(j.s.Open, func(a Alert) bool { return a.Rule == rule })
	if i < 0 {
		return
	}
	a := &j.s.Open[i]
	if done != nil && !done(a) {
		a.Updated = j.ev.At
		if rule == mesh.AlertRunFailed {
			a.Fix = j.runFix(a)
		}
		return
	}
	j.resolve(rule, reason, runURL)
}

// resolve closes rule's open alert and tells its channels why (runURL: the run
// that resolved it).
func (j judge) resolve(rule mesh.AlertRule, reason, runURL string) {
	i := slices.IndexFunc(j.s.Open, func(a Alert) bool { return a.Rule == rule })
	if i < 0 {
		return
	}
	a := j.s.Open[i]
	j.s.Open = slices.Delete(j.s.Open, i, i+1)
	reason += fmt.Sprintf(" (open %s)", j.ev.At.Sub(a.Since).Round(time.Minute))
	j.notify(&a, Resolved, reason, runURL)
}

// notify queues a notification of a to each of the event's channels.
func (j judge) notify(a *Alert, state, reason, runURL string) {
	m := Message{
		AlertID: a.ID, State: state, Rule: a.Rule, Level: a.Level, Domain: a.Domain, Product: a.Product,
		Owner: a.Owner, Title: title(state, a.Rule, a.Level, j.ref), Reason: reason, RunURL: runURL,
		CatalogURL: a.CatalogURL, Since: a.Since, At: j.ev.At,
	}
	if state == Resolved {
		m.ID = a.ID + "#resolved"
	} else {
		a.Notified++
		a.NotifiedAt = j.ev.At
		a.Channels = j.ev.Channels
		m.ID = fmt.Sprintf("%s#%d", a.ID, a.Notified)
		m.Repeat = a.Notified - 1
		m.Fix = a.Fix
	}
	for _, c := range j.ev.Channels {
		j.s.Outbox = append(j.s.Outbox, Delivery{Channel: c, Message: m})
	}
}

func addPartition(ps []string, p string) []string {
	if slices.Contains(ps, p) {
		return ps
	}
	ps = append(ps, p)
	slices.Sort(ps)
	return ps
}

// dropPartition removes p; a run of the whole product ("") covers every partition.
func dropPartition(ps []string, p string) []string {
	if p == "" {
		return nil
	}
	return slices.DeleteFunc(ps, func(q string) bool { return q == p })
}

// dropDay removes a day that has since published from each backfill's failed days,
// and the backfills left with none.
func dropDay(bs []FailedBackfill, day string) []FailedBackfill {
	for i := range bs {
		bs[i].Failed = slices.DeleteFunc(bs[i].Failed, func(d string) bool { return d == day })
	}
	return slices.DeleteFunc(bs, func(b FailedBackfill) bool { return len(b.Failed) == 0 })
}
