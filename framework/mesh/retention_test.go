package mesh

import (
	"strings"
	"testing"
	"time"

	"github.com/meshflow/meshflow/framework/errs"
)

func TestRetention(t *testing.T) {
	if got := (Retention{}).OrDefault(); got != (Retention{MaxAge: 30 * 24 * time.Hour, MinSnapshots: 10}) {
		t.Fatalf("default retention = %+v", got)
	}
	if got := (Retention{MaxAge: 90 * 24 * time.Hour}).OrDefault(); got.MaxAge != 90*24*time.Hour || got.MinSnapshots != 10 {
		t.Fatalf("declared MaxAge only = %+v", got)
	}
	p := valid()
	p.Retention = Retention{MaxAge: 7 * 24 * time.Hour, MinSnapshots: 3}
	if err := (Domain{Name: "marketing", Owner: "team", Products: []Product{p}}).Validate(); err != nil {
		t.Fatalf("a declared retention: %v", err)
	}
	for _, tc := range []struct {
		r    Retention
		want string
	}{
		{Retention{MaxAge: -time.Hour}, "Retention.MaxAge -1h0m0s is negative"},
		{Retention{MaxAge: time.Minute}, "Retention.MaxAge 1m0s is under an hour"},
		{Retention{MinSnapshots: -1}, "Retention.MinSnapshots -1 is negative"},
	} {
		p := valid()
		p.Retention = tc.r
		err := Domain{Name: "marketing", Owner: "team", Products: []Product{p}}.Validate()
		if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "marketing.crm_contacts") {
			t.Errorf("retention %+v: want an Invalid error naming marketing.crm_contacts and %q, got %v", tc.r, tc.want, err)
		}
	}
}
