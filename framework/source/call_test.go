package source_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/source"
)

// A call's own Classifier names what the call was about; what it leaves goes to the
// API's classification.
func TestCallClassifyComesFirst(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(map[string]int{"/gone": http.StatusNotFound, "/busy": http.StatusServiceUnavailable}[r.URL.Path])
	}))
	defer ts.Close()
	api, err := source.NewAPI(source.APIOptions{Title: "Acme", BaseURL: ts.URL})
	if err != nil {
		t.Fatal(err)
	}
	repo := func(op string, r *source.Response) error {
		if r.Status == http.StatusNotFound {
			return errs.Errorf(errs.NotFound, op, "repository acme/app was not found")
		}
		return nil
	}
	_, err = api.Do(t.Context(), source.Call{Op: "read", Path: "/gone", Classify: repo})
	if !errs.Is(err, errs.NotFound) || !strings.Contains(err.Error(), "acme/app") {
		t.Errorf("404: %v, want the call's own error", err)
	}
	_, err = api.Do(t.Context(), source.Call{Op: "read", Path: "/busy", Classify: repo})
	if !errs.Is(err, errs.Transient) || !strings.Contains(err.Error(), "Acme answered HTTP 503") {
		t.Errorf("503: %v, want the API's classification", err)
	}
}
