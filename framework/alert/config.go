package alert

import (
	"errors"
	"fmt"
	"io"
	"net/mail"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/meshflow/meshflow/framework/errs"
)

// Channel is a kind of receiver an alert is sent to.
type Channel string

const (
	Slack   Channel = "slack"   // a Slack-compatible incoming webhook
	Webhook Channel = "webhook" // a JSON webhook, signed with HMAC-SHA256
	Email   Channel = "email"   // e-mail over SMTP
)

// Config says where alerts go and what they link to. Its secrets (the webhook URLs,
// which hold tokens, the HMAC key, the SMTP password and the owners' routes) never
// leave the worker: alert workflows name a channel, and the activity that sends
// reads the address here. workers/host reads it from the environment.
type Config struct {
	SlackURL      string // MESHFLOW_ALERTS_SLACK_URL: a Slack-compatible incoming webhook; a secret
	WebhookURL    string // MESHFLOW_ALERTS_WEBHOOK_URL: receives each alert as signed JSON; a secret
	WebhookSecret string // MESHFLOW_ALERTS_WEBHOOK_SECRET: the HMAC-SHA256 key webhook bodies are signed with
	SMTP          SMTP
	// Owners replace the channels above for an owner's products (MESHFLOW_ALERTS_OWNERS):
	// each channel an owner's Route sets replaces the global one; the others stay.
	Owners map[string]Route

	TemporalUI string // MESHFLOW_TEMPORAL_UI_URL: the Temporal UI, for run links [DefaultTemporalUI]
	CatalogURL string // MESHFLOW_CATALOG_PUBLIC_URL: the web catalog (mesh serve), for product links [DefaultCatalogURL]

	// Retry is how a notification is retried while its receiver is down: from
	// RetryInterval, doubling, to RetryMaxInterval, until it answers [DefaultRetryInterval,
	// DefaultRetryMaxInterval]. No variable sets them; tests shorten them.
	RetryInterval, RetryMaxInterval time.Duration
	// FreshnessEvery is how often each domain's products' freshness is evaluated
	// [DefaultFreshnessEvery].
	FreshnessEvery time.Duration
}

// SMTP is the mail server alerts are sent through. STARTTLS is used when the server
// offers it; port 465 is TLS from the start. Auth is PLAIN, and only over TLS (or to
// localhost).
type SMTP struct {
	Addr     string   // MESHFLOW_ALERTS_SMTP_ADDR: host:port
	User     string   // MESHFLOW_ALERTS_SMTP_USER ["" = no auth]
	Password string   // MESHFLOW_ALERTS_SMTP_PASSWORD; a secret
	From     string   // MESHFLOW_ALERTS_EMAIL_FROM
	To       []string // MESHFLOW_ALERTS_EMAIL_TO: the global recipients
}

// Route is one owner's channels. Each one set replaces the global one for the
// owner's products.
type Route struct {
	SlackURL   string   `yaml:"slack_url"`
	WebhookURL string   `yaml:"webhook_url"`
	EmailTo    []string `yaml:"email_to"`
}

// Defaults of Config.
const (
	DefaultTemporalUI       = "http://localhost:8233"
	DefaultCatalogURL       = "http://127.0.0.1:8090"
	DefaultRetryInterval    = 10 * time.Second
	DefaultRetryMaxInterval = 5 * time.Minute
	DefaultFreshnessEvery   = 5 * time.Minute
)

// ParseOwners reads MESHFLOW_ALERTS_OWNERS: YAML (or JSON) mapping each owner (a
// domain's or product's Owner) to its channels.
//
//	marketing-analytics:
//	  slack_url: https://hooks.slack.com/services/T000/B000/XXXX
//	  email_to: [marketing-data@example.com]
func ParseOwners(b []byte) (map[string]Route, error) {
	var out map[string]Route
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&out); err != nil && !errors.Is(err, io.EOF) {
		// yaml quotes the offending line, which may hold a URL with its token.
		return nil, errs.Errorf(errs.Invalid, "configure alerts", "MESHFLOW_ALERTS_OWNERS is not YAML mapping each owner to slack_url, webhook_url and email_to (%s)", yamlLine(err))
	}
	return out, nil
}

// yamlLine keeps where a YAML error is, not what it quotes.
func yamlLine(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "line "); i >= 0 {
		if j := strings.IndexAny(msg[i:], ":"); j > 0 {
			return msg[i : i+j]
		}
	}
	return "its structure"
}

// WithDefaults fills what c leaves unset.
func (c Config) WithDefaults() Config {
	c.TemporalUI = strings.TrimRight(or(c.TemporalUI, DefaultTemporalUI), "/")
	c.CatalogURL = strings.TrimRight(or(c.CatalogURL, DefaultCatalogURL), "/")
	if c.RetryInterval <= 0 {
		c.RetryInterval = DefaultRetryInterval
	}
	if c.RetryMaxInterval < c.RetryInterval {
		c.RetryMaxInterval = max(DefaultRetryMaxInterval, c.RetryInterval)
	}
	if c.FreshnessEvery <= 0 {
		c.FreshnessEvery = DefaultFreshnessEvery
	}
	return c
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// Validate says what cannot work, naming the variable (never its value: URLs hold
// tokens).
func (c Config) Validate() error {
	var problems []string
	checkURL := func(name, v string) {
		if v == "" {
			return
		}
		if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			problems = append(problems, name+" is not an http(s) URL")
		}
	}
	checkURL("MESHFLOW_ALERTS_SLACK_URL", c.SlackURL)
	checkURL("MESHFLOW_ALERTS_WEBHOOK_URL", c.WebhookURL)
	checkURL("MESHFLOW_TEMPORAL_UI_URL", c.TemporalUI)
	checkURL("MESHFLOW_CATALOG_PUBLIC_URL", c.CatalogURL)
	webhooks := c.WebhookURL != ""
	mails := len(c.SMTP.To) > 0
	for _, owner := range c.owners() {
		r := c.Owners[owner]
		checkURL("MESHFLOW_ALERTS_OWNERS: "+owner+": slack_url", r.SlackURL)
		checkURL("MESHFLOW_ALERTS_OWNERS: "+owner+": webhook_url", r.WebhookURL)
		webhooks = webhooks || r.WebhookURL != ""
		mails = mails || len(r.EmailTo) > 0
		for _, to := range r.EmailTo {
			if _, err := mail.ParseAddress(to); err != nil {
				problems = append(problems, fmt.Sprintf("MESHFLOW_ALERTS_OWNERS: %s: email_to %q is not an e-mail address", owner, to))
			}
		}
	}
	if webhooks && c.WebhookSecret == "" {
		problems = append(problems, "a webhook is set without MESHFLOW_ALERTS_WEBHOOK_SECRET (or _FILE): receivers check each body's signature with it")
	}
	for _, to := range c.SMTP.To {
		if _, err := mail.ParseAddress(to); err != nil {
			problems = append(problems, fmt.Sprintf("MESHFLOW_ALERTS_EMAIL_TO: %q is not an e-mail address", to))
		}
	}
	switch {
	case c.SMTP.Addr == "" && (mails || c.SMTP.From != ""):
		problems = append(problems, "e-mail recipients are set without MESHFLOW_ALERTS_SMTP_ADDR (host:port of the mail server)")
	case c.SMTP.Addr != "":
		if _, port, ok := strings.Cut(c.SMTP.Addr, ":"); !ok || port == "" {
			problems = append(problems, fmt.Sprintf("MESHFLOW_ALERTS_SMTP_ADDR %q is not host:port (e.g. smtp.example.com:587)", c.SMTP.Addr))
		}
		if _, err := mail.ParseAddress(c.SMTP.From); err != nil {
			problems = append(problems, "MESHFLOW_ALERTS_SMTP_ADDR is set without MESHFLOW_ALERTS_EMAIL_FROM, an e-mail address to send from")
		}
		if !mails {
			problems = append(problems, "MESHFLOW_ALERTS_SMTP_ADDR is set without recipients: set MESHFLOW_ALERTS_EMAIL_TO (or email_to in MESHFLOW_ALERTS_OWNERS)")
		}
		if (c.SMTP.User == "") != (c.SMTP.Password == "") {
			problems = append(problems, "set both MESHFLOW_ALERTS_SMTP_USER and MESHFLOW_ALERTS_SMTP_PASSWORD (or _FILE), or neither")
		}
	}
	if len(problems) > 0 {
		return errs.Errorf(errs.Invalid, "configure alerts", "%s", strings.Join(problems, "; "))
	}
	return nil
}

func (c Config) owners() []string {
	out := make([]string, 0, len(c.Owners))
	for o := range c.Owners {
		out = append(out, o)
	}
	sort.Strings(out)
	return out
}

// route is where owner's alerts go, channel by channel.
func (c Config) route(owner string) Route {
	r := Route{SlackURL: c.SlackURL, WebhookURL: c.WebhookURL, EmailTo: c.SMTP.To}
	o := c.Owners[owner]
	if o.SlackURL != "" {
		r.SlackURL = o.SlackURL
	}
	if o.WebhookURL != "" {
		r.WebhookURL = o.WebhookURL
	}
	if len(o.EmailTo) > 0 {
		r.EmailTo = o.EmailTo
	}
	if c.SMTP.Addr == "" {
		r.EmailTo = nil
	}
	return r
}

// Channels are the channels owner's alerts go to.
func (c Config) Channels(owner string) []Channel {
	r := c.route(owner)
	var out []Channel
	if r.SlackURL != "" {
		out = append(out, Slack)
	}
	if r.WebhookURL != "" {
		out = append(out, Webhook)
	}
	if len(r.EmailTo) > 0 {
		out = append(out, Email)
	}
	return out
}

// secrets are the values no alert, log line or error may show.
func (c Config) secrets() []string {
	out := []string{c.SlackURL, c.WebhookURL, c.WebhookSecret, c.SMTP.Password}
	for _, r := range c.Owners {
		out = append(out, r.SlackURL, r.WebhookURL)
	}
	return slices.DeleteFunc(out, func(s string) bool { return len(s) < 4 })
}

// String describes the configuration without its secrets: which channels are set.
func (c Config) String() string {
	var ch []string
	for _, k := range c.Channels("") {
		ch = append(ch, string(k))
	}
	if len(ch) == 0 {
		ch = []string{"none"}
	}
	return fmt.Sprintf("alerts: channels %s, %d owner route(s), temporal ui %s, catalog %s", strings.Join(ch, ","), len(c.Owners), c.TemporalUI, c.CatalogURL)
}

// GoString keeps %#v from printing the secrets.
func (c Config) GoString() string { return c.String() }
