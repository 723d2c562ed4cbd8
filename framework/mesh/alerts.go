package mesh

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// AlertRule names something a product's owner is told about (package alert sends it).
type AlertRule string

const (
	// AlertRunFailed: a run failed. On by default.
	AlertRunFailed AlertRule = "run_failed"
	// AlertCheckBlocked: an error check blocked a publish. On by default.
	AlertCheckBlocked AlertRule = "check_blocked"
	// AlertWarnStreak: a warn check failed in WarnStreak runs in a row. Off until
	// WarnStreak is set (or the rule is turned On: DefaultWarnStreak).
	AlertWarnStreak AlertRule = "warn_streak"
	// AlertFreshness: the product is stale (past Freshness.FailAfter), or late too with
	// FreshnessAt warn. On by default, at stale.
	AlertFreshness AlertRule = "freshness"
	// AlertBackfillFailed: a backfill ended with failed days. On by default.
	AlertBackfillFailed AlertRule = "backfill_failed"
	// AlertQuotaWait: a run's landings waited out exhausted quotas longer than
	// QuotaWaitOver. Off until QuotaWaitOver is set (or the rule is turned On:
	// DefaultQuotaWaitOver).
	AlertQuotaWait AlertRule = "quota_wait"
)

// AlertRules is every rule, in the order alerts are listed.
var AlertRules = []AlertRule{AlertRunFailed, AlertCheckBlocked, AlertWarnStreak, AlertFreshness, AlertBackfillFailed, AlertQuotaWait}

// Defaults of the alert rules, for a domain that sets nothing.
const (
	DefaultWarnStreak    = 3
	DefaultQuotaWaitOver = time.Hour
	// DefaultAlertQuiet is how long an alert that stays open is quiet before it is sent
	// again (Grafana's default repeat interval).
	DefaultAlertQuiet = 4 * time.Hour
	// MinAlertQuiet bounds Quiet from below: a shorter one floods the receivers.
	MinAlertQuiet = time.Minute
)

// defaultAlertRules are on unless a domain or product turns them off.
var defaultAlertRules = []AlertRule{AlertRunFailed, AlertCheckBlocked, AlertFreshness, AlertBackfillFailed}

// Alerts declares what a product's owner is told about. On a Domain it is the
// defaults of the domain's products; on a Product it changes its domain's. The zero
// value changes nothing: a product then has its domain's rules, a domain the
// framework's (run_failed, check_blocked, freshness at stale and backfill_failed on;
// warn_streak and quota_wait off).
//
//	Alerts: mesh.Alerts{WarnStreak: 3, QuotaWaitOver: 2 * time.Hour}
//	Alerts: mesh.Alerts{Off: []mesh.AlertRule{mesh.AlertFreshness}}
type Alerts struct {
	// Off turns rules off.
	Off []AlertRule
	// On turns rules on that are off by default or that the domain turned off.
	On []AlertRule
	// WarnStreak turns warn_streak on: a warn check failing in this many runs in a
	// row opens an alert. 0 = the domain's (DefaultWarnStreak when only turned On).
	WarnStreak int
	// QuotaWaitOver turns quota_wait on: a run whose landings waited out exhausted
	// quotas longer than this opens an alert. 0 = the domain's.
	QuotaWaitOver time.Duration
	// FreshnessAt is the freshness state that opens an alert: StatusFail (stale, the
	// default) or StatusWarn (late already). "" = the domain's.
	FreshnessAt Status
	// Quiet is how long an open alert is not sent again while it stays open (a new run
	// failing the same way within it is recorded, not sent). 0 = the domain's
	// (DefaultAlertQuiet).
	Quiet time.Duration
}

// AlertPolicy is what a product's alert rules come to: the framework's defaults,
// changed by its domain's Alerts, then by its own.
type AlertPolicy struct {
	Rules         []AlertRule // the rules on, in AlertRules order
	WarnStreak    int
	QuotaWaitOver time.Duration
	FreshnessAt   Status
	Quiet         time.Duration
}

// Has reports whether rule is on.
func (p AlertPolicy) Has(rule AlertRule) bool { return slices.Contains(p.Rules, rule) }

// AlertPolicy returns the product's alert rules within its domain d.
func (p Product) AlertPolicy(d Domain) AlertPolicy {
	on := map[AlertRule]bool{}
	for _, r := range defaultAlertRules {
		on[r] = true
	}
	pol := AlertPolicy{WarnStreak: DefaultWarnStreak, QuotaWaitOver: DefaultQuotaWaitOver, FreshnessAt: StatusFail, Quiet: DefaultAlertQuiet}
	for _, a := range []Alerts{d.Alerts, p.Alerts} {
		for _, r := range a.Off {
			on[r] = false
		}
		for _, r := range a.On {
			on[r] = true
		}
		if a.WarnStreak > 0 {
			pol.WarnStreak, on[AlertWarnStreak] = a.WarnStreak, true
		}
		if a.QuotaWaitOver > 0 {
			pol.QuotaWaitOver, on[AlertQuotaWait] = a.QuotaWaitOver, true
		}
		if a.FreshnessAt != "" {
			pol.FreshnessAt = a.FreshnessAt
		}
		if a.Quiet > 0 {
			pol.Quiet = a.Quiet
		}
	}
	for _, r := range AlertRules {
		if on[r] {
			pol.Rules = append(pol.Rules, r)
		}
	}
	return pol
}

// alertProblems checks the domain's Alerts and each product's, naming the domain or
// product and the field.
func (d Domain) alertProblems() []error {
	var out []error
	for _, msg := range d.Alerts.problems() {
		out = append(out, fmt.Errorf("domain %s: Alerts.%s", d.Name, msg))
	}
	for _, p := range d.Products {
		msgs := p.Alerts.problems()
		pol := p.AlertPolicy(d)
		if pol.Has(AlertFreshness) && pol.FreshnessAt == StatusWarn && p.Freshness.WarnAfter <= 0 {
			msgs = append(msgs, "FreshnessAt warn alerts when the product is late, which needs Freshness.WarnAfter: set it, or FreshnessAt mesh.StatusFail")
		}
		for _, msg := range msgs {
			out = append(out, fmt.Errorf("product %s.%s: Alerts.%s", d.Name, p.Name, msg))
		}
	}
	return out
}

// problems are what is wrong with a, each starting with the field's name.
func (a Alerts) problems() []string {
	var out []string
	known := func(field string, rules []AlertRule) {
		for _, r := range rules {
			if !slices.Contains(AlertRules, r) {
				out = append(out, fmt.Sprintf("%s: unknown rule %q: use one of %s", field, r, alertRuleList()))
			}
		}
	}
	known("Off", a.Off)
	known("On", a.On)
	for _, r := range a.Off {
		if slices.Contains(a.On, r) {
			out = append(out, fmt.Sprintf("Off and On both name %s: keep one", r))
		}
	}
	switch {
	case a.WarnStreak < 0:
		out = append(out, fmt.Sprintf("WarnStreak %d: give how many runs in a row (1 or more), or 0 for the domain's", a.WarnStreak))
	case a.WarnStreak > 0 && slices.Contains(a.Off, AlertWarnStreak):
		out = append(out, fmt.Sprintf("WarnStreak %d turns warn_streak on, which Off turns off: keep one", a.WarnStreak))
	}
	switch {
	case a.QuotaWaitOver < 0:
		out = append(out, fmt.Sprintf("QuotaWaitOver %s: give a positive duration, or 0 for the domain's", a.QuotaWaitOver))
	case a.QuotaWaitOver > 0 && slices.Contains(a.Off, AlertQuotaWait):
		out = append(out, fmt.Sprintf("QuotaWaitOver %s turns quota_wait on, which Off turns off: keep one", a.QuotaWaitOver))
	}
	switch a.FreshnessAt {
	case "", StatusWarn, StatusFail:
	default:
		out = append(out, fmt.Sprintf("FreshnessAt %q: use mesh.StatusWarn (late) or mesh.StatusFail (stale)", a.FreshnessAt))
	}
	if a.Quiet != 0 && a.Quiet < MinAlertQuiet {
		out = append(out, fmt.Sprintf("Quiet %s: give at least %s (or 0 for the domain's); a shorter one floods the receivers", a.Quiet, MinAlertQuiet))
	}
	return out
}

func alertRuleList() string {
	names := make([]string, len(AlertRules))
	for i, r := range AlertRules {
		names[i] = string(r)
	}
	return strings.Join(names, ", ")
}
