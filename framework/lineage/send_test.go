package lineage

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
)

// TestPostSaysWhatToRetry: a 2xx is sent; a 5xx, 408 or 429 is retried; any other 4xx
// is refused for good (sending the event again cannot help). The API key goes as a
// Bearer token.
func TestPostSaysWhatToRetry(t *testing.T) {
	for _, tc := range []struct {
		status          int
		sent, retryable bool
	}{
		{http.StatusCreated, true, false}, {http.StatusOK, true, false},
		{http.StatusServiceUnavailable, false, true}, {http.StatusTooManyRequests, false, true}, {http.StatusRequestTimeout, false, true},
		{http.StatusBadRequest, false, false}, {http.StatusUnauthorized, false, false}, {http.StatusNotFound, false, false},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != Endpoint || r.Header.Get("Authorization") != "Bearer k" || r.Header.Get("Content-Type") != "application/json" {
				t.Errorf("request %s %v", r.URL.Path, r.Header)
			}
			w.WriteHeader(tc.status)
		}))
		s := New(nil, Config{URL: srv.URL, APIKey: "k"}, nil)
		err := s.post(context.Background(), RunInfo{Domain: "d", Product: "p"}.Event(Start, time.Now()))
		srv.Close()
		var app *temporal.ApplicationError
		refused := errors.As(err, &app) && app.NonRetryable()
		if (err == nil) != tc.sent || (err != nil && refused == tc.retryable) {
			t.Errorf("HTTP %d: error %v (refused for good: %v)", tc.status, err, refused)
		}
	}
}
