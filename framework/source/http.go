package source

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/meshflow/meshflow/framework/errs"
)

// MaxBody is the default bound on the response body Send reads: far above a page of
// most APIs, it guards against a runaway response.
const MaxBody = 64 << 20

// Send sends one HTTP request for a connector and reads the whole body. It maps the
// failures every API shares, once: cancellation is errs.Canceled, a network failure or
// a body cut off mid-way is errs.Transient. The status code is not judged here — each
// connector classifies its API's error bodies. scrub removes secrets from error text
// that came from elsewhere (a transport error can quote a URL carrying a key).
// maxBody bounds the body read (0 = MaxBody), for APIs whose pages are unusually large.
func Send(ctx context.Context, client *http.Client, op string, req *http.Request, scrub func(string) string, maxBody int64) (*http.Response, []byte, error) {
	if maxBody <= 0 {
		maxBody = MaxBody
	}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, errs.E(errs.Canceled, op, ctx.Err())
		}
		return nil, nil, errs.E(errs.Transient, op, errors.New(scrub(err.Error())))
	}
	defer resp.Body.Close()
	// One byte past the bound tells a body that is too large from one that fits
	// exactly: cut off silently, it would fail to decode and be retried for ever.
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, errs.E(errs.Canceled, op, ctx.Err())
		}
		return nil, nil, errs.Errorf(errs.Transient, op, "reading the HTTP %d response failed: %s", resp.StatusCode, scrub(err.Error()))
	}
	if int64(len(b)) > maxBody {
		return nil, nil, errs.Errorf(errs.Invalid, op, "the HTTP %d response is larger than %d bytes, the most a page may be: ask for smaller pages", resp.StatusCode, maxBody)
	}
	return resp, b, nil
}

// Client is c when set (a test's), else a client whose requests time out after
// timeout, or def when timeout is 0.
func Client(c *http.Client, timeout, def time.Duration) *http.Client {
	if c != nil {
		return c
	}
	if timeout <= 0 {
		timeout = def
	}
	return &http.Client{Timeout: timeout}
}
