package crunchbase

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	sbcrunchbase "github.com/meshflow/meshflow/dev/sandbox/crunchbase"
	"github.com/meshflow/meshflow/framework/errs"
)

// A search without field_ids is refused with Crunchbase's 400, which the
// connector reports as invalid with Crunchbase's own words (the stream always
// sends them; this guards the error path a hand-built request would take).
func TestMissingFieldIDsIsAClearError(t *testing.T) {
	ts := httptest.NewServer(sbcrunchbase.New(sbcrunchbase.Options{Organizations: 5, RateLimit: -1}))
	defer ts.Close()
	src, err := New(Config{BaseURL: ts.URL + "/api/v4", UserKey: sbcrunchbase.DefaultKey, RequestsPerMinute: -1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.do(t.Context(), "crunchbase: search organizations", http.MethodPost, "/searches/organizations", map[string]any{"limit": 5})
	if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "HTTP 400") || !strings.Contains(err.Error(), "MD100: Missing required field: field_ids") {
		t.Errorf("got %v, want an invalid error quoting Crunchbase's message about field_ids", err)
	}
	if len(fieldIDs) < 10 || fieldIDs[0] != "identifier" {
		t.Errorf("the stream's field_ids %v", fieldIDs)
	}
}
