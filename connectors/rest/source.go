package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"golang.org/x/oauth2/jwt"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/secret"
	"github.com/meshflow/meshflow/framework/source"
)

// Options tune a spec source beyond its variables; nil means defaults.
type Options struct {
	HTTPClient *http.Client     // [a client with the configured timeout]
	Now        func() time.Time // the clock of waits and of a missing SyncStart [time.Now]
	// Jitter draws the jitter added to an error rule's wait, between lo and hi
	// [uniformly at random].
	Jitter func(lo, hi time.Duration) time.Duration
}

// Source is a configured spec source: a source.Source whose streams page, resume and
// classify errors as its spec says.
type Source struct {
	spec    *Spec
	api     *source.API
	vals    source.Values
	now     func() time.Time
	jitter  func(lo, hi time.Duration) time.Duration
	streams []*stream
}

var (
	_ source.Source = (*Source)(nil)
	_ source.Tuned  = (*Source)(nil)
)

// Connector is the spec as the platform registers it: its name, variables, streams
// and constructor. Sandbox is the caller's to set: a spec knows no imitation.
func (s *Spec) Connector() source.Connector {
	return source.Connector{
		Name: s.name, Title: s.title, Vars: s.Vars(), Streams: s.StreamSpecs(),
		Open:     func(v source.Values) (source.Source, error) { return s.New(v, nil) },
		SpecFile: s.file,
		Reload:   source.SpecReload(s.file, Parse),
	}
}

// Vars are the variables the source reads: the credentials declared, the base URL
// (<PREFIX>_BASE_URL), the other declared ones, the pace
// (<PREFIX>_REQUESTS_PER_SECOND or _PER_MINUTE) and the timeout (<PREFIX>_HTTP_TIMEOUT).
func (s *Spec) Vars() []source.Var {
	var creds, others []source.Var
	for _, v := range s.vars {
		sv := source.Var{Name: v.name, Doc: v.doc, Credential: v.credential, Secret: v.secret, File: v.secret, Locates: v.locates}
		if v.def != "" {
			sv.Default = "`" + v.def + "`"
		}
		if v.integer {
			sv.Doc = strings.TrimSuffix(sv.Doc, ".") + " (" + v.bounds() + ")"
			sv.Check = v.check
		}
		if v.credential {
			creds = append(creds, sv)
		} else {
			others = append(others, sv)
		}
	}
	out := append(creds, source.Var{Name: s.baseURLVar(), Locates: true, Default: "`" + s.baseURL + "`", Doc: s.title + " API"})
	out = append(out, others...)
	if s.rate != nil {
		out = append(out, s.pace().Var(s.rate.doc))
	}
	return append(out, s.timeoutVarOf().Var(s.title))
}

func (s *Spec) pace() source.PaceVar {
	return source.PaceVar{Name: s.paceVar(), Default: s.rate.def, Max: s.rate.max, PerMinute: s.rate.perMinute}
}

func (s *Spec) timeoutVarOf() source.TimeoutVar {
	return source.TimeoutVar{Name: s.timeoutVar(), Default: s.timeout}
}

// New builds the source from its variables' values; an error names the variable to
// fix. vals may hold source.Unpaced (a sandbox without limits).
func (s *Spec) New(vals source.Values, o *Options) (*Source, error) {
	op := s.name + ": config"
	if o == nil {
		o = &Options{}
	}
	v := source.Values{}
	for k, x := range vals {
		v[k] = x
	}
	for _, d := range s.vars {
		if v.Get(d.name) == "" && d.def != "" {
			v[d.name] = d.def
		}
		val := v.Get(d.name)
		if val == "" && d.required {
			how := d.how
			if how == "" {
				how = "set it to the " + strings.ToLower(strings.TrimSuffix(d.doc, "."))
			}
			return nil, errs.Errorf(errs.Invalid, op, "%s is not set: %s", d.name, how)
		}
		if d.secret && s.oneLine(d.name) && strings.ContainsAny(val, " \t\r\n") {
			return nil, errs.Errorf(errs.Invalid, op, "%s contains whitespace: copy it again without spaces or line breaks", d.name)
		}
		if val != "" {
			if err := d.check(val); err != nil {
				return nil, err
			}
		}
	}
	src := &Source{spec: s, vals: v, now: o.Now, jitter: o.Jitter}
	if src.now == nil {
		src.now = time.Now
	}
	if src.jitter == nil {
		src.jitter = func(lo, hi time.Duration) time.Duration { return lo + rand.N(hi-lo+1) }
	}
	var pacer *source.Pacer
	if s.rate != nil {
		pace, err := s.pace().Read(v)
		if err != nil {
			return nil, err
		}
		def := s.rate.def
		if s.rate.perMinute {
			def /= 60
			if pace > 0 {
				pace /= 60
			}
		}
		pacer = source.NewPacer(source.Pace(pace, def), s.title+"'s request pacing")
	}
	timeout, err := s.timeoutVarOf().Read(v)
	if err != nil {
		return nil, err
	}
	auth, secrets, err := s.buildAuth(v)
	if err != nil {
		return nil, err
	}
	header := http.Header{"User-Agent": {"meshflow-" + s.name + "/1"}}
	e := &env{vals: v}
	for _, h := range s.headers {
		if x := h.value.text(e, nil); x != "" {
			header.Set(h.name, x)
		}
	}
	src.api, err = source.NewAPI(source.APIOptions{
		Title: s.title, BaseURL: v.Or(s.baseURLVar(), s.baseURL), BaseURLVar: s.baseURLVar(), Credentials: s.credentialsHint(),
		HTTPClient: o.HTTPClient, Timeout: cmpDuration(timeout, s.timeout), Auth: auth, Pacer: pacer, Header: header,
		Secrets: secrets, Classify: src.classify, Now: src.now,
	})
	if err != nil {
		return nil, err
	}
	for _, def := range s.streams {
		src.streams = append(src.streams, newStream(src, def))
	}
	for _, st := range src.streams {
		if p := st.def.parentName(); p != "" {
			st.parent = src.stream(p)
		}
	}
	return src, nil
}

func cmpDuration(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// oneLine reports whether variable name goes into a header or a query parameter,
// where whitespace cannot be meant (a service-account key is JSON over many lines).
func (s *Spec) oneLine(name string) bool {
	if s.auth == nil || s.auth.kind == "service_account" {
		return false
	}
	for _, t := range s.auth.templates() {
		for _, r := range t.refs() {
			if r.name == name {
				return true
			}
		}
	}
	return false
}

// credentialsHint says what to fix when the API refuses the credentials.
func (s *Spec) credentialsHint() string {
	var parts []string
	for _, v := range s.vars {
		if !v.credential {
			continue
		}
		if v.how != "" {
			parts = append(parts, v.name+" ("+v.how+")")
		} else {
			parts = append(parts, v.name)
		}
	}
	return "check " + strings.Join(parts, " and ")
}

// buildAuth makes the Auth the spec declares, and the secrets besides it that no error
// may show (every secret variable's value).
func (s *Spec) buildAuth(v source.Values) (source.Auth, []string, error) {
	var secrets []string
	for _, d := range s.vars {
		if d.secret && v.Get(d.name) != "" {
			secrets = append(secrets, v.Get(d.name))
		}
	}
	a := s.auth
	if a == nil {
		return nil, secrets, nil
	}
	e := &env{vals: v}
	text := func(t template) string { return t.text(e, nil) }
	tokenURL := text(a.tokenURL)
	if strings.HasPrefix(tokenURL, "/") {
		tokenURL = strings.TrimRight(v.Or(s.baseURLVar(), s.baseURL), "/") + tokenURL
	}
	style := oauth2.AuthStyleInHeader
	if a.style == "params" {
		style = oauth2.AuthStyleInParams
	}
	oauth := func(token func(context.Context) (*oauth2.Token, error), extra ...string) source.Auth {
		return source.OAuth2(source.OAuth2Options{Title: s.title, TokenURL: tokenURL, Credentials: s.credentialsHint(), Token: token,
			Secrets: append(slices.Clone(secrets), extra...), Scheme: a.scheme, Refused: a.refused})
	}
	switch a.kind {
	case "bearer":
		return source.Bearer(secret.Value(text(a.token))), secrets, nil
	case "basic":
		return source.Basic(text(a.username), secret.Value(text(a.password))), secrets, nil
	case "api_key":
		if a.in == "query" {
			return source.APIKeyQuery(a.name, secret.Value(text(a.value))), secrets, nil
		}
		return source.APIKeyHeader(a.name, secret.Value(text(a.value)), a.prefix), secrets, nil
	case "oauth2_client_credentials":
		cfg := &clientcredentials.Config{ClientID: text(a.clientID), ClientSecret: text(a.clientSecret), TokenURL: tokenURL, Scopes: a.scopes, AuthStyle: style}
		if len(a.params) > 0 {
			cfg.EndpointParams = map[string][]string{}
			for _, p := range a.params {
				cfg.EndpointParams[p.name] = []string{text(p.value)}
			}
		}
		return oauth(source.ClientCredentials(cfg), cfg.ClientSecret), secrets, nil
	case "oauth2_refresh_token":
		cfg := &oauth2.Config{ClientID: text(a.clientID), ClientSecret: text(a.clientSecret), Scopes: a.scopes,
			Endpoint: oauth2.Endpoint{TokenURL: tokenURL, AuthStyle: style}}
		rt := text(a.refreshToken)
		return oauth(source.RefreshToken(cfg, secret.Value(rt)), cfg.ClientSecret, rt), secrets, nil
	case "service_account":
		var key struct {
			Email        string `json:"client_email"`
			PrivateKey   string `json:"private_key"`
			PrivateKeyID string `json:"private_key_id"`
			TokenURI     string `json:"token_uri"`
		}
		var names []string
		for _, r := range a.key.refs() {
			names = append(names, r.name)
		}
		if err := json.Unmarshal([]byte(text(a.key)), &key); err != nil || key.Email == "" || key.PrivateKey == "" {
			return nil, nil, errs.Errorf(errs.Invalid, s.name+": config", "%s does not hold a service-account key (JSON with client_email and private_key): download a JSON key of the service account", strings.Join(names, ", "))
		}
		if tokenURL == "" {
			tokenURL = key.TokenURI
		}
		cfg := &jwt.Config{Email: key.Email, PrivateKey: []byte(key.PrivateKey), PrivateKeyID: key.PrivateKeyID, Scopes: a.scopes, TokenURL: tokenURL, Subject: text(a.subject)}
		return oauth(source.ServiceAccount(cfg), source.PrivateKeySecrets(key.PrivateKey)...), secrets, nil
	}
	return nil, nil, errs.Errorf(errs.Internal, s.name+": config", "auth type %q", a.kind)
}

// Name is the source's name.
func (src *Source) Name() string { return src.spec.name }

// Streams are the spec's streams, in its order.
func (src *Source) Streams() []source.Stream {
	out := make([]source.Stream, len(src.streams))
	for i, st := range src.streams {
		out[i] = st
	}
	return out
}

func (src *Source) stream(name string) *stream {
	for _, st := range src.streams {
		if st.def.name == name {
			return st
		}
	}
	return nil
}

// Tuning is the pace of every request and the HTTP timeout.
func (src *Source) Tuning() source.Tuning { return src.api.Tuning() }

// Check makes the spec's check request — by default the first page of its first
// stream without a parent — the cheapest call that proves the credentials.
func (src *Source) Check(ctx context.Context) error {
	op := src.spec.name + ": check"
	var call source.Call
	if c := src.spec.check; c != nil {
		call = buildCall(op, c, &env{vals: src.vals})
	} else {
		for _, st := range src.streams {
			if st.parent == nil {
				call = st.call(op, pageState{}, &env{vals: src.vals}, false)
				break
			}
		}
	}
	r, err := src.api.Do(ctx, call)
	if err == nil {
		err = src.classify2xx(op, r)
	}
	if _, ok := asRecord(err); ok || isSkip(err) {
		return nil
	}
	return err
}

// buildCall fills a request's templates in.
func buildCall(op string, r *request, e *env) source.Call {
	c := source.Call{Op: op, Method: r.method, Path: r.path.text(e, pathEscape), Header: http.Header{}, Query: map[string][]string{}}
	for _, q := range r.query {
		if v := q.value.text(e, nil); v != "" {
			c.Query.Set(q.name, v)
		}
	}
	for _, h := range r.headers {
		if v := h.value.text(e, nil); v != "" {
			c.Header.Set(h.name, v)
		}
	}
	if r.body != nil {
		c.Body = fill(r.body, e)
	}
	return c
}

// pathEscape escapes a placeholder's value inside a path: a parent id holding a
// slash stays one segment.
func pathEscape(s string) string { return url.PathEscape(s) }

// skipped is what a "skip" rule makes of an answer: no records here (a lookup
// without a match), not an error. It never leaves the package.
type skipped struct {
	op     string
	status int
}

func (e *skipped) Error() string {
	return fmt.Sprintf("%s: HTTP %d means nothing to read here", e.op, e.status)
}

func isSkip(err error) bool {
	var s *skipped
	return errors.As(err, &s)
}

// recorded is what a "record" rule makes of an answer: its body is the stream's
// record (PDL's 404 "no match" lands as the outcome it is), not an error. Its body
// is a JSON object, or the answer is an error after all (recordError).
type recorded struct {
	op     string
	status int
	body   json.RawMessage
}

func (e *recorded) Error() string {
	return fmt.Sprintf("%s: HTTP %d is a record of the stream", e.op, e.status)
}

// asRecord returns the record a "record" rule made of an answer.
func asRecord(err error) (json.RawMessage, bool) {
	var r *recorded
	if !errors.As(err, &r) {
		return nil, false
	}
	return r.body, true
}

// classify applies the spec's error rules to an answer outside 2xx; nil leaves it to
// the API's default classification.
func (src *Source) classify(op string, r *source.Response) error {
	for i := range src.spec.rules {
		if ru := &src.spec.rules[i]; ru.matches(r) {
			return src.ruleError(op, r, ru)
		}
	}
	return nil
}

// classify2xx applies the rules that name a 2xx status (an API that answers 200 with
// an error body).
func (src *Source) classify2xx(op string, r *source.Response) error {
	for i := range src.spec.rules {
		if ru := &src.spec.rules[i]; len(ru.statuses) > 0 && ru.matches(r) {
			return src.ruleError(op, r, ru)
		}
	}
	return nil
}

func (ru *rule) matches(r *source.Response) bool {
	if len(ru.statuses) > 0 && !slices.Contains(ru.statuses, r.Status) {
		return false
	}
	if len(ru.statuses) == 0 && r.Status/100 == 2 {
		return false // a body rule without a status never turns a success into an error
	}
	return ru.contains == "" || strings.Contains(strings.ToLower(string(r.Body)), ru.contains)
}

func (src *Source) ruleError(op string, r *source.Response, ru *rule) error {
	title := src.spec.title
	text := fmt.Sprintf("%s answered HTTP %d", title, r.Status)
	if ru.message != "" {
		text += ": " + ru.message
	}
	said := r.Said()
	kinds := map[string]errs.Kind{"permission": errs.Permission, "invalid": errs.Invalid, "not_found": errs.NotFound,
		"transient": errs.Transient, "rate_limited": errs.RateLimited, "quota": errs.Quota}
	switch ru.kind {
	case "skip":
		return &skipped{op: op, status: r.Status}
	case "record":
		if body := bytes.TrimSpace(r.Body); len(body) > 0 && body[0] == '{' && json.Valid(body) {
			return &recorded{op: op, status: r.Status, body: body}
		}
		// A proxy's page or a body cut off: not the API's answer, so try again.
		return errs.Errorf(errs.Transient, op, "%s, which is a record of the stream, but its body is not a JSON object (%d bytes): %s",
			text, len(r.Body), truncate(r.Scrub(string(r.Body)), 120))
	case "rate_limited", "quota", "transient":
		wait, ok := src.wait(ru, r)
		limit := ru.limit
		if limit == "" {
			limit = title + "'s rate limit"
			if ru.kind == "quota" {
				limit = title + "'s quota"
			}
		}
		var e *errs.Error
		if ru.kind == "quota" {
			until := src.now().Add(wait)
			e = errs.Errorf(errs.Quota, op, "%s; it resets at %s. %s said: %s", text, until.UTC().Format(time.RFC3339), title, said)
			e.Until = until
		} else if ok {
			e = errs.Errorf(kinds[ru.kind], op, "%s; retry in %v. %s said: %s", text, wait.Round(time.Millisecond), title, said)
		} else {
			e = errs.Errorf(kinds[ru.kind], op, "%s. %s said: %s", text, title, said)
		}
		if ok {
			e.RetryAfter, e.Limit = wait, limit
		}
		return e
	}
	return errs.Errorf(kinds[ru.kind], op, "%s. %s said: %s", text, title, said)
}

// wait is how long a rule's answer says to wait: its first wait that applies, plus
// jitter; false when none does (the Reader then backs off on its own).
func (src *Source) wait(ru *rule, r *source.Response) (time.Duration, bool) {
	now := src.now()
	loc := ru.zone
	if loc == nil {
		loc = time.UTC
	}
	for _, w := range ru.waits {
		var d time.Duration
		switch w.kind {
		case "retry_after":
			x, ok := r.RetryAfter()
			if !ok {
				continue
			}
			d = x
		case "header":
			x, ok := resetIn(r.Header.Get(w.header), now)
			if !ok {
				continue
			}
			d = x
		case "next_minute":
			d = now.Truncate(time.Minute).Add(time.Minute).Sub(now)
		case "next_hour":
			t := now.In(loc)
			d = time.Date(t.Year(), t.Month(), t.Day(), t.Hour()+1, 0, 0, 0, loc).Sub(now)
		case "next_day":
			t := now.In(loc)
			d = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, loc).Sub(now)
		case "fixed":
			d = w.d
		}
		if ru.jitter[1] > 0 {
			d += src.jitter(ru.jitter[0], ru.jitter[1])
		}
		return d, true
	}
	return 0, false
}

// resetIn reads a reset header: epoch seconds or milliseconds, seconds from now, an
// RFC 3339 time, an HTTP date, or a UTC time as 2006-01-02 15:04:05.
func resetIn(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil && n >= 0 {
		switch {
		case n > 1e12:
			return max(0, time.UnixMilli(int64(n)).Sub(now)), true
		case n > 1e9:
			return max(0, time.Unix(int64(n), 0).Sub(now)), true
		}
		return time.Duration(n * float64(time.Second)), true
	}
	// "2006-01-02 15:04:05" is UTC without a zone: People Data Labs' x-ratelimit-reset
	// as clients report it from the live API (its docs show RFC 3339).
	for _, layout := range []string{time.RFC3339Nano, http.TimeFormat, time.RFC1123, time.DateTime} {
		if t, err := time.Parse(layout, v); err == nil {
			return max(0, t.Sub(now)), true
		}
	}
	return 0, false
}
