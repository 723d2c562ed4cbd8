// Package communications is the communications domain: the e-mails and notifications
// the platform sends its users, audited per message and counted per day. The
// communications team owns it.
//
// It reads the platform's ports (platform.email_events, platform.notifications), not
// the platform's database: a source a domain keeps (mesh.Domain.Sources) is that
// domain's alone, and a second declaration of platform_db would hold a second set of
// credentials and replication slots on the platform team's database, outside the
// team that answers for it. Reading ports keeps one owner per table, and deletes
// still reach the audit: the ports drop what the database deleted.
package communications

import (
	"embed"
	"time"

	"github.com/meshflow/meshflow/framework/mesh"
)

// Name is the domain's name; its workers poll the task queue "meshflow.communications".
const Name = "communications"

var (
	//go:embed models/email_audit.sql
	emailAuditSQL string
	//go:embed models/notifications_daily.sql
	notificationsDailySQL string
)

// folder is the domain's folder as the build embeds it: `mesh check` names a
// model's file and line, and finds a .sql file no product uses.
//
//go:embed models
var folder embed.FS

// Domain declares the communications domain and its products.
func Domain() mesh.Domain {
	return mesh.Domain{
		Name:        Name,
		Files:       folder,
		Owner:       "communications",
		Contact:     "#communications",
		Description: "The e-mails and notifications the platform sends its users: every message's lifecycle, and notifications and reads per day.",
		Products:    []mesh.Product{emailAudit(), notificationsDaily()},
	}
}

// hourly follows the platform's ports, which follow the database within the hour.
var hourly = mesh.Freshness{WarnAfter: 3 * time.Hour, FailAfter: 8 * time.Hour}

func emailAudit() mesh.Product {
	return mesh.Product{
		Name: "email_audit",
		Description: "Every e-mail the platform sent, one row per message with its lifecycle — sent, delivered, first opened, opens — and bounced and complained flags, with the recipient's address (PII: restricted). " +
			"A message whose events the platform purged leaves the audit.",
		UseCases: []string{
			"Answer \"did this user get our e-mail?\" for support, with the whole lifecycle.",
			"Track bounce and complaint rates per template, to protect the sending reputation.",
			"Suppress addresses that bounced or complained (on person_gid).",
		},
		Tags:    []string{"communications", "email", "audit", "pii"},
		Version: "1.0.0",
		Inputs:  []mesh.Input{mesh.FromProduct("platform", "email_events")},
		Model:   emailAuditSQL,
		Schema: []mesh.Column{
			{Name: "message_id", Type: mesh.Int64, Required: true, Doc: "The message's id in the platform."},
			{Name: "user_id", Type: mesh.Int64, Required: true, Doc: "The platform user it was sent to."},
			{Name: "recipient", Type: mesh.String, Doc: "The address it was sent to, normalised. PII."},
			{Name: "person_gid", Type: mesh.String, Doc: "Global person id of the address (framework/globalid's person_gid).", Tags: []string{"person-gid"}},
			{Name: "template", Type: mesh.String, Required: true, Doc: "The message's template: welcome, weekly_digest, new_message, password_reset."},
			{Name: "sent_at", Type: mesh.Timestamp, Doc: "When it was sent (UTC); null when the sent event was purged and later ones kept."},
			{Name: "delivered_at", Type: mesh.Timestamp, Doc: "When the receiving server accepted it (UTC); null when it bounced or is on its way."},
			{Name: "first_opened_at", Type: mesh.Timestamp, Doc: "When it was first opened (UTC); null when never."},
			{Name: "opens", Type: mesh.Int64, Required: true, Doc: "Times it was opened."},
			{Name: "bounced", Type: mesh.Bool, Required: true, Doc: "True when it bounced."},
			{Name: "complained", Type: mesh.Bool, Required: true, Doc: "True when the recipient reported it as spam."},
			{Name: "status", Type: mesh.String, Required: true, Doc: "Where the lifecycle got to, the worst outcome first: complained, bounced, opened, delivered or sent."},
			{Name: "events", Type: mesh.Int64, Required: true, Doc: "Events recorded for the message."},
			{Name: "last_event_at", Type: mesh.Timestamp, Required: true, Doc: "When its latest event happened (UTC)."},
		},
		PrimaryKey:     []string{"message_id"},
		Classification: mesh.Restricted,
		AllowedGroups:  []string{"communications", "platform-data"},
		Checks: []mesh.Check{
			mesh.RowCount(1, 0),
			mesh.AcceptedValues("status", "complained", "bounced", "opened", "delivered", "sent"),
			mesh.SQL("bounced_not_delivered", "SELECT * FROM model WHERE bounced AND delivered_at IS NOT NULL").
				Describe("A message either reaches the receiving server or bounces."),
			mesh.SQL("opened_after_sent", "SELECT * FROM model WHERE first_opened_at < sent_at OR delivered_at < sent_at"),
			mesh.SQL("opens_need_delivery", "SELECT * FROM model WHERE opens > 0 AND delivered_at IS NULL").AsWarn().
				Describe("An open of an undelivered message means a lost delivered event."),
		},
		Freshness: hourly,
	}
}

func notificationsDaily() mesh.Product {
	return mesh.Product{
		Name:        "notifications_daily",
		Description: "Notifications per UTC day, account, channel and kind: sent, read, read within the hour and users reached. Dismissed notifications are not counted.",
		UseCases: []string{
			"Compare read rates across channels (in-app, e-mail, push) before changing the defaults.",
			"Spot accounts flooded with notifications nobody reads.",
		},
		Tags:    []string{"communications", "notifications", "engagement"},
		Version: "1.0.0",
		Inputs:  []mesh.Input{mesh.FromProduct("platform", "notifications")},
		Model:   notificationsDailySQL,
		Schema: []mesh.Column{
			{Name: "notification_date", Type: mesh.Date, Required: true, Doc: "The UTC day they were sent."},
			{Name: "account_id", Type: mesh.Int64, Required: true, Doc: "The account of the users notified."},
			{Name: "company_gid", Type: mesh.String, Doc: "Global company id of the account's website; null when it has none.", Tags: []string{"company-gid"}},
			{Name: "channel", Type: mesh.String, Required: true, Doc: "in_app, email or push."},
			{Name: "kind", Type: mesh.String, Required: true, Doc: "new_follower, message, search_alert or candidate_update."},
			{Name: "notifications", Type: mesh.Int64, Required: true, Doc: "Notifications sent."},
			{Name: "read", Type: mesh.Int64, Required: true, Doc: "Of those, read by now."},
			{Name: "read_within_hour", Type: mesh.Int64, Required: true, Doc: "Of those, read within an hour of being sent."},
			{Name: "users", Type: mesh.Int64, Required: true, Doc: "Distinct users notified."},
		},
		PrimaryKey:     []string{"notification_date", "account_id", "channel", "kind"},
		Classification: mesh.Internal,
		Checks: []mesh.Check{
			mesh.RowCount(1, 0),
			mesh.AcceptedValues("channel", "in_app", "email", "push"),
			mesh.SQL("reads_within_sent", "SELECT * FROM model WHERE read > notifications OR read_within_hour > read OR users > notifications"),
		},
		Freshness: hourly,
	}
}
