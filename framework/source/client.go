package source

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/secret"
)

// DefaultHTTPTimeout bounds one request of an API whose connector sets no timeout of
// its own, its answer read.
const DefaultHTTPTimeout = 60 * time.Second

// API is the HTTP client of one configured source: the plumbing every connector
// would otherwise repeat lives here once — the base URL, credentials on every request
// (Auth), one pace for the whole account (Pacer), bounded body reading, transport
// failures mapped to error kinds (Send), Retry-After in seconds or as an HTTP date,
// and no secret in any error text. A connector keeps what is its API's own: its
// paging and its error classification (APIOptions.Classify).
//
// It is safe for concurrent use: a Source's streams share one API and so one pace.
type API struct {
	title       string
	base        *url.URL
	baseStr     string
	baseVar     string
	credentials string
	http        *http.Client
	auth        Auth
	pacer       *Pacer
	header      http.Header
	secrets     []string
	classify    Classifier
	maxBody     int64
	now         func() time.Time
}

// APIOptions configure an API. Title and BaseURL are required.
type APIOptions struct {
	Title   string // the vendor as people call it, in messages: "Crunchbase"
	BaseURL string // absolute http(s) URL, API version included; request paths are below it
	// BaseURLVar is the variable that sets BaseURL, named when the API answers 404
	// ("CRUNCHBASE_BASE_URL"); "" names the URL alone.
	BaseURLVar string
	// Credentials says what to fix when the API refuses the credentials (HTTP 401 or
	// 403): "set CRUNCHBASE_USER_KEY to the API user key of an account with API access".
	Credentials string

	HTTPClient *http.Client  // [a client with Timeout]
	Timeout    time.Duration // one request, its answer read [DefaultHTTPTimeout]
	Auth       Auth          // nil: requests carry no credentials
	// Pacer spaces every request of the account, all streams together (nil:
	// unpaced). A Call may name another one (HubSpot paces searches apart).
	Pacer *Pacer
	// Header is sent with every request (Accept is application/json unless set here).
	Header http.Header
	// Secrets are values besides Auth's that no error may show (a client secret
	// that never goes on a request).
	Secrets []string
	// Classify maps the API's error answers; nil, or nil from it, leaves an answer
	// to the default classification (see Classifier).
	Classify Classifier
	MaxBody  int64            // the largest body read [MaxBody]
	Now      func() time.Time // the clock Retry-After dates are read against [time.Now]
}

// Classifier maps an answer outside 2xx (and outside Call.Accept) to an
// *errs.Error: the API's own error bodies, limits and quotas. It returns nil for an
// answer it leaves to the default classification:
//
//	401, 403    Permission (never retried), saying APIOptions.Credentials
//	404         NotFound, naming APIOptions.BaseURLVar
//	429         RateLimited, RetryAfter from Retry-After (0 without: the Reader backs off)
//	408, 5xx    Transient, RetryAfter from Retry-After when sent
//	other 4xx   Invalid, quoting the API's message
//
// r.Said() and r.Scrub scrub what the server sent: use them for every text an error
// quotes, since a server may echo a credential back.
type Classifier func(op string, r *Response) error

// Call is one request.
type Call struct {
	Op     string // what is being done, for errors: "crunchbase: search organizations"
	Method string // [GET; POST when Body is set]
	// Path is below the base URL ("/searches/organizations"), or an absolute URL
	// below it (a Link header's next page, followed verbatim); one elsewhere is
	// refused, so the credentials never go to another host.
	Path  string
	Query url.Values // added to Path's query
	// Body is sent as JSON: a []byte or json.RawMessage as it is, anything else
	// through encoding/json. nil: no body.
	Body   any
	Header http.Header
	Pacer  *Pacer // instead of the API's
	Accept []int  // statuses outside 2xx returned as answers, not errors (GitHub's 304)
	// Classify maps this call's error answers before the API's Classifier, for
	// errors that name what the call was about (a repository, a property); nil, or
	// nil from it, leaves an answer to the API's.
	Classify Classifier
}

// Response is an answer the API received.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	now    func() time.Time
	scrub  func(string) string
}

// NewAPI checks o and returns the API.
func NewAPI(o APIOptions) (*API, error) {
	const op = "http client"
	if strings.TrimSpace(o.Title) == "" {
		return nil, errs.Errorf(errs.Invalid, op, "APIOptions.Title is empty")
	}
	base, err := url.Parse(strings.TrimRight(o.BaseURL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		what := "the base URL"
		if o.BaseURLVar != "" {
			what = o.BaseURLVar
		}
		return nil, errs.Errorf(errs.Invalid, op+" "+o.Title, "%s %q is not an absolute http(s) URL such as https://api.example.com/v1", what, o.BaseURL)
	}
	a := &API{
		title: o.Title, base: base, baseStr: base.String(), baseVar: o.BaseURLVar, credentials: o.Credentials,
		http: Client(o.HTTPClient, o.Timeout, DefaultHTTPTimeout), auth: o.Auth, pacer: o.Pacer,
		header: o.Header.Clone(), classify: o.Classify, maxBody: cmp.Or(o.MaxBody, MaxBody), now: o.Now,
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.header == nil {
		a.header = http.Header{}
	}
	if a.header.Get("Accept") == "" {
		a.header.Set("Accept", "application/json")
	}
	if a.header.Get("User-Agent") == "" {
		a.header.Set("User-Agent", "meshflow/1")
	}
	for _, s := range o.Secrets {
		if s != "" {
			a.secrets = append(a.secrets, s)
		}
	}
	if f, ok := o.Auth.(interface{ fetchWith(*http.Client) }); ok {
		f.fetchWith(a.http) // a token endpoint is reached with the API's own client and timeout
	}
	return a, nil
}

// BaseURL is the base URL requests go below, without a trailing slash.
func (a *API) BaseURL() string { return a.baseStr }

// Pacer is the API's pace (nil: unpaced).
func (a *API) Pacer() *Pacer { return a.pacer }

// Timeout bounds one request, its answer read.
func (a *API) Timeout() time.Duration { return a.http.Timeout }

// Tuning is the API's pace and timeout, for mesh doctor.
func (a *API) Tuning() Tuning {
	var pacers []*Pacer
	if a.pacer != nil {
		pacers = append(pacers, a.pacer)
	}
	return Tuning{Pacers: pacers, HTTPTimeout: a.http.Timeout}
}

// Do sends one request and returns a 2xx answer (or one of c.Accept); any other
// outcome is an *errs.Error of the right kind whose text shows no secret. After a
// 401 an Auth that can renew its credentials (Renewer: an expired access token)
// renews them and the request goes once more.
func (a *API) Do(ctx context.Context, c Call) (*Response, error) {
	op := c.Op
	target, err := a.Resolve(c.Path, c.Query)
	if err != nil {
		return nil, errs.E(errs.Invalid, op, err)
	}
	method := c.Method
	var payload []byte
	switch b := c.Body.(type) {
	case nil:
	case []byte:
		payload = b
	case json.RawMessage:
		payload = b
	default:
		if payload, err = json.Marshal(b); err != nil {
			return nil, errs.E(errs.Internal, op, err)
		}
	}
	if method == "" {
		method = http.MethodGet
		if c.Body != nil {
			method = http.MethodPost
		}
	}
	pacer := cmp.Or(c.Pacer, a.pacer)
	for renewed := false; ; renewed = true {
		if pacer != nil {
			if err := pacer.Wait(ctx); err != nil {
				return nil, errs.E(errs.Canceled, op, cmp.Or(ctx.Err(), err))
			}
		}
		var body *bytes.Reader
		if c.Body != nil {
			body = bytes.NewReader(payload)
		}
		req, err := newRequest(ctx, method, target, body)
		if err != nil {
			return nil, errs.E(errs.Invalid, op, errors.New(a.Scrub(err.Error())))
		}
		for _, h := range []http.Header{a.header, c.Header} {
			for k, vs := range h {
				req.Header[k] = slices.Clone(vs)
			}
		}
		if c.Body != nil && req.Header.Get("Content-Type") == "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if a.auth != nil {
			if err := a.auth.Authorize(ctx, req); err != nil {
				if e, ok := errs.As(err); ok && e.Op == "" {
					e.Op = op
				}
				return nil, err
			}
		}
		resp, b, err := Send(ctx, a.http, op, req, a.Scrub, a.maxBody)
		if err != nil {
			return nil, err
		}
		r := &Response{Status: resp.StatusCode, Header: resp.Header, Body: b, now: a.now, scrub: a.Scrub}
		if r.Status/100 == 2 || slices.Contains(c.Accept, r.Status) {
			return r, nil
		}
		if rn, ok := a.auth.(Renewer); ok && r.Status == http.StatusUnauthorized && !renewed {
			rn.Renew()
			continue
		}
		if c.Classify != nil {
			if err := c.Classify(op, r); err != nil {
				return nil, err
			}
		}
		return nil, a.Classify(op, r)
	}
}

// newRequest builds the request; a nil *bytes.Reader must reach net/http as a nil
// io.Reader, or it would read from it.
func newRequest(ctx context.Context, method, target string, body *bytes.Reader) (*http.Request, error) {
	if body == nil {
		return http.NewRequestWithContext(ctx, method, target, nil)
	}
	return http.NewRequestWithContext(ctx, method, target, body)
}

// JSON sends c and decodes the answer's body into v. A 2xx body that does not
// decode is taken for one cut off in transit: Transient, so the page is read again.
func (a *API) JSON(ctx context.Context, c Call, v any) (*Response, error) {
	r, err := a.Do(ctx, c)
	if err != nil {
		return nil, err
	}
	return r, Decode(c.Op, r.Body, v)
}

// Decode unmarshals a 2xx body; one that does not decode is Transient (cut off in
// transit, or a proxy's page), so the Reader tries the page again.
func Decode(op string, b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return errs.Errorf(errs.Transient, op, "undecodable response (%d bytes): %v", len(b), err)
	}
	return nil
}

// Classify maps an error answer: the API's Classifier first, then the default
// classification (see Classifier).
func (a *API) Classify(op string, r *Response) error {
	if a.classify != nil {
		if err := a.classify(op, r); err != nil {
			return err
		}
	}
	said := r.Said()
	switch code := r.Status; {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		fix := a.credentials
		if fix == "" {
			fix = "check the source's credentials"
		}
		return errs.Errorf(errs.Permission, op, "%s refused the credentials (HTTP %d): %s. %s said: %s", a.title, code, fix, a.title, said)
	case code == http.StatusNotFound:
		where := a.baseStr
		if a.baseVar != "" {
			where = a.baseVar + " (" + a.baseStr + ")"
		}
		return errs.Errorf(errs.NotFound, op, "%s answered HTTP 404: check %s. %s said: %s", a.title, where, a.title, said)
	case code == http.StatusTooManyRequests:
		wait, _ := r.RetryAfter()
		e := errs.Errorf(errs.RateLimited, op, "%s is rate limiting (HTTP 429), retry in %v: %s", a.title, wait, said)
		e.RetryAfter, e.Limit = wait, a.title+"'s rate limit"
		return e
	case code == http.StatusRequestTimeout || code >= 500:
		e := errs.Errorf(errs.Transient, op, "%s answered HTTP %d: %s", a.title, code, said)
		if wait, ok := r.RetryAfter(); ok {
			e.RetryAfter, e.Limit = wait, fmt.Sprintf("%s's Retry-After (HTTP %d)", a.title, code)
		}
		return e
	default:
		return errs.Errorf(errs.Invalid, op, "%s refused the request (HTTP %d): %s", a.title, code, said)
	}
}

// Resolve makes target (a path below the base URL, or an absolute URL) absolute,
// adds query to it, and refuses a URL off the API's scheme, host and base path: a
// URL from a server's answer is followed verbatim, and one pointing elsewhere would
// receive the credentials.
func (a *API) Resolve(target string, query url.Values) (string, error) {
	if !strings.HasPrefix(target, "http://") && !strings.HasPrefix(target, "https://") {
		if target != "" && !strings.HasPrefix(target, "/") && !strings.HasPrefix(target, "?") {
			target = "/" + target
		}
		target = a.baseStr + target
	}
	u, err := url.Parse(target)
	if err != nil {
		return "", fmt.Errorf("bad URL %q: %s", a.Scrub(target), a.Scrub(err.Error()))
	}
	if u.Scheme != a.base.Scheme || !strings.EqualFold(u.Host, a.base.Host) || !strings.HasPrefix(u.Path, a.base.Path) {
		return "", fmt.Errorf("refusing to send the credentials to %s, outside the API base %s", a.Scrub(u.Scheme+"://"+u.Host+u.Path), a.baseStr)
	}
	if len(query) > 0 {
		q := u.Query()
		for k, vs := range query {
			q[k] = vs
		}
		u.RawQuery = q.Encode()
	}
	return u.String(), nil
}

// Scrub replaces every secret — the Auth's, APIOptions.Secrets, and their URL and
// base64 encodings — in text that came from elsewhere (a server's message, a
// transport error quoting a URL) with secret.Redacted.
func (a *API) Scrub(text string) string {
	secrets := a.secrets
	if a.auth != nil {
		secrets = append(slices.Clip(secrets), a.auth.Secrets()...)
	}
	return ScrubSecrets(text, secrets...)
}

// ScrubSecrets replaces each non-empty secret, its URL-escaped forms and its base64
// encoding in text with secret.Redacted, longest first, so a secret containing
// another is replaced whole.
func ScrubSecrets(text string, secrets ...string) string {
	var forms []string
	for _, s := range secrets {
		if s == "" {
			continue
		}
		forms = append(forms, s, url.QueryEscape(s), url.PathEscape(s), base64.StdEncoding.EncodeToString([]byte(s)), base64.URLEncoding.EncodeToString([]byte(s)))
	}
	if len(forms) == 0 {
		return text
	}
	slices.SortFunc(forms, func(x, y string) int { return cmp.Compare(len(y), len(x)) })
	forms = slices.Compact(forms)
	pairs := make([]string, 0, 2*len(forms))
	for _, f := range forms {
		pairs = append(pairs, f, secret.Redacted)
	}
	return strings.NewReplacer(pairs...).Replace(text)
}

// Scrub removes the API's secrets from text.
func (r *Response) Scrub(text string) string {
	if r.scrub == nil {
		return text
	}
	return r.scrub(text)
}

// RetryAfter is how long the answer asks to wait: Retry-After in seconds or as an
// HTTP date; false without one.
func (r *Response) RetryAfter() (time.Duration, bool) {
	now := time.Now
	if r.now != nil {
		now = r.now
	}
	return RetryAfter(r.Header, now())
}

// RetryAfter reads h's Retry-After: delay seconds or an HTTP date (then the time
// until it, at least 0). False when it is absent or neither.
func RetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 && n < 1<<31 {
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, t.Sub(now)), true
	}
	return 0, false
}

// maxSaid bounds the server's words an error quotes.
const maxSaid = 400

// Said is what the server said about an error, scrubbed and at most a few hundred
// characters: the messages of a JSON error body (message, error, error_description,
// detail, title, errorMessages, at any depth up to three, "code: message" where an
// object has both), else a plain-text body, else the status text (an HTML page from
// a proxy, an empty body).
func (r *Response) Said() string {
	var v any
	text := ""
	if json.Unmarshal(r.Body, &v) == nil {
		text = strings.Join(messages(v, 0), "; ")
	} else if t := strings.TrimSpace(string(r.Body)); t != "" && !strings.HasPrefix(t, "<") {
		text = t
	}
	text = strings.TrimSpace(r.Scrub(text))
	if text == "" {
		text = http.StatusText(r.Status)
	}
	return truncate(text, maxSaid)
}

// messageKeys are the keys error bodies put their words under, across vendors.
var messageKeys = []string{"error", "message", "error_description", "detail", "title", "errorMessages", "errors"}

func messages(v any, depth int) []string {
	if depth > 3 {
		return nil
	}
	var out []string
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			out = append(out, messages(e, depth+1)...)
		}
	case map[string]any:
		var own []string
		for _, k := range messageKeys {
			switch m := x[k].(type) {
			case string:
				if m = strings.TrimSpace(m); m != "" {
					own = append(own, m)
				}
			case []any, map[string]any:
				out = append(out, messages(m, depth+1)...)
			}
		}
		if code, ok := x["code"].(string); ok && code != "" && len(own) > 0 {
			own[0] = code + ": " + own[0]
		}
		out = append(own, out...)
	case string:
		if depth > 0 && strings.TrimSpace(x) != "" {
			out = append(out, strings.TrimSpace(x))
		}
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// ParseLink reads an RFC 8288 Link header into rel → URL:
// <https://api.github.com/...&page=2>; rel="next", <...>; rel="last".
func ParseLink(h string) map[string]string {
	out := map[string]string{}
	for h != "" {
		start := strings.IndexByte(h, '<')
		end := strings.IndexByte(h, '>')
		if start < 0 || end < start {
			break
		}
		target := h[start+1 : end]
		h = h[end+1:]
		params := h
		if i := strings.IndexByte(h, '<'); i >= 0 {
			params, h = h[:i], h[i:]
		} else {
			h = ""
		}
		for _, p := range strings.Split(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(strings.TrimRight(strings.TrimSpace(p), ",")), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "rel") {
				for _, rel := range strings.Fields(strings.Trim(strings.TrimSpace(v), `"`)) {
					out[strings.ToLower(rel)] = target
				}
			}
		}
	}
	return out
}
