package host

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/meshflow/meshflow/framework/alert"
)

// TestAlertsConfigFromEnvAndSecretFiles: the alert channels come from the
// environment, their secrets from mounted files too, the owners' routes from a YAML
// file; a broken setting is refused naming the variable, never showing a secret.
func TestAlertsConfigFromEnvAndSecretFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	env := map[string]string{
		"MESHFLOW_LAKE":                       dir,
		"MESHFLOW_ALERTS_SLACK_URL_FILE":      write("slack", "https://hooks.slack.com/services/T0/B0/slack-secret-1\n"),
		"MESHFLOW_ALERTS_WEBHOOK_URL":         "https://alerts.example.com/meshflow",
		"MESHFLOW_ALERTS_WEBHOOK_SECRET_FILE": write("hmac", "hmac-secret-2\n"),
		"MESHFLOW_ALERTS_SMTP_ADDR":           "smtp.example.com:587",
		"MESHFLOW_ALERTS_SMTP_USER":           "mesh",
		"MESHFLOW_ALERTS_SMTP_PASSWORD_FILE":  write("smtp", "smtp-secret-3"),
		"MESHFLOW_ALERTS_EMAIL_FROM":          "mesh@example.com",
		"MESHFLOW_ALERTS_EMAIL_TO":            "oncall@example.com, data@example.com",
		"MESHFLOW_ALERTS_OWNERS_FILE":         write("owners.yaml", "marketing-analytics:\n  slack_url: https://hooks.slack.com/services/T0/B1/slack-secret-4\n  email_to: [marketing-data@example.com]\n"),
		"MESHFLOW_TEMPORAL_UI_URL":            "https://temporal.example.com/",
		"MESHFLOW_CATALOG_PUBLIC_URL":         "https://catalog.example.com",
	}
	c, err := ConfigFromEnv(envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	a := c.Alerts
	if a.SlackURL != "https://hooks.slack.com/services/T0/B0/slack-secret-1" || a.WebhookSecret != "hmac-secret-2" || a.SMTP.Password != "smtp-secret-3" ||
		!slices.Equal(a.SMTP.To, []string{"oncall@example.com", "data@example.com"}) || a.Owners["marketing-analytics"].EmailTo[0] != "marketing-data@example.com" ||
		a.TemporalUI != "https://temporal.example.com" || a.CatalogURL != "https://catalog.example.com" {
		t.Errorf("alerts = %#v: %+v", a, a.SMTP)
	}
	if got := a.Channels("marketing-analytics"); !slices.Equal(got, []alert.Channel{alert.Slack, alert.Webhook, alert.Email}) {
		t.Errorf("channels = %v", got)
	}
	for _, s := range []string{c.String(), a.String(), a.GoString()} {
		for _, secret := range []string{"slack-secret", "hmac-secret", "smtp-secret"} {
			if strings.Contains(s, secret) {
				t.Errorf("the configuration's description shows %s: %s", secret, s)
			}
		}
	}

	for _, tc := range []struct {
		set  map[string]string
		want string
	}{
		{map[string]string{"MESHFLOW_ALERTS_WEBHOOK_SECRET_FILE": ""}, "without MESHFLOW_ALERTS_WEBHOOK_SECRET"},
		{map[string]string{"MESHFLOW_ALERTS_SLACK_URL": "x"}, "both MESHFLOW_ALERTS_SLACK_URL and MESHFLOW_ALERTS_SLACK_URL_FILE"},
		{map[string]string{"MESHFLOW_ALERTS_OWNERS_FILE": write("bad.yaml", "marketing-analytics:\n  slack: https://hooks.slack.com/services/T0/B1/slack-secret-5\n")}, "MESHFLOW_ALERTS_OWNERS is not YAML"},
		{map[string]string{"MESHFLOW_TEMPORAL_UI_URL": "temporal:8233"}, "MESHFLOW_TEMPORAL_UI_URL is not an http(s) URL"},
	} {
		bad := map[string]string{}
		for k, v := range env {
			bad[k] = v
		}
		for k, v := range tc.set {
			bad[k] = v
		}
		_, err := ConfigFromEnv(envOf(bad))
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "secret-") {
			t.Errorf("want an error with %q and no secret, got %v", tc.want, err)
		}
	}
}
