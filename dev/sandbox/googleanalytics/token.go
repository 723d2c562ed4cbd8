package googleanalytics

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/meshflow/meshflow/dev/sandbox/internal/fake"
)

// JWTBearerGrant is the grant_type of the service-account flow.
const JWTBearerGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// TokenLifetime is how long an issued access token lasts (expires_in 3599, as Google).
const TokenLifetime = 3599 * time.Second

// grant is an issued access token.
type grant struct {
	email  string
	scopes []string
	expiry time.Time // wall clock
}

func (g grant) readable() bool {
	return slices.Contains(g.scopes, Scope) || slices.Contains(g.scopes, ScopeFull)
}

// oauthError is the token endpoint's error body (RFC 6749 §5.2), unlike the API's.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// token is POST /token: Google's OAuth token endpoint for the JWT-bearer grant
// (RFC 7523). The assertion is an RS256 JWT signed with the service account's key:
// iss = client_email, scope, aud = the token endpoint, iat, exp ≤ iat + 1 h.
// Times are checked against the wall clock, which the client signs with.
func (a *API) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, oauthError{"invalid_request", "Invalid form body."})
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != JWTBearerGrant {
		writeJSON(w, http.StatusBadRequest, oauthError{"unsupported_grant_type", "Invalid grant_type: " + gt})
		return
	}
	assertion := r.PostForm.Get("assertion")
	claims, fail := a.verify(r, assertion)
	if fail != "" {
		writeJSON(w, http.StatusBadRequest, oauthError{"invalid_grant", fail})
		return
	}
	scopes := strings.Fields(claims.Scope)
	if len(scopes) == 0 {
		writeJSON(w, http.StatusBadRequest, oauthError{"invalid_scope", "Invalid OAuth scope or ID token audience provided."})
		return
	}
	a.mu.Lock()
	tok := "ya29.sandbox-" + tokenSuffix(a.opts.Seed, uint64(len(a.tokens)))
	a.tokens[tok] = grant{email: claims.Iss, scopes: scopes, expiry: time.Now().Add(TokenLifetime)}
	a.mu.Unlock()
	w.Header().Set("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate")
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok,
		"expires_in":   int(TokenLifetime / time.Second),
		"token_type":   "Bearer",
	})
}

// claims are the JWT claims of an assertion the endpoint reads.
type claims struct {
	Iss   string `json:"iss"`
	Scope string `json:"scope"`
	Aud   string `json:"aud"`
	Exp   int64  `json:"exp"`
	Iat   int64  `json:"iat"`
}

// verify checks an assertion and returns its claims, or Google's description of
// what is wrong with it.
func (a *API) verify(r *http.Request, assertion string) (*claims, string) {
	parts := strings.Split(assertion, ".")
	if assertion == "" || len(parts) != 3 {
		return nil, "Invalid JWT: the assertion must be a signed JWT."
	}
	var h struct {
		Alg string `json:"alg"`
	}
	var c claims
	hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	cb, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil || json.Unmarshal(hb, &h) != nil || json.Unmarshal(cb, &c) != nil {
		return nil, "Invalid JWT: the assertion does not decode."
	}
	if h.Alg != "RS256" {
		return nil, "Invalid JWT: only RS256 signatures are accepted."
	}
	if c.Iss != a.opts.ClientEmail {
		return nil, "Invalid grant: account not found"
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(&keyFor(a.opts.Seed).priv.PublicKey, crypto.SHA256, sum[:], sig) != nil {
		return nil, "Invalid JWT Signature."
	}
	if !a.audienceOK(r, c.Aud) {
		return nil, "Invalid JWT: Failed audience check. The right audience is " + GoogleTokenURL
	}
	now := time.Now().Unix()
	const skew = 300
	if c.Exp <= c.Iat || c.Exp-c.Iat > 3600 || c.Iat > now+skew || c.Exp < now-skew {
		return nil, "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim."
	}
	return &c, ""
}

// audienceOK accepts Google's token URL (what real key files name) and the URL
// this endpoint was reached at.
func (a *API) audienceOK(r *http.Request, aud string) bool {
	if aud == GoogleTokenURL {
		return true
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	// StripPrefix leaves RequestURI as the client sent it, mount prefix included.
	path, _, _ := strings.Cut(r.RequestURI, "?")
	return aud == scheme+"://"+r.Host+path
}

func tokenSuffix(seed int64, n uint64) string {
	x, y := fake.Mix(seed^0x6a4, n), fake.Mix(seed^0x70c, n)
	return fmt.Sprintf("%016x%016x", x, y)
}
