package alert_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meshflow/meshflow/framework/alert"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/quality"
)

var t0 = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)

// product is a declared product and the state of its alerts, fed events as its
// workflow is.
type product struct {
	t      *testing.T
	d      mesh.Domain
	p      mesh.Product
	s      alert.State
	events int
}

func newProduct(t *testing.T, change func(*mesh.Product)) *product {
	p := mesh.Product{
		Name: "orders", Owner: "shop-team", Classification: mesh.Internal,
		Freshness: mesh.Freshness{WarnAfter: time.Hour, FailAfter: 2 * time.Hour},
	}
	if change != nil {
		change(&p)
	}
	return &product{t: t, d: mesh.Domain{Name: "shop", Owner: "shop-team"}, p: p, s: alert.State{Domain: "shop", Product: "orders"}}
}

func (pr *product) event(at time.Duration) alert.Event {
	pr.events++
	return alert.Event{
		ID: "e" + string(rune('a'+pr.events)), At: t0.Add(at), Domain: "shop", Product: "orders", Owner: "shop-team",
		Policy: pr.p.AlertPolicy(pr.d), Restricted: pr.p.Classification == mesh.Restricted,
		Channels: []alert.Channel{alert.Slack, alert.Email}, CatalogURL: "http://catalog/products/shop.orders",
		RunURL: "http://ui/run-" + string(rune('a'+pr.events)),
	}
}

// run applies a run's end and returns the notifications it queued (to Slack; each
// is queued for e-mail too).
func (pr *product) run(at time.Duration, r alert.Run) []alert.Message {
	ev := pr.event(at)
	ev.Run = &r
	return pr.apply(ev)
}

func (pr *product) apply(ev alert.Event) []alert.Message {
	pr.t.Helper()
	before := len(pr.s.Outbox)
	pr.s.Apply(ev)
	var out []alert.Message
	for _, d := range pr.s.Outbox[before:] {
		if d.Channel == alert.Slack {
			out = append(out, d.Message)
		}
	}
	if n := len(pr.s.Outbox) - before; n != 2*len(out) {
		pr.t.Fatalf("%d deliveries queued for %d Slack messages: want one per channel", n, len(out))
	}
	return out
}

func (pr *product) open() []mesh.AlertRule {
	var out []mesh.AlertRule
	for _, a := range pr.s.Open {
		out = append(out, a.Rule)
	}
	return out
}

func summary(ms []alert.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.State+" "+string(m.Rule))
	}
	return out
}

func expect(t *testing.T, what string, got []alert.Message, want ...string) {
	t.Helper()
	if s := summary(got); !slices.Equal(s, want) {
		t.Errorf("%s: sent %q, want %q", what, s, want)
	}
}

func failed(err string) alert.Run { return alert.Run{Status: alert.StatusFailed, Error: err} }

var published = alert.Run{Status: alert.StatusPublished}

// TestFailedRunIsSentOnceUntilQuietThenResolved: one open alert per rule; a failure
// repeated within the quiet period is recorded, not sent; after it, sent again with
// the same alert id; a published run resolves it with its run link.
func TestFailedRunIsSentOnceUntilQuietThenResolved(t *testing.T) {
	pr := newProduct(t, nil)
	ms := pr.run(0, failed("land shop.api: HTTP 500"))
	expect(t, "first failure", ms, "firing run_failed")
	m := ms[0]
	if m.ID != "shop.orders/run_failed/1#1" || m.AlertID != "shop.orders/run_failed/1" || m.RunURL != "http://ui/run-b" ||
		!strings.Contains(m.Reason, "land shop.api: HTTP 500") || !slices.Equal(m.Fix, []string{"mesh run shop.orders"}) ||
		m.Title != "[FIRING] shop.orders: a run failed" || m.Owner != "shop-team" {
		t.Errorf("message = %+v", m)
	}
	expect(t, "the same failure an hour later, within the quiet period", pr.run(time.Hour, failed("land shop.api: HTTP 502")))
	if a := pr.s.Open[0]; a.Reason == m.Reason || !strings.Contains(a.Reason, "HTTP 502") || a.Notified != 1 || !a.NotifiedAt.Equal(t0) {
		t.Errorf("the open alert after a quiet repeat = %+v: want the newest reason, sent once at %s", a, t0)
	}
	ms = pr.run(mesh.DefaultAlertQuiet, failed("land shop.api: HTTP 502"))
	expect(t, "still failing after the quiet period", ms, "firing run_failed")
	if ms[0].ID != "shop.orders/run_failed/1#2" || ms[0].Repeat != 1 || !ms[0].Since.Equal(t0) {
		t.Errorf("repeat = %+v, want the same alert sent a second time, open since %s", ms[0], t0)
	}
	ms = pr.run(5*time.Hour, published)
	expect(t, "a published run", ms, "resolved run_failed")
	if ms[0].ID != "shop.orders/run_failed/1#resolved" || ms[0].RunURL != "http://ui/run-e" || !strings.Contains(ms[0].Reason, "published (open 5h0m0s)") {
		t.Errorf("resolved = %+v, want the recovering run's link and how long it was open", ms[0])
	}
	if len(pr.s.Open) != 0 {
		t.Errorf("open after recovery: %v", pr.open())
	}
	expect(t, "a failure after recovery", pr.run(6*time.Hour, failed("boom")), "firing run_failed")
	if pr.s.Open[0].ID != "shop.orders/run_failed/2" {
		t.Errorf("a new failure opens alert %s, want a new id", pr.s.Open[0].ID)
	}
}

// TestBlockedRunNamesTheChecksAndTheirCommands: the reason has the failing checks
// with their messages, the fix the check-rows command of each; a run that fails
// after it leaves it open, a published one resolves it.
func TestBlockedRunNamesTheChecksAndTheirCommands(t *testing.T) {
	pr := newProduct(t, nil)
	blocked := alert.Run{Status: alert.StatusBlocked, Error: "quality gate", Checks: []quality.Result{
		{Name: "unique_order_id", Kind: "unique", Severity: mesh.Error, Status: mesh.StatusFail, Failing: 4, Message: "4 duplicate rows"},
		{Name: "amount_positive", Kind: "sql", Severity: mesh.Warn, Status: mesh.StatusPass},
	}}
	ms := pr.run(0, blocked)
	expect(t, "blocked", ms, "firing check_blocked")
	if !strings.Contains(ms[0].Reason, "check unique_order_id failed (4 rows: 4 duplicate rows)") ||
		!slices.Equal(ms[0].Fix, []string{"mesh check-rows shop.orders unique_order_id", "then, with the model or the data fixed: mesh run shop.orders"}) {
		t.Errorf("blocked = %+v", ms[0])
	}
	expect(t, "a failed run after", pr.run(time.Minute, failed("boom")), "firing run_failed")
	expect(t, "a blocked run after the failure", pr.run(2*time.Minute, blocked), "resolved run_failed")
	expect(t, "published", pr.run(3*time.Minute, published), "resolved check_blocked")
}

// TestPartitionFailuresAreOneAlertUntilEveryDayRecovers: failing days of a
// partitioned product share one alert, whose fix reruns each; it resolves when the
// last one publishes.
func TestPartitionFailuresAreOneAlertUntilEveryDayRecovers(t *testing.T) {
	pr := newProduct(t, nil)
	day := func(status, p string) alert.Run {
		return alert.Run{Status: status, Partition: p, Error: "no data for " + p}
	}
	expect(t, "day 1 fails", pr.run(0, day(alert.StatusFailed, "2026-10-01")), "firing run_failed")
	expect(t, "day 2 fails", pr.run(time.Minute, day(alert.StatusFailed, "2026-10-02")))
	a := pr.s.Open[0]
	if !slices.Equal(a.Partitions, []string{"2026-10-01", "2026-10-02"}) ||
		!slices.Equal(a.Fix, []string{"mesh run shop.orders --partition 2026-10-01", "mesh run shop.orders --partition 2026-10-02"}) {
		t.Errorf("open alert = %+v", a)
	}
	expect(t, "day 1 publishes", pr.run(2*time.Minute, day(alert.StatusPublished, "2026-10-01")))
	if a := pr.s.Open[0]; !slices.Equal(a.Fix, []string{"mesh run shop.orders --partition 2026-10-02"}) {
		t.Errorf("fix after day 1 recovered = %v", a.Fix)
	}
	expect(t, "day 2 publishes", pr.run(3*time.Minute, day(alert.StatusPublished, "2026-10-02")), "resolved run_failed")
}

// TestWarnStreakAlertsAtTheNthRunInARow: a warn check failing WarnStreak runs in a
// row alerts; a run that checked nothing keeps the streak; a pass resolves it.
func TestWarnStreakAlertsAtTheNthRunInARow(t *testing.T) {
	pr := newProduct(t, func(p *mesh.Product) { p.Alerts = mesh.Alerts{WarnStreak: 3} })
	warned := alert.Run{Status: alert.StatusPublished, Checks: []quality.Result{
		{Name: "email_has_at", Kind: "sql", Severity: mesh.Warn, Status: mesh.StatusWarn, Failing: 2, Message: "2 rows"},
	}}
	expect(t, "warn 1", pr.run(0, warned))
	expect(t, "warn 2", pr.run(time.Hour, warned))
	expect(t, "a failed run, no checks", pr.run(2*time.Hour, failed("boom")), "firing run_failed")
	ms := pr.run(3*time.Hour, warned)
	expect(t, "warn 3", ms, "resolved run_failed", "firing warn_streak")
	if !strings.Contains(ms[1].Reason, "check email_has_at warned in 3 runs in a row") || !slices.Equal(ms[1].Fix, []string{"mesh check-rows shop.orders email_has_at"}) {
		t.Errorf("warn streak = %+v", ms[1])
	}
	expect(t, "warn 4", pr.run(4*time.Hour, warned))
	passed := warned
	passed.Checks = []quality.Result{{Name: "email_has_at", Kind: "sql", Severity: mesh.Warn, Status: mesh.StatusPass}}
	expect(t, "pass", pr.run(5*time.Hour, passed), "resolved warn_streak")
	expect(t, "warn again: a new streak", pr.run(6*time.Hour, warned))
}

// TestFreshnessLateThenStaleThenFresh: at FreshnessAt warn, late opens the alert;
// stale sends it again at once (it got worse); fresh resolves it. At the default
// (stale), late alone sends nothing.
func TestFreshnessLateThenStaleThenFresh(t *testing.T) {
	seen := func(pr *product, at time.Duration, st mesh.Status, inputs bool) []alert.Message {
		ev := pr.event(at)
		ev.ID = ""
		ev.Freshness = &alert.Freshness{Status: st, PublishedAt: t0.Add(-3 * time.Hour), Age: "3h0m0s", WarnAfter: "1h0m0s", FailAfter: "2h0m0s", Inputs: inputs}
		return pr.apply(ev)
	}
	pr := newProduct(t, func(p *mesh.Product) { p.Alerts.FreshnessAt = mesh.StatusWarn })
	ms := seen(pr, 0, mesh.StatusWarn, false)
	expect(t, "late", ms, "firing freshness")
	if ms[0].Title != "[FIRING] shop.orders: the data is late" || !strings.Contains(ms[0].Reason, "late: last published 3h0m0s ago") {
		t.Errorf("late = %+v", ms[0])
	}
	expect(t, "still late", seen(pr, 5*time.Minute, mesh.StatusWarn, false))
	ms = seen(pr, 10*time.Minute, mesh.StatusFail, true)
	expect(t, "stale, within the quiet period", ms, "firing freshness")
	if ms[0].Level != "stale" || !slices.Equal(ms[0].Fix, []string{"mesh run +shop.orders"}) {
		t.Errorf("stale because of an input = %+v, want the fix to run its inputs too", ms[0])
	}
	expect(t, "unknown says nothing", seen(pr, 15*time.Minute, mesh.StatusUnknown, false))
	expect(t, "fresh", seen(pr, 20*time.Minute, mesh.StatusPass, false), "resolved freshness")

	pr = newProduct(t, nil)
	expect(t, "late at the default level", seen(pr, 0, mesh.StatusWarn, false))
	expect(t, "stale at the default level", seen(pr, time.Minute, mesh.StatusFail, false), "firing freshness")
	expect(t, "back to late at the default level", seen(pr, 2*time.Minute, mesh.StatusWarn, false), "resolved freshness")
}

// TestBackfillAlertFollowsItsDays: a backfill with failed days opens an alert whose
// fix is its rerun-failed; a day published on its own leaves the others; the rerun
// that publishes the rest resolves it.
func TestBackfillAlertFollowsItsDays(t *testing.T) {
	pr := newProduct(t, nil)
	backfill := func(at time.Duration, b alert.Backfill) []alert.Message {
		ev := pr.event(at)
		ev.Backfill = &b
		return pr.apply(ev)
	}
	id := "backfill/shop.orders/2026-10-01..2026-10-31"
	ms := backfill(0, alert.Backfill{ID: id, Days: 31, Failed: []string{"2026-10-03", "2026-10-02"}})
	expect(t, "backfill with failed days", ms, "firing backfill_failed")
	if !strings.Contains(ms[0].Reason, "2 of 31 day(s) failed: 2026-10-03, 2026-10-02") || !slices.Equal(ms[0].Fix, []string{"mesh backfill rerun-failed " + id}) {
		t.Errorf("backfill = %+v", ms[0])
	}
	expect(t, "day 2 published by a run", pr.run(time.Minute, alert.Run{Status: alert.StatusPublished, Partition: "2026-10-02"}))
	if b := pr.s.Open[0].Backfills; len(b) != 1 || !slices.Equal(b[0].Failed, []string{"2026-10-03"}) {
		t.Errorf("backfills = %+v, want day 3 left", b)
	}
	ms = backfill(2*time.Minute, alert.Backfill{ID: id + "/rerun-1", RerunOf: id, Days: 1})
	expect(t, "the rerun publishes the rest", ms, "resolved backfill_failed")
}

// TestRetriedReportCountsOnce: a report sent twice (an activity retried after its
// signal went through) changes nothing the second time.
func TestRetriedReportCountsOnce(t *testing.T) {
	pr := newProduct(t, func(p *mesh.Product) { p.Alerts = mesh.Alerts{WarnStreak: 2} })
	ev := pr.event(0)
	ev.Run = &alert.Run{Status: alert.StatusPublished, Checks: []quality.Result{{Name: "c", Severity: mesh.Warn, Status: mesh.StatusWarn}}}
	expect(t, "warn", pr.apply(ev))
	expect(t, "the same report again", pr.apply(ev))
	if pr.s.Streaks[0].Runs != 1 {
		t.Errorf("streak = %d after one run reported twice", pr.s.Streaks[0].Runs)
	}
}

// TestRestrictedAlertsWithholdErrorsAndCheckMessages: a restricted product's error
// and check messages can quote values; its alerts name the checks and counts only.
func TestRestrictedAlertsWithholdErrorsAndCheckMessages(t *testing.T) {
	pr := newProduct(t, func(p *mesh.Product) { p.Classification = mesh.Restricted })
	ms := pr.run(0, failed("cannot convert 'jane@example.com' to INTEGER"))
	ms = append(ms, pr.run(time.Minute, alert.Run{Status: alert.StatusBlocked, Error: "quality gate: jane@example.com", Checks: []quality.Result{
		{Name: "email_valid", Severity: mesh.Error, Status: mesh.StatusFail, Failing: 1, Message: "1 row: jane@example.com"},
	}})...)
	for _, m := range ms {
		if strings.Contains(m.Text(), "jane@") {
			t.Errorf("a restricted product's alert quotes a value: %s", m.Text())
		}
	}
	if !strings.Contains(ms[0].Reason, "its error is withheld: shop.orders is restricted") || !strings.Contains(ms[1].Reason, "check email_valid failed (1 rows)") {
		t.Errorf("reasons = %q, %q", ms[0].Reason, ms[1].Reason)
	}
}

// TestRulesOffAndWaitingSendNothing: a rule turned off sends nothing, and turning it
// off resolves its open alert; a run waiting on a failed input changes nothing.
func TestRulesOffAndWaitingSendNothing(t *testing.T) {
	pr := newProduct(t, nil)
	expect(t, "failed", pr.run(0, failed("boom")), "firing run_failed")
	expect(t, "waiting", pr.run(time.Minute, alert.Run{Status: alert.StatusWaiting}))
	pr.p.Alerts.Off = []mesh.AlertRule{mesh.AlertRunFailed}
	ms := pr.run(2*time.Minute, failed("boom"))
	expect(t, "run_failed turned off", ms, "resolved run_failed")
	if !strings.Contains(ms[0].Reason, "the run_failed rule was turned off") {
		t.Errorf("resolved = %q", ms[0].Reason)
	}
	expect(t, "failed with the rule off", pr.run(3*time.Minute, failed("boom")))
}

// TestQuotaWaitOverTheThreshold alerts a long quota wait and resolves it with the
// next published run that waited less.
func TestQuotaWaitOverTheThreshold(t *testing.T) {
	pr := newProduct(t, func(p *mesh.Product) { p.Alerts.QuotaWaitOver = time.Hour })
	expect(t, "waited 30m", pr.run(0, alert.Run{Status: alert.StatusPublished, QuotaWaited: 30 * time.Minute}))
	ms := pr.run(time.Hour, alert.Run{Status: alert.StatusPublished, QuotaWaited: 90 * time.Minute})
	expect(t, "waited 90m", ms, "firing quota_wait")
	if !strings.Contains(ms[0].Reason, "waited 1h30m0s out exhausted source quotas (alerting over 1h0m0s)") {
		t.Errorf("quota wait = %q", ms[0].Reason)
	}
	expect(t, "waited 10m", pr.run(2*time.Hour, alert.Run{Status: alert.StatusPublished, QuotaWaited: 10 * time.Minute}), "resolved quota_wait")
}

// TestStatusesAreTheRunRecords: the statuses alert judges are the run records'.
func TestStatusesAreTheRunRecords(t *testing.T) {
	for got, want := range map[string]string{
		alert.StatusPublished: flow.StatusPublished, alert.StatusUnchanged: flow.StatusUnchanged,
		alert.StatusBlocked: flow.StatusBlocked, alert.StatusFailed: flow.StatusFailed,
	} {
		if got != want {
			t.Errorf("alert's %q is flow's %q", got, want)
		}
	}
}
