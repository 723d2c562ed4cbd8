package alert

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/smtp"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/meshflow/meshflow/framework/errs"
)

// The headers of a webhook request.
const (
	// HeaderID carries the notification's id (Message.ID): the same on every retry of
	// it, so a receiver drops one it has already seen.
	HeaderID = "X-Meshflow-Alert-Id"
	// HeaderTimestamp is when the request was signed, in Unix seconds.
	HeaderTimestamp = "X-Meshflow-Timestamp"
	// HeaderSignature is "sha256=" and the hex HMAC-SHA256, keyed with
	// MESHFLOW_ALERTS_WEBHOOK_SECRET, of the timestamp, a dot and the body.
	HeaderSignature = "X-Meshflow-Signature"
)

// Sign is the HeaderSignature of body sent at ts.
func Sign(secret string, ts time.Time, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "%d.", ts.Unix())
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify checks a webhook request's signature and that it was signed within maxAge of
// now, as a receiver does (a replayed old request fails).
func Verify(secret string, h http.Header, body []byte, now time.Time, maxAge time.Duration) error {
	sec, err := strconv.ParseInt(h.Get(HeaderTimestamp), 10, 64)
	if err != nil {
		return errors.New("no " + HeaderTimestamp)
	}
	ts := time.Unix(sec, 0)
	if d := now.Sub(ts); d > maxAge || d < -maxAge {
		return fmt.Errorf("signed %s ago, more than %s", d.Round(time.Second), maxAge)
	}
	if !hmac.Equal([]byte(h.Get(HeaderSignature)), []byte(Sign(secret, ts, body))) {
		return errors.New("the signature does not match the body")
	}
	return nil
}

// deliver sends one notification to one channel of its owner. Its errors name the
// channel, never its address or credentials.
func (n *Notifier) deliver(ctx context.Context, d Delivery) error {
	r := n.cfg.route(d.Message.Owner)
	var err error
	switch d.Channel {
	case Slack:
		if r.SlackURL == "" {
			return nil // no longer configured: nowhere to send
		}
		body, berr := d.Message.slackBody()
		if berr != nil {
			return errs.E(errs.Internal, "alert to slack", berr)
		}
		err = n.post(ctx, r.SlackURL, body, nil)
	case Webhook:
		if r.WebhookURL == "" {
			return nil
		}
		body, berr := d.Message.webhookBody()
		if berr != nil {
			return errs.E(errs.Internal, "alert to webhook", berr)
		}
		now := time.Now()
		err = n.post(ctx, r.WebhookURL, body, http.Header{
			HeaderID:        {d.Message.ID},
			HeaderTimestamp: {strconv.FormatInt(now.Unix(), 10)},
			HeaderSignature: {Sign(n.cfg.WebhookSecret, now, body)},
		})
	case Email:
		if len(r.EmailTo) == 0 {
			return nil
		}
		err = n.mail(ctx, r.EmailTo, d.Message)
	default:
		return errs.Errorf(errs.Invalid, "alert", "unknown channel %q", d.Channel)
	}
	if err != nil {
		who := string(d.Channel)
		if _, ok := n.cfg.Owners[d.Message.Owner]; ok {
			who += " of owner " + d.Message.Owner
		}
		return errs.Errorf(errs.KindOf(err), "alert "+d.Message.ID+" to "+who, "%s", n.redact(err.Error()))
	}
	return nil
}

// post sends body as JSON; any answer but 2xx is an error to retry.
func (n *Notifier) post(ctx context.Context, to string, body []byte, h http.Header) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, to, bytes.NewReader(body))
	if err != nil {
		return errs.Errorf(errs.Invalid, "", "the URL does not parse")
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "meshflow-alerts")
	resp, err := n.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // a url.Error quotes the URL, token and all
		}
		return errs.Errorf(errs.Transient, "", "no answer: %v", err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	if resp.StatusCode/100 != 2 {
		return errs.Errorf(errs.Transient, "", "the receiver answered %s: %s", resp.Status, strings.TrimSpace(string(answer)))
	}
	return nil
}

// mail sends m over SMTP: STARTTLS when the server offers it (TLS from the start on
// port 465), PLAIN auth when a user is set.
func (n *Notifier) mail(ctx context.Context, to []string, m Message) error {
	s := n.cfg.SMTP
	host, port, _ := net.SplitHostPort(s.Addr)
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Now().Add(time.Minute)
	}
	var conn net.Conn
	var err error
	dialer := &net.Dialer{Deadline: dl}
	if port == "465" {
		conn, err = (&tls.Dialer{NetDialer: dialer, Config: &tls.Config{ServerName: host}}).DialContext(ctx, "tcp", s.Addr)
	} else {
		conn, err = dialer.DialContext(ctx, "tcp", s.Addr)
	}
	if err != nil {
		return errs.E(errs.Transient, "", err)
	}
	_ = conn.SetDeadline(dl)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return errs.E(errs.Transient, "", err)
	}
	defer c.Close()
	if err := c.Hello("meshflow"); err != nil {
		return errs.E(errs.Transient, "", err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok && port != "465" {
		if err := c.StartTLS(&tls.Config{ServerName: host}); err != nil {
			return errs.E(errs.Transient, "", err)
		}
	}
	if s.User != "" {
		if err := c.Auth(smtp.PlainAuth("", s.User, s.Password, host)); err != nil {
			return errs.E(errs.Transient, "", err)
		}
	}
	if err := c.Mail(s.From); err != nil {
		return errs.E(errs.Transient, "", err)
	}
	for _, rcpt := range to {
		if err := c.Rcpt(rcpt); err != nil {
			return errs.E(errs.Transient, "", err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return errs.E(errs.Transient, "", err)
	}
	if _, err := w.Write(emailBody(s.From, to, m)); err != nil {
		return errs.E(errs.Transient, "", err)
	}
	if err := w.Close(); err != nil {
		return errs.E(errs.Transient, "", err)
	}
	return c.Quit()
}

// emailBody is the message with its headers: the title as the subject, the text as
// quoted-printable UTF-8, and the notification id as the Message-ID.
func emailBody(from string, to []string, m Message) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: %s\r\n", from)
	fmt.Fprintf(&b, "To: %s\r\n", strings.Join(to, ", "))
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", m.Title))
	fmt.Fprintf(&b, "Date: %s\r\n", m.At.UTC().Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s@meshflow>\r\n", strings.NewReplacer("/", ".", "#", ".", " ", "").Replace(m.ID))
	fmt.Fprintf(&b, "%s: %s\r\n", HeaderID, m.ID)
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
	qp := quotedprintable.NewWriter(&b)
	qp.Write([]byte(strings.ReplaceAll(m.Text(), "\n", "\r\n")))
	qp.Close()
	return b.Bytes()
}

// redact hides every secret of the configuration in s.
func (n *Notifier) redact(s string) string {
	for _, secret := range n.cfg.secrets() {
		s = strings.ReplaceAll(s, secret, "[secret]")
	}
	return s
}
