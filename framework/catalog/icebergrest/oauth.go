package icebergrest

import (
	"encoding/json"
	"net/http"
	"net/url"
)

// tokenResponse is the spec's OAuthTokenResponse.
type tokenResponse struct {
	AccessToken     string `json:"access_token"`
	TokenType       string `json:"token_type"`
	IssuedTokenType string `json:"issued_token_type"`
}

// oauthError is the spec's OAuthError (RFC 6749 section 5.2), the token endpoint's
// only error shape.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// token is the OAuth2 client-credentials exchange engines are configured for
// (credential=CLIENT_ID:CLIENT_SECRET): the secret is a mesh access token (mesh access
// add-token), the id the name of its principal or empty, and the access token issued
// is that same token. No second token is minted, so nothing is stored, and a token
// revoked in the access file stops working at once on every route. It carries no
// expiry, so clients do not try to refresh it.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "the body is not a form (application/x-www-form-urlencoded): "+err.Error())
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type",
			"grant_type "+quoteOrNone(gt)+" is not supported: use client_credentials, with a mesh access token as the client secret")
		return
	}
	id, secret, basic := r.BasicAuth()
	if basic {
		// RFC 6749 section 2.3.1: both are form-encoded before they are joined.
		id, secret = formDecoded(id), formDecoded(secret)
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if secret == "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request",
			"no client_secret: send a mesh access token (`mesh access add-token`) as the client secret, e.g. credential=NAME:TOKEN")
		return
	}
	pr, err := s.cat.Access.Authenticate(secret)
	if err != nil {
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", err.Error())
		return
	}
	if id != "" && id != pr.Name {
		// Name and token must agree, so a misconfigured engine fails here rather than
		// reading as someone else.
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client",
			"client_id "+quoteOrNone(id)+" is not the principal of this token: use the name `mesh access list` shows for it, or leave client_id empty")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(tokenResponse{AccessToken: secret, TokenType: "bearer",
		IssuedTokenType: "urn:ietf:params:oauth:token-type:access_token"})
}

func writeOAuthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, oauthError{Error: code, Description: desc})
}

func quoteOrNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return `"` + s + `"`
}

// formDecoded undoes the form encoding of a Basic credential; a value that is not
// form-encoded is taken as it is.
func formDecoded(s string) string {
	if d, err := url.QueryUnescape(s); err == nil {
		return d
	}
	return s
}
