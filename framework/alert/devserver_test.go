package alert_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/textproto"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/worker"
	_ "gocloud.dev/blob/fileblob"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/meshflow/meshflow/dev/stack"
	"github.com/meshflow/meshflow/framework/alert"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/quality"
)

// The secrets of the receivers, which no alert, error or history may show.
const (
	slackToken   = "T0AB/B0CD/slack-token-e2e"
	hookToken    = "hook-token-e2e"
	hmacSecret   = "hmac-secret-e2e"
	smtpPassword = "smtp-password-e2e"
)

var secrets = []string{slackToken, "slack-token-e2e", hookToken, hmacSecret, smtpPassword}

// receipt is one notification as a receiver got it.
type receipt struct {
	Channel alert.Channel
	ID      string // the notification's id (Slack's rebuilt from its text, which has no id field)
	Text    string
}

func (r receipt) String() string { return string(r.Channel) + " " + r.ID }

// httpReceiver is a Slack incoming webhook (/services/<token>) and a JSON webhook
// (/hook?token=…) that checks every signature. Down, Slack answers 503 and the
// webhook hangs up.
type httpReceiver struct {
	*httptest.Server
	t       *testing.T
	mu      sync.Mutex
	down    bool
	got     chan<- receipt
	refused chan alert.Channel
}

var slackFooter = regexp.MustCompile(`owner \S+ · open since [^·]+· (?:sent again \((\d+)\) · )?alert (\S+)`)

func newHTTPReceiver(t *testing.T, got chan<- receipt) *httpReceiver {
	h := &httpReceiver{t: t, got: got, refused: make(chan alert.Channel, 1000)}
	h.Server = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.Close)
	return h
}

func (h *httpReceiver) setDown(down bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.down = down
}

func (h *httpReceiver) serve(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	down := h.down
	h.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	switch {
	case r.URL.Path == "/services/"+slackToken:
		if down {
			h.refused <- alert.Slack
			http.Error(w, "service unavailable", http.StatusServiceUnavailable)
			return
		}
		var msg struct {
			Text   string
			Blocks []json.RawMessage
		}
		if err := json.Unmarshal(body, &msg); err != nil || len(msg.Blocks) != 1 {
			h.t.Errorf("slack got %s (%v)", body, err)
		}
		id := "?"
		if m := slackFooter.FindStringSubmatch(msg.Text); m != nil {
			n := 0 // times sent before
			fmt.Sscan(m[1], &n)
			id = fmt.Sprintf("%s#%d", m[2], n+1)
			if strings.HasPrefix(msg.Text, "[RESOLVED]") {
				id = m[2] + "#resolved"
			}
		}
		h.got <- receipt{alert.Slack, id, msg.Text}
	case r.URL.Path == "/hook" && r.URL.Query().Get("token") == hookToken:
		if down {
			h.refused <- alert.Webhook
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
			return
		}
		if err := alert.Verify(hmacSecret, r.Header, body, time.Now(), 5*time.Minute); err != nil {
			h.t.Errorf("webhook signature: %v", err)
		}
		var msg struct {
			ID   string
			Text string
		}
		if err := json.Unmarshal(body, &msg); err != nil || msg.ID != r.Header.Get(alert.HeaderID) {
			h.t.Errorf("webhook body %s, id header %q (%v)", body, r.Header.Get(alert.HeaderID), err)
		}
		h.got <- receipt{alert.Webhook, msg.ID, msg.Text}
	default:
		h.t.Errorf("unexpected request %s %s", r.Method, r.URL.Path)
		http.NotFound(w, r)
	}
}

// startSMTP is a mail server speaking enough SMTP for net/smtp (EHLO, AUTH PLAIN,
// MAIL, RCPT, DATA, QUIT); each mail it accepts is a receipt.
func startSMTP(t *testing.T, user, password string, got chan<- receipt) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serveSMTP(t, c, user, password, got)
		}
	}()
	return ln.Addr().String()
}

func serveSMTP(t *testing.T, c net.Conn, user, password string, got chan<- receipt) {
	defer c.Close()
	tp := textproto.NewConn(c)
	tp.PrintfLine("220 localhost test mail server")
	authed := false
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO":
			tp.PrintfLine("250-localhost")
			tp.PrintfLine("250 AUTH PLAIN")
		case "AUTH":
			mech, resp, _ := strings.Cut(arg, " ")
			b, _ := base64.StdEncoding.DecodeString(resp)
			if mech != "PLAIN" || string(b) != "\x00"+user+"\x00"+password {
				tp.PrintfLine("535 authentication failed")
				continue
			}
			authed = true
			tp.PrintfLine("235 ok")
		case "MAIL", "RCPT":
			if !authed {
				tp.PrintfLine("530 authenticate first")
				continue
			}
			tp.PrintfLine("250 ok")
		case "DATA":
			tp.PrintfLine("354 go on")
			data, err := tp.ReadDotBytes()
			if err != nil {
				return
			}
			msg, err := mail.ReadMessage(strings.NewReader(string(data)))
			if err != nil {
				t.Errorf("mail: %v", err)
				return
			}
			text, _ := io.ReadAll(quotedprintable.NewReader(msg.Body))
			subject, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
			got <- receipt{alert.Email, msg.Header.Get(alert.HeaderID), subject + "\n" + strings.ReplaceAll(string(text), "\r\n", "\n")}
			tp.PrintfLine("250 queued")
		case "QUIT":
			tp.PrintfLine("221 bye")
			return
		default:
			tp.PrintfLine("250 ok")
		}
	}
}

// freshnessStub is what the catalog would say of the product's freshness.
type freshnessStub struct {
	mu sync.Mutex
	f  alert.Freshness
}

func (s *freshnessStub) set(st mesh.Status, age time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.f = alert.Freshness{Status: st, PublishedAt: time.Now().Add(-age), Age: age.String(), WarnAfter: "1h0m0s", FailAfter: "2h0m0s"}
}

func (s *freshnessStub) get(context.Context, string, string) (alert.Freshness, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f, nil
}

// TestAlertsReachTheOwnerOnTheDevServer: on the real Temporal dev server, a local
// Slack-format receiver, a signed JSON webhook and a local SMTP server get exactly
// the expected alerts for a failed run, a blocked check, a stale product and the
// recovery; with the HTTP receiver down for a while (503, a hang-up) the e-mails go
// on, and the HTTP ones arrive once each when it is back. Nothing shows a secret.
func TestAlertsReachTheOwnerOnTheDevServer(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: needs bin/temporal")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	st, err := stack.Start(ctx, stack.Options{NoSandbox: true, Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Stop() })
	l, err := lake.Open(ctx, "file://"+t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	got := make(chan receipt, 1000)
	hr := newHTTPReceiver(t, got)
	smtpAddr := startSMTP(t, "mesh", smtpPassword, got)
	cfg := alert.Config{
		SlackURL: hr.URL + "/services/" + slackToken, WebhookURL: hr.URL + "/hook?token=" + hookToken, WebhookSecret: hmacSecret,
		SMTP: alert.SMTP{Addr: smtpAddr, User: "mesh", Password: smtpPassword, From: "mesh@example.com", To: []string{"shop-team@example.com"}},
		// A receiver that is down is retried every 50–200 ms here, not 10 s–5 min.
		RetryInterval: 50 * time.Millisecond, RetryMaxInterval: 200 * time.Millisecond,
		FreshnessEvery: time.Hour, // one evaluation in this test: the first, at once
	}
	if err := cfg.WithDefaults().Validate(); err != nil {
		t.Fatal(err)
	}
	shop := mesh.Domain{Name: "shop", Owner: "shop-team", Products: []mesh.Product{{
		Name: "orders", Classification: mesh.Internal, Freshness: mesh.Freshness{WarnAfter: time.Hour, FailAfter: 2 * time.Hour},
	}}}
	fresh := &freshnessStub{}
	fresh.set(mesh.StatusFail, 3*time.Hour)
	n := alert.New(st.Client, mesh.Mesh{Domains: []mesh.Domain{shop}}, l, cfg, &alert.Options{Freshness: fresh.get})
	w := worker.New(st.Client, shop.TaskQueue(), worker.Options{})
	alert.Register(w, n)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	var all []receipt
	receive := func(what string, want ...string) []receipt {
		t.Helper()
		var these []receipt
		for len(these) < len(want) {
			select {
			case r := <-got:
				these = append(these, r)
			case <-ctx.Done():
				t.Fatalf("%s: received %v, want %v", what, these, want)
			}
		}
		all = append(all, these...)
		var ids []string
		for _, r := range these {
			ids = append(ids, r.String())
		}
		slices.Sort(ids)
		slices.Sort(want)
		if !slices.Equal(ids, want) {
			t.Fatalf("%s: received %v, want %v", what, ids, want)
		}
		return these
	}
	each := func(id string) []string {
		return []string{"email " + id, "slack " + id, "webhook " + id}
	}
	openRules := func() []mesh.AlertRule {
		t.Helper()
		open, err := alert.Open(ctx, l, "shop", "orders")
		if err != nil {
			t.Fatal(err)
		}
		var rules []mesh.AlertRule
		for _, a := range open {
			rules = append(rules, a.Rule)
		}
		return rules
	}
	run := func(runID, status string, change func(*alert.Run)) {
		t.Helper()
		r := alert.Run{Domain: "shop", Product: "orders", WorkflowID: "shop.orders/current", RunID: runID, Status: status, At: time.Now()}
		if change != nil {
			change(&r)
		}
		if err := n.RunEnded(ctx, r); err != nil {
			t.Fatal(err)
		}
	}

	// A run fails: each channel gets the reason, the run's link, the catalog's and the fix.
	run("run-1", alert.StatusFailed, func(r *alert.Run) { r.Error = "land shop.api: HTTP 500 from the orders API" })
	for _, r := range receive("failed run", each("shop.orders/run_failed/1#1")...) {
		for _, want := range []string{
			"[FIRING] shop.orders: a run failed", "land shop.api: HTTP 500 from the orders API",
			"http://localhost:8233/namespaces/default/workflows/shop.orders%2Fcurrent/run-1/history",
			"http://127.0.0.1:8090/products/shop.orders", "mesh run shop.orders",
		} {
			if !strings.Contains(r.Text, want) {
				t.Errorf("%s lacks %q:\n%s", r, want, r.Text)
			}
		}
	}
	if rules := openRules(); !slices.Equal(rules, []mesh.AlertRule{mesh.AlertRunFailed}) {
		t.Errorf("open in the lake: %v", rules)
	}

	// The next run gets past the failure, and a check blocks its publish.
	run("run-2", alert.StatusBlocked, func(r *alert.Run) {
		r.Checks = []quality.Result{{Name: "unique_order_id", Kind: "unique", Severity: mesh.Error, Status: mesh.StatusFail, Failing: 3, Message: "3 duplicate rows"}}
	})
	for _, r := range receive("blocked run", append(each("shop.orders/check_blocked/2#1"), each("shop.orders/run_failed/1#resolved")...)...) {
		if strings.Contains(r.ID, "check_blocked") && (!strings.Contains(r.Text, "check unique_order_id failed (3 rows: 3 duplicate rows)") || !strings.Contains(r.Text, "mesh check-rows shop.orders unique_order_id")) {
			t.Errorf("%s lacks the check or its command:\n%s", r, r.Text)
		}
	}

	// The freshness evaluation finds it stale.
	if err := n.WatchFreshness(ctx, shop); err != nil {
		t.Fatal(err)
	}
	for _, r := range receive("stale", each("shop.orders/freshness/3#1")...) {
		if !strings.Contains(r.Text, "shop.orders: the data is stale") || !strings.Contains(r.Text, "stale: last published 3h0m0s ago") {
			t.Errorf("%s:\n%s", r, r.Text)
		}
	}
	if rules := openRules(); !slices.Equal(rules, []mesh.AlertRule{mesh.AlertCheckBlocked, mesh.AlertFreshness}) {
		t.Errorf("open in the lake: %v", rules)
	}

	// The HTTP receiver goes down; a run publishes and the product is fresh again.
	hr.setDown(true)
	fresh.set(mesh.StatusPass, time.Minute)
	run("run-3", alert.StatusPublished, nil)
	resolved := []string{"shop.orders/check_blocked/2#resolved", "shop.orders/freshness/3#resolved"}
	receive("e-mails while the HTTP receiver is down", "email "+resolved[0], "email "+resolved[1])
	// Down for a while: each HTTP channel is refused twice (retried) before it is back.
	refusals := map[alert.Channel]int{}
	for refusals[alert.Slack] < 2 || refusals[alert.Webhook] < 2 {
		select {
		case ch := <-hr.refused:
			refusals[ch]++
		case <-ctx.Done():
			t.Fatalf("refusals %v: the deliveries were not retried", refusals)
		}
	}
	desc, err := st.Client.DescribeWorkflowExecution(ctx, alert.WorkflowID("shop", "orders"), "")
	if err != nil {
		t.Fatal(err)
	}
	var retrying []string
	for _, pa := range desc.GetPendingActivities() {
		if pa.GetAttempt() == 1 {
			continue // an e-mail's delivery, completing
		}
		msg := pa.GetLastFailure().GetMessage()
		retrying = append(retrying, msg)
		assertNoSecret(t, "a retried delivery's failure", msg)
	}
	if len(retrying) != 2 || !slices.ContainsFunc(retrying, func(m string) bool { return strings.Contains(m, "to slack: the receiver answered 503") }) ||
		!slices.ContainsFunc(retrying, func(m string) bool { return strings.Contains(m, "to webhook: ") }) {
		t.Errorf("the pending deliveries say %q: want slack's 503 and the webhook's hang-up", retrying)
	}
	hr.setDown(false)
	receive("the HTTP receiver back", "slack "+resolved[0], "slack "+resolved[1], "webhook "+resolved[0], "webhook "+resolved[1])
	if rules := openRules(); len(rules) != 0 {
		t.Errorf("open after recovery: %v", rules)
	}

	// One more alert: each channel delivers in order, so a duplicate of an earlier one
	// would have come before it.
	run("run-4", alert.StatusFailed, func(r *alert.Run) { r.Error = "boom" })
	receive("a new failure", each("shop.orders/run_failed/4#1")...)
	wantOrder := []string{
		"shop.orders/run_failed/1#1", "shop.orders/check_blocked/2#1", "shop.orders/run_failed/1#resolved", "shop.orders/freshness/3#1",
		"shop.orders/check_blocked/2#resolved", "shop.orders/freshness/3#resolved", "shop.orders/run_failed/4#1",
	}
	for _, ch := range []alert.Channel{alert.Slack, alert.Webhook, alert.Email} {
		var ids []string
		for _, r := range all {
			if r.Channel == ch {
				ids = append(ids, r.ID)
				assertNoSecret(t, r.String(), r.Text)
			}
		}
		if !slices.Equal(ids, wantOrder) {
			t.Errorf("%s received %v, want each once, in order: %v", ch, ids, wantOrder)
		}
	}
	select {
	case r := <-got:
		t.Errorf("an extra notification: %s", r)
	default:
	}

	// Nothing Temporal keeps of the alerts — inputs, results, failures — shows a secret.
	// With MESHFLOW_RECORD_HISTORIES=<dir> the histories are kept for the replay test.
	for file, id := range map[string]string{"alerts_product.json": alert.WorkflowID("shop", "orders"), "alerts_freshness.json": alert.FreshnessWorkflowID("shop")} {
		it := st.Client.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		hist := &historypb.History{}
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			hist.Events = append(hist.Events, ev)
			b, _ := protojson.Marshal(ev)
			assertNoSecret(t, fmt.Sprintf("%s event %d", id, ev.GetEventId()), string(b))
			for _, p := range ev.GetWorkflowExecutionSignaledEventAttributes().GetInput().GetPayloads() {
				assertNoSecret(t, id+" signal", string(p.GetData()))
			}
			for _, p := range ev.GetActivityTaskScheduledEventAttributes().GetInput().GetPayloads() {
				assertNoSecret(t, id+" activity input", string(p.GetData()))
			}
		}
		if len(hist.Events) == 0 {
			t.Errorf("no history of %s", id)
		}
		if dir := os.Getenv("MESHFLOW_RECORD_HISTORIES"); dir != "" {
			b, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(hist)
			if err == nil {
				err = os.WriteFile(filepath.Join(dir, file), b, 0o644)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
}

func assertNoSecret(t *testing.T, where, s string) {
	t.Helper()
	for _, secret := range secrets {
		if strings.Contains(s, secret) {
			t.Errorf("%s shows the secret %q", where, secret)
		}
	}
}
