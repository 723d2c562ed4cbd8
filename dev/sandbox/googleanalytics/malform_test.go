package googleanalytics_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	ga "github.com/meshflow/meshflow/dev/sandbox/googleanalytics"
)

// TestMalformDay: only the chosen property's report of the chosen day, first page,
// first row, first metric turns into "n/a"; every other cell is what Report computes,
// and ClearFailures undoes it.
func TestMalformDay(t *testing.T) {
	e := start(t, ga.Options{})
	const bad, good = "2025-03-05", "2025-03-04"
	berlin := e.api.Properties()[1]
	metrics := []string{"sessions", "totalUsers"}
	e.api.MalformDay(ny, bad)

	got := e.mustReport(t, ny, day(bad, defDims, metrics))
	e.api.ClearFailures()
	want := e.mustReport(t, ny, day(bad, defDims, metrics))
	if len(got.Rows) < 2 || len(got.Rows) != len(want.Rows) {
		t.Fatalf("malformed report has %d rows, the clean one %d (want the same, at least 2)", len(got.Rows), len(want.Rows))
	}
	if v := got.Rows[0].MetricValues[0].Value; v != "n/a" {
		t.Fatalf("first row's sessions = %q, want n/a", v)
	}
	if v := want.Rows[0].MetricValues[0].Value; v == "n/a" {
		t.Fatal("ClearFailures left the day malformed")
	}
	for i := range got.Rows {
		for j, v := range got.Rows[i].MetricValues {
			if w := want.Rows[i].MetricValues[j].Value; v.Value != w && (i > 0 || j > 0) {
				t.Fatalf("row %d metric %d = %q, want %q: only one cell may change", i, j, v.Value, w)
			}
		}
	}
	e.api.MalformDay(ny, bad)
	page2 := day(bad, defDims, metrics)
	page2["offset"] = 1
	if r := e.mustReport(t, ny, page2); r.Rows[0].MetricValues[0].Value == "n/a" {
		t.Error("the second page is malformed too; only the first row of the report should be")
	}
	for _, other := range []struct{ property, day string }{{ny, good}, {berlin, bad}} {
		if r := e.mustReport(t, other.property, day(other.day, defDims, metrics)); r.Rows[0].MetricValues[0].Value == "n/a" {
			t.Errorf("the report of %s on %s is malformed too", other.property, other.day)
		}
	}

	e.api.ClearFailures()

	// The admin endpoint does the same, and refuses what it cannot apply.
	admin := httptest.NewServer(e.api.Admin())
	defer admin.Close()
	for _, tc := range []struct {
		query string
		code  int
	}{{"property=" + ny + "&date=" + bad, http.StatusNoContent}, {"property=1&date=" + bad, http.StatusBadRequest}, {"property=" + ny + "&date=March", http.StatusBadRequest}} {
		resp, err := http.Post(admin.URL+"/malform-day?"+tc.query, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.code {
			t.Errorf("malform-day?%s = %d, want %d", tc.query, resp.StatusCode, tc.code)
		}
	}
	if r := e.mustReport(t, ny, day(bad, defDims, metrics)); r.Rows[0].MetricValues[0].Value != "n/a" {
		t.Error("POST /malform-day did not malform the day")
	}
}
