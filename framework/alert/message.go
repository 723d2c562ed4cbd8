package alert

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/meshflow/meshflow/framework/mesh"
)

// States of a notification.
const (
	Firing   = "firing"   // the alert opened, or is still open after its quiet period, or got worse
	Resolved = "resolved" // the product recovered
)

// Message is one notification of an alert, the same for every channel: Slack gets its
// Text, a webhook its JSON, an e-mail its Title and Text.
type Message struct {
	// ID is this notification's own id (the alert's id and its number, or
	// "#resolved"): a receiver that sees it twice — an answer lost after it was
	// received, then retried — drops the second.
	ID      string         `json:"id"`
	AlertID string         `json:"alert_id"`
	State   string         `json:"state"` // firing or resolved
	Repeat  int            `json:"repeat,omitempty"`
	Rule    mesh.AlertRule `json:"rule"`
	Level   string         `json:"level,omitempty"` // freshness: late or stale
	Domain  string         `json:"domain"`
	Product string         `json:"product"`
	Owner   string         `json:"owner"`
	Title   string         `json:"title"`
	// Reason says what is wrong (firing) or what fixed it (resolved).
	Reason     string    `json:"reason"`
	Fix        []string  `json:"fix,omitempty"` // the commands that fix it
	RunURL     string    `json:"run_url,omitempty"`
	CatalogURL string    `json:"catalog_url,omitempty"`
	Since      time.Time `json:"since"` // when the alert opened
	At         time.Time `json:"at"`    // when this notification was decided
}

// ruleTitles say each rule's alert in a few words.
var ruleTitles = map[mesh.AlertRule]string{
	mesh.AlertRunFailed:      "a run failed",
	mesh.AlertCheckBlocked:   "a failing check blocked the publish",
	mesh.AlertWarnStreak:     "a warning check keeps failing",
	mesh.AlertFreshness:      "the data is not fresh",
	mesh.AlertBackfillFailed: "a backfill has failed days",
	mesh.AlertQuotaWait:      "a run waited long for source quotas",
}

// title is the subject line: state, product and what happened.
func title(state string, rule mesh.AlertRule, level, product string) string {
	what := ruleTitles[rule]
	if rule == mesh.AlertFreshness && level != "" {
		what = "the data is " + level
	}
	return fmt.Sprintf("[%s] %s: %s", strings.ToUpper(state), product, what)
}

// timeFormat is how alerts give a time.
const timeFormat = "2006-01-02 15:04 UTC"

// Text is the notification as plain text: the title, then why, the fix, the links
// and who owns it.
func (m Message) Text() string {
	var b strings.Builder
	b.WriteString(m.Title + "\n")
	label := "why"
	if m.State == Resolved {
		label = "resolved"
	}
	fmt.Fprintf(&b, "%s: %s\n", label, m.Reason)
	for _, f := range m.Fix {
		fmt.Fprintf(&b, "fix: %s\n", f)
	}
	if m.RunURL != "" {
		fmt.Fprintf(&b, "run: %s\n", m.RunURL)
	}
	if m.CatalogURL != "" {
		fmt.Fprintf(&b, "catalog: %s\n", m.CatalogURL)
	}
	fmt.Fprintf(&b, "owner %s · open since %s", m.Owner, m.Since.UTC().Format(timeFormat))
	if m.Repeat > 0 {
		fmt.Fprintf(&b, " · sent again (%d)", m.Repeat)
	}
	fmt.Fprintf(&b, " · alert %s\n", m.AlertID)
	return b.String()
}

// slackBody is an incoming webhook's payload: text for notifications and clients
// without blocks, and one mrkdwn section with the same lines.
func (m Message) slackBody() ([]byte, error) {
	esc := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace
	var b strings.Builder
	fmt.Fprintf(&b, "*%s*\n", esc(m.Title))
	label := "why"
	if m.State == Resolved {
		label = "resolved"
	}
	fmt.Fprintf(&b, "%s: %s\n", label, esc(m.Reason))
	for _, f := range m.Fix {
		fmt.Fprintf(&b, "fix: `%s`\n", esc(f))
	}
	var links []string
	if m.RunURL != "" {
		links = append(links, "<"+esc(m.RunURL)+"|run in Temporal>")
	}
	if m.CatalogURL != "" {
		links = append(links, "<"+esc(m.CatalogURL)+"|catalog>")
	}
	if len(links) > 0 {
		b.WriteString(strings.Join(links, " · ") + "\n")
	}
	fmt.Fprintf(&b, "owner %s · open since %s · alert %s", esc(m.Owner), m.Since.UTC().Format(timeFormat), esc(m.AlertID))
	type text struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	type block struct {
		Type string `json:"type"`
		Text text   `json:"text"`
	}
	return json.Marshal(struct {
		Text   string  `json:"text"`
		Blocks []block `json:"blocks"`
	}{Text: m.Text(), Blocks: []block{{Type: "section", Text: text{Type: "mrkdwn", Text: b.String()}}}})
}

// webhookBody is the JSON a webhook receives: the message and its text.
func (m Message) webhookBody() ([]byte, error) {
	return json.Marshal(struct {
		Message
		Text string `json:"text"`
	}{m, m.Text()})
}
