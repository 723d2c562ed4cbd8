package source

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"golang.org/x/oauth2/jwt"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/secret"
)

// Auth puts a source's credentials on each request an API sends.
type Auth interface {
	// Authorize sets the credentials on req, fetching a token first if it must; an
	// error is an *errs.Error (Permission when the credentials are refused).
	Authorize(ctx context.Context, req *http.Request) error
	// Secrets are the values no error text may show: keys, passwords, tokens, and
	// forms of them a server could echo (a Basic header's base64).
	Secrets() []string
}

// Renewer is an Auth whose credentials expire (an access token): after a 401 the API
// calls Renew and sends the request once more with fresh ones.
type Renewer interface {
	Renew()
}

// Bearer sends token as "Authorization: Bearer <token>".
func Bearer(token secret.Value) Auth {
	return &headerAuth{name: "Authorization", prefix: "Bearer ", value: &token}
}

// APIKeyHeader sends key in the header name, after prefix ("" for none).
func APIKeyHeader(name string, key secret.Value, prefix string) Auth {
	return &headerAuth{name: name, prefix: prefix, value: &key}
}

// headerAuth holds its secret behind a pointer: fmt prints unexported fields by
// reflection, bypassing secret.Value's redaction, but a pointer as an address.
type headerAuth struct {
	name, prefix string
	value        *secret.Value
}

func (h *headerAuth) Authorize(_ context.Context, req *http.Request) error {
	req.Header.Set(h.name, h.prefix+h.value.Reveal())
	return nil
}

func (h *headerAuth) Secrets() []string { return []string{h.value.Reveal()} }

// APIKeyQuery sends key as the query parameter name. Prefer a header where the API
// takes one: URLs end up in logs (errors never show it: the API scrubs them).
func APIKeyQuery(name string, key secret.Value) Auth {
	return &queryAuth{name: name, value: &key}
}

type queryAuth struct {
	name  string
	value *secret.Value
}

func (q *queryAuth) Authorize(_ context.Context, req *http.Request) error {
	v := req.URL.Query()
	v.Set(q.name, q.value.Reveal())
	req.URL.RawQuery = v.Encode()
	return nil
}

func (q *queryAuth) Secrets() []string { return []string{q.value.Reveal()} }

// Basic sends HTTP Basic credentials (Jira: an account's email and an API token).
func Basic(user string, password secret.Value) Auth {
	return &basicAuth{user: user, password: &password}
}

type basicAuth struct {
	user     string
	password *secret.Value
}

func (b *basicAuth) Authorize(_ context.Context, req *http.Request) error {
	req.SetBasicAuth(b.user, b.password.Reveal())
	return nil
}

// Secrets are the password and user:password, whose base64 is the header's value
// (ScrubSecrets scrubs the base64 form of every secret).
func (b *basicAuth) Secrets() []string {
	return []string{b.password.Reveal(), b.user + ":" + b.password.Reveal()}
}

// OAuth2Options configure an Auth that sends an access token from an OAuth2 token
// endpoint, fetched when first needed and again before it expires or after a 401.
type OAuth2Options struct {
	Title    string // the vendor, in messages: "Looker"
	TokenURL string // named in errors
	// Credentials says what to fix when the token endpoint refuses them (HTTP 400,
	// 401 or 403): "set LOOKER_CLIENT_ID and LOOKER_CLIENT_SECRET to an API key's".
	Credentials string
	// Token fetches a token; ctx carries the HTTP client to use as oauth2.HTTPClient
	// (ClientCredentials, RefreshToken and ServiceAccount build one).
	Token func(ctx context.Context) (*oauth2.Token, error)
	// Secrets are what the fetch sends that no error may show: a client secret, a
	// refresh token, a private key. Tokens fetched are added by themselves.
	Secrets []string
	// Scheme prefixes the token in the Authorization header [the token's type, Bearer].
	Scheme string
	// HTTPClient reaches the token endpoint [the API's client].
	HTTPClient *http.Client
	// Refused are statuses besides 400, 401 and 403 by which the token endpoint
	// refuses the credentials: Looker's /login answers a wrong API key 404.
	Refused []int
}

// OAuth2 is an Auth sending an access token fetched as o says.
func OAuth2(o OAuth2Options) Auth {
	return &oauth2Auth{o: o, client: o.HTTPClient}
}

type oauth2Auth struct {
	o      OAuth2Options
	client *http.Client

	mu      sync.Mutex
	current *oauth2.Token
	// fetched holds every access and refresh token this Auth received: an error
	// quoting one must be scrubbed even after it was replaced.
	fetched []string
}

// tokenMargin: a request must not start with a token about to expire.
const tokenMargin = time.Minute

func (a *oauth2Auth) fetchWith(c *http.Client) {
	if a.client == nil {
		a.client = c
	}
}

func (a *oauth2Auth) Authorize(ctx context.Context, req *http.Request) error {
	tok, err := a.token(ctx)
	if err != nil {
		return err
	}
	scheme := cmp.Or(a.o.Scheme, tok.Type())
	req.Header.Set("Authorization", scheme+" "+tok.AccessToken)
	return nil
}

func (a *oauth2Auth) Renew() {
	a.mu.Lock()
	a.current = nil
	a.mu.Unlock()
}

func (a *oauth2Auth) Secrets() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append(append([]string(nil), a.o.Secrets...), a.fetched...)
}

func (a *oauth2Auth) token(ctx context.Context) (*oauth2.Token, error) {
	a.mu.Lock()
	defer a.mu.Unlock() // one fetch at a time: parallel streams wait for it rather than each fetching
	if t := a.current; t != nil && (t.Expiry.IsZero() || time.Now().Add(tokenMargin).Before(t.Expiry)) {
		return t, nil
	}
	base := http.DefaultClient
	if a.client != nil {
		base = a.client
	}
	tr := cmp.Or(base.Transport, http.DefaultTransport)
	// x/oauth2/jwt posts without the request's context: a transport adding it lets a
	// cancellation interrupt a slow token endpoint too.
	hc := &http.Client{Transport: ctxTransport{ctx, tr}, Timeout: base.Timeout}
	t, err := a.o.Token(context.WithValue(ctx, oauth2.HTTPClient, hc))
	if err == nil && t.AccessToken == "" {
		err = errors.New("the token endpoint answered without an access_token")
	}
	if err != nil {
		return nil, a.tokenError(ctx, err)
	}
	a.fetched = append(a.fetched, t.AccessToken)
	if t.RefreshToken != "" {
		a.fetched = append(a.fetched, t.RefreshToken)
	}
	if len(a.fetched) > 16 { // a long-running worker renews for ever; errors only quote recent ones
		a.fetched = a.fetched[len(a.fetched)-16:]
	}
	a.current = t
	return t, nil
}

func (a *oauth2Auth) scrub(text string) string {
	return ScrubSecrets(text, append(append([]string(nil), a.o.Secrets...), a.fetched...)...)
}

type ctxTransport struct {
	ctx  context.Context
	base http.RoundTripper
}

func (t ctxTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return t.base.RoundTrip(r.WithContext(t.ctx))
}

// tokenError maps a failed token fetch:
//
//	400, 401, 403   Permission: the credentials are wrong, revoked or expired
//	429             RateLimited, with Retry-After
//	408, 5xx        Transient
//	other answers   Invalid, naming the token URL
//	no answer       Transient (network), or Canceled
func (a *oauth2Auth) tokenError(ctx context.Context, err error) error {
	const op = "" // the API sets the call's
	if ctx.Err() != nil {
		return errs.E(errs.Canceled, op, ctx.Err())
	}
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.Response == nil {
		return errs.Errorf(errs.Transient, op, "fetching an access token from %s failed: %s", a.o.TokenURL, a.scrub(err.Error()))
	}
	code := re.Response.StatusCode
	said := http.StatusText(code)
	var body struct {
		Error       json.RawMessage `json:"error"`
		Description string          `json:"error_description"`
	}
	if json.Unmarshal(re.Body, &body) == nil {
		var short string
		if json.Unmarshal(body.Error, &short) == nil && short != "" { // OAuth: {"error":"invalid_grant","error_description":...}
			said = strings.TrimSpace(short + ": " + body.Description)
		} else {
			said = (&Response{Status: code, Body: re.Body}).Said()
		}
	}
	said = truncate(a.scrub(said), maxSaid)
	switch {
	case code == http.StatusBadRequest || code == http.StatusUnauthorized || code == http.StatusForbidden || slices.Contains(a.o.Refused, code):
		fix := cmp.Or(a.o.Credentials, "check the source's credentials")
		return errs.Errorf(errs.Permission, op, "%s refused the credentials at its token endpoint (HTTP %d %s): %s", a.o.Title, code, said, fix)
	case code == http.StatusTooManyRequests:
		e := errs.Errorf(errs.RateLimited, op, "%s's token endpoint is rate limiting (HTTP 429): %s", a.o.Title, said)
		e.Limit = "the rate limit of " + a.o.Title + "'s token endpoint"
		e.RetryAfter, _ = RetryAfter(re.Response.Header, time.Now())
		return e
	case code == http.StatusRequestTimeout || code >= 500:
		return errs.Errorf(errs.Transient, op, "the token endpoint %s answered HTTP %d: %s", a.o.TokenURL, code, said)
	default:
		return errs.Errorf(errs.Invalid, op, "the token endpoint %s refused the request (HTTP %d): %s", a.o.TokenURL, code, said)
	}
}

// ClientCredentials fetches tokens with OAuth2's client credentials grant
// (cfg.AuthStyle chooses Basic or form parameters for the client's id and secret).
func ClientCredentials(cfg *clientcredentials.Config) func(context.Context) (*oauth2.Token, error) {
	return cfg.Token
}

// RefreshToken fetches tokens with OAuth2's refresh token grant. A token endpoint
// that rotates refresh tokens sends a new one with each access token; the next fetch
// uses it (in memory: a restarted worker starts again from the configured one).
func RefreshToken(cfg *oauth2.Config, refresh secret.Value) func(context.Context) (*oauth2.Token, error) {
	var mu sync.Mutex
	current := refresh
	return func(ctx context.Context) (*oauth2.Token, error) {
		mu.Lock()
		rt := current.Reveal()
		mu.Unlock()
		t, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: rt}).Token()
		if err != nil {
			return nil, err
		}
		if t.RefreshToken != "" {
			mu.Lock()
			current = secret.Value(t.RefreshToken)
			mu.Unlock()
		}
		return t, nil
	}
}

// ServiceAccount fetches tokens with the JWT bearer grant (RFC 7523): a JWT signed
// with the service account's private key, exchanged at cfg.TokenURL (Google's
// service accounts).
func ServiceAccount(cfg *jwt.Config) func(context.Context) (*oauth2.Token, error) {
	return func(ctx context.Context) (*oauth2.Token, error) { return cfg.TokenSource(ctx).Token() }
}

// PrivateKeySecrets are the lines of a PEM private key long enough to be its body,
// for OAuth2Options.Secrets: a server echoing part of a key is scrubbed line by line.
func PrivateKeySecrets(pem string) []string {
	out := []string{pem}
	for _, line := range strings.Split(pem, "\n") {
		if line = strings.TrimSpace(line); len(line) >= 16 && !strings.HasPrefix(line, "-----") {
			out = append(out, line)
		}
	}
	return out
}
