package catalog

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"gocloud.dev/gcerrors"

	"github.com/meshflow/meshflow/framework/access"
	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/query"
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

// listed prepares a product's status for a listing as the caller in ctx may see it: a
// caller allowed to read a restricted product sees its data time and its last run's
// error and failed checks, and that read is audited as any other (a refused audit write
// withholds them); every other caller sees them withheld, and is not recorded as refused:
// it asked for a list, not for the product.
func (c *Catalog) listed(ctx context.Context, d mesh.Domain, p mesh.Product, st *Status) {
	if p.Classification != mesh.Restricted || !quotesData(*st) {
		return
	}
	if c.Access.Decide(access.FromContext(ctx).Principal, d, p) == nil && c.authorize(ctx, d, p, access.Listing) == nil {
		return
	}
	redact(p, st)
}

// quotesData reports whether a status holds what redact withholds.
func quotesData(st Status) bool {
	return st.Freshness.DataTime != nil || st.LastRun != nil && (st.LastRun.Error != "" || len(st.LastRun.FailedChecks) > 0 || len(st.LastRun.Warnings) > 0)
}

// redact hides what a caller who may not read a restricted product must not see of it,
// in a listing or on its refused page: the data time (the newest value of a column),
// and the last run's error, failed checks and warnings, whose messages can quote values.
func redact(p mesh.Product, st *Status) {
	if p.Classification != mesh.Restricted {
		return
	}
	st.Freshness.DataTime = nil
	if st.LastRun != nil {
		if st.LastRun.Error != "" {
			st.LastRun.Error = withheldError
		}
		st.LastRun.FailedChecks = nil
		if len(st.LastRun.Warnings) > 0 {
			st.LastRun.Warnings = []string{withheldError}
		}
	}
	st.Problem = problem(*st)
}

// sessionCookie holds the id of a browser's sign-in session (access.Sessions); the
// token it signed in with never leaves the sign-in form.
const sessionCookie = "meshflow_session"

// identify puts the caller of each request into its context: the token comes from
// `Authorization: Bearer <token>`, else the principal from the sign-in session. An
// unknown token is not refused here: it still reads public and internal products, and
// a restricted one answers 401 saying the token is not recognised. A session that
// ended (signed out, expired, its token revoked) is anonymous, and its cookie is cleared.
func (c *Catalog) identify(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := access.PathPage
		if strings.HasPrefix(r.URL.Path, "/api/") {
			path = access.PathAPI
		}
		var pr access.Principal
		if tok, ok := bearerToken(r); ok {
			pr, _ = c.Access.Authenticate(tok)
		} else if ck, err := r.Cookie(sessionCookie); err == nil {
			var live bool
			pr, live, err = c.sessions().Resolve(r.Context(), c.Access, ck.Value)
			if !live && err == nil {
				http.SetCookie(w, c.cookie(r, "", -1))
			}
		}
		next.ServeHTTP(w, r.WithContext(access.NewContext(r.Context(), access.Caller{Principal: pr, Path: path})))
	})
}

func bearerToken(r *http.Request) (string, bool) {
	if scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		return strings.TrimSpace(tok), true
	}
	return "", false
}

// sessions are kept in the lake, so every catalog process behind one proxy shares them.
func (c *Catalog) sessions() *access.Sessions {
	return &access.Sessions{Store: lakeSessions{c.Lake}, TTL: c.SessionTTL, Now: c.Now}
}

// SweepSessions removes the sign-in sessions that expired or whose token left the
// access file, and says how many; mesh serve runs it now and then and after a reload.
func (c *Catalog) SweepSessions(ctx context.Context) (int, error) {
	return c.sessions().Sweep(ctx, c.Access)
}

// lakeSessions gives the lake the Delete a session store needs.
type lakeSessions struct{ *lake.Lake }

func (l lakeSessions) Delete(ctx context.Context, key string) error {
	if err := l.Bucket.Delete(ctx, key); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return errs.E(errs.Transient, "delete "+key, err)
	}
	return nil
}

// cookie is the session cookie with value, for maxAge seconds (-1 clears it): scripts
// cannot read it (HttpOnly), other sites cannot send it (SameSite=Strict), and it
// travels only over TLS (Secure) when the catalog is reached over https.
func (c *Catalog) cookie(r *http.Request, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: sessionCookie, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true,
		Secure: r.TLS != nil || c.publicHTTPS(), SameSite: http.SameSiteStrictMode}
}

// publicHTTPS reports whether browsers reach the catalog over https (PublicURL), as
// behind a TLS proxy, where the catalog itself sees plain HTTP.
func (c *Catalog) publicHTTPS() bool {
	u, err := url.Parse(c.PublicURL)
	return err == nil && strings.EqualFold(u.Scheme, "https")
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

// login checks the token posted by the sign-in form and starts a session: the browser
// keeps only the session's random id, in the cookie.
func (c *Catalog) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	next := localPath(r.PostFormValue("next"))
	id, pr, expires, err := c.sessions().Start(r.Context(), c.Access, r.PostFormValue("token"))
	if err != nil && !access.IsDenied(err) {
		fail(w, errs.E(errs.KindOf(err), "sign in", fmt.Errorf("the session could not be stored in the lake: %w", err)))
		return
	}
	if err != nil || pr.Anonymous() {
		msg := "Paste a token to sign in."
		if err != nil {
			msg = "That token is not in the access file: check it, or ask the owner of the product you want to read for one."
		}
		renderStatus(w, http.StatusUnauthorized, "login.html", loginPage{Title: "Sign in", Next: next, Message: msg, Configured: c.Access.Configured()})
		return
	}
	http.SetCookie(w, c.cookie(r, id, int(time.Until(expires).Seconds())))
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logout ends the session everywhere before clearing the cookie: a copy of the cookie
// taken earlier no longer signs anyone in.
func (c *Catalog) logout(w http.ResponseWriter, r *http.Request) {
	if ck, err := r.Cookie(sessionCookie); err == nil {
		if err := c.sessions().End(r.Context(), ck.Value); err != nil {
			fail(w, errs.E(errs.KindOf(err), "sign out", fmt.Errorf("the session could not be ended, so it is still valid: %w; try again", err)))
			return
		}
	}
	http.SetCookie(w, c.cookie(r, "", -1))
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
		redact(p, &det.Status)
		// How to read it, without the column names: a table name says nothing more
		// than the page already does.
		det.ExampleQuery = query.Example(d, mesh.Product{Name: p.Name, Version: p.Version})
		return err
	}
	det.PrimaryKey, det.Schema = p.PrimaryKey, p.Schema
	return nil
}

// seesPersonalData reports whether the caller in ctx may see the values of columns
// tagged as personal data (mesh.Column.Sensitive): a caller who may read some
// restricted port of the mesh. Every other caller, an anonymous visitor first, sees
// them masked, even in an internal or public port's rows.
func (c *Catalog) seesPersonalData(ctx context.Context) bool {
	pr := access.FromContext(ctx).Principal
	if pr.Anonymous() {
		return false
	}
	for _, e := range c.Mesh.Products() {
		if e.Product.Classification == mesh.Restricted && c.Access.Decide(pr, e.Domain, e.Product) == nil {
			return true
		}
	}
	return false
}

// sensitiveColumns are the names of p's columns of personal data.
func sensitiveColumns(p mesh.Product) map[string]bool {
	out := map[string]bool{}
	for _, col := range p.Schema {
		if col.Sensitive() {
			out[col.Name] = true
		}
	}
	return out
}

// maskSample replaces the values of p's personal-data columns in s by Mask (an empty
// value, NULL, stays empty) and returns the columns masked.
func maskSample(p mesh.Product, s *Sample) []string {
	sensitive := sensitiveColumns(p)
	var masked []string
	for j, name := range s.Columns {
		if !sensitive[name] {
			continue
		}
		masked = append(masked, name)
		for _, row := range s.Rows {
			if row[j] != "" {
				row[j] = Mask
			}
		}
	}
	return masked
}

// maskFailingRows does the same to the rows a check kept.
func maskFailingRows(p mesh.Product, f *FailingRows) {
	sensitive := sensitiveColumns(p)
	for j, col := range f.Columns {
		if !sensitive[col.Name] {
			continue
		}
		f.Masked = append(f.Masked, col.Name)
		for _, row := range f.Rows {
			if j < len(row) && row[j] != nil {
				m := Mask
				row[j] = &m
			}
		}
	}
}
