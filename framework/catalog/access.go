package catalog

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/meshflow/meshflow/framework/access"
	"github.com/meshflow/meshflow/framework/mesh"
)

// withheldError replaces a restricted product's run error in listings and for callers
// who may not read it: an error message (a failed cast, a bad value) can quote data.
const withheldError = "(withheld: the product is restricted; its page shows the error to readers with access)"

// authorize checks the caller carried by ctx (access.NewContext; anonymous without
// one) before any of a restricted product's schema, checks or rows are read, and
// audits the read. Public and internal products pass unaudited.
func (c *Catalog) authorize(ctx context.Context, d mesh.Domain, p mesh.Product, what access.What) error {
	caller := access.FromContext(ctx)
	return c.Access.Authorize(ctx, c.Audit, access.Read{Principal: caller.Principal, Domain: d, Product: p, What: what, Path: caller.Path})
}

// redact hides what a listing must not show of a restricted product.
func redact(p mesh.Product, st *Status) {
	if p.Classification == mesh.Restricted && st.LastRun != nil && st.LastRun.Error != "" {
		st.LastRun.Error = withheldError
	}
}

// tokenCookie holds the token of a browser that signed in at /login.
const tokenCookie = "meshflow_token"

// identify puts the caller of each request into its context: the token comes from
// `Authorization: Bearer <token>`, else from the sign-in cookie. An unknown token is
// not refused here: it still reads public and internal products, and a restricted one
// answers 401 saying the token is not recognised.
func (c *Catalog) identify(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := access.PathPage
		if strings.HasPrefix(r.URL.Path, "/api/") {
			path = access.PathAPI
		}
		pr, _ := c.Access.Authenticate(requestToken(r))
		next.ServeHTTP(w, r.WithContext(access.NewContext(r.Context(), access.Caller{Principal: pr, Path: path})))
	})
}

func requestToken(r *http.Request) string {
	if scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		return strings.TrimSpace(tok)
	}
	if ck, err := r.Cookie(tokenCookie); err == nil {
		return ck.Value
	}
	return ""
}

type loginPage struct {
	Title, Next, Message string
	Principal            access.Principal
	Configured           bool
}

// localPath returns next if it is a path on this site, else "/": the form must not
// become an open redirect.
func localPath(next string) string {
	u, err := url.Parse(next)
	if err != nil || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, `/\`) || u.Host != "" {
		return "/"
	}
	return next
}

func (c *Catalog) loginForm(w http.ResponseWriter, r *http.Request) {
	renderStatus(w, http.StatusOK, "login.html", loginPage{Title: "Sign in", Next: localPath(r.URL.Query().Get("next")),
		Principal: access.FromContext(r.Context()).Principal, Configured: c.Access.Configured()})
}

// login checks the token posted by the sign-in form and keeps it in a cookie that
// scripts cannot read (HttpOnly) and other sites cannot send (SameSite=Strict).
func (c *Catalog) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	next := localPath(r.PostFormValue("next"))
	pr, err := c.Access.Authenticate(r.PostFormValue("token"))
	if err != nil || pr.Anonymous() {
		msg := "Paste a token to sign in."
		if err != nil {
			msg = "That token is not in the access file: check it, or ask the owner of the product you want to read for one."
		}
		renderStatus(w, http.StatusUnauthorized, "login.html", loginPage{Title: "Sign in", Next: next, Message: msg, Configured: c.Access.Configured()})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: tokenCookie, Value: strings.TrimSpace(r.PostFormValue("token")), Path: "/",
		MaxAge: int((12 * time.Hour).Seconds()), HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (c *Catalog) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: tokenCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// productDenied renders a restricted product's page for a caller who may not read it:
// its declaration and who may read it, the reason, no schema, checks or rows.
func productDenied(w http.ResponseWriter, det Detail, err error) {
	status := access.HTTPStatus(err)
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", bearerChallenge)
	}
	renderStatus(w, status, "product.html", det)
}

// bearerChallenge answers a 401 (RFC 6750); browsers show no dialog for it, the page
// links to the sign-in form instead.
const bearerChallenge = `Bearer realm="meshflow catalog"`

func renderStatus(w http.ResponseWriter, status int, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := pages.ExecuteTemplate(w, name, data); err != nil {
		// The status is sent; all that is left is to say so in the body.
		_, _ = w.Write([]byte("render " + name + ": " + err.Error()))
	}
}

// reveal authorizes the caller to read the rest of a product's detail and fills in
// what the declaration holds of it; refused, it notes why in det.Withheld.
func (c *Catalog) reveal(ctx context.Context, d mesh.Domain, p mesh.Product, sampleRows int, det *Detail) error {
	if p.Classification == mesh.Restricted {
		det.AllowedGroups = p.AllowedGroups
	}
	what := access.Detail
	if sampleRows > 0 {
		what = access.Sample
	}
	if err := c.authorize(ctx, d, p, what); err != nil {
		det.Withheld = err.Error()
		return err
	}
	det.PrimaryKey, det.Schema = p.PrimaryKey, p.Schema
	if det.LastRun != nil && det.LastRun.Error == withheldError {
		if runs, err := c.runs(ctx, d.Name, p.Name, 1); err == nil && len(runs) > 0 {
			det.LastRun.Error = runs[0].Error
		}
	}
	return nil
}
