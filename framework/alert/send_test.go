package alert

import (
	"context"
	"encoding/json"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/meshflow/meshflow/framework/mesh"
)

// message is a firing alert as the rules build it.
func message() Message {
	at := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	return Message{
		ID: "shop.orders/run_failed/1#1", AlertID: "shop.orders/run_failed/1", State: Firing, Rule: mesh.AlertRunFailed,
		Domain: "shop", Product: "orders", Owner: "shop-team", Title: "[FIRING] shop.orders: a run failed — ünïcode",
		Reason: "land shop.api: <HTTP 500> & more", Fix: []string{"mesh run shop.orders"},
		RunURL: "http://localhost:8233/namespaces/default/workflows/shop.orders/r1/history", CatalogURL: "http://127.0.0.1:8090/products/shop.orders",
		Since: at, At: at,
	}
}

// secrets of testConfig, which nothing the alerts send or say may show.
const (
	slackToken   = "T000/B000/slack-token-0123"
	hookToken    = "hook-token-4567"
	hmacSecret   = "hmac-secret-89ab"
	smtpPassword = "smtp-password-cdef"
)

func testConfig(base string) Config {
	return Config{
		SlackURL: base + "/services/" + slackToken, WebhookURL: base + "/hook?token=" + hookToken, WebhookSecret: hmacSecret,
		SMTP: SMTP{Addr: "127.0.0.1:1", User: "mesh", Password: smtpPassword, From: "mesh@example.com", To: []string{"oncall@example.com"}},
	}
}

func assertNoSecret(t *testing.T, where, s string) {
	t.Helper()
	for _, secret := range []string{slackToken, "slack-token-0123", hookToken, hmacSecret, smtpPassword} {
		if strings.Contains(s, secret) {
			t.Errorf("%s shows the secret %q: %s", where, secret, s)
		}
	}
}

// TestMessageCarriesReasonLinksAndFix: every channel's form of a message has the
// reason, the fix, the run and catalog links, and no secret.
func TestMessageCarriesReasonLinksAndFix(t *testing.T) {
	m := message()
	slack, err := m.slackBody()
	if err != nil {
		t.Fatal(err)
	}
	hook, err := m.webhookBody()
	if err != nil {
		t.Fatal(err)
	}
	mailBody := emailBody("mesh@example.com", []string{"oncall@example.com"}, m)
	msg, err := mail.ReadMessage(strings.NewReader(string(mailBody)))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatal(err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil || subject != m.Title {
		t.Errorf("subject = %q (%v), want %q", subject, err, m.Title)
	}
	if msg.Header.Get(HeaderID) != m.ID || msg.Header.Get("Message-Id") != "<shop.orders.run_failed.1.1@meshflow>" {
		t.Errorf("e-mail headers = %v", msg.Header)
	}
	var slackJSON struct {
		Text   string
		Blocks []struct {
			Type string
			Text struct{ Type, Text string }
		}
	}
	if err := json.Unmarshal(slack, &slackJSON); err != nil {
		t.Fatal(err)
	}
	if len(slackJSON.Blocks) != 1 || slackJSON.Blocks[0].Text.Type != "mrkdwn" ||
		!strings.Contains(slackJSON.Blocks[0].Text.Text, "land shop.api: &lt;HTTP 500&gt; &amp; more") ||
		!strings.Contains(slackJSON.Blocks[0].Text.Text, "<"+m.RunURL+"|run in Temporal>") ||
		!strings.Contains(slackJSON.Blocks[0].Text.Text, "fix: `mesh run shop.orders`") {
		t.Errorf("slack blocks = %+v", slackJSON.Blocks)
	}
	var hookJSON Message
	if err := json.Unmarshal(hook, &hookJSON); err != nil || hookJSON.ID != m.ID || hookJSON.Reason != m.Reason {
		t.Errorf("webhook body = %s (%v)", hook, err)
	}
	for where, text := range map[string]string{"slack text": slackJSON.Text, "webhook": string(hook), "e-mail": strings.ReplaceAll(string(plain), "\r\n", "\n")} {
		for _, want := range []string{m.Title, "why: " + m.Reason, "fix: mesh run shop.orders", "run: " + m.RunURL, "catalog: " + m.CatalogURL, "owner shop-team", "alert shop.orders/run_failed/1"} {
			if where == "webhook" {
				b, _ := json.Marshal(want)
				want = strings.Trim(string(b), `"`)
			}
			if !strings.Contains(text, want) {
				t.Errorf("%s lacks %q:\n%s", where, want, text)
			}
		}
	}
}

// TestWebhookIsSignedWithTheIDAndTimestamp: the receiver checks the body against the
// signature and dedupes on the id header; a changed body, another key or an old
// timestamp fail the check.
func TestWebhookIsSignedWithTheIDAndTimestamp(t *testing.T) {
	got := make(chan *http.Request, 1)
	bodies := make(chan []byte, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- r
		bodies <- b
	}))
	defer srv.Close()
	n := New(nil, mesh.Mesh{}, nil, testConfig(srv.URL), nil)
	m := message()
	if err := n.deliver(context.Background(), Delivery{Channel: Webhook, Message: m}); err != nil {
		t.Fatal(err)
	}
	r, body := <-got, <-bodies
	if r.Header.Get(HeaderID) != m.ID || r.URL.Query().Get("token") != hookToken || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("request = %s %v", r.URL, r.Header)
	}
	if !strings.HasPrefix(r.Header.Get(HeaderSignature), "sha256=") {
		t.Errorf("signature header = %q", r.Header.Get(HeaderSignature))
	}
	now := time.Now()
	if err := Verify(hmacSecret, r.Header, body, now, 5*time.Minute); err != nil {
		t.Errorf("the receiver's check: %v", err)
	}
	if err := Verify(hmacSecret, r.Header, append(body, ' '), now, 5*time.Minute); err == nil {
		t.Error("a changed body passes the check")
	}
	if err := Verify("another key", r.Header, body, now, 5*time.Minute); err == nil {
		t.Error("another key passes the check")
	}
	if err := Verify(hmacSecret, r.Header, body, now.Add(10*time.Minute), 5*time.Minute); err == nil {
		t.Error("a request signed 10 minutes ago passes a 5-minute check")
	}
	assertNoSecret(t, "the webhook body", string(body))
}

// TestDeliveryErrorsNameTheChannelNotTheSecret: a receiver that answers 503, one
// that hangs up and one that is not listening each fail the delivery (to be
// retried) with an error naming the channel, never the URL's token.
func TestDeliveryErrorsNameTheChannelNotTheSecret(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/services/") {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close() // hangs up: the client's error quotes the URL
	}))
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	ctx := context.Background()
	for _, tc := range []struct {
		cfg  Config
		ch   Channel
		want string
	}{
		{testConfig(srv.URL), Slack, "to slack: the receiver answered 503 Service Unavailable: down for maintenance"},
		{testConfig(srv.URL), Webhook, "to webhook: "},
		{testConfig(closed), Slack, "connection refused"},
		{testConfig(closed), Email, "to email: "},
	} {
		err := New(nil, mesh.Mesh{}, nil, tc.cfg, nil).deliver(ctx, Delivery{Channel: tc.ch, Message: message()})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one with %q", tc.ch, err, tc.want)
			continue
		}
		assertNoSecret(t, string(tc.ch)+"'s error", err.Error())
	}
}

// TestConfigErrorsNameTheVariableNotItsValue and say what is missing.
func TestConfigErrorsNameTheVariableNotItsValue(t *testing.T) {
	for _, tc := range []struct {
		change func(*Config)
		want   string
	}{
		{func(c *Config) { c.WebhookSecret = "" }, "a webhook is set without MESHFLOW_ALERTS_WEBHOOK_SECRET"},
		{func(c *Config) { c.SlackURL = "hooks.slack.com/services/" + slackToken }, "MESHFLOW_ALERTS_SLACK_URL is not an http(s) URL"},
		{func(c *Config) { c.SMTP.From = "" }, "without MESHFLOW_ALERTS_EMAIL_FROM"},
		{func(c *Config) { c.SMTP.Addr = "" }, "e-mail recipients are set without MESHFLOW_ALERTS_SMTP_ADDR"},
		{func(c *Config) { c.SMTP.User = "" }, "set both MESHFLOW_ALERTS_SMTP_USER and MESHFLOW_ALERTS_SMTP_PASSWORD"},
		{func(c *Config) { c.SMTP.To = nil }, "MESHFLOW_ALERTS_SMTP_ADDR is set without recipients"},
		{func(c *Config) {
			c.Owners = map[string]Route{"shop-team": {WebhookURL: "ftp://x/" + hookToken, EmailTo: []string{"not an address"}}}
		}, `MESHFLOW_ALERTS_OWNERS: shop-team: webhook_url is not an http(s) URL; MESHFLOW_ALERTS_OWNERS: shop-team: email_to "not an address"`},
	} {
		c := testConfig("https://hooks.example.com")
		tc.change(&c)
		err := c.WithDefaults().Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
			continue
		}
		assertNoSecret(t, "the configuration error", err.Error())
	}
	if err := testConfig("https://hooks.example.com").WithDefaults().Validate(); err != nil {
		t.Errorf("a valid configuration: %v", err)
	}
	c := testConfig("https://hooks.example.com")
	for _, s := range []string{c.String(), c.GoString()} {
		assertNoSecret(t, "the configuration's description", s)
	}
	_, err := ParseOwners([]byte("shop-team:\n  slack_url: [https://hooks.example.com/services/" + slackToken + "\n"))
	if err == nil || !strings.Contains(err.Error(), "MESHFLOW_ALERTS_OWNERS is not YAML") {
		t.Errorf("bad YAML: %v", err)
	}
	if err != nil {
		assertNoSecret(t, "the YAML error", err.Error())
	}
}

// TestOwnersRouteReplacesGlobalChannels: an owner's channel replaces the global one
// of that kind; the others stay global; other owners get the global ones.
func TestOwnersRouteReplacesGlobalChannels(t *testing.T) {
	c := testConfig("https://hooks.example.com")
	c.WebhookURL, c.WebhookSecret = "", ""
	c.Owners, _ = ParseOwners([]byte("shop-team:\n  slack_url: https://hooks.example.com/shop\n  email_to: [shop@example.com]\nbilling:\n  webhook_url: https://billing.example.com/hook\n"))
	if got := c.route("shop-team"); got.SlackURL != "https://hooks.example.com/shop" || got.EmailTo[0] != "shop@example.com" {
		t.Errorf("shop-team's route = %+v", got)
	}
	if got := c.route("marketing"); got.SlackURL != c.SlackURL || got.EmailTo[0] != "oncall@example.com" || got.WebhookURL != "" {
		t.Errorf("another owner's route = %+v, want the global channels", got)
	}
	if got := c.Channels("billing"); len(got) != 3 {
		t.Errorf("billing's channels = %v, want slack and e-mail (global) and its webhook", got)
	}
	if got := c.Channels("marketing"); len(got) != 2 {
		t.Errorf("marketing's channels = %v, want slack and e-mail", got)
	}
	if o, err := ParseOwners([]byte("\n")); err != nil || o != nil {
		t.Errorf("an empty owners file: %v, %v", o, err)
	}
}

// TestLinksPointIntoTheNamespaceAndCatalog: a run link is its history in the
// configured UI and namespace; a product link its catalog page.
func TestLinksPointIntoTheNamespaceAndCatalog(t *testing.T) {
	n := New(nil, mesh.Mesh{}, nil, Config{TemporalUI: "https://temporal.example.com/", CatalogURL: "https://catalog.example.com"}, &Options{Namespace: "mesh-prod"})
	if got := n.RunURL("marketing.crm_contacts/current", "0f9c"); got != "https://temporal.example.com/namespaces/mesh-prod/workflows/marketing.crm_contacts%2Fcurrent/0f9c/history" {
		t.Errorf("run link = %s", got)
	}
	if got := n.CatalogURL("marketing", "crm_contacts"); got != "https://catalog.example.com/products/marketing.crm_contacts" {
		t.Errorf("catalog link = %s", got)
	}
	if got := New(nil, mesh.Mesh{}, nil, Config{}, nil).RunURL("x", ""); got != DefaultTemporalUI+"/namespaces/default/workflows/x/history" {
		t.Errorf("default run link = %s", got)
	}
}
