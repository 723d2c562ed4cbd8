package mesh

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meshflow/meshflow/framework/errs"
)

// TestAlertPolicyLayersProductOverDomainOverDefaults: the zero value is the
// framework's defaults for a domain and the domain's for a product; a product's
// settings change only what they name.
func TestAlertPolicyLayersProductOverDomainOverDefaults(t *testing.T) {
	p := valid()
	d := Domain{Name: "marketing", Owner: "team"}
	pol := p.AlertPolicy(d)
	want := []AlertRule{AlertRunFailed, AlertCheckBlocked, AlertFreshness, AlertBackfillFailed}
	if !slices.Equal(pol.Rules, want) || pol.FreshnessAt != StatusFail || pol.Quiet != DefaultAlertQuiet {
		t.Errorf("defaults = %+v, want rules %v at stale, quiet %s", pol, want, DefaultAlertQuiet)
	}

	d.Alerts = Alerts{WarnStreak: 5, Off: []AlertRule{AlertFreshness}, Quiet: time.Hour}
	pol = p.AlertPolicy(d)
	if !pol.Has(AlertWarnStreak) || pol.WarnStreak != 5 || pol.Has(AlertFreshness) || pol.Quiet != time.Hour {
		t.Errorf("domain's = %+v, want warn_streak at 5 on, freshness off, quiet 1h", pol)
	}

	p.Alerts = Alerts{On: []AlertRule{AlertFreshness}, Off: []AlertRule{AlertWarnStreak}, QuotaWaitOver: 2 * time.Hour, FreshnessAt: StatusWarn}
	pol = p.AlertPolicy(d)
	if pol.Has(AlertWarnStreak) || !pol.Has(AlertFreshness) || pol.FreshnessAt != StatusWarn || !pol.Has(AlertQuotaWait) || pol.QuotaWaitOver != 2*time.Hour || pol.Quiet != time.Hour {
		t.Errorf("product's = %+v, want warn_streak off, freshness on at late, quota_wait over 2h, the domain's quiet", pol)
	}

	p.Alerts = Alerts{On: []AlertRule{AlertQuotaWait}}
	if pol := p.AlertPolicy(Domain{Name: "marketing"}); pol.QuotaWaitOver != DefaultQuotaWaitOver {
		t.Errorf("quota_wait turned on alone waits %s, want the default %s", pol.QuotaWaitOver, DefaultQuotaWaitOver)
	}
}

// TestAlertsValidationNamesProductAndField: each wrong setting is refused with the
// domain or product and the field named.
func TestAlertsValidationNamesProductAndField(t *testing.T) {
	for _, tc := range []struct {
		domain, product Alerts
		noWarnAfter     bool
		want            string
	}{
		{product: Alerts{Off: []AlertRule{"run_fail"}}, want: `product marketing.crm_contacts: Alerts.Off: unknown rule "run_fail": use one of run_failed,`},
		{domain: Alerts{On: []AlertRule{"stale"}}, want: `domain marketing: Alerts.On: unknown rule "stale"`},
		{product: Alerts{On: []AlertRule{AlertFreshness}, Off: []AlertRule{AlertFreshness}}, want: "product marketing.crm_contacts: Alerts.Off and On both name freshness"},
		{product: Alerts{WarnStreak: -1}, want: "product marketing.crm_contacts: Alerts.WarnStreak -1"},
		{product: Alerts{WarnStreak: 3, Off: []AlertRule{AlertWarnStreak}}, want: "Alerts.WarnStreak 3 turns warn_streak on, which Off turns off"},
		{product: Alerts{QuotaWaitOver: -time.Minute}, want: "product marketing.crm_contacts: Alerts.QuotaWaitOver -1m0s"},
		{domain: Alerts{FreshnessAt: StatusPass}, want: `domain marketing: Alerts.FreshnessAt "pass"`},
		{product: Alerts{Quiet: time.Second}, want: "product marketing.crm_contacts: Alerts.Quiet 1s: give at least 1m0s"},
		{domain: Alerts{FreshnessAt: StatusWarn}, noWarnAfter: true, want: "product marketing.crm_contacts: Alerts.FreshnessAt warn alerts when the product is late, which needs Freshness.WarnAfter"},
	} {
		p := valid()
		p.Alerts = tc.product
		if tc.noWarnAfter {
			p.Freshness.WarnAfter = 0
		}
		err := Domain{Name: "marketing", Owner: "team", Alerts: tc.domain, Products: []Product{p}}.Validate()
		if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want an Invalid error with %q, got %v", tc.want, err)
		}
	}
	p := valid()
	p.Alerts = Alerts{WarnStreak: 2, QuotaWaitOver: time.Hour, FreshnessAt: StatusWarn, Quiet: time.Hour, On: []AlertRule{AlertQuotaWait}}
	if err := (Domain{Name: "marketing", Owner: "team", Alerts: Alerts{Off: []AlertRule{AlertBackfillFailed}}, Products: []Product{p}}).Validate(); err != nil {
		t.Errorf("valid alerts refused: %v", err)
	}
}
