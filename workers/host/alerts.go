package host

import (
	"context"
	"time"

	"github.com/meshflow/meshflow/framework/alert"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/source"
)

// alertVars configure where alerts go (package alert), in the README's order.
var alertVars = []source.Var{
	{Name: "MESHFLOW_ALERTS_SLACK_URL", File: true, Secret: true, Doc: "Slack (or Mattermost, Rocket.Chat…) incoming webhook every product's alerts are posted to"},
	{Name: "MESHFLOW_ALERTS_WEBHOOK_URL", File: true, Secret: true, Doc: "URL every alert is POSTed to as JSON, signed (see Alerts)"},
	{Name: "MESHFLOW_ALERTS_WEBHOOK_SECRET", File: true, Secret: true, Doc: "HMAC-SHA256 key of the webhook's `X-Meshflow-Signature`; needed with a webhook"},
	{Name: "MESHFLOW_ALERTS_SMTP_ADDR", Doc: "mail server (`host:port`) alerts are e-mailed through; STARTTLS when offered, TLS on port 465"},
	{Name: "MESHFLOW_ALERTS_SMTP_USER", Doc: "SMTP user (PLAIN auth, over TLS only); unset, no auth"},
	{Name: "MESHFLOW_ALERTS_SMTP_PASSWORD", File: true, Secret: true, Doc: "that user's password"},
	{Name: "MESHFLOW_ALERTS_EMAIL_FROM", Doc: "sender address of alert e-mails"},
	{Name: "MESHFLOW_ALERTS_EMAIL_TO", Doc: "recipients of every product's alert e-mails (comma-separated)"},
	{Name: "MESHFLOW_ALERTS_OWNERS", File: true, Secret: true, Doc: "YAML mapping an owner (a product's or domain's Owner) to its own `slack_url`, `webhook_url`, `email_to`, each replacing the global one for its products"},
	{Name: "MESHFLOW_TEMPORAL_UI_URL", Default: "`" + alert.DefaultTemporalUI + "`", Doc: "the Temporal UI, for the run links in alerts"},
	{Name: "MESHFLOW_CATALOG_PUBLIC_URL", Default: "`" + alert.DefaultCatalogURL + "`", Doc: "where people reach the web catalog (`mesh serve`), for the product links in alerts"},
}

// readAlerts reads the alert variables.
func readAlerts(getenv func(string) string) (alert.Config, error) {
	c := alert.Config{
		SMTP: alert.SMTP{
			Addr: getenv("MESHFLOW_ALERTS_SMTP_ADDR"), User: getenv("MESHFLOW_ALERTS_SMTP_USER"),
			From: getenv("MESHFLOW_ALERTS_EMAIL_FROM"), To: list(getenv("MESHFLOW_ALERTS_EMAIL_TO")),
		},
		TemporalUI: getenv("MESHFLOW_TEMPORAL_UI_URL"),
		CatalogURL: getenv("MESHFLOW_CATALOG_PUBLIC_URL"),
	}
	for _, secret := range []struct {
		name string
		into *string
	}{
		{"MESHFLOW_ALERTS_SLACK_URL", &c.SlackURL},
		{"MESHFLOW_ALERTS_WEBHOOK_URL", &c.WebhookURL},
		{"MESHFLOW_ALERTS_WEBHOOK_SECRET", &c.WebhookSecret},
		{"MESHFLOW_ALERTS_SMTP_PASSWORD", &c.SMTP.Password},
	} {
		v, err := readSecret(getenv, secret.name)
		if err != nil {
			return alert.Config{}, err
		}
		*secret.into = v
	}
	owners, err := readSecret(getenv, "MESHFLOW_ALERTS_OWNERS")
	if err != nil {
		return alert.Config{}, err
	}
	if owners != "" {
		if c.Owners, err = alert.ParseOwners([]byte(owners)); err != nil {
			return alert.Config{}, err
		}
	}
	c = c.WithDefaults()
	return c, c.Validate()
}

// watchFreshness starts the evaluation of d's freshness unless it runs already.
func watchFreshness(n *alert.Notifier, d mesh.Domain) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return n.WatchFreshness(ctx, d)
}
