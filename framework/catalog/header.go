package catalog

import (
	"bytes"
	"fmt"
	"html"
	"net/http"
	"strings"

	"github.com/meshflow/meshflow/framework/access"
)

// signInLink is the header's sign-in link as templates/layout.html writes it for
// every page; signedInHeader replaces it for a signed-in caller.
const signInLink = `<a class="signin" href="/login">Sign in</a>`

// signedInHeader shows a signed-in caller, in every page's header, who they are and a
// sign-out button in place of the sign-in link: the pages are rendered by templates
// that know nothing of the caller, so the swap happens on the way out. Answers other
// than HTML, and every answer to an anonymous caller, pass through untouched.
func signedInHeader(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pr := access.FromContext(r.Context()).Principal
		if pr.Anonymous() {
			next.ServeHTTP(w, r)
			return
		}
		buf := &bufferedResponse{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(buf, r)
		body := buf.body.Bytes()
		if strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
			signedIn := fmt.Sprintf(`<span class="signin">Signed in as <b>%s</b> <form method="post" action="/logout" style="display:inline"><button>Sign out</button></form></span>`,
				html.EscapeString(pr.Name))
			body = bytes.Replace(body, []byte(signInLink), []byte(signedIn), 1)
			w.Header().Del("Content-Length")
		}
		w.WriteHeader(buf.status)
		_, _ = w.Write(body)
	})
}

// bufferedResponse keeps a handler's status and body until signedInHeader sends them.
type bufferedResponse struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) WriteHeader(code int)        { b.status = code }
func (b *bufferedResponse) Write(p []byte) (int, error) { return b.body.Write(p) }
