package conformance

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/source"
)

// CheckFuzzedPage holds what a connector returned for a fuzzed answer to its contract:
// an error is a kinded *errs.Error that shows none of the secrets; a page has JSON
// records and a non-empty next cursor that readCursor reads back.
func CheckFuzzedPage(t testing.TB, p source.Page, err error, readCursor func([]byte) error, secrets ...string) {
	t.Helper()
	if err != nil {
		if _, ok := errs.As(err); !ok || err.Error() == "" {
			t.Fatalf("error without a kind: %#v", err)
		}
		for _, s := range secrets {
			if strings.Contains(err.Error(), s) {
				t.Fatalf("the error shows a secret (%.12s…): %v", s, err)
			}
		}
		return
	}
	for i, r := range p.Records {
		if !json.Valid(r) {
			t.Fatalf("record %d is not JSON: %q", i, r)
		}
	}
	if len(p.Next) == 0 {
		t.Fatal("the page has no next cursor")
	}
	if err := readCursor(p.Next); err != nil {
		t.Fatalf("next cursor %s does not read back: %v", p.Next, err)
	}
}

// ReadFuzzedCursor reads one page of st from an arbitrary cursor (req.Cursor) and holds
// it to the cursor contract: when the connector's own decoder refused the cursor
// (decodeErr), that refusal is an Invalid error naming the cursor, and the stream
// refuses the cursor too instead of reading from somewhere else. What the stream
// returned is the caller's to check further (CheckFuzzedPage).
func ReadFuzzedCursor(t testing.TB, st source.Stream, req source.PageRequest, decodeErr error) (source.Page, error) {
	t.Helper()
	name := st.Spec().Name
	if decodeErr != nil && (!errs.Is(decodeErr, errs.Invalid) || !strings.Contains(decodeErr.Error(), "cursor")) {
		t.Fatalf("%s cursor %q: %v, want an Invalid error naming the cursor", name, req.Cursor, decodeErr)
	}
	p, err := st.NextPage(t.Context(), req)
	if decodeErr != nil && !errs.Is(err, errs.Invalid) {
		t.Fatalf("%s: cursor %q read as %v, want the decoding error", name, req.Cursor, err)
	}
	return p, err
}

// Answer is an http.RoundTripper that answers every request with one canned
// response, without a network: a fuzz test hands a connector arbitrary statuses,
// headers and bodies through it.
type Answer struct {
	Status int
	Header http.Header
	Body   []byte
}

// RoundTrip answers r.
func (a *Answer) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		r.Body.Close()
	}
	return a.to(r), nil
}

func (a *Answer) to(r *http.Request) *http.Response {
	return &http.Response{StatusCode: a.Status, Header: a.Header.Clone(), Body: io.NopCloser(bytes.NewReader(a.Body)), Request: r}
}

// Replies is an http.RoundTripper that answers each request, without a network,
// with the status, header and body its function picks from the request and the body
// the request carries: a fuzz test answers each endpoint of a connector well-formed
// but the one under test.
type Replies func(r *http.Request, body []byte) (status int, header http.Header, respBody []byte)

// RoundTrip answers r.
func (f Replies) RoundTrip(r *http.Request) (*http.Response, error) {
	var in []byte
	if r.Body != nil {
		in, _ = io.ReadAll(r.Body)
		r.Body.Close()
	}
	a := Answer{}
	a.Status, a.Header, a.Body = f(r, in)
	return a.to(r), nil
}
