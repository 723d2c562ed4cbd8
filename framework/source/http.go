package source

import (
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/meshflow/meshflow/framework/errs"
)

// MaxBody bounds the response body Send reads: far above any page of any API, it
// guards against a runaway response.
const MaxBody = 64 << 20

// Send sends one HTTP request for a connector and reads the whole body. It maps the
// failures every API shares, once: cancellation is errs.Canceled, a network failure or
// a body cut off mid-way is errs.Transient. The status code is not judged here — each
// connector classifies its API's error bodies. scrub removes secrets from error text
// that came from elsewhere (a transport error can quote a URL carrying a key).
func Send(ctx context.Context, client *http.Client, op string, req *http.Request, scrub func(string) string) (*http.Response, []byte, error) {
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, errs.E(errs.Canceled, op, ctx.Err())
		}
		return nil, nil, errs.E(errs.Transient, op, errors.New(scrub(err.Error())))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody))
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, errs.E(errs.Canceled, op, ctx.Err())
		}
		return nil, nil, errs.Errorf(errs.Transient, op, "reading the HTTP %d response failed: %s", resp.StatusCode, scrub(err.Error()))
	}
	return resp, b, nil
}
