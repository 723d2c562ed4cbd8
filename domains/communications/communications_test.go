//go:build unix

package communications

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/meshflow/meshflow/domains/platform"
	"github.com/meshflow/meshflow/domains/platform/platformtest"
	"github.com/meshflow/meshflow/framework/mesh"
)

func TestDomainValidates(t *testing.T) {
	if err := (mesh.Mesh{Domains: []mesh.Domain{platform.Domain(), Domain()}}).Validate(); err != nil {
		t.Fatal(err)
	}
}

// The products, built on the platform's ports, equal what the platform's database
// holds after the snapshot and again after changes — e-mails sent, opened, reported
// and purged; notifications sent, read and dismissed.
func TestProductsEqualTheDatabase(t *testing.T) {
	p := platformtest.Start(t, platform.PlatformDB(), platform.Domain(), Domain())
	checks := []platformtest.Check{
		platformtest.Same(Name, "email_audit",
			"message_id, user_id, recipient, template, CAST(epoch(sent_at) AS BIGINT), CAST(epoch(delivered_at) AS BIGINT), CAST(epoch(first_opened_at) AS BIGINT), opens, bounced, complained, status, events",
			`SELECT concat_ws('|', message_id, min(user_id), lower(min(recipient)), min(template),
				extract(epoch FROM min(occurred_at) FILTER (WHERE kind = 'sent'))::bigint,
				extract(epoch FROM min(occurred_at) FILTER (WHERE kind = 'delivered'))::bigint,
				extract(epoch FROM min(occurred_at) FILTER (WHERE kind = 'opened'))::bigint,
				count(*) FILTER (WHERE kind = 'opened'), bool_or(kind = 'bounced')::text, bool_or(kind = 'complained')::text,
				CASE WHEN bool_or(kind = 'complained') THEN 'complained' WHEN bool_or(kind = 'bounced') THEN 'bounced'
					WHEN bool_or(kind = 'opened') THEN 'opened' WHEN bool_or(kind = 'delivered') THEN 'delivered' ELSE 'sent' END,
				count(*))
			FROM platform.email_events GROUP BY message_id`),
		platformtest.Same(Name, "notifications_daily", "notification_date, account_id, channel, kind, notifications, read, read_within_hour, users",
			`SELECT concat_ws('|', (created_at AT TIME ZONE 'UTC')::date, account_id, channel, kind, count(*), count(read_at),
				count(*) FILTER (WHERE read_at <= created_at + interval '1 hour'), count(DISTINCT user_id))
			FROM platform.notifications GROUP BY (created_at AT TIME ZONE 'UTC')::date, account_id, channel, kind`),
	}
	compare := func(when string) {
		t.Helper()
		for _, upstream := range []string{"email_events", "notifications"} {
			p.RunPassing(when, platform.Name, upstream)
		}
		p.Compare(when, checks)
	}
	compare("after the snapshot")
	// The seed holds every outcome, so the audit's flags are exercised.
	if statuses := slices.Compact(p.Port(Name, "email_audit", "status")); strings.Join(statuses, ",") != "bounced,complained,delivered,opened" {
		t.Errorf("the seeded messages end %v; want bounced, complained, delivered and opened ones", statuses)
	}

	before := p.Truth("SELECT message_id::text FROM platform.email_events GROUP BY 1")
	what, err := p.DB.Change(context.Background(), 200)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(what)
	after := p.Truth("SELECT message_id::text FROM platform.email_events GROUP BY 1")
	if len(after) <= len(before) || !purgedSome(before, after) {
		t.Fatalf("the changes should send new messages and purge old ones: %d messages before, %d after", len(before), len(after))
	}
	compare("after changes")
}

// purgedSome says whether a message of before is gone from after.
func purgedSome(before, after []string) bool {
	have := map[string]bool{}
	for _, m := range after {
		have[m] = true
	}
	for _, m := range before {
		if !have[m] {
			return true
		}
	}
	return false
}
